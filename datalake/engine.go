package datalake

import "context"

// Engine runs SQL for a lake. It is the narrow seam between the Frame API and
// the SQL engine: the DuckDB adapter (datalake/duckdb) implements it, and a
// distributed engine could stand in. One engine serves one lake for the
// kernel's life, so temporary views and persisted frames live in it.
//
// Implementations must be safe for concurrent use (they may serialise
// statements). A statement the engine rejects or fails returns a *QueryError
// carrying the statement, the byte position when known, the engine's class of
// error and its message; a cancelled ctx returns an error wrapping
// ErrInterrupted. Queries use "?" placeholders bound to args in order.
type Engine interface {
	// Exec runs a statement that returns no rows (CREATE VIEW, COPY, ...).
	Exec(ctx context.Context, query string, args ...any) error
	// Query runs a statement and returns its rows. The caller closes them;
	// the engine may hold a lock until then.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// Close releases the engine and everything it holds.
	Close() error
}

// Materializer is an optional power of an Engine: keeping the rows of a
// persisted frame in storage of the engine's choosing (compressed, for
// example) rather than a plain temporary table. Frame.Persist uses it when
// the engine has it, and CREATE TEMP TABLE otherwise.
type Materializer interface {
	// Materialize runs query (one SELECT, arguments already written as
	// literals) and keeps its rows, in order and with their column names
	// and types, in a new table called name (a plain identifier, unique in
	// the engine). It returns how SQL refers to the table; DROP TABLE of
	// that reference removes it. Errors are as for Exec, with positions in
	// query.
	Materialize(ctx context.Context, name, query string) (table string, err error)
}

// Rows is a cursor over a query result, used like *sql.Rows: Next, then
// Scan, until Next returns false; then Err and Close.
type Rows interface {
	// Columns describes the result's columns.
	Columns() []Column
	// Next advances to the next row.
	Next() bool
	// Scan copies the current row into dest, one pointer per column:
	// *any (normalised to Go values: int64/int32/..., float64, string, bool,
	// time.Time, time.Duration, []byte, []any, map[string]any, nil for NULL),
	// or *int64, *float64, *string, *bool, *time.Time for non-NULL values.
	Scan(dest ...any) error
	// Err returns the error that ended the iteration, if any.
	Err() error
	// Close releases the cursor. It is safe to call more than once.
	Close() error
}

var _ Engine = (*unavailableEngine)(nil)

// unavailableEngine stands in when Options.NewEngine is nil, so a lake used
// only for publishing files still answers queries with a clear error.
type unavailableEngine struct{}

func (unavailableEngine) Exec(context.Context, string, ...any) error { return errNoEngine }
func (unavailableEngine) Query(context.Context, string, ...any) (Rows, error) {
	return nil, errNoEngine
}
func (unavailableEngine) Close() error { return nil }

var errNoEngine = wrapf(ErrNoEngine, "the kernel did not give the lake a query engine (Options.NewEngine is nil): reading files works, queries do not")
