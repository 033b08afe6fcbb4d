package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlab/flowlab/userapps/files"
	"github.com/flowlab/flowlab/userapps/metrics"
	"github.com/flowlab/flowlab/userapps/metrics/metricstest"
)

// steppingClock advances by step at every reading, so a request that reads
// it only at its start and end takes exactly one step.
type steppingClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

func TestMetrics(t *testing.T) {
	nb, err := files.Open(t.TempDir(), files.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	m := metrics.New(metrics.Options{NoRuntime: true})
	clock := &steppingClock{now: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), step: 250 * time.Millisecond}
	s, err := New(Options{
		Users: testUsers, Contents: nb, Version: "test",
		Metrics: m.Handler(), Requests: m, Now: clock.Now,
		Handlers: map[string]http.Handler{
			"GET /api/boom": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", http.StatusInternalServerError)
			}),
			"GET /api/panic": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				panic(http.ErrAbortHandler) // net/http logs no stack for this one
			}),
			"GET /api/events": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "data: one\n\n")
				w.(http.Flusher).Flush()
			}),
			"GET /api/ws": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := websocket.Accept(w, r, nil)
				if err != nil {
					t.Errorf("websocket behind the metrics middleware: %v", err)
					return
				}
				c.Write(r.Context(), websocket.MessageText, []byte("hello"))
				c.Close(websocket.StatusNormalClosure, "")
			}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	for _, c := range []struct {
		token, path string
		want        int
	}{
		{"t-alice", "/api/status", 200},
		{"t-bob", "/api/status", 200},
		{"", "/api/status", 401},
		{"t-alice", "/api/contents/alice/nope.ipynb", 404},
		{"t-alice", "/api/no-such-route", 404},
		{"t-alice", "/api/boom", 500},
		{"", "/metrics", 401},
	} {
		if code, body := call(t, srv, c.token, "GET", c.path, nil); code != c.want {
			t.Fatalf("GET %s: %d %s, want %d", c.path, code, body, c.want)
		}
	}
	// A new connection: net/http retries a GET that broke a reused one.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := fresh.Get(srv.URL + "/api/panic?token=t-alice"); err == nil {
		t.Fatal("GET /api/panic: a response, want a broken connection")
	}
	resp, err := http.Get(srv.URL + "/api/events?token=t-alice")
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if line != "data: one\n" {
		t.Fatalf("event stream: %q", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"token t-alice"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "hello" {
		t.Fatalf("websocket read: %q, %v", msg, err)
	}
	ws.Read(ctx) // the server's close
	ws.CloseNow()

	// The websocket's handler ends after its close handshake, and the event
	// stream's when it notices the client gone, neither of which the client
	// waits for: scrape until both are counted.
	var sm metricstest.Samples
	for deadline := time.Now().Add(10 * time.Second); ; {
		sm = metricstest.Scrape(t, srv.URL+"/metrics", "t-view")
		_, ws := sm.Get("flowlab_http_requests_total", "method", "GET", "route", "/api/ws", "code", "101")
		_, events := sm.Get("flowlab_http_requests_total", "method", "GET", "route", "/api/events", "code", "200")
		if ws && events || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	req := func(route, code string) []string {
		return []string{"method", "GET", "route", route, "code", code}
	}
	route := func(r string) []string { return []string{"method", "GET", "route", r} }
	tests := []struct {
		name   string
		series string
		labels []string
		want   float64
	}{
		{"authorized", "flowlab_http_requests_total", req("/api/status", "200"), 2},
		{"refused before routing keeps its route", "flowlab_http_requests_total", req("/api/status", "401"), 1},
		{"not found by a handler", "flowlab_http_requests_total", req("/api/contents/{path...}", "404"), 1},
		{"no route", "flowlab_http_requests_total", req(unmatchedRoute, "404"), 1},
		{"server error", "flowlab_http_requests_total", req("/api/boom", "500"), 1},
		{"panic", "flowlab_http_requests_total", req("/api/panic", "500"), 1},
		{"metrics refused", "flowlab_http_requests_total", req("/metrics", "401"), 1},
		{"event stream", "flowlab_http_requests_total", req("/api/events", "200"), 1},
		{"websocket", "flowlab_http_requests_total", req("/api/ws", "101"), 1},
		{"failures: error", "flowlab_http_request_failures_total", route("/api/boom"), 1},
		{"failures: panic", "flowlab_http_request_failures_total", route("/api/panic"), 1},
		{"durations", "flowlab_http_request_duration_seconds_count", route("/api/status"), 3},
		{"duration of one request", "flowlab_http_request_duration_seconds_sum", route("/api/boom"), 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sm.Value(t, tt.series, tt.labels...); got != tt.want {
				t.Errorf("%s = %v, want %v", metricstest.Key(tt.series, tt.labels...), got, tt.want)
			}
		})
	}
	for _, streamed := range []string{"/api/events", "/api/ws"} {
		if _, ok := sm.Get("flowlab_http_request_duration_seconds_count", route(streamed)...); ok {
			t.Errorf("the stream %s went into the latency histogram", streamed)
		}
	}
	if _, ok := sm.Get("flowlab_http_request_failures_total", route("/api/status")...); ok {
		t.Error("a 401 counted as a failure")
	}
}
