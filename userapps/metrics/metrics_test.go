package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/userapps/metrics"
	"github.com/flowlab/flowlab/userapps/metrics/metricstest"
)

func scrape(t *testing.T, m *metrics.Metrics) metricstest.Samples {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return metricstest.Scrape(t, srv.URL, "")
}

func TestKernelEvents(t *testing.T) {
	type ev = metrics.KernelEvent
	tests := []struct {
		name   string
		events []ev
		// starts, restarts, deaths, culls
		want [4]float64
	}{
		{
			name:   "start, work, shut down",
			events: []ev{{Kernel: "a", Status: "idle"}, {Kernel: "a", Status: "busy"}, {Kernel: "a", Status: "idle"}, {Kernel: "a", Status: "stopped", Final: true}},
			want:   [4]float64{1, 0, 0, 0},
		},
		{
			name:   "restart asked for",
			events: []ev{{Kernel: "a", Status: "idle"}, {Kernel: "a", Status: "restarting"}, {Kernel: "a", Status: "idle"}},
			want:   [4]float64{1, 1, 0, 0},
		},
		{
			name: "death and restart, then death with no restart left",
			events: []ev{
				{Kernel: "a", Status: "idle"},
				{Kernel: "a", Status: "dead"}, {Kernel: "a", Status: "restarting"}, {Kernel: "a", Status: "idle"},
				{Kernel: "a", Status: "dead"}, {Kernel: "a", Status: "dead", Final: true},
			},
			want: [4]float64{1, 1, 2, 0},
		},
		{
			name:   "restart that fails leaves the kernel dead",
			events: []ev{{Kernel: "a", Status: "idle"}, {Kernel: "a", Status: "restarting"}, {Kernel: "a", Status: "dead", Final: true}},
			want:   [4]float64{1, 1, 1, 0},
		},
		{
			name:   "culled",
			events: []ev{{Kernel: "a", Status: "idle"}, {Kernel: "a", Status: "stopped", Culled: true, Final: true}},
			want:   [4]float64{1, 0, 0, 1},
		},
		{
			name: "two kernels, one id reused after its end",
			events: []ev{
				{Kernel: "a", Status: "idle"}, {Kernel: "b", Status: "idle"}, {Kernel: "b", Status: "busy"},
				{Kernel: "a", Status: "stopped", Final: true}, {Kernel: "a", Status: "idle"},
			},
			want: [4]float64{3, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New(metrics.Options{NoRuntime: true})
			for _, e := range tt.events {
				m.ObserveKernel(e)
			}
			s := scrape(t, m)
			got := [4]float64{
				s.Value(t, "flowlab_kernel_starts_total"),
				s.Value(t, "flowlab_kernel_restarts_total"),
				s.Value(t, "flowlab_kernel_deaths_total"),
				s.Value(t, "flowlab_kernel_culls_total"),
			}
			if got != tt.want {
				t.Errorf("starts, restarts, deaths, culls = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKernelsByStatus(t *testing.T) {
	var mu sync.Mutex
	statuses := []string{"idle", "busy", "idle", "restarting", "odd"}
	m := metrics.New(metrics.Options{NoRuntime: true, KernelStatuses: func() []string {
		mu.Lock()
		defer mu.Unlock()
		return statuses
	}})
	s := scrape(t, m)
	for status, want := range map[string]float64{"idle": 2, "busy": 1, "restarting": 1, "starting": 0, "dead": 0, "odd": 1} {
		if got := s.Value(t, "flowlab_kernels", "status", status); got != want {
			t.Errorf("flowlab_kernels{status=%q} = %v, want %v", status, got, want)
		}
	}
	// The gauge is read at each scrape, not kept.
	mu.Lock()
	statuses = []string{"dead"}
	mu.Unlock()
	s = scrape(t, m)
	if got := s.Value(t, "flowlab_kernels", "status", "idle"); got != 0 {
		t.Errorf("after the kernels went: idle = %v, want 0", got)
	}
	if got := s.Value(t, "flowlab_kernels", "status", "dead"); got != 1 {
		t.Errorf("dead = %v, want 1", got)
	}
	if _, ok := s.Get("flowlab_kernels", "status", "odd"); ok {
		t.Errorf("a status no kernel has any more is still reported:\n%s", s)
	}
}

func TestObserveRequest(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntime: true})
	m.ObserveRequest(http.MethodGet, "/api/apps", 200, 30*time.Millisecond, false)
	m.ObserveRequest(http.MethodGet, "/api/apps", 200, 2*time.Second, false)
	m.ObserveRequest(http.MethodGet, "/api/apps", 401, time.Millisecond, false)
	m.ObserveRequest(http.MethodPost, "/api/apps/{id}/open", 500, time.Millisecond, false)
	m.ObserveRequest(http.MethodGet, "/api/kernels/{id}/channels", 101, time.Hour, true)
	m.ObserveRequest("BREW", "unmatched", 404, time.Millisecond, false)
	s := scrape(t, m)

	tests := []struct {
		name   string
		series string
		labels []string
		want   float64
	}{
		{"200s", "flowlab_http_requests_total", []string{"method", "GET", "route", "/api/apps", "code", "200"}, 2},
		{"401s", "flowlab_http_requests_total", []string{"method", "GET", "route", "/api/apps", "code", "401"}, 1},
		{"websocket", "flowlab_http_requests_total", []string{"method", "GET", "route", "/api/kernels/{id}/channels", "code", "101"}, 1},
		{"odd method", "flowlab_http_requests_total", []string{"method", "other", "route", "unmatched", "code", "404"}, 1},
		{"failure", "flowlab_http_request_failures_total", []string{"method", "POST", "route", "/api/apps/{id}/open"}, 1},
		{"histogram count", "flowlab_http_request_duration_seconds_count", []string{"method", "GET", "route", "/api/apps"}, 3},
		{"histogram sum", "flowlab_http_request_duration_seconds_sum", []string{"method", "GET", "route", "/api/apps"}, 2.031},
		{"fast bucket", "flowlab_http_request_duration_seconds_bucket", []string{"method", "GET", "route", "/api/apps", "le", "0.05"}, 2},
		{"slow bucket", "flowlab_http_request_duration_seconds_bucket", []string{"method", "GET", "route", "/api/apps", "le", "2.5"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Value(t, tt.series, tt.labels...)
			if d := got - tt.want; d > 1e-9 || d < -1e-9 {
				t.Errorf("%s = %v, want %v", metricstest.Key(tt.series, tt.labels...), got, tt.want)
			}
		})
	}
	if _, ok := s.Get("flowlab_http_request_duration_seconds_count", "method", "GET", "route", "/api/kernels/{id}/channels"); ok {
		t.Error("a websocket's lifetime went into the latency histogram")
	}
	if _, ok := s.Get("flowlab_http_request_failures_total", "method", "GET", "route", "/api/apps"); ok {
		t.Error("a 401 counted as a failure")
	}
}

func TestRuntimeCollectors(t *testing.T) {
	s := scrape(t, metrics.New(metrics.Options{}))
	if v := s.Value(t, "go_goroutines"); v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}
	if v := s.Value(t, "process_resident_memory_bytes"); v <= 0 {
		t.Errorf("process_resident_memory_bytes = %v", v)
	}
}
