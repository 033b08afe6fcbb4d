package userapps

import (
	"context"
	"encoding/json"
	"fmt"
	"go/token"
	"time"
)

// OverlapPolicy says what a schedule does when its tick comes while its
// previous run is still queued or running.
type OverlapPolicy string

const (
	// OverlapSkip records the tick as a skipped run (the default).
	OverlapSkip OverlapPolicy = "skip"
	// OverlapQueue queues the run behind the previous one.
	OverlapQueue OverlapPolicy = "queue"
)

// CatchUpPolicy says what a schedule does with ticks that passed while the
// server was down.
type CatchUpPolicy string

const (
	// CatchUpSkip records the missed ticks as one skipped run (the default).
	CatchUpSkip CatchUpPolicy = "skip"
	// CatchUpOnce runs once for the latest missed tick (trigger catch-up)
	// and records the others as skipped.
	CatchUpOnce CatchUpPolicy = "once"
)

// NotifyPolicy says which runs of a schedule send a notice to its tap.
type NotifyPolicy string

const (
	// NotifyFailure sends a notice for runs that did not succeed (failed,
	// timed-out, cancelled) — the default when a tap is set.
	NotifyFailure NotifyPolicy = "failure"
	// NotifyAlways sends a notice for every finished run.
	NotifyAlways NotifyPolicy = "always"
)

// Schedule runs an app's notebook headless at the times of a cron
// expression.
type Schedule struct {
	// ID identifies the schedule.
	ID string `json:"id"`
	// AppID is the app whose notebook runs.
	AppID string `json:"app_id"`
	// Spec is the cron expression (see Cron).
	Spec string `json:"cron"`
	// TimeZone is the IANA zone Spec is read in; "" is UTC.
	TimeZone string `json:"time_zone"`
	// Enabled schedules fire; disabled ones keep their settings.
	Enabled bool `json:"enabled"`
	// Parameters are injected after the notebook's parameters cell.
	Parameters map[string]any `json:"parameters"`
	// Overlap is the overlap policy; "" means OverlapSkip.
	Overlap OverlapPolicy `json:"overlap"`
	// CatchUp is the policy for ticks missed while the server was down;
	// "" means CatchUpSkip.
	CatchUp CatchUpPolicy `json:"catch_up"`
	// CellTimeout and RunTimeout bound one cell and the whole run; 0 means
	// no limit.
	CellTimeout time.Duration `json:"-"`
	RunTimeout  time.Duration `json:"-"`
	// AlertTap names the tap that receives run notices; "" sends none.
	AlertTap string `json:"alert_tap"`
	// Notify says which runs send a notice; "" means NotifyFailure.
	Notify NotifyPolicy `json:"notify"`
	// NextRun is the next tick the scheduler has not handled yet: the
	// schedule's durable cursor. Zero until the scheduler first sees it.
	NextRun time.Time `json:"-"`
	// Created and Updated are when the schedule was made and last changed.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Cron parses the schedule's expression in its time zone.
func (s Schedule) Cron() (Cron, error) { return ParseCron(s.Spec, s.TimeZone) }

// Normalize fills the policies' defaults and checks every field. Errors
// wrap ErrInvalid and name the field.
func (s *Schedule) Normalize() error {
	if s.Overlap == "" {
		s.Overlap = OverlapSkip
	}
	if s.CatchUp == "" {
		s.CatchUp = CatchUpSkip
	}
	if s.Notify == "" {
		s.Notify = NotifyFailure
	}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	if s.Parameters == nil {
		s.Parameters = map[string]any{}
	}
	switch {
	case s.AppID == "":
		return fmt.Errorf("schedule without an app: %w", ErrInvalid)
	case s.Overlap != OverlapSkip && s.Overlap != OverlapQueue:
		return fmt.Errorf("overlap %q: use skip or queue: %w", s.Overlap, ErrInvalid)
	case s.CatchUp != CatchUpSkip && s.CatchUp != CatchUpOnce:
		return fmt.Errorf("catch_up %q: use skip or once: %w", s.CatchUp, ErrInvalid)
	case s.Notify != NotifyFailure && s.Notify != NotifyAlways:
		return fmt.Errorf("notify %q: use failure or always: %w", s.Notify, ErrInvalid)
	case s.CellTimeout < 0 || s.RunTimeout < 0:
		return fmt.Errorf("timeouts must not be negative: %w", ErrInvalid)
	}
	if err := CheckParameters(s.Parameters); err != nil {
		return err
	}
	_, err := s.Cron()
	return err
}

// CheckParameters checks parameters as a run will inject them: each name a
// Go identifier that a cell can assign (not a keyword, not _), each value
// one constant: a string, a bool or a number (no null, list or object).
// Errors wrap ErrInvalid and name the parameter.
func CheckParameters(params map[string]any) error {
	for name, v := range params {
		if err := CheckParameterName(name); err != nil {
			return err
		}
		switch v.(type) {
		case string, bool, float64, float32, int, int64, int32, json.Number:
		default:
			return fmt.Errorf("parameter %q: %s is not a string, a bool or a number: a parameter is one Go constant: %w", name, describe(v), ErrInvalid)
		}
	}
	return nil
}

// CheckParameterName checks that name can be a parameter: a Go identifier,
// not a keyword and not the blank identifier.
func CheckParameterName(name string) error {
	if !token.IsIdentifier(name) || name == "_" {
		return fmt.Errorf("parameter %q: not a Go identifier a cell can assign (letters, digits, _; not a keyword): %w", name, ErrInvalid)
	}
	return nil
}

// describe names a JSON value's kind for an error.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// Trigger says what started a run.
type Trigger string

// The triggers of a run.
const (
	TriggerSchedule Trigger = "schedule" // a tick of its schedule
	TriggerManual   Trigger = "manual"   // "Run now"
	TriggerCatchUp  Trigger = "catch-up" // a tick missed while the server was down
	TriggerBackfill Trigger = "backfill" // one hour of a backfill
)

// RunError summarises why a run did not succeed.
type RunError struct {
	// Cell is the index of the failing code cell in the notebook, or -1
	// when no cell is to blame (the kernel would not start, a timeout of
	// the whole run).
	Cell int `json:"cell"`
	// Name and Value are the error's ename and evalue (or a reason such as
	// "kernel died: signal: killed").
	Name  string `json:"ename"`
	Value string `json:"evalue"`
}

// Error formats the summary.
func (e *RunError) Error() string {
	if e.Cell >= 0 {
		return fmt.Sprintf("cell %d: %s: %s", e.Cell, e.Name, e.Value)
	}
	return e.Name + ": " + e.Value
}

// Run is one headless execution of an app's notebook.
type Run struct {
	// ID identifies the run.
	ID string `json:"id"`
	// AppID is the app that ran; Owner is its owner, as whom it runs.
	AppID string `json:"app_id"`
	Owner string `json:"owner"`
	// ScheduleID is the schedule that made the run; "" for a manual run.
	ScheduleID string `json:"schedule_id,omitempty"`
	// Status and Trigger.
	Status  RunStatus `json:"status"`
	Trigger Trigger   `json:"trigger"`
	// Parameters injected after the parameters cell.
	Parameters map[string]any `json:"parameters"`
	// Scheduled is the tick (or backfill hour) the run is for; zero for a
	// manual run.
	Scheduled time.Time `json:"scheduled,omitzero"`
	// Created, Started and Finished; Started and Finished are zero until
	// they happen.
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Error says why the run did not succeed; a skipped run says why here
	// too (Cell -1).
	Error *RunError `json:"error,omitempty"`
	// Notebook is the executed notebook's path in the run store; "" until
	// the run starts.
	Notebook string `json:"-"`
	// Worker is the server process that runs it and Heartbeat when that
	// process last said it is still running it; a running run whose
	// heartbeat is old lost its server.
	Worker    string    `json:"-"`
	Heartbeat time.Time `json:"-"`
}

// Duration is how long the run took (so far, if unfinished).
func (r Run) Duration(now time.Time) time.Duration {
	switch {
	case r.Started.IsZero():
		return 0
	case r.Finished.IsZero():
		return now.Sub(r.Started)
	}
	return r.Finished.Sub(r.Started)
}

// RunFilter selects runs in RunStore.Runs. The zero value selects all.
type RunFilter struct {
	AppID      string
	ScheduleID string
	Statuses   []RunStatus
	// Limit keeps the newest Limit runs, if > 0.
	Limit int
}

// ScheduleStore keeps schedules. Implementations are safe for concurrent
// use.
type ScheduleStore interface {
	// CreateSchedule stores a new schedule: ErrNotFound for an unknown app,
	// ErrConflict for a taken id, ErrInvalid for a bad field.
	CreateSchedule(ctx context.Context, s Schedule) error
	// Schedule returns one schedule, or ErrNotFound.
	Schedule(ctx context.Context, id string) (Schedule, error)
	// Schedules returns the schedules of an app ("" for every app) by
	// creation time.
	Schedules(ctx context.Context, appID string) ([]Schedule, error)
	// UpdateSchedule changes a schedule as UpdateApp does.
	UpdateSchedule(ctx context.Context, id string, change func(*Schedule) error) (Schedule, error)
	// DeleteSchedule removes a schedule (its runs stay, without it), or
	// returns ErrNotFound.
	DeleteSchedule(ctx context.Context, id string) error
	// ClaimTick moves the schedule's NextRun from `from` to `to` and stores
	// the runs in one transaction, if NextRun is still `from`; it returns
	// false (and stores nothing) when another process moved it first. This
	// is how two servers sharing a store fire each tick once.
	ClaimTick(ctx context.Context, id string, from, to time.Time, runs []Run) (bool, error)
}

// RunStore keeps run records. Implementations are safe for concurrent use.
type RunStore interface {
	// CreateRun stores a new run: ErrNotFound for an unknown app,
	// ErrConflict for a taken id.
	CreateRun(ctx context.Context, r Run) error
	// Run returns one run, or ErrNotFound.
	Run(ctx context.Context, id string) (Run, error)
	// Runs returns the runs the filter selects, newest first.
	Runs(ctx context.Context, f RunFilter) ([]Run, error)
	// UpdateRun changes a run as UpdateApp does.
	UpdateRun(ctx context.Context, id string, change func(*Run) error) (Run, error)
	// ClaimRun moves a queued run to running for worker, in one
	// transaction, if it is still queued, fewer than limit runs are running
	// (over every worker), and, for a run of a schedule that is not a
	// backfill, no other such run of its schedule is running: false
	// otherwise (another worker or a cancel came first, or it must wait).
	ClaimRun(ctx context.Context, id, worker string, now time.Time, limit int) (Run, bool, error)
	// FinishRun records the end of a running run, if it is still running
	// for worker: false when it is not (another process declared it lost,
	// or it was never this worker's).
	FinishRun(ctx context.Context, id, worker string, status RunStatus, rerr *RunError, now time.Time) (Run, bool, error)
	// BeatRun touches a running run's heartbeat, if it is still running for
	// worker: false when it is not.
	BeatRun(ctx context.Context, id, worker string, now time.Time) (bool, error)
	// DeleteRuns removes the runs with these ids (unknown ids are ignored).
	DeleteRuns(ctx context.Context, ids []string) error
}
