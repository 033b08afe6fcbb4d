package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/datalake/duckdb"
)

var now = time.Date(2026, 1, 2, 13, 20, 0, 0, time.UTC)

func openLake(t testing.TB, root string) *datalake.Lake {
	t.Helper()
	l, err := datalake.Open(datalake.Options{
		Root:      root,
		NewEngine: duckdb.Factory(duckdb.Options{Root: root, MemoryLimit: "1GiB"}),
		Now:       func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func generate(t testing.TB, hours, perHour int) (string, demo.GroundTruth) {
	t.Helper()
	root := t.TempDir()
	gt, err := demo.Generate(context.Background(), demo.Options{Hours: hours, FlowsPerHour: perHour, Seed: 2612, Out: root, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return root, gt
}

func strs(t testing.TB, f *datalake.Frame, col string) []string {
	t.Helper()
	v, err := f.Strings(col)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(v)
	return v
}

const labPredicate = `fwd_pkts = 1 AND fwd_syn_count = 1 AND (rev_pkts = 0 OR (rev_pkts = 1 AND rev_rst_count = 1))`

// TestDemoLakeLab runs the workshop's analyses over the demo lake, written
// as the lab cells write them, and checks that they find exactly what the
// ground truth planted.
func TestDemoLakeLab(t *testing.T) {
	root, gt := generate(t, 3, 2000)
	l := openLake(t, root)
	IO, SQL := l.IO(), l.SQL

	hours := IO.List(datalake.FlowsPath)
	if fmt.Sprint(hours) != "[202601021100 202601021200 202601021300]" {
		t.Fatalf("IO.List = %v", hours)
	}

	// The Tetration lab, word for word.
	flows := IO.Read("/tetration/flows", "PARQUET", "LASTHOUR")
	if err := flows.RegisterTempTable("flows"); err != nil {
		t.Fatal(err)
	}
	obs := SQL(`SELECT src_address AS source, dst_address AS destination, dst_port AS port
            FROM flows WHERE fwd_pkts = 1 AND fwd_syn_count = 1
            AND (rev_pkts = 0 OR (rev_pkts = 1 AND rev_rst_count = 1))`)
	obs.Persist()
	threshold := 10
	scans := obs.DropDuplicates("source", "destination", "port").
		GroupBy("source", "destination").Count().
		Filter("count > ?", threshold)

	t.Run("last hour", func(t *testing.T) {
		if n, err := flows.Count(); err != nil || n != 2000 {
			t.Fatalf("LASTHOUR has %d flows, %v", n, err)
		}
	})
	t.Run("vertical scans", func(t *testing.T) {
		rows, err := scans.Collect()
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s>%s:%d", r["source"], r["destination"], r["count"]))
		}
		for _, r := range gt.ExpectedPortscan {
			want = append(want, fmt.Sprintf("%s>%s:%d", r.Source, r.Destination, r.Count))
		}
		sort.Strings(got)
		if len(want) != 2 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("scans = %v, want %v", got, want)
		}
		// The ground truth's scans and its expected rows agree.
		for _, sc := range gt.Scans {
			if sc.Kind == "vertical" && !slices.Contains(want, fmt.Sprintf("%s>%s:%d", sc.Scanner, sc.Targets[0], sc.PortsCount)) {
				t.Errorf("vertical scan %+v is not among the expected rows", sc)
			}
		}
		html := scans.MIMEBundle()["text/html"].(string)
		for _, r := range gt.ExpectedPortscan {
			if !strings.Contains(html, r.Source) {
				t.Errorf("rendered scans lack %s", r.Source)
			}
		}
	})
	t.Run("horizontal scans", func(t *testing.T) {
		h := obs.DropDuplicates("source", "destination", "port").
			GroupBy("source", "port").Agg("count(DISTINCT destination) AS count").
			Filter("count > ?", threshold)
		rows, err := h.Collect()
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s:%d>%d", r["source"], r["port"], r["count"]))
		}
		for _, r := range gt.ExpectedHorizontal {
			want = append(want, fmt.Sprintf("%s:%d>%d", r.Source, r.Port, r.Count))
		}
		sort.Strings(got)
		if len(want) != 2 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("horizontal scans = %v, want %v", got, want)
		}
	})
	t.Run("over every hour only the planted scanners pass the threshold", func(t *testing.T) {
		all := IO.Read("/tetration/flows", "PARQUET", "ALL")
		if err := all.RegisterTempTable("allflows"); err != nil {
			t.Fatal(err)
		}
		probes := SQL(`SELECT src_address AS source, dst_address AS destination, dst_port AS port FROM allflows WHERE `+labPredicate).
			DropDuplicates("source", "destination", "port")
		vertical := probes.GroupBy("source", "destination").Count()
		horizontal := probes.GroupBy("source", "port").Agg("count(DISTINCT destination) AS count")
		scanners := map[string]bool{}
		for _, sc := range gt.Scans {
			scanners[sc.Scanner] = true
		}
		for name, f := range map[string]*datalake.Frame{"vertical": vertical, "horizontal": horizontal} {
			above := strs(t, f.Filter("count > ?", gt.Threshold).Select("source").Distinct(), "source")
			var want []string
			for _, sc := range gt.Scans {
				if sc.Kind == name {
					want = append(want, sc.Scanner)
				}
			}
			sort.Strings(want)
			if fmt.Sprint(above) != fmt.Sprint(want) {
				t.Errorf("%s: sources above the threshold = %v, want %v", name, above, want)
			}
			// Background matches the predicate too, so the threshold is
			// what separates scanners from failed connections.
			var bgMax int64 = -1
			rows, err := f.Collect()
			if err != nil {
				t.Fatal(err)
			}
			bgSources := 0
			for _, r := range rows {
				if !scanners[r["source"].(string)] {
					bgSources++
					bgMax = max(bgMax, r["count"].(int64))
				}
			}
			if bgSources == 0 || bgMax < 1 || bgMax > 2 {
				t.Errorf("%s: %d background groups match the predicate, at most %d each; want some, at most 2", name, bgSources, bgMax)
			}
		}
		// Both reply forms of the predicate are planted.
		forms := strs(t, all.Filter(labPredicate).Filter("src_address IN ?", keys(scanners)).
			Select("CASE WHEN rev_pkts = 0 THEN 'none' ELSE 'rst' END AS reply").Distinct(), "reply")
		if fmt.Sprint(forms) != "[none rst]" {
			t.Errorf("reply forms %v", forms)
		}
		for _, sc := range gt.Scans {
			n, err := all.Filter(labPredicate).Filter("src_address = ?", sc.Scanner).Count()
			if err != nil || n != int64(sc.Probes) {
				t.Errorf("scanner %s: %d probes, %v; ground truth says %d", sc.Scanner, n, err, sc.Probes)
			}
		}
	})
	t.Run("3-sigma outlier on LASTHOUR", func(t *testing.T) {
		out := SQL(`SELECT src_address, count(*) AS connections FROM flows GROUP BY src_address`)
		st, err := out.Stats("connections")
		if err != nil {
			t.Fatal(err)
		}
		hosts := strs(t, out.Filter("connections > ?", st.Mean+3*st.Stdev), "src_address")
		if gt.Outlier.Hour != gt.LastHour || fmt.Sprint(hosts) != "["+gt.Outlier.Host+"]" {
			t.Errorf("LASTHOUR outliers %v, want %s (hour %s)", hosts, gt.Outlier.Host, gt.Outlier.Hour)
		}
	})
	t.Run("3-sigma outlier per hour", func(t *testing.T) {
		for _, hour := range hours {
			out := IO.Read("/tetration/flows", "PARQUET", hour).GroupBy("src_address").Count()
			if err := out.RegisterTempTable("out"); err != nil {
				t.Fatal(err)
			}
			st, err := out.Stats("count")
			if err != nil {
				t.Fatal(err)
			}
			hosts := strs(t, out.Filter("count > ?", st.Mean+3*st.Stdev), "src_address")
			if hour == gt.Outlier.Hour {
				if fmt.Sprint(hosts) != "["+gt.Outlier.Host+"]" {
					t.Errorf("hour %s: outliers %v, want %s", hour, hosts, gt.Outlier.Host)
				}
				if st.Count != int64(gt.Outlier.Sources) || abs(st.Mean-gt.Outlier.Mean) > 1e-9 || abs(st.Stdev-gt.Outlier.Stdev) > 1e-6 {
					t.Errorf("stats %+v, ground truth %+v", st, gt.Outlier)
				}
			} else if len(hosts) != 0 {
				t.Errorf("hour %s: unexpected outliers %v", hour, hosts)
			}
		}
	})
	t.Run("non-compliant hosts", func(t *testing.T) {
		sink := IO.List("/appdata/datasink/DEVWKS-2612")
		if err := IO.Read("/appdata/datasink/DEVWKS-2612", "JSON", sink[len(sink)-1]).RegisterTempTable("notcompliant"); err != nil {
			t.Fatal(err)
		}
		talk := SQL(`SELECT DISTINCT src_address || ' ' || dst_address AS pair FROM flows
			WHERE src_address IN (SELECT ip FROM notcompliant) AND dst_is_internal`)
		var want []string
		for _, h := range gt.NonCompliant.Hosts {
			for _, p := range h.Peers {
				want = append(want, h.IP+" "+p)
			}
		}
		sort.Strings(want)
		if got := strs(t, talk, "pair"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("non-compliant pairs = %v, want %v", got, want)
		}
	})
	t.Run("background TCP completes its handshakes", func(t *testing.T) {
		states := strs(t, IO.Read("/tetration/flows", "PARQUET", "ALL").Filter("proto = 'TCP' AND fwd_pkts = 1").Select("conn_state").Distinct(), "conn_state")
		if fmt.Sprint(states) != "[REJ S0]" {
			t.Errorf("single-packet TCP flows have states %v; only scan probes should", states)
		}
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestDemoLakeMultipleUnits generates one hour larger than a unit of work,
// so the hour is written by several workers in several files.
func TestDemoLakeMultipleUnits(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300,000 flows")
	}
	root, gt := generate(t, 1, 300_000)
	l := openLake(t, root)
	flows := l.IO().Read(datalake.FlowsPath, "PARQUET", "LASTHOUR")
	if n, err := flows.Count(); err != nil || n != 300_000 {
		t.Fatalf("%d flows, %v", n, err)
	}
	vertical := flows.Filter(labPredicate).DropDuplicates("src_address", "dst_address", "dst_port").
		GroupBy("src_address", "dst_address").Count().Filter("count > ?", gt.Threshold)
	var want []string
	for _, r := range gt.ExpectedPortscan {
		want = append(want, r.Source)
	}
	sort.Strings(want)
	if scanners := strs(t, vertical, "src_address"); fmt.Sprint(scanners) != fmt.Sprint(want) {
		t.Errorf("vertical scanners %.300v, want %v", scanners, want)
	}
	out := flows.GroupBy("src_address").Count()
	st, err := out.Stats("count")
	if err != nil {
		t.Fatal(err)
	}
	if hosts := strs(t, out.Filter("count > ?", st.Mean+3*st.Stdev), "src_address"); fmt.Sprint(hosts) != "["+gt.Outlier.Host+"]" {
		t.Errorf("outliers %v, want %s", hosts, gt.Outlier.Host)
	}
}
