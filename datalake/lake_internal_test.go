package datalake

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testNow is the clock of the tests: 2026-01-02 13:20 UTC.
var testNow = time.Date(2026, 1, 2, 13, 20, 0, 0, time.UTC)

// newTestLake opens a lake without an engine in a temporary folder.
func newTestLake(t testing.TB) *Lake {
	t.Helper()
	l, err := Open(Options{Root: t.TempDir(), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// touch creates a file (and its folders) under the lake root.
func touch(t testing.TB, l *Lake, rel string) {
	t.Helper()
	p := filepath.Join(l.Root(), filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hourFiles creates one Parquet file in each of n hours ending at last.
func hourFiles(t testing.TB, l *Lake, dataset string, last time.Time, n int) {
	t.Helper()
	for i := range n {
		h := last.Add(-time.Duration(i) * time.Hour)
		touch(t, l, dataset[1:]+"/"+PartitionDir(h)+"/part-0.parquet")
	}
}
