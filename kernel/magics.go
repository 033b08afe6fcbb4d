package kernel

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// magicLine is one `%name args` line at the top of a cell.
type magicLine struct {
	name string
	args string
}

// magicHelp documents the magics; %help prints it.
var magicHelp = []struct{ name, usage, summary string }{
	{"help", "%help", "this help"},
	{"packages", "%packages [filter]", "list the packages a cell can import, with a one-line description"},
	{"time", "%time  (first line of a cell)", "run the rest of the cell and print its wall and CPU time"},
	{"env", "%env [NAME[=VALUE]]", "list environment variables, show one, or set one for this kernel"},
	{"reset", "%reset", "forget every name defined by cells (the execution count goes on)"},
}

// splitMagics separates the magic lines at the top of a cell from its code.
// The code keeps its line numbers: each magic line becomes an empty line, so
// errors still point at the line the user sees.
func splitMagics(cell string) ([]magicLine, string, *CellError) {
	lines := strings.Split(cell, "\n")
	var magics []magicLine
	i := 0
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" && len(magics) == 0 {
			continue
		}
		if !strings.HasPrefix(t, "%") {
			break
		}
		name, args, _ := strings.Cut(strings.TrimLeft(t, "%"), " ")
		name = strings.TrimSpace(name)
		if !knownMagic(name) {
			msg := fmt.Sprintf("unknown magic %%%s on line %d; %%help lists the magics", name, i+1)
			return nil, "", &CellError{Name: "MagicError", Value: msg, Traceback: []string{"MagicError: " + msg}}
		}
		magics = append(magics, magicLine{name: name, args: strings.TrimSpace(args)})
	}
	if len(magics) == 0 {
		return nil, cell, nil
	}
	code := strings.Repeat("\n", i) + strings.Join(lines[i:], "\n")
	if strings.TrimSpace(code) == "" {
		code = ""
	}
	return magics, code, nil
}

func knownMagic(name string) bool {
	for _, m := range magicHelp {
		if m.name == name {
			return true
		}
	}
	return false
}

// runMagic runs one line magic other than %time.
func (s *Session) runMagic(m magicLine) *CellError {
	switch m.name {
	case "help":
		s.say(helpText())
	case "packages":
		s.say(packagesText(s.exec.Packages(), m.args))
	case "env":
		return s.envMagic(m.args)
	case "reset":
		if err := s.exec.Reset(); err != nil {
			return &CellError{Name: "KernelError", Value: err.Error(), Traceback: []string{"KernelError: reset: " + err.Error()}}
		}
		s.say("All names defined by cells were forgotten.\n")
	}
	return nil
}

// say writes text to the cell's stdout after any output still in flight.
func (s *Session) say(text string) {
	s.flushOutput()
	s.WriteStream("stdout", text)
}

func helpText() string {
	var b strings.Builder
	b.WriteString("flowlab Go kernel\n\n")
	b.WriteString("Cells are Go: imports, declarations and statements in any order. The value of\n")
	b.WriteString("the last expression is shown (end the line with ; to hide it). Names live on\n")
	b.WriteString("from cell to cell; a later cell may redefine them.\n\n")
	b.WriteString("In scope without imports:\n")
	b.WriteString("  IO.Read(path, format, timeRange)   a lazy frame over the datalake, e.g. IO.Read(\"/tetration/flows\", \"PARQUET\", \"LASTHOUR\")\n")
	b.WriteString("  IO.List(path)                      hours available in a dataset, newest last\n")
	b.WriteString("  SQL(query, args...)                a frame from SQL over registered tables\n")
	b.WriteString("  DataTaps.SendMessage(msg, tap)     send an alert to a data tap (Kafka)\n")
	b.WriteString("  display.Show(v), display.Update(id, v), display.HTML/Markdown/SVG/PNG/JSON(...)\n\n")
	b.WriteString("Magics (first lines of a cell):\n")
	for _, m := range magicHelp {
		fmt.Fprintf(&b, "  %-32s %s\n", m.usage, m.summary)
	}
	b.WriteString("\nKeys: Tab completes, Shift+Tab shows a signature; interrupt stops any cell.\n")
	b.WriteString("Docs: docs/cells.md (cells and their limits), docs/datalake.md (the lake API), docs/sandbox.md.\n")
	return b.String()
}

func packagesText(pkgs []Package, filter string) string {
	var b strings.Builder
	width := 0
	var shown []Package
	for _, p := range pkgs {
		if filter != "" && !strings.Contains(p.Path, filter) && !strings.Contains(strings.ToLower(p.Synopsis), strings.ToLower(filter)) {
			continue
		}
		shown = append(shown, p)
		width = max(width, len(p.Path))
	}
	sort.Slice(shown, func(i, j int) bool { return shown[i].Path < shown[j].Path })
	for _, p := range shown {
		fmt.Fprintf(&b, "%-*s  %s\n", width, p.Path, p.Synopsis)
	}
	if len(shown) == 0 {
		fmt.Fprintf(&b, "no package matches %q\n", filter)
	} else {
		fmt.Fprintf(&b, "\n%d packages", len(shown))
		if filter != "" {
			fmt.Fprintf(&b, " matching %q", filter)
		}
		b.WriteString("\n")
	}
	return b.String()
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secretName matches variable names whose values %env does not print, as
// IPython does.
var secretName = regexp.MustCompile(`(?i)key|token|secret|pass`)

func (s *Session) envMagic(args string) *CellError {
	fail := func(msg string) *CellError {
		return &CellError{Name: "MagicError", Value: msg, Traceback: []string{"MagicError: " + msg}}
	}
	environ, setenv := os.Environ, os.Setenv
	if e, ok := s.exec.(Environment); ok {
		environ, setenv = e.Environ, e.Setenv
	}
	lookup := func(name string) (string, bool) {
		for _, kv := range environ() {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v, true
			}
		}
		return "", false
	}
	if args == "" {
		env := environ()
		sort.Strings(env)
		var b strings.Builder
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			if secretName.MatchString(k) {
				v = "<hidden>"
			}
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
		s.say(b.String())
		return nil
	}
	name, value, set := strings.Cut(args, "=")
	if !set {
		name, value, set = strings.Cut(args, " ")
	}
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !envName.MatchString(name) {
		return fail(fmt.Sprintf("%%env: %q is not a variable name; use %%env NAME=VALUE", name))
	}
	if !set {
		v, ok := lookup(name)
		if !ok {
			return fail(fmt.Sprintf("%%env: %s is not set", name))
		}
		s.say(v + "\n")
		return nil
	}
	if err := setenv(name, value); err != nil {
		return fail(fmt.Sprintf("%%env: set %s: %v", name, err))
	}
	s.say(fmt.Sprintf("env: %s=%s\n", name, value))
	return nil
}

// cellClock measures a cell for %time: wall time and the process's CPU time.
type cellClock struct {
	wall      time.Time
	user, sys time.Duration
}

func startClock(now func() time.Time) *cellClock {
	u, s := cpuTimes()
	return &cellClock{wall: now(), user: u, sys: s}
}

func (c *cellClock) report(now func() time.Time) string {
	u, s := cpuTimes()
	user, sys := u-c.user, s-c.sys
	return fmt.Sprintf("CPU times: user %s, sys: %s, total: %s\nWall time: %s\n",
		round(user), round(sys), round(user+sys), round(now().Sub(c.wall)))
}

func cpuTimes() (user, sys time.Duration) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
