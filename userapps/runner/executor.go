package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/files"
)

// RunKernels starts the kernel of one run: Kernels with the run's id, so
// the kernel can tag what it sends (FLOWLAB_RUN). *kernels.Manager has it
// through a small adapter in the server.
type RunKernels interface {
	StartRunKernel(ctx context.Context, app userapps.App, runID, dir string) (userapps.Kernel, error)
}

// ExecutorOptions configures an Executor. Kernels, Notebooks and Dir are
// required.
type ExecutorOptions struct {
	// Kernels starts each run's fresh kernel.
	Kernels RunKernels
	// Notebooks holds the apps' notebooks (what a run executes).
	Notebooks userapps.NotebookStore
	// Dir keeps the executed notebooks, as Dir/APP-ID/RUN-ID.ipynb.
	Dir string
	// Runner are the options of each run's Runner; its Kernels is set per
	// run.
	Runner Options
}

// Executor runs the scheduler's runs (userapps/scheduler.Executor): the
// app's notebook as it is saved now, in a fresh kernel in the notebook's
// folder, with the run's parameters; the executed notebook is written (as
// the run goes, atomically) under Dir, where RunNotebook reads it.
type Executor struct {
	opts ExecutorOptions
}

// NewExecutor returns an Executor; it creates Dir.
func NewExecutor(opts ExecutorOptions) (*Executor, error) {
	if opts.Kernels == nil || opts.Notebooks == nil || opts.Dir == "" {
		return nil, fmt.Errorf("new run executor: Kernels, Notebooks and Dir are required: %w", userapps.ErrInvalid)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("new run executor: %w", err)
	}
	return &Executor{opts: opts}, nil
}

// Prepare returns the executed notebook's path for run, relative to Dir.
func (e *Executor) Prepare(run userapps.Run) string {
	return path.Join(run.AppID, run.ID+".ipynb")
}

// file is the executed notebook's file, refusing a path that would leave
// Dir (ids are generated, but the records come from a database).
func (e *Executor) file(run userapps.Run) (string, error) {
	rel := filepath.FromSlash(run.Notebook)
	if run.Notebook == "" || !filepath.IsLocal(rel) || path.Base(run.Notebook) != run.ID+".ipynb" {
		return "", fmt.Errorf("run %s: executed notebook path %q: %w", run.ID, run.Notebook, userapps.ErrInvalid)
	}
	return filepath.Join(e.opts.Dir, rel), nil
}

// Execute runs run's notebook and says how it ended.
func (e *Executor) Execute(ctx context.Context, run userapps.Run, app userapps.App, cellTimeout, runTimeout time.Duration) (userapps.RunStatus, *userapps.RunError) {
	fail := func(name string, err error) (userapps.RunStatus, *userapps.RunError) {
		return userapps.RunFailed, &userapps.RunError{Cell: -1, Name: name, Value: err.Error()}
	}
	out, err := e.file(run)
	if err != nil {
		return fail("run", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return fail("run", err)
	}
	nb, _, err := e.opts.Notebooks.Get(ctx, app.Notebook)
	if err != nil {
		return fail("notebook", fmt.Errorf("read %s: %w", app.Notebook, err))
	}
	dir, err := e.opts.Notebooks.LocalDir(app.Notebook)
	if err != nil {
		return fail("notebook", err)
	}
	// Parameters went through JSON in the store: type them as the
	// parameters cell declares them, as a command line's are.
	raw, err := json.Marshal(run.Parameters)
	if err != nil {
		return fail("parameters", err)
	}
	params, err := ParseJSONParameters(raw)
	if err != nil {
		return fail("parameters", err)
	}
	opts := e.opts.Runner
	opts.Kernels = runKernels{k: e.opts.Kernels, runID: run.ID}
	r, err := New(opts)
	if err != nil {
		return fail("runner", err)
	}
	from := "run " + run.ID + " (" + string(run.Trigger) + ")"
	if run.ScheduleID != "" {
		from = "schedule " + run.ScheduleID + ", " + from
	}
	res, _ := r.Run(ctx, Job{
		App: app, Dir: dir, Notebook: nb, Parameters: params, ParametersFrom: from,
		CellTimeout: cellTimeout, Timeout: runTimeout,
		Save: func(_ context.Context, data []byte) error { return files.WriteFile(out, data) },
	})
	if res.Error == nil {
		return res.Status, nil
	}
	return res.Status, &userapps.RunError{Cell: res.Error.Cell, Name: res.Error.EName, Value: res.Error.EValue}
}

// Discard deletes a pruned run's executed notebook.
func (e *Executor) Discard(run userapps.Run) error {
	f, err := e.file(run)
	if err != nil {
		return err
	}
	if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RunNotebook reads a run's executed notebook: as far as it got while the
// run goes, complete after. ErrNotFound if there is none (yet).
func (e *Executor) RunNotebook(run userapps.Run) ([]byte, error) {
	f, err := e.file(run)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run %s: no executed notebook yet: %w", run.ID, userapps.ErrNotFound)
	}
	return data, err
}

// SweepApps deletes the executed notebooks of apps not in keep (deleted
// apps: their run records went with them).
func (e *Executor) SweepApps(keep map[string]bool) error {
	entries, err := os.ReadDir(e.opts.Dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, ent := range entries {
		if ent.IsDir() && !keep[ent.Name()] {
			errs = append(errs, os.RemoveAll(filepath.Join(e.opts.Dir, ent.Name())))
		}
	}
	return errors.Join(errs...)
}

// runKernels is Kernels for one run.
type runKernels struct {
	k     RunKernels
	runID string
}

func (r runKernels) StartKernel(ctx context.Context, app userapps.App, dir string) (userapps.Kernel, error) {
	return r.k.StartRunKernel(ctx, app, r.runID, dir)
}
