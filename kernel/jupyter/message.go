package jupyter

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Delimiter separates the routing identities from the message frames.
const Delimiter = "<IDS|MSG>"

var emptyObject = []byte("{}")

// Message is one Jupyter message.
//
// Decoded messages alias the frames they were decoded from: treat their
// byte slices as read-only. A Message is not safe for concurrent mutation;
// once built, it may be read (and sent) from several goroutines.
type Message struct {
	// Identities are the ZeroMQ routing frames before the delimiter. On a
	// kernel's ROUTER socket the first is the sending peer's identity, and a
	// reply must carry them unchanged (NewReply copies them). On iopub they
	// are the topic.
	Identities [][]byte
	Header     Header
	// ParentHeader is the header of the request this message answers, zero
	// for a message that answers nothing.
	ParentHeader Header
	// Metadata and Content are JSON objects; nil encodes as {}.
	Metadata json.RawMessage
	Content  json.RawMessage
	// Buffers are raw binary frames after the content (comms, widgets).
	Buffers [][]byte
	// Channel is the channel a received message arrived on; Server and
	// Client set it, encoders ignore it.
	Channel Channel
}

// Type returns the message type (Header.MsgType).
func (m *Message) Type() string { return m.Header.MsgType }

// ParentID returns the msg_id of the request this message answers, "" if none.
func (m *Message) ParentID() string { return m.ParentHeader.MsgID }

// DecodeContent unmarshals the content into v. Errors wrap ErrMalformed.
func (m *Message) DecodeContent(v any) error {
	c := m.Content
	if len(c) == 0 {
		c = emptyObject
	}
	if err := json.Unmarshal(c, v); err != nil {
		return fmt.Errorf("%w: %s content: %w", ErrMalformed, m.Header.MsgType, err)
	}
	return nil
}

// String summarizes the message for logs and test failures.
func (m *Message) String() string {
	return fmt.Sprintf("%s %s id=%s parent=%s content=%.200s", m.Channel, m.Header.MsgType, m.Header.MsgID, m.ParentHeader.MsgID, m.Content)
}

func orEmpty(b []byte) []byte {
	if len(b) == 0 {
		return emptyObject
	}
	return b
}

// EncodeFrames returns the wire frames of m: identities, delimiter, signature
// (computed with s; empty when s is nil or has no key), header,
// parent_header, metadata, content, buffers. The JSON frames are freshly
// allocated; identities and buffers alias m's. Safe for concurrent use.
func EncodeFrames(m *Message, s *Signer) [][]byte {
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	h := appendHeaderJSON(nil, &m.Header)
	p := appendHeaderJSON(nil, &m.ParentHeader)
	md, c := orEmpty(m.Metadata), orEmpty(m.Content)
	sig := s.AppendSignature(nil, h, p, md, c)
	frames = append(frames, []byte(Delimiter), sig, h, p, md, c)
	return append(frames, m.Buffers...)
}

// DecodeFrames parses and verifies a multipart message. The returned Message
// aliases frames. It checks the signature with s (a nil or key-less s checks
// nothing) before parsing any JSON, so unauthenticated input is never parsed.
//
// It returns errors wrapping ErrNoDelimiter (no "<IDS|MSG>" frame),
// ErrBadSignature (missing or wrong signature) or ErrMalformed (fewer than
// five frames after the delimiter, a header without msg_id or msg_type, or a
// parent header, metadata or content that is not a JSON object). Safe for
// concurrent use.
func DecodeFrames(frames [][]byte, s *Signer) (*Message, error) {
	m, _, err := decodeFrames(frames, s)
	return m, err
}

// decodeFrames is DecodeFrames that also returns the signature frame, for the
// replay check.
func decodeFrames(frames [][]byte, s *Signer) (*Message, []byte, error) {
	delim := -1
	for i, f := range frames {
		if string(f) == Delimiter {
			delim = i
			break
		}
	}
	if delim < 0 {
		return nil, nil, fmt.Errorf("%w (%d frames)", ErrNoDelimiter, len(frames))
	}
	rest := frames[delim+1:]
	if len(rest) < 5 {
		return nil, nil, fmt.Errorf("%w: %d frames after the delimiter, want at least 5 (signature, header, parent_header, metadata, content)", ErrMalformed, len(rest))
	}
	sig, h, p, md, c := rest[0], rest[1], rest[2], rest[3], rest[4]
	if err := s.Verify(sig, h, p, md, c); err != nil {
		return nil, nil, err
	}
	m := &Message{Metadata: md, Content: c}
	if delim > 0 {
		m.Identities = frames[:delim:delim]
	}
	if len(rest) > 5 {
		m.Buffers = rest[5:]
	}
	if err := parseHeader(h, &m.Header); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if m.Header.MsgID == "" || m.Header.MsgType == "" {
		return nil, nil, fmt.Errorf("%w: header lacks msg_id or msg_type: %.200s", ErrMalformed, h)
	}
	if err := parseHeader(p, &m.ParentHeader); err != nil {
		return nil, nil, fmt.Errorf("%w: parent_header: %w", ErrMalformed, err)
	}
	if !isJSONObject(md) {
		return nil, nil, fmt.Errorf("%w: metadata is not a JSON object: %.200s", ErrMalformed, md)
	}
	if !isJSONObject(c) {
		return nil, nil, fmt.Errorf("%w: content is not a JSON object: %.200s", ErrMalformed, c)
	}
	return m, sig, nil
}

// isJSONObject reports whether b is one valid JSON object.
func isJSONObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	if bytes.Equal(b, emptyObject) {
		return true
	}
	return json.Valid(b)
}
