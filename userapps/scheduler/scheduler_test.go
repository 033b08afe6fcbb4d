package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/sqlite"
)

// clock is a settable fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// executor is a fake runner: it records the runs it is given and ends each
// as outcome says (default: success), after release is closed if hold is
// set for the run's app.
type executor struct {
	mu      sync.Mutex
	runs    []userapps.Run
	running int
	peak    int
	outcome func(userapps.Run) (userapps.RunStatus, *userapps.RunError)
	hold    map[string]chan struct{} // app id → closed to let its runs end
	discard []string
}

func (e *executor) Prepare(r userapps.Run) string { return "runs/" + r.AppID + "/" + r.ID + ".ipynb" }

func (e *executor) Execute(ctx context.Context, r userapps.Run, app userapps.App, cellT, runT time.Duration) (userapps.RunStatus, *userapps.RunError) {
	e.mu.Lock()
	e.runs = append(e.runs, r)
	e.running++
	e.peak = max(e.peak, e.running)
	hold := e.hold[app.ID]
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.running--
		e.mu.Unlock()
	}()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return userapps.RunCancelled, &userapps.RunError{Cell: -1, Name: "cancelled", Value: context.Cause(ctx).Error()}
		}
	}
	if e.outcome != nil {
		return e.outcome(r)
	}
	return userapps.RunSucceeded, nil
}

// waitRunning waits until n runs are inside Execute.
func (e *executor) waitRunning(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		e.mu.Lock()
		got := e.running
		e.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs in the executor, want %d", got, n)
		}
	}
}

func (e *executor) Discard(r userapps.Run) error {
	e.mu.Lock()
	e.discard = append(e.discard, r.ID)
	e.mu.Unlock()
	return nil
}

func (e *executor) executed() []userapps.Run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.runs)
}

// notifier records notices.
type notifier struct {
	mu      sync.Mutex
	notices []Notice
	taps    []string
}

func (n *notifier) Notify(ctx context.Context, tap string, body []byte) error {
	var x Notice
	if err := json.Unmarshal(body, &x); err != nil {
		return err
	}
	n.mu.Lock()
	n.notices = append(n.notices, x)
	n.taps = append(n.taps, tap)
	n.mu.Unlock()
	return nil
}

// world is a store with one user and apps, a fake clock and executor.
type world struct {
	t     *testing.T
	path  string
	db    *sqlite.DB
	clock *clock
	exec  *executor
	notes *notifier
	apps  map[string]userapps.App
}

var start = time.Date(2026, 11, 23, 10, 0, 30, 0, time.UTC)

func newWorld(t *testing.T, appNames ...string) *world {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowlab.db")
	w := &world{t: t, path: path, db: openStore(t, path), clock: &clock{now: start}, exec: &executor{hold: map[string]chan struct{}{}}, notes: &notifier{}, apps: map[string]userapps.App{}}
	ctx := context.Background()
	if err := w.db.CreateUser(ctx, userapps.User{Name: "ana", Role: userapps.RoleDeveloper, Created: start}); err != nil {
		t.Fatal(err)
	}
	for _, n := range appNames {
		a := userapps.App{ID: "app-" + n, Name: n, Owner: "ana", Notebook: n + ".ipynb", State: userapps.StateStopped, Created: start, Updated: start, StateChanged: start}
		if err := w.db.CreateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		w.apps[n] = a
	}
	return w
}

func openStore(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// scheduler returns a Scheduler over the world's store, clock and fakes.
func (w *world) scheduler(change ...func(*Options)) *Scheduler {
	w.t.Helper()
	opts := Options{Schedules: w.db, Runs: w.db, Apps: w.db, Executor: w.exec, Notifier: w.notes, Now: w.clock.Now, Worker: "test"}
	for _, c := range change {
		c(&opts)
	}
	s, err := New(opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// schedule creates a schedule on app.
func (w *world) schedule(app, spec string, change ...func(*userapps.Schedule)) userapps.Schedule {
	w.t.Helper()
	sc := userapps.Schedule{ID: "sched-" + app + "-" + fmt.Sprint(len(w.schedules())), AppID: w.apps[app].ID, Spec: spec, Enabled: true, Created: w.clock.Now(), Updated: w.clock.Now()}
	for _, c := range change {
		c(&sc)
	}
	if err := w.db.CreateSchedule(context.Background(), sc); err != nil {
		w.t.Fatal(err)
	}
	return sc
}

func (w *world) schedules() []userapps.Schedule {
	s, err := w.db.Schedules(context.Background(), "")
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// runs returns the runs of the store, oldest first.
func (w *world) runs(f userapps.RunFilter) []userapps.Run {
	w.t.Helper()
	rs, err := w.db.Runs(context.Background(), f)
	if err != nil {
		w.t.Fatal(err)
	}
	slices.Reverse(rs)
	return rs
}

// step steps s and waits for the runs it started.
func step(t *testing.T, s *Scheduler) {
	t.Helper()
	if err := s.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Wait()
}

func statuses(rs []userapps.Run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s/%s@%s", r.Trigger, r.Status, r.Scheduled.Format("15:04")))
	}
	return out
}

func TestEveryMinuteRunsNTimes(t *testing.T) {
	w := newWorld(t, "scan")
	w.schedule("scan", "* * * * *")
	s := w.scheduler()
	step(t, s) // first sight: the next tick is 10:01
	if rs := w.runs(userapps.RunFilter{}); len(rs) != 0 {
		t.Fatalf("runs before the first tick: %v", statuses(rs))
	}
	const n = 5
	for range n {
		w.clock.Add(time.Minute)
		step(t, s)
		step(t, s) // a second step in the same minute fires nothing more
	}
	rs := w.runs(userapps.RunFilter{})
	want := []string{"schedule/succeeded@10:01", "schedule/succeeded@10:02", "schedule/succeeded@10:03", "schedule/succeeded@10:04", "schedule/succeeded@10:05"}
	if !slices.Equal(statuses(rs), want) {
		t.Fatalf("runs = %v, want %v", statuses(rs), want)
	}
	if got := len(w.exec.executed()); got != n {
		t.Errorf("executor ran %d runs, want %d", got, n)
	}
	for _, r := range rs {
		if r.Owner != "ana" || r.Worker != "test" || r.Notebook == "" || r.Started.IsZero() || r.Finished.IsZero() {
			t.Errorf("run record incomplete: %+v", r)
		}
	}
}

func TestCatchUpAfterDowntime(t *testing.T) {
	for _, tt := range []struct {
		policy userapps.CatchUpPolicy
		want   []string
	}{
		// 10:01–10:10 were missed; 10:11 is on time.
		{userapps.CatchUpSkip, []string{"catch-up/skipped@10:01", "schedule/succeeded@10:11"}},
		// once: one run for 10:10, the rest skipped; 10:11 overlaps it and
		// is skipped (overlap: skip).
		{userapps.CatchUpOnce, []string{"catch-up/skipped@10:01", "catch-up/succeeded@10:10", "schedule/skipped@10:11"}},
	} {
		t.Run(string(tt.policy), func(t *testing.T) {
			w := newWorld(t, "scan")
			w.schedule("scan", "* * * * *", func(s *userapps.Schedule) {
				s.CatchUp = tt.policy
				s.AlertTap = "Alerts"
				s.Notify = userapps.NotifyAlways
			})
			step(t, w.scheduler())
			// The server is down from 10:00:30 to 10:11:00.2; a new process
			// (a new Scheduler on the same store) starts.
			w.clock.Set(time.Date(2026, 11, 23, 10, 11, 0, 200e6, time.UTC))
			s := w.scheduler()
			step(t, s)
			step(t, s)
			rs := w.runs(userapps.RunFilter{})
			if !slices.Equal(statuses(rs), tt.want) {
				t.Fatalf("runs = %v, want %v", statuses(rs), tt.want)
			}
			skipped := rs[0]
			if skipped.Error == nil || !strings.Contains(skipped.Error.Value, "passed while the server was down") {
				t.Errorf("skipped record's reason: %+v", skipped.Error)
			}
			if len(w.notes.notices) != len(tt.want) {
				t.Errorf("notices %d, want one per run (notify: always): %+v", len(w.notes.notices), w.notes.notices)
			}
			// Nothing more fires until 10:12.
			w.clock.Add(30 * time.Second)
			step(t, s)
			if got := len(w.runs(userapps.RunFilter{})); got != len(tt.want) {
				t.Errorf("%d runs after a step within the minute, want %d", got, len(tt.want))
			}
		})
	}
}

func TestOverlap(t *testing.T) {
	for _, tt := range []struct {
		policy userapps.OverlapPolicy
		want   []string
	}{
		{userapps.OverlapSkip, []string{"schedule/succeeded@10:01", "schedule/skipped@10:02", "schedule/succeeded@10:03"}},
		{userapps.OverlapQueue, []string{"schedule/succeeded@10:01", "schedule/succeeded@10:02", "schedule/succeeded@10:03"}},
	} {
		t.Run(string(tt.policy), func(t *testing.T) {
			w := newWorld(t, "slow")
			w.schedule("slow", "* * * * *", func(s *userapps.Schedule) { s.Overlap = tt.policy })
			release := make(chan struct{})
			w.exec.hold[w.apps["slow"].ID] = release
			s := w.scheduler()
			ctx := context.Background()
			if err := s.Step(ctx); err != nil {
				t.Fatal(err)
			}
			w.clock.Add(time.Minute) // 10:01: the long run starts
			if err := s.Step(ctx); err != nil {
				t.Fatal(err)
			}
			w.clock.Add(time.Minute) // 10:02: it is still running
			if err := s.Step(ctx); err != nil {
				t.Fatal(err)
			}
			if tt.policy == userapps.OverlapQueue {
				if q := w.runs(userapps.RunFilter{Statuses: []userapps.RunStatus{userapps.RunQueued}}); len(q) != 1 {
					t.Fatalf("queued runs while the first runs: %v", statuses(q))
				}
			}
			close(release)
			s.Wait()
			step(t, s) // the queued run, if any, starts and ends
			w.clock.Add(time.Minute)
			step(t, s) // 10:03
			if got := statuses(w.runs(userapps.RunFilter{})); !slices.Equal(got, tt.want) {
				t.Fatalf("runs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConcurrencyLimit(t *testing.T) {
	w := newWorld(t, "a", "b", "c", "d")
	release := make(chan struct{})
	for _, a := range w.apps {
		w.exec.hold[a.ID] = release
	}
	s := w.scheduler(func(o *Options) { o.MaxConcurrent = 2 })
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c", "d"} {
		if _, err := s.RunNow(ctx, w.apps[n], map[string]any{"who": n}); err != nil {
			t.Fatal(err)
		}
		w.clock.Add(time.Millisecond)
	}
	if err := s.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if r := w.runs(userapps.RunFilter{Statuses: []userapps.RunStatus{userapps.RunRunning}}); len(r) != 2 {
		t.Fatalf("running = %d, want the limit 2", len(r))
	}
	// A second process sharing the store respects the same limit.
	other := w.scheduler(func(o *Options) { o.MaxConcurrent = 2; o.Worker = "other" })
	if err := other.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if r := w.runs(userapps.RunFilter{Statuses: []userapps.RunStatus{userapps.RunRunning}}); len(r) != 2 {
		t.Fatalf("running = %d after another process stepped, want 2", len(r))
	}
	w.exec.waitRunning(t, 2) // both claimed runs reach the executor before they are let go
	close(release)
	for range 3 {
		s.Wait()
		step(t, s)
	}
	rs := w.runs(userapps.RunFilter{})
	var order []string
	for _, r := range w.exec.executed() {
		order = append(order, r.Parameters["who"].(string))
	}
	slices.Sort(order[:2])
	slices.Sort(order[2:])
	if len(rs) != 4 || w.exec.peak != 2 || !slices.Equal(order, []string{"a", "b", "c", "d"}) {
		t.Errorf("runs %v, peak %d, order %v; want 4 succeeded, peak 2, the two oldest first", statuses(rs), w.exec.peak, order)
	}
}

// TestTwoProcessesOneTick runs the scheduler in two processes (this test
// binary, re-executed) on one store at the same fake time, many times:
// each tick makes exactly one run.
func TestTwoProcessesOneTick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	w := newWorld(t, "scan")
	w.schedule("scan", "* * * * *")
	step(t, w.scheduler())
	const ticks = 8
	for i := 1; i <= ticks; i++ {
		now := start.Add(time.Duration(i) * time.Minute)
		var wg sync.WaitGroup
		outs := make([]string, 2)
		for p := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
				cmd.Env = append(os.Environ(), "FLOWLAB_SCHEDULER_HELPER="+w.path, "FLOWLAB_SCHEDULER_NOW="+now.Format(time.RFC3339Nano), fmt.Sprintf("FLOWLAB_SCHEDULER_WORKER=p%d", p))
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("helper process: %v\n%s", err, out)
				}
				outs[p] = string(out)
			}()
		}
		wg.Wait()
	}
	rs := w.runs(userapps.RunFilter{})
	if len(rs) != ticks {
		t.Fatalf("%d runs for %d ticks: %v", len(rs), ticks, statuses(rs))
	}
	workers := map[string]int{}
	for i, r := range rs {
		if r.Status != userapps.RunSucceeded || !r.Scheduled.Equal(start.Add(time.Duration(i+1)*time.Minute).Truncate(time.Minute)) {
			t.Errorf("run %d: %s %s", i, r.Status, r.Scheduled)
		}
		workers[r.Worker]++
	}
	t.Logf("runs per process: %v", workers)
}

// TestHelperProcess is one server process of TestTwoProcessesOneTick.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("FLOWLAB_SCHEDULER_HELPER")
	if path == "" {
		t.Skip("a helper of TestTwoProcessesOneTick")
	}
	now, err := time.Parse(time.RFC3339Nano, os.Getenv("FLOWLAB_SCHEDULER_NOW"))
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, path)
	s, err := New(Options{Schedules: db, Runs: db, Apps: db, Executor: &executor{}, Now: func() time.Time { return now }, Worker: os.Getenv("FLOWLAB_SCHEDULER_WORKER")})
	if err != nil {
		t.Fatal(err)
	}
	step(t, s)
}

func TestDaylightSavingBerlin(t *testing.T) {
	w := newWorld(t, "nightly")
	w.schedule("nightly", "30 2 * * *", func(s *userapps.Schedule) { s.TimeZone = "Europe/Berlin" })
	// Step every 10 minutes through both changes of 2026 (a step each
	// minute is the same, slower); each day's 02:30 runs exactly once.
	s := w.scheduler(func(o *Options) { o.Grace = 15 * time.Minute; o.KeepFor = 365 * 24 * time.Hour })
	for _, day := range []time.Time{
		time.Date(2026, 3, 28, 18, 0, 0, 0, time.UTC),  // spring: 02:30 does not exist on the 29th
		time.Date(2026, 10, 24, 18, 0, 0, 0, time.UTC), // autumn: 02:30 happens twice on the 25th
	} {
		w.clock.Set(day)
		if _, err := w.db.UpdateSchedule(context.Background(), w.schedules()[0].ID, func(sc *userapps.Schedule) error { sc.NextRun = time.Time{}; return nil }); err != nil {
			t.Fatal(err)
		}
		for range 6 * 24 * 2 { // two days
			step(t, s)
			w.clock.Add(10 * time.Minute)
		}
	}
	var got []string
	for _, r := range w.runs(userapps.RunFilter{}) {
		got = append(got, string(r.Status)+" "+r.Scheduled.UTC().Format(time.RFC3339))
	}
	want := []string{
		"succeeded 2026-03-29T01:30:00Z", // 03:30 CEST, right after the gap
		"succeeded 2026-03-30T00:30:00Z",
		"succeeded 2026-10-25T00:30:00Z", // 02:30 CEST, the first of the two
		"succeeded 2026-10-26T01:30:00Z",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
}

func TestOrphanedRunFails(t *testing.T) {
	w := newWorld(t, "scan")
	sc := w.schedule("scan", "* * * * *", func(s *userapps.Schedule) { s.AlertTap = "Alerts" })
	ctx := context.Background()
	// Process A claimed a run and died: its heartbeat stopped at 10:00:30.
	r := userapps.Run{ID: "run-a", AppID: w.apps["scan"].ID, Owner: "ana", ScheduleID: sc.ID, Status: userapps.RunQueued, Trigger: userapps.TriggerSchedule, Created: start}
	if err := w.db.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := w.db.ClaimRun(ctx, r.ID, "dead-process", start, 2); err != nil || !ok {
		t.Fatal(ok, err)
	}
	s := w.scheduler(func(o *Options) { o.Heartbeat = 10 * time.Second })
	w.clock.Add(25 * time.Second) // within 3 heartbeats: still alive
	step(t, s)
	if got, _ := w.db.Run(ctx, r.ID); got.Status != userapps.RunRunning {
		t.Fatalf("status %s within 3 heartbeats, want running", got.Status)
	}
	w.clock.Add(10 * time.Second)
	step(t, s)
	got, _ := w.db.Run(ctx, r.ID)
	if got.Status != userapps.RunFailed || got.Error == nil || !strings.Contains(got.Error.Value, "dead-process") {
		t.Fatalf("orphan: %s %+v, want failed naming the process", got.Status, got.Error)
	}
	if len(w.notes.notices) != 1 || w.notes.notices[0].Status != userapps.RunFailed || w.notes.taps[0] != "Alerts" {
		t.Errorf("notices %+v to %v, want one failed to Alerts", w.notes.notices, w.notes.taps)
	}
}

func TestNoticesOnFailure(t *testing.T) {
	w := newWorld(t, "scan")
	w.schedule("scan", "* * * * *", func(s *userapps.Schedule) { s.AlertTap = "Alerts" })
	w.exec.outcome = func(r userapps.Run) (userapps.RunStatus, *userapps.RunError) {
		if r.Scheduled.Minute()%2 == 0 {
			return userapps.RunFailed, &userapps.RunError{Cell: 3, Name: "panic", Value: "index out of range"}
		}
		return userapps.RunSucceeded, nil
	}
	s := w.scheduler(func(o *Options) {
		o.Link = func(r userapps.Run) string {
			return "http://127.0.0.1:8888/api/apps/" + r.AppID + "/runs/" + r.ID + "/notebook"
		}
	})
	step(t, s)
	for range 4 {
		w.clock.Add(time.Minute)
		step(t, s)
	}
	if len(w.notes.notices) != 2 {
		t.Fatalf("%d notices, want 2 (the failed runs at 10:02 and 10:04): %+v", len(w.notes.notices), w.notes.notices)
	}
	n := w.notes.notices[0]
	if n.Type != "flowlab.run" || n.App != "scan" || n.Status != userapps.RunFailed || n.Error == nil || n.Error.Cell != 3 ||
		!strings.HasSuffix(n.Notebook, "/runs/"+n.RunID+"/notebook") || n.Scheduled.Minute() != 2 {
		t.Errorf("notice = %+v", n)
	}
}

func TestCancel(t *testing.T) {
	w := newWorld(t, "a", "b")
	release := make(chan struct{})
	w.exec.hold[w.apps["a"].ID] = release
	s := w.scheduler(func(o *Options) { o.MaxConcurrent = 1 })
	ctx := context.Background()
	running, _ := s.RunNow(ctx, w.apps["a"], nil)
	w.clock.Add(time.Millisecond)
	queued, _ := s.RunNow(ctx, w.apps["b"], nil)
	if err := s.Step(ctx); err != nil {
		t.Fatal(err)
	}
	w.exec.waitRunning(t, 1)
	if r, err := s.Cancel(ctx, queued.ID, "by ana"); err != nil || r.Status != userapps.RunCancelled {
		t.Fatalf("cancel queued: %v %v", r.Status, err)
	}
	if _, err := s.Cancel(ctx, running.ID, "by ana"); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	if r, _ := w.db.Run(ctx, running.ID); r.Status != userapps.RunCancelled || r.Error == nil || r.Error.Value != "by ana" {
		t.Errorf("cancelled running run: %s %+v", r.Status, r.Error)
	}
	if _, err := s.Cancel(ctx, running.ID, "again"); !errors.Is(err, ErrNotCancellable) {
		t.Errorf("cancel a finished run: %v, want ErrNotCancellable", err)
	}
	step(t, s)
	if n := len(w.exec.executed()); n != 1 {
		t.Errorf("%d runs executed, want 1 (the cancelled queued one never runs)", n)
	}
}

func TestPrune(t *testing.T) {
	w := newWorld(t, "scan")
	s := w.scheduler(func(o *Options) { o.KeepRuns = 3; o.KeepFor = 24 * time.Hour })
	ctx := context.Background()
	for range 5 {
		if _, err := s.RunNow(ctx, w.apps["scan"], nil); err != nil {
			t.Fatal(err)
		}
		step(t, s)
		w.clock.Add(time.Hour)
	}
	if err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if rs := w.runs(userapps.RunFilter{}); len(rs) != 3 || len(w.exec.discard) != 2 {
		t.Fatalf("kept %d runs, discarded %d notebooks; want 3 and 2", len(rs), len(w.exec.discard))
	}
	w.clock.Add(22 * time.Hour) // the oldest kept run is now older than a day
	if err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if rs := w.runs(userapps.RunFilter{}); len(rs) != 2 {
		t.Fatalf("kept %d runs after the age limit, want 2", len(rs))
	}
}

func TestBackfill(t *testing.T) {
	w := newWorld(t, "scan")
	sc := w.schedule("scan", "@hourly", func(s *userapps.Schedule) { s.Parameters = map[string]any{"threshold": 10} })
	s := w.scheduler(func(o *Options) { o.MaxConcurrent = 4 })
	ctx := context.Background()
	from := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	runs, err := s.Backfill(ctx, sc.ID, from, from.Add(23*time.Hour+59*time.Minute), "hour")
	if err != nil || len(runs) != 24 {
		t.Fatalf("backfill: %d runs, %v", len(runs), err)
	}
	for range 24 {
		step(t, s)
	}
	var hours []string
	for _, r := range w.exec.executed() {
		if r.Trigger != userapps.TriggerBackfill || r.Parameters["threshold"] != float64(10) && r.Parameters["threshold"] != 10 {
			t.Errorf("run %+v", r)
		}
		hours = append(hours, r.Parameters["hour"].(string))
	}
	slices.Sort(hours) // backfill runs run side by side, within the limit
	if len(hours) != 24 || hours[0] != "202611220000" || hours[23] != "202611222300" || len(slices.Compact(slices.Clone(hours))) != 24 {
		t.Errorf("hours = %v", hours)
	}
	for _, bad := range []struct {
		from, to time.Time
		param    string
	}{
		{from, from.Add(-time.Hour), "hour"},
		{from, from.Add(800 * time.Hour), "hour"},
		{from, from, ""},
		{from, from, "not an identifier"},
	} {
		if _, err := s.Backfill(ctx, sc.ID, bad.from, bad.to, bad.param); !errors.Is(err, userapps.ErrInvalid) {
			t.Errorf("Backfill(%s, %s, %q) = %v, want ErrInvalid", bad.from, bad.to, bad.param, err)
		}
	}
}

func TestScheduleLifecycle(t *testing.T) {
	w := newWorld(t, "scan")
	s := w.scheduler()
	ctx := context.Background()
	sc, err := s.CreateSchedule(ctx, userapps.Schedule{AppID: w.apps["scan"].ID, Spec: "0 * * * *", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Overlap != userapps.OverlapSkip || sc.CatchUp != userapps.CatchUpSkip || sc.TimeZone != "UTC" || !sc.NextRun.Equal(time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("created: %+v", sc)
	}
	next := s.NextFireTimes(sc, 3)
	if len(next) != 3 || next[0].Hour() != 11 || next[2].Hour() != 13 {
		t.Errorf("next fire times %v", next)
	}
	if _, err := s.CreateSchedule(ctx, userapps.Schedule{AppID: w.apps["scan"].ID, Spec: "0 * * *", Enabled: true}); !errors.Is(err, userapps.ErrInvalid) {
		t.Errorf("bad cron: %v", err)
	}
	if _, err := s.CreateSchedule(ctx, userapps.Schedule{AppID: "app-nope", Spec: "@daily", Enabled: true}); !errors.Is(err, userapps.ErrNotFound) {
		t.Errorf("unknown app: %v", err)
	}
	// Disabled across 11:00 and enabled at 12:10: 11:00 and 12:00 are not
	// caught up; the next tick is 13:00.
	if sc, err = s.UpdateSchedule(ctx, sc.ID, func(x *userapps.Schedule) error { x.Enabled = false; return nil }); err != nil || !sc.NextRun.IsZero() || s.NextFireTimes(sc, 3) != nil {
		t.Fatalf("disable: %+v %v", sc, err)
	}
	w.clock.Set(time.Date(2026, 11, 23, 12, 10, 0, 0, time.UTC))
	step(t, s)
	if sc, err = s.UpdateSchedule(ctx, sc.ID, func(x *userapps.Schedule) error { x.Enabled = true; return nil }); err != nil || sc.NextRun.Hour() != 13 {
		t.Fatalf("enable: %+v %v", sc, err)
	}
	step(t, s)
	if rs := w.runs(userapps.RunFilter{}); len(rs) != 0 {
		t.Errorf("runs after re-enabling: %v", statuses(rs))
	}
	// A queued run of a deleted schedule is cancelled; its record stays.
	r := userapps.Run{ID: "run-q", AppID: sc.AppID, Owner: "ana", ScheduleID: sc.ID, Status: userapps.RunQueued, Trigger: userapps.TriggerSchedule, Created: w.clock.Now()}
	if err := w.db.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSchedule(ctx, sc.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := w.db.Run(ctx, "run-q"); err != nil || got.Status != userapps.RunCancelled || got.ScheduleID != "" {
		t.Errorf("queued run of a deleted schedule: %+v %v", got, err)
	}
}

func TestRunPanicFailsTheRun(t *testing.T) {
	w := newWorld(t, "scan")
	w.exec.outcome = func(userapps.Run) (userapps.RunStatus, *userapps.RunError) { panic("runner bug") }
	s := w.scheduler()
	r, err := s.RunNow(context.Background(), w.apps["scan"], nil)
	if err != nil {
		t.Fatal(err)
	}
	step(t, s)
	got, _ := w.db.Run(context.Background(), r.ID)
	if got.Status != userapps.RunFailed || got.Error == nil || got.Error.Name != "panic" || got.Error.Value != "runner bug" {
		t.Errorf("run after a panic: %s %+v", got.Status, got.Error)
	}
}

// TestRunLostElsewhereStops checks that a run whose record another process
// changed (declared it lost, or cancelled it) is stopped here at its next
// heartbeat, and that its outcome does not overwrite the record.
func TestRunLostElsewhereStops(t *testing.T) {
	w := newWorld(t, "slow")
	release := make(chan struct{})
	defer close(release)
	w.exec.hold[w.apps["slow"].ID] = release
	s := w.scheduler(func(o *Options) { o.Heartbeat = 20 * time.Millisecond })
	other := w.scheduler(func(o *Options) { o.Worker = "other" })
	ctx := context.Background()
	r, _ := s.RunNow(ctx, w.apps["slow"], nil)
	if err := s.Step(ctx); err != nil {
		t.Fatal(err)
	}
	w.exec.waitRunning(t, 1)
	// The other process cancels it (a user's request reached that one).
	if got, err := other.Cancel(ctx, r.ID, "cancelled by ana"); err != nil || got.Status != userapps.RunCancelled {
		t.Fatalf("cancel from another process: %+v %v", got, err)
	}
	s.Wait() // the heartbeat sees it and stops the run
	got, _ := w.db.Run(ctx, r.ID)
	if got.Status != userapps.RunCancelled || got.Error == nil || got.Error.Value != "cancelled by ana" {
		t.Errorf("record after the owner stopped: %s %+v", got.Status, got.Error)
	}
}

func TestOwnerMustStillBeAllowed(t *testing.T) {
	w := newWorld(t, "scan")
	s := w.scheduler(func(o *Options) { o.Users = w.db })
	ctx := context.Background()
	if _, err := w.db.UpdateUser(ctx, "ana", func(u *userapps.User) error { u.Role = userapps.RoleViewer; return nil }); err != nil {
		t.Fatal(err)
	}
	r, _ := s.RunNow(ctx, w.apps["scan"], nil)
	step(t, s)
	got, _ := w.db.Run(ctx, r.ID)
	if got.Status != userapps.RunFailed || got.Error == nil || got.Error.Name != "owner" || len(w.exec.executed()) != 0 {
		t.Errorf("run of an owner demoted to viewer: %s %+v, executed %d", got.Status, got.Error, len(w.exec.executed()))
	}
}

func TestBackfillDoesNotHoldTicks(t *testing.T) {
	w := newWorld(t, "scan")
	sc := w.schedule("scan", "* * * * *")
	release := make(chan struct{})
	w.exec.hold[w.apps["scan"].ID] = release
	s := w.scheduler(func(o *Options) { o.MaxConcurrent = 4 })
	ctx := context.Background()
	step(t, s)
	if _, err := s.Backfill(ctx, sc.ID, start.Add(-3*time.Hour), start.Add(-2*time.Hour), "hour"); err != nil {
		t.Fatal(err)
	}
	if err := s.Step(ctx); err != nil {
		t.Fatal(err)
	}
	w.exec.waitRunning(t, 2) // both backfill hours at once
	w.clock.Add(time.Minute)
	if err := s.Step(ctx); err != nil { // the tick runs beside them, not skipped
		t.Fatal(err)
	}
	w.exec.waitRunning(t, 3)
	close(release)
	s.Wait()
	if got := statuses(w.runs(userapps.RunFilter{Statuses: []userapps.RunStatus{userapps.RunSkipped}})); len(got) != 0 {
		t.Errorf("skipped during a backfill: %v", got)
	}
}

func TestPruneCountsSkippedApart(t *testing.T) {
	w := newWorld(t, "scan")
	sc := w.schedule("scan", "* * * * *")
	s := w.scheduler(func(o *Options) { o.KeepRuns = 2 })
	ctx := context.Background()
	// 2 runs, then 5 skipped records after them.
	for i := range 7 {
		r := userapps.Run{ID: fmt.Sprintf("r%d", i), AppID: sc.AppID, Owner: "ana", ScheduleID: sc.ID, Status: userapps.RunSucceeded,
			Trigger: userapps.TriggerManual, Created: start.Add(time.Duration(i) * time.Minute)}
		if i >= 2 {
			r.Status, r.Trigger = userapps.RunSkipped, userapps.TriggerSchedule
			r.Scheduled = r.Created
		}
		if err := w.db.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range w.runs(userapps.RunFilter{}) {
		ids = append(ids, r.ID)
	}
	if want := []string{"r0", "r1", "r5", "r6"}; !slices.Equal(ids, want) {
		t.Errorf("kept %v, want %v (the 2 runs and the 2 newest skipped records)", ids, want)
	}
}
