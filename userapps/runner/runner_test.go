package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/kernels"
	"github.com/flowlab/flowlab/userapps/runner"
)

// starter is the kernel manager, remembering the kernels it started so a
// test can kill one or check it was shut down.
type starter struct {
	m       *kernels.Manager
	mu      sync.Mutex
	started []*kernels.Kernel
	ready   chan *kernels.Kernel
}

func (s *starter) StartKernel(ctx context.Context, app userapps.App, dir string) (userapps.Kernel, error) {
	k, err := s.m.Start(ctx, kernels.StartOptions{AppID: app.ID, Dir: dir})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.started = append(s.started, k)
	s.mu.Unlock()
	select {
	case s.ready <- k:
	default:
	}
	return k, nil
}

// newRunner returns a runner on a real kernel manager (no restarts, as
// flowlab run configures it).
func newRunner(t *testing.T) (*runner.Runner, *starter) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kernel processes")
	}
	m, err := kernels.New(kernels.Options{
		Binary:      flowlabtest.Binary(t),
		RuntimeDir:  filepath.Join(t.TempDir(), "runtime"),
		Args:        []string{"--engine-threads", "1"},
		MaxRestarts: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	s := &starter{m: m, ready: make(chan *kernels.Kernel, 1)}
	r, err := runner.New(runner.Options{Kernels: s, SaveInterval: 50 * time.Millisecond, InterruptGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Every kernel a run started is shut down when Run returns.
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, k := range s.started {
			select {
			case <-k.Done():
			default:
				t.Errorf("kernel %s still running after the run", k.ID())
			}
		}
	})
	return r, s
}

// cell is a test notebook cell: Go source and tags.
type cell struct {
	src  string
	tags []string
}

func notebook(t *testing.T, cells ...cell) []byte {
	t.Helper()
	var cs []map[string]any
	for i, c := range cells {
		md := map[string]any{}
		if c.tags != nil {
			md["tags"] = c.tags
		}
		cs = append(cs, map[string]any{"cell_type": "code", "id": "c" + string(rune('a'+i)), "metadata": md,
			"source": c.src, "outputs": []any{}, "execution_count": nil})
	}
	data, err := json.Marshal(map[string]any{
		"cells": cs, "nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]any{"name": "flowlab-go", "display_name": "Go (flowlab)", "language": "go"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// executed is the part of an executed notebook the tests look at.
type executed struct {
	Cells []struct {
		ID             string          `json:"id"`
		Source         string          `json:"source"`
		ExecutionCount *int            `json:"execution_count"`
		Metadata       json.RawMessage `json:"metadata"`
		Outputs        []struct {
			OutputType     string            `json:"output_type"`
			Name           string            `json:"name"`
			Text           string            `json:"text"`
			Data           map[string]string `json:"data"`
			ExecutionCount int               `json:"execution_count"`
			EName          string            `json:"ename"`
			EValue         string            `json:"evalue"`
		} `json:"outputs"`
	} `json:"cells"`
	Metadata struct {
		Kernelspec map[string]string `json:"kernelspec"`
		Flowlab    struct {
			Run struct {
				Status     string         `json:"status"`
				Parameters map[string]any `json:"parameters"`
			} `json:"run"`
		} `json:"flowlab"`
	} `json:"metadata"`
}

func decode(t *testing.T, data []byte) executed {
	t.Helper()
	var nb executed
	if err := json.Unmarshal(data, &nb); err != nil {
		t.Fatalf("executed notebook: %v\n%s", err, data)
	}
	return nb
}

// validate writes the notebook and has nbformat validate it.
func validate(t *testing.T, data []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out.ipynb")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	flowlabtest.ValidateNotebook(t, p)
}

// text is all of a cell's stream text and text/plain results.
func (nb executed) text(i int) string {
	var b strings.Builder
	for _, o := range nb.Cells[i].Outputs {
		b.WriteString(o.Text + o.Data["text/plain"])
	}
	return b.String()
}

// snapshots records what Job.Save gets.
type snapshots struct {
	mu   sync.Mutex
	got  [][]byte
	when []time.Time
	seen chan struct{} // signalled at each save
}

func newSnapshots() *snapshots { return &snapshots{seen: make(chan struct{}, 1)} }

func (s *snapshots) save(_ context.Context, nb []byte) error {
	s.mu.Lock()
	s.got = append(s.got, nb)
	s.when = append(s.when, time.Now())
	s.mu.Unlock()
	select {
	case s.seen <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits for a saved notebook holding text (as JSON writes it: an
// output's line ends in `\n`, which a cell's source does not hold).
func (s *snapshots) waitFor(t *testing.T, text string) time.Time {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		for i, nb := range s.got {
			if strings.Contains(string(nb), text) {
				s.mu.Unlock()
				return s.when[i]
			}
		}
		s.mu.Unlock()
		select {
		case <-s.seen:
		case <-deadline:
			t.Errorf("no saved notebook holds %q", text) // may run in another goroutine: no Fatal
			return time.Time{}
		}
	}
}

func TestRunSucceedsWithParameters(t *testing.T) {
	r, _ := newRunner(t)
	snaps := newSnapshots()
	job := runner.Job{
		Notebook: notebook(t,
			cell{src: `import "fmt"`},
			cell{src: "threshold := 10\nratio := 0.5\nlabel := \"default\"", tags: []string{"parameters"}},
			cell{src: `fmt.Println("threshold", threshold, "ratio", ratio, "label", label, "hour", hour)`},
			cell{src: `panic("expected")`, tags: []string{"raises-exception"}},
			cell{src: "id := display.Show(display.Text(\"step 0\"))\ndisplay.Update(id, display.Text(\"step 1\"))\nfmt.Print(\"a\")\nfmt.Print(\"b\\n\")\nthreshold * 2"},
			cell{src: "   \n"},
		),
		Parameters:     map[string]any{"threshold": runner.Text("5"), "ratio": runner.Text("2"), "label": runner.Text("42"), "hour": "0800"},
		ParametersFrom: "the test",
		Save:           snaps.save,
	}
	res, err := r.Run(context.Background(), job)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != userapps.RunSucceeded || res.Error != nil || res.Finished.Before(res.Started) {
		t.Fatalf("result %+v", res)
	}
	want := map[string]any{"threshold": int64(5), "ratio": 2.0, "label": "42", "hour": "0800"}
	for k, v := range want {
		if res.Parameters[k] != v {
			t.Errorf("parameter %s = %#v, want %#v", k, res.Parameters[k], v)
		}
	}
	if len(res.Notices) != 1 || !strings.Contains(res.Notices[0], `"hour"`) {
		t.Errorf("notices %q, want one about hour", res.Notices)
	}
	nb := decode(t, res.Notebook)
	if len(nb.Cells) != 7 {
		t.Fatalf("%d cells, want 7 (6 and the injected one)", len(nb.Cells))
	}
	inj := nb.Cells[2]
	if !strings.Contains(string(inj.Metadata), `"injected-parameters"`) || inj.ID != "injected-parameters" {
		t.Errorf("cell 2 is not the injected cell: %s %s", inj.ID, inj.Metadata)
	}
	for _, line := range []string{"// Parameters injected by flowlab from the test", "threshold = 5", "ratio = 2", `label = "42"`, `hour := "0800"`} {
		if !strings.Contains(inj.Source, line) {
			t.Errorf("injected source lacks %q:\n%s", line, inj.Source)
		}
	}
	if got := nb.text(3); got != "threshold 5 ratio 2 label 42 hour 0800\n" {
		t.Errorf("cell 3 printed %q", got)
	}
	if o := nb.Cells[4].Outputs; len(o) != 1 || o[0].OutputType != "error" || o[0].EValue != "expected" {
		t.Errorf("raises-exception cell outputs %+v", o)
	}
	outs := nb.Cells[5].Outputs
	if len(outs) != 3 || outs[0].Data["text/plain"] != "step 1" || outs[1].Text != "ab\n" ||
		outs[2].OutputType != "execute_result" || outs[2].Data["text/plain"] != "10" || outs[2].ExecutionCount != *nb.Cells[5].ExecutionCount {
		t.Errorf("cell 5 outputs %+v (want the updated display, one merged stream, the result)", outs)
	}
	for i, c := range nb.Cells {
		if (c.ExecutionCount == nil) != (i == 6) {
			t.Errorf("cell %d execution count %v (only the empty cell has none)", i, c.ExecutionCount)
		}
		if i < 6 && !strings.Contains(string(c.Metadata), "shell.execute_reply") {
			t.Errorf("cell %d has no execution timestamps: %s", i, c.Metadata)
		}
	}
	if nb.Metadata.Kernelspec["name"] != "flowlab-go" || nb.Metadata.Flowlab.Run.Status != "succeeded" {
		t.Errorf("notebook metadata %+v", nb.Metadata)
	}
	snaps.mu.Lock()
	last := snaps.got[len(snaps.got)-1]
	snaps.mu.Unlock()
	if string(last) != string(res.Notebook) {
		t.Error("the last save is not the result's notebook")
	}
	validate(t, res.Notebook)
}

func TestRunStopsAtAnError(t *testing.T) {
	r, _ := newRunner(t)
	res, err := r.Run(context.Background(), runner.Job{Notebook: notebook(t,
		cell{src: `x := 1`},
		cell{src: `y := undefinedName + x`},
		cell{src: `x + 1`},
	)})
	var re *runner.RunError
	if !errors.As(err, &re) || !errors.Is(err, runner.ErrCellFailed) {
		t.Fatalf("err = %v, want a RunError wrapping ErrCellFailed", err)
	}
	if res.Status != userapps.RunFailed || res.Error != re {
		t.Fatalf("status %s, error %v", res.Status, res.Error)
	}
	if re.Cell != 1 || re.ExecutionCount != 2 || re.EName != "CompileError" || !strings.Contains(re.EValue, "undefinedName") || len(re.Traceback) == 0 {
		t.Errorf("summary %+v", re)
	}
	if !strings.HasPrefix(err.Error(), "cell 1 (In [2]): CompileError: ") {
		t.Errorf("error text %q", err)
	}
	nb := decode(t, res.Notebook)
	if o := nb.Cells[1].Outputs; len(o) != 1 || o[0].OutputType != "error" {
		t.Errorf("failed cell outputs %+v, want its error", o)
	}
	if nb.Cells[2].ExecutionCount != nil || len(nb.Cells[2].Outputs) != 0 {
		t.Errorf("the cell after the error ran: %+v", nb.Cells[2])
	}
	if nb.Metadata.Flowlab.Run.Status != "failed" {
		t.Errorf("run metadata %+v", nb.Metadata.Flowlab.Run)
	}
	validate(t, res.Notebook)
}

func TestCellTimeoutInterrupts(t *testing.T) {
	r, _ := newRunner(t)
	start := time.Now()
	res, err := r.Run(context.Background(), runner.Job{
		Notebook:    notebook(t, cell{src: `n := 0`}, cell{src: "for {\n\tn++\n}"}, cell{src: `n`}),
		CellTimeout: time.Second,
	})
	took := time.Since(start)
	if !errors.Is(err, runner.ErrCellTimeout) || res.Status != userapps.RunTimedOut {
		t.Fatalf("err %v, status %s; want a cell timeout", err, res.Status)
	}
	if res.Error.Cell != 1 || res.Error.EName != "CellTimeout" || res.Error.ExecutionCount != 2 {
		t.Errorf("summary %+v", res.Error)
	}
	if took > 15*time.Second {
		t.Errorf("took %s", took)
	}
	nb := decode(t, res.Notebook)
	if o := nb.Cells[1].Outputs; len(o) != 1 || o[0].EName != "Interrupted" {
		t.Errorf("interrupted cell outputs %+v, want the kernel's Interrupted error", o)
	}
	if nb.Cells[2].ExecutionCount != nil {
		t.Error("the cell after the timeout ran")
	}
}

func TestRunTimeout(t *testing.T) {
	r, _ := newRunner(t)
	res, err := r.Run(context.Background(), runner.Job{
		Notebook: notebook(t, cell{src: `import "time"`}, cell{src: `time.Sleep(time.Second)`}, cell{src: `time.Sleep(time.Minute)`}, cell{src: `1`}),
		Timeout:  4 * time.Second,
	})
	if !errors.Is(err, runner.ErrRunTimeout) || res.Status != userapps.RunTimedOut || res.Error.EName != "RunTimeout" {
		t.Fatalf("err %v, status %s", err, res.Status)
	}
	if res.Error.Cell != 2 {
		t.Errorf("timed out in cell %d, want 2", res.Error.Cell)
	}
	if d := res.Duration(); d < 4*time.Second || d > 15*time.Second {
		t.Errorf("the run lasted %s, want about 4s", d)
	}
}

func TestCancel(t *testing.T) {
	r, _ := newRunner(t)
	snaps := newSnapshots()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		snaps.waitFor(t, `waiting\n`)
		cancel()
	}()
	res, err := r.Run(ctx, runner.Job{
		Notebook: notebook(t, cell{src: "import \"fmt\"\nimport \"time\"\nfmt.Println(\"waiting\")\ntime.Sleep(time.Minute)"}),
		Save:     snaps.save,
	})
	if !errors.Is(err, context.Canceled) || res.Status != userapps.RunCancelled || res.Error.Cell != 0 {
		t.Fatalf("err %v, status %s", err, res.Status)
	}
	if !strings.Contains(string(res.Notebook), "waiting") {
		t.Error("the cancelled run's notebook lost the cell's output")
	}
}

func TestKilledKernelFailsTheRunWithin5s(t *testing.T) {
	r, s := newRunner(t)
	snaps := newSnapshots()
	killed := make(chan time.Time, 1)
	go func() {
		k := <-s.ready
		snaps.waitFor(t, `started\n`)
		killed <- time.Now()
		syscall.Kill(k.PID(), syscall.SIGKILL)
	}()
	res, err := r.Run(context.Background(), runner.Job{
		Notebook: notebook(t, cell{src: "import \"fmt\"\nimport \"time\"\nfmt.Println(\"started\")\ntime.Sleep(time.Minute)"}, cell{src: `1`}),
		Save:     snaps.save,
	})
	ended := time.Now()
	if !errors.Is(err, userapps.ErrKernel) || res.Status != userapps.RunFailed {
		t.Fatalf("err %v, status %s; want a kernel failure", err, res.Status)
	}
	t.Logf("%s", res.Error)
	if d := ended.Sub(<-killed); d > 5*time.Second {
		t.Errorf("the run ended %s after the kill, want within 5s", d)
	}
	if res.Error.Cell != 0 || res.Error.EName != "KernelDied" || !strings.Contains(res.Error.EValue, "killed") {
		t.Errorf("summary %+v, want the cell and the signal", res.Error)
	}
	validate(t, res.Notebook)
}

func TestOutputIsSavedWhileTheCellRuns(t *testing.T) {
	r, _ := newRunner(t)
	snaps := newSnapshots()
	res, err := r.Run(context.Background(), runner.Job{
		Notebook: notebook(t, cell{src: "import \"fmt\"\nimport \"time\"\nfmt.Println(\"first\")\ntime.Sleep(2 * time.Second)\nfmt.Println(\"second\")"}),
		Save:     snaps.save,
	})
	if err != nil {
		t.Fatal(err)
	}
	first, second := snaps.waitFor(t, `first\n`), snaps.waitFor(t, `second\n`)
	if second.Sub(first) < time.Second {
		t.Errorf("the first output was saved %s before the second, want about 2s", second.Sub(first))
	}
	if first.After(res.Finished) {
		t.Errorf("the first output was saved after the run")
	}
}

func TestInvalidInputs(t *testing.T) {
	r, err := runner.New(runner.Options{Kernels: noKernels{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		job   runner.Job
		ename string
	}{
		{"not JSON", runner.Job{Notebook: []byte("{")}, "InvalidNotebook"},
		{"nbformat 3", runner.Job{Notebook: []byte(`{"nbformat": 3, "cells": []}`)}, "InvalidNotebook"},
		{"bad parameter name", runner.Job{Notebook: []byte(`{"nbformat": 4, "cells": []}`), Parameters: map[string]any{"a-b": 1}}, "InvalidParameter"},
		{"type clash", runner.Job{
			Notebook:   []byte(`{"nbformat": 4, "cells": [{"cell_type": "code", "source": "n := 1", "metadata": {"tags": ["parameters"]}}]}`),
			Parameters: map[string]any{"n": runner.Text("many")},
		}, "InvalidParameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.Run(context.Background(), tc.job)
			if !errors.Is(err, userapps.ErrInvalid) || res.Status != userapps.RunFailed || res.Error.EName != tc.ename || res.Error.Cell != -1 {
				t.Fatalf("err %v, result %+v", err, res)
			}
		})
	}
}

// noKernels refuses to start kernels.
type noKernels struct{}

func (noKernels) StartKernel(context.Context, userapps.App, string) (userapps.Kernel, error) {
	return nil, errors.New("no kernels here")
}

func TestKernelStartFailure(t *testing.T) {
	// Each reading of the clock is a second later. How often the runner
	// reads it (its saver too) is its business: the test checks that the
	// times come from this clock, not how many readings there were.
	var mu sync.Mutex
	clock := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	r, _ := runner.New(runner.Options{Kernels: noKernels{}, Now: now})
	var saved []byte
	res, err := r.Run(context.Background(), runner.Job{
		Notebook: notebook(t, cell{src: `1`}),
		Save:     func(_ context.Context, nb []byte) error { saved = nb; return nil },
	})
	if !errors.Is(err, userapps.ErrKernel) || res.Status != userapps.RunFailed || res.Error.EName != "KernelStartFailed" {
		t.Fatalf("err %v, result %+v", err, res)
	}
	if saved == nil || string(saved) != string(res.Notebook) {
		t.Error("the notebook was not saved at the end")
	}
	// The injected clock times the run and stamps the notebook.
	if !res.Started.Equal(time.Date(2026, 11, 23, 8, 0, 1, 0, time.UTC)) || res.Duration() < time.Second || res.Duration() > 10*time.Second {
		t.Errorf("run from %s for %s, want the injected clock's", res.Started, res.Duration())
	}
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }
	for _, want := range []string{`"started": "` + stamp(res.Started) + `"`, `"finished": "` + stamp(res.Finished) + `"`, `"status": "failed"`, `"error": "KernelStartFailed: no kernels here"`} {
		if !strings.Contains(string(res.Notebook), want) {
			t.Errorf("the notebook's run metadata lacks %s", want)
		}
	}
}
