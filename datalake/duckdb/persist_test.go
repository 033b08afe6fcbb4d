package duckdb_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/duckdb"
)

// TestPersistKeepsRows persists frames of many types and checks that the
// persisted frame has the same columns, types, rows and row order.
func TestPersistKeepsRows(t *testing.T) {
	l := openLake(t, "")
	queries := map[string]string{
		"scalars": `SELECT range AS id, range::HUGEINT AS h, (range % 7)::TINYINT AS tiny, range / 3.0 AS dbl,
			(range % 11)::DECIMAL(18,3) AS dec, '10.0.' || (range % 5) || '.' || (range % 251) AS addr,
			CASE WHEN range % 13 = 0 THEN NULL ELSE 'v' || range END AS maybe, range % 2 = 0 AS even,
			TIMESTAMPTZ '2026-01-02 13:00:00+00' + range * INTERVAL 1 SECOND AS ts, DATE '2026-01-02' + (range % 30)::INT AS day,
			TIME '10:00:00' AS tm, INTERVAL 3 HOUR AS iv, ('x' || range)::BLOB AS blob,
			'6a1f3c52-7d10-4e5b-9c2d-0123456789ab'::UUID AS uu, NULL AS nothing
			FROM range(5000)`,
		"nested": `SELECT range AS id, [range, range + 1] AS list, [range, 1]::BIGINT[2] AS arr,
			{'a': range, 'b': 'n' || range} AS st, MAP {'k': range} AS m,
			(range % 3)::INT::UNION(i INT, s VARCHAR) AS un, ('a' || (range % 2))::ENUM('a0', 'a1') AS en
			FROM range(3000)`,
		"unordered rows": `SELECT (range * 7919) % 10007 AS k, 'h' || ((range * 31) % 97) AS host FROM range(200000)`,
		"empty":          `SELECT 1 AS a, 'x' AS b WHERE false`,
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			f := l.SQL(q)
			contents := func() (datalake.Schema, [][]any) {
				t.Helper()
				schema, err := f.Schema()
				if err != nil {
					t.Fatal(err)
				}
				rows, err := f.Rows()
				if err != nil {
					t.Fatal(err)
				}
				return schema, rows
			}
			schema, rows := contents()
			if err := f.Persist().Err(); err != nil {
				t.Fatal(err)
			}
			defer f.Unpersist()
			pschema, prows := contents()
			if !reflect.DeepEqual(schema, pschema) {
				t.Errorf("schema %v, persisted %v", schema, pschema)
			}
			if len(rows) != len(prows) {
				t.Fatalf("%d rows, persisted %d", len(rows), len(prows))
			}
			for i := range rows {
				if !reflect.DeepEqual(rows[i], prows[i]) {
					t.Fatalf("row %d: %v, persisted %v", i, rows[i], prows[i])
				}
			}
		})
	}
}

// TestMaterialize checks that persisted rows are stored compressed and
// dropped with the table, and that errors point into the caller's query.
func TestMaterialize(t *testing.T) {
	ctx := context.Background()
	e, err := duckdb.Open(duckdb.Options{Root: t.TempDir(), MemoryLimit: "512MiB", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	table, err := e.Materialize(ctx, "__flowlab_persist_1",
		`SELECT '10.0.' || (range % 4) || '.' || (range % 200) AS addr, range % 1000 AS port FROM range(300000)`)
	if err != nil {
		t.Fatal(err)
	}
	scalar := func(q string) string {
		t.Helper()
		rows, err := e.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var s string
		if rows.Next() {
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	storage := "pragma_storage_info('" + table + "')"
	if got := scalar("SELECT string_agg(DISTINCT compression, ',') FROM " + storage + " WHERE segment_type IN ('VARCHAR', 'BIGINT')"); got == "" || got == "Uncompressed" {
		t.Errorf("persisted columns stored as %q, want compressed", got)
	}
	if got := scalar("SELECT count(*)::VARCHAR FROM " + table); got != "300000" {
		t.Errorf("persisted table holds %s rows", got)
	}
	if err := e.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		t.Fatal(err)
	}
	if got := scalar("SELECT count(*)::VARCHAR FROM duckdb_tables() WHERE database_name = 'flowlab_persist'"); got != "0" {
		t.Errorf("%s tables left after DROP", got)
	}

	_, err = e.Materialize(ctx, "__flowlab_persist_2", "SELECT nope FROM range(3)")
	var qe *datalake.QueryError
	if !errors.As(err, &qe) || qe.Query != "SELECT nope FROM range(3)" || qe.Position != len("SELECT ") {
		t.Fatalf("Materialize of a bad query = %#v", err)
	}
	e.Close()
	if _, err := e.Materialize(ctx, "__flowlab_persist_3", "SELECT 1"); !errors.Is(err, datalake.ErrClosed) {
		t.Errorf("Materialize after Close = %v", err)
	}
}
