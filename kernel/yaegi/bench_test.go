package yaegi

import (
	"context"
	"testing"

	"github.com/flowlab/flowlab/kernel"
)

// benchSessionCells is the session length BenchmarkExecuteTrivial measures.
const benchSessionCells = 500

// BenchmarkExecuteTrivial measures a warm executor running 1+1, in sessions
// of benchSessionCells cells.
func BenchmarkExecuteTrivial(b *testing.B) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	// The session runs every cell with a context it can cancel.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cell := kernel.Cell{Source: "1+1"}
	for i := 0; i < 100; i++ {
		if _, err := e.Execute(ctx, cell); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n++; n%benchSessionCells == 0 {
			// yaegi keeps a global frame slot per evaluated expression and
			// copies the frame when it grows, so a cell's cost grows with
			// the number of cells before it: measure sessions of a
			// realistic length.
			b.StopTimer()
			if err := e.Reset(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		res, err := e.Execute(ctx, cell)
		if err != nil || len(res.Values) != 1 || res.Values[0] != 2 {
			b.Fatalf("got %v, %v", res.Values, err)
		}
	}
}

// BenchmarkNew measures starting an executor (tables, interpreter, runtime
// helpers), after the process has warmed up.
func BenchmarkNew(b *testing.B) {
	if _, err := New(Options{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
