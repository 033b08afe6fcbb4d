package userapps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
)

// ServiceOptions configures a Service. Apps, Notebooks and Kernels are
// required; the rest has working zero values.
type ServiceOptions struct {
	Apps      AppStore
	Notebooks NotebookStore
	Kernels   KernelManager
	// Now is the clock of the apps' timestamps; nil means time.Now.
	Now func() time.Time
	// Logger receives state changes; nil discards.
	Logger *slog.Logger
	// ReplayTimeout bounds one replayed cell in Restore; default 10 minutes.
	ReplayTimeout time.Duration
}

// Service drives apps through their life: Create, Rename, Delete, Open,
// SaveCheckpoint, Stop, Restore. Operations on one app are serialized;
// different apps proceed in parallel. It does not check permissions: the
// caller runs Authorize first. Safe for concurrent use.
type Service struct {
	apps    AppStore
	nbs     NotebookStore
	kernels KernelManager
	now     func() time.Time
	log     *slog.Logger
	replayT time.Duration

	mu      sync.Mutex
	locks   map[string]*sync.Mutex
	watched map[string]bool // kernel ids with a watcher
	wg      sync.WaitGroup
}

// NewService returns a Service, or an error wrapping ErrInvalid when a
// required dependency is missing.
func NewService(opts ServiceOptions) (*Service, error) {
	if opts.Apps == nil || opts.Notebooks == nil || opts.Kernels == nil {
		return nil, fmt.Errorf("new app service: Apps, Notebooks and Kernels are required: %w", ErrInvalid)
	}
	s := &Service{apps: opts.Apps, nbs: opts.Notebooks, kernels: opts.Kernels, now: opts.Now, log: opts.Logger,
		replayT: opts.ReplayTimeout, locks: map[string]*sync.Mutex{}, watched: map[string]bool{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.replayT <= 0 {
		s.replayT = 10 * time.Minute
	}
	return s, nil
}

// Run reconciles the store with the kernels, then waits for ctx to end and
// for the kernel watchers to finish (they end when their kernels do: stop
// the KernelManager after the Service's context). Apps the store says are
// starting, running, checkpointed or stopping whose kernel is gone (the
// server restarted) become failed, keeping their checkpoint so Restore can
// rebuild them.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Reconcile(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	s.wg.Wait()
	return nil
}

// Reconcile is Run's first step, exported for tests and for a server that
// runs the Service without Run.
func (s *Service) Reconcile(ctx context.Context) error {
	apps, err := s.apps.Apps(ctx, AppFilter{States: []State{StateStarting, StateRunning, StateCheckpointed, StateStopping}})
	if err != nil {
		return fmt.Errorf("reconcile apps: %w", err)
	}
	for _, a := range apps {
		unlock := s.lock(a.ID)
		if k, err := s.kernels.LookupKernel(a.KernelID); err == nil && a.State.KernelUp() {
			s.watch(a.ID, k)
			unlock()
			continue
		}
		_, err := s.apps.UpdateApp(ctx, a.ID, func(x *App) error {
			if err := x.Transition(StateFailed, s.now()); err != nil {
				return err
			}
			x.Error, x.KernelID = "the server restarted and the kernel is gone; open the app again, or restore it from its checkpoint", ""
			return nil
		})
		unlock()
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("reconcile app %s: %w", a.ID, err)
		}
		s.log.Info("app failed: kernel gone after a server restart", "app", a.ID)
	}
	return nil
}

// lock serializes operations on one app.
func (s *Service) lock(id string) func() {
	s.mu.Lock()
	l, ok := s.locks[id]
	if !ok {
		l = &sync.Mutex{}
		s.locks[id] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// BlankNotebook returns an empty nbformat 4 notebook for the flowlab Go
// kernel.
func BlankNotebook() []byte {
	return []byte(`{
 "cells": [],
 "metadata": {
  "kernelspec": {"display_name": "Go (flowlab)", "language": "go", "name": "flowlab"},
  "language_info": {"name": "go", "file_extension": ".go", "mimetype": "text/x-go"}
 },
 "nbformat": 4,
 "nbformat_minor": 5
}
`)
}

// CreateRequest describes a new app.
type CreateRequest struct {
	// Owner is the owning user's name.
	Owner string
	// Name is the app's name (ValidateAppName); its notebook is
	// Owner/Name.ipynb.
	Name string
	// Notebook is the initial notebook (an example's bytes); nil means
	// BlankNotebook.
	Notebook []byte
}

// Create makes a stopped app with its notebook. Errors wrap ErrInvalid (bad
// name or notebook), ErrConflict (name or notebook path taken),
// ErrNotFound (unknown owner).
func (s *Service) Create(ctx context.Context, req CreateRequest) (App, error) {
	if err := ValidateUserName(req.Owner); err != nil {
		return App{}, fmt.Errorf("create app: %w", err)
	}
	if err := ValidateAppName(req.Name); err != nil {
		return App{}, fmt.Errorf("create app: %w", err)
	}
	data := req.Notebook
	if data == nil {
		data = BlankNotebook()
	}
	now := s.now()
	a := App{ID: NewID(), Name: req.Name, Owner: req.Owner, Notebook: notebookPath(req.Owner, req.Name),
		State: StateStopped, Created: now, Updated: now, StateChanged: now}
	if _, err := s.nbs.Stat(ctx, a.Notebook); err == nil {
		return App{}, fmt.Errorf("create app %q: the notebook %s exists: %w", a.Name, a.Notebook, ErrConflict)
	}
	if _, err := s.nbs.Put(ctx, a.Notebook, data); err != nil {
		return App{}, fmt.Errorf("create app %q: %w", a.Name, err)
	}
	if err := s.apps.CreateApp(ctx, a); err != nil {
		s.nbs.Delete(ctx, a.Notebook)
		return App{}, fmt.Errorf("create app %q: %w", a.Name, err)
	}
	s.log.Info("app created", "app", a.ID, "name", a.Name, "owner", a.Owner)
	return a, nil
}

func notebookPath(owner, name string) string { return path.Join(owner, name+".ipynb") }

// Rename renames an app and moves its notebook (with its checkpoint).
// Errors wrap ErrInvalid, ErrNotFound, ErrConflict (the owner has an app or
// notebook of that name).
func (s *Service) Rename(ctx context.Context, id, name string) (App, error) {
	if err := ValidateAppName(name); err != nil {
		return App{}, fmt.Errorf("rename app: %w", err)
	}
	defer s.lock(id)()
	a, err := s.apps.App(ctx, id)
	if err != nil {
		return App{}, fmt.Errorf("rename app: %w", err)
	}
	if a.Name == name {
		return a, nil
	}
	to := notebookPath(a.Owner, name)
	if _, err := s.nbs.Rename(ctx, a.Notebook, to); err != nil {
		return App{}, fmt.Errorf("rename app %q: %w", a.Name, err)
	}
	out, err := s.apps.UpdateApp(ctx, id, func(x *App) error {
		x.Name, x.Notebook, x.Updated = name, to, s.now()
		return nil
	})
	if err != nil {
		if _, rerr := s.nbs.Rename(ctx, to, a.Notebook); rerr != nil {
			s.log.Error("rename: notebook moved but app not renamed, and moving it back failed", "app", id, "err", rerr)
		}
		return App{}, fmt.Errorf("rename app %q: %w", a.Name, err)
	}
	return out, nil
}

// Delete shuts the app's kernel down if it runs, and deletes the app and
// its notebook. Errors wrap ErrNotFound.
func (s *Service) Delete(ctx context.Context, id string) error {
	defer s.lock(id)()
	a, err := s.apps.App(ctx, id)
	if err != nil {
		return fmt.Errorf("delete app: %w", err)
	}
	s.shutdownKernel(ctx, a.KernelID)
	if err := s.apps.DeleteApp(ctx, id); err != nil {
		return fmt.Errorf("delete app %q: %w", a.Name, err)
	}
	if err := s.nbs.Delete(ctx, a.Notebook); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("app deleted but not its notebook", "app", id, "notebook", a.Notebook, "err", err)
	}
	s.log.Info("app deleted", "app", id, "name", a.Name)
	return nil
}

func (s *Service) shutdownKernel(ctx context.Context, kernelID string) {
	if kernelID == "" {
		return
	}
	if k, err := s.kernels.LookupKernel(kernelID); err == nil {
		if err := k.Shutdown(ctx); err != nil {
			s.log.Warn("kernel shutdown", "kernel", kernelID, "err", err)
		}
	}
}

// transition moves an app to next (with change applied too) in the store.
func (s *Service) transition(ctx context.Context, id string, next State, change func(*App)) (App, error) {
	return s.apps.UpdateApp(ctx, id, func(x *App) error {
		if err := x.Transition(next, s.now()); err != nil {
			return err
		}
		if change != nil {
			change(x)
		}
		return nil
	})
}

// Open starts the app's kernel: stopped or failed → starting → running.
// Opening an app whose kernel is up returns it unchanged. If the kernel
// cannot start the app becomes failed and the error wraps ErrKernel; other
// errors wrap ErrNotFound or ErrConflict (the app is starting or stopping).
func (s *Service) Open(ctx context.Context, id string) (App, error) {
	defer s.lock(id)()
	a, err := s.apps.App(ctx, id)
	if err != nil {
		return App{}, fmt.Errorf("open app: %w", err)
	}
	if a.State.KernelUp() {
		if _, err := s.kernels.LookupKernel(a.KernelID); err == nil {
			return a, nil
		}
	}
	return s.start(ctx, a, StateRunning)
}

// start moves a to starting, starts a kernel, and moves it to next.
func (s *Service) start(ctx context.Context, a App, next State) (App, error) {
	if a.State.KernelUp() {
		// The store says running but the kernel is gone: record it.
		var err error
		if a, err = s.transition(ctx, a.ID, StateFailed, func(x *App) { x.Error, x.KernelID = "the kernel is gone", "" }); err != nil {
			return App{}, err
		}
	}
	a, err := s.transition(ctx, a.ID, StateStarting, nil)
	if err != nil {
		return App{}, fmt.Errorf("open app: %w", err)
	}
	dir, err := s.nbs.LocalDir(a.Notebook)
	if err == nil {
		var k Kernel
		k, err = s.kernels.StartKernel(ctx, a, dir)
		if err == nil {
			a, err = s.transition(ctx, a.ID, next, func(x *App) { x.KernelID = k.ID() })
			if err != nil {
				k.Shutdown(context.WithoutCancel(ctx))
				return App{}, fmt.Errorf("open app %q: %w", a.Name, err)
			}
			s.watch(a.ID, k)
			s.log.Info("app running", "app", a.ID, "kernel", k.ID())
			return a, nil
		}
	}
	if _, ferr := s.transition(context.WithoutCancel(ctx), a.ID, StateFailed, func(x *App) { x.Error = err.Error() }); ferr != nil {
		s.log.Error("app could not be marked failed", "app", a.ID, "err", ferr)
	}
	return App{}, fmt.Errorf("open app %q: %w", a.Name, err)
}

// watch follows a kernel until it ends and records in the app why, unless
// the app stopped it itself.
func (s *Service) watch(appID string, k Kernel) {
	s.mu.Lock()
	if s.watched[k.ID()] {
		s.mu.Unlock()
		return
	}
	s.watched[k.ID()] = true
	s.mu.Unlock()
	s.wg.Go(func() {
		<-k.Done()
		s.mu.Lock()
		delete(s.watched, k.ID())
		s.mu.Unlock()
		defer s.lock(appID)()
		ctx := context.Background()
		a, err := s.apps.App(ctx, appID)
		if err != nil || a.KernelID != k.ID() || !a.State.KernelUp() {
			return // deleted, stopped, or on another kernel by now
		}
		kerr := k.Err()
		if kerr == nil {
			kerr = errors.New("the kernel was shut down")
		}
		// A kernel gone without a Stop (culled idle, dead beyond its restart
		// budget, shut down through the kernels API) leaves the app failed
		// with its checkpoint, so Open or Restore brings it back.
		_, err = s.transition(ctx, appID, StateFailed, func(x *App) { x.Error, x.KernelID = kerr.Error(), "" })
		if err != nil {
			s.log.Warn("app not updated after its kernel ended", "app", appID, "err", err)
			return
		}
		s.log.Info("app failed: kernel ended", "app", appID, "kernel", k.ID(), "reason", kerr)
	})
}

// SaveCheckpoint is Save & Checkpoint: it writes notebook (nil keeps the
// file as it is) atomically, keeps a copy as the app's restore point, and
// moves a running app to running+checkpointed; the kernel and its state stay
// up. Errors wrap ErrNotFound, ErrInvalid (not a notebook), ErrConflict (the
// app's kernel is not up: open it first).
func (s *Service) SaveCheckpoint(ctx context.Context, id string, notebook []byte) (App, error) {
	defer s.lock(id)()
	a, err := s.apps.App(ctx, id)
	if err != nil {
		return App{}, fmt.Errorf("save and checkpoint: %w", err)
	}
	if !a.State.CanTransition(StateCheckpointed) || a.State == StateStarting {
		return App{}, fmt.Errorf("save and checkpoint app %q: it is %s; open it first: %w", a.Name, a.State, ErrConflict)
	}
	if notebook != nil {
		if _, err := s.nbs.Put(ctx, a.Notebook, notebook); err != nil {
			return App{}, fmt.Errorf("save app %q: %w", a.Name, err)
		}
	}
	cp, err := s.nbs.CreateCheckpoint(ctx, a.Notebook)
	if err != nil {
		return App{}, fmt.Errorf("checkpoint app %q: %w", a.Name, err)
	}
	return s.transition(ctx, id, StateCheckpointed, func(x *App) { x.Checkpoint = &cp })
}

// Stop shuts the app's kernel down and deletes its checkpoint; the notebook
// stays. running, running+checkpointed or failed → stopping → stopped.
// Stopping a stopped app is a no-op. Errors wrap ErrNotFound, ErrConflict
// (the app is starting).
func (s *Service) Stop(ctx context.Context, id string) (App, error) {
	defer s.lock(id)()
	a, err := s.apps.App(ctx, id)
	if err != nil {
		return App{}, fmt.Errorf("stop app: %w", err)
	}
	if a.State == StateStopped {
		return a, nil
	}
	if a, err = s.transition(ctx, id, StateStopping, nil); err != nil {
		return App{}, fmt.Errorf("stop app: %w", err)
	}
	s.shutdownKernel(ctx, a.KernelID)
	if a.Checkpoint != nil {
		if err := s.nbs.DeleteCheckpoint(ctx, a.Notebook, a.Checkpoint.ID); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("checkpoint not deleted", "app", id, "err", err)
		}
	}
	return s.transition(context.WithoutCancel(ctx), id, StateStopped, func(x *App) { x.KernelID, x.Checkpoint = "", nil })
}

// ReplayedCell is one cell Restore ran.
type ReplayedCell struct {
	// Index is the cell's position in the notebook.
	Index int `json:"index"`
	// ExecutionCount is the count the cell had in the checkpoint.
	ExecutionCount int `json:"execution_count"`
	// Source is the code replayed.
	Source string `json:"source"`
	// Status is the execute_reply status: "ok", "error" or "aborted".
	Status string `json:"status"`
	// Outputs are the replay's outputs as nbformat 4 output objects.
	Outputs []map[string]any `json:"outputs"`
}

// Replay is what Restore ran.
type Replay struct {
	Cells []ReplayedCell `json:"cells"`
	// Skipped counts the executed cells not run because an earlier one
	// failed.
	Skipped int `json:"skipped"`
}

// Restore rebuilds an app's kernel state from its checkpoint: a fresh
// kernel (started for a stopped or failed app, restarted for a running one)
// runs the checkpoint's executed code cells in execution-count order,
// stopping at the first that fails. The app ends running+checkpointed (the
// checkpoint stays) and the replay's outputs are returned, also when a cell
// failed (then with an error wrapping ErrKernel naming the cell). Errors
// wrap ErrNotFound, ErrConflict (no checkpoint: Save & Checkpoint first; or
// the app is starting or stopping), ErrInvalid (the checkpoint is not a
// notebook).
func (s *Service) Restore(ctx context.Context, id string) (App, *Replay, error) {
	defer s.lock(id)()
	a, err := s.apps.App(ctx, id)
	if err != nil {
		return App{}, nil, fmt.Errorf("restore app: %w", err)
	}
	if a.Checkpoint == nil {
		return App{}, nil, fmt.Errorf("restore app %q: it has no checkpoint; use Save & Checkpoint first: %w", a.Name, ErrConflict)
	}
	data, err := s.nbs.GetCheckpoint(ctx, a.Notebook, a.Checkpoint.ID)
	if err != nil {
		return App{}, nil, fmt.Errorf("restore app %q: %w", a.Name, err)
	}
	cells, err := executedCells(data)
	if err != nil {
		return App{}, nil, fmt.Errorf("restore app %q: %w", a.Name, err)
	}
	var k Kernel
	if a.State.KernelUp() {
		if k, err = s.kernels.LookupKernel(a.KernelID); err == nil {
			if err = k.Restart(ctx); err != nil {
				return App{}, nil, fmt.Errorf("restore app %q: %w: %w", a.Name, ErrKernel, err)
			}
			if a, err = s.transition(ctx, id, StateCheckpointed, nil); err != nil {
				return App{}, nil, err
			}
		}
	}
	if k == nil {
		if a, err = s.start(ctx, a, StateCheckpointed); err != nil {
			return App{}, nil, fmt.Errorf("restore: %w", err)
		}
		if k, err = s.kernels.LookupKernel(a.KernelID); err != nil {
			return a, nil, fmt.Errorf("restore app %q: %w: %w", a.Name, ErrKernel, err)
		}
	}
	replay := &Replay{}
	for i, c := range cells {
		cctx, cancel := context.WithTimeout(ctx, s.replayT)
		ex, err := k.Execute(cctx, c.Source, jupyter.ExecuteOptions{})
		cancel()
		rc := ReplayedCell{Index: c.Index, ExecutionCount: c.ExecutionCount, Source: c.Source}
		if ex != nil {
			rc.Outputs = nbOutputs(ex.Outputs)
			if rep, rerr := ex.ReplyContent(); rerr == nil {
				rc.Status = rep.Status
			}
		}
		replay.Cells = append(replay.Cells, rc)
		if err != nil || rc.Status != "ok" {
			replay.Skipped = len(cells) - i - 1
			if err == nil {
				err = fmt.Errorf("cell %d (execution count %d) replied %s", c.Index, c.ExecutionCount, rc.Status)
			}
			return a, replay, fmt.Errorf("restore app %q: %w: %w", a.Name, ErrKernel, err)
		}
	}
	s.log.Info("app restored", "app", id, "cells", len(replay.Cells))
	return a, replay, nil
}

type codeCell struct {
	Index          int
	ExecutionCount int
	Source         string
}

// executedCells returns the code cells of a notebook that have an execution
// count, ordered by it (notebook order for equal counts).
func executedCells(data []byte) ([]codeCell, error) {
	var nb struct {
		Cells []struct {
			CellType       string          `json:"cell_type"`
			Source         json.RawMessage `json:"source"`
			ExecutionCount *int            `json:"execution_count"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, fmt.Errorf("the checkpoint is not a notebook: %v: %w", err, ErrInvalid)
	}
	var cells []codeCell
	for i, c := range nb.Cells {
		if c.CellType != "code" || c.ExecutionCount == nil {
			continue
		}
		src, err := multiline(c.Source)
		if err != nil {
			return nil, fmt.Errorf("the checkpoint's cell %d: %v: %w", i, err, ErrInvalid)
		}
		if strings.TrimSpace(src) == "" {
			continue
		}
		cells = append(cells, codeCell{Index: i, ExecutionCount: *c.ExecutionCount, Source: src})
	}
	sort.SliceStable(cells, func(i, j int) bool { return cells[i].ExecutionCount < cells[j].ExecutionCount })
	return cells, nil
}

// multiline decodes nbformat's multiline string: a string or a list of
// strings.
func multiline(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []string
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", err
	}
	return strings.Join(parts, ""), nil
}

// nbOutputs turns iopub messages into nbformat 4 outputs.
func nbOutputs(msgs []*jupyter.Message) []map[string]any {
	outs := []map[string]any{}
	for _, m := range msgs {
		var c map[string]any
		if m.DecodeContent(&c) != nil {
			continue
		}
		switch m.Type() {
		case "stream":
			outs = append(outs, map[string]any{"output_type": "stream", "name": c["name"], "text": c["text"]})
		case "display_data":
			outs = append(outs, map[string]any{"output_type": "display_data", "data": c["data"], "metadata": orEmpty(c["metadata"])})
		case "execute_result":
			outs = append(outs, map[string]any{"output_type": "execute_result", "data": c["data"], "metadata": orEmpty(c["metadata"]), "execution_count": c["execution_count"]})
		case "error":
			outs = append(outs, map[string]any{"output_type": "error", "ename": c["ename"], "evalue": c["evalue"], "traceback": orList(c["traceback"])})
		}
	}
	return outs
}

func orEmpty(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

func orList(v any) any {
	if v == nil {
		return []any{}
	}
	return v
}
