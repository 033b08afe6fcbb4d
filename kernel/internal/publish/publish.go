// Package publish carries display messages from the display package, which
// cells call, to the kernel session, which sends them to the front end. It is
// internal so that cells cannot replace the kernel's publisher.
package publish

import "sync/atomic"

// Message kinds a publisher receives; they are the Jupyter iopub message types.
const (
	DisplayData       = "display_data"
	UpdateDisplayData = "update_display_data"
	ClearOutput       = "clear_output"
)

// Func sends one iopub message of the given type with the given content. It is
// called from cell goroutines and must be safe for concurrent use.
type Func func(msgType string, content map[string]any)

var current atomic.Pointer[Func]

// Set installs f as the process's publisher; nil removes it.
func Set(f Func) {
	if f == nil {
		current.Store(nil)
		return
	}
	current.Store(&f)
}

// Emit sends a message through the installed publisher. It reports false when
// no publisher is installed (the display package is used outside a kernel).
func Emit(msgType string, content map[string]any) bool {
	f := current.Load()
	if f == nil {
		return false
	}
	(*f)(msgType, content)
	return true
}
