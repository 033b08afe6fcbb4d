// Package httpapi is flowlab's HTTP side: the Jupyter Server REST API
// (/api/contents, /api/kernels, /api/sessions, /api/kernelspecs) and the
// kernel websocket, so JupyterLab, VS Code and @jupyterlab/services attach
// to flowlab as to a Jupyter server; with authentication by token (header,
// query or cookie with XSRF protection) and per-user authorization.
//
// Errors map to statuses in one place (Server.fail): userapps.ErrNotFound
// 404, ErrInvalid 400, ErrConflict 409, ErrForbidden 403,
// ErrUnauthenticated 401, a body beyond its limit 413, a kernel that went
// away during the request (jupyter.ErrClosed) 409, anything else 500;
// bodies are Jupyter's {"message": ..., "reason": ...}.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
)

// Options configures a Server. Users and Contents are required.
type Options struct {
	// Users authenticates tokens.
	Users Users
	// Contents holds the notebooks and files of the contents API.
	Contents userapps.NotebookStore
	// Kernels runs kernels; nil serves a server without kernels.
	Kernels Kernels
	// Specs are the kernelspecs offered, the default first.
	Specs []KernelSpec
	// OriginPatterns are Origin host patterns allowed to open kernel
	// websockets besides the server's own origin (e.g. "lab.example.org").
	OriginPatterns []string
	// Apps and AppStore serve the REST API for apps (/api/apps); nil
	// leaves it out.
	Apps     Apps
	AppStore AppReader
	// Schedules and ScheduleStore serve schedules and runs
	// (/api/apps/{id}/schedules, /api/apps/{id}/runs) when Apps is set too;
	// RunNotebooks serves runs' executed notebooks.
	Schedules     Schedules
	ScheduleStore ScheduleReader
	RunNotebooks  RunNotebooks
	// UserStore serves user management (/api/users, admins only); nil
	// leaves it out.
	UserStore userapps.UserStore
	// Examples are the notebooks new apps can start from.
	Examples []Example
	// Handlers are more routes (ServeMux pattern → handler) served behind
	// the same authentication: the tap monitor, the datasink endpoint.
	Handlers map[string]http.Handler
	// Metrics, if set, is served at GET /metrics behind the same
	// authentication (Prometheus sends the token as a bearer token).
	Metrics http.Handler
	// Requests, if set, sees every finished request (route pattern,
	// status, duration): the request metrics.
	Requests RequestObserver
	// UI, if set, is the web UI: served without authentication for the
	// requests no API route takes (its pages carry no data; their scripts
	// call the API); it answers the methods it serves. A page opened with ?token=T logs the
	// browser in first (see Server.browserLogin). Nil serves no pages.
	UI http.Handler
	// Version is reported by GET /api.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives request errors; nil discards.
	Logger *slog.Logger
}

// Server serves the API. Create it with New; it is an http.Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	root    http.Handler // mux, instrumented when Options.Requests is set
	started time.Time
	reg     kernelRegistry
}

// New returns a Server with every route registered.
func New(opts Options) (*Server, error) {
	if opts.Users == nil || opts.Contents == nil {
		return nil, errors.New("httpapi: Options.Users and Options.Contents are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.started = opts.Now().UTC()
	s.reg.sessions = map[string]*session{}
	s.reg.connections = map[string]int{}
	api := http.NewServeMux()
	api.HandleFunc("GET /api", s.getVersion)
	api.HandleFunc("GET /api/{$}", s.getVersion)
	api.HandleFunc("GET /api/status", s.getStatus)
	s.contentsRoutes(api)
	s.kernelRoutes(api)
	if opts.Apps != nil && opts.AppStore != nil {
		s.appRoutes(api)
		if opts.Schedules != nil && opts.ScheduleStore != nil {
			s.scheduleRoutes(api)
		}
	}
	if opts.UserStore != nil {
		s.userRoutes(api)
	}
	for pattern, h := range opts.Handlers {
		api.Handle(pattern, h)
	}
	s.mux.Handle("/api/", s.authenticate(api))
	s.mux.Handle("/api", s.authenticate(api))
	s.mux.Handle("/kernelspecs/", s.authenticate(api))
	s.mux.HandleFunc("POST /login", s.h(s.login))
	s.mux.HandleFunc("POST /logout", s.logout)
	if opts.UI != nil {
		s.mux.Handle("/", s.browserLogin(opts.UI))
	}
	s.root = s.instrument(api)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.root.ServeHTTP(w, r)
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"version": s.opts.Version})
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	kernels := s.visibleKernels(r)
	last := s.started
	for _, k := range kernels {
		if t := k.LastActivity(); t.After(last) {
			last = t
		}
	}
	// Only the connections of kernels the user may see: the status must
	// not tell one user how busy the others are.
	s.reg.mu.Lock()
	conns := 0
	for _, k := range kernels {
		conns += s.reg.connections[k.ID()]
	}
	s.reg.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]any{
		"started":       isoTime(s.started),
		"last_activity": isoTime(last),
		"connections":   conns,
		"kernels":       len(kernels),
	})
}

// isoTime formats t as Jupyter does (ISO 8601, UTC, microseconds).
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func (s *Server) newID() string { return uuid.NewString() }

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Warn("write response", "err", err)
	}
}

// fail answers with the status err maps to and Jupyter's error body.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	reason := "Internal Server Error"
	switch {
	case errors.Is(err, userapps.ErrUnauthenticated):
		status, reason = http.StatusUnauthorized, "Unauthorized"
	case errors.Is(err, userapps.ErrForbidden):
		status, reason = http.StatusForbidden, "Forbidden"
	case errors.Is(err, userapps.ErrNotFound):
		status, reason = http.StatusNotFound, "Not Found"
	case errors.Is(err, userapps.ErrInvalid):
		status, reason = http.StatusBadRequest, "Bad Request"
	case errors.Is(err, userapps.ErrConflict):
		status, reason = http.StatusConflict, "Conflict"
	case errors.Is(err, errTooLarge):
		status, reason = http.StatusRequestEntityTooLarge, "Request Entity Too Large"
	case errors.Is(err, jupyter.ErrClosed):
		// The kernel was shut down or died while the request used it.
		status, reason = http.StatusConflict, "Conflict"
		err = fmt.Errorf("the kernel went away during the request (shut down or died): %w", err)
	}
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.writeJSON(w, status, map[string]string{"message": err.Error(), "reason": reason})
}

// h adapts a handler that returns its error: the error is answered by fail,
// the one place errors become statuses.
func (s *Server) h(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}
