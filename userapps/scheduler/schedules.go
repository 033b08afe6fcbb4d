package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/flowlab/flowlab/userapps"
)

// CreateSchedule stores a new schedule for its app and returns it with its
// id, times and first tick set. Errors wrap userapps.ErrInvalid (and say
// which field) or ErrNotFound for an unknown app.
func (s *Scheduler) CreateSchedule(ctx context.Context, sc userapps.Schedule) (userapps.Schedule, error) {
	now := s.opts.Now()
	sc.ID, sc.Created, sc.Updated, sc.NextRun = "sched-"+newID(), now, now, time.Time{}
	if err := sc.Normalize(); err != nil {
		return sc, fmt.Errorf("create schedule: %w", err)
	}
	if sc.Enabled {
		c, _ := sc.Cron()
		sc.NextRun = c.Next(now)
	}
	if err := s.opts.Schedules.CreateSchedule(ctx, sc); err != nil {
		return sc, err
	}
	s.log.Info("schedule created", "schedule", sc.ID, "app", sc.AppID, "cron", sc.Spec, "time_zone", sc.TimeZone, "next", sc.NextRun)
	s.Wake()
	return sc, nil
}

// UpdateSchedule changes a schedule. When its expression, time zone or
// enabled flag changes, its next tick is computed afresh from now: ticks
// of the old expression, or of the time it was disabled, are not caught up.
func (s *Scheduler) UpdateSchedule(ctx context.Context, id string, change func(*userapps.Schedule) error) (userapps.Schedule, error) {
	now := s.opts.Now()
	sc, err := s.opts.Schedules.UpdateSchedule(ctx, id, func(x *userapps.Schedule) error {
		before := *x
		if err := change(x); err != nil {
			return err
		}
		if err := x.Normalize(); err != nil {
			return err
		}
		x.Updated = now
		if x.Spec != before.Spec || x.TimeZone != before.TimeZone || x.Enabled != before.Enabled {
			x.NextRun = time.Time{}
			if x.Enabled {
				c, _ := x.Cron()
				x.NextRun = c.Next(now)
			}
		}
		return nil
	})
	if err != nil {
		return sc, err
	}
	s.log.Info("schedule updated", "schedule", sc.ID, "cron", sc.Spec, "time_zone", sc.TimeZone, "enabled", sc.Enabled, "next", sc.NextRun)
	s.Wake()
	return sc, nil
}

// DeleteSchedule removes a schedule; its runs stay in the history. Queued
// runs it made are cancelled.
func (s *Scheduler) DeleteSchedule(ctx context.Context, id string) error {
	queued, err := s.opts.Runs.Runs(ctx, userapps.RunFilter{ScheduleID: id, Statuses: []userapps.RunStatus{userapps.RunQueued}})
	if err != nil {
		return err
	}
	for _, r := range queued {
		if _, err := s.Cancel(ctx, r.ID, "its schedule was deleted"); err != nil {
			s.log.Warn("cancel a deleted schedule's run", "run", r.ID, "err", err)
		}
	}
	if err := s.opts.Schedules.DeleteSchedule(ctx, id); err != nil {
		return err
	}
	s.log.Info("schedule deleted", "schedule", id)
	return nil
}

// NextFireTimes returns a schedule's next n ticks from now (none while it
// is disabled).
func (s *Scheduler) NextFireTimes(sc userapps.Schedule, n int) []time.Time {
	c, err := sc.Cron()
	if err != nil || !sc.Enabled {
		return nil
	}
	from := s.opts.Now()
	if !sc.NextRun.IsZero() && sc.NextRun.Before(from) {
		// Due and not yet handled: it comes first.
		return append([]time.Time{sc.NextRun}, c.NextN(from, n-1)...)
	}
	return c.NextN(from, n)
}
