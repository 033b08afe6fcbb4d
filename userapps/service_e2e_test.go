package userapps_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/kernels"
)

// The whole life with real kernel processes: open, run cells, Save &
// Checkpoint, the kernel is lost, Restore rebuilds the state by replaying
// the checkpoint, Stop.
func TestLifecycleWithRealKernels(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernel processes")
	}
	km, err := kernels.New(kernels.Options{
		Binary:     flowlabtest.Binary(t),
		RuntimeDir: filepath.Join(t.TempDir(), "rt"),
		Args:       []string{"--engine-threads", "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(km.Close)
	e := newEnv(t, km)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	a, err := e.svc.Create(ctx, userapps.CreateRequest{Owner: "alice", Name: "Threshold"})
	if err != nil {
		t.Fatal(err)
	}
	a, err = e.svc.Open(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	k, err := km.Get(a.KernelID)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"threshold := 20", "threshold = threshold*2 + 2"} {
		if ex, err := k.Execute(ctx, code, jupyter.ExecuteOptions{}); err != nil {
			t.Fatal(err)
		} else if rep, _ := ex.ReplyContent(); rep.Status != "ok" {
			t.Fatalf("%s: %+v", code, rep)
		}
	}
	// What the front end saves: both cells executed, in order.
	if a, err = e.svc.SaveCheckpoint(ctx, a.ID, notebook("threshold := 20", 1, "threshold = threshold*2 + 2", 2, "threshold", -1)); err != nil {
		t.Fatal(err)
	}

	// The kernel goes away without a Stop (here: shut down behind the
	// app's back, as a cull or a dead kernel would).
	k.Shutdown(ctx)
	a = waitState(t, e, a.ID, userapps.StateFailed)
	if a.Checkpoint == nil {
		t.Fatal("the checkpoint was lost with the kernel")
	}

	a, replay, err := e.svc.Restore(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.State != userapps.StateCheckpointed || len(replay.Cells) != 2 || replay.Cells[1].Status != "ok" {
		t.Fatalf("Restore = %+v, %+v", a, replay)
	}
	k2, err := km.Get(a.KernelID)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := k2.Execute(ctx, "threshold", jupyter.ExecuteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, m := range ex.Outputs {
		if m.Type() == "execute_result" {
			var r jupyter.ExecuteResult
			m.DecodeContent(&r)
			got, _ = r.Data["text/plain"].(string)
		}
	}
	if got != "42" {
		t.Fatalf("state after restore: threshold = %q, want 42", got)
	}

	a, err = e.svc.Stop(ctx, a.ID)
	if err != nil || a.State != userapps.StateStopped {
		t.Fatalf("Stop = %+v, %v", a, err)
	}
	select {
	case <-k2.Done():
	default:
		t.Fatal("Stop left the kernel running")
	}
	if len(km.Kernels()) != 0 {
		t.Fatalf("%d kernels left", len(km.Kernels()))
	}
}
