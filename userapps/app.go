package userapps

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// State is where an app is in its life. The zero value is not a state; a new
// app starts StateStopped.
type State string

// The states of an app. See Transition for the allowed moves.
const (
	// StateStopped: no kernel; the notebook is on disk.
	StateStopped State = "stopped"
	// StateStarting: a kernel is being started (open or restore).
	StateStarting State = "starting"
	// StateRunning: a kernel is up.
	StateRunning State = "running"
	// StateCheckpointed: a kernel is up and a restore point was kept by Save
	// & Checkpoint (the notebook as saved, whose executed cells Restore
	// replays).
	StateCheckpointed State = "running+checkpointed"
	// StateStopping: the kernel is being shut down.
	StateStopping State = "stopping"
	// StateFailed: the kernel could not start, died beyond its restart
	// policy, or the server restarted under it. App.Error says why; the
	// checkpoint, if any, is kept so Restore can rebuild the state.
	StateFailed State = "failed"
)

// transitions lists, for each state, the states it may move to.
var transitions = map[State][]State{
	StateStopped:      {StateStarting},
	StateStarting:     {StateRunning, StateCheckpointed, StateStopping, StateFailed},
	StateRunning:      {StateCheckpointed, StateStopping, StateFailed},
	StateCheckpointed: {StateCheckpointed, StateRunning, StateStopping, StateFailed},
	StateStopping:     {StateStopped, StateFailed},
	StateFailed:       {StateStarting, StateStopping},
}

// Valid reports whether s is one of the states above.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// KernelUp reports whether an app in state s has a kernel that should be
// running (StateRunning or StateCheckpointed).
func (s State) KernelUp() bool { return s == StateRunning || s == StateCheckpointed }

// CanTransition reports whether an app may move from s to next:
//
//	stopped → starting
//	starting → running | running+checkpointed (a restore) | stopping | failed
//	running → running+checkpointed | stopping | failed
//	running+checkpointed → running+checkpointed (a new checkpoint)
//	                     | running (checkpoint deleted) | stopping | failed
//	stopping → stopped | failed
//	failed → starting (open or restore again) | stopping (stop)
func (s State) CanTransition(next State) bool {
	for _, t := range transitions[s] {
		if t == next {
			return true
		}
	}
	return false
}

// Checkpoint is a restore point of a notebook: a copy of it as it was saved.
type Checkpoint struct {
	// ID names the checkpoint among its notebook's checkpoints.
	ID string `json:"id"`
	// Created is when the checkpoint was taken (Jupyter's last_modified).
	Created time.Time `json:"last_modified"`
}

// App is a user app: a notebook and what flowlab knows about it. It is a
// plain value; the AppStore keeps it and the Service changes it.
type App struct {
	// ID is the app's immutable identifier (NewID).
	ID string `json:"id"`
	// Name is what users see and rename (ValidateAppName); unique per owner.
	Name string `json:"name"`
	// Owner is the name of the owning User.
	Owner string `json:"owner"`
	// Notebook is the notebook's path in the NotebookStore, slash-separated
	// and relative ("alice/Portscan detector.ipynb").
	Notebook string `json:"notebook"`
	// State is where the app is in its life.
	State State `json:"state"`
	// Error says why the app is StateFailed; empty otherwise.
	Error string `json:"error,omitempty"`
	// KernelID is the running kernel's id; empty when no kernel is up.
	KernelID string `json:"kernel_id,omitempty"`
	// Checkpoint is the restore point Save & Checkpoint kept; nil if none.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	// Created, Updated and StateChanged are set by the Service's clock.
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	StateChanged time.Time `json:"state_changed"`
}

// Transition moves a to state next at time now, or returns an error wrapping
// ErrConflict (naming both states) when CanTransition refuses it. Moving
// anywhere but StateFailed clears Error.
func (a *App) Transition(next State, now time.Time) error {
	if !a.State.CanTransition(next) {
		return fmt.Errorf("app %q is %s and cannot become %s: %w", a.Name, a.State, next, ErrConflict)
	}
	a.State = next
	if next != StateFailed {
		a.Error = ""
	}
	a.StateChanged, a.Updated = now, now
	return nil
}

// NewID returns a fresh random identifier (32 hex digits) for apps and
// kernels.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("userapps: crypto/rand: " + err.Error()) // cannot fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// MaxNameLen bounds an app name in bytes.
const MaxNameLen = 120

// ValidateAppName checks an app name, which also names its notebook file:
// 1 to MaxNameLen bytes of printable UTF-8, no slash, backslash or control
// character, not starting with a dot or a space, not ending with a space. It
// returns an error wrapping ErrInvalid that says what to change.
func ValidateAppName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("app name %q %s: %w", name, why, ErrInvalid)
	}
	switch {
	case name == "":
		return bad("is empty; give the app a name")
	case len(name) > MaxNameLen:
		return bad(fmt.Sprintf("is longer than %d bytes", MaxNameLen))
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	case strings.HasPrefix(name, ".") || strings.HasPrefix(name, " ") || strings.HasSuffix(name, " "):
		return bad("starts with a dot or a space or ends with a space")
	case strings.ContainsAny(name, `/\`):
		return bad("contains a slash; use another separator")
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return bad("contains a control character")
		}
	}
	return nil
}
