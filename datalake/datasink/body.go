// Package datasink brings external data into the lake: systems POST JSON
// records to /api/datasink/{name} (or produce them to the datasink's Kafka
// topic), and a consumer group writes them into hour partitions of
// /appdata/datasink/{name}, where cells read them with
// IO.Read(path, "JSON", hour).
package datasink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Sentinel errors; the message around each says what to fix.
var (
	// ErrBadBody means a body or a Kafka message is not a JSON object, an
	// array of objects, or objects one per line.
	ErrBadBody = errors.New("bad datasink body")
	// ErrTooLarge means a body, a record or the number of records is over
	// its limit.
	ErrTooLarge = errors.New("datasink body too large")
	// ErrBadName means a datasink name is not usable (or not configured).
	ErrBadName = errors.New("bad datasink name")
	// ErrUnavailable means the records could not be handed to Kafka.
	ErrUnavailable = errors.New("datasink unavailable")
)

// Limits bound what ParseRecords accepts. Zero fields take the defaults.
type Limits struct {
	// MaxRecords is the most records in one body; zero means 100,000.
	MaxRecords int
	// MaxRecordBytes is the largest record (compacted); zero means 1 MiB.
	MaxRecordBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxRecords <= 0 {
		l.MaxRecords = 100_000
	}
	if l.MaxRecordBytes <= 0 {
		l.MaxRecordBytes = 1 << 20
	}
	return l
}

// ParseRecords splits body into records, each a compact JSON object on one
// line (no newline in it). The body is one object, an array of objects, or
// objects separated by whitespace (NDJSON, one per line). Strings must be
// valid UTF-8. Errors wrap ErrBadBody (naming the record and what is
// wrong) or ErrTooLarge. It is safe for concurrent use.
func ParseRecords(body []byte, limits Limits) ([][]byte, error) {
	limits = limits.withDefaults()
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: the body is empty: send a JSON object, an array of objects, or one object per line", ErrBadBody)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var out [][]byte
	add := func(raw json.RawMessage, what string) error {
		if len(raw) == 0 || raw[0] != '{' {
			return fmt.Errorf("%w: %s is %s, not a JSON object: every record is an object such as {\"host\": \"10.0.0.1\"}", ErrBadBody, what, kind(raw))
		}
		if !utf8.Valid(raw) {
			return fmt.Errorf("%w: %s holds bytes that are not UTF-8: JSON text is UTF-8", ErrBadBody, what)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadBody, what, err)
		}
		if b.Len() > limits.MaxRecordBytes {
			return fmt.Errorf("%w: %s is %d bytes, over the limit of %d", ErrTooLarge, what, b.Len(), limits.MaxRecordBytes)
		}
		if len(out) == limits.MaxRecords {
			return fmt.Errorf("%w: more than %d records in one body: split it", ErrTooLarge, limits.MaxRecords)
		}
		out = append(out, b.Bytes())
		return nil
	}
	if trimmed[0] == '[' {
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadBody, err)
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("%w: array element %d: %v", ErrBadBody, i, err)
			}
			if err := add(raw, fmt.Sprintf("array element %d", i)); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%w: the array does not end: %v", ErrBadBody, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: text after the array: send one array, or objects one per line", ErrBadBody)
		}
		return out, nil
	}
	for i := 0; ; i++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		line := 1 + bytes.Count(trimmed[:dec.InputOffset()], []byte("\n"))
		if err != nil {
			return nil, fmt.Errorf("%w: record %d (line %d): %v", ErrBadBody, i, line, err)
		}
		if err := add(raw, fmt.Sprintf("record %d (line %d)", i, line)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kind names the JSON type of raw for error messages.
func kind(raw []byte) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
