package userapps

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var allStates = []State{StateStopped, StateStarting, StateRunning, StateCheckpointed, StateStopping, StateFailed}

func TestTransitions(t *testing.T) {
	// The whole matrix, written out: every pair not listed is refused.
	allowed := map[[2]State]bool{
		{StateStopped, StateStarting}:          true,
		{StateStarting, StateRunning}:          true,
		{StateStarting, StateCheckpointed}:     true,
		{StateStarting, StateStopping}:         true,
		{StateStarting, StateFailed}:           true,
		{StateRunning, StateCheckpointed}:      true,
		{StateRunning, StateStopping}:          true,
		{StateRunning, StateFailed}:            true,
		{StateCheckpointed, StateCheckpointed}: true,
		{StateCheckpointed, StateRunning}:      true,
		{StateCheckpointed, StateStopping}:     true,
		{StateCheckpointed, StateFailed}:       true,
		{StateStopping, StateStopped}:          true,
		{StateStopping, StateFailed}:           true,
		{StateFailed, StateStarting}:           true,
		{StateFailed, StateStopping}:           true,
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, from := range allStates {
		for _, to := range append(allStates, State("bogus")) {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				want := allowed[[2]State{from, to}]
				if got := from.CanTransition(to); got != want {
					t.Fatalf("CanTransition = %v, want %v", got, want)
				}
				a := App{Name: "x", State: from, Error: "boom"}
				err := a.Transition(to, now)
				if want {
					if err != nil || a.State != to || !a.StateChanged.Equal(now) || !a.Updated.Equal(now) {
						t.Fatalf("Transition: %v, app %+v", err, a)
					}
					if (a.Error == "") == (to == StateFailed) {
						t.Fatalf("Error after → %s = %q", to, a.Error)
					}
					return
				}
				if !errors.Is(err, ErrConflict) || a.State != from {
					t.Fatalf("Transition: %v, state %s; want ErrConflict and state unchanged", err, a.State)
				}
				if !strings.Contains(err.Error(), string(from)) {
					t.Errorf("error %q does not name the current state", err)
				}
			})
		}
	}
}

func TestStatePredicates(t *testing.T) {
	for _, s := range allStates {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		if got, want := s.KernelUp(), s == StateRunning || s == StateCheckpointed; got != want {
			t.Errorf("%s.KernelUp = %v", s, got)
		}
	}
	if State("").Valid() || State("running,checkpointed").Valid() {
		t.Error("unknown state valid")
	}
}

// The life the design describes, start to end.
func TestLifecycleWalk(t *testing.T) {
	a := App{Name: "lab", State: StateStopped}
	now := time.Unix(0, 0)
	for _, s := range []State{StateStarting, StateRunning, StateCheckpointed, StateCheckpointed, StateStopping, StateStopped, StateStarting, StateFailed, StateStarting, StateCheckpointed} {
		now = now.Add(time.Second)
		if err := a.Transition(s, now); err != nil {
			t.Fatal(err)
		}
	}
}

func TestValidateAppName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"Portscan detector", true},
		{"Lab 1: Jupyter basics", true},
		{"données", true},
		{"", false},
		{".hidden", false},
		{" lead", false},
		{"trail ", false},
		{"a/b", false},
		{`a\b`, false},
		{"..", false},
		{"tab\there", false},
		{"nul\x00", false},
		{"\xff", false},
		{strings.Repeat("x", MaxNameLen), true},
		{strings.Repeat("x", MaxNameLen+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateAppName(tc.name)
			if tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("ValidateAppName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewID()
		if len(id) != 32 || seen[id] {
			t.Fatalf("NewID = %q (seen %v)", id, seen[id])
		}
		seen[id] = true
	}
}
