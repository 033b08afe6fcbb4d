package sqlite

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/flowlab/flowlab/userapps"
)

func TestSchedulesAndRuns(t *testing.T) {
	ctx := context.Background()
	d := openDB(t, "")
	if err := d.CreateUser(ctx, userapps.User{Name: "ana", Role: userapps.RoleDeveloper, Created: t0}); err != nil {
		t.Fatal(err)
	}
	app := newApp("ana", "scan")
	if err := d.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	sc := userapps.Schedule{ID: "s1", AppID: app.ID, Spec: "@hourly", TimeZone: "Europe/Berlin", Enabled: true,
		Parameters: map[string]any{"threshold": 5.0, "name": "x"}, Overlap: userapps.OverlapQueue, CatchUp: userapps.CatchUpOnce,
		CellTimeout: time.Minute, RunTimeout: time.Hour, AlertTap: "Alerts", Notify: userapps.NotifyAlways, Created: t0, Updated: t0}
	if err := d.CreateSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	got, err := d.Schedule(ctx, "s1")
	if err != nil || !reflect.DeepEqual(got, sc) {
		t.Fatalf("schedule round trip:\n got %+v, %v\nwant %+v", got, err, sc)
	}
	for _, bad := range []func(*userapps.Schedule){
		func(s *userapps.Schedule) { s.Spec = "every hour" },
		func(s *userapps.Schedule) { s.TimeZone = "Berlin" },
		func(s *userapps.Schedule) { s.Overlap = "sometimes" },
		func(s *userapps.Schedule) { s.Parameters = map[string]any{"1x": 1} },
		func(s *userapps.Schedule) { s.AppID = "other" },
	} {
		if _, err := d.UpdateSchedule(ctx, "s1", func(s *userapps.Schedule) error { bad(s); return nil }); !errors.Is(err, userapps.ErrInvalid) {
			t.Errorf("bad update: %v, want ErrInvalid", err)
		}
	}
	if err := d.CreateSchedule(ctx, userapps.Schedule{ID: "s2", AppID: "no-such-app", Spec: "@daily", Created: t0, Updated: t0}); !errors.Is(err, userapps.ErrNotFound) {
		t.Errorf("schedule of a missing app: %v, want ErrNotFound", err)
	}

	// A tick is claimed once; its runs are stored with the claim.
	tick := t0.Add(time.Hour)
	run := userapps.Run{ID: "r1", AppID: app.ID, Owner: "ana", ScheduleID: "s1", Status: userapps.RunQueued, Trigger: userapps.TriggerSchedule,
		Parameters: map[string]any{"threshold": 5.0}, Scheduled: tick, Created: tick}
	if ok, err := d.ClaimTick(ctx, "s1", time.Time{}, tick, []userapps.Run{run}); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := d.ClaimTick(ctx, "s1", time.Time{}, tick, []userapps.Run{run}); ok || err != nil {
		t.Fatalf("second claim of the same tick: %v %v, want false", ok, err)
	}
	// Even with the cursor reset, the same tick cannot make a second run.
	dup := run
	dup.ID = "r2"
	if ok, err := d.ClaimTick(ctx, "s1", tick, tick.Add(time.Hour), []userapps.Run{dup}); ok || !errors.Is(err, userapps.ErrConflict) {
		t.Fatalf("a second run for one tick: %v %v, want ErrConflict", ok, err)
	}
	if s, _ := d.Schedule(ctx, "s1"); !s.NextRun.Equal(tick) {
		t.Errorf("cursor %s after a refused claim, want %s", s.NextRun, tick)
	}
	// A backfill may repeat an hour.
	for _, id := range []string{"b1", "b2"} {
		b := run
		b.ID, b.Trigger = id, userapps.TriggerBackfill
		if err := d.CreateRun(ctx, b); err != nil {
			t.Fatalf("backfill run %s: %v", id, err)
		}
	}

	claimed, ok, err := d.ClaimRun(ctx, "r1", "w1", tick.Add(time.Second))
	if !ok || err != nil || claimed.Status != userapps.RunRunning || claimed.Worker != "w1" || !claimed.Started.Equal(tick.Add(time.Second)) {
		t.Fatalf("claim run: %+v %v %v", claimed, ok, err)
	}
	if _, ok, _ := d.ClaimRun(ctx, "r1", "w2", tick); ok {
		t.Fatal("a running run claimed again")
	}
	done, err := d.UpdateRun(ctx, "r1", func(r *userapps.Run) error {
		r.Status, r.Finished = userapps.RunFailed, tick.Add(time.Minute)
		r.Error = &userapps.RunError{Cell: 2, Name: "panic", Value: "boom"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := d.Run(ctx, "r1"); !reflect.DeepEqual(back, done) {
		t.Errorf("run round trip:\n got %+v\nwant %+v", back, done)
	}
	if rs, _ := d.Runs(ctx, userapps.RunFilter{AppID: app.ID, Statuses: []userapps.RunStatus{userapps.RunQueued}}); len(rs) != 2 {
		t.Errorf("queued runs: %d, want the 2 backfill runs", len(rs))
	}
	if err := d.DeleteSchedule(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Run(ctx, "r1"); r.ScheduleID != "" {
		t.Errorf("run keeps schedule %q after it was deleted", r.ScheduleID)
	}
	if err := d.DeleteRuns(ctx, []string{"r1", "b1"}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := d.Runs(ctx, userapps.RunFilter{}); len(rs) != 1 || rs[0].ID != "b2" {
		t.Errorf("after delete: %+v", rs)
	}
}
