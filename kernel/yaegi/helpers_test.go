package yaegi

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/flowlab/flowlab/kernel"
	"github.com/traefik/yaegi/interp"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of cell
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testExec is an executor whose output goes to buffers.
type testExec struct {
	*Executor
	stdout, stderr *syncBuffer
}

func newTestExec(t testing.TB, opts Options) *testExec {
	t.Helper()
	te := &testExec{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	opts.Stdout, opts.Stderr = te.stdout, te.stderr
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	te.Executor = e
	return te
}

// run executes src with a cancellable context, as the session does.
func (te *testExec) run(t testing.TB, src string) (kernel.Result, *kernel.CellError) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return te.runCell(t, ctx, kernel.Cell{Source: src})
}

func (te *testExec) runCell(t testing.TB, ctx context.Context, cell kernel.Cell) (kernel.Result, *kernel.CellError) {
	t.Helper()
	res, err := te.Execute(ctx, cell)
	if err == nil {
		return res, nil
	}
	var ce *kernel.CellError
	if !errors.As(err, &ce) {
		t.Fatalf("Execute(%q) returned a non-cell error %T: %v", cell.Source, err, err)
	}
	if len(ce.Traceback) == 0 {
		t.Fatalf("Execute(%q): CellError without traceback: %+v", cell.Source, ce)
	}
	return res, ce
}

// mustRun executes src and fails the test on a cell error.
func (te *testExec) mustRun(t testing.TB, src string) []any {
	t.Helper()
	res, ce := te.run(t, src)
	if ce != nil {
		t.Fatalf("Execute(%q): %s: %s\n%s", src, ce.Name, ce.Value, strings.Join(ce.Traceback, "\n"))
	}
	return res.Values
}

// labPackage is a small compiled package for the prelude and dot-import
// tests, standing in for the datalake's cell API.
type labIO struct{ reads []string }

// Read records the dataset and returns a description of it.
func (l *labIO) Read(path, format string) string {
	l.reads = append(l.reads, path)
	return format + ":" + path
}

// labSQL runs nothing: it echoes its query.
func labSQL(q string) string { return "sql:" + q }

// labExports is the extract-style table of the lab package.
func labExports(io *labIO) interp.Exports {
	return interp.Exports{
		"example.com/lab/lab": {
			"IO":    reflect.ValueOf(&io).Elem(),
			"SQL":   reflect.ValueOf(labSQL),
			"LabIO": reflect.ValueOf((*labIO)(nil)),
		},
	}
}
