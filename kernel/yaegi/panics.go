package yaegi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/flowlab/flowlab/kernel"
)

// frameLine matches what yaegi prints to its stderr for each interpreted
// frame a panic unwinds: "12/cell:3:5: panic: main.f(...)".
var frameLine = regexp.MustCompile(`^(\S+): panic: ([\w.]*)\(\.\.\.\)\n?$`)

// panicLog is the interpreter's stderr. It forwards everything to the
// process's standard error except the frame lines of unwinding panics, which
// it keeps per goroutine until the executor claims them for a traceback.
type panicLog struct {
	out func() io.Writer

	mu     sync.Mutex
	frames map[uint64][]string // goroutine id → frame lines, innermost first
}

const (
	maxFrameGoroutines = 256
	maxFrames          = 64
)

func newPanicLog(out func() io.Writer) *panicLog {
	return &panicLog{out: out, frames: map[uint64][]string{}}
}

// Write implements io.Writer.
func (p *panicLog) Write(b []byte) (int, error) {
	if bytes.HasSuffix(b, []byte("(...)\n")) && frameLine.Match(b) {
		gid := goroutineID()
		p.mu.Lock()
		if len(p.frames) >= maxFrameGoroutines {
			// Panics recovered by user code leave their frames behind.
			clear(p.frames)
		}
		if fs := p.frames[gid]; len(fs) < maxFrames {
			p.frames[gid] = append(fs, strings.TrimSuffix(string(b), "\n"))
		}
		p.mu.Unlock()
		return len(b), nil
	}
	return p.out().Write(b)
}

// claim returns and forgets the frame lines recorded for goroutine gid.
func (p *panicLog) claim(gid uint64) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs := p.frames[gid]
	delete(p.frames, gid)
	return fs
}

// goroutineID returns the current goroutine's id, read from its stack header.
func goroutineID() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	return stackGoroutineID(buf[:n])
}

// stackGoroutineID parses the "goroutine N [" header of a stack dump.
func stackGoroutineID(stack []byte) uint64 {
	rest, ok := bytes.CutPrefix(stack, []byte("goroutine "))
	if !ok {
		return 0
	}
	end := bytes.IndexByte(rest, ' ')
	if end < 0 {
		return 0
	}
	id, _ := strconv.ParseUint(string(rest[:end]), 10, 64)
	return id
}

// exitSignal is the panic value of os.Exit in a sandboxed cell.
type exitSignal struct{ code int }

// returnSignal is the panic value that ends a cell at a top-level return.
type returnSignal struct{}

// errNilDeref is what a nil pointer dereference looks like in Go; yaegi
// reports it as a reflect error about a zero Value.
const errNilDeref = "runtime error: invalid memory address or nil pointer dereference"

// panicKind returns the Name and Value of the CellError for panic value v,
// as the user would see them in compiled Go.
func panicKind(v any) (name, value string) {
	v = unwrapValue(v)
	var re runtime.Error
	switch x := v.(type) {
	case exitSignal:
		return "SandboxError", fmt.Sprintf("os.Exit is not allowed in a cell (exit code %d); the kernel and its state are kept", x.code)
	case *reflect.ValueError:
		if strings.Contains(x.Error(), "zero Value") {
			return "runtime.Error", errNilDeref
		}
		return "runtime.Error", "runtime error: " + strings.TrimPrefix(x.Error(), "reflect: ")
	case error:
		if errors.As(x, &re) {
			return "runtime.Error", x.Error()
		}
		if fmt.Sprintf("%T", x) == "*interp.cfgError" {
			// A failed type assertion, reported with its position.
			msg := x.Error()
			if i := strings.Index(msg, ": "); i >= 0 && cellPos.MatchString(msg[:i]) {
				msg = msg[i+2:]
			}
			return "runtime.Error", msg
		}
		return fmt.Sprintf("%T", x), x.Error()
	case string:
		// Failures yaegi reaches through reflect panic with reflect's words.
		switch {
		case strings.HasPrefix(x, "reflect: slice index out of range"),
			strings.HasPrefix(x, "reflect: array index out of range"),
			strings.HasPrefix(x, "reflect: string index out of range"):
			return "runtime.Error", "runtime error: index out of range"
		case strings.HasPrefix(x, "reflect.Value.Slice: slice index out of bounds"),
			strings.HasPrefix(x, "reflect.Value.Slice3: slice index out of bounds"):
			return "runtime.Error", "runtime error: slice bounds out of range"
		case strings.HasPrefix(x, "reflect: call of reflect.Value.") && strings.Contains(x, "zero Value"):
			return "runtime.Error", errNilDeref
		}
		return "panic", x
	case nil:
		return "panic", "panic(nil)"
	}
	return "panic", fmt.Sprintf("%v", v)
}

// unwrapValue turns the reflect.Value yaegi may hand over into the value.
func unwrapValue(v any) any {
	for i := 0; i < 4; i++ {
		rv, ok := v.(reflect.Value)
		if !ok {
			return v
		}
		if !rv.IsValid() || !rv.CanInterface() {
			return nil
		}
		v = rv.Interface()
	}
	return v
}

// traceback formats frame lines (innermost first, as yaegi prints them) as
// the CellError traceback: outermost first, the error line last.
func (e *Executor) traceback(frames []string, name, value string, seq int) []string {
	tb := make([]string, 0, len(frames)+1)
	prev := ""
	for i := len(frames) - 1; i >= 0; i-- {
		m := frameLine.FindStringSubmatch(frames[i])
		if m == nil {
			continue
		}
		fn := funcLabel(e.unversion(m[2]), e.inWrapped(m[1]))
		line := "  at " + fn + " (" + e.where(m[1], seq) + ")"
		if fn == "cell" && prev == "cell" {
			// The executor's own wrapping of a top-level statement.
			tb[len(tb)-1] = line
			continue
		}
		tb = append(tb, line)
		prev = fn
	}
	return append(tb, name+": "+value)
}

// funcLabel names a function as the user wrote it: main.f → f, a function
// literal in f → "f (func literal)", the cell's own code → cell. Frames
// inside a top-level statement the executor wrapped in a function literal
// (wrapped true) lose that literal.
func funcLabel(fn string, wrapped bool) string {
	fn = strings.TrimPrefix(strings.TrimPrefix(fn, "main"), ".")
	var segs []string
	if fn != "" {
		segs = strings.Split(fn, ".")
	}
	if wrapped && len(segs) > 0 && segs[0] == "func" {
		segs = segs[1:]
	}
	switch {
	case len(segs) == 0:
		return "cell"
	case segs[0] == "func":
		return "func literal"
	case len(segs) > 1:
		return segs[0] + " (func literal)"
	}
	return segs[0]
}

// where turns "12/cell:3:5" into "line 3:5" for the running cell (seq) and
// "line 3:5 of cell #12" for code an earlier cell declared.
func (e *Executor) where(pos string, seq int) string {
	file, line, col := splitPos(pos)
	n, ok := cellSeq(file)
	switch {
	case !ok:
		return pos
	case n == seq:
		return "line " + line + ":" + col
	default:
		return "line " + line + ":" + col + " of cell #" + strconv.Itoa(n)
	}
}

// splitPos splits "file:line:col".
func splitPos(pos string) (file, line, col string) {
	i := strings.LastIndexByte(pos, ':')
	if i < 0 {
		return pos, "", ""
	}
	j := strings.LastIndexByte(pos[:i], ':')
	if j < 0 {
		return pos, "", ""
	}
	return pos[:j], pos[j+1 : i], pos[i+1:]
}

// cellError builds the CellError of a panic. With interp true (only on the
// session's goroutine, between cells) a value of a type a cell declared is
// named after it and described by its Error or String method.
func (e *Executor) cellError(v any, frames []string, seq int, interp bool) *kernel.CellError {
	name, value := panicKind(v)
	if interp && name == "panic" {
		if n, msg, ok := e.describeInterpreted(unwrapValue(v)); ok {
			name, value = n, msg
		}
	}
	name, value = e.unversion(name), e.unversion(value)
	return &kernel.CellError{Name: name, Value: value, Traceback: e.traceback(frames, name, value, seq)}
}

// span is the extent of a top-level statement the executor wrapped in a
// function literal, in cell line:column coordinates.
type span struct{ l1, c1, l2, c2 int }

// wrappedSpans remembers the wrapped statements of recent cells, so that
// tracebacks can hide the wrapping.
type wrappedSpans struct {
	mu    sync.Mutex
	spans map[int][]span
}

const keptSpanCells = 64

func (w *wrappedSpans) add(seq int, sp span) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.spans == nil {
		w.spans = map[int][]span{}
	}
	w.spans[seq] = append(w.spans[seq], sp)
	delete(w.spans, seq-keptSpanCells)
}

func (w *wrappedSpans) contains(seq, line, col int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, sp := range w.spans[seq] {
		after := line > sp.l1 || line == sp.l1 && col >= sp.c1
		before := line < sp.l2 || line == sp.l2 && col <= sp.c2
		if after && before {
			return true
		}
	}
	return false
}

// inWrapped reports whether a frame position ("12/cell:3:5") lies in a
// wrapped top-level statement.
func (e *Executor) inWrapped(pos string) bool {
	file, l, c := splitPos(pos)
	seq, ok := cellSeq(file)
	if !ok {
		return false
	}
	line, err1 := strconv.Atoi(l)
	col, err2 := strconv.Atoi(c)
	return err1 == nil && err2 == nil && e.wrapped.contains(seq, line, col)
}

// describeInterpreted names a panic value of a type a cell declared
// ("main.E") and takes its message from its Error or String method.
func (e *Executor) describeInterpreted(v any) (name, msg string, ok bool) {
	if v == nil {
		return "", "", false
	}
	t := reflect.TypeOf(v)
	tn := e.typeNameOf(t)
	if tn == "" {
		return "", "", false
	}
	name, msg = "main."+tn, fmt.Sprintf("%+v", v)
	for _, m := range []string{"Error", "String"} {
		if e.st.methods[tn][m] == nil {
			continue
		}
		e.rt.setStash(v)
		// The value left the interpreter without its methods: copy it into
		// a variable of its interpreted type and call the method there.
		r, ok := e.valueOf("func() string { var x " + e.st.internal(tn) + "; " + rtName + ".Unstash(&x); return x." + m + "() }()")
		e.rt.setStash(nil)
		if ok && r.Kind() == reflect.String {
			msg = r.String()
			break
		}
	}
	return name, msg, true
}
