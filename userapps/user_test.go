package userapps

import (
	"errors"
	"strings"
	"testing"
)

func TestAuthorize(t *testing.T) {
	admin := User{Name: "root", Role: RoleAdmin}
	alice := User{Name: "alice", Role: RoleDeveloper}
	bob := User{Name: "bob", Role: RoleDeveloper}
	viewer := User{Name: "vera", Role: RoleViewer}
	nobody := User{Name: "eve", Role: Role("superuser")}
	own := &App{Name: "mine", Owner: "alice"}

	appActions := []Action{ActionRead, ActionEdit, ActionRun, ActionDelete, ActionSchedule}
	type key struct {
		user string
		act  Action
		app  bool // on alice's app, else nil
	}
	allowed := map[key]bool{}
	for _, a := range appActions {
		allowed[key{"root", a, true}] = true
		allowed[key{"alice", a, true}] = true
	}
	for _, k := range []key{
		{"root", ActionCreate, false}, {"root", ActionManageUsers, false}, {"root", ActionRead, false},
		{"root", ActionCreate, true}, {"root", ActionManageUsers, true},
		{"alice", ActionCreate, false}, {"alice", ActionCreate, true}, {"alice", ActionRead, false},
		{"bob", ActionCreate, false}, {"bob", ActionRead, false},
		{"vera", ActionRead, true}, {"vera", ActionRead, false},
	} {
		allowed[k] = true
	}
	for _, u := range []User{admin, alice, bob, viewer, nobody} {
		for _, act := range append(appActions, ActionCreate, ActionManageUsers, Action("launch-missiles")) {
			for _, onApp := range []bool{false, true} {
				var app *App
				if onApp {
					app = own
				}
				name := string(u.Role) + "/" + u.Name + "/" + string(act)
				if onApp {
					name += "/app"
				}
				t.Run(name, func(t *testing.T) {
					err := Authorize(u, act, app)
					want := allowed[key{u.Name, act, onApp}]
					if want != (err == nil) {
						t.Fatalf("Authorize = %v, want allowed=%v", err, want)
					}
					if err != nil && (!errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), u.Name)) {
						t.Fatalf("error %v: want ErrForbidden naming the user", err)
					}
				})
			}
		}
	}
	// A developer may not create an app in someone else's name.
	if err := Authorize(bob, ActionCreate, own); !errors.Is(err, ErrForbidden) {
		t.Errorf("bob creating alice's app: %v", err)
	}
}

func TestValidateUserName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true}, {"lab-07", true}, {"a.b_c", true}, {"0day", true},
		{"", false}, {"Alice", false}, {"-x", false}, {".x", false}, {"a/b", false},
		{"..", false}, {"a b", false}, {strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateUserName(tc.name); tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("ValidateUserName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
	if !RoleViewer.Valid() || Role("root").Valid() {
		t.Error("Role.Valid")
	}
}

func TestHashToken(t *testing.T) {
	// sha256("abc") from FIPS 180-2.
	if got := HashToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashToken = %s", got)
	}
}
