package duckdb

// The Go linker links cgo programs with -rdynamic, which puts every global
// symbol of the static libduckdb (about 60,000 C++ symbols) into the
// binary's dynamic symbol table. The dynamic loader reads that table at
// every start, so each kernel process carried ~5 MB of resident symbol
// tables it never uses: nothing looks DuckDB up by name (extensions are
// compiled in, never loaded from shared objects). --no-export-dynamic after
// -rdynamic leaves only the symbols the C runtime needs.

// #cgo linux LDFLAGS: -Wl,--no-export-dynamic
import "C"
