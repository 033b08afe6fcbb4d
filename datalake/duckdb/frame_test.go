package duckdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
)

// conns is a small table of connections for the frame tests.
const conns = `SELECT * FROM (VALUES
	('10.0.0.1', '10.0.0.9', 22, 100, 'TCP'),
	('10.0.0.1', '10.0.0.9', 22, 50, 'TCP'),
	('10.0.0.1', '10.0.0.9', 80, 10, 'TCP'),
	('10.0.0.2', '10.0.0.9', 53, NULL, 'UDP'),
	('10.0.0.3', '10.0.0.8', 443, 7, 'TCP')
) AS c(src, dst, port, bytes, proto)`

func TestFrameOperations(t *testing.T) {
	l := openLake(t, "")
	c := l.SQL(conns)
	hosts := l.SQL(`SELECT * FROM (VALUES ('10.0.0.1', 'alice'), ('10.0.0.3', 'carol'), ('10.0.0.7', 'gina')) AS h(src, owner)`)
	tests := []struct {
		name string
		f    *datalake.Frame
		want string // rows as fmt.Sprint, sorted
	}{
		{"select", c.Select("src", "port * 2 AS p2").Filter("p2 > ?", 100), "[[10.0.0.1 160] [10.0.0.2 106] [10.0.0.3 886]]"},
		{"filter with IN slice", c.Filter("port IN ?", []int{22, 443}).Select("port"), "[[22] [22] [443]]"},
		{"filter with empty slice", c.Filter("port IN ?", []int{}), "[]"},
		{"where NOT IN empty slice", c.Where("port NOT IN ?", []string{}).Select("port").Distinct(), "[[22] [443] [53] [80]]"},
		{"numbered placeholders", l.SQL("SELECT $2::INTEGER - $1::INTEGER AS d", 1, 10), "[[9]]"},
		{"drop duplicates", c.DropDuplicates("src", "dst", "port").Select("src", "port"), "[[10.0.0.1 22] [10.0.0.1 80] [10.0.0.2 53] [10.0.0.3 443]]"},
		{"distinct", c.Select("src").Distinct(), "[[10.0.0.1] [10.0.0.2] [10.0.0.3]]"},
		{"group count", c.DropDuplicates("src", "dst", "port").GroupBy("src", "dst").Count().Filter("count > ?", 1), "[[10.0.0.1 10.0.0.9 2]]"},
		{"group agg", c.GroupBy("proto").Agg("count(*) AS n", "sum(bytes)::BIGINT AS b"), "[[TCP 4 167] [UDP 1 <nil>]]"},
		{"group sum", c.GroupBy("src").Sum("bytes"), "[[10.0.0.1 160] [10.0.0.2 <nil>] [10.0.0.3 7]]"},
		{"group avg", c.GroupBy("proto").Avg("port"), "[[TCP 141.75] [UDP 53]]"},
		{"group min max", c.GroupBy().Min("port").Join(c.GroupBy().Max("port"), "1 = 1", "inner"), "[[22 443]]"},
		{"join inner using", c.Join(hosts, "src", "inner").Select("src", "owner").Distinct(), "[[10.0.0.1 alice] [10.0.0.3 carol]]"},
		{"join left on", c.Select("src").Distinct().Join(hosts, "l.src = r.src", "left").Select("src", "owner"), "[[10.0.0.1 alice] [10.0.0.2 <nil>] [10.0.0.3 carol]]"},
		{"join right", c.Select("src").Distinct().Join(hosts, "src", "right").Select("owner"), "[[alice] [carol] [gina]]"},
		{"join full", c.Select("src").Distinct().Join(hosts, "src", "full").Select("src"), "[[10.0.0.1] [10.0.0.2] [10.0.0.3] [10.0.0.7]]"},
		{"semi join", c.Join(hosts, "src", "semi").Select("src").Distinct(), "[[10.0.0.1] [10.0.0.3]]"},
		{"anti join", c.Join(hosts, "src", "anti").Select("src"), "[[10.0.0.2]]"},
		{"fill null columns", c.FillNull(0, "bytes").Filter("proto = 'UDP'").Select("bytes"), "[[0]]"},
		{"fill null by type", c.FillNull(-1).Filter("proto = ?", "UDP").Select("bytes", "port"), "[[-1 53]]"},
		{"fill null strings", l.SQL("SELECT NULL::VARCHAR AS s, NULL::INTEGER AS i").FillNull("none"), "[[none <nil>]]"},
		{"union by name", c.Select("src").Union(hosts.Select("owner AS src")).Distinct(), "[[10.0.0.1] [10.0.0.2] [10.0.0.3] [alice] [carol] [gina]]"},
		{"order by limit", c.OrderBy("bytes DESC NULLS LAST", "port").Limit(2).Select("bytes"), "[[100] [50]]"},
		{"limit zero", c.Limit(0), "[]"},
		{"sample everything", c.Sample(1).Select("src").Distinct(), "[[10.0.0.1] [10.0.0.2] [10.0.0.3]]"},
		{"reserved word column", l.SQL(`SELECT 1 AS "order"`).Select("order"), "[[1]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := tt.f.Rows()
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(rows))
			for i, r := range rows {
				got[i] = fmt.Sprint(r)
			}
			sort.Strings(got)
			if s := "[" + strings.Join(got, " ") + "]"; s != tt.want {
				t.Errorf("rows = %s, want %s", s, tt.want)
			}
		})
	}
}

func TestTerminalOperations(t *testing.T) {
	l := openLake(t, "")
	c := l.SQL(conns)
	if n := mustCount(t, c); n != 5 {
		t.Errorf("Count = %d", n)
	}
	cols, err := c.Columns()
	if err != nil || fmt.Sprint(cols) != "[src dst port bytes proto]" {
		t.Errorf("Columns = %v, %v", cols, err)
	}
	schema, err := c.Schema()
	if err != nil || schema[2].Type != "INTEGER" || schema[0].Type != "VARCHAR" {
		t.Errorf("Schema = %v, %v", schema, err)
	}
	if !strings.Contains(schema.String(), " |-- port: INTEGER") {
		t.Errorf("Schema.String = %s", schema)
	}
	rows, err := c.OrderBy("port", "bytes").Collect()
	if err != nil || len(rows) != 5 || rows[0]["port"] != int32(22) || rows[0]["bytes"] != int32(50) || rows[2]["bytes"] != nil {
		t.Errorf("Collect = %v, %v", rows, err)
	}
	strs, err := c.OrderBy("port", "bytes").Strings("bytes")
	if err != nil || strings.Join(strs, ",") != "50,100,,10,7" {
		t.Errorf("Strings = %q, %v", strs, err)
	}
	ints, err := c.OrderBy("port", "bytes").Int64s("bytes")
	if err != nil || fmt.Sprint(ints) != "[50 100 0 10 7]" {
		t.Errorf("Int64s = %v, %v", ints, err)
	}
	floats, err := c.OrderBy("port", "bytes").Float64s("bytes")
	if err != nil || len(floats) != 5 || floats[0] != 50 || !math.IsNaN(floats[2]) {
		t.Errorf("Float64s = %v, %v", floats, err)
	}
	st, err := c.Stats("bytes")
	if err != nil {
		t.Fatal(err)
	}
	// bytes 100, 50, 10, 7 (one NULL): mean 41.75, sample stdev 43.5.
	if st.Count != 4 || st.Mean != 41.75 || math.Abs(st.Stdev-43.5) > 1e-9 || st.Min != 7 || st.Max != 100 {
		t.Errorf("Stats = %+v", st)
	}
	if empty, err := c.Filter("false").Stats("bytes"); err != nil || empty.Count != 0 || !math.IsNaN(empty.Mean) {
		t.Errorf("Stats of nothing = %+v, %v", empty, err)
	}
	if _, err := c.Strings("nope"); !errors.Is(err, datalake.ErrQuery) || !strings.Contains(err.Error(), `.Strings("nope")`) {
		t.Errorf("Strings of a missing column = %v", err)
	}
}

func TestCollectCap(t *testing.T) {
	l := openLake(t, "", func(o *datalake.Options) { o.MaxCollectRows = 10 })
	if _, err := l.SQL("SELECT * FROM range(11)").Collect(); !errors.Is(err, datalake.ErrTooManyRows) {
		t.Fatalf("Collect of 11 rows with a cap of 10 = %v", err)
	}
	if _, err := l.SQL("SELECT * FROM range(11)").Int64s("range"); !errors.Is(err, datalake.ErrTooManyRows) {
		t.Fatalf("Int64s of 11 rows with a cap of 10 = %v", err)
	}
	if rows, err := l.SQL("SELECT * FROM range(10)").Rows(); err != nil || len(rows) != 10 {
		t.Fatalf("Rows at the cap = %d, %v", len(rows), err)
	}
}

func TestValueTypes(t *testing.T) {
	l := openLake(t, "")
	rows, err := l.SQL(`SELECT 1.5::DECIMAL(10,2) AS dec, '0b1f7d2c-5a7e-4f3a-9c2e-6d1b8a4f0e11'::UUID AS id,
		INTERVAL 90 SECOND AS iv, INTERVAL 1 MONTH AS mon, 170141183460469231731687303715884105727::HUGEINT AS big,
		12::HUGEINT AS small, [1, 2] AS list, {'a': 1} AS st, MAP {'k': 'v'} AS m, 'x'::BLOB AS b,
		TIMESTAMP '2026-01-02 13:00:00' AS ts, DATE '2026-01-02' AS d, true AS flag, 'a'::ENUM('a', 'b') AS e`).Collect()
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	wantBig, _ := new(big.Int).SetString("170141183460469231731687303715884105727", 10)
	checks := map[string]any{
		"dec": 1.5, "id": "0b1f7d2c-5a7e-4f3a-9c2e-6d1b8a4f0e11", "iv": 90 * time.Second, "mon": "1 months 0 days 0us",
		"big": wantBig, "small": int64(12), "list": []any{int32(1), int32(2)}, "st": map[string]any{"a": int32(1)},
		"m": map[string]any{"k": "v"}, "b": []byte("x"), "ts": time.Date(2026, 1, 2, 13, 0, 0, 0, time.UTC),
		"d": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "flag": true, "e": "a",
	}
	for k, want := range checks {
		if !reflect.DeepEqual(r[k], want) {
			t.Errorf("%s = %#v (%T), want %#v", k, r[k], r[k], want)
		}
	}
}

func TestExports(t *testing.T) {
	l := openLake(t, "")
	f := l.SQL(`SELECT * FROM (VALUES (1, 'a,b', TIMESTAMPTZ '2026-01-02 13:00:00+00', 0.5::DOUBLE), (2, NULL, NULL, 'NaN'::DOUBLE)) AS t(n, s, ts, x) ORDER BY n`)
	var csv, js bytes.Buffer
	if err := f.ToCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if err := f.ToJSON(&js); err != nil {
		t.Fatal(err)
	}
	wantCSV := "n,s,ts,x\n1,\"a,b\",2026-01-02T13:00:00Z,0.5\n2,,,NaN\n"
	wantJSON := `{"n":1,"s":"a,b","ts":"2026-01-02T13:00:00Z","x":0.5}` + "\n" + `{"n":2,"s":null,"ts":null,"x":null}` + "\n"
	if csv.String() != wantCSV {
		t.Errorf("ToCSV =\n%s\nwant\n%s", csv.String(), wantCSV)
	}
	if js.String() != wantJSON {
		t.Errorf("ToJSON =\n%s\nwant\n%s", js.String(), wantJSON)
	}
	if err := l.SQL("SELECT nope").ToCSV(&csv); !errors.Is(err, datalake.ErrQuery) {
		t.Errorf("ToCSV of a bad query = %v", err)
	}
}

func TestPersist(t *testing.T) {
	l := openLake(t, "")
	if err := l.SQL("SELECT 1 AS v").RegisterTempTable("src"); err != nil {
		t.Fatal(err)
	}
	f := l.SQL("SELECT v FROM src")
	derivedBefore := f.Select("v + 1 AS w")
	if f.Persist() != f {
		t.Fatal("Persist must return its receiver")
	}
	f.Persist() // a second Persist does nothing
	derivedAfter := f.Select("v + 1 AS w")
	// The source changes: the persisted frame keeps the rows it computed.
	if err := l.SQL("SELECT 2 AS v").RegisterTempTable("src"); err != nil {
		t.Fatal(err)
	}
	get := func(f *datalake.Frame, col string) string {
		t.Helper()
		v, err := f.Strings(col)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(v, ",")
	}
	if get(f, "v") != "1" || get(derivedAfter, "w") != "2" {
		t.Errorf("persisted frame recomputed: %s, %s", get(f, "v"), get(derivedAfter, "w"))
	}
	if get(derivedBefore, "w") != "3" {
		t.Errorf("a frame derived before Persist reads the source: got %s", get(derivedBefore, "w"))
	}
	f.Unpersist()
	if get(f, "v") != "2" {
		t.Errorf("after Unpersist the frame computes from its source: %s", get(f, "v"))
	}
	_, err := derivedAfter.Count()
	if !errors.Is(err, datalake.ErrQuery) || !strings.Contains(err.Error(), "unpersisted") {
		t.Errorf("a frame built on an unpersisted frame: %v", err)
	}
	bad := l.SQL("SELECT nope")
	bad.Persist()
	if !errors.Is(bad.Err(), datalake.ErrQuery) {
		t.Errorf("Persist of a bad query keeps the error: %v", bad.Err())
	}
	bad.Unpersist()
	if bad.Err() != nil {
		t.Errorf("Unpersist restores the unpersisted frame: %v", bad.Err())
	}
}

func TestRenderFromEngine(t *testing.T) {
	l := openLake(t, "", func(o *datalake.Options) { o.PreviewRows = 3 })
	b := l.SQL("SELECT range AS n, 'r' || range AS s FROM range(1000) ORDER BY n").MIMEBundle()
	golden(t, "render_range.html.golden", b["text/html"].(string))
	golden(t, "render_range.txt.golden", b["text/plain"].(string))
	small := l.SQL("SELECT 1 AS one").MIMEBundle()
	if txt := small["text/plain"].(string); !strings.Contains(txt, "[1 rows × 1 columns]") {
		t.Errorf("small frame: %s", txt)
	}
	bad := l.SQL("SELECT 1 AS one").Filter("two = ?", 2).MIMEBundle()
	html := bad["text/html"].(string)
	if !strings.Contains(html, "flowlab-error") || !strings.Contains(html, `.Filter(&#34;two = ?&#34;, 2)`) || !strings.Contains(html, "two = ?\n") {
		t.Errorf("error rendering: %s", html)
	}
}
