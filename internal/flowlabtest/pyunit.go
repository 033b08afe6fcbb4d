package flowlabtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

type pyResult struct {
	Test    string  `json:"test"`
	Outcome string  `json:"outcome"`
	Detail  string  `json:"detail"`
	Seconds float64 `json:"seconds"`
}

// RunPythonTests runs the unittest module in dir with Debian's Python and
// reports each Python test as a Go subtest, so failures show by name. env is
// the complete environment for the interpreter. Setting FLOWLAB_PYUNIT to a
// dotted name inside the module (Class or Class.test_method) runs only that.
func RunPythonTests(t *testing.T, dir, module string, env []string, timeout time.Duration) {
	t.Helper()
	if sel := os.Getenv("FLOWLAB_PYUNIT"); sel != "" {
		module += "." + sel
	}
	_, file, _, _ := runtime.Caller(0)
	runner := filepath.Join(filepath.Dir(file), "pyunit.py")
	cmd := exec.Command(Python, runner, module)
	cmd.Dir = dir
	cmd.Env = append(env, "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var n int
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var r pyResult
		if err := json.Unmarshal(line, &r); err != nil || r.Test == "" {
			t.Logf("python: %s", line)
			continue
		}
		n++
		t.Run(strings.ReplaceAll(r.Test, " ", "_"), func(t *testing.T) {
			switch r.Outcome {
			case "ok":
				t.Logf("ok in %.2fs", r.Seconds)
			case "skip":
				t.Skip(r.Detail)
			default:
				t.Errorf("%s after %.2fs:\n%s", r.Outcome, r.Seconds, r.Detail)
			}
		})
	}
	werr := cmd.Wait()
	if stderr.Len() > 0 {
		t.Logf("python stderr:\n%s", stderr.String())
	}
	if n == 0 {
		t.Fatalf("python reported no tests (exit: %v)", werr)
	}
	if werr != nil && !t.Failed() {
		t.Fatalf("python exited with %v but reported no failure", werr)
	}
}
