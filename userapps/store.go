package userapps

import (
	"context"
	"time"
)

// AppFilter selects apps in AppStore.Apps. The zero value selects all.
type AppFilter struct {
	// Owner keeps the apps of this user only, if set.
	Owner string
	// States keeps apps in one of these states only, if set.
	States []State
}

// AppStore keeps apps durably. Implementations are safe for concurrent use.
type AppStore interface {
	// CreateApp stores a new app. ErrConflict if the ID or the owner's app
	// name is taken; ErrInvalid for an empty ID, name, owner or state;
	// ErrNotFound if the owner is not a user.
	CreateApp(ctx context.Context, app App) error
	// App returns the app with this id, or ErrNotFound.
	App(ctx context.Context, id string) (App, error)
	// Apps returns the apps the filter selects, ordered by owner then name.
	Apps(ctx context.Context, f AppFilter) ([]App, error)
	// UpdateApp reads the app, calls change on it and writes the result, in
	// one transaction, and returns what was written. An error from change
	// aborts the update and is returned as is; ErrNotFound if there is no
	// such app; ErrConflict if the new name is taken. change must not alter
	// ID or Owner.
	UpdateApp(ctx context.Context, id string, change func(*App) error) (App, error)
	// DeleteApp removes the app (and, later, its schedules and runs), or
	// returns ErrNotFound.
	DeleteApp(ctx context.Context, id string) error
}

// UserStore keeps users. Implementations are safe for concurrent use.
type UserStore interface {
	// CreateUser stores a new user: ErrConflict if the name or token hash is
	// taken, ErrInvalid for a bad name or role.
	CreateUser(ctx context.Context, u User) error
	// User returns the named user, or ErrNotFound.
	User(ctx context.Context, name string) (User, error)
	// UserByToken returns the user whose TokenHash is HashToken(token), or
	// ErrNotFound (also for an empty token).
	UserByToken(ctx context.Context, token string) (User, error)
	// Users returns every user by name.
	Users(ctx context.Context) ([]User, error)
	// UpdateUser changes a user's role or token hash as UpdateApp does.
	UpdateUser(ctx context.Context, name string, change func(*User) error) (User, error)
	// DeleteUser removes a user: ErrNotFound, or ErrConflict while they own
	// apps.
	DeleteUser(ctx context.Context, name string) error
}

// Entry describes a file or folder in the NotebookStore.
type Entry struct {
	// Path is slash-separated and relative to the store's root.
	Path string `json:"path"`
	// Dir is true for a folder.
	Dir bool `json:"dir"`
	// Size is the file size in bytes (0 for folders).
	Size int64 `json:"size"`
	// Modified is the last modification time.
	Modified time.Time `json:"last_modified"`
}

// NotebookStore keeps notebooks (and any other file of the contents API) as
// files under a root folder. Paths are slash-separated and relative; one that
// is absolute, contains "..", a NUL or a backslash, names a hidden component
// (".x"), or leads outside the root through a symlink is refused with
// ErrInvalid. Writes are atomic: a reader or a crash sees the old or the new
// content, never a mix. Implementations are safe for concurrent use.
type NotebookStore interface {
	// Get returns a file's content, or ErrNotFound.
	Get(ctx context.Context, path string) ([]byte, Entry, error)
	// Put writes a file atomically, creating its folders. A path ending in
	// .ipynb must hold a JSON object with "nbformat": 4, else ErrInvalid.
	Put(ctx context.Context, path string, data []byte) (Entry, error)
	// Stat describes a file or folder, or returns ErrNotFound.
	Stat(ctx context.Context, path string) (Entry, error)
	// List returns a folder's entries by name ("" is the root).
	List(ctx context.Context, dir string) ([]Entry, error)
	// Mkdir creates a folder and its parents.
	Mkdir(ctx context.Context, dir string) (Entry, error)
	// Copy copies a file to a new path: ErrNotFound, ErrConflict if to exists.
	Copy(ctx context.Context, from, to string) (Entry, error)
	// Rename moves a file or folder, with its checkpoints: ErrNotFound, or
	// ErrConflict if to exists.
	Rename(ctx context.Context, from, to string) (Entry, error)
	// Delete removes a file with its checkpoints, or an empty folder:
	// ErrNotFound, ErrConflict for a folder that is not empty.
	Delete(ctx context.Context, path string) error
	// LocalDir returns the absolute folder of a path on the local disk (the
	// working directory of the notebook's kernel).
	LocalDir(path string) (string, error)

	// CreateCheckpoint keeps a copy of the file as it is now and returns it.
	// A notebook has at most one checkpoint (Jupyter's convention): a new
	// one replaces the old. ErrNotFound if the file does not exist.
	CreateCheckpoint(ctx context.Context, path string) (Checkpoint, error)
	// Checkpoints lists the file's checkpoints (none is not an error).
	Checkpoints(ctx context.Context, path string) ([]Checkpoint, error)
	// GetCheckpoint returns a checkpoint's content, or ErrNotFound.
	GetCheckpoint(ctx context.Context, path, id string) ([]byte, error)
	// RestoreCheckpoint writes the checkpoint's content over the file
	// (atomically); the checkpoint stays. ErrNotFound.
	RestoreCheckpoint(ctx context.Context, path, id string) error
	// DeleteCheckpoint removes a checkpoint, or returns ErrNotFound.
	DeleteCheckpoint(ctx context.Context, path, id string) error
}
