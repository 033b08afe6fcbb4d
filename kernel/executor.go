package kernel

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Executor evaluates cells in one persistent interpreter and answers questions
// about code (completion, inspection, completeness). The session calls its
// methods from a single goroutine, never concurrently; an interrupt cancels the
// ctx passed to Execute.
type Executor interface {
	// Execute runs one cell. Output the cell writes to os.Stdout/os.Stderr is
	// captured by the session, not returned here. It returns the values of the
	// cell's final expression (Result.Values), or a *CellError when user code
	// fails to compile, panics or is interrupted. Any other error means the
	// executor itself is broken.
	Execute(ctx context.Context, cell Cell) (Result, error)

	// Complete proposes completions for code at cursor. cursor and the returned
	// positions count Unicode code points, as the Jupyter protocol does.
	Complete(code string, cursor int) Completion

	// Inspect describes the name at cursor (signature and documentation).
	// found is false when nothing is known about it. detail is 0 or 1 as in
	// inspect_request.
	Inspect(code string, cursor int, detail int) (insp Inspection, found bool)

	// IsComplete tells whether code is ready to run (is_complete_request).
	IsComplete(code string) Completeness

	// Reset discards every name defined by cells and starts a fresh
	// interpreter with the default imports.
	Reset() error

	// Packages lists every package a cell may import, sorted by path.
	Packages() []Package
}

// Cell is one execute_request as the executor sees it.
type Cell struct {
	// Source is the cell's code, magics already removed.
	Source string
	// Input asks the front end for one line of input (input_request) and
	// returns the reply without its newline. It is nil when the request did not
	// allow stdin; reads from stdin then fail with ErrStdinNotAllowed.
	Input func(ctx context.Context, prompt string, password bool) (string, error)
}

// Result is what a successful cell produced.
type Result struct {
	// Values holds the values of the final expression, in order. It is empty
	// when the cell does not end in an expression, when the expression has no
	// values, or when the display was suppressed (trailing semicolon, print
	// calls).
	Values []any
}

// Completion answers a complete_request.
type Completion struct {
	Matches     []string
	CursorStart int
	CursorEnd   int
	// Metadata is sent as the reply's metadata, for example
	// "_jupyter_types_experimental".
	Metadata map[string]any
}

// Inspection answers an inspect_request: a MIME bundle, normally text/plain
// and text/markdown.
type Inspection struct {
	Data map[string]any
}

// Completeness answers an is_complete_request.
type Completeness struct {
	// Status is "complete", "incomplete", "invalid" or "unknown".
	Status string
	// Indent is the indentation for the next line when Status is "incomplete".
	Indent string
}

// Package describes one importable package for %packages and completion.
type Package struct {
	Path     string
	Synopsis string
}

// CellError is a failure of user code: a compile error, a panic, a runtime
// error or an interrupt. It maps one to one onto a Jupyter error reply.
type CellError struct {
	// Name is the error's kind: "CompileError", "Interrupted", or the panic
	// value's type ("runtime.Error", "*errors.errorString", "panic" for a
	// plain string).
	Name string
	// Value is the message, positions given as cell line:column.
	Value string
	// Traceback lists the frames, innermost last, as the front end shows them.
	// It is never nil: an error without frames repeats Name and Value.
	Traceback []string
}

// Error implements error.
func (e *CellError) Error() string {
	return e.Name + ": " + e.Value
}

// Sentinel errors returned by executors and the session.
var (
	// ErrStdinNotAllowed is returned when a cell reads from stdin but the
	// client sent the request with allow_stdin false (nbclient, scheduled runs).
	ErrStdinNotAllowed = errors.New("reading from stdin is not available: the client did not allow input for this request (run the cell from a notebook front end, or pass values with a parameters cell)")
	// ErrInterrupted is wrapped by errors caused by an interrupt_request or SIGINT.
	ErrInterrupted = errors.New("interrupted")
)

// Interrupted returns the CellError the kernel reports for an interrupted cell.
func Interrupted() *CellError {
	const msg = "the cell was interrupted; the kernel and its state are kept"
	return &CellError{Name: "Interrupted", Value: msg, Traceback: []string{"Interrupted: " + msg}}
}

// CompileError builds a CellError for source that does not compile. msgs are
// already positioned as "line:col: message" relative to the cell.
func CompileError(msgs ...string) *CellError {
	v := strings.Join(msgs, "\n")
	tb := make([]string, 0, len(msgs))
	for _, m := range msgs {
		tb = append(tb, fmt.Sprintf("CompileError: %s", m))
	}
	return &CellError{Name: "CompileError", Value: v, Traceback: tb}
}

// Environment is implemented by executors whose cells see an environment of
// their own (a sandbox's copy) rather than the process's. %env reads and
// changes it when the executor has one.
type Environment interface {
	// Environ returns the variables cells see, as "NAME=value".
	Environ() []string
	// Setenv sets one variable for the cells that follow.
	Setenv(name, value string) error
}
