package yaegi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/kernel"
	"github.com/flowlab/flowlab/kernel/display"
)

// step is one cell of a scenario and what it must give.
type step struct {
	src string
	// want is the result's values; nil means none.
	want []any
	// errName, when set, is the CellError's Name; errValue and errTrace are
	// substrings of its Value and of its joined Traceback.
	errName, errValue, errTrace string
	// stdout and stderr are substrings of what the cell printed.
	stdout, stderr string
}

func runSteps(t *testing.T, te *testExec, steps []step) {
	t.Helper()
	for i, s := range steps {
		before, beforeErr := len(te.stdout.String()), len(te.stderr.String())
		res, ce := te.run(t, s.src)
		if s.errName != "" {
			if ce == nil {
				t.Fatalf("cell %d %q: got values %v, want error %s", i, s.src, res.Values, s.errName)
			}
			tb := strings.Join(ce.Traceback, "\n")
			if ce.Name != s.errName || !strings.Contains(ce.Value, s.errValue) || !strings.Contains(tb, s.errTrace) {
				t.Fatalf("cell %d %q: got %s: %s\n%s\nwant %s containing %q and traceback containing %q",
					i, s.src, ce.Name, ce.Value, tb, s.errName, s.errValue, s.errTrace)
			}
			continue
		}
		if ce != nil {
			t.Fatalf("cell %d %q: %s: %s\n%s", i, s.src, ce.Name, ce.Value, strings.Join(ce.Traceback, "\n"))
		}
		if !reflect.DeepEqual(res.Values, s.want) {
			t.Fatalf("cell %d %q: values %#v, want %#v", i, s.src, res.Values, s.want)
		}
		if out := te.stdout.String()[before:]; !strings.Contains(out, s.stdout) {
			t.Fatalf("cell %d %q: stdout %q does not contain %q", i, s.src, out, s.stdout)
		}
		if out := te.stderr.String()[beforeErr:]; !strings.Contains(out, s.stderr) {
			t.Fatalf("cell %d %q: stderr %q does not contain %q", i, s.src, out, s.stderr)
		}
	}
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"trivial expression", []step{{src: "1+1", want: []any{2}}}},
		{"state across cells", []step{
			{src: "x := 3"},
			{src: "y := x * 2"},
			{src: "x + y", want: []any{9}},
		}},
		{"every mix and order in one cell", []step{{src: `x := double(21)
import "strings"
type pair struct{ a, b int }
func double(n int) int { return n * 2 }
const greeting = "hi"
var upper = strings.ToUpper(greeting)
func (p pair) sum() int { return p.a + p.b }
p := pair{x, 1}
p.sum()`, want: []any{43}},
			{src: "upper", want: []any{"HI"}},
		}},
		{"declaration using an earlier statement", []step{{src: "base := 10\nfunc plus(n int) int { return base + n }\nplus(5)", want: []any{15}}}},
		{"statements only give no value", []step{{src: "x := 1\nx++"}}},
		{"tuple", []step{{src: "func two() (int, error) { return 3, nil }\ntwo()", want: []any{3, nil}}}},
		{"no-value call", []step{{src: "func nothing() {}\nnothing()"}}},
		{"trailing semicolon suppresses", []step{{src: "1+1;"}, {src: "z := 5\nz;"}}},
		{"semicolon inside the last line is not suppression", []step{{src: "a := 1; a + 1", want: []any{2}}}},
		{"print calls are not shown", []step{
			{src: "import \"fmt\"\nfmt.Println(\"hello\")", stdout: "hello\n"},
			{src: "fmt.Printf(\"%d\\n\", 7)", stdout: "7\n"},
			{src: "import \"log\"\nlog.SetFlags(0)\nlog.Print(\"logged\")", stderr: "logged\n"},
			{src: "fmt.Sprint(8)", want: []any{"8"}},
		}},
		{"println reaches stdout", []step{{src: "println(\"a\", 1)", stdout: "a 1\n"}}},
		{"function redefinition", []step{
			{src: "func f() int { return 1 }"},
			{src: "func f() int { return 2 }\nf()", want: []any{2}},
		}},
		{"variable redefinition with another type", []step{
			{src: "var v = 10"},
			{src: "v := \"ten\"\nv", want: []any{"ten"}},
		}},
		{"type redefinition", []step{
			{src: "type T struct{ A int }\nT{1}.A", want: []any{1}},
			{src: "type T struct{ A, B int }\nt := T{1, 2}\nt.A + t.B", want: []any{3}},
			{src: "T{B: 5}.B", want: []any{5}},
		}},
		{"method redefinition", []step{
			{src: "type P struct{ X int }\nfunc (p P) Get() int { return p.X }\nfunc (p P) Twice() int { return 2 * p.X }\nP{4}.Get()", want: []any{4}},
			{src: "func (p P) Get() int { return p.X * 100 }\nP{4}.Get()", want: []any{400}},
			{src: "P{4}.Twice()", want: []any{8}},
		}},
		{"methods carried to a redefined type", []step{
			{src: "type Q struct{ X int }"},
			{src: "func (q Q) Get() int { return q.X }"},
			{src: "type Q struct{ X, Y int }\nQ{7, 8}.Get()", want: []any{7}},
		}},
		{"methods that no longer compile are dropped", []step{
			{src: "type R struct{ X int }"},
			{src: "func (r R) Get() int { return r.X }"},
			{src: "type R struct{ Y int }\nR{3}.Y", want: []any{3}},
			{src: "func (r R) Get() int { return r.Y }\nR{3}.Get()", want: []any{3}},
		}},
		{"redefined type in error messages", []step{
			{src: "type U struct{ A int }"},
			{src: "type U struct{ B int }"},
			{src: "var u U = 3", errName: "CompileError", errValue: "U"},
		}},
		{"import rebinding", []step{
			{src: "import \"math/rand\"\nrand.New(rand.NewSource(1)).Intn(10) >= 0", want: []any{true}},
			{src: "import \"crypto/rand\"\nb := make([]byte, 4)\n_, err := rand.Read(b)\nerr == nil", want: []any{true}},
			{src: "import \"math/rand\"\nrand.New(rand.NewSource(1)).Intn(10) >= 0", want: []any{true}},
		}},
		{"re-import is harmless", []step{
			{src: "import \"strings\"\nstrings.Repeat(\"a\", 2)", want: []any{"aa"}},
			{src: "import \"strings\"\nstrings.Repeat(\"b\", 2)", want: []any{"bb"}},
		}},
		{"range over an integer literal", []step{{src: "s := 0\nfor i := range 5 { s += i }\ns", want: []any{10}}}},
		{"range over an integer variable of another cell", []step{
			{src: "var n8 uint8 = 4"},
			{src: "var t8 uint8\nfor i := range n8 { t8 += i }\nt8", want: []any{uint8(6)}},
		}},
		{"range over len, constants and int results", []step{{src: `const k = 2
func three() int { return 3 }
xs := []string{"a", "b"}
c := 0
for range len(xs) { c++ }
for range k * 2 { c++ }
for range three() { c++ }
c`, want: []any{9}}}},
		{"range over a parameter", []step{{src: "func sum(n int64) (s int64) { for i := range n { s += i }; return }\nsum(4)", want: []any{int64(6)}}}},
		{"range loop with label and continue", []step{{src: "c := 0\nouter: for i := range 3 { for j := range 3 { if j > i { continue outer }; c++ } }\nc", want: []any{6}}}},
		{"range loop variables are per iteration", []step{{src: `fs := []func() int{}
for _, v := range []int{7, 8, 9} { fs = append(fs, func() int { return v }) }
[]int{fs[0](), fs[1](), fs[2]()}`, want: []any{[]int{7, 8, 9}}}}},
		{"three-clause loop variables are per iteration", []step{{src: `fs := []func() int{}
for i := 0; i < 3; i++ { fs = append(fs, func() int { return i }) }
[]int{fs[0](), fs[1](), fs[2]()}`, want: []any{[]int{0, 1, 2}}}}},
		{"loop variable assigned in the body still drives the loop", []step{{src: `seen := []int{}
fs := []func(){}
for i := 0; i < 10; i++ { if i == 1 { i = 8 }; seen = append(seen, i); fs = append(fs, func() {}) }
seen`, want: []any{[]int{0, 8, 9}}}}},
		{"nested block does not clobber a global", []step{{src: "x := 5\n{ x := 7; _ = x }\nif x := 9; x > 0 {}\nx", want: []any{5}}}},
		{"go statement evaluates its arguments at once", []step{{src: `a := 1
ch := make(chan int, 1)
go func(v int) { ch <- v }(a)
a = 2
<-ch`, want: []any{1}}}},
		{"go statement with a method value", []step{{src: `type counter struct{ ch chan string }
func (c counter) send(s string) { c.ch <- s }
c := counter{make(chan string, 1)}
go c.send("sent")
<-c.ch`, want: []any{"sent"}}}},
		{"top-level defer runs at the end of the cell", []step{
			{src: "defer println(\"deferred\")\nprintln(\"body\")", stdout: "body\ndeferred\n"},
			{src: "println(\"next\")", stdout: "next\n"},
		}},
		{"top-level return ends the cell", []step{{src: "r := 1\nif r > 0 { return }\nr = 2"}, {src: "r", want: []any{1}}}},
		{"generic function", []step{{src: "func first[T any](xs []T) T { return xs[0] }\nfirst([]string{\"g\"})", want: []any{"g"}}}},
		{"slices supplement", []step{{src: "import \"slices\"\nxs := []int{3, 1, 2}\nslices.Sort(xs)\nxs", want: []any{[]int{1, 2, 3}}},
			{src: "slices.Max(xs) + slices.Index(xs, 2)", want: []any{4}}}},
		{"interpreted Stringer is shown by its String", []step{{src: "type S struct{ n int }\nfunc (s S) String() string { return \"S!\" }\nS{1}"}}},
		{"interpreted error value", []step{{src: "type E struct{ code int }\nfunc (e E) Error() string { return \"my error\" }\nfunc msg(err error) string { return err.Error() }\nmsg(E{1})", want: []any{"my error"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestExec(t, Options{})
			if tt.name == "interpreted Stringer is shown by its String" {
				res, ce := te.run(t, tt.steps[0].src)
				if ce != nil || len(res.Values) != 1 || display.Plain(res.Values[0]) != "S!" {
					t.Fatalf("got %v %v, want a value whose text is S!", res.Values, ce)
				}
				return
			}
			runSteps(t, te, tt.steps)
		})
	}
}

func TestExecuteMIMEBundlerValue(t *testing.T) {
	te := newTestExec(t, Options{})
	res, ce := te.run(t, `import "github.com/flowlab/flowlab/kernel/display"
type chart struct{ svg string }
func (c chart) MIMEBundle() map[string]any { return map[string]any{display.MIMESVG: c.svg} }
chart{"<svg/>"}`)
	if ce != nil {
		t.Fatalf("%s: %s", ce.Name, ce.Value)
	}
	if len(res.Values) != 1 {
		t.Fatalf("values %v", res.Values)
	}
	b := display.Render(res.Values[0])
	if b[display.MIMESVG] != "<svg/>" || b[display.MIMEText] == "" {
		t.Fatalf("rendered %v, want the cell type's own bundle with text/plain", b)
	}
}

func TestExecuteErrors(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"syntax error positioned in the cell", []step{{src: "x := 1\ny := (2 +\nz := 3", errName: "CompileError", errValue: "3:3:"}}},
		{"syntax error at the end of the cell", []step{{src: "x := 1 +", errName: "CompileError", errValue: "found the end of the cell"}}},
		{"compile error on line 1 keeps its column", []step{{src: "a := undefinedThing", errName: "CompileError", errValue: "1:6: undefined: undefinedThing"}}},
		{"compile error in a later line", []step{{src: "ok := 1\n_ = ok\n  notDeclared()", errName: "CompileError", errValue: "3:3: undefined: notDeclared"}}},
		{"compile error in a declaration", []step{{src: "x := 1\nfunc bad() int { return \"s\" }", errName: "CompileError", errValue: "2:"}}},
		{"unknown package", []step{{src: "import \"no/such/pkg\"", errName: "CompileError", errValue: `1:8: package "no/such/pkg" is not available`}}},
		{"plain panic", []step{{src: "x := 1\npanic(\"boom\")", errName: "panic", errValue: "boom", errTrace: "at cell (line 2:1)"}}},
		{"error panic", []step{{src: "import \"errors\"\npanic(errors.New(\"bad\"))", errName: "*errors.errorString", errValue: "bad"}}},
		{"interpreted error panic", []step{{src: "type E struct{}\nfunc (E) Error() string { return \"mine\" }\npanic(E{})", errName: "main.E", errValue: "mine"}}},
		{"nil map write", []step{{src: "var m map[string]int\nm[\"a\"] = 1", errName: "runtime.Error", errValue: "assignment to entry in nil map"}}},
		{"nil pointer dereference in a function", []step{
			{src: "type T struct{ A int }\nfunc get(p *T) int {\n\treturn p.A\n}"},
			{src: "var p *T\nv := get(p)", errName: "runtime.Error", errValue: "nil pointer dereference", errTrace: "at get (line 3:"},
		}},
		{"traceback names the cell and the callee", []step{{src: "func f(p *int) int { return *p }\nf(nil)", errName: "runtime.Error", errValue: "nil pointer dereference", errTrace: "at cell (line 2:1)\n  at f (line 1:29)"}}},
		{"index out of range", []step{{src: "a := []int{1}\na[5]", errName: "runtime.Error", errValue: "index out of range"}}},
		{"divide by zero", []step{{src: "z := 0\n10 / z", errName: "runtime.Error", errValue: "integer divide by zero"}}},
		{"failed type assertion", []step{{src: "var i any = \"s\"\ni.(int)", errName: "runtime.Error", errValue: "interface conversion"}}},
		// yaegi positions a panic in a loop body at the loop statement.
		{"panic inside a loop body", []step{{src: "x := 0\nfor i := range 3 {\n\tif i == 2 { panic(i) }\n}", errName: "panic", errValue: "2", errTrace: "at cell (line 2:"}}},
		{"panic inside an if body", []step{{src: "if true {\n\tpanic(1)\n}", errName: "panic", errValue: "1", errTrace: "at cell (line 2:2)"}}},
		{"compiler panic is a compile error", []step{
			{src: "func g() []int { return nil }\nfor i := range len(g()) + len(g()) - len(g()) { _ = i }"},
			{src: "type big struct{}\nfunc (big) n() int { return 2 }\nfor i := range (big{}).n() { _ = i }", errName: "CompileError", errValue: "the interpreter failed"},
			{src: "1+1", want: []any{2}},
		}},
		{"state survives errors", []step{
			{src: "kept := 42"},
			{src: "panic(\"x\")", errName: "panic"},
			{src: "kept +", errName: "CompileError"},
			{src: "kept", want: []any{42}},
		}},
		{"os.Exit is a cell error", []step{
			{src: "import \"os\"\nos.Exit(3)", errName: "SandboxError", errValue: "os.Exit is not allowed in a cell"},
			{src: "2", want: []any{2}},
		}},
		{"log.Fatal panics", []step{{src: "import \"log\"\nlog.Fatal(\"fatal\")", errName: "panic", errValue: "fatal"}}},
		{"earlier cell positions are named", []step{
			{src: "func deep() { panic(\"deep\") }"},
			{src: "deep()", errName: "panic", errTrace: "of cell #"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, newTestExec(t, Options{}), tt.steps)
		})
	}
}

func TestGoroutinePanicIsReported(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"func literal", "import \"time\"\ngo func() {\n\tvar m map[int]int\n\tm[1] = 1\n}()\ntime.Sleep(20 * time.Millisecond)", "assignment to entry in nil map"},
		{"named function", "func boom(s string) { panic(s) }\ngo boom(\"from goroutine\")", "from goroutine"},
		{"inside a function", "func starter() { go func() { var p *struct{ A int }; _ = p.A }() }\nstarter()", "nil pointer dereference"},
		{"time.AfterFunc", "import \"time\"\ntime.AfterFunc(time.Millisecond, func() { panic(\"timer\") })", "timer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestExec(t, Options{})
			te.mustRun(t, tt.src)
			deadline := time.Now().Add(2 * time.Second)
			for !strings.Contains(te.stderr.String(), tt.want) {
				if time.Now().After(deadline) {
					t.Fatalf("stderr %q does not report %q", te.stderr.String(), tt.want)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !strings.Contains(te.stderr.String(), "panic in a goroutine") {
				t.Fatalf("stderr %q lacks the report header", te.stderr.String())
			}
			if got := te.mustRun(t, "40 + 2"); !reflect.DeepEqual(got, []any{42}) {
				t.Fatalf("after the goroutine panic: %v", got)
			}
		})
	}
}

func TestInterrupt(t *testing.T) {
	tests := []struct{ name, src string }{
		{"busy loop", "for {}"},
		{"busy loop in a function", "func spin() { for {} }\nspin()"},
		{"blocked receive", "<-make(chan int)"},
		{"empty select", "select {}"},
		{"sleep", "import \"time\"\ntime.Sleep(time.Hour)"},
		{"waiting for input", "import \"fmt\"\nvar s string\nfmt.Scanln(&s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestExec(t, Options{})
			te.mustRun(t, "kept := 41")
			ctx, cancel := context.WithCancel(context.Background())
			timer := time.AfterFunc(100*time.Millisecond, cancel)
			defer timer.Stop()
			input := func(ctx context.Context, prompt string, password bool) (string, error) {
				<-ctx.Done()
				return "", ctx.Err()
			}
			start := time.Now()
			_, ce := te.runCell(t, ctx, kernel.Cell{Source: tt.src, Input: input})
			if elapsed := time.Since(start); elapsed > time.Second+100*time.Millisecond {
				t.Fatalf("interrupt took %v", elapsed)
			}
			if ce == nil || ce.Name != "Interrupted" {
				t.Fatalf("got %v, want Interrupted", ce)
			}
			if got := te.mustRun(t, "kept + 1"); !reflect.DeepEqual(got, []any{42}) {
				t.Fatalf("after the interrupt: %v", got)
			}
		})
	}
}

func TestInterruptBeforeStart(t *testing.T) {
	te := newTestExec(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, ce := te.runCell(t, ctx, kernel.Cell{Source: "1"})
	if ce == nil || ce.Name != "Interrupted" {
		t.Fatalf("got %v, want Interrupted", ce)
	}
}

func TestStdin(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		lines []string
		want  []any
	}{
		{"fmt.Scanln", "import \"fmt\"\nvar name string\nfmt.Scanln(&name)\nname", []string{"Ada"}, []any{"Ada"}},
		{"fmt.Scan", "import \"fmt\"\nvar a, b int\nfmt.Scan(&a, &b)\na + b", []string{"2 40"}, []any{42}},
		{"fmt.Scanf", "import \"fmt\"\nvar n int\nfmt.Scanf(\"%d\", &n)\nn", []string{"7"}, []any{7}},
		{"bufio reader of os.Stdin", "import \"bufio\"\nimport \"os\"\nr := bufio.NewReader(os.Stdin)\nline, _ := r.ReadString('\\n')\nline", []string{"first"}, []any{"first\n"}},
		{"bufio scanner of os.Stdin", "import \"bufio\"\nimport \"os\"\nsc := bufio.NewScanner(os.Stdin)\nsc.Scan()\na := sc.Text()\nsc.Scan()\na + \"+\" + sc.Text()", []string{"one", "two"}, []any{"one+two"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestExec(t, Options{})
			lines := tt.lines
			input := func(ctx context.Context, prompt string, password bool) (string, error) {
				if len(lines) == 0 {
					return "", errors.New("no more input")
				}
				l := lines[0]
				lines = lines[1:]
				return l, nil
			}
			res, ce := te.runCell(t, context.Background(), kernel.Cell{Source: tt.src, Input: input})
			if ce != nil {
				t.Fatalf("%s: %s", ce.Name, ce.Value)
			}
			if !reflect.DeepEqual(res.Values, tt.want) {
				t.Fatalf("values %#v, want %#v", res.Values, tt.want)
			}
		})
	}
}

func TestStdinNotAllowed(t *testing.T) {
	tests := []struct{ name, src string }{
		{"fmt.Scanln", "import \"fmt\"\nvar s string\n_, err := fmt.Scanln(&s)\nerr"},
		{"fmt.Scan", "import \"fmt\"\nvar n int\n_, err := fmt.Scan(&n)\nerr"},
		{"fmt.Scanf", "import \"fmt\"\nvar n int\n_, err := fmt.Scanf(\"%d\", &n)\nerr"},
		{"bufio reader", "import \"bufio\"\nimport \"os\"\n_, err := bufio.NewReader(os.Stdin).ReadString('\\n')\nerr"},
		{"bufio scanner", "import \"bufio\"\nimport \"os\"\nsc := bufio.NewScanner(os.Stdin)\nsc.Scan()\nsc.Err()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestExec(t, Options{})
			res, ce := te.run(t, tt.src)
			if ce != nil {
				t.Fatalf("%s: %s", ce.Name, ce.Value)
			}
			if len(res.Values) != 1 {
				t.Fatalf("values %v", res.Values)
			}
			err, _ := res.Values[0].(error)
			if !errors.Is(err, kernel.ErrStdinNotAllowed) {
				t.Fatalf("got %v, want kernel.ErrStdinNotAllowed", res.Values[0])
			}
		})
	}
}

func TestPreludeAndSymbols(t *testing.T) {
	io := &labIO{}
	te := newTestExec(t, Options{
		Symbols: labExports(io),
		Prelude: []string{`import . "example.com/lab"`},
	})
	if got := te.mustRun(t, `IO.Read("/tetration/flows", "PARQUET")`); !reflect.DeepEqual(got, []any{"PARQUET:/tetration/flows"}) {
		t.Fatalf("IO.Read: %v", got)
	}
	if got := te.mustRun(t, `SQL("SELECT 1")`); !reflect.DeepEqual(got, []any{"sql:SELECT 1"}) {
		t.Fatalf("SQL: %v", got)
	}
	if len(io.reads) != 1 {
		t.Fatalf("the compiled package saw %v", io.reads)
	}
	te.mustRun(t, "mine := 1")
	if err := te.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if _, ce := te.run(t, "mine"); ce == nil || ce.Name != "CompileError" {
		t.Fatalf("after Reset a cell name survived: %v", ce)
	}
	if got := te.mustRun(t, `SQL("again")`); !reflect.DeepEqual(got, []any{"sql:again"}) {
		t.Fatalf("after Reset the prelude is gone: %v", got)
	}
}

func TestPreludeError(t *testing.T) {
	if _, err := New(Options{Prelude: []string{"this is not go"}}); err == nil {
		t.Fatal("New accepted a prelude that does not compile")
	}
}

func TestReset(t *testing.T) {
	te := newTestExec(t, Options{})
	te.mustRun(t, "type T struct{ A int }\nfunc f() int { return 1 }\nx := 2\nimport \"strings\"")
	te.mustRun(t, "type T struct{ B int }")
	if err := te.Reset(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x", "f()", "strings.ToUpper(\"a\")", "T{}"} {
		if _, ce := te.run(t, name); ce == nil {
			t.Fatalf("%s still defined after Reset", name)
		}
	}
	if got := te.mustRun(t, "type T struct{ C int }\nT{3}.C"); !reflect.DeepEqual(got, []any{3}) {
		t.Fatalf("after Reset: %v", got)
	}
}

func TestPackages(t *testing.T) {
	tests := []struct {
		name         string
		opts         Options
		present      []string
		absent       []string
		wantSynopsis map[string]string
	}{
		{"sandboxed", Options{},
			[]string{"fmt", "strings", "net/http", "github.com/flowlab/flowlab/kernel/display", "slices"},
			[]string{"os/exec", "syscall", "unsafe", "os/signal", rtPath, "github.com/traefik/yaegi/stdlib"},
			map[string]string{"fmt": "Package fmt implements formatted I/O", "github.com/flowlab/flowlab/kernel/display": "Package display renders values"}},
		{"unrestricted", Options{Unrestricted: true},
			[]string{"os/exec", "syscall", "unsafe"}, []string{rtPath}, nil},
		{"with extra symbols", Options{Symbols: labExports(&labIO{})},
			[]string{"example.com/lab"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestExec(t, tt.opts)
			pkgs := te.Packages()
			byPath := map[string]string{}
			for i, p := range pkgs {
				if i > 0 && pkgs[i-1].Path >= p.Path {
					t.Fatalf("not sorted: %s before %s", pkgs[i-1].Path, p.Path)
				}
				byPath[p.Path] = p.Synopsis
			}
			for _, p := range tt.present {
				if _, ok := byPath[p]; !ok {
					t.Errorf("%s missing", p)
				}
			}
			for _, p := range tt.absent {
				if _, ok := byPath[p]; ok {
					t.Errorf("%s listed", p)
				}
			}
			for p, prefix := range tt.wantSynopsis {
				if !strings.HasPrefix(byPath[p], prefix) {
					t.Errorf("synopsis of %s = %q, want prefix %q", p, byPath[p], prefix)
				}
			}
		})
	}
}

// TestExecuteManyCells checks that a long session keeps working and that
// cell numbers in positions stay right.
func TestExecuteManyCells(t *testing.T) {
	te := newTestExec(t, Options{})
	for i := 0; i < 200; i++ {
		got := te.mustRun(t, fmt.Sprintf("v%d := %d\nv%d * 2", i, i, i))
		if !reflect.DeepEqual(got, []any{2 * i}) {
			t.Fatalf("cell %d: %v", i, got)
		}
	}
}

func TestSetenvReachesSandboxedCells(t *testing.T) {
	for _, loadOSFirst := range []bool{false, true} {
		te := newTestExec(t, Options{Env: []string{"KEEP=1", "FLOWLAB_SETENV=old"}})
		if loadOSFirst {
			te.mustRun(t, `import "os"`)
		}
		if err := te.Setenv("FLOWLAB_SETENV", "new"); err != nil {
			t.Fatalf("Setenv: %v", err)
		}
		got := te.mustRun(t, "import \"os\"\nos.Getenv(\"FLOWLAB_SETENV\") + \",\" + os.Getenv(\"KEEP\")")
		if len(got) != 1 || got[0] != "new,1" {
			t.Errorf("loadOSFirst=%v: cell sees %v, want new,1", loadOSFirst, got)
		}
		te.mustRun(t, `os.Setenv("FROM_CELL", "c")`)
		env := strings.Join(te.Environ(), "\n")
		if !strings.Contains(env, "FROM_CELL=c") || !strings.Contains(env, "FLOWLAB_SETENV=new") {
			t.Errorf("Environ() = %q, want the cell's and Setenv's variables", env)
		}
		if os.Getenv("FLOWLAB_SETENV") != "" {
			t.Errorf("Setenv of a sandboxed executor changed the process environment")
		}
		// Reset keeps what Setenv set: it is the kernel's configuration.
		if err := te.Reset(); err != nil {
			t.Fatal(err)
		}
		got = te.mustRun(t, "import \"os\"\nos.Getenv(\"FLOWLAB_SETENV\")")
		if len(got) != 1 || got[0] != "new" {
			t.Errorf("after Reset cell sees %v, want new", got)
		}
	}
}

// TestDefinitionsFromCompiledCalls covers cells whose definitions index a
// slice or map a compiled function returned: yaegi's global type analysis
// cannot type them by itself.
func TestDefinitionsFromCompiledCalls(t *testing.T) {
	te := newTestExec(t, Options{})
	tests := []struct {
		src  string
		want any
	}{
		{"import \"strings\"\nparts := strings.Fields(\"a b c\")\nlast := parts[len(parts)-1]\nlast", "c"},
		{"first := parts[0] + \"!\"\nfirst", "a!"},
		{"import \"time\"\nds := []time.Duration{time.Second}\nd0 := ds[0]\nd0.String()", "1s"},
		{"import \"net/url\"\nq, _ := url.ParseQuery(\"a=1&a=2\")\nas := q[\"a\"]\nlen(as)", 2},
		{"import \"strconv\"\nbs := strconv.AppendInt(nil, 42, 10)\nb0 := bs[0]\nb0", uint8('4')},
	}
	for _, tt := range tests {
		if got := te.mustRun(t, tt.src); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%q = %v, want %v", tt.src, got, tt.want)
		}
	}
	// A compile error in a later statement still points at its line, and
	// the statements before it ran, as they would one cell at a time.
	_, ce := te.run(t, "xs := strings.Fields(\"p q\")\nx0 := xs[0]\nundefinedName + 1")
	if ce == nil || !strings.Contains(strings.Join(ce.Traceback, "\n")+ce.Value, "3:") {
		t.Fatalf("error = %+v, want a compile error at line 3", ce)
	}
	if got := te.mustRun(t, "x0"); len(got) != 1 || got[0] != "p" {
		t.Errorf("x0 = %v after the failed cell, want p", got)
	}
}
