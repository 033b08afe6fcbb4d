// Package flowlabtest gives integration tests the real flowlab binary and the
// real peers they talk to (Debian's Python with jupyter_client, nbclient,
// nbformat; kcat), and skips or fails clearly when a peer is missing: tests
// skip on a developer machine without it and fail under CI, where
// scripts/test.sh installs every peer.
package flowlabtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Python is Debian's interpreter. The python3 first on PATH may be a pyenv
// build that cannot import apt-installed modules.
const Python = "/usr/bin/python3"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// ModuleRoot returns the repository root (the directory holding go.mod).
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("flowlabtest: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary returns the path of a flowlab binary built from this checkout: the
// one named by $FLOWLAB_BIN (scripts/test.sh builds it once for the whole
// suite), or one built on first use and shared by the tests of this process.
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("FLOWLAB_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			tb.Fatalf("FLOWLAB_BIN=%s: %v", p, err)
		}
		return abs
	}
	root := ModuleRoot(tb)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowlab-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "flowlab")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/flowlab")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/flowlab: %v\n%s", err, out.String())
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildPath
}

// RequirePython checks that Debian's Python can import modules; it skips the
// test when it cannot, unless CI is set, where it fails.
func RequirePython(tb testing.TB, modules ...string) {
	tb.Helper()
	script := "import " + strings.Join(modules, ", ")
	out, err := exec.Command(Python, "-c", script).CombinedOutput()
	if err != nil {
		Missing(tb, fmt.Sprintf("%s cannot import %s (%v: %s); scripts/test.sh installs the Debian packages", Python, strings.Join(modules, ", "), err, bytes.TrimSpace(out)))
	}
}

// RequireCommand checks that a program is on PATH, like RequirePython.
func RequireCommand(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, fmt.Sprintf("%s not found on PATH; scripts/test.sh installs it", name))
	}
	return p
}

// Missing skips the test, or fails it under CI, for a missing peer.
func Missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(why)
	}
	tb.Skip(why)
}

// Kernelspec installs the kernelspec of bin under a temporary prefix and
// returns the JUPYTER_PATH that makes Jupyter tools find it, and its name.
// extra arguments are passed to `flowlab kernel install` (for example --lake).
func Kernelspec(tb testing.TB, bin string, extra ...string) (jupyterPath, name string) {
	tb.Helper()
	prefix := tb.TempDir()
	name = "flowlab-go-test"
	args := append([]string{"kernel", "install", "--prefix", prefix, "--name", name}, extra...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("flowlab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return filepath.Join(prefix, "share", "jupyter"), name
}

// Env returns os.Environ() with the given KEY=VALUE pairs replacing or adding
// entries.
func Env(kv ...string) []string {
	env := os.Environ()
	for _, pair := range kv {
		key := pair[:strings.IndexByte(pair, '=')+1]
		out := env[:0:0]
		for _, e := range env {
			if !strings.HasPrefix(e, key) {
				out = append(out, e)
			}
		}
		env = append(out, pair)
	}
	return env
}
