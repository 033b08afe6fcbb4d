package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/files"
)

// noKernels is RunKernels for tests that start no kernel.
type noKernels struct{}

func (noKernels) StartRunKernel(context.Context, userapps.App, string, string) (userapps.Kernel, error) {
	return nil, errors.New("no kernels in this test")
}

func TestExecutorFiles(t *testing.T) {
	nbs, err := files.Open(t.TempDir(), files.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nbs.Close()
	dir := filepath.Join(t.TempDir(), "runs")
	e, err := NewExecutor(ExecutorOptions{Kernels: noKernels{}, Notebooks: nbs, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	run := userapps.Run{ID: "run-1", AppID: "app-a"}
	run.Notebook = e.Prepare(run)
	if run.Notebook != "app-a/run-1.ipynb" {
		t.Fatalf("Prepare = %q", run.Notebook)
	}
	if _, err := e.RunNotebook(run); !errors.Is(err, userapps.ErrNotFound) {
		t.Errorf("notebook of a run not started: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"../escape/run-1.ipynb", "/etc/run-1.ipynb", "app-a/other.ipynb", ""} {
		r := run
		r.Notebook = bad
		if _, err := e.RunNotebook(r); !errors.Is(err, userapps.ErrInvalid) {
			t.Errorf("RunNotebook with path %q: %v, want ErrInvalid", bad, err)
		}
		if err := e.Discard(r); !errors.Is(err, userapps.ErrInvalid) {
			t.Errorf("Discard with path %q: %v, want ErrInvalid", bad, err)
		}
	}
	// A run whose app's notebook is missing fails, naming it.
	status, rerr := e.Execute(context.Background(), run, userapps.App{ID: "app-a", Notebook: "ana/missing.ipynb"}, 0, 0)
	if status != userapps.RunFailed || rerr == nil || rerr.Name != "notebook" {
		t.Errorf("run of a missing notebook: %s %+v", status, rerr)
	}
	// Executed notebooks of deleted apps are swept; the kept app's stay.
	for _, app := range []string{"app-a", "app-gone"} {
		if err := os.MkdirAll(filepath.Join(dir, app), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, app, "run-1.ipynb"), []byte(`{"nbformat": 4}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := e.RunNotebook(run); err != nil || string(got) != `{"nbformat": 4}` {
		t.Errorf("RunNotebook = %q, %v", got, err)
	}
	if err := e.SweepApps(map[string]bool{"app-a": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "app-gone")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deleted app's runs stayed: %v", err)
	}
	if err := e.Discard(run); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RunNotebook(run); !errors.Is(err, userapps.ErrNotFound) {
		t.Errorf("after Discard: %v", err)
	}
}
