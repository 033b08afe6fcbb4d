package datasink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/datalake/duckdb"
	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

const sink = "DEVWKS-2612"

type fixture struct {
	broker *broker.Broker
	lake   *datalake.Lake
	srv    *httptest.Server
}

// setup starts a broker with the datasink topic, opens a lake (with the
// demo flows when withDemo) and serves the POST handler.
func setup(t *testing.T, postedAt time.Time, withDemo bool) (*fixture, *demo.GroundTruth) {
	t.Helper()
	b, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Topics: []string{Topic(sink)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	root := t.TempDir()
	var gt *demo.GroundTruth
	if withDemo {
		g, err := demo.Generate(context.Background(), demo.Options{Out: root, Hours: 2, FlowsPerHour: demo.MinFlowsPerHour, Seed: 5,
			Now: func() time.Time { return postedAt.Add(-time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		gt = &g
	}
	lake, err := datalake.Open(datalake.Options{Root: root, NewEngine: duckdb.Factory(duckdb.Options{Root: root, Threads: 1}),
		Now: func() time.Time { return postedAt.Add(30 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lake.Close() })
	prod, err := NewKafkaProducer(taps.Cluster{Brokers: []string{b.Addr()}}, 5*time.Second, func() time.Time { return postedAt })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	mux := http.NewServeMux()
	mux.Handle("POST /api/datasink/{name}", &Handler{
		Producer:     prod,
		MaxBodyBytes: 64 << 10,
		Known:        func(n string) bool { return n == sink },
		Authorize: func(r *http.Request) error {
			if r.Header.Get("Authorization") != "token s3cret" {
				return errors.New("a valid token is required")
			}
			return nil
		},
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{broker: b, lake: lake, srv: srv}, gt
}

func post(t *testing.T, url, contentType, body string, auth bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth {
		req.Header.Set("Authorization", "token s3cret")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// runWriter runs a writer until the test ends or it fails.
func runWriter(t *testing.T, f *fixture, opts WriterOptions) (stop func() error) {
	t.Helper()
	opts.Cluster = taps.Cluster{Brokers: []string{f.broker.Addr()}}
	opts.Sinks = []string{sink}
	opts.Lake = f.lake
	if opts.FlushInterval == 0 {
		opts.FlushInterval = 100 * time.Millisecond
	}
	w, err := NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once bool
	var result error
	stop = func() error {
		if !once {
			once = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(20 * time.Second):
				result = errors.New("the writer did not stop")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitRows waits until the datasink's hour holds n records and returns
// the frame over it.
func waitRows(t *testing.T, lake *datalake.Lake, hour string, n int64) *datalake.Frame {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got int64
	var err error
	for time.Now().Before(deadline) {
		f := lake.IO().Read(Dataset(sink), "JSON", hour)
		if got, err = f.Count(); err == nil && got >= n {
			return f
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the lake holds %d of %d records in hour %s (%v)", got, n, hour, err)
	return nil
}

func TestPostedRecordsLandInTheLake(t *testing.T) {
	postedAt := time.Date(2026, 5, 6, 8, 10, 0, 0, time.UTC)
	f, _ := setup(t, postedAt, false)
	url := f.srv.URL + "/api/datasink/" + sink
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		say               string
	}{
		{"object", "application/json", `{"host": "h0", "n": 0}`, 202, `"records":1`},
		{"array", "application/json; charset=utf-8", `[{"host": "h1", "n": 1}, {"host": "h2", "n": 2}]`, 202, `"records":2`},
		{"ndjson", "application/x-ndjson", "{\"host\": \"h3\", \"n\": 3}\n{\"host\": \"h4\", \"n\": 4}\n{\"host\": \"h5\", \"n\": 5, \"note\": \"új\"}\n", 202, `"records":3`},
		{"no content type", "", `{"host": "h6", "n": 6}`, 202, `"topic":"datasink.DEVWKS-2612"`},
		{"not an object", "application/json", `[1, 2]`, 400, "array element 0 is a number"},
		{"broken json", "application/json", `{"host": `, 400, "record 0"},
		{"empty", "application/json", ``, 400, "the body is empty"},
		{"too large", "application/json", `{"pad": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "over 65536 bytes"},
		{"xml", "application/xml", `<host/>`, 415, "application/x-ndjson"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, url, tc.ctype, tc.body, true)
			if status != tc.status || !strings.Contains(body, tc.say) {
				t.Errorf("%d %s, want %d saying %q", status, body, tc.status, tc.say)
			}
		})
	}
	for _, tc := range []struct {
		name, url string
		auth      bool
		status    int
		say       string
	}{
		{"no token", url, false, 401, "a valid token is required"},
		{"unknown datasink", f.srv.URL + "/api/datasink/other", true, 404, `is configured`},
		{"bad name", f.srv.URL + "/api/datasink/..x", true, 400, "use letters, digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, tc.url, "application/json", `{"a":1}`, tc.auth)
			if status != tc.status || !strings.Contains(body, tc.say) {
				t.Errorf("%d %s, want %d saying %q", status, body, tc.status, tc.say)
			}
		})
	}

	runWriter(t, f, WriterOptions{})
	frame := waitRows(t, f.lake, "202605060800", 7)
	hosts, err := frame.OrderBy("n").Strings("host")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(hosts, ",") != "h0,h1,h2,h3,h4,h5,h6" {
		t.Errorf("hosts %v", hosts)
	}
	keys, err := frame.Select(KeyField).DropDuplicates(KeyField).Count()
	if err != nil || keys != 7 {
		t.Errorf("%d distinct %s (%v), want 7", keys, KeyField, err)
	}
	notes, err := f.lake.IO().Read(Dataset(sink), "JSON", "LASTHOUR").Filter("host = ?", "h5").Strings("note")
	if err != nil || len(notes) != 1 || notes[0] != "új" {
		t.Errorf("note of h5: %q %v", notes, err)
	}
	if hours := f.lake.IO().List(Dataset(sink)); len(hours) != 1 || hours[0] != "202605060800" {
		t.Errorf("IO.List = %v", hours)
	}
}

// TestCrashBetweenWriteAndCommit stops the writer after it published a
// file and before it committed: a new writer writes the records again and
// nothing is lost; the copies share their _sink_key.
func TestCrashBetweenWriteAndCommit(t *testing.T) {
	postedAt := time.Date(2026, 5, 6, 9, 0, 0, 0, time.UTC)
	f, _ := setup(t, postedAt, false)
	var recs []string
	for i := range 20 {
		recs = append(recs, fmt.Sprintf(`{"host": "c%02d"}`, i))
	}
	if status, body := post(t, f.srv.URL+"/api/datasink/"+sink, "application/x-ndjson", strings.Join(recs, "\n"), true); status != 202 {
		t.Fatalf("%d %s", status, body)
	}
	stop := runWriter(t, f, WriterOptions{afterPublish: func() error { return errors.New("crash") }})
	waitRows(t, f.lake, "202605060900", 20)
	if err := stop(); !errors.Is(err, errStopped) {
		t.Fatalf("the crashing writer returned %v", err)
	}
	runWriter(t, f, WriterOptions{})
	frame := waitRows(t, f.lake, "202605060900", 40)
	distinct, err := frame.DropDuplicates(KeyField).Count()
	if err != nil || distinct != 20 {
		t.Errorf("%d distinct records (%v), want all 20", distinct, err)
	}
	hosts, err := frame.DropDuplicates(KeyField).OrderBy("host").Strings("host")
	if err != nil || len(hosts) != 20 || hosts[0] != "c00" || hosts[19] != "c19" {
		t.Errorf("hosts after dedupe: %v %v", hosts, err)
	}
	// The second writer committed: a third one writes nothing more.
	time.Sleep(500 * time.Millisecond)
	if n, _ := f.lake.IO().Read(Dataset(sink), "JSON", "202605060900").Count(); n != 40 {
		t.Errorf("%d records after the second writer settled, want 40", n)
	}
}

// TestKcatProducesIntoTheLake: what kcat (librdkafka) produces to the
// datasink topic reaches the lake, one record per line it sent.
func TestKcatProducesIntoTheLake(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kcat")
	}
	kcat := flowlabtest.RequireCommand(t, "kcat")
	postedAt := time.Now().UTC()
	f, _ := setup(t, postedAt, false)
	cmd := exec.Command(kcat, "-P", "-b", f.broker.Addr(), "-t", Topic(sink), "-p", "0")
	cmd.Stdin = strings.NewReader("{\"host\": \"k1\", \"src\": \"kcat\"}\n{\"host\": \"k2\", \"src\": \"kcat\"}\n[{\"host\": \"k3\"}]\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	runWriter(t, f, WriterOptions{})
	hour := datalake.Stamp(postedAt.Truncate(time.Hour))
	deadline := time.Now().Add(30 * time.Second)
	for {
		hours, err := f.lake.IO().Hours(Dataset(sink))
		if err == nil && len(hours) > 0 {
			hour = hours[len(hours)-1]
			if n, _ := f.lake.IO().Read(Dataset(sink), "JSON", hour).Count(); n == 3 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kcat's records did not reach the lake: hours %v %v", hours, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	hosts, err := f.lake.IO().Read(Dataset(sink), "JSON", hour).OrderBy("host").Strings("host")
	if err != nil || strings.Join(hosts, ",") != "k1,k2,k3" {
		t.Errorf("hosts %v %v", hosts, err)
	}
}

// TestCombineData is the lab's "Combine data" flow on the demo lake: a
// compliance scanner posts its non-compliant hosts, the newest hour of the
// datasink is read and joined with the flows, and the result is the hosts'
// peers the demo planted.
func TestCombineData(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a demo lake")
	}
	postedAt := time.Date(2026, 5, 6, 8, 10, 0, 0, time.UTC)
	f, gt := setup(t, postedAt, true)
	var body strings.Builder
	for _, h := range gt.NonCompliant.Hosts {
		b, _ := json.Marshal(map[string]string{"ip": h.IP, "hostname": h.Hostname, "posture": "noncompliant", "reason": "posted by the scanner"})
		body.Write(b)
		body.WriteByte('\n')
	}
	if status, resp := post(t, f.srv.URL+"/api/datasink/"+sink, "application/x-ndjson", body.String(), true); status != 202 {
		t.Fatalf("%d %s", status, resp)
	}
	runWriter(t, f, WriterOptions{})
	waitRows(t, f.lake, "202605060800", int64(len(gt.NonCompliant.Hosts)))

	io := f.lake.IO()
	hours := io.List(Dataset(sink))
	if hours[len(hours)-1] != "202605060800" {
		t.Fatalf("newest datasink hour %v, want the posted one", hours)
	}
	if err := io.Read(Dataset(sink), "JSON", hours[len(hours)-1]).RegisterTempTable("notcompliant"); err != nil {
		t.Fatal(err)
	}
	if err := io.Read("/tetration/flows", "PARQUET", "LASTHOUR").RegisterTempTable("flows"); err != nil {
		t.Fatal(err)
	}
	pairs, err := f.lake.SQL(`SELECT DISTINCT n.ip || ' ' || f.dst_address AS pair FROM flows f JOIN notcompliant n ON f.src_address = n.ip`).Strings("pair")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range pairs {
		got[p] = true
	}
	var missing []string
	for _, h := range gt.NonCompliant.Hosts {
		for _, p := range h.Peers {
			if !got[h.IP+" "+p] {
				missing = append(missing, h.IP+" "+p)
			}
		}
	}
	sort.Strings(missing)
	if len(pairs) == 0 || len(missing) > 0 {
		t.Errorf("join found %d pairs; missing planted pairs %v", len(pairs), missing)
	}
}
