//go:build !kernelonly

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// nodeSteps are the steps userapps/httpapi/testdata/node/acceptance.js
// reports, in order: issue 6's acceptance of the Jupyter Server API through
// @jupyterlab/services, the client JupyterLab uses.
var nodeSteps = []string{
	"kernelspecs",        // KernelSpecManager; the logo resource is fetched too
	"contents/save",      // ContentsManager.save of a notebook
	"contents/load",      // ContentsManager.get: the same cells back
	"session/start",      // SessionManager.startNew: a kernel, kernel_info_reply
	"execute/v1",         // v1.kernel.websocket.jupyter.org: stream and execute_result
	"execute/json",       // a second connection offering no subprotocol: default JSON
	"checkpoint/create",  // createCheckpoint, listCheckpoints
	"checkpoint/restore", // save over it, restoreCheckpoint: the old cells back
	"interrupt",          // `for {}` interrupted; the kernel keeps its state
	"restart",            // restart: state gone, new cells run
	"shutdown",           // session.shutdown: kernel and session gone
}

// nodeStep is one line of acceptance.js's report.
type nodeStep struct {
	Step   string          `json:"step"`
	OK     bool            `json:"ok"`
	MS     float64         `json:"ms"`
	Error  string          `json:"error"`
	Detail json.RawMessage `json:"detail"`
}

// TestServeJupyterLabServices runs @jupyterlab/services (npm) against
// `flowlab serve --demo`; each step of the script is a subtest. The Go side
// then checks what the client cannot see: the notebook file on disk holds
// the restored checkpoint, no kernel process is left, and the server stops
// cleanly.
func TestServeJupyterLabServices(t *testing.T) {
	if testing.Short() {
		t.Skip("starts flowlab serve, kernels and node")
	}
	node := flowlabtest.RequireCommand(t, "node")
	nodeDir := npmPackages(t)
	bin := flowlabtest.Binary(t)
	dataDir := t.TempDir()
	const token = "node-test-token"
	srv := startServe(t, bin, dataDir, token, "--demo", "--broker-addr", "127.0.0.1:0")
	url, err := srv.waitURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	const nbPath = "admin/node-acceptance.ipynb"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(nodeDir, "acceptance.js"))
	cmd.Dir = nodeDir
	cmd.Env = flowlabtest.Env("JUPYTER_URL="+url+"/", "JUPYTER_TOKEN="+token, "NOTEBOOK_PATH="+nbPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	checkNodeSteps(t, nodeSteps, &stdout, &stderr, runErr, srv.logTail)

	t.Run("notebook on disk", func(t *testing.T) {
		// The script restored the checkpoint of its first save, whose first
		// cell defines x; the later save defined y.
		data, err := os.ReadFile(filepath.Join(dataDir, "notebooks", filepath.FromSlash(nbPath)))
		if err != nil {
			t.Fatal(err)
		}
		var nb struct {
			NBFormat int `json:"nbformat"`
			Cells    []struct {
				Source any `json:"source"`
			} `json:"cells"`
		}
		if err := json.Unmarshal(data, &nb); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if nb.NBFormat != 4 || len(nb.Cells) != 3 {
			t.Fatalf("nbformat %d with %d cells, want 4 with the first save's 3", nb.NBFormat, len(nb.Cells))
		}
		if src, _ := json.Marshal(nb.Cells[0].Source); !strings.Contains(string(src), "x := 40") {
			t.Errorf("first cell %s: not the restored checkpoint's", src)
		}
	})

	t.Run("no kernel process left", func(t *testing.T) {
		var kids []int
		deadline := time.Now().Add(10 * time.Second)
		for {
			var err error
			if kids, err = childProcesses(srv.pid()); err != nil {
				t.Fatal(err)
			}
			if len(kids) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(kids) > 0 {
			t.Errorf("flowlab serve still has child processes %v after the session was shut down", kids)
		}
	})

	t.Run("graceful stop", func(t *testing.T) {
		if err := srv.stop(20 * time.Second); err != nil {
			t.Errorf("SIGTERM: %v\n%s", err, srv.logTail())
		}
	})
}

// checkNodeSteps reads the "@step {json}" lines a Node script printed and
// makes each wanted step a subtest, in order; the script's exit must agree
// with its steps.
func checkNodeSteps(t *testing.T, want []string, stdout, stderr *bytes.Buffer, runErr error, serverLog func() string) {
	t.Helper()
	reported := map[string]nodeStep{}
	var order []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "@step ")
		if !ok {
			continue
		}
		var s nodeStep
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Errorf("undecodable step line %q: %v", line, err)
			continue
		}
		reported[s.Step] = s
		order = append(order, s.Step)
	}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("steps reported %q, want %q", order, want)
	}
	allOK := true
	for _, name := range want {
		s, ok := reported[name]
		allOK = allOK && ok && s.OK
		t.Run(name, func(t *testing.T) {
			switch {
			case !ok:
				t.Fatalf("the script never reported this step (node: %v)\nstderr:\n%s", runErr, stderr.String())
			case !s.OK:
				t.Fatalf("%s\nserver log:\n%s", s.Error, serverLog())
			}
			t.Logf("%.1f ms %s", s.MS, s.Detail)
		})
	}
	if (runErr == nil) != allOK {
		t.Errorf("node exited with %v although the steps say all ok = %v\nstderr:\n%s", runErr, allOK, stderr.String())
	}
}

// npmPackages installs the pinned npm packages with scripts/npm-deps.sh and
// returns the Node package's folder: dir (relative to the repository), by
// default userapps/httpapi/testdata/node. Without npm or the registry the test
// skips, or fails under CI.
func npmPackages(t *testing.T, dir ...string) string {
	t.Helper()
	flowlabtest.RequireCommand(t, "npm")
	root := flowlabtest.ModuleRoot(t)
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "npm-deps.sh")}, dir...)...)
	var out bytes.Buffer
	cmd.Stderr = &out
	modules, err := cmd.Output()
	if err != nil {
		flowlabtest.Missing(t, "scripts/npm-deps.sh: "+err.Error()+"\n"+out.String())
	}
	return filepath.Dir(strings.TrimSpace(string(modules)))
}
