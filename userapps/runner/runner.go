// Package runner runs a notebook headless, as nbclient and papermill do,
// for scheduled runs, "Run now" and `flowlab run`: a fresh kernel per run,
// every code cell in order, parameters injected after the cell tagged
// "parameters", the executed notebook handed to a save function as outputs
// arrive, per-cell and per-run timeouts, stop on the first error, and the
// kernel always shut down. A kernel that dies fails the run with the
// reason as soon as its process is gone.
//
// The runner knows nothing of schedules or run records: it takes a Job and
// returns a Result. It starts kernels through the consumer-side Kernels
// interface, which *kernels.Manager implements.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
)

// Sentinel errors, wrapped by the *RunError Run returns with the status
// they give. Besides these: userapps.ErrKernel (the kernel could not start
// or died: RunFailed), userapps.ErrInvalid (a bad notebook or parameter:
// RunFailed) and context.Canceled (ctx ended: RunCancelled).
var (
	// ErrCellFailed means a cell raised an error: RunFailed.
	ErrCellFailed = errors.New("a cell failed")
	// ErrCellTimeout means a cell ran longer than Job.CellTimeout:
	// RunTimedOut.
	ErrCellTimeout = errors.New("cell timed out")
	// ErrRunTimeout means the run took longer than Job.Timeout: RunTimedOut.
	ErrRunTimeout = errors.New("run timed out")
	// ErrSave means the final save of the executed notebook failed:
	// RunFailed, since the run left no executed notebook.
	ErrSave = errors.New("saving the executed notebook failed")
)

// Kernels starts the kernel of a run: a fresh one per run, working in dir,
// tagged with app (the zero App for a notebook outside any app). Errors
// wrap userapps.ErrKernel. *kernels.Manager implements it.
//
// The runner also uses these optional methods of the kernel it gets, found
// by type assertion: Interrupt(ctx) error (a timed-out or cancelled cell
// is interrupted before the kernel is shut down), SetScheduled(bool) (the
// kernel is not culled while the run is idle between cells) and
// Restarts() int (a kernel restarted after dying between two cells fails
// the run instead of running the rest without the state).
type Kernels interface {
	StartKernel(ctx context.Context, app userapps.App, dir string) (userapps.Kernel, error)
}

type interrupter interface {
	Interrupt(ctx context.Context) error
}

type scheduledMarker interface {
	SetScheduled(on bool)
}

type restartCounter interface {
	Restarts() int
}

// Options configures a Runner. Only Kernels is required.
type Options struct {
	// Kernels starts each run's kernel.
	Kernels Kernels
	// SaveInterval is the least time between two saves of a run's notebook
	// while it runs (the final save is always made); default 250ms.
	SaveInterval time.Duration
	// InterruptGrace is how long a cell has, after its timeout (or the
	// run's, or a cancellation) interrupted it, to end and report before
	// the run gives up on it; default 3s.
	InterruptGrace time.Duration
	// ShutdownTimeout bounds the kernel's shutdown at the end of a run (a
	// shutdown_request, then a kill); default 10s.
	ShutdownTimeout time.Duration
	// Now is the clock of the run's times, the notebook's timestamps and
	// the save rate; nil means time.Now.
	Now func() time.Time
	// Logger receives save failures and kernel shutdown problems; nil
	// discards.
	Logger *slog.Logger
}

// Runner runs notebooks. It holds no state between runs and is safe for
// concurrent use: each Run has its own kernel.
type Runner struct {
	opts Options
	log  *slog.Logger
}

// New returns a Runner. It returns an error wrapping userapps.ErrInvalid
// when opts.Kernels is nil.
func New(opts Options) (*Runner, error) {
	if opts.Kernels == nil {
		return nil, fmt.Errorf("runner: no kernel starter: %w", userapps.ErrInvalid)
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = 250 * time.Millisecond
	}
	if opts.InterruptGrace <= 0 {
		opts.InterruptGrace = 3 * time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Runner{opts: opts, log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Job is one run to make.
type Job struct {
	// App tags the run's kernel (events, logs); the zero App for a notebook
	// outside any app.
	App userapps.App
	// Dir is the kernel's working directory, normally the notebook's
	// folder; "" leaves the choice to Kernels.
	Dir string
	// Notebook is the notebook to run, nbformat 4 JSON.
	Notebook []byte
	// Parameters are injected in a cell tagged injected-parameters after
	// the cell tagged parameters. Values are strings, bools, integers,
	// floats (float32, float64), json.Number, or Text to be typed by the
	// parameters cell (see Text and ParseJSONParameters).
	Parameters map[string]any
	// ParametersFrom says where the parameters came from ("the command
	// line", "schedule nightly"), for the comment of the injected cell.
	ParametersFrom string
	// CellTimeout bounds each cell, Timeout the whole run (kernel start
	// included); 0 means no limit.
	CellTimeout time.Duration
	Timeout     time.Duration
	// Save, if set, is called with the executed notebook (nbformat JSON) as
	// it changes, at most once per SaveInterval and never concurrently,
	// then once more at the end with the final notebook. The caller writes
	// it atomically. An error from the final save fails the run (ErrSave);
	// earlier ones are logged and the next save tries again.
	Save func(ctx context.Context, notebook []byte) error
}

// Result is the outcome of a run. Run always returns one, with an error
// or not.
type Result struct {
	// Status is RunSucceeded, RunFailed, RunTimedOut or RunCancelled.
	Status userapps.RunStatus `json:"status"`
	// Started and Finished bound the run, from Run's call to the end of its
	// last cell (the kernel's shutdown comes after).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Error says why the run did not succeed; nil when it did.
	Error *RunError `json:"error,omitempty"`
	// Notebook is the executed notebook, as last saved; nil when the job's
	// notebook could not be read.
	Notebook []byte `json:"-"`
	// Parameters are the injected parameters as typed (string, bool, int64,
	// float64), by name.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Notices are things the user may not expect: parameters the
	// parameters cell does not declare, no parameters cell.
	Notices []string `json:"notices,omitempty"`
}

// Duration is how long the run took.
func (r Result) Duration() time.Duration { return r.Finished.Sub(r.Started) }

// RunError summarises why a run did not succeed. It wraps one of the
// sentinels listed with ErrCellFailed.
type RunError struct {
	// Cell is the index of the cell that failed in the executed notebook
	// (which holds the injected cell), or -1 when no cell is to blame (an
	// invalid notebook, a kernel that did not start, a failed save).
	Cell int `json:"cell"`
	// ExecutionCount is the failed cell's execution count, 0 if it has none.
	ExecutionCount int `json:"execution_count,omitempty"`
	// EName, EValue and Traceback are the kernel's error for a failed cell,
	// or the runner's ("CellTimeout", "RunTimeout", "Cancelled",
	// "KernelDied", "KernelStartFailed", "InvalidNotebook", "SaveFailed").
	EName     string   `json:"ename"`
	EValue    string   `json:"evalue"`
	Traceback []string `json:"traceback,omitempty"`
	// Err is the sentinel chain (ErrCellFailed, userapps.ErrKernel, ...).
	Err error `json:"-"`
}

// Error names the cell and the error: "cell 3 (In [2]): NameError: ...".
func (e *RunError) Error() string {
	msg := e.EName + ": " + e.EValue
	switch {
	case e.Cell >= 0 && e.ExecutionCount > 0:
		return fmt.Sprintf("cell %d (In [%d]): %s", e.Cell, e.ExecutionCount, msg)
	case e.Cell >= 0:
		return fmt.Sprintf("cell %d: %s", e.Cell, msg)
	}
	return msg
}

// Unwrap returns the sentinel chain.
func (e *RunError) Unwrap() error { return e.Err }

// statusOf is the status a run error gives.
func statusOf(e *RunError) userapps.RunStatus {
	switch {
	case e == nil:
		return userapps.RunSucceeded
	case errors.Is(e, ErrCellTimeout), errors.Is(e, ErrRunTimeout):
		return userapps.RunTimedOut
	case errors.Is(e, context.Canceled), errors.Is(e, context.DeadlineExceeded):
		return userapps.RunCancelled
	}
	return userapps.RunFailed
}

// Run runs job's notebook in a fresh kernel and returns the result. The
// error is nil exactly when the status is RunSucceeded; otherwise it is
// Result.Error, a *RunError wrapping ErrCellFailed, ErrCellTimeout,
// ErrRunTimeout, ErrSave, userapps.ErrKernel, userapps.ErrInvalid or ctx's
// error. The kernel is shut down before Run returns, and job.Save has had
// the final notebook.
func (r *Runner) Run(ctx context.Context, job Job) (Result, error) {
	res := Result{Status: userapps.RunRunning, Started: r.opts.Now()}
	finish := func(re *RunError) (Result, error) {
		res.Status, res.Error = statusOf(re), re
		if re == nil {
			return res, nil
		}
		return res, re
	}
	nb, err := parseNotebook(job.Notebook)
	if err != nil {
		res.Finished = r.opts.Now()
		return finish(&RunError{Cell: -1, EName: "InvalidNotebook", EValue: err.Error(), Err: err})
	}
	inj, injectedAt, err := nb.injectParameters(job.Parameters, job.ParametersFrom)
	if err != nil {
		res.Finished = r.opts.Now()
		return finish(&RunError{Cell: -1, EName: "InvalidParameter", EValue: err.Error(), Err: err})
	}
	res.Parameters, res.Notices = inj.Values, inj.Notices
	nb.resetOutputs()
	rn := &run{r: r, job: job, nb: nb}
	rn.setMetadata(res)
	if injectedAt >= 0 {
		r.log.Info("parameters injected", "cell", injectedAt, "parameters", len(inj.Values))
	}

	s := rn.startSaver(ctx)
	re, k := rn.execute(ctx)
	if k != nil {
		// After the final save: the notebook is on disk before the kernel
		// has exited.
		defer rn.shutdown(ctx, k)
	}
	res.Finished = r.opts.Now()
	res.Status, res.Error = statusOf(re), re
	rn.setMetadata(res)
	s.stop()
	data, err := rn.snapshot()
	if err == nil && job.Save != nil {
		err = job.Save(context.WithoutCancel(ctx), data)
	}
	res.Notebook = data
	if err != nil && re == nil {
		re = &RunError{Cell: -1, EName: "SaveFailed", EValue: err.Error(), Err: fmt.Errorf("%w: %w", ErrSave, err)}
	}
	return finish(re)
}

// run is one Run's state.
type run struct {
	r     *Runner
	job   Job
	saver *saver
	mu    sync.Mutex // guards nb
	nb    *notebook
}

func (rn *run) snapshot() ([]byte, error) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.nb.marshal()
}

func (rn *run) setMetadata(res Result) {
	md := map[string]any{"status": string(res.Status), "started": res.Started.UTC().Format(jupyter.DateLayout)}
	if !res.Finished.IsZero() {
		md["finished"] = res.Finished.UTC().Format(jupyter.DateLayout)
	}
	if len(res.Parameters) > 0 {
		md["parameters"] = res.Parameters
	}
	if res.Error != nil {
		md["error"] = res.Error.Error()
	}
	rn.mu.Lock()
	rn.nb.setRunMetadata(md)
	rn.mu.Unlock()
}

// execute starts the kernel and runs the cells. It returns why the run
// stopped early, if it did, and the kernel to shut down, if one started.
func (rn *run) execute(ctx context.Context) (*RunError, userapps.Kernel) {
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if rn.job.Timeout > 0 {
		runCtx, cancel = context.WithTimeoutCause(ctx, rn.job.Timeout, ErrRunTimeout)
	}
	defer cancel()
	k, err := rn.r.opts.Kernels.StartKernel(runCtx, rn.job.App, rn.job.Dir)
	if err != nil {
		if cause := context.Cause(runCtx); cause != nil {
			return stopped(-1, 0, cause, rn.job), nil
		}
		return &RunError{Cell: -1, EName: "KernelStartFailed", EValue: err.Error(), Err: fmt.Errorf("%w: %w", userapps.ErrKernel, err)}, nil
	}
	if m, ok := k.(scheduledMarker); ok {
		m.SetScheduled(true)
	}
	restarts := func() int { return 0 }
	if rc, ok := k.(restartCounter); ok {
		restarts = rc.Restarts
	}
	before := restarts()

	rn.mu.Lock()
	n := len(rn.nb.cells)
	rn.mu.Unlock()
	for i := 0; i < n; i++ {
		rn.mu.Lock()
		cell := rn.nb.cells[i]
		src, _ := source(cell)
		skip := !isCode(cell) || strings.TrimSpace(src) == "" || hasTag(cell, TagSkipExecution)
		raises := hasTag(cell, TagRaisesException)
		rn.mu.Unlock()
		if skip {
			continue
		}
		if cause := context.Cause(runCtx); cause != nil {
			return stopped(i, 0, cause, rn.job), k
		}
		select {
		case <-k.Done():
			return died(i, 0, gone(k)), k
		default:
		}
		if restarts() != before {
			return died(i, 0, errors.New("the kernel died between cells and was restarted; the state the earlier cells built is lost")), k
		}
		if re := rn.cell(runCtx, k, i, src); re != nil {
			if raises && errors.Is(re, ErrCellFailed) {
				continue
			}
			return re, k
		}
	}
	return nil, k
}

// shutdown stops the kernel: a shutdown_request, then a kill.
func (rn *run) shutdown(ctx context.Context, k userapps.Kernel) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rn.r.opts.ShutdownTimeout)
	defer cancel()
	if err := k.Shutdown(sctx); err != nil {
		rn.r.log.Warn("run kernel shutdown", "kernel", k.ID(), "err", err)
	}
}

// gone says why a kernel whose Done is closed stopped.
func gone(k userapps.Kernel) error {
	if err := k.Err(); err != nil {
		return err
	}
	return errors.New("the kernel stopped")
}

func died(cell, count int, why error) *RunError {
	err := why
	if !errors.Is(why, userapps.ErrKernel) {
		err = fmt.Errorf("%w: %w", userapps.ErrKernel, why)
	}
	msg := strings.TrimSuffix(why.Error(), ": "+userapps.ErrKernel.Error())
	return &RunError{Cell: cell, ExecutionCount: count, EName: "KernelDied", EValue: msg, Err: err}
}

// stopped is the error of a run stopped by a timeout or a cancellation.
func stopped(cell, count int, cause error, job Job) *RunError {
	re := &RunError{Cell: cell, ExecutionCount: count, Err: cause}
	switch {
	case errors.Is(cause, ErrCellTimeout):
		re.EName, re.EValue = "CellTimeout", fmt.Sprintf("the cell ran longer than its timeout (%s) and was interrupted", job.CellTimeout)
	case errors.Is(cause, ErrRunTimeout):
		re.EName, re.EValue = "RunTimeout", fmt.Sprintf("the run took longer than its timeout (%s)", job.Timeout)
	default:
		re.EName, re.EValue = "Cancelled", fmt.Sprintf("the run was cancelled (%v)", cause)
	}
	return re
}

// outcome is what Execute returned.
type outcome struct {
	ex  *jupyter.Execution
	err error
}

// cell runs cell i and returns why the run must stop, if it must.
func (rn *run) cell(ctx context.Context, k userapps.Kernel, i int, src string) *RunError {
	// Execute's own context ends only when the runner gives up on the cell,
	// so an interrupted cell can still report what it did.
	execCtx, giveUp := context.WithCancelCause(context.WithoutCancel(ctx))
	defer giveUp(nil)
	done := make(chan outcome, 1)
	go func() {
		ex, err := k.Execute(execCtx, src, jupyter.ExecuteOptions{Output: func(m *jupyter.Message) { rn.output(i, m) }})
		done <- outcome{ex, err}
	}()
	var timeout <-chan time.Time
	if d := rn.job.CellTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	var out outcome
	var stop error
	select {
	case out = <-done:
	case <-timeout:
		stop = ErrCellTimeout
	case <-ctx.Done():
		stop = context.Cause(ctx)
	case <-k.Done():
		giveUp(gone(k))
		out = <-done
		return died(i, rn.count(i), gone(k))
	}
	if stop != nil {
		out = rn.interrupt(ctx, k, done, giveUp, stop)
		return stopped(i, rn.count(i), stop, rn.job)
	}
	if out.err != nil {
		if errors.Is(out.err, jupyter.ErrClosed) {
			// The manager closes a dead kernel's client, sometimes before
			// Execute has seen the process exit: its Err says why.
			return died(i, rn.count(i), rn.reason(k, out.err))
		}
		if errors.Is(out.err, userapps.ErrKernel) {
			return died(i, rn.count(i), out.err)
		}
		return &RunError{Cell: i, ExecutionCount: rn.count(i), EName: "KernelError", EValue: out.err.Error(), Err: fmt.Errorf("%w: %w", userapps.ErrKernel, out.err)}
	}
	reply, err := out.ex.ReplyContent()
	if err != nil {
		return &RunError{Cell: i, EName: "KernelError", EValue: err.Error(), Err: fmt.Errorf("%w: %w", userapps.ErrKernel, err)}
	}
	rn.mu.Lock()
	if reply.ExecutionCount > 0 {
		rn.nb.setCount(i, reply.ExecutionCount)
	}
	rn.nb.stamp(i, "shell.execute_reply", dateOf(out.ex.Reply, rn.r.opts.Now))
	rn.mu.Unlock()
	switch reply.Status {
	case "ok":
		return nil
	case "error":
		tb := reply.Traceback
		if len(tb) == 0 {
			tb = nil
		}
		return &RunError{Cell: i, ExecutionCount: reply.ExecutionCount, EName: reply.EName, EValue: reply.EValue, Traceback: tb, Err: ErrCellFailed}
	}
	return &RunError{Cell: i, ExecutionCount: reply.ExecutionCount, EName: "Aborted", EValue: "the kernel replied " + reply.Status, Err: ErrCellFailed}
}

// reason waits up to InterruptGrace for a kernel whose client closed to be
// done, and returns why it stopped; err when it does not stop.
func (rn *run) reason(k userapps.Kernel, err error) error {
	t := time.NewTimer(rn.r.opts.InterruptGrace)
	defer t.Stop()
	select {
	case <-k.Done():
		return gone(k)
	case <-t.C:
		return err
	}
}

// interrupt interrupts a cell the run must stop, and gives it
// InterruptGrace to end and report before Execute is abandoned.
func (rn *run) interrupt(ctx context.Context, k userapps.Kernel, done <-chan outcome, giveUp context.CancelCauseFunc, why error) outcome {
	grace := time.NewTimer(rn.r.opts.InterruptGrace)
	defer grace.Stop()
	if in, ok := k.(interrupter); ok {
		go func() {
			ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rn.r.opts.InterruptGrace)
			defer cancel()
			if err := in.Interrupt(ictx); err != nil {
				rn.r.log.Warn("interrupt a stopped run's cell", "kernel", k.ID(), "err", err)
			}
		}()
	}
	select {
	case out := <-done:
		return out
	case <-grace.C:
	case <-k.Done():
	}
	giveUp(why)
	return <-done
}

// output applies an iopub message of cell i and asks for a save.
func (rn *run) output(i int, m *jupyter.Message) {
	rn.mu.Lock()
	changed := rn.nb.output(i, m, rn.r.opts.Now().UTC().Format(jupyter.DateLayout))
	rn.mu.Unlock()
	if changed && rn.saver != nil {
		rn.saver.touch()
	}
}

// count is cell i's execution count so far (0 if none).
func (rn *run) count(i int) int {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	n, _ := rn.nb.cells[i]["execution_count"].(json.Number)
	c, _ := strconv.Atoi(n.String())
	if c == 0 {
		c, _ = rn.nb.cells[i]["execution_count"].(int)
	}
	return c
}

func dateOf(m *jupyter.Message, now func() time.Time) string {
	if m != nil && m.Header.Date != "" {
		return m.Header.Date
	}
	return now().UTC().Format(jupyter.DateLayout)
}
