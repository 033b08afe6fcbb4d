package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/catalog"
	"github.com/flowlab/flowlab/datalake/duckdb"
	"github.com/flowlab/flowlab/datalake/parquet"
)

var h11 = time.Date(2026, 1, 2, 11, 0, 0, 0, time.UTC)

func flows(n int, hour time.Time) []datalake.Flow {
	out := make([]datalake.Flow, n)
	for i := range out {
		start := hour.Add(time.Duration(i) * time.Second)
		src := fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		out[i] = datalake.Flow{
			StartTimestamp: start, EndTimestamp: start.Add(time.Millisecond), Timestamp: hour.Add(time.Hour),
			DurationUS: 1000, FlowID: "C" + src, SrcAddress: src, DstAddress: "10.9.9.9", IPVersion: 4,
			SrcPort: 40000, DstPort: 22, Proto: "TCP", IPProto: 6, FwdPkts: 1, FwdSynCount: 1, ConnState: "S0", History: "S",
		}
	}
	return out
}

// newLake writes a lake: /tetration/flows with two Parquet files in hour 11
// (3 + 4 flows) and one in hour 12 (5 flows), a datasink with JSON lines in
// hour 12, a CSV dataset, and a symbolic link pointing out of the lake.
func newLake(t testing.TB) (*datalake.Lake, string) {
	t.Helper()
	root := t.TempDir()
	l, err := datalake.Open(datalake.Options{Root: root, NewEngine: duckdb.Factory(duckdb.Options{Root: root, MemoryLimit: "512MiB", Threads: 1})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	publish := func(dataset string, hour time.Time, format string, write func(io.Writer) error) {
		t.Helper()
		if _, err := l.Publish(dataset, hour, format, write); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		hour time.Time
		n    int
	}{{h11, 3}, {h11, 4}, {h11.Add(time.Hour), 5}} {
		publish(datalake.FlowsPath, c.hour, "PARQUET", func(w io.Writer) error {
			return parquet.WriteFlows(w, flows(c.n, c.hour), parquet.Options{})
		})
	}
	publish("/appdata/datasink/DEVWKS-2612", h11.Add(time.Hour), "JSON", func(w io.Writer) error {
		_, err := io.WriteString(w, "{\"host\":\"a\",\"n\":1}\n\n{\"host\":\"b\",\"n\":2}\n")
		return err
	})
	publish("/appdata/lab/report", h11, "CSV", func(w io.Writer) error {
		_, err := io.WriteString(w, "host,n\na,1\nb,2\n")
		return err
	})
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, "dt=2026-01-02", "hr=11"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "appdata", "escape")); err != nil {
		t.Fatal(err)
	}
	return l, root
}

func serve(t *testing.T, h *catalog.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, handler := range h.Routes() {
		mux.Handle(pattern, handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string, q url.Values, into any) (int, string) {
	t.Helper()
	u := srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", u, ct)
	}
	if res.StatusCode == http.StatusOK && into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, body)
		}
	}
	return res.StatusCode, string(body)
}

func TestDatasets(t *testing.T) {
	l, _ := newLake(t)
	srv := serve(t, &catalog.Handler{Lake: l, Datasinks: func() []string { return []string{"quiet", "DEVWKS-2612"} }})
	var got catalog.Listing
	if code, body := get(t, srv, "/api/lake/datasets", nil, &got); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var paths []string
	for _, d := range got.Datasets {
		paths = append(paths, fmt.Sprintf("%s %d %s-%s %v", d.Path, d.Hours, d.Oldest, d.Newest, d.Formats))
	}
	want := "[/appdata/datasink/DEVWKS-2612 1 202601021200-202601021200 [JSON] /appdata/lab/report 1 202601021100-202601021100 [CSV] /tetration/flows 2 202601021100-202601021200 [PARQUET]]"
	if fmt.Sprint(paths) != want {
		t.Errorf("datasets\n got %v\nwant %s", paths, want)
	}
	sinks := fmt.Sprint(got.Datasinks)
	if want := "[{DEVWKS-2612 /appdata/datasink/DEVWKS-2612 1 202601021200} {quiet /appdata/datasink/quiet 0 }]"; sinks != want {
		t.Errorf("datasinks\n got %s\nwant %s", sinks, want)
	}
}

func rows(p *int64) string {
	if p == nil {
		return "?"
	}
	return fmt.Sprint(*p)
}

func TestDescribe(t *testing.T) {
	l, root := newLake(t)
	srv := serve(t, &catalog.Handler{Lake: l})
	for _, c := range []struct {
		path, want string
	}{
		// Parquet: row counts from the footers, summed per hour.
		{datalake.FlowsPath, "rows 12 files 3 | 202601021100 2 files 7 rows [PARQUET] | 202601021200 1 files 5 rows [PARQUET]"},
		// JSON lines: blank lines are not rows.
		{"/appdata/datasink/DEVWKS-2612", "rows 2 files 1 | 202601021200 1 files 2 rows [JSON]"},
		// CSV: unknown.
		{"/appdata/lab/report", "rows ? files 1 | 202601021100 1 files ? rows [CSV]"},
	} {
		t.Run(strings.Trim(c.path, "/"), func(t *testing.T) {
			var info datalake.DatasetInfo
			if code, body := get(t, srv, "/api/lake/dataset", url.Values{"path": {c.path}}, &info); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			s := fmt.Sprintf("rows %s files %d", rows(info.Rows), info.Files)
			var bytes int64
			for _, h := range info.HourList {
				s += fmt.Sprintf(" | %s %d files %s rows %v", h.Hour, h.Files, rows(h.Rows), h.Formats)
				if h.Bytes <= 0 {
					t.Errorf("hour %s: %d bytes", h.Hour, h.Bytes)
				}
				bytes += h.Bytes
			}
			if s != c.want {
				t.Errorf("\n got %s\nwant %s", s, c.want)
			}
			if bytes != info.Bytes {
				t.Errorf("bytes: total %d, sum of hours %d", info.Bytes, bytes)
			}
			var onDisk int64
			filepath.Walk(filepath.Join(root, c.path), func(_ string, fi os.FileInfo, err error) error {
				if err == nil && fi.Mode().IsRegular() {
					onDisk += fi.Size()
				}
				return nil
			})
			if onDisk != info.Bytes {
				t.Errorf("bytes %d, files on disk %d", info.Bytes, onDisk)
			}
		})
	}
}

func TestSchemaAndPreview(t *testing.T) {
	l, _ := newLake(t)
	srv := serve(t, &catalog.Handler{Lake: l})

	var schema catalog.Table
	if code, body := get(t, srv, "/api/lake/schema", url.Values{"path": {datalake.FlowsPath}}, &schema); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if schema.Hour != "202601021200" || schema.Format != datalake.Parquet {
		t.Errorf("schema of hour %s format %s, want the newest hour in PARQUET", schema.Hour, schema.Format)
	}
	types := map[string]string{}
	for _, c := range schema.Columns {
		types[c.Name] = c.Type
	}
	for col, typ := range map[string]string{"src_address": "VARCHAR", "dst_port": "INTEGER", "fwd_pkts": "BIGINT", "start_timestamp": "TIMESTAMP WITH TIME ZONE", "dt": "DATE", "hr": "INTEGER"} {
		if types[col] != typ {
			t.Errorf("column %s: type %q (schema %v)", col, types[col], schema.Columns)
		}
	}

	var pv catalog.Table
	if code, body := get(t, srv, "/api/lake/preview", url.Values{"path": {datalake.FlowsPath}, "hour": {"202601021100"}, "limit": {"5"}}, &pv); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if len(pv.Rows) != 5 || pv.Limit != 5 || pv.Hour != "202601021100" {
		t.Fatalf("preview: %d rows, limit %d, hour %s", len(pv.Rows), pv.Limit, pv.Hour)
	}
	col := -1
	for i, c := range pv.Columns {
		if c.Name == "src_address" {
			col = i
		}
	}
	if col < 0 || !strings.HasPrefix(fmt.Sprint(pv.Rows[0][col]), "10.0.0.") {
		t.Errorf("preview row 0: %v (columns %v)", pv.Rows[0], pv.Columns)
	}

	var sink catalog.Table
	if code, body := get(t, srv, "/api/lake/preview", url.Values{"path": {"/appdata/datasink/DEVWKS-2612"}}, &sink); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if got := fmt.Sprint(sink.Format, sink.Columns, sink.Rows); got != "JSON[{host VARCHAR} {n BIGINT} {dt DATE} {hr INTEGER}] [[a 1 2026-01-02 12] [b 2 2026-01-02 12]]" {
		t.Errorf("datasink preview: %s", got)
	}
}

func TestErrors(t *testing.T) {
	l, _ := newLake(t)
	srv := serve(t, &catalog.Handler{Lake: l})
	for _, c := range []struct {
		name, route string
		q           url.Values
		code        int
		says        string
	}{
		{"traversal", "/api/lake/dataset", url.Values{"path": {"/tetration/../../etc"}}, 400, `".." segments are not allowed`},
		{"traversal in preview", "/api/lake/preview", url.Values{"path": {"/appdata/../../../etc/passwd"}}, 400, "path refused"},
		{"NUL", "/api/lake/schema", url.Values{"path": {"/appdata/x\x00y"}}, 400, "NUL"},
		{"symlink out of the lake", "/api/lake/dataset", url.Values{"path": {"/appdata/escape"}}, 400, "points outside the lake"},
		{"host path", "/api/lake/dataset", url.Values{"path": {"/etc/passwd"}}, 400, "lake paths start with /tetration/ or /appdata/"},
		{"relative", "/api/lake/dataset", url.Values{"path": {"tetration/flows"}}, 400, "absolute"},
		{"no path", "/api/lake/dataset", nil, 400, "?path="},
		{"unknown dataset", "/api/lake/dataset", url.Values{"path": {"/tetration/flow"}}, 404, "did you mean /tetration/flows"},
		{"folder of datasets", "/api/lake/preview", url.Values{"path": {"/appdata/datasink"}}, 404, "folder of datasets"},
		{"bad format", "/api/lake/preview", url.Values{"path": {datalake.FlowsPath}, "format": {"XLS"}}, 400, "use PARQUET, JSON"},
		{"format not there", "/api/lake/preview", url.Values{"path": {datalake.FlowsPath}, "format": {"CSV"}}, 400, "PARQUET"},
		{"bad hour", "/api/lake/preview", url.Values{"path": {datalake.FlowsPath}, "hour": {"yesterday"}}, 400, "hour stamp"},
		{"hour without data", "/api/lake/schema", url.Values{"path": {datalake.FlowsPath}, "hour": {"202601020900"}}, 404, "from 202601021100 to 202601021200"},
		{"limit too big", "/api/lake/preview", url.Values{"path": {datalake.FlowsPath}, "limit": {"100000"}}, 400, "1 to 1000 rows"},
		{"limit not a number", "/api/lake/preview", url.Values{"path": {datalake.FlowsPath}, "limit": {"all"}}, 400, "1 to 1000 rows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(t, srv, c.route, c.q, nil)
			var e struct{ Message string }
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("%d %s: %v", code, body, err)
			}
			if code != c.code || !strings.Contains(e.Message, c.says) {
				t.Errorf("got %d %q, want %d saying %q", code, e.Message, c.code, c.says)
			}
		})
	}
}

func TestNoLake(t *testing.T) {
	srv := serve(t, &catalog.Handler{})
	for _, route := range []string{"/api/lake/datasets", "/api/lake/dataset?path=/tetration/flows"} {
		code, body := get(t, srv, route, nil, nil)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "--lake") {
			t.Errorf("%s: %d %s", route, code, body)
		}
	}
}

// TestJSONLineCounts: lines longer than the reader's buffer count once, a
// last line without a newline counts, blank lines do not.
func TestJSONLineCounts(t *testing.T) {
	l, _ := newLake(t)
	long := `{"v":"` + strings.Repeat("x", 200_000) + `"}`
	for name, c := range map[string]struct {
		body string
		want int64
	}{
		"long":       {long + "\n" + long + "\n{\"v\":\"y\"}\n", 3},
		"no-newline": {"{\"v\":1}\n\n  \n{\"v\":2}", 2},
		"empty":      {"", 0},
	} {
		t.Run(name, func(t *testing.T) {
			ds := "/appdata/lines/" + name
			if _, err := l.Publish(ds, h11, "JSON", func(w io.Writer) error { _, err := io.WriteString(w, c.body); return err }); err != nil {
				t.Fatal(err)
			}
			info, err := l.Describe(context.Background(), ds)
			if err != nil {
				t.Fatal(err)
			}
			if info.Rows == nil || *info.Rows != c.want {
				t.Errorf("rows %s, want %d", rows(info.Rows), c.want)
			}
		})
	}
}

// TestConcurrentReads: the handler serves many requests at once (the row
// count cache and the engine are shared); run with -race.
func TestConcurrentReads(t *testing.T) {
	l, _ := newLake(t)
	srv := serve(t, &catalog.Handler{Lake: l})
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			route, q := "/api/lake/dataset", url.Values{"path": {datalake.FlowsPath}}
			if i%2 == 1 {
				route, q = "/api/lake/preview", url.Values{"path": {datalake.FlowsPath}, "limit": {"3"}}
			}
			res, err := http.Get(srv.URL + route + "?" + q.Encode())
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			var v struct {
				Rows json.RawMessage
			}
			if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != 200 {
				errs <- fmt.Errorf("%s: %d %v", route, res.StatusCode, err)
				return
			}
			if want := map[bool]string{false: "12", true: ""}[i%2 == 1]; want != "" && string(v.Rows) != want {
				errs <- fmt.Errorf("%s: rows %s, want %s", route, v.Rows, want)
				return
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// FuzzCatalogPath: whatever ?path= a client sends, the catalog answers 200,
// 400 or 404 with a JSON message — never 500, never a dataset outside the
// lake (the symbolic link /appdata/escape points out of it).
func FuzzCatalogPath(f *testing.F) {
	for _, s := range []string{"/tetration/flows", "/tetration/../../etc", "/appdata/escape", "/appdata/x\x00", "tetration/flows",
		"/appdata/datasink/DEVWKS-2612", "//tetration//flows/", "/tetration/flows/dt=2026-01-02", "/appdata/.hidden", "/\\etc"} {
		f.Add(s, "")
		f.Add(s, "202601021100")
	}
	l, _ := newLake(f)
	h := &catalog.Handler{Lake: l}
	routes := h.Routes()
	f.Fuzz(func(t *testing.T, p, hour string) {
		for _, route := range []string{"GET /api/lake/dataset", "GET /api/lake/preview"} {
			q := url.Values{"path": {p}, "hour": {hour}}
			rec := httptest.NewRecorder()
			routes[route].ServeHTTP(rec, httptest.NewRequest("GET", "/x?"+q.Encode(), nil))
			switch rec.Code {
			case 200:
				if strings.Contains(rec.Body.String(), "escape") {
					t.Fatalf("%s %q: answered a dataset outside the lake: %s", route, p, rec.Body)
				}
			case 400, 404:
			default:
				t.Fatalf("%s %q %q: %d %s", route, p, hour, rec.Code, rec.Body)
			}
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("%s %q: not JSON: %v", route, p, err)
			}
		}
	})
}

// TestCatalogContext: Describe (footer reads), SchemaOf and Preview stop
// with the caller's context and say so.
func TestCatalogContext(t *testing.T) {
	l, _ := newLake(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Describe(ctx, datalake.FlowsPath); !errors.Is(err, context.Canceled) {
		t.Errorf("Describe with an ended context: %v, want context.Canceled", err)
	}
	if _, err := l.SchemaOf(ctx, datalake.FlowsPath, "", ""); !errors.Is(err, context.Canceled) {
		t.Errorf("SchemaOf with an ended context: %v, want context.Canceled", err)
	}
	if _, err := l.Preview(ctx, datalake.FlowsPath, "", "", 5); !errors.Is(err, context.Canceled) {
		t.Errorf("Preview with an ended context: %v, want context.Canceled", err)
	}
	// The lake's own queries go on.
	info, err := l.Describe(t.Context(), datalake.FlowsPath)
	if err != nil || info.Rows == nil || *info.Rows != 12 {
		t.Fatalf("Describe after: %+v, %v", info, err)
	}
}

// TestPreviewCutsLongValues: a preview answer stays bounded when a value
// is huge.
func TestPreviewCutsLongValues(t *testing.T) {
	l, _ := newLake(t)
	big := strings.Repeat("x", 50_000)
	if _, err := l.Publish("/appdata/lab/big", h11, "JSON", func(w io.Writer) error {
		return json.NewEncoder(w).Encode(map[string]any{"host": "a", "blob": big})
	}); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, &catalog.Handler{Lake: l})
	var tb catalog.Table
	code, body := get(t, srv, "/api/lake/preview", url.Values{"path": {"/appdata/lab/big"}}, &tb)
	if code != 200 {
		t.Fatalf("preview: %d %s", code, body)
	}
	if len(body) > 2*datalake.MaxPreviewCell {
		t.Errorf("preview answer is %d bytes for one row", len(body))
	}
	found := false
	for i, c := range tb.Columns {
		if c.Name == "blob" {
			s, _ := tb.Rows[0][i].(string)
			found = strings.HasPrefix(s, big[:datalake.MaxPreviewCell]) && strings.Contains(s, "cut: 49000 more bytes")
			if !found {
				t.Errorf("blob = %.60q… (%d bytes)", s, len(s))
			}
		}
		if c.Name == "host" && tb.Rows[0][i] != "a" {
			t.Errorf("host = %v", tb.Rows[0][i])
		}
	}
	if !found {
		t.Errorf("no cut blob column in %s", body)
	}
}

// heldLake holds the real lake's Describe calls until released, counting
// how many run at once.
type heldLake struct {
	*datalake.Lake
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	now     int
	most    int
}

func (h *heldLake) Describe(ctx context.Context, path string) (datalake.DatasetInfo, error) {
	h.mu.Lock()
	h.now++
	h.most = max(h.most, h.now)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.now--
		h.mu.Unlock()
	}()
	h.entered <- struct{}{}
	select {
	case <-h.release:
	case <-ctx.Done():
		return datalake.DatasetInfo{}, ctx.Err()
	}
	return h.Lake.Describe(ctx, path)
}

// TestCatalogBoundsEngineCalls: at most MaxQueries requests reach the
// engine at once; one that waits past its context gets 503 saying the
// catalog is busy.
func TestCatalogBoundsEngineCalls(t *testing.T) {
	l, _ := newLake(t)
	held := &heldLake{Lake: l, entered: make(chan struct{}, 8), release: make(chan struct{})}
	h := &catalog.Handler{Lake: held}
	route := h.Routes()["GET /api/lake/dataset"]
	q := "/api/lake/dataset?" + url.Values{"path": {datalake.FlowsPath}}.Encode()
	var wg sync.WaitGroup
	codes := make([]int, catalog.DefaultMaxQueries)
	for i := range codes {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			route.ServeHTTP(rec, httptest.NewRequest("GET", q, nil))
			codes[i] = rec.Code
		})
	}
	for range codes {
		<-held.entered
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	route.ServeHTTP(rec, httptest.NewRequest("GET", q, nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "busy") {
		t.Errorf("third request while two run: %d %s, want 503 busy", rec.Code, rec.Body)
	}
	close(held.release)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("held request %d: %d", i, c)
		}
	}
	if held.most != catalog.DefaultMaxQueries {
		t.Errorf("%d Describe calls ran at once, want %d", held.most, catalog.DefaultMaxQueries)
	}
	rec = httptest.NewRecorder()
	route.ServeHTTP(rec, httptest.NewRequest("GET", q, nil))
	if rec.Code != 200 {
		t.Errorf("request after the others ended: %d %s", rec.Code, rec.Body)
	}
}
