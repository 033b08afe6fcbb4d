package jupyter

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// ProtocolVersion is the Jupyter messaging protocol version this package
// speaks and stamps on every new message.
const ProtocolVersion = "5.3"

// DateLayout is the header date format: ISO 8601 in UTC with microseconds and
// a "Z", as jupyter_client writes it.
const DateLayout = "2006-01-02T15:04:05.000000Z"

// Header is a message header (and, in a reply, its parent header).
//
// Fields other than these six are not kept: decoding ignores them and
// encoding writes exactly these. The zero Header encodes as {}, the parent
// header of a message that answers nothing.
type Header struct {
	MsgID    string `json:"msg_id"`
	MsgType  string `json:"msg_type"`
	Username string `json:"username"`
	Session  string `json:"session"`
	// Date is kept as sent (ISO 8601); Time parses it.
	Date    string `json:"date"`
	Version string `json:"version"`
}

// IsZero reports whether h is the empty header ({}).
func (h Header) IsZero() bool { return h == Header{} }

// Time parses Date. Peers send ISO 8601 with or without fraction and zone
// (a missing zone means UTC, as jupyter_client assumes).
func (h Header) Time() (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, h.Date); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: header date %q is not ISO 8601", ErrMalformed, h.Date)
}

// MarshalJSON encodes h as the protocol does: the six fields in
// jupyter_client's order, or {} for the zero Header (an empty parent
// header). It never fails.
func (h Header) MarshalJSON() ([]byte, error) { return appendHeaderJSON(nil, &h), nil }

// UnmarshalJSON decodes a header object; keys match exactly and unknown ones
// are ignored, null is a no-op. Errors wrap ErrMalformed.
func (h *Header) UnmarshalJSON(b []byte) error {
	if string(b) == "null" { // encoding/json's convention: null leaves h alone
		return nil
	}
	if err := parseHeader(b, h); err != nil {
		return fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	return nil
}

// appendHeaderJSON appends h as a JSON object, fields in jupyter_client's
// order. The zero Header is {}.
func appendHeaderJSON(dst []byte, h *Header) []byte {
	if h.IsZero() {
		return append(dst, "{}"...)
	}
	dst = append(dst, `{"msg_id":`...)
	dst = appendJSONString(dst, h.MsgID)
	dst = append(dst, `,"msg_type":`...)
	dst = appendJSONString(dst, h.MsgType)
	dst = append(dst, `,"username":`...)
	dst = appendJSONString(dst, h.Username)
	dst = append(dst, `,"session":`...)
	dst = appendJSONString(dst, h.Session)
	dst = append(dst, `,"date":`...)
	dst = appendJSONString(dst, h.Date)
	dst = append(dst, `,"version":`...)
	dst = appendJSONString(dst, h.Version)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// parseHeader decodes a header object. Keys match exactly (the protocol is
// case-sensitive, unlike encoding/json's struct matching); the last of
// duplicate keys wins; unknown keys are ignored; a known key with a non-string
// value other than null is an error.
//
// The common case, a flat object of plain strings, is scanned by hand without
// reflection; anything else (escapes, non-string values, non-ASCII that needs
// validation) takes the encoding/json path, which gives the same result.
func parseHeader(b []byte, h *Header) error {
	*h = Header{}
	if parseHeaderFast(b, h) {
		return nil
	}
	*h = Header{}
	return parseHeaderSlow(b, h)
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// scanPlainString scans a JSON string at b[i] that has no escapes and only
// printable ASCII, returning its contents and the index after the closing
// quote.
func scanPlainString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// headerField returns the Header field for a key, nil for unknown keys.
func headerField(h *Header, key []byte) *string {
	switch string(key) { // no allocation: the compiler optimizes string(bytes) in switch
	case "msg_id":
		return &h.MsgID
	case "msg_type":
		return &h.MsgType
	case "username":
		return &h.Username
	case "session":
		return &h.Session
	case "date":
		return &h.Date
	case "version":
		return &h.Version
	}
	return nil
}

// internStrings avoids allocating the values every message repeats.
func internString(b []byte) string {
	switch string(b) {
	case ProtocolVersion:
		return ProtocolVersion
	case "status":
		return "status"
	case "stream":
		return "stream"
	case "execute_request":
		return "execute_request"
	case "execute_reply":
		return "execute_reply"
	case "execute_input":
		return "execute_input"
	case "execute_result":
		return "execute_result"
	case "display_data":
		return "display_data"
	case "kernel_info_request":
		return "kernel_info_request"
	case "kernel_info_reply":
		return "kernel_info_reply"
	case "username":
		return "username"
	}
	return string(b)
}

func parseHeaderFast(b []byte, h *Header) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, next, ok := scanPlainString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		val, next, ok := scanPlainString(b, i)
		if !ok {
			return false
		}
		if f := headerField(h, key); f != nil {
			*f = internString(val)
		}
		i = skipSpace(b, next)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func parseHeaderSlow(b []byte, h *Header) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	if fields == nil { // the JSON was null
		return fmt.Errorf("header is null, want an object")
	}
	for k, raw := range fields {
		f := headerField(h, []byte(k))
		if f == nil {
			continue
		}
		if err := json.Unmarshal(raw, f); err != nil {
			return fmt.Errorf("header field %q: %w", k, err)
		}
	}
	return nil
}
