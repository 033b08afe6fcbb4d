package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/flowlab/flowlab/userapps"
)

func scanUser(r rowScanner) (userapps.User, error) {
	var u userapps.User
	var role string
	var hash sql.NullString
	var created int64
	if err := r.Scan(&u.Name, &role, &hash, &created); err != nil {
		return u, err
	}
	u.Role, u.TokenHash, u.Created = userapps.Role(role), hash.String, fromMicros(created)
	return u, nil
}

func checkUser(u userapps.User) error {
	if err := userapps.ValidateUserName(u.Name); err != nil {
		return err
	}
	if !u.Role.Valid() {
		return fmt.Errorf("user %s: role %q: want admin, developer or viewer: %w", u.Name, u.Role, userapps.ErrInvalid)
	}
	return nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CreateUser stores a new user. Errors wrap ErrInvalid or ErrConflict (name
// or token hash taken).
func (d *DB) CreateUser(ctx context.Context, u userapps.User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO users (name, role, token_hash, created_us) VALUES (?, ?, ?, ?)`,
		u.Name, string(u.Role), nullable(u.TokenHash), micros(u.Created))
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, constraint(err, userapps.ErrNotFound))
	}
	return nil
}

// User returns the named user, or an error wrapping ErrNotFound.
func (d *DB) User(ctx context.Context, name string) (userapps.User, error) {
	u, err := scanUser(d.db.QueryRowContext(ctx, `SELECT name, role, token_hash, created_us FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", name, userapps.ErrNotFound)
	}
	return u, err
}

// UserByToken returns the user holding token, or an error wrapping
// ErrNotFound (the token is not named in the error).
func (d *DB) UserByToken(ctx context.Context, token string) (userapps.User, error) {
	if token == "" {
		return userapps.User{}, fmt.Errorf("user by token: empty token: %w", userapps.ErrNotFound)
	}
	u, err := scanUser(d.db.QueryRowContext(ctx, `SELECT name, role, token_hash, created_us FROM users WHERE token_hash = ?`, userapps.HashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user by token: no user has this token: %w", userapps.ErrNotFound)
	}
	return u, err
}

// Users returns every user, by name.
func (d *DB) Users(ctx context.Context) ([]userapps.User, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name, role, token_hash, created_us FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var users []userapps.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// UpdateUser changes a user in one transaction, as UpdateApp does. The name
// cannot change (ErrInvalid).
func (d *DB) UpdateUser(ctx context.Context, name string, change func(*userapps.User) error) (userapps.User, error) {
	var out userapps.User
	err := d.tx(ctx, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT name, role, token_hash, created_us FROM users WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", name, userapps.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := change(&u); err != nil {
			return err
		}
		if u.Name != name {
			return fmt.Errorf("update user %s: the name cannot change: %w", name, userapps.ErrInvalid)
		}
		if err := checkUser(u); err != nil {
			return fmt.Errorf("update user %s: %w", name, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET role = ?, token_hash = ?, created_us = ? WHERE name = ?`,
			string(u.Role), nullable(u.TokenHash), micros(u.Created), name)
		if err != nil {
			return fmt.Errorf("update user %s: %w", name, constraint(err, userapps.ErrNotFound))
		}
		out = u
		return nil
	})
	return out, err
}

// DeleteUser removes a user: ErrNotFound, or ErrConflict while they own apps.
func (d *DB) DeleteUser(ctx context.Context, name string) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, constraint(err, fmt.Errorf("the user still owns apps: %w", userapps.ErrConflict)))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete user %s: %w", name, userapps.ErrNotFound)
	}
	return nil
}
