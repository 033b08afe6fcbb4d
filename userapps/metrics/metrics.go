// Package metrics is the user-app server's Prometheus adapter: kernels by
// status, kernel starts, restarts, deaths and idle culls, and HTTP requests
// by route and status code with their durations and failures, on a registry
// of its own (never the global default one), served in the Prometheus text
// format by Handler.
//
// The package depends on no other flowlab adapter: cmd/flowlab feeds it
// kernel events (ObserveKernel) and a view of the running kernels
// (Options.KernelStatuses), and the HTTP API reports finished requests to
// ObserveRequest.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configures Metrics. The zero value works: no kernels gauge.
type Options struct {
	// KernelStatuses returns the status of every kernel the server runs
	// ("starting", "idle", "busy", "restarting", "dead"); it is called at
	// each scrape and must be safe for concurrent use.
	KernelStatuses func() []string
	// NoRuntime leaves out the Go runtime and process collectors (go_*,
	// process_*), for tests that compare whole expositions.
	NoRuntime bool
}

// KernelStatusesReported are the statuses the kernels gauge always has a
// series for (zero when no kernel is in them), so dashboards see a 0 rather
// than no data. Other statuses get a series while a kernel is in them.
var KernelStatusesReported = []string{"starting", "idle", "busy", "restarting", "dead"}

// Metrics holds the server's collectors. Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	failures  *prometheus.CounterVec

	starts   prometheus.Counter
	restarts prometheus.Counter
	deaths   prometheus.Counter
	culls    prometheus.Counter

	mu   sync.Mutex
	last map[string]string // kernel id → the status of its latest event
}

// New returns Metrics with every collector registered on a new registry.
func New(opts Options) *Metrics {
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		last: map[string]string{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowlab_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code (101 for websockets).",
		}, []string{"method", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flowlab_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern; websockets and event streams are left out.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowlab_http_request_failures_total",
			Help: "HTTP requests answered with a 5xx status (the server's fault), by method and route pattern.",
		}, []string{"method", "route"}),
		starts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowlab_kernel_starts_total",
			Help: "Kernels started (a new kernel process up and answering).",
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowlab_kernel_restarts_total",
			Help: "Kernel restarts, asked for or after a death.",
		}),
		deaths: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowlab_kernel_deaths_total",
			Help: "Kernels that died: a process exited unexpectedly or was killed as hung, or a restart failed.",
		}),
		culls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowlab_kernel_culls_total",
			Help: "Kernels shut down by the idle culler.",
		}),
	}
	m.reg.MustRegister(m.requests, m.durations, m.failures, m.starts, m.restarts, m.deaths, m.culls)
	if opts.KernelStatuses != nil {
		m.reg.MustRegister(kernelGauge{statuses: opts.KernelStatuses})
	}
	if !opts.NoRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry is the registry the collectors are on, for more of them.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats. It does
// no authentication: mount it behind the server's.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest records a finished HTTP request: its method, the route
// pattern that served it (never the raw path, so the number of series stays
// bounded), its status code and how long it took. A streamed response
// (websocket, event stream) is counted but its lifetime is not a latency and
// stays out of the histogram.
func (m *Metrics) ObserveRequest(method, route string, code int, took time.Duration, streamed bool) {
	method = normalMethod(method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	if code >= 500 {
		m.failures.WithLabelValues(method, route).Inc()
	}
	if !streamed {
		m.durations.WithLabelValues(method, route).Observe(took.Seconds())
	}
}

// normalMethod maps methods outside the standard ones to "other": clients
// choose the method, and each one would be a new series.
func normalMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// KernelEvent is a kernel status change, as the kernel manager reports it.
type KernelEvent struct {
	// Kernel is the kernel's id.
	Kernel string
	// Status is the new status ("idle", "busy", "restarting", "dead",
	// "stopped").
	Status string
	// Culled is set on the "stopped" event of a kernel the idle culler
	// shut down.
	Culled bool
	// Final is set on a kernel's last event (stopped, or left dead).
	Final bool
}

// ObserveKernel counts a kernel event: a kernel's first event when it is up
// ("idle" or "busy") is a start, every "restarting" a restart, every change
// to "dead" a death, and a culled "stopped" a cull. Events of one kernel
// must come in order (the kernel manager's OnEvent guarantees it); it does
// not block.
func (m *Metrics) ObserveKernel(e KernelEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, seen := m.last[e.Kernel]
	switch e.Status {
	case "idle", "busy":
		if !seen {
			m.starts.Inc()
		}
	case "restarting":
		m.restarts.Inc()
	case "dead":
		if prev != "dead" {
			m.deaths.Inc()
		}
	case "stopped":
		if e.Culled {
			m.culls.Inc()
		}
	}
	if e.Final {
		delete(m.last, e.Kernel)
		return
	}
	m.last[e.Kernel] = e.Status
}

// kernelGauge reports the kernels by status at scrape time, from the
// manager's own view rather than from events, so it cannot drift.
type kernelGauge struct {
	statuses func() []string
}

var kernelsDesc = prometheus.NewDesc("flowlab_kernels", "Kernels the server runs, by status.", []string{"status"}, nil)

func (g kernelGauge) Describe(ch chan<- *prometheus.Desc) { ch <- kernelsDesc }

func (g kernelGauge) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{}
	for _, s := range KernelStatusesReported {
		counts[s] = 0
	}
	for _, s := range g.statuses() {
		counts[s]++
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(kernelsDesc, prometheus.GaugeValue, float64(n), s)
	}
}
