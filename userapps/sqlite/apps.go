package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/flowlab/flowlab/userapps"
)

const appColumns = `id, name, owner, notebook, state, error, kernel_id, checkpoint_id, checkpoint_us, created_us, updated_us, state_changed_us`

type rowScanner interface{ Scan(...any) error }

func scanApp(r rowScanner) (userapps.App, error) {
	var a userapps.App
	var state, cpID string
	var cpUS, created, updated, changed int64
	if err := r.Scan(&a.ID, &a.Name, &a.Owner, &a.Notebook, &state, &a.Error, &a.KernelID, &cpID, &cpUS, &created, &updated, &changed); err != nil {
		return a, err
	}
	a.State = userapps.State(state)
	if cpID != "" {
		a.Checkpoint = &userapps.Checkpoint{ID: cpID, Created: fromMicros(cpUS)}
	}
	a.Created, a.Updated, a.StateChanged = fromMicros(created), fromMicros(updated), fromMicros(changed)
	return a, nil
}

func appArgs(a userapps.App) []any {
	var cpID string
	var cpUS int64
	if a.Checkpoint != nil {
		cpID, cpUS = a.Checkpoint.ID, micros(a.Checkpoint.Created)
	}
	return []any{a.ID, a.Name, a.Owner, a.Notebook, string(a.State), a.Error, a.KernelID, cpID, cpUS, micros(a.Created), micros(a.Updated), micros(a.StateChanged)}
}

func checkApp(a userapps.App) error {
	switch {
	case a.ID == "":
		return fmt.Errorf("app without an id: %w", userapps.ErrInvalid)
	case a.Owner == "":
		return fmt.Errorf("app %q without an owner: %w", a.Name, userapps.ErrInvalid)
	case a.Notebook == "":
		return fmt.Errorf("app %q without a notebook path: %w", a.Name, userapps.ErrInvalid)
	case !a.State.Valid():
		return fmt.Errorf("app %q in unknown state %q: %w", a.Name, a.State, userapps.ErrInvalid)
	case a.Checkpoint != nil && a.Checkpoint.ID == "":
		return fmt.Errorf("app %q with an empty checkpoint id: %w", a.Name, userapps.ErrInvalid)
	}
	return userapps.ValidateAppName(a.Name)
}

// CreateApp stores a new app. Errors wrap ErrInvalid (see
// userapps.AppStore), ErrConflict for a taken id, owner+name or notebook
// path, ErrNotFound for an unknown owner.
func (d *DB) CreateApp(ctx context.Context, a userapps.App) error {
	if err := checkApp(a); err != nil {
		return fmt.Errorf("create app: %w", err)
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, appArgs(a)...)
	if err != nil {
		return fmt.Errorf("create app %q of %s: %w", a.Name, a.Owner, constraint(err, userapps.ErrNotFound))
	}
	return nil
}

// App returns the app with this id, or an error wrapping ErrNotFound.
func (d *DB) App(ctx context.Context, id string) (userapps.App, error) {
	a, err := scanApp(d.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("app %s: %w", id, userapps.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("app %s: %w", id, err)
	}
	return a, nil
}

// Apps returns the apps f selects, by owner then name.
func (d *DB) Apps(ctx context.Context, f userapps.AppFilter) ([]userapps.App, error) {
	q := `SELECT ` + appColumns + ` FROM apps WHERE 1 = 1`
	var args []any
	if f.Owner != "" {
		q += ` AND owner = ?`
		args = append(args, f.Owner)
	}
	if len(f.States) > 0 {
		q += ` AND state IN (?` + strings.Repeat(", ?", len(f.States)-1) + `)`
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	rows, err := d.db.QueryContext(ctx, q+` ORDER BY owner, name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	var apps []userapps.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return apps, nil
}

// UpdateApp reads, changes and writes an app in one transaction (see
// userapps.AppStore). Errors: change's error as is, ErrNotFound, ErrConflict
// for a taken name or notebook path, ErrInvalid if change broke the app or
// altered its ID or Owner.
func (d *DB) UpdateApp(ctx context.Context, id string, change func(*userapps.App) error) (userapps.App, error) {
	var out userapps.App
	err := d.tx(ctx, func(tx *sql.Tx) error {
		a, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("app %s: %w", id, userapps.ErrNotFound)
		}
		if err != nil {
			return err
		}
		before := a
		if err := change(&a); err != nil {
			return err
		}
		if a.ID != before.ID || a.Owner != before.Owner {
			return fmt.Errorf("update app %s: the id and owner cannot change: %w", id, userapps.ErrInvalid)
		}
		if err := checkApp(a); err != nil {
			return fmt.Errorf("update app %s: %w", id, err)
		}
		// appArgs is in appColumns order, id first.
		args := append(appArgs(a)[1:], id)
		_, err = tx.ExecContext(ctx, `UPDATE apps SET name = ?, owner = ?, notebook = ?, state = ?, error = ?, kernel_id = ?,
			checkpoint_id = ?, checkpoint_us = ?, created_us = ?, updated_us = ?, state_changed_us = ? WHERE id = ?`, args...)
		if err != nil {
			return fmt.Errorf("update app %s: %w", id, constraint(err, userapps.ErrNotFound))
		}
		out = a
		return nil
	})
	return out, err
}

// DeleteApp removes an app, or returns an error wrapping ErrNotFound.
func (d *DB) DeleteApp(ctx context.Context, id string) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM apps WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete app %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete app %s: %w", id, userapps.ErrNotFound)
	}
	return nil
}
