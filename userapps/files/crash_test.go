package files

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "FLOWLAB_FILES_CRASH_CHILD"

var crashPaths = []string{"alice/Lab 1.ipynb", "alice/deep/er/Lab 2.ipynb", "bob/Portscan.ipynb"}

// crashContent is the notebook version v of p: about 200 KB, so a write
// takes long enough to be killed in the middle of.
func crashContent(p string, v int) []byte {
	cell := strings.Repeat(fmt.Sprintf("// %s version %d\n", p, v), 5000)
	b, err := json.Marshal(map[string]any{
		"cells":          []any{map[string]any{"cell_type": "code", "source": cell, "metadata": map[string]any{}, "outputs": []any{}, "execution_count": nil}},
		"metadata":       map[string]any{"flowlab_version": v},
		"nbformat":       4,
		"nbformat_minor": 5,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// version parses a stored notebook and checks it is exactly one of the
// versions ever written.
func version(p string, data []byte) (int, error) {
	var nb struct {
		Metadata struct {
			Version *int `json:"flowlab_version"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		return 0, fmt.Errorf("%s is not valid JSON after a kill (%d bytes): %v", p, len(data), err)
	}
	if nb.Metadata.Version == nil {
		return 0, fmt.Errorf("%s has no version", p)
	}
	if v := *nb.Metadata.Version; !bytes.Equal(data, crashContent(p, v)) {
		return 0, fmt.Errorf("%s claims version %d but is not its content", p, v)
	} else {
		return v, nil
	}
}

// crashChild saves the notebooks in a loop until killed.
func crashChild(dir string) {
	n, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	v := 0
	for _, p := range crashPaths {
		if data, _, err := n.Get(ctx, p); err == nil {
			if got, err := version(p, data); err == nil && got > v {
				v = got
			}
		}
	}
	fmt.Println("ready")
	for v++; ; v++ {
		for _, p := range crashPaths {
			if _, err := n.Put(ctx, p, crashContent(p, v)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
}

// A child process saves notebooks in a loop and is killed with SIGKILL
// hundreds of times; after every kill each notebook is valid JSON holding
// exactly one version that was written, never older than the last one seen.
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	kills := 300
	if testing.Short() {
		kills = 30
	}
	dir := t.TempDir()
	last := map[string]int{}
	midWrite := 0
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child said %q, stderr:\n%s", i, line, stderr.String())
		}
		delay := time.Duration(rand.IntN(40_000)) * time.Microsecond
		if i%10 == 9 {
			// Now and then a longer life, so saves complete even when every
			// fsync is slow (a loaded machine, the race detector): the test
			// needs versions to move forward to check they never go back.
			delay = 500 * time.Millisecond
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended with %v before the kill; stderr:\n%s", i, cmd.ProcessState, stderr.String())
		}
		// Count the kills that landed in the middle of a write (a temporary
		// file left behind) before Open sweeps it.
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, tmpSuffix) {
				midWrite++
				return filepath.SkipAll
			}
			return nil
		})
		for _, p := range crashPaths {
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
			if os.IsNotExist(err) && last[p] == 0 {
				continue // not written yet
			}
			if err != nil {
				t.Fatalf("kill %d: %v", i, err)
			}
			v, err := version(p, data)
			if err != nil {
				t.Fatalf("kill %d: %v", i, err)
			}
			if v < last[p] {
				t.Fatalf("kill %d: %s went back from version %d to %d", i, p, last[p], v)
			}
			last[p] = v
		}
	}
	t.Logf("%d kills, %d in the middle of a write; versions reached %v", kills, midWrite, last)
	if last[crashPaths[0]] == 0 {
		t.Fatal("the child never completed a save")
	}
	if !testing.Short() && midWrite == 0 {
		t.Fatal("no kill landed in the middle of a write: the test proves nothing; slow the writes down")
	}
	// Reopening sweeps the leftovers.
	n, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, tmpSuffix) {
			t.Errorf("leftover after Open: %s", p)
		}
		return nil
	})
}
