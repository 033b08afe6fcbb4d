package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/internal/flowlabtest"
	"github.com/flowlab/flowlab/kernel/jupyter"
)

// startKernel runs `flowlab kernel` with args and returns a connected client.
// The kernel is shut down when the test ends.
func startKernel(t *testing.T, env []string, args ...string) *jupyter.Client {
	t.Helper()
	k := flowlabtest.StartKernel(t, env, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := jupyter.Dial(ctx, k.Connection, jupyter.ClientOptions{})
	if err == nil {
		err = client.WaitReady(ctx)
	}
	if err != nil {
		t.Fatalf("connect to the kernel: %v\nstderr:\n%s", err, k.Stderr())
	}
	t.Cleanup(func() {
		client.Close()
		k.Shutdown(t)
	})
	return client
}

// runCell executes code and returns its reply and the text/plain of its result.
func runCell(t *testing.T, c *jupyter.Client, code string) (jupyter.ExecuteReply, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ex, err := c.Execute(ctx, code, jupyter.ExecuteOptions{})
	if err != nil {
		t.Fatalf("execute %q: %v", code, err)
	}
	rep, err := ex.ReplyContent()
	if err != nil {
		t.Fatalf("execute %q: %v", code, err)
	}
	var plain string
	for _, m := range ex.Outputs {
		if m.Type() != "execute_result" {
			continue
		}
		var res jupyter.ExecuteResult
		if err := m.DecodeContent(&res); err != nil {
			t.Fatal(err)
		}
		plain, _ = res.Data["text/plain"].(string)
	}
	return rep, plain
}

func TestKernelQueriesTheLake(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	lake := t.TempDir()
	gt, err := demo.Generate(context.Background(), demo.Options{Out: lake, Hours: 2, FlowsPerHour: demo.MinFlowsPerHour, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	// The lake comes from FLOWLAB_LAKE here; --lake is what kernel.json uses.
	for _, how := range []struct {
		name string
		env  []string
		args []string
	}{
		{"flag", flowlabtest.Env("FLOWLAB_LAKE="), []string{"--lake", lake}},
		{"environment", flowlabtest.Env("FLOWLAB_LAKE=" + lake), nil},
	} {
		t.Run(how.name, func(t *testing.T) {
			c := startKernel(t, how.env, how.args...)
			// IO and SQL are in scope with no import, and the package is
			// importable by path too.
			rep, plain := runCell(t, c, `n, err := IO.Read("/tetration/flows", "PARQUET", "LASTHOUR").Count()
import "github.com/flowlab/flowlab/datalake"
[]any{n, err == nil, datalake.IO == IO}`)
			want := "[" + jsonInt(gt.FlowsPerHour) + " true true]"
			if rep.Status != "ok" || plain != want {
				t.Fatalf("count: %s %s %q, want %q", rep.Status, rep.EValue, plain, want)
			}
			// What the cell API must not expose: reconfiguring the lake.
			if rep, _ := runCell(t, c, `datalake.Configure`); rep.Status != "error" || !strings.Contains(rep.EValue, "Configure") {
				t.Errorf("datalake.Configure reachable from a cell: %+v", rep)
			}
		})
	}
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestKernelInterruptStopsALakeQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	lake := t.TempDir()
	if err := os.MkdirAll(filepath.Join(lake, "tetration"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := startKernel(t, flowlabtest.Env("FLOWLAB_LAKE="), "--lake", lake, "--engine-threads", "1")
	if rep, _ := runCell(t, c, `SQL("SELECT 42 AS answer").Int64s("answer")`); rep.Status != "ok" {
		t.Fatalf("warm-up query: %+v", rep)
	}
	done := make(chan jupyter.ExecuteReply, 1)
	go func() {
		// Minutes of work for the engine: a cross join counted row by row.
		rep, _ := runCell(t, c, `SQL("SELECT count(*) AS n FROM range(2000000000) a, range(1000) b WHERE (a.range + b.range) % 7 = 3").Count()`)
		done <- rep
	}()
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.Interrupt(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case rep := <-done:
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("interrupt took %v", took)
		}
		if rep.Status != "error" || rep.EName != "Interrupted" {
			t.Errorf("interrupted cell replied %+v", rep)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the query was still running 10 s after the interrupt")
	}
	// The engine is free again: the next query does not wait for the old one.
	start = time.Now()
	if rep, plain := runCell(t, c, `SQL("SELECT 42 AS answer").Int64s("answer")`); rep.Status != "ok" || !strings.Contains(plain, "[42]") {
		t.Fatalf("query after interrupt: %+v %q", rep, plain)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the query after the interrupt took %v: the interrupted query kept the engine", took)
	}
}

func TestKernelWithoutALake(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	c := startKernel(t, flowlabtest.Env("FLOWLAB_LAKE="))
	rep, plain := runCell(t, c, `_, err := IO.Read("/tetration/flows", "PARQUET", "LASTHOUR").Count()
err.Error()`)
	if rep.Status != "ok" || !strings.Contains(plain, "--lake") || !strings.Contains(plain, "FLOWLAB_LAKE") {
		t.Fatalf("without a lake: %+v %q; want an error naming --lake and FLOWLAB_LAKE", rep, plain)
	}
}
