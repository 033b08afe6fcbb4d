// Package sqlite keeps users and apps (and, from the scheduling issue on,
// schedules and runs) in an SQLite database through modernc.org/sqlite, a
// pure-Go driver, so the server builds without cgo.
//
// The database runs in WAL mode (readers never wait for the writer) with a
// busy timeout, foreign keys on, synchronous=FULL, and every transaction
// taking the write lock up front (BEGIN IMMEDIATE) so concurrent
// read-modify-write transactions queue instead of failing with SQLITE_BUSY.
// The schema evolves by numbered migrations embedded from migrations/*.sql
// and recorded in the schema_migrations table; keep the SQL portable to
// PostgreSQL (BIGINT times in microseconds, no SQLite-only types).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flowlab/flowlab/userapps"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configures Open. The zero value works.
type Options struct {
	// Logger receives the migrations applied; nil discards.
	Logger *slog.Logger
	// Now stamps schema_migrations.applied_us; nil means time.Now.
	Now func() time.Time
	// BusyTimeout is how long a statement waits for another connection's
	// write lock before failing; default 10s.
	BusyTimeout time.Duration
}

// DB is the SQLite store: it implements userapps.AppStore and
// userapps.UserStore. It is safe for concurrent use.
type DB struct {
	db  *sql.DB
	log *slog.Logger
	now func() time.Time
}

var (
	_ userapps.AppStore  = (*DB)(nil)
	_ userapps.UserStore = (*DB)(nil)
)

// Open opens (creating if needed) the database file at path and applies the
// migrations it lacks. It refuses a database whose schema is newer than this
// binary knows (a downgrade). path must not contain '?'.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open store %q: %w: want a file path without '?'", path, userapps.ErrInvalid)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	d := &DB{db: sqldb, log: opts.Logger, now: opts.Now}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if err := d.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// migration is one migrations/NNNN_name.sql file.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations: version %d where %d was expected (no gaps, no duplicates)", m.version, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion returns the newest migration applied.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_us BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	have, err := d.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("the database has schema version %d but this flowlab knows only up to %d: use a newer flowlab or restore a backup", have, len(ms))
	}
	for _, m := range ms[have:] {
		// Each migration commits with its schema_migrations row, so a crash
		// leaves the database at one version or the next. Another process
		// migrating at the same time waits for the write lock (BEGIN
		// IMMEDIATE) and then finds the version already recorded.
		err := d.tx(ctx, func(tx *sql.Tx) error {
			var done int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&done); err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)`, m.version, m.name, d.now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
		d.log.Info("store migration applied", "version", m.version, "name", m.name)
	}
	return nil
}

// tx runs fn in a transaction (BEGIN IMMEDIATE), committing if it returns
// nil.
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// constraint maps SQLite constraint failures to the domain's sentinels:
// a duplicate key is ErrConflict, a dangling reference is ErrNotFound on
// insert and ErrConflict on delete (the caller says which).
func constraint(err error, fkey error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", userapps.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_TRIGGER:
		// SQLite reports an ON DELETE RESTRICT violation with the trigger
		// code; the schema has no triggers of its own.
		return fmt.Errorf("%w: %w", fkey, err)
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return fmt.Errorf("%w: %w", userapps.ErrInvalid, err)
	}
	return err
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
