package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/userapps"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openDB(t *testing.T, path string) *DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "flowlab.db")
	}
	d, err := Open(context.Background(), path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowlab.db")
	d := openDB(t, path)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := d.SchemaVersion(ctx); err != nil || v != len(ms) || v < 2 {
		t.Fatalf("schema version %d, %v; want %d (>= 2)", v, err, len(ms))
	}
	var mode string
	if err := d.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q, %v", mode, err)
	}
	var fk, busy int
	if err := d.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys %d, %v", fk, err)
	}
	if err := d.db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != 10000 {
		t.Fatalf("busy_timeout %d, %v", busy, err)
	}
	// The tables the scheduling issue will use exist.
	for _, table := range []string{"users", "apps", "schedules", "runs"} {
		var n int
		if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: %d, %v", table, n, err)
		}
	}
	d.Close()

	// Reopening applies nothing new.
	d = openDB(t, path)
	var rows int
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(ms) {
		t.Fatalf("schema_migrations rows %d, %v", rows, err)
	}
	// A database from the future is refused.
	if _, err := d.db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (99, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := Open(ctx, path, Options{}); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
	if _, err := Open(ctx, path+"?mode=memory", Options{}); !errors.Is(err, userapps.ErrInvalid) {
		t.Fatalf("path with '?': %v", err)
	}
}

func newApp(owner, name string) userapps.App {
	return userapps.App{
		ID: userapps.NewID(), Name: name, Owner: owner, Notebook: owner + "/" + name + ".ipynb",
		State: userapps.StateStopped, Created: t0, Updated: t0, StateChanged: t0,
	}
}

func TestApps(t *testing.T) {
	ctx := context.Background()
	d := openDB(t, "")
	for _, u := range []userapps.User{{Name: "alice", Role: userapps.RoleDeveloper, Created: t0}, {Name: "bob", Role: userapps.RoleDeveloper, Created: t0}} {
		if err := d.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	a := newApp("alice", "Portscan")
	if err := d.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := d.App(ctx, a.ID)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("App = %+v, %v; want %+v", got, err, a)
	}

	dup := newApp("alice", "Portscan")
	for _, tc := range []struct {
		name string
		app  userapps.App
		want error
	}{
		{"same owner and name", dup, userapps.ErrConflict},
		{"same id", func() userapps.App { x := newApp("bob", "Other"); x.ID = a.ID; return x }(), userapps.ErrConflict},
		{"same notebook", func() userapps.App { x := newApp("bob", "Other"); x.Notebook = a.Notebook; return x }(), userapps.ErrConflict},
		{"unknown owner", newApp("carol", "X"), userapps.ErrNotFound},
		{"bad name", newApp("bob", "a/b"), userapps.ErrInvalid},
		{"no id", func() userapps.App { x := newApp("bob", "Y"); x.ID = ""; return x }(), userapps.ErrInvalid},
		{"bad state", func() userapps.App { x := newApp("bob", "Z"); x.State = "sleeping"; return x }(), userapps.ErrInvalid},
	} {
		t.Run("create/"+tc.name, func(t *testing.T) {
			if err := d.CreateApp(ctx, tc.app); !errors.Is(err, tc.want) {
				t.Fatalf("CreateApp = %v, want %v", err, tc.want)
			}
		})
	}
	// The same name under another owner is fine.
	b := newApp("bob", "Portscan")
	if err := d.CreateApp(ctx, b); err != nil {
		t.Fatal(err)
	}

	t.Run("update", func(t *testing.T) {
		cp := &userapps.Checkpoint{ID: "checkpoint", Created: t0.Add(time.Minute)}
		up, err := d.UpdateApp(ctx, a.ID, func(x *userapps.App) error {
			if err := x.Transition(userapps.StateStarting, t0.Add(time.Second)); err != nil {
				return err
			}
			x.KernelID, x.Checkpoint = "k1", cp
			return nil
		})
		if err != nil || up.State != userapps.StateStarting || up.KernelID != "k1" {
			t.Fatalf("UpdateApp = %+v, %v", up, err)
		}
		got, _ := d.App(ctx, a.ID)
		if !reflect.DeepEqual(got, up) || got.Checkpoint == nil || !got.Checkpoint.Created.Equal(cp.Created) {
			t.Fatalf("stored %+v, want %+v", got, up)
		}
		// change's error aborts and comes back as is.
		_, err = d.UpdateApp(ctx, a.ID, func(x *userapps.App) error {
			x.KernelID = "lost"
			return x.Transition(userapps.StateStopped, t0)
		})
		if !errors.Is(err, userapps.ErrConflict) {
			t.Fatalf("refused transition: %v", err)
		}
		if got, _ := d.App(ctx, a.ID); got.KernelID != "k1" {
			t.Fatalf("aborted update was written: %+v", got)
		}
		for name, change := range map[string]func(*userapps.App) error{
			"owner":       func(x *userapps.App) error { x.Owner = "bob"; return nil },
			"id":          func(x *userapps.App) error { x.ID = "x"; return nil },
			"invalid":     func(x *userapps.App) error { x.Name = ""; return nil },
			"taken name":  func(x *userapps.App) error { x.Name = "Portscan"; x.Notebook = "bob/new.ipynb"; return nil },
			"no such app": nil,
		} {
			id, want := a.ID, userapps.ErrInvalid
			switch name {
			case "taken name":
				id, want = b.ID, userapps.ErrConflict
				b2 := newApp("bob", "Second")
				if err := d.CreateApp(ctx, b2); err != nil {
					t.Fatal(err)
				}
				id = b2.ID
			case "no such app":
				id, want, change = "nope", userapps.ErrNotFound, func(*userapps.App) error { return nil }
			}
			if _, err := d.UpdateApp(ctx, id, change); !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", name, err, want)
			}
		}
	})

	t.Run("list", func(t *testing.T) {
		all, err := d.Apps(ctx, userapps.AppFilter{})
		if err != nil || len(all) != 3 || all[0].Owner != "alice" || all[1].Name != "Portscan" || all[2].Name != "Second" {
			t.Fatalf("Apps = %v, %v", all, err)
		}
		bobs, _ := d.Apps(ctx, userapps.AppFilter{Owner: "bob"})
		starting, _ := d.Apps(ctx, userapps.AppFilter{States: []userapps.State{userapps.StateStarting, userapps.StateRunning}})
		if len(bobs) != 2 || len(starting) != 1 || starting[0].ID != a.ID {
			t.Fatalf("bob's %v, starting %v", bobs, starting)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := d.DeleteUser(ctx, "alice"); !errors.Is(err, userapps.ErrConflict) {
			t.Fatalf("deleting an owner: %v", err)
		}
		// Runs and schedules go with their app.
		if _, err := d.db.ExecContext(ctx, `INSERT INTO schedules (id, app_id, spec, created_us, updated_us) VALUES ('s1', ?, '@hourly', 0, 0)`, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.db.ExecContext(ctx, `INSERT INTO runs (id, app_id, schedule_id, status, created_us) VALUES ('r1', ?, 's1', 'succeeded', 0)`, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.DeleteApp(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		var n int
		d.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM schedules) + (SELECT COUNT(*) FROM runs)`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d schedules and runs left after deleting their app", n)
		}
		if err := d.DeleteApp(ctx, a.ID); !errors.Is(err, userapps.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := d.App(ctx, a.ID); !errors.Is(err, userapps.ErrNotFound) {
			t.Fatalf("App after delete: %v", err)
		}
		if err := d.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	d := openDB(t, "")
	root := userapps.User{Name: "root", Role: userapps.RoleAdmin, TokenHash: userapps.HashToken("s3cret"), Created: t0}
	if err := d.CreateUser(ctx, root); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		u    userapps.User
		want error
	}{
		{"taken name", userapps.User{Name: "root", Role: userapps.RoleViewer}, userapps.ErrConflict},
		{"taken token", userapps.User{Name: "x", Role: userapps.RoleViewer, TokenHash: root.TokenHash}, userapps.ErrConflict},
		{"bad role", userapps.User{Name: "y", Role: "god"}, userapps.ErrInvalid},
		{"bad name", userapps.User{Name: "Y Z", Role: userapps.RoleViewer}, userapps.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.CreateUser(ctx, tc.u); !errors.Is(err, tc.want) {
				t.Fatalf("CreateUser = %v, want %v", err, tc.want)
			}
		})
	}
	// Two users without tokens do not clash (NULL is not a duplicate).
	for _, n := range []string{"v1", "v2"} {
		if err := d.CreateUser(ctx, userapps.User{Name: n, Role: userapps.RoleViewer}); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := d.UserByToken(ctx, "s3cret"); err != nil || u.Name != "root" || u.Role != userapps.RoleAdmin || !u.Created.Equal(t0) {
		t.Fatalf("UserByToken = %+v, %v", u, err)
	}
	for _, tok := range []string{"", "wrong"} {
		if _, err := d.UserByToken(ctx, tok); !errors.Is(err, userapps.ErrNotFound) {
			t.Fatalf("UserByToken(%q) = %v", tok, err)
		}
	}
	u, err := d.UpdateUser(ctx, "v1", func(u *userapps.User) error {
		u.Role, u.TokenHash = userapps.RoleDeveloper, userapps.HashToken("t2")
		return nil
	})
	if err != nil || u.Role != userapps.RoleDeveloper {
		t.Fatal(u, err)
	}
	if got, _ := d.UserByToken(ctx, "t2"); got.Name != "v1" {
		t.Fatalf("after token change: %+v", got)
	}
	if _, err := d.UpdateUser(ctx, "v1", func(u *userapps.User) error { u.Name = "v9"; return nil }); !errors.Is(err, userapps.ErrInvalid) {
		t.Fatalf("rename user: %v", err)
	}
	users, err := d.Users(ctx)
	if err != nil || len(users) != 3 || users[0].Name != "root" || users[2].Name != "v2" {
		t.Fatalf("Users = %+v, %v", users, err)
	}
	if err := d.DeleteUser(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.User(ctx, "v2"); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("User after delete: %v", err)
	}
}

// Read-modify-write transactions from several goroutines and two
// connections pools (as two server processes would) never lose an update
// and never fail with SQLITE_BUSY.
func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowlab.db")
	d1, d2 := openDB(t, path), openDB(t, path)
	if err := d1.CreateUser(ctx, userapps.User{Name: "alice", Role: userapps.RoleDeveloper}); err != nil {
		t.Fatal(err)
	}
	a := newApp("alice", "Counter")
	a.Error = "0"
	if err := d1.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		d := d1
		if w%2 == 1 {
			d = d2
		}
		wg.Go(func() {
			for range each {
				_, err := d.UpdateApp(ctx, a.ID, func(x *userapps.App) error {
					n, err := strconv.Atoi(x.Error)
					x.Error = strconv.Itoa(n + 1)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, _ := d2.App(ctx, a.ID); got.Error != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d", got.Error, workers*each)
	}
}
