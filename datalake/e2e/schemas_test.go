package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/duckdb"
)

// TestParquetSchemasAcrossHours checks both ways the lake reads several
// hours: files that share a schema are read positionally (fast), files whose
// columns differ are matched by name, whichever hour comes first.
func TestParquetSchemasAcrossHours(t *testing.T) {
	root := t.TempDir()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write := func(dataset, hour, query string) {
		t.Helper()
		dir := filepath.Join(root, "appdata", dataset, "dt=2026-01-02", "hr="+hour)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(fmt.Sprintf(`COPY (%s) TO '%s' (FORMAT PARQUET)`, query, filepath.Join(dir, "part-0.parquet"))); err != nil {
			t.Fatal(err)
		}
	}
	// same: one schema in every hour.
	write("same", "07", `SELECT 1 AS a, 'x' AS b`)
	write("same", "08", `SELECT 2 AS a, 'y' AS b`)
	// grown: a column added in a later hour, and the order changed after.
	write("grown", "07", `SELECT 1 AS a`)
	write("grown", "08", `SELECT 2 AS a, 'y' AS b`)
	write("grown", "09", `SELECT 'z' AS b, 3 AS a`)
	// retyped: the same name with another type.
	write("retyped", "07", `SELECT 1 AS a`)
	write("retyped", "08", `SELECT 'two' AS a`)

	var logs bytes.Buffer
	l, err := datalake.Open(datalake.Options{
		Root:      root,
		NewEngine: duckdb.Factory(duckdb.Options{Root: root, MemoryLimit: "1GiB"}),
		Now:       func() time.Time { return time.Date(2026, 1, 2, 9, 30, 0, 0, time.UTC) },
		Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	tests := []struct {
		dataset string
		byName  bool
		query   func(*datalake.Frame) *datalake.Frame
		want    string
	}{
		{"same", false, func(f *datalake.Frame) *datalake.Frame { return f.Select("a", "b").OrderBy("a") }, "[[1 x] [2 y]]"},
		{"grown", true, func(f *datalake.Frame) *datalake.Frame { return f.Select("a", "b").OrderBy("a") }, "[[1 <nil>] [2 y] [3 z]]"},
		{"retyped", true, func(f *datalake.Frame) *datalake.Frame { return f.Select("CAST(a AS VARCHAR) AS a").OrderBy("a") }, "[[1] [two]]"},
	}
	for _, tt := range tests {
		t.Run(tt.dataset, func(t *testing.T) {
			logs.Reset()
			// Twice: the second read uses the schemas remembered from the first.
			for i := 0; i < 2; i++ {
				rows, err := tt.query(l.IO().Read("/appdata/"+tt.dataset, "PARQUET", "ALL")).Rows()
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprint(rows); got != tt.want {
					t.Errorf("read %d: rows %s, want %s", i, got, tt.want)
				}
			}
			if want := fmt.Sprintf("by_name=%v", tt.byName); strings.Count(logs.String(), want) != 2 {
				t.Errorf("want two reads with %s; log:\n%s", want, logs.String())
			}
		})
	}
}
