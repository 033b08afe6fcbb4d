// Package scheduler fires apps' schedules and runs their queued runs: it
// turns cron ticks into run records, applies the catch-up and overlap
// policies and the limit on concurrent runs, hands each run to an Executor
// (the headless runner), sends notices to taps and prunes old runs.
//
// Everything it decides is in the store, so it survives restarts and can be
// shared: two server processes on one store fire each tick once
// (ScheduleStore.ClaimTick moves the schedule's cursor atomically) and run
// each queued run once (RunStore.ClaimRun). A process that dies with runs in
// hand stops their heartbeats; another process, or this one restarted, marks
// them failed.
//
// Time comes from Options.Now, so tests drive the scheduler with Step and a
// fake clock instead of waiting.
package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/userapps"
)

// outcome is how a run ended.
type outcome struct {
	Status userapps.RunStatus
	Error  *userapps.RunError
}

// Executor runs one run: a fresh kernel for the app's notebook, as its
// owner, every cell in order, the executed notebook saved where
// userapps.Run.Notebook says (Prepare chose it). The scheduler's view of
// the headless runner.
type Executor interface {
	// Prepare returns the path the executed notebook of run will have, so
	// the record can link it before the run starts.
	Prepare(run userapps.Run) string
	// Execute runs it and says how it ended: RunSucceeded, RunFailed,
	// RunTimedOut or RunCancelled (when ctx is cancelled), with the error
	// summary when it did not succeed. The timeouts come from the
	// schedule, if any (0: none).
	Execute(ctx context.Context, run userapps.Run, app userapps.App, cellTimeout, runTimeout time.Duration) (userapps.RunStatus, *userapps.RunError)
	// Discard deletes a pruned run's executed notebook.
	Discard(run userapps.Run) error
}

// Notifier sends a run notice (JSON) to a tap.
type Notifier interface {
	Notify(ctx context.Context, tap string, notice []byte) error
}

// Options configures a Scheduler. Schedules, Runs, Apps and Executor are
// required.
type Options struct {
	Schedules userapps.ScheduleStore
	Runs      userapps.RunStore
	Apps      userapps.AppStore
	Executor  Executor
	// Notifier sends notices of schedules with an AlertTap; nil sends none
	// (and logs that it could not).
	Notifier Notifier
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// Worker names this process in run records; default a random id.
	Worker string
	// MaxConcurrent is the limit on runs running at once, over every
	// process sharing the store; default 2.
	MaxConcurrent int
	// Grace is how late a tick may be handled and still count as on time;
	// older ticks were missed (the server was down) and follow the
	// schedule's catch-up policy. Default 1 minute.
	Grace time.Duration
	// Heartbeat is how often a running run's record is touched; a running
	// run not touched for 3 heartbeats lost its process. Default 10s.
	Heartbeat time.Duration
	// KeepRuns is how many finished runs each app keeps (default 100);
	// KeepFor how long a finished run is kept (default 30 days). The
	// newer limit wins: a run goes when either says so.
	KeepRuns int
	KeepFor  time.Duration
	// Poll bounds the wait between steps in Run (other processes' new
	// schedules are seen this late at most); default 5s.
	Poll time.Duration
	// Link returns the URL of a run's executed notebook for notices; nil
	// leaves it out.
	Link func(userapps.Run) string
	// Users, if set, is asked before each run whether the app's owner may
	// still run it (a developer demoted to viewer, a deleted user): if not,
	// the run fails without starting.
	Users Users
	// MaxRunTime bounds every run, whatever its schedule says (a "Run now"
	// has no timeout of its own); default 24 hours.
	MaxRunTime time.Duration
}

// Users finds the user a run runs as (userapps.UserStore has it).
type Users interface {
	User(ctx context.Context, name string) (userapps.User, error)
}

// AppSweeper is an Executor that can delete what it keeps for apps that no
// longer exist (their runs went with them). Prune calls it.
type AppSweeper interface {
	SweepApps(keep map[string]bool) error
}

// Scheduler fires schedules and runs queued runs. Safe for concurrent use.
type Scheduler struct {
	opts Options
	log  *slog.Logger
	wake chan struct{}

	mu        sync.Mutex
	active    map[string]context.CancelCauseFunc // runs executing in this process
	lastPrune time.Time
	wg        sync.WaitGroup // runs executing and notices being sent
}

// Errors of the scheduler's operations.
var (
	// ErrNotCancellable: the run is over, or running in another process.
	// It wraps userapps.ErrConflict.
	ErrNotCancellable = fmt.Errorf("run cannot be cancelled: %w", userapps.ErrConflict)
)

// New returns a Scheduler; errors wrap userapps.ErrInvalid.
func New(opts Options) (*Scheduler, error) {
	if opts.Schedules == nil || opts.Runs == nil || opts.Apps == nil || opts.Executor == nil {
		return nil, fmt.Errorf("new scheduler: Schedules, Runs, Apps and Executor are required: %w", userapps.ErrInvalid)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Worker == "" {
		opts.Worker = "worker-" + newID()
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 2
	}
	if opts.Grace <= 0 {
		opts.Grace = time.Minute
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.KeepRuns <= 0 {
		opts.KeepRuns = 100
	}
	if opts.KeepFor <= 0 {
		opts.KeepFor = 30 * 24 * time.Hour
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.MaxRunTime <= 0 {
		opts.MaxRunTime = 24 * time.Hour
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{opts: opts, log: log, wake: make(chan struct{}, 1), active: map[string]context.CancelCauseFunc{}}, nil
}

// newID returns 16 random hex digits.
func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Worker returns this process's name in run records.
func (s *Scheduler) Worker() string { return s.opts.Worker }

// Run steps until ctx ends, then cancels the runs in hand, waits for them
// and returns. Steps come when a tick is due, when a run is queued or ends
// in this process, and at least every Poll.
func (s *Scheduler) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	for {
		if err := s.step(runCtx); err != nil {
			s.log.Warn("scheduler step", "err", err)
		}
		wait := s.untilDue(runCtx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.CancelAll("the server shut down during the run")
			cancel()
			s.wg.Wait()
			return nil
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Step does what is due now: fire due ticks, mark runs of dead processes
// failed, start queued runs within the limits, touch heartbeats, prune.
// Runs it starts go on in the background (Wait waits for them).
func (s *Scheduler) Step(ctx context.Context) error { return s.step(ctx) }

// Wait waits for the runs this process is executing and the notices it is
// sending.
func (s *Scheduler) Wait() { s.wg.Wait() }

// Wake makes Run step now (after a run was queued from outside).
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) step(ctx context.Context) error {
	now := s.opts.Now()
	var errs []error
	if err := s.fire(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if err := s.reapOrphans(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if err := s.dispatch(ctx); err != nil {
		errs = append(errs, err)
	}
	s.mu.Lock()
	prune := now.Sub(s.lastPrune) >= time.Hour
	if prune {
		s.lastPrune = now
	}
	s.mu.Unlock()
	if prune {
		if err := s.Prune(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// untilDue is how long Run may sleep: until the earliest enabled
// schedule's next tick, at most Poll.
func (s *Scheduler) untilDue(ctx context.Context) time.Duration {
	wait := s.opts.Poll
	scheds, err := s.opts.Schedules.Schedules(ctx, "")
	if err != nil {
		return wait
	}
	now := s.opts.Now()
	for _, sc := range scheds {
		// An overdue cursor is retried at the next step anyway (a tick
		// that fails to fire must not spin the loop).
		if d := sc.NextRun.Sub(now); sc.Enabled && !sc.NextRun.IsZero() && d > 0 && d < wait {
			wait = d
		}
	}
	return wait
}

// fire turns the due ticks of every enabled schedule into runs.
func (s *Scheduler) fire(ctx context.Context, now time.Time) error {
	scheds, err := s.opts.Schedules.Schedules(ctx, "")
	if err != nil {
		return fmt.Errorf("fire schedules: %w", err)
	}
	var errs []error
	for _, sc := range scheds {
		if !sc.Enabled {
			continue
		}
		if err := s.fireOne(ctx, sc, now); err != nil {
			errs = append(errs, fmt.Errorf("schedule %s: %w", sc.ID, err))
		}
	}
	return errors.Join(errs...)
}

// maxTicks bounds the ticks counted in one step (a schedule every minute
// missed for a week is 10,080).
const maxTicks = 100000

func (s *Scheduler) fireOne(ctx context.Context, sc userapps.Schedule, now time.Time) error {
	c, err := sc.Cron()
	if err != nil {
		return err
	}
	next := c.Next(now)
	if sc.NextRun.IsZero() {
		// A schedule the scheduler has not seen: its first tick is the
		// next one from now.
		_, err := s.opts.Schedules.ClaimTick(ctx, sc.ID, sc.NextRun, next, nil)
		return err
	}
	if sc.NextRun.After(now) {
		return nil
	}
	app, err := s.opts.Apps.App(ctx, sc.AppID)
	if err != nil {
		return err
	}
	// The due ticks: NextRun, then every tick up to now.
	var onTime []time.Time
	var missed []time.Time
	n := 0
	for t := sc.NextRun; !t.IsZero() && !t.After(now) && n < maxTicks; t = c.Next(t) {
		if now.Sub(t) > s.opts.Grace {
			missed = append(missed, t)
		} else {
			onTime = append(onTime, t)
		}
		n++
	}
	busy, err := s.hasActive(ctx, sc.ID)
	if err != nil {
		return err
	}
	var runs []userapps.Run
	add := func(tick time.Time, trigger userapps.Trigger) {
		r := s.newRun(app, &sc, trigger, tick, now)
		if busy && sc.Overlap == userapps.OverlapSkip {
			r.Status = userapps.RunSkipped
			r.Finished = now
			r.Error = &userapps.RunError{Cell: -1, Name: "overlap", Value: "the previous run of this schedule was still queued or running (overlap: skip)"}
		}
		busy = true
		runs = append(runs, r)
	}
	if len(missed) > 0 {
		first, last := missed[0], missed[len(missed)-1]
		skipped := missed
		if sc.CatchUp == userapps.CatchUpOnce {
			skipped = missed[:len(missed)-1]
		}
		if len(skipped) > 0 {
			r := s.newRun(app, &sc, userapps.TriggerCatchUp, first, now)
			r.Status, r.Finished = userapps.RunSkipped, now
			r.Error = &userapps.RunError{Cell: -1, Name: "missed", Value: fmt.Sprintf("%d tick(s) from %s to %s passed while the server was down (catch_up: %s)",
				len(skipped), first.Format(time.RFC3339), skipped[len(skipped)-1].Format(time.RFC3339), sc.CatchUp)}
			runs = append(runs, r)
		}
		if sc.CatchUp == userapps.CatchUpOnce {
			add(last, userapps.TriggerCatchUp)
		}
	}
	for _, t := range onTime {
		add(t, userapps.TriggerSchedule)
	}
	claimed, err := s.opts.Schedules.ClaimTick(ctx, sc.ID, sc.NextRun, next, runs)
	if err != nil || !claimed {
		return err
	}
	for _, r := range runs {
		s.log.Info("schedule fired", "schedule", sc.ID, "app", sc.AppID, "run", r.ID, "tick", r.Scheduled, "trigger", r.Trigger, "status", r.Status)
		if r.Status == userapps.RunSkipped {
			s.notify(ctx, r)
		}
	}
	return nil
}

// newRun is a queued run of app.
func (s *Scheduler) newRun(app userapps.App, sc *userapps.Schedule, trigger userapps.Trigger, tick, now time.Time) userapps.Run {
	r := userapps.Run{ID: "run-" + newID(), AppID: app.ID, Owner: app.Owner, Status: userapps.RunQueued, Trigger: trigger,
		Scheduled: tick, Created: now, Parameters: map[string]any{}}
	if sc != nil {
		r.ScheduleID = sc.ID
		for k, v := range sc.Parameters {
			r.Parameters[k] = v
		}
	}
	return r
}

// hasActive reports whether the schedule has a queued or running run of
// its own (backfill runs are apart: they neither wait for its ticks nor
// make its ticks wait).
func (s *Scheduler) hasActive(ctx context.Context, scheduleID string) (bool, error) {
	rs, err := s.opts.Runs.Runs(ctx, userapps.RunFilter{ScheduleID: scheduleID, Statuses: []userapps.RunStatus{userapps.RunQueued, userapps.RunRunning}})
	for _, r := range rs {
		if r.Trigger != userapps.TriggerBackfill {
			return true, err
		}
	}
	return false, err
}

// reapOrphans fails running runs whose process stopped beating.
func (s *Scheduler) reapOrphans(ctx context.Context, now time.Time) error {
	running, err := s.opts.Runs.Runs(ctx, userapps.RunFilter{Statuses: []userapps.RunStatus{userapps.RunRunning}})
	if err != nil {
		return fmt.Errorf("find orphaned runs: %w", err)
	}
	for _, r := range running {
		s.mu.Lock()
		_, mine := s.active[r.ID]
		s.mu.Unlock()
		last := r.Heartbeat
		if last.IsZero() {
			last = r.Started
		}
		if mine || now.Sub(last) <= 3*s.opts.Heartbeat {
			continue
		}
		done, err := s.opts.Runs.UpdateRun(ctx, r.ID, func(x *userapps.Run) error {
			if x.Status != userapps.RunRunning || !x.Heartbeat.Equal(r.Heartbeat) {
				return errRaced
			}
			x.Status, x.Finished = userapps.RunFailed, now
			x.Error = &userapps.RunError{Cell: -1, Name: "lost", Value: fmt.Sprintf("the server process running it (%s) stopped; no heartbeat since %s", r.Worker, last.Format(time.RFC3339))}
			return nil
		})
		if errors.Is(err, errRaced) || errors.Is(err, userapps.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		s.log.Warn("run failed: its server process stopped", "run", r.ID, "app", r.AppID, "worker", r.Worker)
		s.notify(ctx, done)
	}
	return nil
}

// errRaced aborts an update another process got to first.
var errRaced = errors.New("changed meanwhile")

// dispatch starts queued runs, oldest first, while fewer than
// MaxConcurrent run in all processes. A schedule's run waits while another
// of its runs is running (overlap: queue keeps them in order); the store
// checks both when it hands the run over (ClaimRun), so processes sharing
// it cannot exceed them together.
func (s *Scheduler) dispatch(ctx context.Context) error {
	queued, err := s.opts.Runs.Runs(ctx, userapps.RunFilter{Statuses: []userapps.RunStatus{userapps.RunQueued}})
	if err != nil || len(queued) == 0 {
		return err
	}
	slices.Reverse(queued) // oldest first
	running, err := s.opts.Runs.Runs(ctx, userapps.RunFilter{Statuses: []userapps.RunStatus{userapps.RunRunning}})
	if err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	n := len(running)
	for _, r := range queued {
		if n >= s.opts.MaxConcurrent {
			break
		}
		claimed, ok, err := s.opts.Runs.ClaimRun(ctx, r.ID, s.opts.Worker, s.opts.Now(), s.opts.MaxConcurrent)
		if err != nil {
			return err
		}
		if ok {
			n++
			s.start(ctx, claimed)
		}
	}
	return nil
}

// start executes a claimed run in the background, with its heartbeat.
func (s *Scheduler) start(ctx context.Context, r userapps.Run) {
	runCtx, cancel := context.WithCancelCause(ctx)
	s.mu.Lock()
	s.active[r.ID] = cancel
	s.mu.Unlock()
	s.wg.Add(2)
	beatDone := make(chan struct{})
	go func() {
		defer s.wg.Done()
		s.beat(runCtx, r.ID, cancel, beatDone)
	}()
	go func() {
		defer s.wg.Done()
		defer cancel(nil)
		out := s.execute(runCtx, r)
		if cause := context.Cause(runCtx); cause != nil && out.Status != userapps.RunSucceeded {
			// Cancelled (by Cancel or at shutdown): whatever the run was
			// doing when it stopped, that is why.
			out = outcome{Status: userapps.RunCancelled, Error: &userapps.RunError{Cell: -1, Name: "cancelled", Value: cause.Error()}}
			if errors.Is(cause, context.Canceled) {
				out.Error.Value = "cancelled"
			}
		}
		close(beatDone)
		s.finish(context.WithoutCancel(ctx), r, out)
		s.mu.Lock()
		delete(s.active, r.ID)
		s.mu.Unlock()
		s.Wake()
	}()
}

// errLost is why a run is stopped when its record says it no longer runs
// here: another process declared it lost, or cancelled it.
var errLost = errors.New("the run's record says it no longer runs in this process (cancelled, or declared lost by another server process)")

// beat touches the run's heartbeat every Heartbeat until done, and cancels
// the run when its record says it no longer runs here.
func (s *Scheduler) beat(ctx context.Context, id string, cancel context.CancelCauseFunc, done <-chan struct{}) {
	t := time.NewTicker(s.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		ok, err := s.opts.Runs.BeatRun(context.WithoutCancel(ctx), id, s.opts.Worker, s.opts.Now())
		switch {
		case err != nil:
			s.log.Warn("run heartbeat", "run", id, "err", err)
		case !ok:
			s.log.Warn("stopping a run whose record says it no longer runs here", "run", id)
			cancel(errLost)
			return
		}
	}
}

// execute checks the owner, looks up the schedule's timeouts and hands the
// run to the Executor; a panic in it fails the run, not the server.
func (s *Scheduler) execute(ctx context.Context, r userapps.Run) (out outcome) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("run panicked", "run", r.ID, "app", r.AppID, "panic", p, "stack", string(debug.Stack()))
			out = outcome{Status: userapps.RunFailed, Error: &userapps.RunError{Cell: -1, Name: "panic", Value: fmt.Sprint(p)}}
		}
	}()
	fail := func(name string, err error) outcome {
		return outcome{Status: userapps.RunFailed, Error: &userapps.RunError{Cell: -1, Name: name, Value: err.Error()}}
	}
	app, err := s.opts.Apps.App(ctx, r.AppID)
	if err != nil {
		return fail("app", err)
	}
	if s.opts.Users != nil {
		u, err := s.opts.Users.User(ctx, app.Owner)
		if err == nil {
			err = userapps.Authorize(u, userapps.ActionRun, &app)
		}
		if err != nil {
			return fail("owner", fmt.Errorf("the app's owner %s may not run it now: %w", app.Owner, err))
		}
	}
	cellT, runT := time.Duration(0), s.opts.MaxRunTime
	if r.ScheduleID != "" {
		if sc, err := s.opts.Schedules.Schedule(ctx, r.ScheduleID); err == nil {
			cellT = sc.CellTimeout
			if sc.RunTimeout > 0 && sc.RunTimeout < runT {
				runT = sc.RunTimeout
			}
		}
	}
	path := s.opts.Executor.Prepare(r)
	if _, err := s.opts.Runs.UpdateRun(ctx, r.ID, func(x *userapps.Run) error { x.Notebook = path; return nil }); err != nil {
		return fail("store", err)
	}
	r.Notebook = path
	s.log.Info("run started", "run", r.ID, "app", r.AppID, "trigger", r.Trigger, "worker", s.opts.Worker)
	status, rerr := s.opts.Executor.Execute(ctx, r, app, cellT, runT)
	return outcome{Status: status, Error: rerr}
}

// finish records the outcome, if the run is still this process's, and
// sends the notice.
func (s *Scheduler) finish(ctx context.Context, r userapps.Run, out outcome) {
	if !out.Status.Final() || out.Status == userapps.RunSkipped {
		out = outcome{Status: userapps.RunFailed, Error: &userapps.RunError{Cell: -1, Name: "runner", Value: fmt.Sprintf("the runner reported status %q", out.Status)}}
	}
	var done userapps.Run
	var ok bool
	var err error
	for attempt := range 3 { // a busy store is worth a retry: else the run is reaped as lost
		if done, ok, err = s.opts.Runs.FinishRun(ctx, r.ID, s.opts.Worker, out.Status, out.Error, s.opts.Now()); err == nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
	switch {
	case err != nil:
		s.log.Error("record the end of a run", "run", r.ID, "err", err)
		return
	case !ok:
		s.log.Warn("run ended, but its record no longer says it runs here (cancelled or declared lost); its outcome is dropped", "run", r.ID, "status", out.Status)
		return
	}
	s.log.Info("run finished", "run", r.ID, "app", r.AppID, "status", done.Status, "duration", done.Duration(done.Finished))
	s.notify(ctx, done)
}

// RunNow queues a manual run of app with parameters and wakes the
// scheduler.
func (s *Scheduler) RunNow(ctx context.Context, app userapps.App, params map[string]any) (userapps.Run, error) {
	r := s.newRun(app, nil, userapps.TriggerManual, time.Time{}, s.opts.Now())
	for k, v := range params {
		r.Parameters[k] = v
	}
	if err := s.opts.Runs.CreateRun(ctx, r); err != nil {
		return r, fmt.Errorf("run app %s now: %w", app.ID, err)
	}
	s.Wake()
	return r, nil
}

// Backfill queues one run of the schedule per hour from `from` to `to`
// (both included, truncated to hours, UTC), oldest first, each with the
// schedule's parameters and param set to its hour as YYYYMMDDHH00 (the
// form IO.Read takes). At most 744 hours (31 days) at once.
func (s *Scheduler) Backfill(ctx context.Context, scheduleID string, from, to time.Time, param string) ([]userapps.Run, error) {
	sc, err := s.opts.Schedules.Schedule(ctx, scheduleID)
	if err != nil {
		return nil, err
	}
	app, err := s.opts.Apps.App(ctx, sc.AppID)
	if err != nil {
		return nil, err
	}
	from, to = from.UTC().Truncate(time.Hour), to.UTC().Truncate(time.Hour)
	hours := int(to.Sub(from)/time.Hour) + 1
	switch {
	case param == "":
		return nil, fmt.Errorf("backfill: name the parameter that receives each hour (e.g. hour): %w", userapps.ErrInvalid)
	case to.Before(from):
		return nil, fmt.Errorf("backfill: the range ends (%s) before it starts (%s): %w", to.Format(time.RFC3339), from.Format(time.RFC3339), userapps.ErrInvalid)
	case hours > 744:
		return nil, fmt.Errorf("backfill: %d hours is more than 744 (31 days) at once; split the range: %w", hours, userapps.ErrInvalid)
	}
	if err := userapps.CheckParameterName(param); err != nil {
		return nil, fmt.Errorf("backfill: %w", err)
	}
	now := s.opts.Now()
	var runs []userapps.Run
	for h := from; !h.After(to); h = h.Add(time.Hour) {
		r := s.newRun(app, &sc, userapps.TriggerBackfill, h, now.Add(time.Duration(len(runs))*time.Microsecond))
		r.Parameters[param] = datalake.Stamp(h)
		if err := s.opts.Runs.CreateRun(ctx, r); err != nil {
			return runs, fmt.Errorf("backfill hour %s: %w", h.Format(time.RFC3339), err)
		}
		runs = append(runs, r)
	}
	s.Wake()
	return runs, nil
}

// Cancel cancels a queued or running run. A run this process executes is
// stopped at once; one running in another process sharing the store is
// marked cancelled there, and that process stops it at its next heartbeat.
// A run already over is ErrNotCancellable.
func (s *Scheduler) Cancel(ctx context.Context, runID, reason string) (userapps.Run, error) {
	s.mu.Lock()
	cancel, mine := s.active[runID]
	s.mu.Unlock()
	if mine {
		cancel(errors.New(reason))
		return s.opts.Runs.Run(ctx, runID)
	}
	r, err := s.opts.Runs.UpdateRun(ctx, runID, func(x *userapps.Run) error {
		if x.Status.Final() {
			return fmt.Errorf("run %s is already %s: %w", runID, x.Status, ErrNotCancellable)
		}
		x.Status, x.Finished = userapps.RunCancelled, s.opts.Now()
		x.Error = &userapps.RunError{Cell: -1, Name: "cancelled", Value: reason}
		return nil
	})
	if err == nil {
		s.notify(ctx, r)
	}
	return r, err
}

// CancelAll cancels the runs this process is executing.
func (s *Scheduler) CancelAll(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, cancel := range s.active {
		s.log.Info("cancelling run", "run", id, "reason", reason)
		cancel(errors.New(reason))
	}
}

// Prune deletes finished runs beyond the newest KeepRuns of each app
// (skipped records counted apart) or older than KeepFor, with their
// executed notebooks, and what the Executor keeps for deleted apps.
func (s *Scheduler) Prune(ctx context.Context) error {
	apps, err := s.opts.Apps.Apps(ctx, userapps.AppFilter{})
	if err != nil {
		return fmt.Errorf("prune runs: %w", err)
	}
	cutoff := s.opts.Now().Add(-s.opts.KeepFor)
	final := []userapps.RunStatus{userapps.RunSucceeded, userapps.RunFailed, userapps.RunTimedOut, userapps.RunCancelled, userapps.RunSkipped}
	for _, a := range apps {
		runs, err := s.opts.Runs.Runs(ctx, userapps.RunFilter{AppID: a.ID, Statuses: final})
		if err != nil {
			return fmt.Errorf("prune runs of %s: %w", a.ID, err)
		}
		var ids []string
		kept := map[bool]int{}   // skipped or not → runs kept so far
		for _, r := range runs { // newest first
			// Skipped records are counted apart, so a schedule that skips
			// most ticks keeps the history of the runs it made.
			skipped := r.Status == userapps.RunSkipped
			if kept[skipped] >= s.opts.KeepRuns || r.Created.Before(cutoff) {
				if r.Notebook != "" {
					if err := s.opts.Executor.Discard(r); err != nil {
						s.log.Warn("delete a pruned run's notebook", "run", r.ID, "err", err)
					}
				}
				ids = append(ids, r.ID)
				continue
			}
			kept[skipped]++
		}
		if err := s.opts.Runs.DeleteRuns(ctx, ids); err != nil {
			return err
		}
		if len(ids) > 0 {
			s.log.Info("pruned runs", "app", a.ID, "runs", len(ids))
		}
	}
	if sw, ok := s.opts.Executor.(AppSweeper); ok {
		keep := map[string]bool{}
		for _, a := range apps {
			keep[a.ID] = true
		}
		if err := sw.SweepApps(keep); err != nil {
			return fmt.Errorf("prune runs of deleted apps: %w", err)
		}
	}
	return nil
}

// Notice is the JSON a schedule's tap receives about a run.
type Notice struct {
	Type       string             `json:"type"` // "flowlab.run"
	App        string             `json:"app"`
	AppID      string             `json:"app_id"`
	Owner      string             `json:"owner"`
	RunID      string             `json:"run_id"`
	ScheduleID string             `json:"schedule_id,omitempty"`
	Status     userapps.RunStatus `json:"status"`
	Trigger    userapps.Trigger   `json:"trigger"`
	Scheduled  time.Time          `json:"scheduled,omitzero"`
	Started    time.Time          `json:"started,omitzero"`
	Finished   time.Time          `json:"finished,omitzero"`
	Error      *userapps.RunError `json:"error,omitempty"`
	Notebook   string             `json:"notebook,omitempty"`
}

// notify sends the notice of a finished run if its schedule asks for it.
func (s *Scheduler) notify(ctx context.Context, r userapps.Run) {
	if r.ScheduleID == "" {
		return
	}
	sc, err := s.opts.Schedules.Schedule(ctx, r.ScheduleID)
	if err != nil || sc.AlertTap == "" {
		return
	}
	failed := r.Status == userapps.RunFailed || r.Status == userapps.RunTimedOut || r.Status == userapps.RunCancelled
	if !failed && sc.Notify != userapps.NotifyAlways {
		return
	}
	n := Notice{Type: "flowlab.run", AppID: r.AppID, Owner: r.Owner, RunID: r.ID, ScheduleID: r.ScheduleID, Status: r.Status,
		Trigger: r.Trigger, Scheduled: r.Scheduled, Started: r.Started, Finished: r.Finished, Error: r.Error}
	if app, err := s.opts.Apps.App(ctx, r.AppID); err == nil {
		n.App = app.Name
	}
	if s.opts.Link != nil && r.Notebook != "" {
		n.Notebook = s.opts.Link(r)
	}
	body, _ := json.Marshal(n)
	if s.opts.Notifier == nil {
		s.log.Warn("run notice not sent: no taps configured", "run", r.ID, "tap", sc.AlertTap)
		return
	}
	// In the background: a slow tap must not hold the scheduler's steps
	// (heartbeats, ticks) or the request that cancelled a run.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeTimeout)
		defer cancel()
		if err := s.opts.Notifier.Notify(ctx, sc.AlertTap, body); err != nil {
			s.log.Warn("run notice not sent", "run", r.ID, "tap", sc.AlertTap, "err", err)
		}
	}()
}

// noticeTimeout bounds sending one notice.
const noticeTimeout = 30 * time.Second
