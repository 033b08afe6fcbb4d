//go:build !kernelonly

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/demo"
)

func init() {
	register(command{name: "demo-data", summary: "write the deterministic demo datalake (flows with planted incidents)", run: runDemoData})
}

func runDemoData(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "demo-data", "demo-data --out DIR [--hours H] [--flows-per-hour N] [--seed S] [--now TIME] [--replace]", fmt.Sprintf(`
Write the deterministic demo datalake into DIR: H hours of network flows
(/tetration/flows, hourly Parquet partitions dt=YYYY-MM-DD/hr=HH, UTC) ending
with the current hour, with incidents planted in the newest hour: vertical
and horizontal TCP port scans (unanswered SYNs and RST answers), a host whose
outgoing connection count is a 3-sigma outlier, and non-compliant hosts
listed in the JSON datasink %s, which talk to internal hosts.

DIR/%s lists every incident and the lab's port-scan threshold, so
notebooks and tests can check what they find. The same --seed, --hours,
--flows-per-hour and --now give the same records.

Examples:
  flowlab demo-data --out /tmp/lake
  flowlab demo-data --out /tmp/lake10m --hours 720 --flows-per-hour 13889 --seed 7`,
		demo.DatasinkPath, demo.GroundTruthFile))
	out := fs.String("out", "", "lake root `DIR` to write (required; created if missing)")
	hours := fs.Int("hours", demo.DefaultHours, "`H` hours of flows, ending with the current hour")
	perHour := fs.Int("flows-per-hour", demo.DefaultFlowsPerHour, fmt.Sprintf("`N` flow records per hour, incidents included (at least %d)", demo.MinFlowsPerHour))
	seed := fs.Int64("seed", 1, "random `seed`; the same seed gives the same lake")
	nowText := fs.String("now", "", "the clock as RFC 3339 `TIME` (e.g. 2026-01-02T13:20:00Z); the newest hour holds it (default: now)")
	replace := fs.Bool("replace", false, "replace the demo lake already in DIR")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("demo-data takes no arguments, got %q", fs.Args())
	}
	if *out == "" {
		return usagef("demo-data needs --out DIR, the lake root to write")
	}
	now := time.Now
	if *nowText != "" {
		t, err := time.Parse(time.RFC3339, *nowText)
		if err != nil {
			return usagef("--now %q: write an RFC 3339 time such as 2026-01-02T13:20:00Z", *nowText)
		}
		now = func() time.Time { return t }
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	gt, err := demo.Generate(ctx, demo.Options{
		Hours: *hours, FlowsPerHour: *perHour, Seed: *seed, Out: *out, Now: now, Replace: *replace,
		Logger: slog.New(slog.DiscardHandler),
	})
	if errors.Is(err, datalake.ErrBadArgument) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	if *quiet {
		return nil
	}
	took := time.Since(start)
	fmt.Fprintf(std.out, "wrote %d flows (%d hours, %s to %s) to %s in %v (%.0f flows/s)\n",
		gt.TotalFlows, gt.Hours, gt.FirstHour, gt.LastHour, *out, took.Round(time.Millisecond), float64(gt.TotalFlows)/took.Seconds())
	fmt.Fprintf(std.out, "planted in %s: %d port scans (threshold %d), 3-sigma outlier %s (%d connections, %.1f sigma), %d non-compliant hosts in %s\n",
		gt.LastHour, len(gt.Scans), gt.Threshold, gt.Outlier.Host, gt.Outlier.Connections, gt.Outlier.Sigmas, len(gt.NonCompliant.Hosts), gt.NonCompliant.Dataset)
	fmt.Fprintf(std.out, "ground truth: %s/%s\n", *out, demo.GroundTruthFile)
	return nil
}
