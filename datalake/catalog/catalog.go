// Package catalog serves the lake's catalog over HTTP, read-only: the
// datasets, their hours with row counts and sizes, their schemas, a preview
// of their first rows, and the datasinks with their newest hour. The web
// UI's Data Platform page and App Options panel call it. The server mounts
// the routes behind its authentication (docs/api.md, "The lake").
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowlab/flowlab/datalake"
)

// Lake is what the catalog reads; *datalake.Lake implements it.
type Lake interface {
	// Datasets lists the datasets, sorted by path.
	Datasets() ([]datalake.DatasetSummary, error)
	// Describe returns a dataset's hours with sizes and row counts,
	// stopping when ctx ends.
	Describe(ctx context.Context, path string) (datalake.DatasetInfo, error)
	// SchemaOf returns the columns of one hour of a dataset, stopping when
	// ctx ends.
	SchemaOf(ctx context.Context, path, format, hour string) (datalake.Preview, error)
	// Preview returns the first rows of one hour of a dataset, stopping
	// when ctx ends.
	Preview(ctx context.Context, path, format, hour string, limit int) (datalake.Preview, error)
}

var _ Lake = (*datalake.Lake)(nil)

// DatasinkRoot is the lake folder under which datasinks write, one dataset
// per datasink (datasink.Dataset).
const DatasinkRoot = "/appdata/datasink/"

// DefaultPreviewRows is how many rows a preview has when the request does
// not say.
const DefaultPreviewRows = 20

// DefaultMaxQueries is how many catalog requests that use the lake's
// engine (dataset, schema, preview) run at once when Handler.MaxQueries is
// not set; others wait for a turn.
const DefaultMaxQueries = 2

// ErrBusy means a catalog request gave up waiting for its turn at the
// engine: its context ended while other catalog queries ran.
var ErrBusy = errors.New("the lake catalog is busy")

// Handler serves the catalog routes (see Routes). Safe for concurrent use.
type Handler struct {
	// Lake is the lake browsed. Nil answers every route with 503 and a
	// message saying the server has no lake.
	Lake Lake
	// Datasinks, if set, names the datasinks the server accepts, so one
	// that has not written yet is listed too (without a newest hour).
	Datasinks func() []string
	// Logger receives the errors answered with 500; nil discards.
	Logger *slog.Logger
	// MaxQueries bounds the requests using the engine at once (0:
	// DefaultMaxQueries). A request waits for a turn until its context
	// ends, then gets 503 (ErrBusy).
	MaxQueries int

	once sync.Once
	sem  chan struct{}
}

// turn waits for a place among the requests using the engine; call the
// release function it returns when done.
func (h *Handler) turn(ctx context.Context) (release func(), err error) {
	h.once.Do(func() {
		n := h.MaxQueries
		if n < 1 {
			n = DefaultMaxQueries
		}
		h.sem = make(chan struct{}, n)
	})
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %d queries ran while this request waited for its turn (%w); try again in a moment", ErrBusy, cap(h.sem), context.Cause(ctx))
	}
}

// Routes returns the ServeMux patterns and their handlers, for
// httpapi.Options.Handlers.
func (h *Handler) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /api/lake/datasets": http.HandlerFunc(h.datasets),
		"GET /api/lake/dataset":  http.HandlerFunc(h.dataset),
		"GET /api/lake/schema":   http.HandlerFunc(h.schema),
		"GET /api/lake/preview":  http.HandlerFunc(h.preview),
	}
}

// Datasink is a datasink as the catalog lists it.
type Datasink struct {
	// Name is the datasink's name (POST /api/datasink/NAME).
	Name string `json:"name"`
	// Path is its dataset's lake path.
	Path string `json:"path"`
	// Hours counts the hours holding data; Newest is the newest of them
	// (YYYYMMDDHH00, UTC), empty when it has written nothing yet.
	Hours  int    `json:"hours"`
	Newest string `json:"newest"`
}

// Listing is the answer of GET /api/lake/datasets.
type Listing struct {
	Datasets  []datalake.DatasetSummary `json:"datasets"`
	Datasinks []Datasink                `json:"datasinks"`
}

func (h *Handler) datasets(w http.ResponseWriter, r *http.Request) {
	if !h.ready(w) {
		return
	}
	ds, err := h.Lake.Datasets()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := Listing{Datasets: ds, Datasinks: []Datasink{}}
	seen := map[string]bool{}
	for _, d := range ds {
		name, ok := strings.CutPrefix(d.Path, DatasinkRoot)
		if !ok || strings.Contains(name, "/") {
			continue
		}
		seen[name] = true
		out.Datasinks = append(out.Datasinks, Datasink{Name: name, Path: d.Path, Hours: d.Hours, Newest: d.Newest})
	}
	if h.Datasinks != nil {
		for _, name := range h.Datasinks() {
			if !seen[name] {
				out.Datasinks = append(out.Datasinks, Datasink{Name: name, Path: DatasinkRoot + name})
			}
		}
	}
	slices.SortFunc(out.Datasinks, func(a, b Datasink) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) dataset(w http.ResponseWriter, r *http.Request) {
	p, ok := h.path(w, r)
	if !ok {
		return
	}
	release, err := h.turn(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	info, err := h.Lake.Describe(r.Context(), p)
	release()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// Table is the answer of the schema and preview routes: a datalake.Preview
// whose values are JSON-safe: times as RFC 3339 text (DATE columns as
// YYYY-MM-DD), bytes as hex, NaN and infinities and other types as text.
type Table struct {
	Path    string          `json:"path"`
	Format  datalake.Format `json:"format"`
	Hour    string          `json:"hour"`
	Columns []Column        `json:"columns"`
	Rows    [][]any         `json:"rows"`
	Limit   int             `json:"limit,omitempty"`
}

// Column is a column's name and engine type.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func table(pv datalake.Preview) Table {
	t := Table{Path: pv.Path, Format: pv.Format, Hour: pv.Hour, Limit: pv.Limit, Columns: []Column{}, Rows: make([][]any, len(pv.Rows))}
	for _, c := range pv.Columns {
		t.Columns = append(t.Columns, Column{Name: c.Name, Type: c.Type})
	}
	for i, row := range pv.Rows {
		out := make([]any, len(row))
		for j, v := range row {
			if d, ok := v.(time.Time); ok && j < len(pv.Columns) && pv.Columns[j].Type == "DATE" {
				out[j] = d.Format(time.DateOnly)
				continue
			}
			out[j] = jsonValue(v)
		}
		t.Rows[i] = out
	}
	return t
}

// jsonValue turns an engine value into one encoding/json writes faithfully.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return x
	case float32:
		return jsonValue(float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		return fmt.Sprintf("%x", x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	}
	return fmt.Sprint(v)
}

func (h *Handler) schema(w http.ResponseWriter, r *http.Request) {
	p, ok := h.path(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	release, err := h.turn(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pv, err := h.Lake.SchemaOf(r.Context(), p, q.Get("format"), q.Get("hour"))
	release()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, table(pv))
}

func (h *Handler) preview(w http.ResponseWriter, r *http.Request) {
	p, ok := h.path(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := DefaultPreviewRows
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > datalake.MaxPreviewRows {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: ask for 1 to %d rows", v, datalake.MaxPreviewRows))
			return
		}
		limit = n
	}
	release, err := h.turn(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pv, err := h.Lake.Preview(r.Context(), p, q.Get("format"), q.Get("hour"), limit)
	release()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, table(pv))
}

// path returns the request's ?path=, answering 400 when it is missing.
func (h *Handler) path(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !h.ready(w) {
		return "", false
	}
	p := r.URL.Query().Get("path")
	if p == "" {
		writeError(w, http.StatusBadRequest, "no dataset: give its lake path as ?path=, for example ?path="+datalake.FlowsPath+" (GET /api/lake/datasets lists them)")
		return "", false
	}
	return p, true
}

func (h *Handler) ready(w http.ResponseWriter) bool {
	if h.Lake == nil {
		writeError(w, http.StatusServiceUnavailable, "this server has no lake: start it with --lake DIR (or FLOWLAB_LAKE), or --demo")
		return false
	}
	return true
}

// status maps the lake's errors to HTTP statuses.
func status(err error) int {
	switch {
	case errors.Is(err, datalake.ErrPathRefused), errors.Is(err, datalake.ErrBadFormat),
		errors.Is(err, datalake.ErrBadTimeRange), errors.Is(err, datalake.ErrBadArgument):
		return http.StatusBadRequest
	case errors.Is(err, datalake.ErrUnknownPath), errors.Is(err, datalake.ErrNoData):
		return http.StatusNotFound
	case errors.Is(err, datalake.ErrNotConfigured), errors.Is(err, datalake.ErrNoEngine), errors.Is(err, datalake.ErrClosed),
		errors.Is(err, ErrBusy), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := status(err)
	if code == http.StatusInternalServerError && h.Logger != nil {
		h.Logger.Error("lake catalog", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
	}
	writeError(w, code, err.Error())
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
