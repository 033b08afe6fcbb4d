package duckdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/duckdb"
)

// fixedNow is the test clock: 2026-01-02 13:20 UTC.
var fixedNow = time.Date(2026, 1, 2, 13, 20, 0, 0, time.UTC)

// openLake opens a lake at root (a new temporary folder when empty) with a
// DuckDB engine.
func openLake(t testing.TB, root string, opts ...func(*datalake.Options)) *datalake.Lake {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	o := datalake.Options{
		Root:      root,
		NewEngine: duckdb.Factory(duckdb.Options{Root: root, MemoryLimit: "512MiB", Threads: 2}),
		Now:       func() time.Time { return fixedNow },
	}
	for _, f := range opts {
		f(&o)
	}
	l, err := datalake.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// independent runs statements in a separate DuckDB engine sandboxed to dir:
// an independent writer of the lake layout.
func independent(t testing.TB, dir string, stmts ...string) {
	t.Helper()
	e, err := duckdb.Open(duckdb.Options{Root: dir, MemoryLimit: "256MiB", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, s := range stmts {
		if err := e.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func mustCount(t testing.TB, f *datalake.Frame) int64 {
	t.Helper()
	n, err := f.Count()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
