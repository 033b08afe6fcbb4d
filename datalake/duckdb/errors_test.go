package duckdb_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
)

// TestErrorPaths checks every error a cell can meet: what it wraps and
// that the message says what was wrong and what to do.
func TestErrorPaths(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "tetration/flows"), 0o755); err != nil {
		t.Fatal(err)
	}
	independent(t, root,
		`COPY (SELECT range AS id, 'h' || range AS host, DATE '2026-01-02' AS dt, 12 + range % 2 AS hr FROM range(10))
		 TO '`+root+`/tetration/flows' (FORMAT PARQUET, PARTITION_BY (dt, hr))`)
	// A damaged file in the 12:00 partition.
	corrupt := filepath.Join(root, "tetration/flows/dt=2026-01-02/hr=12/part-damaged.parquet")
	if err := os.WriteFile(corrupt, []byte("PAR1 this is not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := openLake(t, root)
	good := l.IO().Read("/tetration/flows", "PARQUET", "LASTHOUR")
	failedReg := l.IO().Read("/tetration/flowz", "PARQUET", "LASTHOUR")
	failedReg.RegisterTempTable("flowz")

	tests := []struct {
		name string
		f    *datalake.Frame
		is   error
		says []string
	}{
		{"unknown path", l.IO().Read("/tetration/flow", "PARQUET", "LASTHOUR"), datalake.ErrUnknownPath,
			[]string{"/tetration/flow", "did you mean /tetration/flows"}},
		{"bad format", l.IO().Read("/tetration/flows", "AVRO", "LASTHOUR"), datalake.ErrBadFormat,
			[]string{`"AVRO"`, "PARQUET, JSON (one object per line) or CSV"}},
		{"wrong format", l.IO().Read("/tetration/flows", "CSV", "ALL"), datalake.ErrBadFormat,
			[]string{"holds PARQUET files, not CSV", `IO.Read("/tetration/flows", "PARQUET", "ALL")`}},
		{"bad time range", l.IO().Read("/tetration/flows", "PARQUET", "LAST WEEK"), datalake.ErrBadTimeRange,
			[]string{`"LAST WEEK"`, "LASTHOUR", "LAST n HOURS", "YYYYMMDDHH00", "e.g. 202601021300"}},
		{"no data in range", l.IO().Read("/tetration/flows", "PARQUET", "202601010000"), datalake.ErrNoData,
			[]string{"202601021200 to 202601021300", "IO.List"}},
		{"corrupt parquet", l.IO().Read("/tetration/flows", "PARQUET", "ALL"), datalake.ErrCorruptFile,
			[]string{"/tetration/flows/dt=2026-01-02/hr=12/part-damaged.parquet", "Move it out of the lake", "dt=2026-01-02/hr=12"}},
		{"traversal", l.IO().Read("/tetration/../../../etc", "CSV", "ALL"), datalake.ErrPathRefused,
			[]string{`".." segments are not allowed`}},
		{"host path", l.IO().Read(root+"/tetration/flows", "PARQUET", "ALL"), datalake.ErrPathRefused,
			[]string{`use "/tetration/flows"`}},
		{"NUL", l.IO().Read("/tetration/flows\x00", "PARQUET", "ALL"), datalake.ErrPathRefused,
			[]string{"NUL"}},
		{"SQL syntax error", l.SQL("SELECT id FORM flows"), datalake.ErrQuery,
			[]string{`SQL error in SQL("SELECT id FORM flows")`, "Parser Error", "line 1: SELECT id FORM flows\n" + strings.Repeat(" ", len("line 1: SELECT id FORM ")) + "^"}},
		{"SQL error on the second line", l.SQL("SELECT id,\n  hostt FROM (SELECT 1 AS id, 'x' AS host)"), datalake.ErrQuery,
			[]string{"Binder Error", `"hostt" not found`, `Candidate bindings: "host"`, "line 2:   hostt FROM", "\n          ^"}},
		{"bad column in a step", good.Filter("hots = ?", "h1").GroupBy("host").Count(), datalake.ErrQuery,
			[]string{`in .Filter("hots = ?", "h1")`, `"hots" not found`, "line 1: hots = ?\n        ^"}},
		{"bad column in DropDuplicates", good.DropDuplicates("hots"), datalake.ErrQuery,
			[]string{`in .DropDuplicates("hots")`, `"hots"`}},
		{"missing table", l.SQL("SELECT * FROM flows"), datalake.ErrQuery,
			[]string{"flows does not exist", `RegisterTempTable("flows")`}},
		{"failed registration", l.SQL("SELECT * FROM flowz"), datalake.ErrQuery,
			[]string{"flowz was not registered because an earlier RegisterTempTable(\"flowz\") failed", "did you mean /tetration/flows"}},
		{"runtime error", l.SQL("SELECT 1 FROM (SELECT 'x' AS host) WHERE CAST(host AS INTEGER) > 0"), datalake.ErrQuery,
			[]string{"Conversion Error", "'x'"}},
		{"sandbox read", l.SQL("SELECT * FROM read_csv('/etc/passwd')"), datalake.ErrQuery,
			[]string{"Permission Error", "/etc/passwd"}},
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
			if tt.name != "host path" && strings.Contains(err.Error(), root) {
				t.Errorf("error shows the host path of the lake:\n%s", err)
			}
			html := tt.f.MIMEBundle()["text/html"].(string)
			if !strings.Contains(html, "flowlab-error") {
				t.Errorf("rendering shows no error: %s", html)
			}
		})
	}
	t.Run("the good frame works", func(t *testing.T) {
		if n := mustCount(t, good); n != 5 {
			t.Errorf("LASTHOUR has %d rows, want 5", n)
		}
	})
	t.Run("a QueryError has the parts", func(t *testing.T) {
		_, err := good.Filter("hots = 1").Count()
		var qe *datalake.QueryError
		if !errors.As(err, &qe) || qe.Kind != "Binder" || qe.Query != "hots = 1" || qe.Position != 0 || qe.Step != `.Filter("hots = 1")` {
			t.Fatalf("%#v", qe)
		}
	})
}

func TestSandbox(t *testing.T) {
	l := openLake(t, "")
	outside := filepath.Join(t.TempDir(), "out.csv")
	for _, stmt := range []string{
		"SELECT * FROM read_text('/etc/hostname')",
		"SELECT * FROM read_parquet('/tmp/*.parquet')",
		"SET enable_external_access = true",
		"SET allowed_directories = ['/']",
		"INSTALL httpfs",
	} {
		if _, err := l.SQL(stmt).Count(); !errors.Is(err, datalake.ErrQuery) {
			t.Errorf("%s: %v", stmt, err)
		}
	}
	// COPY needs its own statement, which SQL frames never run, so go
	// through a frame written with IO.Write to a host path.
	if err := l.IO().Write(l.SQL("SELECT 1"), outside, "CSV"); !errors.Is(err, datalake.ErrPathRefused) {
		t.Errorf("IO.Write to a host path = %v", err)
	}
	if _, err := os.Stat(outside); !os.IsNotExist(err) {
		t.Errorf("a file appeared outside the lake: %v", err)
	}
}

func TestWrite(t *testing.T) {
	l := openLake(t, "")
	scans := l.SQL(`SELECT * FROM (VALUES ('10.1.200.66', '10.0.0.42', 22), ('198.51.100.23', '10.0.0.13', 20)) AS s(source, destination, count)`)
	for _, format := range []string{"PARQUET", "JSON", "CSV"} {
		t.Run(format, func(t *testing.T) {
			path := "/appdata/portscan/scans_" + strings.ToLower(format)
			if err := l.IO().Write(scans, path, format); err != nil {
				t.Fatal(err)
			}
			if err := l.IO().Write(scans.Limit(1), path, format); err != nil {
				t.Fatal(err)
			}
			hours := l.IO().List(path)
			if len(hours) != 1 || hours[0] != datalake.Stamp(fixedNow) {
				t.Fatalf("hours %v, want the current hour", hours)
			}
			back := l.IO().Read(path, format, "LASTHOUR")
			rows, err := back.GroupBy("source").Agg("sum(count) AS c").OrderBy("source").Rows()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || rows[0][0] != "10.1.200.66" || toInt(rows[0][1]) != 44 || toInt(rows[1][1]) != 20 {
				t.Errorf("read back %v", rows)
			}
			entries, _ := os.ReadDir(filepath.Join(l.Root(), path, datalake.PartitionDir(fixedNow)))
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("temporary file left: %s", e.Name())
				}
			}
		})
	}
	t.Run("system datasets are read-only", func(t *testing.T) {
		err := l.IO().Write(scans, "/tetration/flows", "PARQUET")
		if !errors.Is(err, datalake.ErrReadOnly) || !strings.Contains(err.Error(), "/appdata/flows") {
			t.Fatalf("Write to /tetration = %v", err)
		}
	})
	t.Run("unless allowed", func(t *testing.T) {
		admin := openLake(t, l.Root(), func(o *datalake.Options) { o.AllowSystemWrites = true })
		if err := admin.IO().Write(admin.SQL("SELECT 1 AS x"), "/tetration/extra", "PARQUET"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		if err := l.IO().Write(l.SQL("SELECT nope"), "/appdata/x", "JSON"); !errors.Is(err, datalake.ErrQuery) {
			t.Errorf("bad frame: %v", err)
		}
		if err := l.IO().Write(scans, "/appdata/x", "ORC"); !errors.Is(err, datalake.ErrBadFormat) {
			t.Errorf("bad format: %v", err)
		}
		if err := l.IO().Write(nil, "/appdata/x", "JSON"); !errors.Is(err, datalake.ErrNilFrame) {
			t.Errorf("nil frame: %v", err)
		}
		other := openLake(t, "")
		if err := l.IO().Write(other.SQL("SELECT 1"), "/appdata/x", "JSON"); !errors.Is(err, datalake.ErrBadArgument) {
			t.Errorf("frame of another lake: %v", err)
		}
	})
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case float64:
		return int64(x)
	}
	return -1
}

func TestInterrupt(t *testing.T) {
	l := openLake(t, "")
	done := make(chan error, 1)
	go func() {
		_, err := l.SQL("SELECT count(*) FROM range(10000000000) a, range(1000) b WHERE a.range % 7 = b.range").Count()
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	l.Interrupt()
	select {
	case err := <-done:
		if !errors.Is(err, datalake.ErrInterrupted) {
			t.Fatalf("interrupted query returned %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("interrupt took %v", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the query did not stop")
	}
	if n := mustCount(t, l.SQL("SELECT 1")); n != 1 {
		t.Fatalf("after an interrupt: %d", n)
	}
}

func TestClosedLake(t *testing.T) {
	l := openLake(t, "")
	f := l.SQL("SELECT 1")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Count(); !errors.Is(err, datalake.ErrClosed) {
		t.Fatalf("Count after Close = %v", err)
	}
}
