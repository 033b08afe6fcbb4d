package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/userapps"
)

// fakeRunner is the runner behind the scheduler in API tests: a run
// succeeds unless its parameters say fail, and its notebook is a stub
// naming the run.
type fakeRunner struct {
	mu   sync.Mutex
	runs map[string]bool // run id → executed
}

func (f *fakeRunner) Prepare(r userapps.Run) string { return r.AppID + "/" + r.ID + ".ipynb" }

func (f *fakeRunner) Execute(_ context.Context, r userapps.Run, _ userapps.App, _, _ time.Duration) (userapps.RunStatus, *userapps.RunError) {
	f.mu.Lock()
	if f.runs == nil {
		f.runs = map[string]bool{}
	}
	f.runs[r.ID] = true
	f.mu.Unlock()
	if r.Parameters["fail"] == true {
		return userapps.RunFailed, &userapps.RunError{Cell: 1, Name: "panic", Value: "asked to fail"}
	}
	return userapps.RunSucceeded, nil
}

func (f *fakeRunner) Discard(userapps.Run) error { return nil }

func (f *fakeRunner) RunNotebook(r userapps.Run) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.runs[r.ID] {
		return nil, fmt.Errorf("run %s: %w", r.ID, userapps.ErrNotFound)
	}
	return []byte(`{"cells":[],"metadata":{"run":"` + r.ID + `"},"nbformat":4,"nbformat_minor":5}`), nil
}

func TestSchedulesAPI(t *testing.T) {
	srv, _, sched := newAppServerScheduler(t)
	status, body := call(t, srv, "t-alice", "POST", "/api/apps", map[string]any{"name": "portscan"})
	if status != 201 {
		t.Fatalf("create app: %d %s", status, body)
	}
	app := "/api/apps/" + jsonField(t, body, "id")
	status, body = call(t, srv, "t-alice", "POST", app+"/schedules", map[string]any{
		"cron": "0 * * * *", "time_zone": "Europe/Berlin", "parameters": map[string]any{"threshold": 5},
		"cell_timeout": "10m", "alert_tap": "Alerts", "notify": "always"})
	if status != 201 || !strings.Contains(body, `"next_runs":["`) || !strings.Contains(body, `"cell_timeout":"10m0s"`) || !strings.Contains(body, `"overlap":"skip"`) {
		t.Fatalf("create schedule: %d %s", status, body)
	}
	sched1 := app + "/schedules/" + jsonField(t, body, "id")

	// Run now: queued, then run by the scheduler.
	status, body = call(t, srv, "t-alice", "POST", app+"/runs", map[string]any{"parameters": map[string]any{"fail": true}})
	if status != 201 || !strings.Contains(body, `"status":"queued"`) || !strings.Contains(body, `"trigger":"manual"`) {
		t.Fatalf("run now: %d %s", status, body)
	}
	run := app + "/runs/" + jsonField(t, body, "id")
	if err := sched.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	sched.Wait()

	steps := []struct {
		token, method, path string
		body                any
		status              int
		contains            string
	}{
		{"t-alice", "GET", app + "/schedules", nil, 200, `"cron":"0 * * * *"`},
		{"t-alice", "GET", sched1, nil, 200, `"time_zone":"Europe/Berlin"`},
		{"t-alice", "PATCH", sched1, map[string]any{"cron": "*/15 * * * *", "overlap": "queue"}, 200, `"overlap":"queue"`},
		{"t-alice", "PATCH", sched1, map[string]any{"enabled": false}, 200, `"next_runs":[]`},
		{"t-alice", "PATCH", sched1, map[string]any{"cron": "every hour"}, 400, "five fields"},
		{"t-alice", "PATCH", sched1, map[string]any{"time_zone": "Moon/Base"}, 400, "IANA"},
		{"t-alice", "PATCH", sched1, map[string]any{"run_timeout": "soon"}, 400, "duration"},
		{"t-alice", "PATCH", sched1, map[string]any{"catch_up": "always"}, 400, "skip or once"},
		{"t-alice", "PATCH", sched1, map[string]any{"catchup": "once"}, 400, `unknown schedule field \"catchup\"`},
		{"t-alice", "PATCH", sched1, map[string]any{"cell_timeout": "500us"}, 400, "at least 1s"},
		{"t-alice", "PATCH", sched1, map[string]any{"parameters": map[string]any{"func": 1}}, 400, "not a keyword"},
		{"t-alice", "PATCH", sched1, map[string]any{"parameters": map[string]any{"xs": []int{1}}}, 400, "a list"},
		{"t-alice", "PATCH", sched1, map[string]any{"parameters": map[string]any{"big": json.RawMessage("9007199254740993")}}, 200, `"big":9007199254740993`},
		{"t-alice", "POST", app + "/schedules", map[string]any{"time_zone": "UTC"}, 400, "a schedule needs"},
		{"t-alice", "GET", run, nil, 200, `"status":"failed"`},
		{"t-alice", "GET", run, nil, 200, `"ename":"panic"`},
		{"t-alice", "GET", run + "/notebook", nil, 200, `"nbformat":4`},
		{"t-alice", "GET", app + "/runs?status=failed", nil, 200, `"trigger":"manual"`},
		{"t-alice", "GET", app + "/runs?status=succeeded", nil, 200, `[]`},
		{"t-alice", "GET", app + "/runs?status=bogus", nil, 400, "want queued"},
		{"t-alice", "GET", app + "/runs?limit=0", nil, 400, "limit"},
		{"t-alice", "POST", run + "/cancel", nil, 409, "already failed"},
		{"t-alice", "POST", app + "/runs/run-nope", nil, 405, ""},
		{"t-alice", "GET", app + "/runs/run-nope", nil, 404, ""},
		{"t-alice", "POST", app + "/runs", map[string]any{"parameters": map[string]any{"not ok": 1}}, 400, "Go identifier"},
		{"t-alice", "POST", sched1 + "/backfill", map[string]any{"from": "202611220000", "to": "202611220200"}, 201, `"hour":"202611220100"`},
		{"t-alice", "POST", sched1 + "/backfill", map[string]any{"from": "yesterday", "to": "202611220200"}, 400, "YYYYMMDDHH00"},
		// Others: bob sees nothing; the viewer reads but neither schedules nor runs.
		{"t-bob", "GET", app + "/schedules", nil, 404, ""},
		{"t-bob", "GET", run, nil, 404, ""},
		{"t-bob", "GET", run + "/notebook", nil, 404, ""},
		{"t-bob", "POST", app + "/runs", nil, 404, ""},
		{"t-bob", "PATCH", sched1, map[string]any{"enabled": true}, 404, ""},
		{"t-view", "GET", app + "/runs", nil, 200, `"status":"failed"`},
		{"t-view", "GET", run + "/notebook", nil, 200, `"nbformat":4`},
		{"t-view", "POST", app + "/runs", nil, 403, ""},
		{"t-view", "POST", app + "/schedules", map[string]any{"cron": "@daily"}, 403, ""},
		{"t-view", "DELETE", sched1, nil, 403, ""},
		{"t-view", "POST", run + "/cancel", nil, 403, ""},
		{"", "GET", app + "/runs", nil, 401, ""},
		{"", "GET", run + "/notebook", nil, 401, ""},
		{"t-admin", "GET", sched1, nil, 200, `"cron":"*/15 * * * *"`},
		{"t-alice", "DELETE", sched1, nil, 204, ""},
		{"t-alice", "GET", sched1, nil, 404, ""},
		// The backfill's queued runs were cancelled with their schedule.
		{"t-alice", "GET", app + "/runs?status=cancelled", nil, 200, "its schedule was deleted"},
	}
	for _, st := range steps {
		status, body := call(t, srv, st.token, st.method, st.path, st.body)
		if status != st.status || !strings.Contains(body, st.contains) {
			t.Errorf("%s %s %s = %d %s; want %d containing %q", st.token, st.method, st.path, status, body, st.status, st.contains)
		}
	}
}

func TestCronPreview(t *testing.T) {
	srv := newAppServer(t)
	status, body := call(t, srv, "t-view", "GET", "/api/cron?cron=30+6+*+*+1-5&time_zone=Europe/Berlin", nil)
	var p struct {
		Cron     string   `json:"cron"`
		TimeZone string   `json:"time_zone"`
		NextRuns []string `json:"next_runs"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &p) != nil || p.Cron != "30 6 * * 1-5" || p.TimeZone != "Europe/Berlin" || len(p.NextRuns) != 5 {
		t.Fatalf("preview: %d %s", status, body)
	}
	for _, s := range p.NextRuns {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		if local := at.In(mustZone(t, "Europe/Berlin")); local.Hour() != 6 || local.Minute() != 30 || local.Weekday() == time.Saturday || local.Weekday() == time.Sunday {
			t.Errorf("next run %s is %s in Berlin, want 06:30 on a weekday", s, local)
		}
	}
	for _, q := range []string{"cron=61+*+*+*+*", "cron=@every+5m", "cron=0+*+*+*+*&time_zone=Mars/Olympus", "cron="} {
		if status, body := call(t, srv, "t-view", "GET", "/api/cron?"+q, nil); status != 400 || !strings.Contains(body, "message") {
			t.Errorf("%s: %d %s, want 400 with a message", q, status, body)
		}
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestAppsListRunSummary: GET /api/apps carries each app's newest run and
// its schedules, so the User Apps page needs one request.
func TestAppsListRunSummary(t *testing.T) {
	srv, _, sched := newAppServerScheduler(t)
	ids := map[string]string{}
	for _, name := range []string{"quiet", "busy"} {
		status, body := call(t, srv, "t-alice", "POST", "/api/apps", map[string]any{"name": name})
		if status != 201 {
			t.Fatalf("create %s: %d %s", name, status, body)
		}
		ids[name] = jsonField(t, body, "id")
	}
	busy := "/api/apps/" + ids["busy"]
	if status, body := call(t, srv, "t-alice", "POST", busy+"/schedules", map[string]any{"cron": "0 6 * * 1-5", "time_zone": "Europe/Berlin"}); status != 201 {
		t.Fatalf("schedule: %d %s", status, body)
	}
	for range 2 {
		if status, body := call(t, srv, "t-alice", "POST", busy+"/runs", map[string]any{}); status != 201 {
			t.Fatalf("run now: %d %s", status, body)
		}
	}
	if err := sched.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	sched.Wait()
	runs := []struct{ ID string }{}
	_, body := call(t, srv, "t-alice", "GET", busy+"/runs", nil)
	if err := json.Unmarshal([]byte(body), &runs); err != nil || len(runs) != 2 {
		t.Fatalf("runs: %v %s", err, body)
	}

	type summary struct {
		ID      string
		LastRun *struct {
			ID, Status, Trigger string
		} `json:"last_run"`
		Schedules []struct {
			Cron     string
			TimeZone string   `json:"time_zone"`
			NextRuns []string `json:"next_runs"`
		}
	}
	for _, c := range []struct {
		token string
		want  map[string]string
	}{
		{"t-alice", map[string]string{"quiet": "run <nil> schedules []", "busy": "run " + runs[0].ID + " succeeded manual schedules [0 6 * * 1-5 Europe/Berlin 5]"}},
		{"t-view", map[string]string{"quiet": "run <nil> schedules []", "busy": "run " + runs[0].ID + " succeeded manual schedules [0 6 * * 1-5 Europe/Berlin 5]"}},
		{"t-bob", map[string]string{}},
	} {
		t.Run(c.token, func(t *testing.T) {
			status, body := call(t, srv, c.token, "GET", "/api/apps", nil)
			var list []summary
			if err := json.Unmarshal([]byte(body), &list); status != 200 || err != nil {
				t.Fatalf("%d %s: %v", status, body, err)
			}
			got := map[string]string{}
			for _, a := range list {
				s := "run <nil>"
				if a.LastRun != nil {
					s = fmt.Sprintf("run %s %s %s", a.LastRun.ID, a.LastRun.Status, a.LastRun.Trigger)
				}
				var sc []string
				for _, x := range a.Schedules {
					sc = append(sc, fmt.Sprintf("%s %s %d", x.Cron, x.TimeZone, len(x.NextRuns)))
				}
				s += fmt.Sprintf(" schedules %v", sc)
				if sc == nil {
					s = strings.TrimSuffix(s, "[]") + "[]"
				}
				for name, id := range ids {
					if id == a.ID {
						got[name] = s
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("\n got %v\nwant %v", got, c.want)
			}
		})
	}
}
