package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/datalake"
)

// TestErrorPathsOnDemoLake runs every error a cell can meet against the demo
// lake, as a cell writes the calls: what the error wraps, that the message
// says what was wrong and what to do, that it does not show the host path of
// the lake, and that the frame renders the error instead of a table.
func TestErrorPathsOnDemoLake(t *testing.T) {
	root, gt := generate(t, 3, 1000)

	// A partial Parquet file in the newest hour: the first half of a real
	// one, as a writer that does not publish atomically would leave it.
	parts, _ := filepath.Glob(filepath.Join(root, "tetration/flows/dt=2026-01-02/hr=13/part-*.parquet"))
	if len(parts) == 0 {
		t.Fatal("no part file in the newest hour")
	}
	raw, err := os.ReadFile(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tetration/flows/dt=2026-01-02/hr=13/part-truncated.parquet"), raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	// A dataset folder that is a symbolic link out of the lake, holding a
	// readable hour.
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, "dt=2026-01-02/hr=13"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "dt=2026-01-02/hr=13/part-0.json"), []byte(`{"secret":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "appdata/escape")); err != nil {
		t.Fatal(err)
	}

	l := openLake(t, root)
	IO, SQL := l.IO(), l.SQL
	if err := IO.Read("/tetration/flows", "PARQUET", "202601021200").RegisterTempTable("flows"); err != nil {
		t.Fatal(err)
	}
	const sqlLine2 = "            FROM flows WHERE fwd_pkt = 1 AND fwd_syn_count = 1"
	accepted := []string{"LASTHOUR", "LASTDAY", "LAST n HOURS", "YYYYMMDDHH00", "START-END", "YYYYMMDDHH*", "ALL"}

	tests := []struct {
		name string
		f    *datalake.Frame
		is   error
		says []string
	}{
		{"unknown path", IO.Read("/tetration/flow", "PARQUET", "LASTHOUR"), datalake.ErrUnknownPath,
			[]string{"/tetration/flow", "did you mean /tetration/flows"}},
		{"unknown datasink", IO.Read("/appdata/datasink/DEVWKS-2621", "JSON", "LASTHOUR"), datalake.ErrUnknownPath,
			[]string{"did you mean /appdata/datasink/DEVWKS-2612"}},
		{"bad format", IO.Read("/tetration/flows", "AVRO", "LASTHOUR"), datalake.ErrBadFormat,
			[]string{`"AVRO"`, "PARQUET, JSON (one object per line) or CSV"}},
		{"format the dataset does not hold", IO.Read(gt.NonCompliant.Dataset, "PARQUET", "ALL"), datalake.ErrBadFormat,
			[]string{"holds JSON files, not PARQUET", `IO.Read("/appdata/datasink/DEVWKS-2612", "JSON", "ALL")`}},
		{"bad time range", IO.Read("/tetration/flows", "PARQUET", "LAST WEEK"), datalake.ErrBadTimeRange,
			append([]string{`"LAST WEEK"`, "e.g. 202601021300"}, accepted...)},
		{"stamp not on the hour", IO.Read("/tetration/flows", "PARQUET", "202601021330"), datalake.ErrBadTimeRange,
			append([]string{"hour stamps end in 00", "use 2026010213" + "00"}, accepted...)},
		{"reversed range", IO.Read("/tetration/flows", "PARQUET", "202601021300-202601021100"), datalake.ErrBadTimeRange,
			append([]string{"END is before START"}, accepted...)},
		{"no data in range", IO.Read("/tetration/flows", "PARQUET", "202512250000"), datalake.ErrNoData,
			[]string{"3 hour(s) from 202601021100 to 202601021300", "IO.List"}},
		{"partial parquet file", IO.Read("/tetration/flows", "PARQUET", "LASTHOUR"), datalake.ErrCorruptFile,
			[]string{"/tetration/flows/dt=2026-01-02/hr=13/part-truncated.parquet", "Move it out of the lake"}},
		{"SQL error with position", SQL("SELECT src_address AS source, dst_address AS destination, dst_port AS port\n" + sqlLine2), datalake.ErrQuery,
			[]string{"Binder Error", `"fwd_pkt" not found`, `"fwd_pkts"`, "line 2: " + sqlLine2 + "\n" + strings.Repeat(" ", len("line 2: "+sqlLine2[:strings.Index(sqlLine2, "fwd_pkt ")])) + "^"}},
		{"SQL syntax error", SQL("SELECT src_address FORM flows"), datalake.ErrQuery,
			[]string{"Parser Error", "line 1: SELECT src_address FORM flows\n" + strings.Repeat(" ", len("line 1: SELECT src_address FORM ")) + "^"}},
		{"bad column in a builder", IO.Read("/tetration/flows", "PARQUET", "202601021200").GroupBy("src_adress").Count(), datalake.ErrQuery,
			[]string{`.GroupBy("src_adress")`, `"src_adress" not found`}},
		{"traversal", IO.Read("/tetration/../../../etc", "CSV", "ALL"), datalake.ErrPathRefused,
			[]string{`".." segments are not allowed`}},
		{"symbolic link out of the lake", IO.Read("/appdata/escape", "JSON", "ALL"), datalake.ErrPathRefused,
			[]string{"points outside the lake"}},
		{"host path", IO.Read(root+"/tetration/flows", "PARQUET", "ALL"), datalake.ErrPathRefused,
			[]string{`use "/tetration/flows"`}},
		{"NUL", IO.Read("/tetration/flows\x00/x", "PARQUET", "ALL"), datalake.ErrPathRefused,
			[]string{"NUL"}},
		{"SQL reading a host file", SQL("SELECT * FROM read_csv('/etc/passwd')"), datalake.ErrQuery,
			[]string{"Permission Error"}},
		{"SQL reading through the link", SQL("SELECT * FROM read_json('" + root + "/appdata/escape/dt=2026-01-02/hr=13/part-0.json')"), datalake.ErrQuery,
			[]string{"Permission Error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.f.Count()
			if !errors.Is(err, tt.is) {
				t.Fatalf("Count() = %v, want %v", err, tt.is)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%s", s, err)
				}
			}
			if !strings.HasPrefix(tt.name, "host path") && !strings.HasPrefix(tt.name, "SQL reading") && strings.Contains(err.Error(), root) {
				t.Errorf("error shows the host path of the lake:\n%s", err)
			}
			if html := tt.f.MIMEBundle()["text/html"].(string); !strings.Contains(html, "flowlab-error") {
				t.Errorf("rendering shows no error: %s", html)
			}
		})
	}

	t.Run("the SQL error points at the column", func(t *testing.T) {
		_, err := SQL("SELECT count(*) AS n FROM flows WHERE rev_rst = 1").Count()
		var qe *datalake.QueryError
		if !errors.As(err, &qe) || qe.Kind != "Binder" || qe.Position < 0 || !strings.HasPrefix(qe.Query[qe.Position:], "rev_rst = 1") {
			t.Fatalf("QueryError %#v", qe)
		}
	})
	t.Run("other hours still read", func(t *testing.T) {
		if n, err := IO.Read("/tetration/flows", "PARQUET", "202601021100-202601021200").Count(); err != nil || n != 2000 {
			t.Fatalf("the two undamaged hours: %d, %v", n, err)
		}
	})
	t.Run("IO.List on a bad path panics with the error", func(t *testing.T) {
		defer func() {
			err, _ := recover().(error)
			if !errors.Is(err, datalake.ErrUnknownPath) {
				t.Fatalf("recovered %v", err)
			}
		}()
		IO.List("/appdata/datasink/DEVWKS")
	})
}
