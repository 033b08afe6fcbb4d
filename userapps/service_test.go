package userapps_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/files"
	"github.com/flowlab/flowlab/userapps/sqlite"
)

// fakeKernels is an in-memory KernelManager whose kernels "run" a cell by
// recording it; a cell containing "fail" fails.
type fakeKernels struct {
	mu       sync.Mutex
	kernels  map[string]*fakeKernel
	startErr error
	dirs     []string
}

var _ userapps.KernelManager = (*fakeKernels)(nil)

type fakeKernel struct {
	id       string
	mu       sync.Mutex
	ran      []string
	restarts int
	done     chan struct{}
	err      error
	once     sync.Once
	m        *fakeKernels
}

func (f *fakeKernels) StartKernel(ctx context.Context, app userapps.App, dir string) (userapps.Kernel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, fmt.Errorf("%w: %w", userapps.ErrKernel, f.startErr)
	}
	if f.kernels == nil {
		f.kernels = map[string]*fakeKernel{}
	}
	k := &fakeKernel{id: userapps.NewID(), done: make(chan struct{}), m: f}
	f.kernels[k.id] = k
	f.dirs = append(f.dirs, dir)
	return k, nil
}

func (f *fakeKernels) LookupKernel(id string) (userapps.Kernel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k, ok := f.kernels[id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("kernel %s: %w", id, userapps.ErrNotFound)
}

func (f *fakeKernels) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.kernels)
}

func (k *fakeKernel) ID() string { return k.id }

func msg(typ string, content any) *jupyter.Message {
	b, _ := json.Marshal(content)
	return &jupyter.Message{Header: jupyter.Header{MsgType: typ}, Content: b}
}

func (k *fakeKernel) Execute(ctx context.Context, code string, opts jupyter.ExecuteOptions) (*jupyter.Execution, error) {
	k.mu.Lock()
	k.ran = append(k.ran, code)
	n := len(k.ran)
	k.mu.Unlock()
	ex := &jupyter.Execution{Outputs: []*jupyter.Message{msg("status", jupyter.Status{ExecutionState: "busy"})}}
	status := "ok"
	if strings.Contains(code, "fail") {
		status = "error"
		ex.Outputs = append(ex.Outputs, msg("error", jupyter.ErrorContent{EName: "ERROR", EValue: "failed", Traceback: []string{"failed"}}))
	} else {
		ex.Outputs = append(ex.Outputs, msg("stream", jupyter.Stream{Name: "stdout", Text: "ran " + code}),
			msg("execute_result", jupyter.ExecuteResult{ExecutionCount: n, Data: map[string]any{"text/plain": code}}))
	}
	ex.Reply = msg("execute_reply", map[string]any{"status": status, "execution_count": n})
	return ex, nil
}

func (k *fakeKernel) Restart(ctx context.Context) error {
	k.mu.Lock()
	k.ran, k.restarts = nil, k.restarts+1
	k.mu.Unlock()
	return nil
}

// end stops the kernel with err (nil for a Shutdown).
func (k *fakeKernel) end(err error) {
	k.once.Do(func() {
		k.m.mu.Lock()
		delete(k.m.kernels, k.id)
		k.m.mu.Unlock()
		k.mu.Lock()
		k.err = err
		k.mu.Unlock()
		close(k.done)
	})
}

func (k *fakeKernel) Shutdown(ctx context.Context) error { k.end(nil); return nil }
func (k *fakeKernel) Done() <-chan struct{}              { return k.done }
func (k *fakeKernel) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

type env struct {
	svc  *userapps.Service
	db   *sqlite.DB
	nbs  *files.Notebooks
	fk   *fakeKernels
	t0   time.Time
	stop func()
}

func newEnv(t *testing.T, km userapps.KernelManager) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Second); return now }
	db, err := sqlite.Open(ctx, filepath.Join(dir, "flowlab.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	nbs, err := files.Open(filepath.Join(dir, "notebooks"), files.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nbs.Close() })
	for _, u := range []string{"alice", "bob"} {
		if err := db.CreateUser(ctx, userapps.User{Name: u, Role: userapps.RoleDeveloper}); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{db: db, nbs: nbs}
	if km == nil {
		e.fk = &fakeKernels{}
		km = e.fk
	}
	e.svc, err = userapps.NewService(userapps.ServiceOptions{Apps: db, Notebooks: nbs, Kernels: km, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// notebook returns a notebook whose code cells have the given sources and
// execution counts (-1 for never executed).
func notebook(cells ...any) []byte {
	var cs []map[string]any
	for i := 0; i < len(cells); i += 2 {
		c := map[string]any{"cell_type": "code", "source": cells[i], "metadata": map[string]any{}, "outputs": []any{}, "execution_count": cells[i+1]}
		if cells[i+1] == -1 {
			c["execution_count"] = nil
		}
		cs = append(cs, c)
	}
	cs = append(cs, map[string]any{"cell_type": "markdown", "source": "# notes", "metadata": map[string]any{}})
	b, _ := json.Marshal(map[string]any{"cells": cs, "metadata": map[string]any{}, "nbformat": 4, "nbformat_minor": 5})
	return b
}

func TestCreateRenameDelete(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	blank, err := e.svc.Create(ctx, userapps.CreateRequest{Owner: "alice", Name: "Scratch"})
	if err != nil || blank.State != userapps.StateStopped || blank.Notebook != "alice/Scratch.ipynb" || blank.Created.IsZero() {
		t.Fatalf("Create blank = %+v, %v", blank, err)
	}
	if data, _, err := e.nbs.Get(ctx, blank.Notebook); err != nil || !bytes.Equal(data, userapps.BlankNotebook()) {
		t.Fatalf("blank notebook: %s, %v", data, err)
	}
	example := notebook("x := 1", -1)
	lab, err := e.svc.Create(ctx, userapps.CreateRequest{Owner: "alice", Name: "Lab 1: basics", Notebook: example})
	if err != nil {
		t.Fatal(err)
	}
	if data, _, _ := e.nbs.Get(ctx, lab.Notebook); !bytes.Equal(data, example) {
		t.Fatalf("example notebook not stored as given: %s", data)
	}
	for _, tc := range []struct {
		name string
		req  userapps.CreateRequest
		want error
	}{
		{"taken name", userapps.CreateRequest{Owner: "alice", Name: "Scratch"}, userapps.ErrConflict},
		{"bad name", userapps.CreateRequest{Owner: "alice", Name: "../../etc"}, userapps.ErrInvalid},
		{"bad owner", userapps.CreateRequest{Owner: "../x", Name: "X"}, userapps.ErrInvalid},
		{"unknown owner", userapps.CreateRequest{Owner: "carol", Name: "X"}, userapps.ErrNotFound},
		{"not a notebook", userapps.CreateRequest{Owner: "alice", Name: "Bad", Notebook: []byte("{}")}, userapps.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.svc.Create(ctx, tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("Create = %v, want %v", err, tc.want)
			}
		})
	}
	// A failed create leaves no notebook behind.
	if _, err := e.nbs.Stat(ctx, "carol/X.ipynb"); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("notebook of a refused app: %v", err)
	}
	// The same name is fine for another owner.
	if _, err := e.svc.Create(ctx, userapps.CreateRequest{Owner: "bob", Name: "Scratch"}); err != nil {
		t.Fatal(err)
	}

	if _, err := e.svc.Open(ctx, lab.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SaveCheckpoint(ctx, lab.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Rename(ctx, lab.ID, "Scratch"); !errors.Is(err, userapps.ErrConflict) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	renamed, err := e.svc.Rename(ctx, lab.ID, "Lab 1 renamed")
	if err != nil || renamed.Name != "Lab 1 renamed" || renamed.Notebook != "alice/Lab 1 renamed.ipynb" || renamed.State != userapps.StateCheckpointed {
		t.Fatalf("Rename = %+v, %v", renamed, err)
	}
	if cps, _ := e.nbs.Checkpoints(ctx, renamed.Notebook); len(cps) != 1 {
		t.Fatalf("checkpoint did not follow the rename: %v", cps)
	}
	if err := e.svc.Delete(ctx, lab.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.App(ctx, lab.ID); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("deleted app: %v", err)
	}
	if _, err := e.nbs.Stat(ctx, renamed.Notebook); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("deleted app's notebook: %v", err)
	}
	if e.fk.running() != 0 {
		t.Fatal("deleting a running app left its kernel")
	}
	if err := e.svc.Delete(ctx, lab.ID); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestOpenCheckpointStop(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	a, _ := e.svc.Create(ctx, userapps.CreateRequest{Owner: "alice", Name: "Detector"})
	if _, err := e.svc.SaveCheckpoint(ctx, a.ID, nil); !errors.Is(err, userapps.ErrConflict) {
		t.Fatalf("checkpoint of a stopped app: %v", err)
	}
	open, err := e.svc.Open(ctx, a.ID)
	if err != nil || open.State != userapps.StateRunning || open.KernelID == "" {
		t.Fatalf("Open = %+v, %v", open, err)
	}
	if dir := e.fk.dirs[0]; dir != filepath.Join(e.nbs.Dir(), "alice") {
		t.Errorf("kernel dir %s", dir)
	}
	again, err := e.svc.Open(ctx, a.ID)
	if err != nil || again.KernelID != open.KernelID || e.fk.running() != 1 {
		t.Fatalf("second Open = %+v, %v (%d kernels)", again, err, e.fk.running())
	}
	saved := notebook("x := 1", 1)
	cp, err := e.svc.SaveCheckpoint(ctx, a.ID, saved)
	if err != nil || cp.State != userapps.StateCheckpointed || cp.Checkpoint == nil || cp.KernelID != open.KernelID {
		t.Fatalf("SaveCheckpoint = %+v, %v", cp, err)
	}
	if data, _ := e.nbs.GetCheckpoint(ctx, a.Notebook, cp.Checkpoint.ID); !bytes.Equal(data, saved) {
		t.Fatalf("checkpoint content %s", data)
	}
	if _, err := e.svc.SaveCheckpoint(ctx, a.ID, []byte("{")); !errors.Is(err, userapps.ErrInvalid) {
		t.Fatalf("saving garbage: %v", err)
	}
	// Checkpointing again keeps the state and the kernel.
	cp2, err := e.svc.SaveCheckpoint(ctx, a.ID, notebook("x := 2", 2))
	if err != nil || cp2.State != userapps.StateCheckpointed || !cp2.Checkpoint.Created.After(cp.Checkpoint.Created) {
		t.Fatalf("second SaveCheckpoint = %+v, %v", cp2, err)
	}
	stopped, err := e.svc.Stop(ctx, a.ID)
	if err != nil || stopped.State != userapps.StateStopped || stopped.KernelID != "" || stopped.Checkpoint != nil {
		t.Fatalf("Stop = %+v, %v", stopped, err)
	}
	if e.fk.running() != 0 {
		t.Fatal("Stop left the kernel running")
	}
	if cps, _ := e.nbs.Checkpoints(ctx, a.Notebook); len(cps) != 0 {
		t.Fatalf("Stop kept the checkpoint %v", cps)
	}
	if data, _, _ := e.nbs.Get(ctx, a.Notebook); !bytes.Equal(data, notebook("x := 2", 2)) {
		t.Fatalf("the notebook did not stay: %s", data)
	}
	if again, err := e.svc.Stop(ctx, a.ID); err != nil || again.State != userapps.StateStopped {
		t.Fatalf("second Stop = %+v, %v", again, err)
	}
	if _, _, err := e.svc.Restore(ctx, a.ID); !errors.Is(err, userapps.ErrConflict) {
		t.Fatalf("restore without a checkpoint: %v", err)
	}
}

func waitState(t *testing.T, e *env, id string, want userapps.State) userapps.App {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := e.db.App(context.Background(), id)
		if err == nil && a.State == want {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("app state %s, want %s (%v)", a.State, want, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKernelFailures(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	a, _ := e.svc.Create(ctx, userapps.CreateRequest{Owner: "alice", Name: "Flaky"})

	e.fk.startErr = errors.New("no memory")
	if _, err := e.svc.Open(ctx, a.ID); !errors.Is(err, userapps.ErrKernel) {
		t.Fatalf("Open with a failing kernel: %v", err)
	}
	failed, _ := e.db.App(ctx, a.ID)
	if failed.State != userapps.StateFailed || !strings.Contains(failed.Error, "no memory") {
		t.Fatalf("after a failed start: %+v", failed)
	}
	e.fk.startErr = nil
	open, err := e.svc.Open(ctx, a.ID)
	if err != nil || open.State != userapps.StateRunning || open.Error != "" {
		t.Fatalf("Open after a failure = %+v, %v", open, err)
	}
	if _, err := e.svc.SaveCheckpoint(ctx, a.ID, notebook("v := 1", 1)); err != nil {
		t.Fatal(err)
	}
	// The kernel dies beyond its restart budget: the app fails and keeps
	// its checkpoint.
	k, _ := e.fk.LookupKernel(open.KernelID)
	k.(*fakeKernel).end(errors.New("kernel dead: out of restarts"))
	dead := waitState(t, e, a.ID, userapps.StateFailed)
	if dead.KernelID != "" || dead.Checkpoint == nil || !strings.Contains(dead.Error, "out of restarts") {
		t.Fatalf("after the kernel died: %+v", dead)
	}
	restored, replay, err := e.svc.Restore(ctx, a.ID)
	if err != nil || restored.State != userapps.StateCheckpointed || len(replay.Cells) != 1 {
		t.Fatalf("Restore = %+v, %+v, %v", restored, replay, err)
	}
}

func TestReconcileAfterServerRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	a, _ := e.svc.Create(ctx, userapps.CreateRequest{Owner: "alice", Name: "Survivor"})
	b, _ := e.svc.Create(ctx, userapps.CreateRequest{Owner: "alice", Name: "Alive"})
	e.svc.Open(ctx, a.ID)
	e.svc.SaveCheckpoint(ctx, a.ID, notebook("y := 2", 1))
	e.svc.Open(ctx, b.ID)
	// A new server: same store, no kernels but b's.
	bApp, _ := e.db.App(ctx, b.ID)
	for id := range e.fk.kernels {
		if id != bApp.KernelID {
			delete(e.fk.kernels, id)
		}
	}
	svc2, _ := userapps.NewService(userapps.ServiceOptions{Apps: e.db, Notebooks: e.nbs, Kernels: e.fk})
	if err := svc2.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := e.db.App(ctx, a.ID)
	if got.State != userapps.StateFailed || got.Checkpoint == nil || got.KernelID != "" || !strings.Contains(got.Error, "restarted") {
		t.Fatalf("after reconcile: %+v", got)
	}
	if got, _ := e.db.App(ctx, b.ID); got.State != userapps.StateRunning {
		t.Fatalf("an app whose kernel lives was touched: %+v", got)
	}
	_, replay, err := svc2.Restore(ctx, a.ID)
	if err != nil || len(replay.Cells) != 1 || replay.Cells[0].Source != "y := 2" {
		t.Fatalf("Restore = %+v, %v", replay, err)
	}
}

func TestRestoreReplayOrder(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	a, _ := e.svc.Create(ctx, userapps.CreateRequest{Owner: "alice", Name: "Replay"})
	open, _ := e.svc.Open(ctx, a.ID)
	// Cells in notebook order, executed out of order; one never executed;
	// one given as a list of lines, as nbformat allows.
	nb := notebook("b := a + 1", 3, "a := 1", 1, "never()", -1, []string{"c := b\n", "c"}, 5, "   ", 4)
	if _, err := e.svc.SaveCheckpoint(ctx, a.ID, nb); err != nil {
		t.Fatal(err)
	}
	_, replay, err := e.svc.Restore(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range replay.Cells {
		order = append(order, c.Source)
		if c.Status != "ok" || len(c.Outputs) != 2 || c.Outputs[0]["output_type"] != "stream" || c.Outputs[1]["output_type"] != "execute_result" {
			t.Errorf("cell %d: %+v", c.Index, c)
		}
	}
	if got := strings.Join(order, "|"); got != "a := 1|b := a + 1|c := b\nc" {
		t.Fatalf("replay order %q", got)
	}
	k, _ := e.fk.LookupKernel(open.KernelID)
	fk := k.(*fakeKernel)
	if fk.restarts != 1 || len(fk.ran) != 3 {
		t.Fatalf("a running app's kernel must restart before the replay: %d restarts, ran %v", fk.restarts, fk.ran)
	}

	// A failing cell stops the replay; the outputs so far come back.
	if _, err := e.svc.SaveCheckpoint(ctx, a.ID, notebook("a := 1", 1, "fail()", 2, "b := 2", 3)); err != nil {
		t.Fatal(err)
	}
	_, replay, err = e.svc.Restore(ctx, a.ID)
	if !errors.Is(err, userapps.ErrKernel) || replay == nil || len(replay.Cells) != 2 || replay.Skipped != 1 || replay.Cells[1].Status != "error" || replay.Cells[1].Outputs[0]["output_type"] != "error" {
		t.Fatalf("Restore with a failing cell = %+v, %v", replay, err)
	}
}
