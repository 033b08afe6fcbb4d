package datalake

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the package returns wraps one of them, so
// callers (and the kernel, which turns them into cell errors) can test with
// errors.Is; the message around it says what was wrong and what to do.
var (
	// ErrNotConfigured means no lake root was configured: the kernel was
	// started without --lake or FLOWLAB_LAKE, or Configure was not called.
	ErrNotConfigured = errors.New("the datalake is not configured")
	// ErrNoEngine means the lake has no query engine (Options.NewEngine is
	// nil); file operations work, queries do not.
	ErrNoEngine = errors.New("the datalake has no query engine")
	// ErrClosed means the lake or its engine was closed.
	ErrClosed = errors.New("the datalake is closed")
	// ErrPathRefused means a lake path was refused: it tries to leave the lake
	// root ("..", a symbolic link pointing outside, a host path), holds a NUL
	// or control character, or is otherwise malformed.
	ErrPathRefused = errors.New("path refused")
	// ErrUnknownPath means no dataset exists at a lake path.
	ErrUnknownPath = errors.New("unknown path")
	// ErrBadFormat means a format name is not PARQUET, JSON or CSV, or the
	// dataset holds no files of the requested format.
	ErrBadFormat = errors.New("bad format")
	// ErrBadTimeRange means a time range is not one of the accepted forms.
	ErrBadTimeRange = errors.New("bad time range")
	// ErrNoData means a time range matched no hour partition of a dataset.
	ErrNoData = errors.New("no data")
	// ErrReadOnly means a write to a system dataset (/tetration/...) was
	// refused: cells may only write under /appdata.
	ErrReadOnly = errors.New("read-only dataset")
	// ErrCorruptFile means a data file in the lake could not be decoded.
	ErrCorruptFile = errors.New("corrupt data file")
	// ErrQuery means the engine rejected or failed a query; the error is a
	// *QueryError with the statement and the position.
	ErrQuery = errors.New("query failed")
	// ErrBadArgument means a Frame method got an argument it cannot use (an
	// empty column list, an unknown join type, a placeholder count that does
	// not match the arguments, ...).
	ErrBadArgument = errors.New("bad argument")
	// ErrNilFrame means a method was called on a nil *Frame.
	ErrNilFrame = errors.New("nil frame")
	// ErrTooManyRows means a terminal call that returns rows to the caller
	// would return more than Options.MaxCollectRows.
	ErrTooManyRows = errors.New("too many rows")
	// ErrInterrupted means a query was cancelled, by Interrupt (a kernel
	// interrupt) or by its context.
	ErrInterrupted = errors.New("query interrupted")
)

// QueryError describes a statement the engine rejected or failed to run. It
// wraps ErrQuery, and also ErrCorruptFile when the engine named a data file
// it could not decode.
type QueryError struct {
	// Step is the Frame call that introduced the failing SQL, for example
	// `.Filter("cnt > ?", 10)`; empty when the error is not tied to a step.
	Step string
	// Query is the SQL statement the position refers to.
	Query string
	// Position is the byte offset in Query where the engine located the
	// error, or -1 when it did not say.
	Position int
	// Kind is the engine's class of error ("Parser", "Binder", "IO", ...).
	Kind string
	// Message is the engine's message, with host paths of lake files
	// rewritten as lake paths.
	Message string
	// File is the lake path of the data file the error is about, if any.
	File string
	// Hint says what to do, when the package knows.
	Hint string
}

// Error implements error. The message names the step, the engine's message,
// the statement with a caret under the position, and the hint.
func (e *QueryError) Error() string {
	var b strings.Builder
	b.WriteString("SQL error")
	if e.Step != "" {
		fmt.Fprintf(&b, " in %s", e.Step)
	}
	b.WriteString(": ")
	if e.Kind != "" {
		b.WriteString(e.Kind)
		b.WriteString(" Error: ")
	}
	b.WriteString(e.Message)
	if e.Query != "" {
		b.WriteString("\n")
		b.WriteString(pointAt(e.Query, e.Position))
	}
	if e.Hint != "" {
		b.WriteString("\n")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap returns ErrQuery, and ErrCorruptFile when File is set.
func (e *QueryError) Unwrap() []error {
	if e.File != "" {
		return []error{ErrQuery, ErrCorruptFile}
	}
	return []error{ErrQuery}
}

// pointAt shows the line of query holding byte offset pos with a caret under
// it, prefixed by the line number; without a position it shows the statement
// (cut to a readable length). Long lines (file lists) are cut around the
// position.
func pointAt(query string, pos int) string {
	const maxShown, window = 2000, 100
	if pos < 0 || pos > len(query) {
		q := []rune(query)
		if len(q) > maxShown {
			return "query: " + string(q[:maxShown]) + " …"
		}
		return "query: " + query
	}
	line := 1 + strings.Count(query[:pos], "\n")
	start := strings.LastIndexByte(query[:pos], '\n') + 1
	end := strings.IndexByte(query[pos:], '\n')
	if end < 0 {
		end = len(query)
	} else {
		end += pos
	}
	before := []rune(strings.ReplaceAll(query[start:pos], "\t", " "))
	after := []rune(strings.ReplaceAll(query[pos:end], "\t", " "))
	if len(before) > window {
		before = append([]rune("…"), before[len(before)-window:]...)
	}
	if len(after) > window {
		after = append(after[:window], []rune("…")...)
	}
	label := fmt.Sprintf("line %d: ", line)
	return label + string(before) + string(after) + "\n" + strings.Repeat(" ", len(label)+len(before)) + "^"
}
