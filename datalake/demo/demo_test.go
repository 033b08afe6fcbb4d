package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/flowlab/flowlab/datalake"
)

var testNow = time.Date(2026, 1, 2, 13, 20, 0, 0, time.UTC)

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		why  string
	}{
		{"no output", Options{}, "--out"},
		{"too few flows", Options{Out: "x", FlowsPerHour: 999}, "flows per hour 999"},
		{"negative hours", Options{Out: "x", Hours: -1}, "hours -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(context.Background(), tt.o)
			if !errors.Is(err, datalake.ErrBadArgument) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Generate = %v, want ErrBadArgument saying %q", err, tt.why)
			}
		})
	}
}

// TestPlannedIncidents checks, for rates from the smallest to 10M flows an
// hour, that every hour has exactly FlowsPerHour flows, that the outlier is
// the only source above mean + 3 sigma in its hour and that no background
// source is an outlier in any hour, and that scans exceed the lab's
// threshold.
func TestPlannedIncidents(t *testing.T) {
	for _, fph := range []int{MinFlowsPerHour, 14_000, 250_001, 10_000_000} {
		t.Run(fmt.Sprintf("%d flows an hour", fph), func(t *testing.T) {
			o, err := Options{Out: "unused", Hours: 3, FlowsPerHour: fph, Seed: 7, Now: func() time.Time { return testNow }}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			p := newPlan(o)
			for h := p.first; !h.After(p.newest); h = h.Add(time.Hour) {
				hp := p.hour(h)
				total := 0
				var all []int
				for _, c := range hp.counts {
					total += c
					all = append(all, c)
				}
				for _, c := range hp.extra {
					total += c
					all = append(all, c)
				}
				if total != fph {
					t.Fatalf("hour %s has %d flows, want %d", datalake.Stamp(h), total, fph)
				}
				mean, sd := hp.countStats()
				for i, c := range hp.counts {
					z := (float64(c) - mean) / sd
					if h.Equal(p.outlierHour) && i == p.outlier {
						if z <= 3 {
							t.Errorf("outlier z = %.2f in its hour", z)
						}
						continue
					}
					if z > 3 {
						t.Errorf("hour %s: background source %d has z = %.2f", datalake.Stamp(h), i, z)
					}
				}
				for _, nc := range p.noncompliant {
					if hp.counts[nc] < len(p.peers[nc]) {
						t.Errorf("non-compliant host %d has %d flows, fewer than its %d peers", nc, hp.counts[nc], len(p.peers[nc]))
					}
				}
				if sum := 0; true {
					for _, u := range p.units() {
						if u.hour.Equal(h) {
							for _, c := range hp.counts[u.from:u.to] {
								sum += c
							}
							if u.scans {
								sum += p.scanProbes
							}
						}
					}
					if sum != fph {
						t.Errorf("units of hour %s cover %d flows", datalake.Stamp(h), sum)
					}
				}
			}
			for _, s := range p.scans {
				distinct := map[string]bool{}
				for _, pr := range s.probes {
					distinct[pr.dst.addr+"/"+string(rune(pr.port))] = true
				}
				if len(distinct) <= Threshold || len(s.probes) <= len(distinct) {
					t.Errorf("%s/%s scan: %d distinct probes of %d", s.kind, s.reply, len(distinct), len(s.probes))
				}
			}
		})
	}
}

// readLake returns every flow row of the lake as text, sorted, so two lakes
// can be compared whatever their file names.
func readLake(t *testing.T, root string) []string {
	t.Helper()
	var rows []string
	files, _ := filepath.Glob(filepath.Join(root, "tetration/flows/dt=*/hr=*/*.parquet"))
	if len(files) == 0 {
		t.Fatal("no flow files")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(raw), pq.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, filepath.Dir(f))
		n := int(tbl.NumRows())
		lines := make([]strings.Builder, n)
		for c := range int(tbl.NumCols()) {
			row := 0
			for _, chunk := range tbl.Column(c).Data().Chunks() {
				for i := range chunk.Len() {
					lines[row].WriteString(chunk.ValueStr(i) + "|")
					row++
				}
			}
		}
		for i := range lines {
			rows = append(rows, rel+"|"+lines[i].String())
		}
		tbl.Release()
	}
	sort.Strings(rows)
	return rows
}

func TestGenerate(t *testing.T) {
	out := t.TempDir()
	opts := Options{Hours: 3, FlowsPerHour: 1500, Seed: 42, Out: out, Now: func() time.Time { return testNow }, Workers: 2}
	var progress []int
	opts.Progress = func(done, total int) { progress = append(progress, done*100+total) }
	gt, err := Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if gt.FirstHour != "202601021100" || gt.LastHour != "202601021300" || gt.TotalFlows != 4500 || len(gt.Scans) != 4 {
		t.Fatalf("ground truth %+v", gt)
	}
	if gt.Outlier.Hour != "202601021300" || gt.Outlier.Sigmas <= 3 || (float64(gt.Outlier.Connections)-gt.Outlier.Mean)/gt.Outlier.Stdev <= 3 {
		t.Errorf("outlier %+v", gt.Outlier)
	}
	if len(progress) != 3 || progress[2] != 303 {
		t.Errorf("progress %v", progress)
	}
	stored, err := ReadGroundTruth(out)
	if err != nil || !reflect.DeepEqual(stored, gt) {
		t.Fatalf("stored ground truth differs: %v", err)
	}
	rows := readLake(t, out)
	if len(rows) != 4500 {
		t.Fatalf("%d rows", len(rows))
	}
	sink, _ := filepath.Glob(filepath.Join(out, "appdata/datasink/DEVWKS-2612/dt=2026-01-02/hr=13/part-*.json"))
	if len(sink) != 1 {
		t.Fatalf("datasink files %v", sink)
	}
	raw, _ := os.ReadFile(sink[0])
	for _, h := range gt.NonCompliant.Hosts {
		if !strings.Contains(string(raw), `"ip":"`+h.IP+`"`) || len(h.Peers) != 3 {
			t.Errorf("datasink lacks %+v", h)
		}
	}

	t.Run("deterministic", func(t *testing.T) {
		again := t.TempDir()
		o := opts
		o.Out, o.Progress, o.Workers = again, nil, 1
		gt2, err := Generate(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gt, gt2) {
			t.Error("ground truth differs for the same seed")
		}
		if !reflect.DeepEqual(rows, readLake(t, again)) {
			t.Error("flows differ for the same seed")
		}
	})
	t.Run("another seed", func(t *testing.T) {
		other := t.TempDir()
		o := opts
		o.Out, o.Progress, o.Seed = other, nil, 43
		if _, err := Generate(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(rows, readLake(t, other)) {
			t.Error("flows equal for another seed")
		}
	})
	t.Run("refuses to mix lakes", func(t *testing.T) {
		o := opts
		o.Progress = nil
		_, err := Generate(context.Background(), o)
		if !errors.Is(err, datalake.ErrBadArgument) || !strings.Contains(err.Error(), "seed 42, 3 hours of 1500 flows, 202601021100 to 202601021300") || !strings.Contains(err.Error(), "--replace") {
			t.Fatalf("second run without Replace = %v", err)
		}
		o.Replace, o.Hours = true, 1
		if _, err := Generate(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		if n := len(readLake(t, out)); n != 1500 {
			t.Errorf("after Replace the lake has %d rows, want 1500", n)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		o := opts
		o.Out, o.Progress, o.Hours = t.TempDir(), nil, 50
		if _, err := Generate(ctx, o); !errors.Is(err, context.Canceled) {
			t.Fatalf("Generate with a cancelled context = %v", err)
		}
	})
}

// TestNotADemoLake checks that Generate never mixes into, nor with Replace
// deletes, the flows of a lake it did not write.
func TestNotADemoLake(t *testing.T) {
	out := t.TempDir()
	part := filepath.Join(out, "tetration/flows/dt=2026-01-02/hr=13")
	if err := os.MkdirAll(part, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(part, "part-0.parquet"), []byte("real data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, replace := range []bool{false, true} {
		_, err := Generate(context.Background(), Options{Out: out, Replace: replace, Hours: 1, Now: func() time.Time { return testNow }})
		if !errors.Is(err, datalake.ErrBadArgument) || !strings.Contains(err.Error(), "not a demo lake") {
			t.Fatalf("Replace %v: Generate = %v", replace, err)
		}
	}
	if _, err := os.Stat(filepath.Join(part, "part-0.parquet")); err != nil {
		t.Fatalf("the lake's own file is gone: %v", err)
	}
}

// TestBackgroundBelowThreshold checks the structural bound that keeps
// background out of the port-scan results: the single-SYN failures of a
// source go to two servers with at most two TCP ports each.
func TestBackgroundBelowThreshold(t *testing.T) {
	o, _ := Options{Out: "x", FlowsPerHour: 200_000, Now: func() time.Time { return testNow }}.withDefaults()
	p := newPlan(o)
	if len(p.flaky) != len(p.sources) {
		t.Fatalf("%d flaky pairs for %d sources", len(p.flaky), len(p.sources))
	}
	for i, pair := range p.flaky {
		if pair[0] == pair[1] {
			t.Errorf("source %d: both flaky servers are %d", i, pair[0])
		}
		for _, s := range pair {
			if n := len(p.servers[s].services); n > 2 || p.servers[s].services[0].proto != "TCP" {
				t.Errorf("source %d: flaky server %s has %d services %v", i, p.servers[s].addr, n, p.servers[s].services)
			}
		}
	}
}

func TestNewestHourNotInTheFuture(t *testing.T) {
	for _, now := range []time.Time{testNow, testNow.Truncate(time.Hour)} {
		o, _ := Options{Out: "x", Hours: 1, FlowsPerHour: 1000, Now: func() time.Time { return now }}.withDefaults()
		p := newPlan(o)
		hp := p.hour(p.newest)
		limit := math.Max(float64(now.Sub(p.newest)), float64(time.Second))
		if float64(hp.horizon.Sub(p.newest)) != limit {
			t.Errorf("now %v: horizon %v", now, hp.horizon)
		}
	}
}

// TestContextTables checks the enrichment tables parse and cover the
// planted incidents' addresses as the notebooks expect.
func TestContextTables(t *testing.T) {
	root := t.TempDir()
	if err := writeContext(root); err != nil {
		t.Fatal(err)
	}
	read := func(name string) *datalake.Ranges {
		f, err := os.Open(filepath.Join(root, "appdata", "context", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := datalake.ParseRanges(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	internal, nets, geo := read("internal-ranges.csv"), read("networks.csv"), read("geo.csv")
	tests := []struct {
		ip       string
		internal bool
		zone     string
		country  string
	}{
		{"10.1.200.66", true, "internal", "internal"}, // a vertical scanner
		{"10.0.0.13", true, "internal", "internal"},   // a web server
		{"198.51.100.23", false, "external", "BR"},    // the external vertical scanner
		{"203.0.113.77", false, "external", "AU"},     // the external horizontal scanner
		{"198.18.1.5", false, "external", "NL"},       // a public web site
		{"198.19.1.7", false, "external", "DE"},       // a partner client
	}
	for _, tt := range tests {
		if internal.Contains(tt.ip) != tt.internal || nets.Get(tt.ip, "zone") != tt.zone || geo.Get(tt.ip, "country") != tt.country {
			t.Errorf("%s: internal %v zone %q country %q; want %v %q %q", tt.ip, internal.Contains(tt.ip), nets.Get(tt.ip, "zone"), geo.Get(tt.ip, "country"), tt.internal, tt.zone, tt.country)
		}
	}
}
