//go:build !kernelonly

package main

import (
	"testing"
	"time"
)

// notebookBrowserSteps are the steps frontend/testdata/browser/notebook.js
// reports, in order: issue 8's acceptance of the notebook page.
var notebookBrowserSteps = []string{
	"notebook/setup",                // log in, a new app with its kernel up
	"notebook/interactive",          // five loads: the first cell editable and the kernel idle within 1 s each
	"notebook/highlight",            // Go keywords, strings and comments coloured; Shift+Enter runs and moves on
	"notebook/complete",             // fmt.Sp, Tab: a list the arrows move through, Enter accepts; IO.Re, Tab: Read offered and accepted; it runs
	"notebook/inspect",              // Shift+Tab on IO.Read shows its documentation; Escape hides it
	"notebook/display-update",       // display.Show then display.Update: one output, the final value
	"notebook/restart-elsewhere",    // a restart from the API ends the running cell's [*]; cells run again
	"notebook/big-table",            // a 100,000-row frame shows its total; 100,000 rows of HTML and JSON are cut to 1,000 with the total; 100,000 printed lines keep the last 200,000 characters; the page answers
	"notebook/reconnect",            // the network cut while a cell prints: after the reconnect every line is there once, in order; the status says so
	"notebook/labels",               // every control on the page has an accessible name
	"notebook/shortcuts-help",       // "?" lists the shortcuts; Escape returns the focus; "?" in a cell is text
	"notebook/markdown-cell",        // Tab in a Markdown cell indents (no completion); Shift+Enter renders it
	"notebook/portscan-by-keyboard", // the Portscan detector lab opened and run by keyboard only: the planted scanners in its tables; focus visible; Ctrl+Shift+Enter reruns all
	"notebook/console",              // no script errors in the browser
}

// TestServeBrowserNotebook drives the notebook page of `flowlab serve
// --demo` in Debian's Chromium (headless) through playwright-core, as
// issue 8's acceptance asks; each step of the script is a subtest.
// Screenshots land in test-output/ui (notebook-*.png).
func TestServeBrowserNotebook(t *testing.T) {
	runBrowserScript(t, "notebook.js", "browser-notebook-token", 6*time.Minute, notebookBrowserSteps)
}
