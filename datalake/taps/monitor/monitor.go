// Package monitor streams a tap's messages to browsers as server-sent
// events: the proctor screen of a workshop shows the Alerts tap as messages
// arrive. The server mounts the Handler and supplies authentication.
package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowlab/flowlab/datalake/taps"
)

// Source reads taps; *taps.Set implements it.
type Source interface {
	// Names lists the tap names.
	Names() []string
	// Tail calls fn with each message of the tap from offset from, in
	// arrival order, until ctx ends (returning nil) or fn fails.
	Tail(ctx context.Context, tap string, from int64, fn func(taps.Message) error) error
}

var _ Source = (*taps.Set)(nil)

// Handler streams one tap as server-sent events. Mount it with the tap as a
// path value:
//
//	mux.Handle("GET /api/taps/{tap}/events", &monitor.Handler{Source: set, Authorize: auth})
//
// The query parameter from picks the first message: oldest, newest (the
// default: only new messages) or an offset. A reconnecting EventSource
// sends Last-Event-ID and resumes after it. Each message is an event
// "message" whose id is its offset and whose data is the JSON of a
// taps.Message; a failure after the stream started is an event "error"
// with {"error": "..."}, and the stream ends. Before the stream starts, a
// refused request gets 401, an unknown tap 404 and a bad offset 400, each
// with a reason in the body.
//
// Its fields must not change once it serves; ServeHTTP is safe for
// concurrent use.
type Handler struct {
	// Source reads the taps.
	Source Source
	// Authorize, when set, is called before anything else; an error is
	// answered 401 with its message.
	Authorize func(*http.Request) error
	// Heartbeat is how often a comment line keeps idle connections (and
	// proxies) open; zero means 15 s.
	Heartbeat time.Duration
	// Logger receives stream failures; nil discards.
	Logger *slog.Logger
}

// ServeHTTP streams the tap named by the path value "tap" (or the query
// parameter tap).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Authorize != nil {
		if err := h.Authorize(r); err != nil {
			http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
			return
		}
	}
	tap := r.PathValue("tap")
	if tap == "" {
		tap = r.URL.Query().Get("tap")
	}
	names := h.Source.Names()
	if !contains(names, tap) {
		http.Error(w, fmt.Sprintf("unknown tap %q: the taps are %s", tap, strings.Join(names, ", ")), http.StatusNotFound)
		return
	}
	from, err := taps.ParseOffset(r.URL.Query().Get("from"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, fmt.Sprintf("Last-Event-ID %q is not an offset", id), http.StatusBadRequest)
			return
		}
		from = n + 1
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported by this connection", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var mu sync.Mutex
	write := func(s string) error {
		mu.Lock()
		defer mu.Unlock()
		if _, err := fmt.Fprint(w, s); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	if err := write(": streaming tap " + tap + "\n\n"); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	beat := h.Heartbeat
	if beat <= 0 {
		beat = 15 * time.Second
	}
	// The heartbeat must be gone before ServeHTTP returns: the
	// ResponseWriter is not usable after that.
	var beating sync.WaitGroup
	defer beating.Wait()
	defer cancel()
	beating.Add(1)
	go func() {
		defer beating.Done()
		t := time.NewTicker(beat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if write(": keep-alive\n\n") != nil {
					cancel()
					return
				}
			}
		}
	}()
	err = h.Source.Tail(ctx, tap, from, func(m taps.Message) error {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return write(fmt.Sprintf("event: message\nid: %d\ndata: %s\n\n", m.Offset, b))
	})
	if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		if h.Logger != nil {
			h.Logger.Warn("tap monitor stream ended", "tap", tap, "err", err)
		}
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		_ = write(fmt.Sprintf("event: error\ndata: %s\n\n", b))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
