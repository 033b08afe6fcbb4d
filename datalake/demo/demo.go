// Package demo writes the deterministic demo datalake that `flowlab
// demo-data` and `flowlab serve --demo` use: hours of network flows
// following FLOWS_SCHEMA.md (every column, hive layout
// dt=YYYY-MM-DD/hr=HH/part-*.parquet, UTC) with incidents planted in them,
// the non-compliant-hosts datasink, and a ground-truth file
// (<root>/ground-truth.json) naming every incident, so labs and tests can
// check what an analysis finds. The newest hour is the hour of the injected
// clock, so LASTHOUR finds the incidents.
//
// Planted incidents, all in the newest hour:
//   - four TCP port scans: vertical (one scanner, one target, many ports)
//     and horizontal (one scanner, one port, many targets), each in the two
//     forms of the lab's predicate: unanswered SYNs (rev_pkts = 0, Zeek S0)
//     and SYNs answered by RST/ACK (rev_pkts = 1, rev_rst_count = 1, Zeek
//     REJ), with some probes repeated so dropping duplicates matters;
//   - an internal host whose outgoing connection count is a 3-sigma outlier:
//     the only source above mean + 3 standard deviations of the per-source
//     flow counts of the hour;
//   - non-compliant hosts, listed in the JSON datasink
//     /appdata/datasink/DEVWKS-2612, talking (in every hour) to a fixed set
//     of internal hosts.
//
// Beside the flows, /appdata/context holds small enrichment tables (the
// internal ranges, network names, a geo table) for the analytics notebooks.
//
// Background: TCP (mostly complete connections, some failed with SYN
// retries), UDP (DNS, NTP) and ICMP (echo). About 2% of background flows are
// failed single-SYN attempts that do match the lab's predicate, but each
// source sends them to only two servers offering at most two ports each, so
// no background (source, destination) pair exceeds two ports and no
// (source, port) pair two destinations: the lab's query with its threshold
// (Threshold) finds exactly the planted scanners, at any rate and over any
// number of hours. Per-source connection counts are spread evenly (±20% of
// the mean), so no background source is a 3-sigma outlier.
//
// The records depend only on the seed, the hours, the flows per hour and
// the clock's hour; file names are unique per run.
package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/parquet"
)

// Paths the generator writes, as lake paths, and the ground-truth file
// relative to the lake root.
const (
	DatasinkPath = "/appdata/datasink/DEVWKS-2612"
	// ContextPath holds the enrichment tables the analytics notebooks read
	// with IO.ReadRanges: internal-ranges.csv, networks.csv and geo.csv
	// (CSV, a network per line; the geo table is fictional).
	ContextPath     = "/appdata/context"
	GroundTruthFile = "ground-truth.json"
	// Threshold is the lab's port-scan threshold: a (source, destination)
	// pair with more than Threshold distinct ports probed is a vertical
	// scan, a (source, port) pair with more than Threshold distinct
	// destinations a horizontal one. Scans are planted with at least 15
	// ports or targets; background stays at 2 or fewer.
	Threshold = 10
	// Predicate is the lab's port-scan predicate, as DESIGN.md writes it.
	Predicate = "fwd_pkts = 1 AND fwd_syn_count = 1 AND (rev_pkts = 0 OR (rev_pkts = 1 AND rev_rst_count = 1))"
	// MinFlowsPerHour is the smallest FlowsPerHour that keeps the incidents
	// statistically clean (enough sources for a 3-sigma outlier).
	MinFlowsPerHour = 1000
	// DefaultHours and DefaultFlowsPerHour make the small lake of `flowlab
	// serve --demo`: a day of flows, written in about a second.
	DefaultHours        = 24
	DefaultFlowsPerHour = 2000
)

// Options configures Generate. Out is required; the zero value of every
// other field works.
type Options struct {
	// Hours is how many hours of flows to write, ending with the current
	// hour of Now. Zero means DefaultHours.
	Hours int
	// FlowsPerHour is the number of flow records in each hour, incidents
	// included. Zero means DefaultFlowsPerHour; at least MinFlowsPerHour.
	FlowsPerHour int
	// Seed makes the data: the same seed, hours, flows per hour and clock
	// hour give the same records.
	Seed int64
	// Out is the lake root to write.
	Out string
	// Now is the clock; the newest hour is the UTC hour holding Now(), and
	// no flow in it starts after Now. Nil means time.Now.
	Now func() time.Time
	// Replace removes the datasets a previous demo run wrote (flows, the
	// datasink, the ground truth) first. Without it, Generate refuses to
	// write into a lake that already holds flows. It never deletes flows of
	// a lake that has no ground-truth file (not a demo lake).
	Replace bool
	// Workers is how many hours (or parts of an hour) are generated at once.
	// Zero means GOMAXPROCS.
	Workers int
	// Progress, if set, is called after each unit of work with the units
	// done and the total. It may be called from several goroutines, one
	// call at a time.
	Progress func(done, total int)
	// Logger receives a summary. Nil discards.
	Logger *slog.Logger
}

// GroundTruth lists what was planted. It is written as indented JSON to
// <root>/ground-truth.json (GroundTruthFile); ReadGroundTruth reads it.
type GroundTruth struct {
	Version      int    `json:"version"` // of this format: 1
	Seed         int64  `json:"seed"`
	Hours        int    `json:"hours"`
	FlowsPerHour int    `json:"flows_per_hour"`
	TotalFlows   int64  `json:"total_flows"`
	Now          string `json:"now"`        // the clock, RFC 3339 UTC
	FirstHour    string `json:"first_hour"` // hour stamps, YYYYMMDDHH00
	LastHour     string `json:"last_hour"`  // what LASTHOUR reads
	Dataset      string `json:"dataset"`    // /tetration/flows

	// The lab's port-scan query: Predicate, drop duplicate (source,
	// destination, port), count per (source, destination) and keep counts
	// above Threshold. Its result on LASTHOUR is ExpectedPortscan (the
	// vertical scans); per (source, port) counting destinations it is
	// ExpectedHorizontal.
	Threshold          int             `json:"portscan_threshold"`
	Predicate          string          `json:"portscan_predicate"`
	Scans              []Scan          `json:"scans"`
	ExpectedPortscan   []PortscanRow   `json:"expected_portscan"`
	ExpectedHorizontal []HorizontalRow `json:"expected_horizontal"`

	Outlier      Outlier      `json:"outlier"`
	NonCompliant NonCompliant `json:"noncompliant"`
}

// Scan is one planted port scan.
type Scan struct {
	Kind         string   `json:"kind"`          // "vertical" or "horizontal"
	Reply        string   `json:"reply"`         // "none" (unanswered SYNs, S0) or "rst" (RST/ACK answers, REJ)
	Form         string   `json:"form"`          // the branch of the predicate: "rev_pkts = 0" or "rev_pkts = 1 AND rev_rst_count = 1"
	Scanner      string   `json:"scanner"`       // source address
	Targets      []string `json:"targets"`       // destination addresses, sorted
	Ports        []int32  `json:"ports"`         // distinct destination ports, sorted
	TargetsCount int      `json:"targets_count"` // len(Targets)
	PortsCount   int      `json:"ports_count"`   // len(Ports)
	Probes       int      `json:"probes"`        // flow records, repeated probes included
	Hour         string   `json:"hour"`
}

// PortscanRow is one row the lab's port-scan query returns.
type PortscanRow struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Count       int64  `json:"count"` // distinct ports probed
}

// HorizontalRow is one row of the horizontal variant: distinct destinations
// probed on one port.
type HorizontalRow struct {
	Source string `json:"source"`
	Port   int32  `json:"port"`
	Count  int64  `json:"count"` // distinct destinations probed
}

// Outlier is the host planted as a 3-sigma outlier of outgoing connections:
// in Hour, count(*) GROUP BY src_address gives Connections for Host, and
// Host is the only source above Mean + 3 * Stdev.
type Outlier struct {
	Host        string  `json:"host"`
	Hour        string  `json:"hour"`
	Connections int64   `json:"connections"` // flows with this source in the hour
	Sources     int     `json:"sources"`     // distinct sources in the hour
	Mean        float64 `json:"mean"`        // of per-source flow counts in the hour
	Stdev       float64 `json:"stdev"`       // sample standard deviation of the same
	Sigmas      float64 `json:"sigmas"`      // (Connections - Mean) / Stdev
}

// NonCompliant describes the datasink of non-compliant hosts.
type NonCompliant struct {
	Dataset string             `json:"dataset"` // /appdata/datasink/DEVWKS-2612
	Format  string             `json:"format"`  // JSON, one object per line
	Hour    string             `json:"hour"`
	Hosts   []NonCompliantHost `json:"hosts"`
}

// NonCompliantHost is one host of the datasink and the internal hosts it
// talks to in every hour.
type NonCompliantHost struct {
	IP       string   `json:"ip"`
	Hostname string   `json:"hostname"`
	Peers    []string `json:"peers"` // sorted
}

// Generate writes the demo lake into opts.Out and returns its ground truth.
// It streams: at most Workers parts of an hour (each at most 250,000 flows)
// are in memory at once. It returns an error wrapping datalake.ErrBadArgument
// for bad options or a lake that already holds flows (without Replace),
// ctx's error when cancelled, or a file-system error.
func Generate(ctx context.Context, opts Options) (GroundTruth, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return GroundTruth{}, err
	}
	if err := prepareOut(o); err != nil {
		return GroundTruth{}, err
	}
	lake, err := datalake.Open(datalake.Options{Root: o.Out, Now: o.Now})
	if err != nil {
		return GroundTruth{}, err
	}
	defer lake.Close()

	start := time.Now()
	p := newPlan(o)
	units := p.units()
	var done atomic.Int64
	var progressMu sync.Mutex
	work := make(chan unit)
	errc := make(chan error, o.Workers)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := parquet.NewFlowWriter(lake, parquet.Options{MaxRowsPerFile: unitFlows + 1})
			if err != nil {
				errc <- err
				return
			}
			for u := range work {
				if err := p.generate(u, w); err != nil {
					errc <- err
					return
				}
				if err := w.Flush(); err != nil {
					errc <- err
					return
				}
				if o.Progress != nil {
					n := int(done.Add(1))
					progressMu.Lock()
					o.Progress(n, len(units))
					progressMu.Unlock()
				}
			}
		}()
	}
	var genErr error
feed:
	for _, u := range units {
		select {
		case work <- u:
		case err := <-errc:
			genErr = err
			break feed
		case <-ctx.Done():
			genErr = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errc)
	for err := range errc {
		genErr = errors.Join(genErr, err)
	}
	if genErr != nil {
		return GroundTruth{}, fmt.Errorf("demo data: %w", genErr)
	}
	if err := p.writeDatasink(lake); err != nil {
		return GroundTruth{}, err
	}
	if err := writeContext(o.Out); err != nil {
		return GroundTruth{}, err
	}
	gt := p.groundTruth()
	if err := writeGroundTruth(o.Out, gt); err != nil {
		return GroundTruth{}, err
	}
	o.Logger.Info("demo lake written", "out", o.Out, "hours", o.Hours, "flows", gt.TotalFlows, "took", time.Since(start).Round(time.Millisecond))
	return gt, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Out == "" {
		return o, fmt.Errorf("%w: demo data needs an output lake folder (--out DIR)", datalake.ErrBadArgument)
	}
	if o.Hours == 0 {
		o.Hours = DefaultHours
	}
	if o.FlowsPerHour == 0 {
		o.FlowsPerHour = DefaultFlowsPerHour
	}
	if o.Hours < 1 || o.Hours > 24*366*5 {
		return o, fmt.Errorf("%w: hours %d: use 1 to %d", datalake.ErrBadArgument, o.Hours, 24*366*5)
	}
	if o.FlowsPerHour < MinFlowsPerHour || o.FlowsPerHour > 100_000_000 {
		return o, fmt.Errorf("%w: flows per hour %d: use %d to 100,000,000 (fewer sources cannot hold a clean 3-sigma outlier)", datalake.ErrBadArgument, o.FlowsPerHour, MinFlowsPerHour)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// prepareOut removes a previous demo lake's datasets (Replace) or refuses to
// mix a new one into them. It never deletes the flows of a lake that is not
// a demo lake.
func prepareOut(o Options) error {
	flows := filepath.Join(o.Out, filepath.FromSlash(datalake.FlowsPath))
	entries, err := os.ReadDir(flows)
	hasFlows := err == nil && len(entries) > 0
	old, gtErr := ReadGroundTruth(o.Out)
	isDemo := gtErr == nil
	if !hasFlows && !isDemo {
		return nil
	}
	if !isDemo {
		return fmt.Errorf("%w: %s already holds flows and no %s, so it is not a demo lake: write the demo lake into an empty folder (another --out)",
			datalake.ErrBadArgument, o.Out, GroundTruthFile)
	}
	if !o.Replace {
		return fmt.Errorf("%w: %s already holds a demo lake (seed %d, %d hours of %d flows, %s to %s): replace it (--replace) or choose another folder (--out)",
			datalake.ErrBadArgument, o.Out, old.Seed, old.Hours, old.FlowsPerHour, old.FirstHour, old.LastHour)
	}
	for _, p := range []string{flows, filepath.Join(o.Out, filepath.FromSlash(DatasinkPath)), filepath.Join(o.Out, filepath.FromSlash(ContextPath)), filepath.Join(o.Out, GroundTruthFile)} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("demo data: replace: %w", err)
		}
	}
	return nil
}

// writeGroundTruth writes the ground truth atomically.
func writeGroundTruth(root string, gt GroundTruth) error {
	path := filepath.Join(root, GroundTruthFile)
	raw, err := json.MarshalIndent(gt, "", "  ")
	if err != nil {
		return fmt.Errorf("demo data: ground truth: %w", err)
	}
	tmp := path + ".tmp"
	if err := writeSynced(tmp, append(raw, '\n')); err != nil {
		return fmt.Errorf("demo data: ground truth: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("demo data: ground truth: %w", err)
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

//go:embed context/*.csv
var contextFiles embed.FS

// writeContext copies the enrichment tables into <root>/appdata/context.
func writeContext(root string) error {
	dir := filepath.Join(root, filepath.FromSlash(ContextPath))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo data: context: %w", err)
	}
	entries, err := contextFiles.ReadDir("context")
	if err != nil {
		return fmt.Errorf("demo data: context: %w", err)
	}
	for _, e := range entries {
		data, err := contextFiles.ReadFile("context/" + e.Name())
		if err != nil {
			return fmt.Errorf("demo data: context: %w", err)
		}
		if err := writeSynced(filepath.Join(dir, e.Name()), data); err != nil {
			return fmt.Errorf("demo data: context: %w", err)
		}
	}
	return nil
}

// ReadGroundTruth reads the ground truth of the demo lake at root. The error
// wraps fs.ErrNotExist when root holds no ground-truth file. Safe for
// concurrent use.
func ReadGroundTruth(root string) (GroundTruth, error) {
	raw, err := os.ReadFile(filepath.Join(root, GroundTruthFile))
	if err != nil {
		return GroundTruth{}, fmt.Errorf("demo ground truth: %w", err)
	}
	var gt GroundTruth
	if err := json.Unmarshal(raw, &gt); err != nil {
		return GroundTruth{}, fmt.Errorf("demo ground truth: %w", err)
	}
	return gt, nil
}

// writeDatasink publishes the non-compliant hosts as JSON lines in the
// newest hour.
func (p *plan) writeDatasink(lake *datalake.Lake) error {
	_, err := lake.Publish(DatasinkPath, p.newest, "JSON", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for i, h := range p.noncompliant {
			rec := struct {
				IP         string `json:"ip"`
				Hostname   string `json:"hostname"`
				OS         string `json:"os"`
				Posture    string `json:"posture"`
				Reason     string `json:"reason"`
				ReportedAt string `json:"reported_at"`
			}{
				IP: p.sources[h].addr, Hostname: p.sources[h].hostname,
				OS:         []string{"Windows 10 21H2", "Windows 7 SP1", "macOS 10.13", "Ubuntu 16.04"}[i%4],
				Posture:    "noncompliant",
				Reason:     []string{"antivirus out of date", "OS past end of support", "disk not encrypted", "missing security patches"}[i%4],
				ReportedAt: p.newest.Add(time.Duration(5+i) * time.Minute).Format(time.RFC3339),
			}
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("demo data: datasink: %w", err)
	}
	return nil
}

func (p *plan) groundTruth() GroundTruth {
	gt := GroundTruth{
		Version: 1, Seed: p.o.Seed, Hours: p.o.Hours, FlowsPerHour: p.o.FlowsPerHour,
		TotalFlows: int64(p.o.Hours) * int64(p.o.FlowsPerHour),
		Now:        p.now.Format(time.RFC3339Nano),
		FirstHour:  datalake.Stamp(p.first), LastHour: datalake.Stamp(p.newest),
		Dataset:   datalake.FlowsPath,
		Threshold: Threshold, Predicate: Predicate,
		ExpectedPortscan: []PortscanRow{}, ExpectedHorizontal: []HorizontalRow{},
	}
	for _, s := range p.scans {
		sc := Scan{Kind: s.kind, Reply: s.reply, Form: "rev_pkts = 0", Scanner: s.src.addr, Probes: len(s.probes), Hour: datalake.Stamp(p.newest)}
		if s.reply == "rst" {
			sc.Form = "rev_pkts = 1 AND rev_rst_count = 1"
		}
		targets := map[string]map[int32]bool{}
		ports := map[int32]map[string]bool{}
		for _, pr := range s.probes {
			if targets[pr.dst.addr] == nil {
				targets[pr.dst.addr] = map[int32]bool{}
			}
			targets[pr.dst.addr][pr.port] = true
			if ports[pr.port] == nil {
				ports[pr.port] = map[string]bool{}
			}
			ports[pr.port][pr.dst.addr] = true
		}
		for t, tp := range targets {
			sc.Targets = append(sc.Targets, t)
			if len(tp) > Threshold {
				gt.ExpectedPortscan = append(gt.ExpectedPortscan, PortscanRow{s.src.addr, t, int64(len(tp))})
			}
		}
		sort.Strings(sc.Targets)
		for pt, pd := range ports {
			sc.Ports = append(sc.Ports, pt)
			if len(pd) > Threshold {
				gt.ExpectedHorizontal = append(gt.ExpectedHorizontal, HorizontalRow{s.src.addr, pt, int64(len(pd))})
			}
		}
		sort.Slice(sc.Ports, func(i, j int) bool { return sc.Ports[i] < sc.Ports[j] })
		sc.TargetsCount, sc.PortsCount = len(sc.Targets), len(sc.Ports)
		gt.Scans = append(gt.Scans, sc)
	}
	sort.Slice(gt.ExpectedPortscan, func(i, j int) bool {
		a, b := gt.ExpectedPortscan[i], gt.ExpectedPortscan[j]
		return a.Source < b.Source || (a.Source == b.Source && a.Destination < b.Destination)
	})
	sort.Slice(gt.ExpectedHorizontal, func(i, j int) bool {
		a, b := gt.ExpectedHorizontal[i], gt.ExpectedHorizontal[j]
		return a.Source < b.Source || (a.Source == b.Source && a.Port < b.Port)
	})
	oh := p.hour(p.outlierHour)
	gt.Outlier = Outlier{
		Host: p.sources[p.outlier].addr, Hour: datalake.Stamp(p.outlierHour),
		Connections: int64(oh.counts[p.outlier]), Sources: oh.sourceCount(),
	}
	gt.Outlier.Mean, gt.Outlier.Stdev = oh.countStats()
	gt.Outlier.Sigmas = (float64(gt.Outlier.Connections) - gt.Outlier.Mean) / gt.Outlier.Stdev
	gt.NonCompliant = NonCompliant{Dataset: DatasinkPath, Format: "JSON", Hour: datalake.Stamp(p.newest)}
	for _, h := range p.noncompliant {
		host := NonCompliantHost{IP: p.sources[h].addr, Hostname: p.sources[h].hostname}
		for _, s := range p.peers[h] {
			host.Peers = append(host.Peers, p.servers[s].addr)
		}
		sort.Strings(host.Peers)
		gt.NonCompliant.Hosts = append(gt.NonCompliant.Hosts, host)
	}
	return gt
}
