package userapps

import "errors"

// Sentinel errors. Functions wrap them with the operation and the details
// (fmt.Errorf("open app %s: %w", id, ErrNotFound)); test with errors.Is.
var (
	// ErrNotFound means the app, user, notebook or checkpoint does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request clashes with the current state: a name
	// already taken, or a state transition the app's state does not allow
	// (opening an app that is stopping, checkpointing a stopped app).
	ErrConflict = errors.New("conflict")
	// ErrForbidden means the user's role or ownership does not allow the
	// action.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid means a malformed input: an empty or unsafe name, a path
	// escaping the data directory, a notebook that is not nbformat 4 JSON.
	ErrInvalid = errors.New("invalid")
	// ErrUnauthenticated means no valid credentials were presented.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrKernel means the app's kernel could not be started, died, or did not
	// answer; the wrapped error says which.
	ErrKernel = errors.New("kernel failure")
)
