//go:build !kernelonly

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/flowlab/flowlab/userapps/files"
	"github.com/flowlab/flowlab/userapps/runner"
)

const scheduleDescription = `
List the app's schedules, or create, change, delete or backfill one:

  flowlab apps schedule APP                                  list (with the next fire times)
  flowlab apps schedule APP --cron '0 * * * *' [settings]    create
  flowlab apps schedule APP --id SID [settings]              change (--enable, --disable too)
  flowlab apps schedule APP --id SID --delete                delete (queued runs are cancelled)
  flowlab apps schedule APP --id SID --backfill FROM,TO      one run per hour, FROM and TO
                                                             as YYYYMMDDHH00, each with
                                                             --backfill-parameter (hour) set
                                                             to its hour

Settings: --cron, --time-zone, -p NAME=VALUE (repeatable: the parameters,
replacing the schedule's), --overlap skip|queue, --catch-up skip|once,
--cell-timeout, --run-timeout, --alert-tap, --notify failure|always.
docs/api.md explains each.`

// scheduleModel is a schedule as the API shows it (the fields printed).
type scheduleModel struct {
	ID         string         `json:"id"`
	Cron       string         `json:"cron"`
	TimeZone   string         `json:"time_zone"`
	Enabled    bool           `json:"enabled"`
	Parameters map[string]any `json:"parameters"`
	Overlap    string         `json:"overlap"`
	CatchUp    string         `json:"catch_up"`
	AlertTap   string         `json:"alert_tap"`
	NextRuns   []string       `json:"next_runs"`
}

// typedParams holds -p flags, typed as papermill types command-line values
// (the API takes JSON values).
type typedParams struct {
	set    bool
	params map[string]any
}

func (p *typedParams) String() string { return "" }

func (p *typedParams) Set(arg string) error {
	name, value, err := runner.ParseParameter(arg)
	if err != nil {
		return err
	}
	if p.params == nil {
		p.params = map[string]any{}
	}
	p.params[name], p.set = value.Infer(), true
	return nil
}

func runAppsSchedule(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "apps schedule", "apps schedule APP [--id SID] [--cron EXPR] [settings] [--delete] [--backfill FROM,TO]", scheduleDescription)
	cf := clientFlags(fs)
	id := fs.String("id", "", "the schedule `SID` to change, delete or backfill (apps schedule APP lists them)")
	cron := fs.String("cron", "", "cron `expression`: five fields or @hourly, @daily, ...")
	tz := fs.String("time-zone", "", "IANA time `zone` the expression is read in (default UTC)")
	var params typedParams
	fs.Var(&params, "p", "parameter `NAME=VALUE`, typed as int, float, bool or else string (repeatable)")
	overlap := fs.String("overlap", "", "when the previous run still goes: skip or queue")
	catchUp := fs.String("catch-up", "", "ticks missed while the server was down: skip or once")
	cellTimeout := fs.String("cell-timeout", "", "limit of one cell, e.g. 10m (\"0\": none)")
	runTimeout := fs.String("run-timeout", "", "limit of the whole run, e.g. 1h (\"0\": none)")
	alertTap := fs.String("alert-tap", "", "`tap` that receives run notices (\"-\": none)")
	notify := fs.String("notify", "", "which runs send notices: failure or always")
	enable := fs.Bool("enable", false, "enable the schedule")
	disable := fs.Bool("disable", false, "disable the schedule (it keeps its settings)")
	del := fs.Bool("delete", false, "delete the schedule")
	backfill := fs.String("backfill", "", "queue one run per hour from `FROM,TO` (YYYYMMDDHH00, both included)")
	backfillParam := fs.String("backfill-parameter", "hour", "the parameter that receives each backfill run's hour")
	pos, err := parseInterleaved(fs, std, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("apps schedule takes one APP: an id, a name or OWNER/NAME")
	}
	body := map[string]any{}
	setIf := func(key, v string) {
		if v != "" {
			body[key] = v
		}
	}
	setIf("cron", *cron)
	setIf("time_zone", *tz)
	setIf("overlap", *overlap)
	setIf("catch_up", *catchUp)
	setIf("cell_timeout", *cellTimeout)
	setIf("run_timeout", *runTimeout)
	setIf("notify", *notify)
	if *alertTap == "-" {
		body["alert_tap"] = ""
	} else {
		setIf("alert_tap", *alertTap)
	}
	if params.set {
		body["parameters"] = params.params
	}
	switch {
	case *enable && *disable:
		return usagef("--enable and --disable exclude each other")
	case *enable:
		body["enabled"] = true
	case *disable:
		body["enabled"] = false
	}
	acts := 0
	for _, b := range []bool{*del, *backfill != "", len(body) > 0} {
		if b {
			acts++
		}
	}
	switch {
	case acts > 1:
		return usagef("apps schedule: --delete, --backfill and settings exclude each other")
	case acts > 0 && *id == "" && *cron == "":
		return usagef("apps schedule: name the schedule with --id SID, or give --cron to create one")
	}

	c, a, ctx, cancel, err := cf.app(ctx, pos[0])
	defer cancel()
	if err != nil {
		return err
	}
	base := "/api/apps/" + url.PathEscape(a.ID) + "/schedules"
	var raw []byte
	switch {
	case *del:
		if _, err = c.call(ctx, http.MethodDelete, base+"/"+url.PathEscape(*id), nil); err == nil {
			fmt.Fprintf(std.out, "deleted schedule %s of %s/%s\n", *id, a.Owner, a.Name)
		}
		return err
	case *backfill != "":
		from, to, ok := strings.Cut(*backfill, ",")
		if !ok {
			return usagef("--backfill %q: want FROM,TO as YYYYMMDDHH00,YYYYMMDDHH00", *backfill)
		}
		if raw, err = c.call(ctx, http.MethodPost, base+"/"+url.PathEscape(*id)+"/backfill", map[string]any{"from": from, "to": to, "parameter": *backfillParam}); err != nil {
			return err
		}
		if *cf.asJSON {
			return writeIndented(std.out, raw)
		}
		var runs []runModel
		if err := json.Unmarshal(raw, &runs); err != nil {
			return fmt.Errorf("backfill: unexpected answer: %w", err)
		}
		fmt.Fprintf(std.out, "queued %d runs of %s/%s, one per hour from %s to %s\n", len(runs), a.Owner, a.Name, from, to)
		return nil
	case *id != "" && len(body) > 0:
		raw, err = c.call(ctx, http.MethodPatch, base+"/"+url.PathEscape(*id), body)
	case len(body) > 0:
		raw, err = c.call(ctx, http.MethodPost, base, body)
	case *id != "":
		raw, err = c.call(ctx, http.MethodGet, base+"/"+url.PathEscape(*id), nil)
	default:
		raw, err = c.call(ctx, http.MethodGet, base, nil)
	}
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return writeIndented(std.out, raw)
	}
	var scheds []scheduleModel
	if raw[0] == '[' {
		err = json.Unmarshal(raw, &scheds)
	} else {
		var one scheduleModel
		err = json.Unmarshal(raw, &one)
		scheds = append(scheds, one)
	}
	if err != nil {
		return fmt.Errorf("schedules: unexpected answer: %w", err)
	}
	printSchedules(std.out, scheds)
	return nil
}

// printSchedules writes schedules as a table.
func printSchedules(w io.Writer, scheds []scheduleModel) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCRON\tZONE\tENABLED\tNEXT\tOVERLAP\tCATCH-UP\tALERTS\tPARAMETERS")
	for _, s := range scheds {
		next := "-"
		if len(s.NextRuns) > 0 {
			next = shortTime(s.NextRuns[0])
		}
		tap := s.AlertTap
		if tap == "" {
			tap = "-"
		}
		params, _ := json.Marshal(s.Parameters)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Cron, s.TimeZone, s.Enabled, next, s.Overlap, s.CatchUp, tap, params)
	}
	tw.Flush()
}

const runsDescription = `
List the app's runs (newest first), run it now, cancel a run, or save a
run's executed notebook:

  flowlab apps runs APP [--status failed,timed-out] [--limit N]
  flowlab apps runs APP --now [-p NAME=VALUE]...
  flowlab apps runs APP --cancel RUN
  flowlab apps runs APP --notebook RUN [-o OUT.ipynb]     (default: stdout)`

// runModel is a run as the API shows it (the fields printed).
type runModel struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Trigger   string `json:"trigger"`
	Scheduled string `json:"scheduled"`
	Started   string `json:"started"`
	Duration  *int64 `json:"duration_ms"`
	Error     *struct {
		Cell   int    `json:"cell"`
		EName  string `json:"ename"`
		EValue string `json:"evalue"`
	} `json:"error"`
}

func runAppsRuns(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "apps runs", "apps runs APP [--status S] [--limit N] | --now [-p NAME=VALUE]... | --cancel RUN | --notebook RUN [-o OUT]", runsDescription)
	cf := clientFlags(fs)
	status := fs.String("status", "", "only runs in these `statuses`, comma-separated (queued, running, succeeded, failed, timed-out, cancelled, skipped)")
	limit := fs.Int("limit", 20, "at most `N` runs")
	now := fs.Bool("now", false, "queue a run of the app now")
	var params typedParams
	fs.Var(&params, "p", "with --now: parameter `NAME=VALUE`, typed as int, float, bool or else string (repeatable)")
	cancelRun := fs.String("cancel", "", "cancel the queued or running `RUN`")
	notebook := fs.String("notebook", "", "the executed notebook of `RUN`")
	out := fs.String("o", "", "with --notebook: write it to this `file` (default stdout)")
	pos, err := parseInterleaved(fs, std, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("apps runs takes one APP: an id, a name or OWNER/NAME")
	}
	acts := 0
	for _, b := range []bool{*now, *cancelRun != "", *notebook != ""} {
		if b {
			acts++
		}
	}
	switch {
	case acts > 1:
		return usagef("apps runs: --now, --cancel and --notebook exclude each other")
	case params.set && !*now:
		return usagef("apps runs: -p goes with --now")
	case *out != "" && *notebook == "":
		return usagef("apps runs: -o goes with --notebook")
	}
	c, a, ctx, cancel, err := cf.app(ctx, pos[0])
	defer cancel()
	if err != nil {
		return err
	}
	base := "/api/apps/" + url.PathEscape(a.ID) + "/runs"
	var raw []byte
	switch {
	case *notebook != "":
		if raw, err = c.call(ctx, http.MethodGet, base+"/"+url.PathEscape(*notebook)+"/notebook", nil); err != nil {
			return err
		}
		if *out == "" {
			_, err = std.out.Write(raw)
			return err
		}
		if err := files.WriteFile(*out, raw); err != nil {
			return fmt.Errorf("-o %s: %w", *out, err)
		}
		fmt.Fprintf(std.out, "wrote %s (run %s of %s/%s)\n", *out, *notebook, a.Owner, a.Name)
		return nil
	case *now:
		body := map[string]any{"parameters": params.params}
		if raw, err = c.call(ctx, http.MethodPost, base, body); err != nil {
			return err
		}
	case *cancelRun != "":
		if raw, err = c.call(ctx, http.MethodPost, base+"/"+url.PathEscape(*cancelRun)+"/cancel", nil); err != nil {
			return err
		}
	default:
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		if *status != "" {
			q.Set("status", *status)
		}
		if raw, err = c.call(ctx, http.MethodGet, base+"?"+q.Encode(), nil); err != nil {
			return err
		}
		if *cf.asJSON {
			return writeIndented(std.out, raw)
		}
		var runs []runModel
		if err := json.Unmarshal(raw, &runs); err != nil {
			return fmt.Errorf("runs: unexpected answer: %w", err)
		}
		printRuns(std.out, runs)
		return nil
	}
	if *cf.asJSON {
		return writeIndented(std.out, raw)
	}
	var r runModel
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("run: unexpected answer: %w", err)
	}
	switch {
	case *cancelRun != "" && r.Status == "running":
		fmt.Fprintf(std.out, "cancelling run %s of %s/%s: it stops within seconds\n", r.ID, a.Owner, a.Name)
	case *cancelRun != "":
		fmt.Fprintf(std.out, "cancelled run %s of %s/%s\n", r.ID, a.Owner, a.Name)
	default:
		fmt.Fprintf(std.out, "queued run %s of %s/%s\n", r.ID, a.Owner, a.Name)
	}
	return nil
}

// printRuns writes runs as a table.
func printRuns(w io.Writer, runs []runModel) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tTRIGGER\tSCHEDULED\tSTARTED\tDURATION\tERROR")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return shortTime(s)
	}
	for _, r := range runs {
		dur, errText := "-", ""
		if r.Duration != nil {
			dur = fmt.Sprintf("%.1fs", float64(*r.Duration)/1000)
		}
		if r.Error != nil {
			errText = r.Error.EName + ": " + r.Error.EValue
			if r.Error.Cell >= 0 {
				errText = fmt.Sprintf("cell %d: %s", r.Error.Cell, errText)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Trigger, dash(r.Scheduled), dash(r.Started), dur, errText)
	}
	tw.Flush()
}

var _ flag.Value = (*typedParams)(nil)
