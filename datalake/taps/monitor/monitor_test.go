package monitor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/datalake/taps/monitor"
)

type event struct {
	name, id string
	msg      taps.Message
	data     string
}

// readEvents parses n server-sent events from r, skipping comments.
func readEvents(t *testing.T, sc *bufio.Scanner, n int) []event {
	t.Helper()
	var out []event
	var cur event
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				if cur.name == "message" {
					if err := json.Unmarshal([]byte(cur.data), &cur.msg); err != nil {
						t.Fatalf("event data %q: %v", cur.data, err)
					}
				}
				out = append(out, cur)
			}
			cur = event{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	if len(out) < n {
		t.Fatalf("stream ended after %d of %d events: %v", len(out), n, sc.Err())
	}
	return out
}

func setup(t *testing.T) (*taps.Set, *httptest.Server) {
	t.Helper()
	b, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Topics: []string{"alerts"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	set, err := taps.New(taps.Config{Taps: map[string]taps.TapConfig{
		"Alerts": {Cluster: taps.Cluster{Brokers: []string{b.Addr()}}, Topic: "alerts"},
	}}, taps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	mux := http.NewServeMux()
	mux.Handle("GET /api/taps/{tap}/events", &monitor.Handler{
		Source:    set,
		Heartbeat: 50 * time.Millisecond,
		Authorize: func(r *http.Request) error {
			if r.Header.Get("Authorization") != "token s3cret" {
				return errors.New("a valid token is required")
			}
			return nil
		},
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return set, srv
}

func get(t *testing.T, ctx context.Context, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token s3cret")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func send(t *testing.T, set *taps.Set, msgs ...string) {
	t.Helper()
	if _, err := set.Send(context.Background(), "Alerts", msgs); err != nil {
		t.Fatal(err)
	}
}

func TestStreamsInArrivalOrder(t *testing.T) {
	set, srv := setup(t)
	send(t, set, "m0", "m1", "m2")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := get(t, ctx, srv.URL+"/api/taps/Alerts/events?from=1", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	got := readEvents(t, sc, 2)
	// Messages sent while the stream is open arrive too, in order.
	go func() {
		if _, err := set.Send(context.Background(), "Alerts", []string{"m3", "m4"}); err != nil {
			t.Error(err)
		}
	}()
	got = append(got, readEvents(t, sc, 2)...)
	for i, e := range got {
		want := fmt.Sprintf("m%d", i+1)
		if e.name != "message" || e.msg.Value != want || e.id != fmt.Sprint(i+1) || e.msg.Offset != int64(i+1) || e.msg.Tap != "Alerts" {
			t.Errorf("event %d = %+v, want %s at offset %d", i, e, want, i+1)
		}
	}

	// A reconnecting EventSource resumes after Last-Event-ID.
	resp2 := get(t, ctx, srv.URL+"/api/taps/Alerts/events?from=oldest", map[string]string{"Last-Event-ID": "3"})
	e := readEvents(t, bufio.NewScanner(resp2.Body), 1)[0]
	if e.msg.Value != "m4" {
		t.Errorf("after Last-Event-ID 3: %+v, want m4", e)
	}
}

func TestRefusals(t *testing.T) {
	_, srv := setup(t)
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		status     int
		say        string
	}{
		{"no token", "/api/taps/Alerts/events", map[string]string{"Authorization": "token wrong"}, 401, "a valid token is required"},
		{"unknown tap", "/api/taps/Alarms/events", nil, 404, `unknown tap "Alarms": the taps are Alerts`},
		{"bad offset", "/api/taps/Alerts/events?from=-5", nil, 400, "use oldest, newest or an offset"},
		{"bad last event id", "/api/taps/Alerts/events", map[string]string{"Last-Event-ID": "x"}, 400, "is not an offset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, context.Background(), srv.URL+tc.path, tc.header)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.say) {
				t.Errorf("%d %q, want %d saying %q", resp.StatusCode, body, tc.status, tc.say)
			}
		})
	}
}

func TestErrorEventWhenTheOffsetIsPastTheEnd(t *testing.T) {
	set, srv := setup(t)
	send(t, set, "only")
	resp := get(t, context.Background(), srv.URL+"/api/taps/Alerts/events?from=99", nil)
	e := readEvents(t, bufio.NewScanner(resp.Body), 1)[0]
	if e.name != "error" || !strings.Contains(e.data, "out of range") {
		t.Errorf("event %+v, want an error saying out of range", e)
	}
}

func TestListShowsTargetsWithoutCredentials(t *testing.T) {
	set, err := taps.New(taps.Config{Taps: map[string]taps.TapConfig{
		"Alerts": {Cluster: taps.Cluster{Brokers: []string{"127.0.0.1:9092"}}, Topic: "alerts"},
		"SIEM": {Cluster: taps.Cluster{Brokers: []string{"k1:9093", "k2:9093"}, TLS: &taps.TLSConfig{},
			SASL: &taps.SASLConfig{Mechanism: "SCRAM-SHA-512", User: "flowlab", Password: "hunter2"}}, Topic: "siem.alerts"},
	}}, taps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	rec := httptest.NewRecorder()
	(&monitor.List{Taps: set}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/taps", nil))
	body := rec.Body.String()
	if strings.Contains(body, "hunter2") || strings.Contains(body, "flowlab") {
		t.Errorf("the list shows credentials: %s", body)
	}
	var got []monitor.TapInfo
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	want := []monitor.TapInfo{
		{Name: "Alerts", Topic: "alerts", Brokers: []string{"127.0.0.1:9092"}},
		{Name: "SIEM", Topic: "siem.alerts", Brokers: []string{"k1:9093", "k2:9093"}, TLS: true, SASL: "SCRAM-SHA-512"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("list = %+v, want %+v", got, want)
	}
}
