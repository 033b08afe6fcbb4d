package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/userapps"
)

// Schedules is the scheduler as the REST API uses it
// (userapps/scheduler.Scheduler).
type Schedules interface {
	CreateSchedule(ctx context.Context, sc userapps.Schedule) (userapps.Schedule, error)
	UpdateSchedule(ctx context.Context, id string, change func(*userapps.Schedule) error) (userapps.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) error
	NextFireTimes(sc userapps.Schedule, n int) []time.Time
	RunNow(ctx context.Context, app userapps.App, params map[string]any) (userapps.Run, error)
	Cancel(ctx context.Context, runID, reason string) (userapps.Run, error)
	Backfill(ctx context.Context, scheduleID string, from, to time.Time, param string) ([]userapps.Run, error)
}

// ScheduleReader reads schedules and runs (the store has it).
type ScheduleReader interface {
	Schedule(ctx context.Context, id string) (userapps.Schedule, error)
	Schedules(ctx context.Context, appID string) ([]userapps.Schedule, error)
	Run(ctx context.Context, id string) (userapps.Run, error)
	Runs(ctx context.Context, f userapps.RunFilter) ([]userapps.Run, error)
}

// RunNotebooks reads a run's executed notebook (the runner keeps them).
type RunNotebooks interface {
	RunNotebook(run userapps.Run) ([]byte, error)
}

func (s *Server) scheduleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/apps/{id}/schedules", s.h(s.listSchedules))
	mux.HandleFunc("POST /api/apps/{id}/schedules", s.h(s.createSchedule))
	mux.HandleFunc("GET /api/apps/{id}/schedules/{sid}", s.h(s.getSchedule))
	mux.HandleFunc("PATCH /api/apps/{id}/schedules/{sid}", s.h(s.updateSchedule))
	mux.HandleFunc("DELETE /api/apps/{id}/schedules/{sid}", s.h(s.deleteSchedule))
	mux.HandleFunc("POST /api/apps/{id}/schedules/{sid}/backfill", s.h(s.backfill))
	mux.HandleFunc("GET /api/cron", s.h(s.previewCron))
	mux.HandleFunc("GET /api/apps/{id}/runs", s.h(s.listRuns))
	mux.HandleFunc("POST /api/apps/{id}/runs", s.h(s.runNow))
	mux.HandleFunc("GET /api/apps/{id}/runs/{rid}", s.h(s.getRun))
	mux.HandleFunc("POST /api/apps/{id}/runs/{rid}/cancel", s.h(s.cancelRun))
	mux.HandleFunc("GET /api/apps/{id}/runs/{rid}/notebook", s.h(s.runNotebook))
}

// nextFireCount is how many next fire times the API shows.
const nextFireCount = 5

// scheduleModel is a schedule as the API shows it.
func (s *Server) scheduleModel(sc userapps.Schedule) map[string]any {
	next := []string{}
	for _, t := range s.opts.Schedules.NextFireTimes(sc, nextFireCount) {
		next = append(next, isoTime(t))
	}
	return map[string]any{
		"id": sc.ID, "app_id": sc.AppID, "cron": sc.Spec, "time_zone": sc.TimeZone, "enabled": sc.Enabled,
		"parameters": sc.Parameters, "overlap": sc.Overlap, "catch_up": sc.CatchUp,
		"cell_timeout": durationText(sc.CellTimeout), "run_timeout": durationText(sc.RunTimeout),
		"alert_tap": sc.AlertTap, "notify": sc.Notify, "next_runs": next,
		"created": isoTime(sc.Created), "updated": isoTime(sc.Updated),
	}
}

// previewCron is GET /api/cron?cron=C&time_zone=Z: the next fire times of
// an expression before a schedule is saved (the schedule editor's
// preview), parsed by the same parser as schedules; a bad expression or
// zone is 400 with what was wrong.
func (s *Server) previewCron(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	c, err := userapps.ParseCron(q.Get("cron"), q.Get("time_zone"))
	if err != nil {
		return err
	}
	next := []string{}
	for _, t := range c.NextN(s.opts.Now(), nextFireCount) {
		next = append(next, isoTime(t))
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"cron": c.String(), "time_zone": c.Location().String(), "next_runs": next})
	return nil
}

// durationText is "" for no limit, else Go's duration syntax.
func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// runModel is a run as the API shows it.
func (s *Server) runModel(r userapps.Run) map[string]any {
	m := map[string]any{
		"id": r.ID, "app_id": r.AppID, "owner": r.Owner, "schedule_id": r.ScheduleID, "status": r.Status,
		"trigger": r.Trigger, "parameters": r.Parameters, "error": r.Error, "created": isoTime(r.Created),
		"scheduled": nil, "started": nil, "finished": nil, "duration_ms": nil, "notebook_url": nil,
	}
	if r.Parameters == nil {
		m["parameters"] = map[string]any{}
	}
	for key, t := range map[string]time.Time{"scheduled": r.Scheduled, "started": r.Started, "finished": r.Finished} {
		if !t.IsZero() {
			m[key] = isoTime(t)
		}
	}
	if !r.Started.IsZero() {
		m["duration_ms"] = r.Duration(s.opts.Now()).Milliseconds()
	}
	if r.Notebook != "" {
		m["notebook_url"] = "/api/apps/" + r.AppID + "/runs/" + r.ID + "/notebook"
	}
	return m
}

// scheduleBody is what POST and PATCH accept; absent fields keep their
// value (PATCH) or default (POST).
type scheduleBody struct {
	Cron        *string         `json:"cron"`
	TimeZone    *string         `json:"time_zone"`
	Enabled     *bool           `json:"enabled"`
	Parameters  *map[string]any `json:"parameters"`
	Overlap     *string         `json:"overlap"`
	CatchUp     *string         `json:"catch_up"`
	CellTimeout *string         `json:"cell_timeout"`
	RunTimeout  *string         `json:"run_timeout"`
	AlertTap    *string         `json:"alert_tap"`
	Notify      *string         `json:"notify"`
}

// apply sets the fields given in b on sc.
func (b scheduleBody) apply(sc *userapps.Schedule) error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&sc.Spec, b.Cron)
	set(&sc.TimeZone, b.TimeZone)
	set(&sc.AlertTap, b.AlertTap)
	if b.Enabled != nil {
		sc.Enabled = *b.Enabled
	}
	if b.Parameters != nil {
		sc.Parameters = *b.Parameters
	}
	if b.Overlap != nil {
		sc.Overlap = userapps.OverlapPolicy(*b.Overlap)
	}
	if b.CatchUp != nil {
		sc.CatchUp = userapps.CatchUpPolicy(*b.CatchUp)
	}
	if b.Notify != nil {
		sc.Notify = userapps.NotifyPolicy(*b.Notify)
	}
	for _, d := range []struct {
		name string
		text *string
		dst  *time.Duration
	}{{"cell_timeout", b.CellTimeout, &sc.CellTimeout}, {"run_timeout", b.RunTimeout, &sc.RunTimeout}} {
		if d.text == nil {
			continue
		}
		if *d.text == "" || *d.text == "0" {
			*d.dst = 0
			continue
		}
		v, err := time.ParseDuration(*d.text)
		if err != nil || v < time.Second {
			return fmt.Errorf("%s %q: want a duration of at least 1s, such as 90s, 10m or 1h30m (empty for no limit): %w", d.name, *d.text, userapps.ErrInvalid)
		}
		*d.dst = v
	}
	return nil
}

// schedule reads the request's {sid} schedule of the {id} app, authorizing
// act on the app.
func (s *Server) schedule(r *http.Request, act userapps.Action) (userapps.App, userapps.Schedule, error) {
	a, err := s.app(r, act)
	if err != nil {
		return a, userapps.Schedule{}, err
	}
	sc, err := s.opts.ScheduleStore.Schedule(r.Context(), r.PathValue("sid"))
	if err == nil && sc.AppID != a.ID {
		err = fmt.Errorf("schedule %s of app %s: %w", r.PathValue("sid"), a.ID, userapps.ErrNotFound)
	}
	return a, sc, err
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r, userapps.ActionRead)
	if err != nil {
		return err
	}
	scheds, err := s.opts.ScheduleStore.Schedules(r.Context(), a.ID)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, sc := range scheds {
		list = append(list, s.scheduleModel(sc))
	}
	s.writeJSON(w, http.StatusOK, list)
	return nil
}

// decodeSchedule reads a schedule body, refusing fields it does not know
// ("catchup" for "catch_up" would otherwise do nothing, silently).
func decodeSchedule(r *http.Request) (scheduleBody, error) {
	var raw map[string]json.RawMessage
	var body scheduleBody
	if err := decodeBody(r, &raw); err != nil {
		return body, err
	}
	known := map[string]bool{}
	t := reflect.TypeOf(body)
	for i := range t.NumField() {
		known[strings.Split(t.Field(i).Tag.Get("json"), ",")[0]] = true
	}
	for k := range raw {
		if !known[k] {
			return body, fmt.Errorf("unknown schedule field %q (fields: cron, time_zone, enabled, parameters, overlap, catch_up, cell_timeout, run_timeout, alert_tap, notify): %w", k, userapps.ErrInvalid)
		}
	}
	data, _ := json.Marshal(raw)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return body, fmt.Errorf("%w: the body is not a schedule: %v", userapps.ErrInvalid, err)
	}
	return body, nil
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeSchedule(r)
	if err != nil {
		return err
	}
	a, err := s.app(r, userapps.ActionSchedule)
	if err != nil {
		return err
	}
	if body.Cron == nil {
		return fmt.Errorf("a schedule needs \"cron\": five fields (\"0 * * * *\") or a descriptor such as \"@hourly\": %w", userapps.ErrInvalid)
	}
	sc := userapps.Schedule{AppID: a.ID, Enabled: true}
	if err := body.apply(&sc); err != nil {
		return err
	}
	if sc, err = s.opts.Schedules.CreateSchedule(r.Context(), sc); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/apps/"+a.ID+"/schedules/"+sc.ID)
	s.writeJSON(w, http.StatusCreated, s.scheduleModel(sc))
	return nil
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	_, sc, err := s.schedule(r, userapps.ActionRead)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.scheduleModel(sc))
	return nil
}

func (s *Server) updateSchedule(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeSchedule(r)
	if err != nil {
		return err
	}
	_, sc, err := s.schedule(r, userapps.ActionSchedule)
	if err != nil {
		return err
	}
	if sc, err = s.opts.Schedules.UpdateSchedule(r.Context(), sc.ID, body.apply); err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.scheduleModel(sc))
	return nil
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	_, sc, err := s.schedule(r, userapps.ActionSchedule)
	if err == nil {
		err = s.opts.Schedules.DeleteSchedule(r.Context(), sc.ID)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseHour reads a backfill bound: YYYYMMDDHH00 (as IO.Read and
// IO.List write hours) or RFC 3339.
func parseHour(field, v string) (time.Time, error) {
	if t, err := time.Parse(datalake.StampLayout, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want an hour as YYYYMMDDHH00 (202611230800) or RFC 3339: %w", field, v, userapps.ErrInvalid)
}

func (s *Server) backfill(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		From      string `json:"from"`
		To        string `json:"to"`
		Parameter string `json:"parameter"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	_, sc, err := s.schedule(r, userapps.ActionSchedule)
	if err != nil {
		return err
	}
	from, err := parseHour("from", body.From)
	if err != nil {
		return err
	}
	to, err := parseHour("to", body.To)
	if err != nil {
		return err
	}
	if body.Parameter == "" {
		body.Parameter = "hour"
	}
	runs, err := s.opts.Schedules.Backfill(r.Context(), sc.ID, from, to, body.Parameter)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, run := range runs {
		list = append(list, s.runModel(run))
	}
	s.writeJSON(w, http.StatusCreated, list)
	return nil
}

// run reads the request's {rid} run of the {id} app, authorizing act.
func (s *Server) run(r *http.Request, act userapps.Action) (userapps.Run, error) {
	a, err := s.app(r, act)
	if err != nil {
		return userapps.Run{}, err
	}
	run, err := s.opts.ScheduleStore.Run(r.Context(), r.PathValue("rid"))
	if err == nil && run.AppID != a.ID {
		err = fmt.Errorf("run %s of app %s: %w", r.PathValue("rid"), a.ID, userapps.ErrNotFound)
	}
	return run, err
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r, userapps.ActionRead)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := userapps.RunFilter{AppID: a.ID, ScheduleID: q.Get("schedule"), Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return fmt.Errorf("limit %q: want a number from 1 to 10000: %w", v, userapps.ErrInvalid)
		}
		f.Limit = n
	}
	for _, st := range q["status"] {
		for _, one := range strings.Split(st, ",") {
			status := userapps.RunStatus(one)
			if !status.Valid() {
				return fmt.Errorf("status %q: want queued, running, succeeded, failed, timed-out, cancelled or skipped: %w", one, userapps.ErrInvalid)
			}
			f.Statuses = append(f.Statuses, status)
		}
	}
	runs, err := s.opts.ScheduleStore.Runs(r.Context(), f)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, run := range runs {
		list = append(list, s.runModel(run))
	}
	s.writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) runNow(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Parameters map[string]any `json:"parameters"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	a, err := s.app(r, userapps.ActionRun)
	if err != nil {
		return err
	}
	if err := userapps.CheckParameters(body.Parameters); err != nil {
		return err
	}
	run, err := s.opts.Schedules.RunNow(r.Context(), a, body.Parameters)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/apps/"+a.ID+"/runs/"+run.ID)
	s.writeJSON(w, http.StatusCreated, s.runModel(run))
	return nil
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.run(r, userapps.ActionRead)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.runModel(run))
	return nil
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.run(r, userapps.ActionRun)
	if err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	if run, err = s.opts.Schedules.Cancel(r.Context(), run.ID, "cancelled by "+u.Name); err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.runModel(run))
	return nil
}

func (s *Server) runNotebook(w http.ResponseWriter, r *http.Request) error {
	run, err := s.run(r, userapps.ActionRead)
	if err != nil {
		return err
	}
	if run.Notebook == "" || s.opts.RunNotebooks == nil {
		return fmt.Errorf("run %s has no executed notebook (it has not started): %w", run.ID, userapps.ErrNotFound)
	}
	nb, err := s.opts.RunNotebooks.RunNotebook(run)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ipynb+json")
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Query().Has("download") {
		w.Header().Set("Content-Disposition", `attachment; filename="`+run.ID+`.ipynb"`)
	}
	_, err = w.Write(nb)
	return err
}
