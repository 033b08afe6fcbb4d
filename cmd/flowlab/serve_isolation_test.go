//go:build !kernelonly

package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// TestServeKernelIsolation checks what a kernel started through the API
// gets: never the admin token (given as FLOWLAB_TOKEN), a temporary
// directory of its own, and its user's folder as working directory when no
// notebook is named — never the notebooks root.
func TestServeKernelIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts flowlab serve and kernels")
	}
	bin := flowlabtest.Binary(t)
	dataDir := t.TempDir()
	const secret = "admin-secret-in-the-environment"
	p, err := launchServeEnv(bin, flowlabtest.Env("FLOWLAB_TOKEN="+secret, "FLOWLAB_LAKE=", "FLOWLAB_TAPS="),
		"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(20 * time.Second); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := p.waitURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"name": "flowlab-go"}`, `{"name": "flowlab-go", "path": "admin/labs/x.ipynb"}`} {
		req, _ := http.NewRequest("POST", url+"/api/kernels", strings.NewReader(body))
		req.Header.Set("Authorization", "token "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /api/kernels %s: %d\n%s", body, resp.StatusCode, p.logTail())
		}
	}
	kids, err := childProcesses(p.pid())
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 2 {
		t.Fatalf("%d kernel processes, want 2", len(kids))
	}
	var cwds, tmps []string
	for _, pid := range kids {
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(env), secret) {
			t.Errorf("kernel %d has the admin token in its environment", pid)
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "TMPDIR="); ok {
				tmps = append(tmps, v)
			}
		}
		cwd, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd"))
		if err != nil {
			t.Fatal(err)
		}
		cwds = append(cwds, cwd)
	}
	notebooks := filepath.Join(dataDir, "notebooks")
	for _, cwd := range cwds {
		rel, err := filepath.Rel(notebooks, cwd)
		if err != nil || !(rel == "admin" || rel == filepath.Join("admin", "labs")) {
			t.Errorf("a kernel works in %s, want the user's folder or the notebook's under %s", cwd, notebooks)
		}
	}
	if len(tmps) != 2 || tmps[0] == tmps[1] || strings.HasPrefix(tmps[0], os.TempDir()+"/") && !strings.Contains(tmps[0], dataDir) {
		t.Errorf("kernels' TMPDIR %v: want one private folder each", tmps)
	}
	for _, d := range tmps {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("TMPDIR %s: %v %v, want a 0700 folder", d, fi, err)
		}
	}
}
