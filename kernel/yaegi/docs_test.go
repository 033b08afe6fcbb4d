package yaegi

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/kernel"
	"github.com/flowlab/flowlab/kernel/display"
)

// docCell is one ```go cell block of a document, with what its trailing
// comments expect.
type docCell struct {
	line int    // of the opening fence
	src  string // the block without its expectation comments
	// out is the text/plain of the result (`\n` in the comment is a line
	// break); "-" means no result is shown.
	out       string
	hasOut    bool
	err       string // substring of "Name: Value" of the cell's error
	traceback string // substring of the error's traceback, lines joined by " / "
	prints    string // substring of what the cell printed
	input     string // the answer to the cell's stdin reads
	interrupt bool   // the test interrupts the cell, which must say so
}

// Expectation comments end a block; the test strips them before running it.
const (
	outPrefix    = "// Out: "
	noResult     = "// No result"
	errPrefix    = "// Error: "
	tracePrefix  = "// Traceback: "
	printsPrefix = "// Prints: "
	inputPrefix  = "// Input: "
	interruptTag = "// Interrupted"
)

// docCells extracts the ```go blocks of a Markdown document. Every Go block
// must be a cell (```go cell), so that no example escapes the test.
func docCells(t *testing.T, path string) []docCell {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cells []docCell
	var cur *docCell
	var lines []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		trimmed := strings.TrimSpace(l)
		if cur == nil {
			if !strings.HasPrefix(trimmed, "```go") {
				continue
			}
			if strings.TrimSpace(strings.TrimPrefix(trimmed, "```go")) != "cell" {
				t.Fatalf("%s:%d: a Go block must be ```go cell so that the test runs it", path, n)
			}
			cur, lines = &docCell{line: n}, nil
			continue
		}
		if trimmed != "```" {
			lines = append(lines, l)
			continue
		}
		for len(lines) > 0 {
			last := strings.TrimSpace(lines[len(lines)-1])
			switch {
			case strings.HasPrefix(last, outPrefix):
				cur.out, cur.hasOut = strings.ReplaceAll(strings.TrimPrefix(last, outPrefix), `\n`, "\n"), true
			case last == noResult:
				cur.out, cur.hasOut = "-", true
			case strings.HasPrefix(last, errPrefix):
				cur.err = strings.TrimPrefix(last, errPrefix)
			case strings.HasPrefix(last, tracePrefix):
				cur.traceback = strings.TrimPrefix(last, tracePrefix)
			case strings.HasPrefix(last, printsPrefix):
				cur.prints = strings.TrimPrefix(last, printsPrefix)
			case strings.HasPrefix(last, inputPrefix):
				cur.input = strings.TrimPrefix(last, inputPrefix)
			case last == interruptTag:
				cur.interrupt = true
			default:
				goto done
			}
			lines = lines[:len(lines)-1]
		}
	done:
		cur.src = strings.Join(lines, "\n")
		cells = append(cells, *cur)
		cur = nil
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated code block", path, cur.line)
	}
	return cells
}

// TestDocs runs the cells of the kernel's user documents in order, in one
// sandboxed executor per document with the kernel's prelude, as a notebook
// would, and checks what each block says it gives.
func TestDocs(t *testing.T) {
	for _, doc := range []string{"cells.md", "sandbox.md"} {
		t.Run(doc, func(t *testing.T) {
			path := filepath.Join("..", "..", "docs", doc)
			cells := docCells(t, path)
			if len(cells) == 0 {
				t.Fatalf("%s has no ```go cell blocks", path)
			}
			te := newTestExec(t, Options{
				ReadWrite: []string{t.TempDir()},
				Prelude: []string{
					`import "github.com/flowlab/flowlab/kernel/display"`,
					`import . "github.com/flowlab/flowlab/datalake"`,
				},
			})
			for _, c := range cells {
				runDocCell(t, te, path, c)
			}
		})
	}
}

func runDocCell(t *testing.T, te *testExec, path string, c docCell) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if c.interrupt {
		timer := time.AfterFunc(100*time.Millisecond, cancel)
		defer timer.Stop()
	}
	cell := kernel.Cell{Source: c.src}
	if c.input != "" {
		answers := strings.Split(c.input, " | ")
		cell.Input = func(ctx context.Context, prompt string, password bool) (string, error) {
			if len(answers) == 0 {
				return "", kernel.ErrStdinNotAllowed
			}
			a := answers[0]
			answers = answers[1:]
			return a, nil
		}
	}
	before := len(te.stdout.String())
	res, ce := te.runCell(t, ctx, cell)
	printed := te.stdout.String()[before:]
	at := path + ":" + strconv.Itoa(c.line)
	switch {
	case c.interrupt:
		if ce == nil || ce.Name != "Interrupted" {
			t.Fatalf("%s: got %v, want the cell interrupted", at, ce)
		}
		return
	case c.err != "":
		if ce == nil {
			t.Fatalf("%s: got values %v, want an error containing %q", at, res.Values, c.err)
		}
		if got := ce.Name + ": " + ce.Value; !strings.Contains(got, c.err) {
			t.Fatalf("%s: error %q does not contain %q", at, got, c.err)
		}
		var tb []string
		for _, l := range ce.Traceback {
			tb = append(tb, strings.TrimSpace(l))
		}
		if got := strings.Join(tb, " / "); !strings.Contains(got, c.traceback) {
			t.Fatalf("%s: traceback %q does not contain %q", at, got, c.traceback)
		}
		return
	case ce != nil:
		t.Fatalf("%s: %s: %s\n%s", at, ce.Name, ce.Value, strings.Join(ce.Traceback, "\n"))
	}
	if !strings.Contains(printed, c.prints) {
		t.Fatalf("%s: printed %q, want it to contain %q", at, printed, c.prints)
	}
	if !c.hasOut {
		return
	}
	got := "-"
	// As the session does: a lone nil is not shown, several values are a
	// tuple.
	if vs := res.Values; len(vs) > 1 || len(vs) == 1 && vs[0] != nil {
		b := display.RenderTuple(vs)
		if len(vs) == 1 {
			b = display.Render(vs[0])
		}
		got, _ = b[display.MIMEText].(string)
	}
	if got != c.out {
		t.Fatalf("%s: result %q, want %q", at, got, c.out)
	}
}
