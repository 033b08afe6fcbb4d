package datasink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
)

// Producer hands records to Kafka; KafkaProducer implements it.
type Producer interface {
	// Produce sends records to topic and returns once the broker
	// acknowledged all of them.
	Produce(ctx context.Context, topic string, records [][]byte) error
}

// DefaultMaxBodyBytes is the largest request body a Handler reads when
// MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 8 << 20

// Handler accepts records for a datasink and produces them to its topic.
// Mount it with the name as a path value:
//
//	mux.Handle("POST /api/datasink/{name}", &datasink.Handler{Producer: p, Authorize: auth})
//
// The body is a JSON object, an array of objects, or objects one per line
// (Content-Type application/json, application/x-ndjson, or none). Answers:
// 202 with {"datasink", "topic", "records"} once Kafka acknowledged every
// record; 401 when Authorize refuses; 400 for a bad name or body, 404 for a
// name Known refuses, 413 over a limit, 415 for another content type, 503
// when Kafka does not acknowledge — each with {"error": reason}. The
// records reach the lake when a Writer consumes the topic.
//
// Its fields must not change once it serves; ServeHTTP is safe for
// concurrent use.
type Handler struct {
	// Producer sends the records.
	Producer Producer
	// Authorize, when set, is called first; an error is answered 401.
	Authorize func(*http.Request) error
	// Known, when set, says which datasink names exist; nil accepts every
	// valid name.
	Known func(name string) bool
	// MaxBodyBytes bounds the body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Limits bound the records of one body.
	Limits Limits
	// Logger receives produce failures; nil discards.
	Logger *slog.Logger
}

// ServeHTTP accepts the records of one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, format string, args ...any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
	}
	if h.Authorize != nil {
		if err := h.Authorize(r); err != nil {
			fail(http.StatusUnauthorized, "unauthorized: %v", err)
			return
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "POST records to /api/datasink/{name}")
		return
	}
	name := r.PathValue("name")
	if err := CheckName(name); err != nil {
		fail(http.StatusBadRequest, "%v", err)
		return
	}
	if h.Known != nil && !h.Known(name) {
		fail(http.StatusNotFound, "no datasink %q is configured", name)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			fail(http.StatusUnsupportedMediaType, "Content-Type %q: %v", ct, err)
			return
		case mt == "application/json", mt == "application/x-ndjson", mt == "application/ndjson", mt == "application/jsonl", mt == "application/json-seq", mt == "text/plain":
		default:
			fail(http.StatusUnsupportedMediaType, "Content-Type %q: send application/json (an object or an array) or application/x-ndjson (one object per line)", mt)
			return
		}
	}
	max := h.MaxBodyBytes
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	body, err := readBody(w, r, max)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(http.StatusRequestEntityTooLarge, "the body is over %d bytes: split it into several requests", max)
			return
		}
		fail(http.StatusBadRequest, "read the body: %v", err)
		return
	}
	recs, err := ParseRecords(body, h.Limits)
	switch {
	case errors.Is(err, ErrTooLarge):
		fail(http.StatusRequestEntityTooLarge, "%v", err)
		return
	case err != nil:
		fail(http.StatusBadRequest, "%v", err)
		return
	}
	topic := Topic(name)
	if len(recs) > 0 {
		if err := h.Producer.Produce(r.Context(), topic, recs); err != nil {
			if h.Logger != nil {
				h.Logger.Warn("datasink produce", "datasink", name, "topic", topic, "records", len(recs), "err", err)
			}
			fail(http.StatusServiceUnavailable, "the records were not stored, send them again later: %v", err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]any{"datasink": name, "topic": topic, "records": len(recs)})
}

func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, max)
	defer rd.Close()
	return io.ReadAll(rd)
}

// TopicPrefix starts the Kafka topic of every datasink.
const TopicPrefix = "datasink."

// Topic returns the Kafka topic of the named datasink.
func Topic(name string) string { return TopicPrefix + name }

// Dataset returns the lake path of the named datasink.
func Dataset(name string) string { return "/appdata/datasink/" + name }

// CheckName returns nil for a usable datasink name: letters, digits, '.',
// '_' and '-', starting with a letter or digit, at most 128 bytes (it names
// a lake folder and a Kafka topic). The error wraps ErrBadName.
func CheckName(name string) error {
	ok := name != "" && len(name) <= 128 && alnum(name[0])
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = alnum(c) || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%w %q: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 128), for example DEVWKS-2612", ErrBadName, name)
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
