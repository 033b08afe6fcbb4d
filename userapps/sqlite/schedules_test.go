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
	// With the cursor back on a fired tick, the tick makes no second run,
	// and the cursor moves on.
	dup := run
	dup.ID = "r2"
	if ok, err := d.ClaimTick(ctx, "s1", tick, tick.Add(time.Hour), []userapps.Run{dup}); !ok || err != nil {
		t.Fatalf("claim of a fired tick: %v %v", ok, err)
	}
	if _, err := d.Run(ctx, "r2"); !errors.Is(err, userapps.ErrNotFound) {
		t.Errorf("a second run for one tick was stored: %v", err)
	}
	if s, _ := d.Schedule(ctx, "s1"); !s.NextRun.Equal(tick.Add(time.Hour)) {
		t.Errorf("cursor %s, want %s", s.NextRun, tick.Add(time.Hour))
	}
	// The unique index still refuses a second run of a tick stored another way.
	if err := d.CreateRun(ctx, dup); !errors.Is(err, userapps.ErrConflict) {
		t.Errorf("a second run for one tick: %v, want ErrConflict", err)
	}
	// A backfill may repeat an hour.
	for _, id := range []string{"b1", "b2"} {
		b := run
		b.ID, b.Trigger = id, userapps.TriggerBackfill
		if err := d.CreateRun(ctx, b); err != nil {
			t.Fatalf("backfill run %s: %v", id, err)
		}
	}

	if _, ok, err := d.ClaimRun(ctx, "r1", "w1", tick, 0); ok || err != nil {
		t.Fatalf("claim beyond the limit: %v %v", ok, err)
	}
	claimed, ok, err := d.ClaimRun(ctx, "r1", "w1", tick.Add(time.Second), 5)
	if !ok || err != nil || claimed.Status != userapps.RunRunning || claimed.Worker != "w1" || !claimed.Started.Equal(tick.Add(time.Second)) {
		t.Fatalf("claim run: %+v %v %v", claimed, ok, err)
	}
	if _, ok, _ := d.ClaimRun(ctx, "r1", "w2", tick, 5); ok {
		t.Fatal("a running run claimed again")
	}
	// Another run of the schedule waits while r1 runs; backfill runs do not.
	r3 := run
	r3.ID, r3.Scheduled = "r3", tick.Add(time.Hour)
	if err := d.CreateRun(ctx, r3); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := d.ClaimRun(ctx, "r3", "w1", tick, 5); ok {
		t.Error("a second run of one schedule claimed while the first runs")
	}
	if _, ok, _ := d.ClaimRun(ctx, "b1", "w1", tick, 5); !ok {
		t.Error("a backfill run waits for the schedule's running run")
	}
	if ok, err := d.BeatRun(ctx, "r1", "w2", tick.Add(2*time.Second)); ok || err != nil {
		t.Errorf("another worker's heartbeat: %v %v", ok, err)
	}
	if ok, err := d.BeatRun(ctx, "r1", "w1", tick.Add(2*time.Second)); !ok || err != nil {
		t.Errorf("heartbeat: %v %v", ok, err)
	}
	if _, ok, _ := d.FinishRun(ctx, "r1", "w2", userapps.RunSucceeded, nil, tick); ok {
		t.Error("another worker finished the run")
	}
	done, ok, err := d.FinishRun(ctx, "r1", "w1", userapps.RunFailed, &userapps.RunError{Cell: 2, Name: "panic", Value: "boom"}, tick.Add(time.Minute))
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok, _ := d.FinishRun(ctx, "r1", "w1", userapps.RunSucceeded, nil, tick); ok {
		t.Error("a finished run finished again")
	}
	if back, _ := d.Run(ctx, "r1"); !reflect.DeepEqual(back, done) {
		t.Errorf("run round trip:\n got %+v\nwant %+v", back, done)
	}
	if rs, _ := d.Runs(ctx, userapps.RunFilter{AppID: app.ID, Statuses: []userapps.RunStatus{userapps.RunQueued}}); len(rs) != 2 {
		t.Errorf("queued runs: %d, want r3 and backfill b2", len(rs))
	}
	if err := d.DeleteSchedule(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Run(ctx, "r1"); r.ScheduleID != "" {
		t.Errorf("run keeps schedule %q after it was deleted", r.ScheduleID)
	}
	if err := d.DeleteRuns(ctx, []string{"r1", "b1", "r3"}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := d.Runs(ctx, userapps.RunFilter{}); len(rs) != 1 || rs[0].ID != "b2" {
		t.Errorf("after delete: %+v", rs)
	}
}
