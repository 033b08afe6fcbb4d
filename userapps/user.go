package userapps

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Role is what a user is allowed to do (see Authorize).
type Role string

// The roles.
const (
	// RoleAdmin may do everything, on every app, and manage users.
	RoleAdmin Role = "admin"
	// RoleDeveloper creates apps and may do everything with the apps they
	// own, and nothing with other users' apps.
	RoleDeveloper Role = "developer"
	// RoleViewer may read every app (metadata, notebook, checkpoints, kernel
	// status) and change or run none: an auditor, or a proctor's screen.
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleDeveloper || r == RoleViewer }

// User is someone who may call the server.
type User struct {
	// Name identifies the user (ValidateUserName); it also names the folder
	// of their notebooks.
	Name string `json:"name"`
	// Role says what the user may do.
	Role Role `json:"role"`
	// TokenHash is HashToken of the user's API token; empty means the user
	// has no token.
	TokenHash string `json:"-"`
	// Created is when the user was added.
	Created time.Time `json:"created"`
}

// HashToken returns the hex SHA-256 of an API token: what the store keeps
// and looks users up by, so a stolen database does not hold usable tokens.
// Tokens are long random strings, so an unsalted fast hash is enough.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidateUserName checks a user name: 1 to 64 bytes of lower-case ASCII
// letters, digits, '.', '_' or '-', starting with a letter or digit. The
// name is a folder name in the notebook store, hence the narrow alphabet. It
// returns an error wrapping ErrInvalid.
func ValidateUserName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("user name %q must be 1 to 64 characters: %w", name, ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("user name %q: use lower-case letters, digits, and . _ - after the first character: %w", name, ErrInvalid)
		}
	}
	return nil
}

// Action is something a user asks to do; Authorize decides.
type Action string

// The actions the HTTP layer authorizes.
const (
	// ActionRead: see an app's metadata, notebook, checkpoints, kernel
	// status, and list it.
	ActionRead Action = "read"
	// ActionCreate: create a new app (app is nil, or the app to be created
	// with its Owner set).
	ActionCreate Action = "create"
	// ActionEdit: save the notebook, rename, create/restore/delete
	// checkpoints.
	ActionEdit Action = "edit"
	// ActionRun: open (start the kernel), stop, restore, execute cells,
	// interrupt, restart; attach to the kernel websocket.
	ActionRun Action = "run"
	// ActionDelete: delete the app and its notebook.
	ActionDelete Action = "delete"
	// ActionSchedule: create and change the app's schedules (next issue).
	ActionSchedule Action = "schedule"
	// ActionManageUsers: add, change and remove users (app is nil).
	ActionManageUsers Action = "manage-users"
)

// Authorize returns nil if u may do act on app, or an error wrapping
// ErrForbidden that names the user, role and action. app is nil for actions
// not about one app (ActionCreate, ActionManageUsers, and ActionRead for
// listing, after which each listed app is checked). The rules:
//
//   - admin: everything (the app actions on an app, not on nil).
//   - developer: ActionCreate (of apps they own), and every app action on
//     apps whose Owner is them; nothing on others' apps; not
//     ActionManageUsers.
//   - viewer: ActionRead on every app; nothing else.
//
// An unknown role or action is refused. Safe for concurrent use.
func Authorize(u User, act Action, app *App) error {
	if allowed(u, act, app) {
		return nil
	}
	what := string(act)
	if app != nil {
		what += fmt.Sprintf(" app %q of %s", app.Name, app.Owner)
	}
	return fmt.Errorf("user %s (%s) may not %s: %w", u.Name, u.Role, what, ErrForbidden)
}

func allowed(u User, act Action, app *App) bool {
	switch u.Role {
	case RoleAdmin:
		switch act {
		case ActionRead, ActionCreate, ActionManageUsers:
			return true
		case ActionEdit, ActionRun, ActionDelete, ActionSchedule:
			return app != nil
		}
		return false
	case RoleDeveloper:
		switch act {
		case ActionCreate:
			return app == nil || app.Owner == u.Name
		case ActionRead:
			return app == nil || app.Owner == u.Name
		case ActionEdit, ActionRun, ActionDelete, ActionSchedule:
			return app != nil && app.Owner == u.Name
		}
		return false
	case RoleViewer:
		return act == ActionRead
	}
	return false
}
