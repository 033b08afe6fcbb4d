package datalake

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCompiledSQL pins the SQL each builder compiles to. Every frame is one
// statement; the chain of the Tetration lab nests one subquery per step.
func TestCompiledSQL(t *testing.T) {
	l := newTestLake(t)
	hourFiles(t, l, "/tetration/flows", testNow, 3)
	flows := l.IO().Read("/tetration/flows", "PARQUET", "LAST 2 HOURS")
	obs := l.SQL(`SELECT src_address AS source, dst_address AS destination, dst_port AS port
            FROM flows WHERE fwd_pkts = 1 AND fwd_syn_count = 1
            AND (rev_pkts = 0 OR (rev_pkts = 1 AND rev_rst_count = 1))`)
	other := l.SQL("SELECT ip FROM notcompliant WHERE posture = $1", "noncompliant")
	cases := []struct {
		name string
		f    *Frame
	}{
		{"read", flows},
		{"lab scans", obs.DropDuplicates("source", "destination", "port").GroupBy("source", "destination").Count().Filter("count > ?", 10)},
		{"select", flows.Select("src_address", "bytes / 1024 AS kib", "order")},
		{"where with a slice", flows.Where("dst_port IN ? AND proto = ?", []int32{22, 3389}, "TCP")},
		{"distinct", obs.Distinct()},
		{"drop duplicates of all", obs.DropDuplicates()},
		{"group by agg", flows.GroupBy("src_address").Agg("count(*) AS flows", "sum(bytes) AS bytes")},
		{"global agg", flows.GroupBy().Agg("count(DISTINCT src_address) AS hosts")},
		{"group by sum", flows.GroupBy("src_address", "proto").Sum("bytes", "pkts")},
		{"join using", obs.Join(other.Select("ip AS source"), "source", "inner")},
		{"join on", obs.Join(other, "l.source = r.ip", "left")},
		{"anti join", obs.Join(other, "l.source = r.ip", "anti")},
		{"fill null", flows.FillNull(0, "srtt_us", "handshake_us")},
		{"union", obs.Union(obs.Limit(5))},
		{"order by then limit", obs.OrderBy("port DESC", "source").Limit(10)},
		{"sample", obs.Sample(0.25)},
	}
	var b strings.Builder
	for _, c := range cases {
		n, _, err := c.f.snapshot()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&b, "=== %s\n%s\n--- sql\n%s\n--- args %v\n\n", c.name, n.desc, strings.ReplaceAll(n.sql, l.Root(), "<lake>"), n.args)
	}
	golden(t, "compiled.golden", b.String())
}

func TestFrameErrorsTravel(t *testing.T) {
	l := newTestLake(t)
	hourFiles(t, l, "/tetration/flows", testNow, 1)
	good := l.SQL("SELECT 1 AS x")
	var nilFrame *Frame
	var zero Frame
	tests := []struct {
		name string
		f    *Frame
		is   error
		why  string
	}{
		{"nil frame", nilFrame.Filter("x > 1").Limit(3), ErrNilFrame, "never assigned"},
		{"zero frame", zero.Select("x"), ErrNilFrame, "zero Frame"},
		{"nil grouped", (*GroupedFrame)(nil).Count(), ErrNilFrame, "nil"},
		{"negative limit", good.Limit(-1), ErrBadArgument, "Limit(-1)"},
		{"sample fraction", good.Sample(1.5), ErrBadArgument, "fraction"},
		{"join type", good.Join(good, "x", "sideways"), ErrBadArgument, "use inner, left, right, full, semi or anti"},
		{"join on nothing", good.Join(good, " ", "inner"), ErrBadArgument, "join on"},
		{"join with errored frame", good.Join(nilFrame, "x", ""), ErrNilFrame, "the other frame"},
		{"select nothing", good.Select(), ErrBadArgument, "at least one column"},
		{"agg nothing", good.GroupBy("x").Agg(), ErrBadArgument, "aggregate expression"},
		{"sum nothing", good.GroupBy("x").Sum(), ErrBadArgument, "at least one column"},
		{"filter placeholders", good.Filter("x > ? AND x < ?", 1), ErrBadArgument, "2 placeholder(s)"},
		{"sql two statements", l.SQL("SELECT 1; DROP TABLE x"), ErrBadArgument, "one statement"},
		{"bad path then builders", l.IO().Read("/tetration/flow", "PARQUET", "LASTHOUR").GroupBy("a").Count().Limit(1), ErrUnknownPath, "did you mean /tetration/flows"},
		{"bad format", l.IO().Read("/tetration/flows", "XML", "LASTHOUR"), ErrBadFormat, "PARQUET, JSON (one object per line) or CSV"},
		{"bad time range", l.IO().Read("/tetration/flows", "PARQUET", "LAST HOURS"), ErrBadTimeRange, "accepted time ranges"},
		{"format mismatch", l.IO().Read("/tetration/flows", "JSON", "LASTHOUR"), ErrBadFormat, `holds PARQUET files, not JSON`},
		{"no data", l.IO().Read("/tetration/flows", "PARQUET", "202001010000"), ErrNoData, "it holds 1 hour(s) from 202601021300 to 202601021300"},
		{"traversal", l.IO().Read("/tetration/../../etc", "CSV", "ALL"), ErrPathRefused, `".." segments`},
		{"fill null with nil", good.FillNull(nil), ErrBadArgument, "single non-nil value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Err()
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Err() = %v, want %v saying %q", err, tt.is, tt.why)
			}
			// Terminal calls return the same error without an engine.
			if _, cerr := tt.f.Count(); !errors.Is(cerr, tt.is) {
				t.Errorf("Count() = %v", cerr)
			}
			b := tt.f.MIMEBundle()
			if html, _ := b["text/html"].(string); !strings.Contains(html, "flowlab-error") {
				t.Errorf("rendered %q, want the error", html)
			}
			if txt, _ := b["text/plain"].(string); !strings.HasPrefix(txt, "Error: ") {
				t.Errorf("text/plain %q", txt)
			}
		})
	}
}

func TestNoEngine(t *testing.T) {
	l := newTestLake(t)
	_, err := l.SQL("SELECT 1").Count()
	if !errors.Is(err, ErrNoEngine) {
		t.Fatalf("Count without an engine = %v", err)
	}
	if err := l.SQL("SELECT 1").RegisterTempTable("one"); !errors.Is(err, ErrNoEngine) {
		t.Fatalf("RegisterTempTable without an engine = %v", err)
	}
}

func TestNotConfigured(t *testing.T) {
	if Default() != nil {
		t.Skip("a default lake is configured")
	}
	if err := IO.Read("/tetration/flows", "PARQUET", "LASTHOUR").Err(); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("IO.Read = %v", err)
	}
	if err := SQL("SELECT 1").Err(); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("SQL = %v", err)
	}
	if _, err := IO.Hours("/tetration/flows"); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("IO.Hours = %v", err)
	}
	if err := Configure(Options{}); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Configure without a root = %v", err)
	}
}

func TestConfigureDefault(t *testing.T) {
	dir := t.TempDir()
	if err := Configure(Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Shutdown() })
	if Default() == nil || Default().Root() == "" {
		t.Fatal("no default lake")
	}
	if err := SQL("SELECT 1").Err(); err != nil {
		t.Fatalf("SQL on the default lake: %v", err)
	}
	Interrupt() // no query running: nothing happens
	if err := Shutdown(); err != nil || Default() != nil {
		t.Fatalf("Shutdown = %v, default %v", err, Default())
	}
}

func TestLocate(t *testing.T) {
	l := newTestLake(t)
	f := l.SQL("SELECT 1 AS a").Filter("bogus > ?", 1).Select("a")
	n, _, _ := f.snapshot()
	pos := strings.Index(n.sql, "bogus")
	step, rel := n.locate(pos)
	if step.call != `.Filter("bogus > ?", 1)` {
		t.Fatalf("located %q", step.call)
	}
	if got := step.sql[step.user.start:step.user.end]; got != "bogus > ?" || rel != step.user.start {
		t.Fatalf("user text %q at %d (start %d)", got, rel, step.user.start)
	}
}

func TestPointAt(t *testing.T) {
	q := "SELECT x\nFROM t WHERE y >>> 1"
	got := pointAt(q, strings.Index(q, ">>>"))
	want := "line 2: FROM t WHERE y >>> 1\n                       ^"
	if got != want {
		t.Fatalf("pointAt =\n%s\nwant\n%s", got, want)
	}
	long := strings.Repeat("a", 500) + "XYZ" + strings.Repeat("b", 500)
	got = pointAt(long, 500)
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || strings.Index(lines[1], "^") != utf8.RuneCountInString(lines[0][:strings.Index(lines[0], "XYZ")]) || utf8.RuneCountInString(lines[0]) > 250 {
		t.Fatalf("long line:\n%s", got)
	}
}
