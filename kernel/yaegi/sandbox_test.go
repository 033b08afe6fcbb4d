package yaegi

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sandboxDirs are the folders of one sandbox case, siblings under one base
// so that "$RW/../out" reaches the outside one.
type sandboxDirs struct {
	rw, ro, out string
	tcp         string // address of a TCP listener on 127.0.0.1
}

// newSandboxDirs makes rw, ro and out under a short temporary base (unix
// socket paths must stay under about 100 bytes) and fills them: a file in
// each, links in rw pointing outside, and a unix socket listening in out.
func newSandboxDirs(t *testing.T) sandboxDirs {
	t.Helper()
	base, err := os.MkdirTemp("", "sbx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	d := sandboxDirs{rw: filepath.Join(base, "rw"), ro: filepath.Join(base, "ro"), out: filepath.Join(base, "out")}
	for _, dir := range []string{d.rw, d.ro, d.out} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(d.rw, "notes.txt"):   "notes",
		filepath.Join(d.ro, "flows.csv"):   "lake",
		filepath.Join(d.out, "secret.txt"): "secret",
		filepath.Join(d.out, "t.tmpl"):     "hello {{.}}",
	}
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(d.rw, "outdir"):  d.out,                               // a directory outside
		filepath.Join(d.rw, "secret"):  filepath.Join(d.out, "secret.txt"),  // a file outside
		filepath.Join(d.rw, "rolink"):  filepath.Join(d.ro, "flows.csv"),    // a read-only file
		filepath.Join(d.rw, "dangles"): filepath.Join(d.out, "created.txt"), // would create outside
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []net.Listener{listen(t, "unix", filepath.Join(d.out, "s.sock")), listen(t, "tcp", "127.0.0.1:0")} {
		if l.Addr().Network() == "tcp" {
			d.tcp = l.Addr().String()
		}
	}
	return d
}

// listen starts a listener that accepts and closes connections until the
// test ends.
func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l
}

func (d sandboxDirs) expand(src string) string {
	return strings.NewReplacer("$RW", d.rw, "$RO", d.ro, "$OUT", d.out, "$TCP", d.tcp).Replace(src)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// outcome is what a sandboxed cell must give.
type outcome int

const (
	// allowed: the cell's final value is (true, nil).
	allowed outcome = iota
	// refused: the cell's final value is (false, err) with err matching
	// fs.ErrPermission.
	refused
	// filtered: the cell's final value is (false, nil): the operation ran
	// but saw nothing outside (filepath.Glob).
	filtered
	// rejected: the cell fails with a CellError (errName, errValue).
	rejected
)

// resultPrelude gives sandbox cells result, which makes their final value
// the (ok, err) pair the cases check.
var resultPrelude = []string{"func result(ok bool, err error) (bool, error) { return ok, err }"}

// testDriver is a database/sql driver compiled into the test binary, as
// DuckDB is compiled into flowlab: its Open creates the file it is given,
// bypassing the sandbox's path checks.
type testDriver struct{}

func (testDriver) Open(name string) (driver.Conn, error) {
	if err := os.WriteFile(name, []byte("db"), 0o644); err != nil {
		return nil, err
	}
	return nil, errors.New("testDriver has no connections")
}

func init() { sql.Register("flowlab-sandbox-test", testDriver{}) }

// TestSandbox runs every case twice through real cells: sandboxed, where
// each must give its outcome, and unrestricted, where each must succeed.
// After each case the executor must still run a cell.
func TestSandbox(t *testing.T) {
	tests := []struct {
		name string
		// before, when set, is a cell run first, in both runs.
		before string
		// src is the cell ($RW, $RO, $OUT and $TCP are replaced). Unless the
		// case is rejected its final value is (ok bool, err error).
		src string
		// unrestricted replaces src in the unrestricted run, where it must
		// give (true, nil); "-" skips that run.
		unrestricted string
		want         outcome
		// errName and errValue are substrings of a rejected cell's error.
		errName, errValue string
		// after checks side effects; sandboxed tells which run it follows.
		after func(t *testing.T, d sandboxDirs, sandboxed bool)
	}{
		{name: "read and write inside ReadWrite", src: `import "os"
err := os.WriteFile("$RW/new.txt", []byte("x"), 0o644)
b, _ := os.ReadFile("$RW/new.txt")
if err == nil { _, err = os.ReadFile("$RW/notes.txt") }
result(string(b) == "x" && err == nil, err)`, want: allowed,
			after: func(t *testing.T, d sandboxDirs, _ bool) {
				if !exists(filepath.Join(d.rw, "new.txt")) {
					t.Error("new.txt was not written")
				}
			}},
		{name: "read inside ReadOnly", src: `import "os"
b, err := os.ReadFile("$RO/flows.csv")
result(string(b) == "lake", err)`, want: allowed},
		{name: "read-only file through a link in ReadWrite", src: `import "os"
b, err := os.ReadFile("$RW/rolink")
result(string(b) == "lake", err)`, want: allowed},
		{name: "write inside ReadOnly", src: `import "os"
err := os.WriteFile("$RO/flows.csv", []byte("changed"), 0o644)
result(err == nil, err)`, want: refused, after: func(t *testing.T, d sandboxDirs, sandboxed bool) {
			if b, _ := os.ReadFile(filepath.Join(d.ro, "flows.csv")); sandboxed && string(b) != "lake" {
				t.Errorf("read-only file now holds %q", b)
			}
		}},
		{name: "write through a link to a read-only file", src: `import "os"
f, err := os.OpenFile("$RW/rolink", os.O_WRONLY|os.O_TRUNC, 0)
if err == nil { f.Close() }
result(err == nil, err)`, want: refused},
		{name: "create inside ReadOnly", src: `import "os"
f, err := os.Create("$RO/new.csv")
if err == nil { f.Close() }
result(err == nil, err)`, want: refused},
		{name: "read outside", src: `import "os"
b, err := os.ReadFile("$OUT/secret.txt")
result(string(b) == "secret", err)`, want: refused},
		{name: "open outside", src: `import "os"
f, err := os.Open("$OUT/secret.txt")
if err == nil { f.Close() }
result(err == nil, err)`, want: refused},
		{name: "stat outside", src: `import "os"
_, err := os.Stat("$OUT/secret.txt")
result(err == nil, err)`, want: refused},
		{name: "list a directory outside", src: `import "os"
es, err := os.ReadDir("$OUT")
result(len(es) > 0, err)`, want: refused},
		{name: "read through a link to a file outside", src: `import "os"
b, err := os.ReadFile("$RW/secret")
result(string(b) == "secret", err)`, want: refused},
		{name: "read through a link to a directory outside", src: `import "os"
b, err := os.ReadFile("$RW/outdir/secret.txt")
result(string(b) == "secret", err)`, want: refused},
		{name: "write through a link to a file outside", src: `import "os"
err := os.WriteFile("$RW/secret", []byte("owned"), 0o644)
result(err == nil, err)`, want: refused, after: func(t *testing.T, d sandboxDirs, sandboxed bool) {
			if b, _ := os.ReadFile(filepath.Join(d.out, "secret.txt")); sandboxed && string(b) != "secret" {
				t.Errorf("file outside now holds %q", b)
			}
		}},
		{name: "create through a dangling link", src: `import "os"
f, err := os.Create("$RW/dangles")
if err == nil { f.Close() }
result(err == nil, err)`, want: refused, after: func(t *testing.T, d sandboxDirs, sandboxed bool) {
			if sandboxed && exists(filepath.Join(d.out, "created.txt")) {
				t.Error("the link's target was created outside")
			}
		}},
		{name: "dot-dot traversal", src: `import "os"
b, err := os.ReadFile("$RW/../out/secret.txt")
result(string(b) == "secret", err)`, want: refused},
		{name: "relative dot-dot traversal", src: `import "os"
import "path/filepath"
wd, _ := os.Getwd()
rel, _ := filepath.Rel(wd, "$OUT/secret.txt")
b, err := os.ReadFile(rel)
result(string(b) == "secret", err)`, want: refused},
		{name: "os.Create outside", src: `import "os"
f, err := os.Create("$OUT/new.txt")
if err == nil { f.Close() }
result(err == nil, err)`, want: refused, after: noFile("new.txt")},
		{name: "os.OpenFile outside", src: `import "os"
f, err := os.OpenFile("$OUT/new.txt", os.O_CREATE|os.O_WRONLY, 0o644)
if err == nil { f.Close() }
result(err == nil, err)`, want: refused, after: noFile("new.txt")},
		{name: "os.WriteFile outside", src: `import "os"
err := os.WriteFile("$OUT/new.txt", nil, 0o644)
result(err == nil, err)`, want: refused, after: noFile("new.txt")},
		{name: "os.MkdirAll outside", src: `import "os"
err := os.MkdirAll("$OUT/a/b", 0o755)
result(err == nil, err)`, want: refused, after: noFile("a")},
		{name: "os.Rename into outside", src: `import "os"
err := os.Rename("$RW/notes.txt", "$OUT/notes.txt")
result(err == nil, err)`, want: refused, after: noFile("notes.txt")},
		{name: "os.Rename out of outside", src: `import "os"
err := os.Rename("$OUT/secret.txt", "$RW/stolen.txt")
result(err == nil, err)`, want: refused},
		{name: "os.Remove outside", src: `import "os"
err := os.Remove("$OUT/secret.txt")
result(err == nil, err)`, want: refused, after: func(t *testing.T, d sandboxDirs, sandboxed bool) {
			if sandboxed && !exists(filepath.Join(d.out, "secret.txt")) {
				t.Error("the file outside was removed")
			}
		}},
		{name: "os.Symlink outside", src: `import "os"
err := os.Symlink("$RW/notes.txt", "$OUT/link")
result(err == nil, err)`, want: refused, after: noFile("link")},
		{name: "os.Symlink to a file outside", src: `import "os"
err := os.Symlink("$OUT/secret.txt", "$RW/mine")
result(err == nil, err)`, want: refused},
		{name: "filepath.Walk outside", src: `import "io/fs"
import "path/filepath"
n := 0
err := filepath.Walk("$OUT", func(p string, fi fs.FileInfo, err error) error { n++; return err })
result(n > 0 && err == nil, err)`, want: refused},
		{name: "filepath.Glob outside", src: `import "path/filepath"
m, err := filepath.Glob("$OUT/*.txt")
result(len(m) == 1, err)`, want: filtered},
		{name: "filepath.Glob inside", src: `import "path/filepath"
m, err := filepath.Glob("$RW/*.txt")
result(len(m) == 1, err)`, want: allowed},
		{name: "os.DirFS outside", src: `import "io/fs"
import "os"
_, err := fs.ReadFile(os.DirFS("$OUT"), "secret.txt")
result(err == nil, err)`, want: refused},
		{name: "os.DirFS through a link outside", src: `import "io/fs"
import "os"
_, err := fs.ReadFile(os.DirFS("$RW"), "secret")
result(err == nil, err)`, want: refused},
		// The import has a cell of its own: a selector ParseFiles in the
		// cell that imports the package is refused as the method (see
		// "template ParseFiles method").
		{name: "template.ParseFiles outside", before: `import "text/template"`, src: `_, err := template.ParseFiles("$OUT/t.tmpl")
result(err == nil, err)`, want: refused},
		{name: "template ParseFiles method", src: `import "text/template"
_, err := template.New("t.tmpl").ParseFiles("$OUT/t.tmpl")
result(err == nil, err)`, want: rejected, errName: "CompileError",
			errValue: "2:34: method ParseFiles is not available in a sandboxed cell: template files are read by name; read them with os.ReadFile and call Parse"},
		{name: "unix socket dial outside", src: `import "net"
c, err := net.Dial("unix", "$OUT/s.sock")
if err == nil { c.Close() }
result(err == nil, err)`, want: refused},
		{name: "unix socket listen outside", src: `import "net"
l, err := net.Listen("unix", "$OUT/l.sock")
if err == nil { l.Close() }
result(err == nil, err)`, want: refused, after: func(t *testing.T, d sandboxDirs, sandboxed bool) {
			// Close removes the socket file, so only a sandboxed leftover shows.
			if sandboxed && exists(filepath.Join(d.out, "l.sock")) {
				t.Error("l.sock was created outside")
			}
		}},
		{name: "unix socket listen inside ReadWrite", src: `import "net"
l, err := net.Listen("unix", "$RW/l.sock")
if err == nil { l.Close() }
result(err == nil, err)`, want: allowed},
		{name: "abstract unix socket", src: `import "net"
l, err := net.Listen("unix", "@flowlab-sandbox-test")
if err == nil { l.Close() }
result(err == nil, err)`, want: refused},
		{name: "unix socket through net/rpc", src: `import "net/rpc"
c, err := rpc.Dial("unix", "$OUT/s.sock")
if err == nil { c.Close() }
result(err == nil, err)`, want: refused},
		{name: "unix socket through net/textproto", src: `import "net/textproto"
c, err := textproto.Dial("unix", "$OUT/s.sock")
if err == nil { c.Close() }
result(err == nil, err)`, want: refused},
		{name: "unix socket through log/syslog", src: `import "log/syslog"
w, err := syslog.Dial("unix", "$OUT/s.sock", syslog.LOG_INFO, "cell")
if err == nil { w.Close() }
result(err == nil, err)`, want: refused},
		{name: "local syslog", src: `import "log/syslog"
_, err := syslog.New(syslog.LOG_INFO, "cell")
result(err == nil, err)`, want: refused, unrestricted: "-"},
		{name: "unix socket through crypto/tls dial", src: `import "crypto/tls"
_, err := tls.Dial("unix", "$OUT/s.sock", &tls.Config{})
result(err == nil, err)`, want: refused, unrestricted: "-"}, // the listener speaks no TLS
		{name: "unix socket through crypto/tls listen", src: `import "crypto/tls"
cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }}
l, err := tls.Listen("unix", "$OUT/t.sock", cfg)
if err == nil { l.Close() }
result(err == nil, err)`, want: refused},
		{name: "TCP to 127.0.0.1", src: `import "net"
c, err := net.Dial("tcp", "$TCP")
if err == nil { c.Close() }
result(err == nil, err)`, want: allowed},
		{name: "import os/exec", src: `import "os/exec"`, want: rejected, errName: "CompileError",
			errValue:     `1:8: import "os/exec" is not allowed in a sandboxed cell: cells cannot start processes`,
			unrestricted: "import \"os/exec\"\nerr := exec.Command(\"/bin/true\").Run()\nresult(err == nil, err)"},
		{name: "import syscall", src: `import "syscall"`, want: rejected, errName: "CompileError",
			errValue:     `1:8: import "syscall" is not allowed in a sandboxed cell: cells cannot make system calls`,
			unrestricted: "import \"syscall\"\npid := syscall.Getpid()\nresult(pid > 0, nil)"},
		{name: "import unsafe", src: `import "unsafe"`, want: rejected, errName: "CompileError",
			errValue:     `1:8: import "unsafe" is not allowed in a sandboxed cell: cells cannot use unsafe`,
			unrestricted: "import \"unsafe\"\nresult(unsafe.Sizeof(int64(0)) == 8, nil)"},
		// yaegi has no table for plugin, so it is unavailable even
		// unrestricted; the sandbox still says why.
		{name: "import plugin", src: `import "plugin"`, want: rejected, errName: "CompileError",
			errValue: `1:8: import "plugin" is not allowed in a sandboxed cell: cells cannot load plugins`, unrestricted: "-"},
		{name: "import os/signal", src: `import "os/signal"`, want: rejected, errName: "CompileError",
			errValue: `import "os/signal" is not allowed in a sandboxed cell`, unrestricted: "-"},
		{name: "os.StartProcess", src: `import "os"
p, err := os.StartProcess("/bin/true", []string{"true"}, nil)`, want: rejected, errName: "CompileError", errValue: "undefined selector os.StartProcess",
			unrestricted: `import "os"
p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
if err == nil { _, err = p.Wait() }
result(err == nil, err)`},
		{name: "os.Process by pid", src: `import "os"
p := &os.Process{Pid: os.Getpid()}
result(p.Pid > 0, error(nil))`, want: rejected, errName: "CompileError", errValue: "undefined selector os.Process",
			unrestricted: `import "os"
import "syscall"
p := &os.Process{Pid: os.Getpid()}
err := p.Signal(syscall.Signal(0))
result(err == nil, err)`},
		{name: "os.Exit", src: "import \"os\"\nos.Exit(2)", want: rejected, errName: "SandboxError",
			errValue: "os.Exit is not allowed in a cell (exit code 2)", unrestricted: "-"},
		{name: "database driver compiled into the kernel", src: `import "database/sql"
db, err := sql.Open("flowlab-sandbox-test", "$OUT/db")
if err == nil { err = db.Ping() }
result(err == nil, err)`, want: refused, after: func(t *testing.T, d sandboxDirs, sandboxed bool) {
			if got := exists(filepath.Join(d.out, "db")); got == sandboxed {
				t.Errorf("the compiled driver's file exists: %v, want %v", got, !sandboxed)
			}
		}, unrestricted: `import "database/sql"
db, err := sql.Open("flowlab-sandbox-test", "$OUT/db")
if err == nil { err = db.Ping() }
result(err != nil && err.Error() == "testDriver has no connections", nil)`},
		{name: "database driver a cell registers", src: `import "database/sql"
import "database/sql/driver"
import "errors"
type cellDriver struct{}
func (cellDriver) Open(name string) (driver.Conn, error) { return nil, errors.New("cellDriver " + name) }
sql.Register("flowlab-cell-driver-" + "$RW", cellDriver{}) // unique per run: names cannot be registered twice
db, err := sql.Open("flowlab-cell-driver-" + "$RW", "x")
if err == nil { err = db.Ping() }
result(err != nil && err.Error() == "cellDriver x", nil)`, want: allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newSandboxDirs(t)
			te := newTestExec(t, Options{ReadWrite: []string{d.rw}, ReadOnly: []string{d.ro}, Prelude: resultPrelude})
			if tt.before != "" {
				te.mustRun(t, d.expand(tt.before))
			}
			res, ce := te.run(t, d.expand(tt.src))
			if tt.want == rejected {
				if ce == nil || ce.Name != tt.errName || !strings.Contains(ce.Value, tt.errValue) {
					t.Fatalf("got values %v, error %v; want %s containing %q", res.Values, ce, tt.errName, tt.errValue)
				}
			} else {
				if ce != nil {
					t.Fatalf("%s: %s\n%s", ce.Name, ce.Value, strings.Join(ce.Traceback, "\n"))
				}
				checkOutcome(t, res.Values, tt.want)
			}
			if tt.after != nil {
				tt.after(t, d, true)
			}
			if got := te.mustRun(t, "40 + 2"); !reflect.DeepEqual(got, []any{42}) {
				t.Fatalf("after the case the executor gives %v", got)
			}
		})
	}
	for _, tt := range tests {
		if tt.unrestricted == "-" {
			continue
		}
		t.Run("unrestricted/"+tt.name, func(t *testing.T) {
			d := newSandboxDirs(t)
			te := newTestExec(t, Options{Unrestricted: true, Prelude: resultPrelude})
			if tt.before != "" {
				te.mustRun(t, d.expand(tt.before))
			}
			src := tt.src
			if tt.unrestricted != "" {
				src = tt.unrestricted
			}
			res, ce := te.run(t, d.expand(src))
			if ce != nil {
				t.Fatalf("%s: %s\n%s", ce.Name, ce.Value, strings.Join(ce.Traceback, "\n"))
			}
			checkOutcome(t, res.Values, allowed)
			if tt.after != nil {
				tt.after(t, d, false)
			}
		})
	}
}

// checkOutcome checks the (ok bool, err error) final value of a cell.
func checkOutcome(t *testing.T, values []any, want outcome) {
	t.Helper()
	if len(values) != 2 {
		t.Fatalf("values %#v, want (ok bool, err error)", values)
	}
	ok, isBool := values[0].(bool)
	if !isBool {
		t.Fatalf("first value %#v is not a bool", values[0])
	}
	var err error
	if values[1] != nil {
		e, isErr := values[1].(error)
		if !isErr {
			t.Fatalf("second value %#v is not an error", values[1])
		}
		err = e
	}
	switch want {
	case allowed:
		if !ok || err != nil {
			t.Fatalf("got (%v, %v), want the operation to succeed", ok, err)
		}
	case refused:
		if ok || err == nil {
			t.Fatalf("got (%v, %v), want a refusal", ok, err)
		}
		if !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("refusal %q (%T) does not match fs.ErrPermission", err, err)
		}
	case filtered:
		if ok || err != nil {
			t.Fatalf("got (%v, %v), want nothing found and no error", ok, err)
		}
	}
}

// noFile returns a check that name was not created in the outside folder by
// the sandboxed run, and was by the unrestricted one.
func noFile(name string) func(t *testing.T, d sandboxDirs, sandboxed bool) {
	return func(t *testing.T, d sandboxDirs, sandboxed bool) {
		t.Helper()
		if got := exists(filepath.Join(d.out, name)); got == sandboxed {
			t.Errorf("%s exists outside: %v, want %v", name, got, !sandboxed)
		}
	}
}

// TestSandboxErrorsInCell checks that a cell itself can recognise a refusal
// with the standard library's predicates.
func TestSandboxErrorsInCell(t *testing.T) {
	d := newSandboxDirs(t)
	te := newTestExec(t, Options{ReadWrite: []string{d.rw}})
	got := te.mustRun(t, d.expand(`import "errors"
import "io/fs"
import "os"
_, err := os.ReadFile("$OUT/secret.txt")
[]bool{errors.Is(err, fs.ErrPermission), os.IsPermission(err), errors.Is(err, os.ErrNotExist)}`))
	// os.IsPermission looks only at syscall errors and fs.ErrPermission
	// itself, not at wrapped errors: docs/sandbox.md says to use errors.Is.
	if !reflect.DeepEqual(got, []any{[]bool{true, false, false}}) {
		t.Fatalf("got %v, want [true false false]", got)
	}
}

// TestSandboxWithoutDirectories checks the zero Options: no file at all.
func TestSandboxWithoutDirectories(t *testing.T) {
	d := newSandboxDirs(t)
	te := newTestExec(t, Options{Prelude: resultPrelude})
	res, ce := te.run(t, d.expand("import \"os\"\n_, err := os.ReadFile(\"$RW/notes.txt\")\nresult(err == nil, err)"))
	if ce != nil {
		t.Fatalf("%s: %s", ce.Name, ce.Value)
	}
	checkOutcome(t, res.Values, refused)
}
