package httpapi

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// RequestObserver records finished requests (metrics.Metrics has it): the
// method, the route pattern that matched (never the raw path), the status
// code, the time taken, and whether the response was a stream (a websocket
// or an event stream) whose lifetime is no latency. It must not block.
type RequestObserver interface {
	ObserveRequest(method, route string, code int, took time.Duration, streamed bool)
}

// metricsPattern is where Options.Metrics is served, behind the token like
// every other route: Prometheus sends it as a bearer token
// (authorization.credentials in a scrape config).
const metricsPattern = "GET /metrics"

// unmatchedRoute is the route label of requests no route matched.
const unmatchedRoute = "unmatched"

// instrument mounts Options.Metrics and, with Options.Requests, returns the
// handler that reports every request to it; api is the mux of the
// authenticated routes, asked for the pattern a request matches.
func (s *Server) instrument(api *http.ServeMux) http.Handler {
	if s.opts.Metrics != nil {
		s.mux.Handle(metricsPattern, s.authenticate(s.opts.Metrics))
	}
	if s.opts.Requests == nil {
		return s.mux
	}
	obs := s.opts.Requests
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.opts.Now()
		route := s.route(api, r) // before the handlers: they may change r
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			code := sw.code
			if p := recover(); p != nil {
				// net/http answers a panicking handler with a broken
				// connection; count it as the failure it is, and let
				// net/http log it.
				obs.ObserveRequest(r.Method, route, http.StatusInternalServerError, s.opts.Now().Sub(start), false)
				panic(p)
			}
			if code == 0 {
				code = http.StatusOK // nothing written: net/http sends 200
			}
			obs.ObserveRequest(r.Method, route, code, s.opts.Now().Sub(start), sw.streamed)
		}()
		s.mux.ServeHTTP(sw, r)
	})
}

// route is the pattern r matches, without its method ("/api/apps/{id}"):
// the authenticated routes' own pattern even when the request is refused
// before reaching them (a 401 still names its route), else the server's.
func (s *Server) route(api *http.ServeMux, r *http.Request) string {
	_, pattern := api.Handler(r)
	if pattern == "" {
		if _, p := s.mux.Handler(r); p == metricsPattern {
			pattern = p
		}
	}
	if pattern == "" {
		return unmatchedRoute
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// statusWriter remembers the status code a handler sends and whether the
// response became a stream. It passes Flush and Hijack through, so event
// streams and websockets work behind it.
type statusWriter struct {
	http.ResponseWriter
	code     int
	streamed bool
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx other than 101 are informational: the final status comes later.
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush marks the response a stream: a handler flushes to send events as
// they come.
func (w *statusWriter) Flush() {
	w.streamed = true
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection to a websocket.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("httpapi: the connection cannot be hijacked")
	}
	w.streamed = true
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher  = (*statusWriter)(nil)
	_ http.Hijacker = (*statusWriter)(nil)
)
