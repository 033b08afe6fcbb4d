package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowlab/flowlab/userapps"
)

var (
	_ userapps.ScheduleStore = (*DB)(nil)
	_ userapps.RunStore      = (*DB)(nil)
)

const scheduleColumns = `id, app_id, spec, time_zone, enabled, parameters, overlap, missed, cell_timeout_ms, run_timeout_ms, alert_tap, notify, next_run_us, created_us, updated_us`

func scanSchedule(r rowScanner) (userapps.Schedule, error) {
	var s userapps.Schedule
	var enabled int
	var params, overlap, missed, notify string
	var cellMS, runMS, next, created, updated int64
	if err := r.Scan(&s.ID, &s.AppID, &s.Spec, &s.TimeZone, &enabled, &params, &overlap, &missed, &cellMS, &runMS, &s.AlertTap, &notify, &next, &created, &updated); err != nil {
		return s, err
	}
	s.Enabled = enabled != 0
	if err := json.Unmarshal([]byte(params), &s.Parameters); err != nil {
		return s, fmt.Errorf("schedule %s: parameters: %w", s.ID, err)
	}
	s.Overlap, s.CatchUp, s.Notify = userapps.OverlapPolicy(overlap), userapps.CatchUpPolicy(missed), userapps.NotifyPolicy(notify)
	s.CellTimeout, s.RunTimeout = time.Duration(cellMS)*time.Millisecond, time.Duration(runMS)*time.Millisecond
	s.NextRun, s.Created, s.Updated = fromMicros(next), fromMicros(created), fromMicros(updated)
	return s, nil
}

func scheduleArgs(s userapps.Schedule) ([]any, error) {
	params, err := json.Marshal(s.Parameters)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: parameters: %w: %w", s.ID, userapps.ErrInvalid, err)
	}
	enabled := 0
	if s.Enabled {
		enabled = 1
	}
	return []any{s.ID, s.AppID, s.Spec, s.TimeZone, enabled, string(params), string(s.Overlap), string(s.CatchUp),
		s.CellTimeout.Milliseconds(), s.RunTimeout.Milliseconds(), s.AlertTap, string(s.Notify), micros(s.NextRun), micros(s.Created), micros(s.Updated)}, nil
}

func checkSchedule(s *userapps.Schedule) error {
	if s.ID == "" {
		return fmt.Errorf("schedule without an id: %w", userapps.ErrInvalid)
	}
	return s.Normalize()
}

// CreateSchedule stores a new schedule (see userapps.ScheduleStore).
func (d *DB) CreateSchedule(ctx context.Context, s userapps.Schedule) error {
	if err := checkSchedule(&s); err != nil {
		return fmt.Errorf("create schedule: %w", err)
	}
	args, err := scheduleArgs(s)
	if err != nil {
		return err
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO schedules (`+scheduleColumns+`) VALUES (?`+strings.Repeat(", ?", len(args)-1)+`)`, args...); err != nil {
		return fmt.Errorf("create schedule for app %s: %w", s.AppID, constraint(err, userapps.ErrNotFound))
	}
	return nil
}

// Schedule returns one schedule, or an error wrapping ErrNotFound.
func (d *DB) Schedule(ctx context.Context, id string) (userapps.Schedule, error) {
	s, err := scanSchedule(d.db.QueryRowContext(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("schedule %s: %w", id, userapps.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("schedule %s: %w", id, err)
	}
	return s, nil
}

// Schedules returns an app's schedules ("" for all) by creation time.
func (d *DB) Schedules(ctx context.Context, appID string) ([]userapps.Schedule, error) {
	q, args := `SELECT `+scheduleColumns+` FROM schedules`, []any{}
	if appID != "" {
		q += ` WHERE app_id = ?`
		args = append(args, appID)
	}
	rows, err := d.db.QueryContext(ctx, q+` ORDER BY created_us, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	var out []userapps.Schedule
	for rows.Next() {
		s, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// UpdateSchedule reads, changes and writes a schedule in one transaction.
// The id and app cannot change (ErrInvalid).
func (d *DB) UpdateSchedule(ctx context.Context, id string, change func(*userapps.Schedule) error) (userapps.Schedule, error) {
	var out userapps.Schedule
	err := d.tx(ctx, func(tx *sql.Tx) error {
		s, err := scanSchedule(tx.QueryRowContext(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("schedule %s: %w", id, userapps.ErrNotFound)
		}
		if err != nil {
			return err
		}
		before := s
		if err := change(&s); err != nil {
			return err
		}
		if s.ID != before.ID || s.AppID != before.AppID {
			return fmt.Errorf("update schedule %s: the id and app cannot change: %w", id, userapps.ErrInvalid)
		}
		if err := checkSchedule(&s); err != nil {
			return fmt.Errorf("update schedule %s: %w", id, err)
		}
		args, err := scheduleArgs(s)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE schedules SET spec = ?, time_zone = ?, enabled = ?, parameters = ?, overlap = ?, missed = ?,
			cell_timeout_ms = ?, run_timeout_ms = ?, alert_tap = ?, notify = ?, next_run_us = ?, created_us = ?, updated_us = ? WHERE id = ?`,
			append(args[2:], id)...)
		if err != nil {
			return fmt.Errorf("update schedule %s: %w", id, err)
		}
		out = s
		return nil
	})
	return out, err
}

// DeleteSchedule removes a schedule; its runs stay, detached.
func (d *DB) DeleteSchedule(ctx context.Context, id string) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM schedules WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete schedule %s: %w", id, userapps.ErrNotFound)
	}
	return nil
}

// ClaimTick moves NextRun from `from` to `to` and stores runs, atomically,
// if NextRun is still `from` (see userapps.ScheduleStore).
func (d *DB) ClaimTick(ctx context.Context, id string, from, to time.Time, runs []userapps.Run) (bool, error) {
	claimed := false
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE schedules SET next_run_us = ? WHERE id = ? AND next_run_us = ?`, micros(to), id, micros(from))
		if err != nil {
			return fmt.Errorf("claim tick of schedule %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		for _, r := range runs {
			// A tick that already has its run (the cursor went back: a clock
			// stepped back, a process with a late clock re-enabled the
			// schedule) is not fired twice, and does not hold the cursor.
			if r.Trigger == userapps.TriggerSchedule || r.Trigger == userapps.TriggerCatchUp {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE schedule_id = ? AND scheduled_us = ? AND run_trigger = ?`,
					r.ScheduleID, micros(r.Scheduled), string(r.Trigger)).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					continue
				}
			}
			if err := insertRun(ctx, tx, r); err != nil {
				return err
			}
		}
		claimed = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return claimed, nil
}

const runColumns = `id, app_id, owner, schedule_id, status, run_trigger, parameters, scheduled_us, started_us, finished_us, error, output, worker, heartbeat_us, created_us`

func scanRun(r rowScanner) (userapps.Run, error) {
	var x userapps.Run
	var schedule sql.NullString
	var status, trigger, params, errText string
	var scheduled, started, finished, heartbeat, created int64
	if err := r.Scan(&x.ID, &x.AppID, &x.Owner, &schedule, &status, &trigger, &params, &scheduled, &started, &finished, &errText, &x.Notebook, &x.Worker, &heartbeat, &created); err != nil {
		return x, err
	}
	x.ScheduleID, x.Status, x.Trigger = schedule.String, userapps.RunStatus(status), userapps.Trigger(trigger)
	if err := json.Unmarshal([]byte(params), &x.Parameters); err != nil {
		return x, fmt.Errorf("run %s: parameters: %w", x.ID, err)
	}
	if errText != "" {
		x.Error = &userapps.RunError{}
		if err := json.Unmarshal([]byte(errText), x.Error); err != nil {
			// A summary written before it was JSON: keep it readable.
			x.Error = &userapps.RunError{Cell: -1, Name: "error", Value: errText}
		}
	}
	x.Scheduled, x.Started, x.Finished = fromMicros(scheduled), fromMicros(started), fromMicros(finished)
	x.Heartbeat, x.Created = fromMicros(heartbeat), fromMicros(created)
	return x, nil
}

func runArgs(x userapps.Run) ([]any, error) {
	if x.ID == "" || x.AppID == "" {
		return nil, fmt.Errorf("run without an id or app: %w", userapps.ErrInvalid)
	}
	if !x.Status.Valid() {
		return nil, fmt.Errorf("run %s: unknown status %q: %w", x.ID, x.Status, userapps.ErrInvalid)
	}
	if x.Parameters == nil {
		x.Parameters = map[string]any{}
	}
	params, err := json.Marshal(x.Parameters)
	if err != nil {
		return nil, fmt.Errorf("run %s: parameters: %w: %w", x.ID, userapps.ErrInvalid, err)
	}
	var errText []byte
	if x.Error != nil {
		if errText, err = json.Marshal(x.Error); err != nil {
			return nil, err
		}
	}
	var schedule any
	if x.ScheduleID != "" {
		schedule = x.ScheduleID
	}
	return []any{x.ID, x.AppID, x.Owner, schedule, string(x.Status), string(x.Trigger), string(params), micros(x.Scheduled),
		micros(x.Started), micros(x.Finished), string(errText), x.Notebook, x.Worker, micros(x.Heartbeat), micros(x.Created)}, nil
}

func insertRun(ctx context.Context, tx *sql.Tx, x userapps.Run) error {
	args, err := runArgs(x)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?`+strings.Repeat(", ?", len(args)-1)+`)`, args...); err != nil {
		return fmt.Errorf("create run of app %s: %w", x.AppID, constraint(err, userapps.ErrNotFound))
	}
	return nil
}

// CreateRun stores a new run.
func (d *DB) CreateRun(ctx context.Context, x userapps.Run) error {
	return d.tx(ctx, func(tx *sql.Tx) error { return insertRun(ctx, tx, x) })
}

// Run returns one run, or an error wrapping ErrNotFound.
func (d *DB) Run(ctx context.Context, id string) (userapps.Run, error) {
	x, err := scanRun(d.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("run %s: %w", id, userapps.ErrNotFound)
	}
	if err != nil {
		return x, fmt.Errorf("run %s: %w", id, err)
	}
	return x, nil
}

// Runs returns the runs f selects, newest first.
func (d *DB) Runs(ctx context.Context, f userapps.RunFilter) ([]userapps.Run, error) {
	q, args := `SELECT `+runColumns+` FROM runs WHERE 1 = 1`, []any{}
	if f.AppID != "" {
		q += ` AND app_id = ?`
		args = append(args, f.AppID)
	}
	if f.ScheduleID != "" {
		q += ` AND schedule_id = ?`
		args = append(args, f.ScheduleID)
	}
	if len(f.Statuses) > 0 {
		q += ` AND status IN (?` + strings.Repeat(", ?", len(f.Statuses)-1) + `)`
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	q += ` ORDER BY created_us DESC, scheduled_us DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []userapps.Run
	for rows.Next() {
		x, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// UpdateRun reads, changes and writes a run in one transaction; the id,
// app and schedule cannot change (ErrInvalid).
func (d *DB) UpdateRun(ctx context.Context, id string, change func(*userapps.Run) error) (userapps.Run, error) {
	var out userapps.Run
	err := d.tx(ctx, func(tx *sql.Tx) error {
		x, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("run %s: %w", id, userapps.ErrNotFound)
		}
		if err != nil {
			return err
		}
		before := x
		if err := change(&x); err != nil {
			return err
		}
		if x.ID != before.ID || x.AppID != before.AppID || x.ScheduleID != before.ScheduleID {
			return fmt.Errorf("update run %s: the id, app and schedule cannot change: %w", id, userapps.ErrInvalid)
		}
		args, err := runArgs(x)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET owner = ?, status = ?, run_trigger = ?, parameters = ?, scheduled_us = ?, started_us = ?,
			finished_us = ?, error = ?, output = ?, worker = ?, heartbeat_us = ?, created_us = ? WHERE id = ?`,
			append(append([]any{args[2]}, args[4:]...), id)...)
		if err != nil {
			return fmt.Errorf("update run %s: %w", id, constraint(err, userapps.ErrNotFound))
		}
		out = x
		return nil
	})
	return out, err
}

// ClaimRun moves a queued run to running for worker within the limits
// (see userapps.RunStore), all in one transaction.
func (d *DB) ClaimRun(ctx context.Context, id, worker string, now time.Time, limit int) (userapps.Run, bool, error) {
	var out userapps.Run
	claimed := false
	err := d.tx(ctx, func(tx *sql.Tx) error {
		x, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) || err == nil && x.Status != userapps.RunQueued {
			return nil
		}
		if err != nil {
			return err
		}
		var running int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE status = ?`, string(userapps.RunRunning)).Scan(&running); err != nil {
			return err
		}
		if running >= limit {
			return nil
		}
		if x.ScheduleID != "" && x.Trigger != userapps.TriggerBackfill {
			var same int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE status = ? AND schedule_id = ? AND run_trigger <> ?`,
				string(userapps.RunRunning), x.ScheduleID, string(userapps.TriggerBackfill)).Scan(&same); err != nil {
				return err
			}
			if same > 0 {
				return nil
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, worker = ?, started_us = ?, heartbeat_us = ? WHERE id = ?`,
			string(userapps.RunRunning), worker, micros(now), micros(now), id); err != nil {
			return err
		}
		x.Status, x.Worker, x.Started, x.Heartbeat = userapps.RunRunning, worker, fromMicros(micros(now)), fromMicros(micros(now))
		out, claimed = x, true
		return nil
	})
	if err != nil {
		return userapps.Run{}, false, fmt.Errorf("claim run %s: %w", id, err)
	}
	return out, claimed, nil
}

// FinishRun records the end of a run still running for worker (see
// userapps.RunStore).
func (d *DB) FinishRun(ctx context.Context, id, worker string, status userapps.RunStatus, rerr *userapps.RunError, now time.Time) (userapps.Run, bool, error) {
	var out userapps.Run
	done := false
	_, err := d.UpdateRun(ctx, id, func(x *userapps.Run) error {
		if x.Status != userapps.RunRunning || x.Worker != worker {
			return errNotMine
		}
		x.Status, x.Error, x.Finished = status, rerr, now
		out, done = *x, true
		return nil
	})
	if errors.Is(err, errNotMine) {
		return userapps.Run{}, false, nil
	}
	return out, done && err == nil, err
}

// BeatRun touches the heartbeat of a run still running for worker.
func (d *DB) BeatRun(ctx context.Context, id, worker string, now time.Time) (bool, error) {
	res, err := d.db.ExecContext(ctx, `UPDATE runs SET heartbeat_us = ? WHERE id = ? AND status = ? AND worker = ?`,
		micros(now), id, string(userapps.RunRunning), worker)
	if err != nil {
		return false, fmt.Errorf("heartbeat of run %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// errNotMine aborts FinishRun's update of a run that is not the worker's.
var errNotMine = errors.New("run is not running for this worker")

// DeleteRuns removes the runs with these ids.
func (d *DB) DeleteRuns(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if _, err := d.db.ExecContext(ctx, `DELETE FROM runs WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...); err != nil {
		return fmt.Errorf("delete runs: %w", err)
	}
	return nil
}
