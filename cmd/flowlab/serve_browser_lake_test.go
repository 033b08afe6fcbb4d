//go:build !kernelonly

package main

import (
	"testing"
	"time"
)

// lakeBrowserSteps are the steps frontend/testdata/browser/lake-ui.js
// reports, in order: issue 8's Data Platform page, App Options panel and
// the User Apps page's gaps, driven in Debian's Chromium.
var lakeBrowserSteps = []string{
	"login",                  // /?token=T
	"apps/one-request",       // the apps page refreshes with GET /api/apps alone; last run and schedule shown
	"apps/keyboard",          // Tab order through an app's row, visible focus, Space runs it now, Enter follows a link
	"apps/schedule-run",      // an every-minute schedule: a scheduled run appears in the Last run column
	"apps/labels",            // every control of the apps page has an accessible name
	"data/page",              // the tree, the hours with row counts and sizes, the schema, the first rows; datasinks
	"data/keyboard-tree",     // arrows, Home/End, Left/Right, Enter choose a dataset
	"data/labels",            // every control of the Data Platform page has an accessible name
	"data/traversal",         // ?path=/tetration/../.. is a clear 400; no cookie is 401
	"options/build-read",     // the panel writes IO.Read for a dataset, format and time range
	"options/labels",         // every control of the App Options panel has an accessible name
	"options/insert-and-run", // inserted as a new cell and pasted from the clipboard, both run and show a table
	"options/viewer",         // a viewer's panel: the call to copy, no Insert
	"console",                // no script errors in the browser
}

// TestServeBrowserLake drives the Data Platform page, the notebook's App
// Options panel and the User Apps page of `flowlab serve --demo` in
// Debian's Chromium through playwright-core; each step of the script is a
// subtest. Screenshots land in test-output/ui (data-platform.png,
// app-options.png). Without chromium the test skips, or fails under CI.
func TestServeBrowserLake(t *testing.T) {
	runBrowserScript(t, "lake-ui.js", "browser-lake-token", 6*time.Minute, lakeBrowserSteps)
}
