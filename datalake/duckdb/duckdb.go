// Package duckdb is the lake's query engine: an embedded DuckDB database
// (github.com/duckdb/duckdb-go) behind the datalake.Engine interface. It is
// the only package of the lake that uses cgo.
//
// One Engine is one in-memory DuckDB database with one connection, so the
// temporary views and persisted frames a kernel creates live as long as the
// kernel. The database is sandboxed to the lake: SQL can read and write files
// only under the lake root and the engine's spill folder
// (enable_external_access off, allowed_directories set, configuration
// locked), and never installs extensions from the network.
//
// Persisted frames (datalake.Materializer) live in a second in-memory
// database that DuckDB compresses, not in temporary tables: see Materialize.
package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/flowlab/flowlab/datalake"
)

// Options configures an Engine. The zero value works except for Root.
//
// The defaults let many kernels share one machine: each engine may use an
// eighth of the memory available to the process (physical memory or the
// cgroup limit, whichever is lower), at least 512 MiB and at most 4 GiB,
// and spills to disk beyond that, instead of DuckDB's default of 80% per
// database, which lets two busy kernels exhaust a machine. Threads default
// to the number of CPUs, DuckDB's own default: CPU time is shared fairly by
// the operating system when kernels oversubscribe, while a single kernel's
// query still uses every core.
type Options struct {
	// Root is the lake root. SQL may read and write files only below it
	// (and the spill folder). Empty means SQL may read no files at all.
	Root string
	// MemoryLimit is DuckDB's memory_limit, for example "2GiB". Empty means
	// the default described above.
	MemoryLimit string
	// Threads is DuckDB's threads setting. Zero means runtime.NumCPU().
	Threads int
	// TempDir is the folder DuckDB spills to. Empty means a new folder under
	// os.TempDir(), removed by Close.
	TempDir string
	// Logger receives the settings at start. Nil discards.
	Logger *slog.Logger
}

// Engine is a DuckDB database with one connection. It is safe for
// concurrent use; statements run one at a time, and a Query holds the
// connection until its Rows are closed.
type Engine struct {
	db      *sql.DB
	conn    *sql.Conn
	tempDir string
	ownTemp bool
	log     *slog.Logger

	mu     sync.Mutex // held from Query until Rows.Close
	closed bool
}

var (
	_ datalake.Engine       = (*Engine)(nil)
	_ datalake.Materializer = (*Engine)(nil)
)

// persistDB is the in-memory database, attached with compression, that
// holds persisted frames.
const persistDB = "flowlab_persist"

// Factory returns an engine factory for datalake.Options.NewEngine, so the
// engine starts on the lake's first query.
func Factory(opts Options) func() (datalake.Engine, error) {
	return func() (datalake.Engine, error) { return Open(opts) }
}

// Open starts an in-memory DuckDB database with the options' settings.
func Open(opts Options) (*Engine, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{tempDir: opts.TempDir, log: log}
	if e.tempDir == "" {
		dir, err := os.MkdirTemp("", "flowlab-duckdb-")
		if err != nil {
			return nil, fmt.Errorf("duckdb: spill folder: %w", err)
		}
		e.tempDir, e.ownTemp = dir, true
	} else if err := os.MkdirAll(e.tempDir, 0o700); err != nil {
		return nil, fmt.Errorf("duckdb: spill folder: %w", err)
	}
	mem := opts.MemoryLimit
	if mem == "" {
		mem = DefaultMemoryLimit()
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		e.removeTemp()
		return nil, fmt.Errorf("duckdb: open: %w", err)
	}
	e.db = db
	conn, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		e.removeTemp()
		return nil, fmt.Errorf("duckdb: connect: %w", err)
	}
	e.conn = conn
	allowed := []string{e.tempDir}
	if opts.Root != "" {
		root, err := filepath.Abs(opts.Root)
		if err == nil {
			if r, err := filepath.EvalSymlinks(root); err == nil {
				root = r
			}
			allowed = append(allowed, root)
		}
	}
	var list []string
	for _, a := range allowed {
		list = append(list, quote(strings.TrimRight(a, "/")+"/"))
	}
	settings := []string{
		"SET memory_limit = " + quote(mem),
		"SET threads = " + strconv.Itoa(threads),
		"SET temp_directory = " + quote(e.tempDir),
		"SET TimeZone = 'UTC'",
		// Parquet footers are read once per file and kept: published files
		// never change, and re-reading 720 footers for every query of a month
		// costs more than the query's own binding.
		"SET parquet_metadata_cache = true",
		"SET autoinstall_known_extensions = false",
		// The database persisted frames go to (Materialize).
		"ATTACH ':memory:' AS " + persistDB + " (COMPRESS)",
		"SET allowed_directories = [" + strings.Join(list, ", ") + "]",
		"SET enable_external_access = false",
		"SET errors_as_json = true",
		"SET lock_configuration = true",
	}
	for _, s := range settings {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			e.Close()
			return nil, fmt.Errorf("duckdb: %s: %w", s, err)
		}
	}
	log.Debug("duckdb engine", "memory_limit", mem, "threads", threads, "temp_directory", e.tempDir, "allowed", allowed)
	return e, nil
}

// Exec runs a statement that returns no rows. Errors are *datalake.QueryError
// (wrapping datalake.ErrQuery) or wrap datalake.ErrInterrupted or
// datalake.ErrClosed.
func (e *Engine) Exec(ctx context.Context, query string, args ...any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return closedErr
	}
	_, err := e.conn.ExecContext(ctx, query, args...)
	return convertErr(ctx, query, err)
}

// Query runs a statement and returns its rows; the connection stays locked
// until the rows are closed. Errors are as for Exec.
func (e *Engine) Query(ctx context.Context, query string, args ...any) (datalake.Rows, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, closedErr
	}
	rows, err := e.conn.QueryContext(ctx, query, args...)
	if err != nil {
		e.mu.Unlock()
		return nil, convertErr(ctx, query, err)
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		e.mu.Unlock()
		return nil, convertErr(ctx, query, err)
	}
	cols := make([]datalake.Column, len(types))
	for i, t := range types {
		cols[i] = datalake.Column{Name: t.Name(), Type: typeName(t.DatabaseTypeName())}
	}
	return &resultRows{rows: rows, cols: cols, unlock: e.mu.Unlock, ctx: ctx, query: query}, nil
}

// Materialize keeps the rows of query in table name of a separate in-memory
// database attached with compression, and returns the table's qualified
// name. DuckDB stores the rows of its ordinary in-memory database (and of
// temporary tables) uncompressed, as full-width vectors; an in-memory
// database attached with COMPRESS stores them like a database file does
// (dictionary and FSST for strings, bit-packing, RLE and constants for
// numbers) once a checkpoint has written them. A query then scans less
// memory: the compressed rows take a fraction of the space (a thirteenth
// for the flows columns of the lab's port scan), and a filtered scan reads
// less of them. The rows, their order, names and types are those of query.
//
// It is safe for concurrent use. Errors are as for Exec, with positions in
// query. If the checkpoint fails the table is kept, uncompressed, and the
// failure is logged.
func (e *Engine) Materialize(ctx context.Context, name, query string) (string, error) {
	table := persistDB + ".main." + quoteIdent(name)
	create := "CREATE TABLE " + table + " AS "
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", closedErr
	}
	if _, err := e.conn.ExecContext(ctx, create+query); err != nil {
		err = convertErr(ctx, create+query, err)
		var qe *datalake.QueryError
		if errors.As(err, &qe) && qe.Query == create+query {
			qe.Query = query
			if qe.Position -= len(create); qe.Position < 0 {
				qe.Position = -1
			}
		}
		return "", err
	}
	// An in-memory database compresses at a checkpoint only; the checkpoint
	// rewrites the new table's row groups and frees the uncompressed ones.
	if _, err := e.conn.ExecContext(ctx, "CHECKPOINT "+persistDB); err != nil {
		e.log.Warn("duckdb: persisted table left uncompressed", "table", table, "err", err)
	}
	return table, nil
}

// Close closes the connection and the database and removes the spill folder
// the engine created. Safe to call more than once.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	if e.conn != nil {
		errs = append(errs, e.conn.Close())
	}
	if e.db != nil {
		errs = append(errs, e.db.Close())
	}
	e.removeTemp()
	return errors.Join(errs...)
}

func (e *Engine) removeTemp() {
	if e.ownTemp {
		_ = os.RemoveAll(e.tempDir)
	}
}

var closedErr = fmt.Errorf("%w: the DuckDB engine was closed", datalake.ErrClosed)

// resultRows adapts *sql.Rows to datalake.Rows.
type resultRows struct {
	rows   *sql.Rows
	cols   []datalake.Column
	unlock func()
	once   sync.Once
	ctx    context.Context
	query  string
}

func (r *resultRows) Columns() []datalake.Column { return r.cols }
func (r *resultRows) Next() bool                 { return r.rows.Next() }

func (r *resultRows) Scan(dest ...any) error {
	if err := r.rows.Scan(dest...); err != nil {
		return convertErr(r.ctx, r.query, err)
	}
	for i, d := range dest {
		if p, ok := d.(*any); ok {
			typ := ""
			if i < len(r.cols) {
				typ = r.cols[i].Type
			}
			*p = normalize(*p, typ)
		}
	}
	return nil
}

func (r *resultRows) Err() error { return convertErr(r.ctx, r.query, r.rows.Err()) }

func (r *resultRows) Close() error {
	err := r.rows.Close()
	r.once.Do(r.unlock)
	return err
}

// convertErr turns a driver error into the lake's: DuckDB errors (JSON, as
// errors_as_json makes them) become *datalake.QueryError; cancellation wraps
// datalake.ErrInterrupted.
func convertErr(ctx context.Context, query string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", datalake.ErrInterrupted, err)
	}
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return err
	}
	qe := &datalake.QueryError{Query: query, Position: -1, Message: de.Msg}
	var js struct {
		Type     string `json:"exception_type"`
		Message  string `json:"exception_message"`
		Position string `json:"position"`
	}
	// errors_as_json makes the message JSON; errors raised while splitting
	// statements keep a "Parser Error: " prefix before it.
	raw := de.Msg
	if i := strings.IndexByte(raw, '{'); i >= 0 {
		raw = raw[i:]
	}
	if json.Unmarshal([]byte(raw), &js) == nil && js.Message != "" {
		qe.Kind, qe.Message = js.Type, js.Message
		if p, err := strconv.Atoi(js.Position); err == nil {
			qe.Position = p
		}
	} else if kind, msg, ok := strings.Cut(de.Msg, " Error: "); ok && !strings.Contains(kind, "\n") {
		qe.Kind, qe.Message = kind, msg
	}
	if strings.EqualFold(qe.Kind, "INTERRUPT") {
		return fmt.Errorf("%w: %s", datalake.ErrInterrupted, qe.Message)
	}
	return qe
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// typeName gives the engine's type names as DuckDB spells them in DESCRIBE.
func typeName(t string) string {
	switch t {
	case "TIMESTAMPTZ":
		return "TIMESTAMP WITH TIME ZONE"
	}
	return t
}
