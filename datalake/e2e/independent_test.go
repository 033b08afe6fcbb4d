package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the independent writer: DuckDB through database/sql, not flowlab's engine

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/datalake/duckdb"
)

// TestIndependentWriter has DuckDB itself (database/sql, its own database,
// none of flowlab's code) copy the demo lake's flows into new datasets with
// COPY ... TO ... (PARTITION_BY (dt, hr)), as any tool writing hive folders
// would: unpadded hr=H folder names, data_N file names, partition columns
// only in the paths. flowlab must list the same hours, read the same rows,
// and the lab's port-scan query must find the same scanners in the copies.
func TestIndependentWriter(t *testing.T) {
	// 09:20, so the hours are 07, 08 and 09 and DuckDB writes hr=7, hr=8, hr=9.
	clock := time.Date(2026, 1, 2, 9, 20, 0, 0, time.UTC)
	root := t.TempDir()
	gt, err := demo.Generate(context.Background(), demo.Options{Hours: 3, FlowsPerHour: 2000, Seed: 11, Out: root, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}

	if err := os.MkdirAll(filepath.Join(root, "appdata/duckdb"), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Hours as integers, so the folders are hr=7 as Spark and DuckDB write them.
	src := fmt.Sprintf(`SELECT * REPLACE (CAST(hr AS INTEGER) AS hr) FROM read_parquet('%s/tetration/flows/*/*/*.parquet', hive_partitioning = true)`, root)
	for _, stmt := range []string{
		fmt.Sprintf(`COPY (%s) TO '%s/appdata/duckdb/flows_parquet' (FORMAT PARQUET, PARTITION_BY (dt, hr))`, src, root),
		fmt.Sprintf(`COPY (%s) TO '%s/appdata/duckdb/flows_csv' (FORMAT CSV, HEADER, PARTITION_BY (dt, hr))`, src, root),
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join(root, "appdata/duckdb/flows_parquet/dt=*/hr=*")); len(dirs) != 3 || filepath.Base(dirs[0]) != "hr=7" {
		t.Fatalf("DuckDB did not write the unpadded hive folders this test is about: %v", dirs)
	}

	l, err := datalake.Open(datalake.Options{
		Root:      root,
		NewEngine: duckdb.Factory(duckdb.Options{Root: root, MemoryLimit: "1GiB"}),
		Now:       func() time.Time { return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	IO := l.IO()

	// A fingerprint of every row: count and an order-independent hash.
	fingerprint := func(f *datalake.Frame) string {
		t.Helper()
		rows, err := f.GroupBy().Agg("count(*) AS n",
			"sum(hash(flow_id, src_address, dst_address, dst_port, fwd_pkts, rev_pkts, fwd_syn_count, rev_rst_count, fwd_bytes) % 1000000007) AS h",
			"count(DISTINCT hr) AS hours").Rows()
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(rows[0])
	}
	want := fingerprint(IO.Read(datalake.FlowsPath, "PARQUET", "ALL"))
	wantLast := fingerprint(IO.Read(datalake.FlowsPath, "PARQUET", "LASTHOUR"))

	for _, tt := range []struct{ path, format string }{
		{"/appdata/duckdb/flows_parquet", "PARQUET"},
		{"/appdata/duckdb/flows_csv", "CSV"},
	} {
		t.Run(tt.format, func(t *testing.T) {
			if got := fmt.Sprint(IO.List(tt.path)); got != "[202601020700 202601020800 202601020900]" {
				t.Errorf("IO.List = %s", got)
			}
			if got := fingerprint(IO.Read(tt.path, tt.format, "ALL")); got != want {
				t.Errorf("ALL: %s, the lake has %s", got, want)
			}
			last := IO.Read(tt.path, tt.format, "LASTHOUR")
			if got := fingerprint(last); got != wantLast {
				t.Errorf("LASTHOUR: %s, the lake has %s", got, wantLast)
			}
			if err := last.RegisterTempTable("flows"); err != nil {
				t.Fatal(err)
			}
			scans := l.SQL(`SELECT src_address AS source, dst_address AS destination, dst_port AS port
				FROM flows WHERE fwd_pkts = 1 AND fwd_syn_count = 1
				AND (rev_pkts = 0 OR (rev_pkts = 1 AND rev_rst_count = 1))`).
				DropDuplicates("source", "destination", "port").
				GroupBy("source", "destination").Count().
				Filter("count > ?", gt.Threshold)
			rows, err := scans.Collect()
			if err != nil {
				t.Fatal(err)
			}
			var got, exp []string
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%v>%v:%v", r["source"], r["destination"], r["count"]))
			}
			for _, r := range gt.ExpectedPortscan {
				exp = append(exp, fmt.Sprintf("%s>%s:%d", r.Source, r.Destination, r.Count))
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(exp) {
				t.Errorf("port scans in the copy = %v, want %v", got, exp)
			}
		})
	}
}
