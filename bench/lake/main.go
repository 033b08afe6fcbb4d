// Command lake benchmarks the datalake in one invocation, as issue 3's
// acceptance asks:
//
//   - a 10M-flow demo lake (720 hours of 13,889 flows) written by
//     datalake/demo, and a 1-hour lake of the same rate;
//   - the Tetration lab's port-scan query over all 10M flows through the
//     Frame API (IO.Read, RegisterTempTable, SQL, DropDuplicates, GroupBy,
//     Count, Filter, Collect: what a kernel cell runs; the interpreter only
//     builds the query, so it is timed in-process here) vs the same SQL
//     straight in DuckDB through database/sql (the limit) vs pandas (Debian
//     python3-pandas, loading a CSV export of the query's columns);
//   - cold (from the lake files; pandas: CSV load + query) and persisted
//     (Frame.Persist of the query's columns / a plain DuckDB table / the same
//     table in a compressed in-memory DuckDB database, the storage Persist
//     uses / a pandas DataFrame in memory, kept by one Python process);
//   - the whole cell on LASTHOUR of the 720-hour lake vs the 1-hour lake.
//
// What is compared is timed in turns (Frame and DuckDB cold; the four
// persisted forms; the two LASTHOUR cells), so a change of load on a shared
// machine hits them alike; only pandas' cold runs (seconds each) run alone.
//
// Every engine's result is checked against the lake's ground truth. Output
// is a Markdown section for BENCHMARKS.md.
//
// Usage: go run ./bench/lake [-dir DIR] [-runs 7] [-pandas-runs 3] [-python /usr/bin/python3]
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/datalake/duckdb"
)

// clock is the lakes' fixed "now", so reruns reuse the lakes.
var clock = time.Date(2026, 1, 2, 13, 20, 0, 0, time.UTC)

// The lab's query, as DESIGN.md writes it, and its plain-SQL equivalent.
const (
	predicate = `fwd_pkts = 1 AND fwd_syn_count = 1
            AND (rev_pkts = 0 OR (rev_pkts = 1 AND rev_rst_count = 1))`
	labObs = `SELECT src_address AS source, dst_address AS destination, dst_port AS port
            FROM flows WHERE ` + predicate
	rawQuery = `SELECT source, destination, count(*) AS count FROM (
            SELECT DISTINCT src_address AS source, dst_address AS destination, dst_port AS port
            FROM %s WHERE ` + predicate + `)
            GROUP BY source, destination HAVING count(*) > %d`
	queryColumns = "src_address, dst_address, dst_port, fwd_pkts, fwd_syn_count, rev_pkts, rev_rst_count"
)

func main() {
	dir := flag.String("dir", filepath.Join(os.TempDir(), "flowlab-bench-lake"), "work `folder` for the lakes and the CSV export (reused when it matches)")
	hours := flag.Int("hours", 720, "hours of the big lake")
	perHour := flag.Int("flows-per-hour", 13_889, "flows per hour of both lakes (720 x 13,889 = 10M)")
	runs := flag.Int("runs", 7, "timed runs of each DuckDB and Frame measurement")
	pandasRuns := flag.Int("pandas-runs", 3, "timed runs of pandas' cold measurements (CSV load + query)")
	python := flag.String("python", "/usr/bin/python3", "Python with pandas (Debian python3-pandas); empty skips pandas")
	mem := flag.String("memory", "2GiB", "DuckDB memory_limit for both the Frame engine and raw DuckDB")
	flag.Parse()
	if err := run(context.Background(), config{*dir, *hours, *perHour, *runs, *pandasRuns, *python, *mem}); err != nil {
		fmt.Fprintln(os.Stderr, "bench/lake:", err)
		os.Exit(1)
	}
}

type config struct {
	dir             string
	hours, perHour  int
	runs, pandasRun int
	python, mem     string
}

func run(ctx context.Context, c config) error {
	big, small := filepath.Join(c.dir, "lake720"), filepath.Join(c.dir, "lake1")
	gt, genBig, err := ensureLake(ctx, big, c.hours, c.perHour)
	if err != nil {
		return err
	}
	_, genSmall, err := ensureLake(ctx, small, 1, c.perHour)
	if err != nil {
		return err
	}
	var want []string
	for _, r := range gt.ExpectedPortscan {
		want = append(want, fmt.Sprintf("%s>%s:%d", r.Source, r.Destination, r.Count))
	}
	threads := runtime.NumCPU()
	glob := fmt.Sprintf("read_parquet('%s/tetration/flows/*/*/*.parquet', hive_partitioning = true)", big)

	// DuckDB straight: the same SQL over the same files, then over tables.
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{"SET memory_limit = '" + c.mem + "'", fmt.Sprintf("SET threads = %d", threads)} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	var duckVersion string
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&duckVersion); err != nil {
		return err
	}

	// Cold, in turns: the whole cell from the lake files through the Frame
	// API, and the same SQL over the hive glob in DuckDB.
	lake, err := openLake(big, c.mem, threads)
	if err != nil {
		return err
	}
	defer lake.Close()
	frameCell := func(l *datalake.Lake, timeRange string) ([]string, error) {
		flows := l.IO().Read(datalake.FlowsPath, "PARQUET", timeRange)
		if err := flows.RegisterTempTable("flows"); err != nil {
			return nil, err
		}
		return collect(l.SQL(labObs).DropDuplicates("source", "destination", "port").
			GroupBy("source", "destination").Count().Filter("count > ?", gt.Threshold))
	}
	cold, err := timeTurns(c.runs,
		checked(want, func() ([]string, error) { return frameCell(lake, "ALL") }),
		checked(want, func() ([]string, error) { return rawRows(ctx, db, fmt.Sprintf(rawQuery, glob, gt.Threshold)) }),
	)
	if err != nil {
		return fmt.Errorf("cold: %w", err)
	}
	frameCold, rawCold := cold[0], cold[1]

	// Frame API, persisted: the query's columns of every flow in memory.
	start := time.Now()
	cols := strings.Split(queryColumns, ", ")
	persisted := lake.IO().Read(datalake.FlowsPath, "PARQUET", "ALL").Select(cols...).Persist()
	if err := persisted.Err(); err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	framePersistTook := time.Since(start)
	if err := persisted.RegisterTempTable("flows"); err != nil {
		return err
	}
	defer persisted.Unpersist()

	start = time.Now()
	if _, err := db.ExecContext(ctx, "CREATE TABLE flows AS SELECT "+queryColumns+" FROM "+glob); err != nil {
		return err
	}
	rawPersistTook := time.Since(start)
	plainBytes, err := tableMemory(ctx, db)
	if err != nil {
		return err
	}
	// What a user who knows DuckDB's in-memory compression can do by hand:
	// the storage Frame.Persist uses.
	start = time.Now()
	var checkpointTook time.Duration
	for _, s := range []string{
		"ATTACH ':memory:' AS packed (COMPRESS)",
		"CREATE TABLE packed.flows AS SELECT " + queryColumns + " FROM " + glob,
		"CHECKPOINT packed",
	} {
		t := time.Now()
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
		checkpointTook = time.Since(t)
	}
	packedPersistTook := time.Since(start)
	packedBytes, err := tableMemory(ctx, db)
	if err != nil {
		return err
	}
	packedBytes -= plainBytes

	// pandas: CSV export of the query's columns, loaded (the cold runs),
	// then kept in memory by the Python process for the persisted turns.
	var pd *pandas
	var csvTook time.Duration
	if c.python != "" {
		csvPath := filepath.Join(c.dir, "flows.csv")
		start = time.Now()
		if _, err := os.Stat(csvPath); err != nil {
			if _, err := db.ExecContext(ctx, "COPY (SELECT "+queryColumns+" FROM "+glob+") TO '"+csvPath+"' (HEADER)"); err != nil {
				return fmt.Errorf("csv export: %w", err)
			}
		}
		csvTook = time.Since(start)
		pd, err = startPandas(ctx, c.python, csvPath, c.pandasRun, gt.Threshold)
		if err != nil {
			return err
		}
		defer pd.Close()
		if got := fmt.Sprint(pd.cold.Rows); got != fmt.Sprint(want) {
			return fmt.Errorf("pandas found %s, the ground truth says %s", got, fmt.Sprint(want))
		}
	}

	// Persisted: the Frame, DuckDB's two tables and pandas' DataFrame in turns.
	turns := []func() error{
		checked(want, func() ([]string, error) {
			return collect(lake.SQL(labObs).DropDuplicates("source", "destination", "port").
				GroupBy("source", "destination").Count().Filter("count > ?", gt.Threshold))
		}),
		checked(want, func() ([]string, error) { return rawRows(ctx, db, fmt.Sprintf(rawQuery, "flows", gt.Threshold)) }),
		checked(want, func() ([]string, error) { return rawRows(ctx, db, fmt.Sprintf(rawQuery, "packed.flows", gt.Threshold)) }),
	}
	if pd != nil {
		turns = append(turns, checked(want, pd.Query))
	}
	mem, err := timeTurns(c.runs, turns...)
	if err != nil {
		return fmt.Errorf("persisted: %w", err)
	}
	frameMem, rawMem, packedMem := mem[0], mem[1], mem[2]
	var pdCold *pandasCold
	var pandasMem []time.Duration
	if pd != nil {
		pdCold, pandasMem = &pd.cold, mem[3]
	}
	parts, err := breakdown(ctx, db, c.runs, gt.Threshold)
	if err != nil {
		return fmt.Errorf("breakdown: %w", err)
	}

	// LASTHOUR on 720 hours vs 1 hour, in turns: the whole cell, cold.
	lake1, err := openLake(small, c.mem, threads)
	if err != nil {
		return err
	}
	defer lake1.Close()
	gt1, err := demo.ReadGroundTruth(small)
	if err != nil {
		return err
	}
	var want1 []string
	for _, r := range gt1.ExpectedPortscan {
		want1 = append(want1, fmt.Sprintf("%s>%s:%d", r.Source, r.Destination, r.Count))
	}
	last, err := timeTurns(c.runs,
		checked(want, func() ([]string, error) { return frameCell(lake, "LASTHOUR") }),
		checked(want1, func() ([]string, error) { return frameCell(lake1, "LASTHOUR") }),
	)
	if err != nil {
		return fmt.Errorf("LASTHOUR: %w", err)
	}
	last720, last1 := last[0], last[1]

	report(c, reportData{
		gt: gt, genBig: genBig, genSmall: genSmall, duck: duckVersion, threads: threads,
		frameCold: frameCold, frameMem: frameMem, rawCold: rawCold, rawMem: rawMem, packedMem: packedMem,
		framePersist: framePersistTook, rawPersist: rawPersistTook, packedPersist: packedPersistTook, checkpoint: checkpointTook,
		plainBytes: plainBytes, packedBytes: packedBytes,
		last720: last720, last1: last1, pandas: pdCold, pandasMem: pandasMem, csvTook: csvTook, parts: parts,
	})
	return nil
}

// part is one step of the persisted query, timed on the plain table and on
// the compressed one.
type part struct {
	name          string
	plain, packed []time.Duration
}

// breakdown times the steps of the persisted query on DuckDB's plain
// in-memory table (flows) and on the compressed one (packed.flows), in
// turns: the filter alone, the filter and reading the three columns the
// query keeps, and the DISTINCT and GROUP BY alone, over a copy of the rows
// the filter keeps.
func breakdown(ctx context.Context, db *sql.DB, runs, threshold int) ([]part, error) {
	for _, s := range []string{
		"CREATE TABLE matching AS SELECT src_address, dst_address, dst_port FROM flows WHERE " + predicate,
		"CREATE TABLE packed.matching AS FROM matching",
		"CHECKPOINT packed",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, err
		}
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM matching").Scan(&n); err != nil {
		return nil, err
	}
	filter := func(sel, table string) string { return "SELECT " + sel + " FROM " + table + " WHERE " + predicate }
	aggregate := func(table string) string {
		return fmt.Sprintf(strings.Replace(rawQuery, "WHERE "+predicate, "", 1), table, threshold)
	}
	const kept = "max(src_address), max(dst_address), max(dst_port)"
	steps := []struct{ name, plain, packed string }{
		{"the filter (count of matching rows)", filter("count(*)", "flows"), filter("count(*)", "packed.flows")},
		{"the filter and reading the kept columns (max of each)", filter(kept, "flows"), filter(kept, "packed.flows")},
		{fmt.Sprintf("DISTINCT + GROUP BY alone, over the %d matching rows", n), aggregate("matching"), aggregate("packed.matching")},
	}
	var fns []func() error
	for _, st := range steps {
		for _, q := range []string{st.plain, st.packed} {
			fns = append(fns, func() error { return drain(ctx, db, q) })
		}
	}
	times, err := timeTurns(runs, fns...)
	if err != nil {
		return nil, err
	}
	out := make([]part, len(steps))
	for i, st := range steps {
		out[i] = part{name: st.name, plain: times[2*i], packed: times[2*i+1]}
	}
	return out, nil
}

// tableMemory returns the bytes DuckDB holds for the in-memory tables of
// db's databases.
func tableMemory(ctx context.Context, db *sql.DB) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, "SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'").Scan(&n)
	return n, err
}

// drain runs a query and reads its rows.
func drain(ctx context.Context, db *sql.DB, q string) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// ensureLake reuses the demo lake at dir when its ground truth matches,
// and writes it otherwise. It returns how long writing took (0 if reused).
func ensureLake(ctx context.Context, dir string, hours, perHour int) (demo.GroundTruth, time.Duration, error) {
	if gt, err := demo.ReadGroundTruth(dir); err == nil && gt.Hours == hours && gt.FlowsPerHour == perHour && gt.Seed == 1 && gt.Now == clock.Format(time.RFC3339Nano) {
		return gt, 0, nil
	}
	_ = os.Remove(filepath.Join(filepath.Dir(dir), "flows.csv"))
	start := time.Now()
	gt, err := demo.Generate(ctx, demo.Options{Hours: hours, FlowsPerHour: perHour, Seed: 1, Out: dir, Now: func() time.Time { return clock }, Replace: true})
	if err != nil && errors.Is(err, datalake.ErrBadArgument) {
		err = fmt.Errorf("%w (remove %s)", err, dir)
	}
	return gt, time.Since(start), err
}

func openLake(root, mem string, threads int) (*datalake.Lake, error) {
	return datalake.Open(datalake.Options{
		Root:      root,
		NewEngine: duckdb.Factory(duckdb.Options{Root: root, MemoryLimit: mem, Threads: threads}),
		Now:       func() time.Time { return clock },
	})
}

func collect(f *datalake.Frame) ([]string, error) {
	rows, err := f.Collect()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%v>%v:%v", r["source"], r["destination"], r["count"]))
	}
	slices.Sort(out)
	return out, nil
}

func rawRows(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s, d string
		var n int64
		if err := rows.Scan(&s, &d, &n); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s>%s:%d", s, d, n))
	}
	slices.Sort(out)
	return out, rows.Err()
}

// checked returns a measurement that runs fn and checks its result against
// want.
func checked(want []string, fn func() ([]string, error)) func() error {
	return func() error {
		got, err := fn()
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("found %v, the ground truth says %v", got, want)
		}
		return nil
	}
}

// timeTurns runs each of fns once to warm up, then n rounds in which each
// runs once, in turn, so a change of load on the machine hits them alike.
// Each round starts one fn further, so none always runs right after the
// same other. It returns the timed runs of each fn.
func timeTurns(n int, fns ...func() error) ([][]time.Duration, error) {
	out := make([][]time.Duration, len(fns))
	for i := -1; i < n; i++ {
		for k := range fns {
			j := (k + max(i, 0)) % len(fns)
			start := time.Now()
			if err := fns[j](); err != nil {
				return nil, err
			}
			if took := time.Since(start); i >= 0 {
				out[j] = append(out[j], took)
			}
		}
	}
	return out, nil
}

// pandasCold is what the pandas script reports after its cold runs.
type pandasCold struct {
	Load    []float64 `json:"load"`    // seconds per CSV load
	Cold    []float64 `json:"cold"`    // load + query
	Rows    []string  `json:"rows"`    // source>destination:count, sorted
	Version string    `json:"version"` // pandas version
}

// pandasScript loads the CSV export and queries it runs times (cold), prints
// a pandasCold line, then answers each line of its input with one query on
// the loaded DataFrame: a line {"rows": [...]}.
const pandasScript = `
import json, sys, time
import pandas as pd
path, runs, threshold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def query(df):
    m = (df.fwd_pkts == 1) & (df.fwd_syn_count == 1) & ((df.rev_pkts == 0) | ((df.rev_pkts == 1) & (df.rev_rst_count == 1)))
    obs = df.loc[m, ["src_address", "dst_address", "dst_port"]].drop_duplicates()
    c = obs.groupby(["src_address", "dst_address"]).size()
    return c[c > threshold]
def rows(res):
    return sorted("%s>%s:%d" % (s, d, n) for (s, d), n in res.items())
out = {"load": [], "cold": [], "version": pd.__version__}
df = None
for _ in range(runs):
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    t1 = time.perf_counter()
    res = query(df)
    t2 = time.perf_counter()
    out["load"].append(t1 - t0)
    out["cold"].append(t2 - t0)
out["rows"] = rows(res)
print(json.dumps(out), flush=True)
for line in sys.stdin:
    print(json.dumps({"rows": rows(query(df))}), flush=True)
`

// pandas is a Python process holding the CSV export in a DataFrame. Its
// methods are not safe for concurrent use.
type pandas struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	cold pandasCold
}

// startPandas starts the script and waits for its cold runs.
func startPandas(ctx context.Context, python, csvPath string, runs, threshold int) (*pandas, error) {
	cmd := exec.CommandContext(ctx, python, "-c", pandasScript, csvPath, fmt.Sprint(runs), fmt.Sprint(threshold))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pandas (%s; Debian: apt-get install python3-pandas): %w", python, err)
	}
	p := &pandas{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if err := p.read(&p.cold); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Query runs the query once on the loaded DataFrame (the time includes a
// pipe round trip, well under a millisecond).
func (p *pandas) Query() ([]string, error) {
	if _, err := io.WriteString(p.in, "query\n"); err != nil {
		return nil, fmt.Errorf("pandas: %w", err)
	}
	var r struct {
		Rows []string `json:"rows"`
	}
	err := p.read(&r)
	return r.Rows, err
}

func (p *pandas) read(v any) error {
	if !p.out.Scan() {
		err := p.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("pandas (Debian: apt-get install python3-pandas): %w", err)
	}
	if err := json.Unmarshal(p.out.Bytes(), v); err != nil {
		return fmt.Errorf("pandas output %q: %w", p.out.Bytes(), err)
	}
	return nil
}

// Close ends the script and waits for it.
func (p *pandas) Close() error {
	p.in.Close()
	return p.cmd.Wait()
}

func seconds(v []float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, s := range v {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(d []time.Duration) string {
	return fmt.Sprintf("%s–%s", ms(slices.Min(d)), ms(slices.Max(d)))
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

type reportData struct {
	gt                        demo.GroundTruth
	genBig, genSmall          time.Duration
	duck                      string
	threads                   int
	frameCold, frameMem       []time.Duration
	rawCold, rawMem           []time.Duration
	packedMem                 []time.Duration
	framePersist, rawPersist  time.Duration
	packedPersist, checkpoint time.Duration
	plainBytes, packedBytes   int64
	last720, last1            []time.Duration
	pandas                    *pandasCold
	pandasMem                 []time.Duration
	csvTook                   time.Duration
	parts                     []part
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func report(c config, r reportData) {
	row := func(name string, d []time.Duration, ratio string) {
		fmt.Printf("| %s | %s | %s | %d | %s |\n", name, ms(median(d)), spread(d), len(d), ratio)
	}
	ratio := func(a, b []time.Duration) float64 { return float64(median(a)) / float64(median(b)) }
	gen := "reused from an earlier run"
	if r.genBig > 0 {
		gen = fmt.Sprintf("%s (%.0f flows/s)", ms(r.genBig), float64(r.gt.TotalFlows)/r.genBig.Seconds())
	}
	fmt.Printf("Machine: %d CPUs (%s), Go %s, %s/%s, DuckDB %s, %d threads, memory_limit %s.\n\n",
		runtime.NumCPU(), cpuModel(), strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS, runtime.GOARCH, r.duck, r.threads, c.mem)
	fmt.Printf("Lake: %d flows (%d hours x %d, seed 1), written by `flowlab demo-data`'s generator in %s. Query: the lab's port scan over all %d flows (threshold %d), result checked against the ground truth (%d rows).\n\n",
		r.gt.TotalFlows, r.gt.Hours, r.gt.FlowsPerHour, gen, r.gt.TotalFlows, r.gt.Threshold, len(r.gt.ExpectedPortscan))
	fmt.Println("| measurement | median | spread (min–max) | runs | ratio |")
	fmt.Println("|---|---|---|---|---|")
	row("Frame API, cold (cell from Parquet)", r.frameCold, fmt.Sprintf("%.2f× raw DuckDB", ratio(r.frameCold, r.rawCold)))
	row("raw DuckDB, cold (same SQL from Parquet)", r.rawCold, "1 (the limit)")
	row("Frame API, persisted (query columns in memory)", r.frameMem, fmt.Sprintf("%.2f× raw DuckDB", ratio(r.frameMem, r.rawMem)))
	row("raw DuckDB, in memory (table)", r.rawMem, "1 (the limit)")
	row("raw DuckDB, compressed in-memory table (Persist's storage)", r.packedMem, fmt.Sprintf("Frame persisted is %.2f× this", ratio(r.frameMem, r.packedMem)))
	if p := r.pandas; p != nil {
		cold, mem, load := seconds(p.Cold), r.pandasMem, seconds(p.Load)
		row("pandas "+p.Version+", cold (CSV load + query)", cold, fmt.Sprintf("Frame cold is %.0f× faster", ratio(cold, r.frameCold)))
		row("pandas, CSV load alone", load, "")
		row("pandas, in memory (query on the DataFrame)", mem, fmt.Sprintf("Frame persisted is %.1f× faster", ratio(mem, r.frameMem)))
	}
	row("cell on LASTHOUR, 720-hour lake", r.last720, fmt.Sprintf("%.2f× the 1-hour lake", ratio(r.last720, r.last1)))
	row("cell on LASTHOUR, 1-hour lake", r.last1, "1")
	fmt.Printf("\nPersisting took %s through the Frame API, %s in raw DuckDB (CREATE TABLE) and %s for the compressed table (ATTACH ':memory:' (COMPRESS), CREATE TABLE, CHECKPOINT; the CHECKPOINT %s); the CSV export for pandas (7 columns) took %s.\n",
		ms(r.framePersist), ms(r.rawPersist), ms(r.packedPersist), ms(r.checkpoint), ms(r.csvTook))
	fmt.Printf("The persisted 7 columns of %d flows take %.0f MB of memory in the plain table and %.0f MB in the compressed one (duckdb_memory()).\n",
		r.gt.TotalFlows, float64(r.plainBytes)/1e6, float64(r.packedBytes)/1e6)
	fmt.Println("\nWhere the persisted query's time goes (raw DuckDB, timed in turns):")
	fmt.Println()
	fmt.Println("| step | plain table: median | spread | compressed table: median | spread |")
	fmt.Println("|---|---|---|---|---|")
	for _, p := range r.parts {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", p.name, ms(median(p.plain)), spread(p.plain), ms(median(p.packed)), spread(p.packed))
	}
	fmt.Printf("| the whole query | %s | %s | %s | %s |\n", ms(median(r.rawMem)), spread(r.rawMem), ms(median(r.packedMem)), spread(r.packedMem))
}
