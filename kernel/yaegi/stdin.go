package yaegi

import (
	"bufio"
	"context"
	"io"
	"os"
	"reflect"
	"sync"

	"github.com/flowlab/flowlab/kernel"
)

// cellStdin is the standard input cells read through fmt.Scan*, and through
// bufio readers and scanners built on os.Stdin. Each read that finds no
// buffered text asks the front end for one line with the running cell's
// Input function; without one, reads fail with kernel.ErrStdinNotAllowed.
// Text left over when the cell ends is dropped.
type cellStdin struct {
	mu    sync.Mutex
	ctx   context.Context
	input func(ctx context.Context, prompt string, password bool) (string, error)
	buf   []byte
}

var _ io.Reader = (*cellStdin)(nil)

// begin attaches the stdin of a cell; end detaches it.
func (s *cellStdin) begin(ctx context.Context, input func(context.Context, string, bool) (string, error)) {
	s.mu.Lock()
	s.ctx, s.input, s.buf = ctx, input, nil
	s.mu.Unlock()
}

func (s *cellStdin) end() { s.begin(nil, nil) }

// Read implements io.Reader. It holds no lock while waiting for the front
// end, so an interrupt can still detach the cell.
func (s *cellStdin) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	if len(s.buf) > 0 {
		n := copy(p, s.buf)
		s.buf = s.buf[n:]
		s.mu.Unlock()
		return n, nil
	}
	ctx, input := s.ctx, s.input
	s.mu.Unlock()
	if input == nil {
		return 0, kernel.ErrStdinNotAllowed
	}
	line, err := input(ctx, "", false)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.buf = append(s.buf, line...)
	s.buf = append(s.buf, '\n')
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	s.mu.Unlock()
	return n, nil
}

// reader returns the cell's stdin in place of the process's os.Stdin.
func (s *cellStdin) reader(r io.Reader) io.Reader {
	if f, ok := r.(*os.File); ok && f == os.Stdin {
		return s
	}
	return r
}

// stdinSymbols overrides the bufio constructors so that readers and scanners
// of os.Stdin read the cell's stdin (fmt.Scan* already do, through the
// interpreter's Stdin option).
func (s *cellStdin) symbols() map[string]map[string]reflect.Value {
	return map[string]map[string]reflect.Value{
		"bufio/bufio": {
			"NewReader":     reflect.ValueOf(func(r io.Reader) *bufio.Reader { return bufio.NewReader(s.reader(r)) }),
			"NewReaderSize": reflect.ValueOf(func(r io.Reader, size int) *bufio.Reader { return bufio.NewReaderSize(s.reader(r), size) }),
			"NewScanner":    reflect.ValueOf(func(r io.Reader) *bufio.Scanner { return bufio.NewScanner(s.reader(r)) }),
		},
	}
}
