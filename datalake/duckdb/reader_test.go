package duckdb_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIndependentWriter reads datasets that DuckDB wrote with hive
// partitioning (COPY ... PARTITION_BY (dt, hr)), in every format: unpadded
// hr=H folders, data_N file names, partition columns only in the paths.
func TestIndependentWriter(t *testing.T) {
	root := t.TempDir()
	// 3 hours: 2026-01-01 23:00 (100 rows), 2026-01-02 12:00 (200 rows) and
	// 2026-01-02 13:00 (300 rows).
	src := `SELECT i, 'h' || (i % 7) AS host, (i * 3) AS bytes,
		TIMESTAMPTZ '2026-01-02 13:00:00+00' - INTERVAL (CASE WHEN i < 300 THEN 0 WHEN i < 500 THEN 1 ELSE 14 END) HOUR AS start_timestamp
		FROM range(600) t(i)`
	part := `SELECT *, CAST(start_timestamp AS DATE) AS dt, hour(start_timestamp) AS hr FROM (` + src + `)`
	// DuckDB partitions Parquet and CSV itself; JSON goes to explicit hive
	// folders, one padded and two not, as other tools write them.
	jsonDirs := map[string]string{"dt=2026-01-01/hr=23": "23", "dt=2026-01-02/hr=12": "12", "dt=2026-01-02/hr=13": "13"}
	stmts := []string{
		`COPY (` + part + `) TO '` + root + `/appdata/indep/parquet' (FORMAT PARQUET, PARTITION_BY (dt, hr))`,
		`COPY (` + part + `) TO '` + root + `/appdata/indep/csv' (FORMAT CSV, HEADER, PARTITION_BY (dt, hr))`,
	}
	for dir, hr := range jsonDirs {
		if err := os.MkdirAll(filepath.Join(root, "appdata/indep/json", dir), 0o755); err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, `COPY (SELECT * FROM (`+src+`) WHERE hour(start_timestamp) = `+hr+`) TO '`+root+`/appdata/indep/json/`+dir+`/data_0.json' (FORMAT JSON)`)
	}
	if err := os.MkdirAll(filepath.Join(root, "appdata", "indep"), 0o755); err != nil {
		t.Fatal(err)
	}
	independent(t, root, stmts...)
	l := openLake(t, root)
	for _, format := range []string{"PARQUET", "JSON", "CSV"} {
		path := "/appdata/indep/" + strings.ToLower(format)
		t.Run(format, func(t *testing.T) {
			hours := l.IO().List(path)
			if got := fmt.Sprint(hours); got != "[202601012300 202601021200 202601021300]" {
				t.Fatalf("List = %v", got)
			}
			tests := []struct {
				rng   string
				rows  int64
				bytes int64
			}{
				{"ALL", 600, 3 * 599 * 600 / 2},
				{"LASTHOUR", 300, 3 * 299 * 300 / 2},
				{"202601021200", 200, 3 * (499*500/2 - 299*300/2)},
				{"LAST 2 HOURS", 500, 3 * 499 * 500 / 2},
				{"LASTDAY", 600, 3 * 599 * 600 / 2},
				{"20260101*", 100, 3 * (599*600/2 - 499*500/2)},
				{"202601012300-202601021200", 300, 3 * (599*600/2 - 299*300/2)},
			}
			for _, tt := range tests {
				t.Run(tt.rng, func(t *testing.T) {
					f := l.IO().Read(path, format, tt.rng)
					rows, err := f.GroupBy().Agg("count(*) AS n", "sum(bytes)::BIGINT AS b", "count(DISTINCT hr) AS hours").Rows()
					if err != nil {
						t.Fatal(err)
					}
					if n, b := rows[0][0].(int64), rows[0][1].(int64); n != tt.rows || b != tt.bytes {
						t.Errorf("%d rows, %d bytes; want %d, %d", n, b, tt.rows, tt.bytes)
					}
				})
			}
			schema, err := l.IO().Read(path, format, "ALL").Schema()
			if err != nil {
				t.Fatal(err)
			}
			types := map[string]string{}
			for _, c := range schema {
				types[c.Name] = c.Type
			}
			if types["dt"] != "DATE" || types["hr"] != "INTEGER" || types["host"] != "VARCHAR" {
				t.Errorf("schema %v", schema)
			}
		})
	}
}
