// Package examples holds flowlab's lab and analytics notebooks (.ipynb) and
// the tests that run each of them end to end: through Debian's nbclient with
// the installed kernel, validated with nbformat, with assertions on what each
// notebook computes.
//
// The notebooks are embedded in the binary (Notebooks), so `flowlab serve
// --demo` can load them as apps with nothing beside the binary.
package examples

import "embed"

// Notebooks holds every notebook of this folder, by file name.
//
//go:embed *.ipynb
var Notebooks embed.FS
