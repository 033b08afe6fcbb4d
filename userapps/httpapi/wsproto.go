package httpapi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flowlab/flowlab/kernel/jupyter"
)

// ProtocolV1 is the websocket subprotocol of Jupyter Server's binary kernel
// message framing. Without it (no subprotocol offered, or none accepted)
// the default protocol is spoken: JSON text frames, and a binary framing
// with 32-bit offsets for messages that carry buffers.
const ProtocolV1 = "v1.kernel.websocket.jupyter.org"

// ErrBadFrame is wrapped by the errors of websocket frames that do not
// decode to a kernel message.
var ErrBadFrame = errors.New("bad kernel websocket frame")

// wsMessage is a kernel message in the default protocol's JSON form. msg_id
// and msg_type repeat the header's, as Jupyter Server sends them.
type wsMessage struct {
	Header       jupyter.Header  `json:"header"`
	MsgID        string          `json:"msg_id,omitempty"`
	MsgType      string          `json:"msg_type,omitempty"`
	ParentHeader jupyter.Header  `json:"parent_header"`
	Metadata     json.RawMessage `json:"metadata"`
	Content      json.RawMessage `json:"content"`
	Buffers      []any           `json:"buffers"`
	Channel      string          `json:"channel"`
}

// frameKind says whether a websocket frame is text or binary.
type frameKind int

const (
	textFrame frameKind = iota
	binaryFrame
)

// decodeFrame decodes one websocket frame from a browser into a message for
// the kernel, in the negotiated protocol (v1 or default), and checks that a
// browser may send it.
func decodeFrame(v1 bool, kind frameKind, data []byte) (*jupyter.Message, error) {
	m, err := decodeMessage(v1, kind, data)
	if err != nil {
		return nil, err
	}
	if err := checkMessage(m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeMessage decodes one websocket frame in either direction.
func decodeMessage(v1 bool, kind frameKind, data []byte) (*jupyter.Message, error) {
	if v1 {
		if kind != binaryFrame {
			return nil, fmt.Errorf("%w: the %s protocol sends binary frames, got text", ErrBadFrame, ProtocolV1)
		}
		return decodeV1(data)
	}
	if kind == textFrame {
		return decodeJSON(data, nil)
	}
	return decodeDefaultBinary(data)
}

// encodeFrame encodes a message from the kernel for a browser.
func encodeFrame(v1 bool, m *jupyter.Message) (frameKind, []byte, error) {
	if v1 {
		return binaryFrame, encodeV1(m), nil
	}
	js, err := encodeJSON(m)
	if err != nil {
		return 0, nil, err
	}
	if len(m.Buffers) == 0 {
		return textFrame, js, nil
	}
	return binaryFrame, encodeDefaultBinary(js, m.Buffers), nil
}

func decodeJSON(data []byte, buffers [][]byte) (*jupyter.Message, error) {
	var w wsMessage
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	ch, err := jupyter.ParseChannel(w.Channel)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return &jupyter.Message{Header: w.Header, ParentHeader: w.ParentHeader, Metadata: w.Metadata, Content: w.Content, Buffers: buffers, Channel: ch}, nil
}

func encodeJSON(m *jupyter.Message) ([]byte, error) {
	w := wsMessage{
		Header: m.Header, MsgID: m.Header.MsgID, MsgType: m.Header.MsgType,
		ParentHeader: m.ParentHeader, Metadata: object(m.Metadata), Content: object(m.Content),
		Buffers: []any{}, Channel: m.Channel.String(),
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode %s for the websocket: %w", m.Header.MsgType, err)
	}
	return b, nil
}

// object returns b, or {} when b is empty.
func object(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// checkMessage rejects messages the kernel must not receive: no type or id,
// or a channel a browser cannot send on.
func checkMessage(m *jupyter.Message) error {
	if m.Header.MsgID == "" || m.Header.MsgType == "" {
		return fmt.Errorf("%w: the header needs msg_id and msg_type", ErrBadFrame)
	}
	switch m.Channel {
	case jupyter.Shell, jupyter.Control, jupyter.Stdin:
		return nil
	}
	return fmt.Errorf("%w: a browser sends on shell, control or stdin, not %s", ErrBadFrame, m.Channel)
}

// Default protocol, binary form: a big-endian uint32 count n, then n uint32
// offsets (the JSON message first, then each buffer), then the parts.
func decodeDefaultBinary(data []byte) (*jupyter.Message, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the part count", ErrBadFrame, len(data))
	}
	n := binary.BigEndian.Uint32(data)
	if n == 0 || uint64(n) > uint64(len(data)-4)/4 {
		return nil, fmt.Errorf("%w: %d parts do not fit in %d bytes", ErrBadFrame, n, len(data))
	}
	offsets := make([]int, n+1)
	for i := range n {
		offsets[i] = int(binary.BigEndian.Uint32(data[4+4*i:]))
	}
	offsets[n] = len(data)
	parts, err := split(data, offsets, 4+4*int(n))
	if err != nil {
		return nil, err
	}
	return decodeJSON(parts[0], parts[1:])
}

func encodeDefaultBinary(js []byte, buffers [][]byte) []byte {
	n := 1 + len(buffers)
	head := 4 + 4*n
	size := head + len(js)
	for _, b := range buffers {
		size += len(b)
	}
	out := make([]byte, head, size)
	binary.BigEndian.PutUint32(out, uint32(n))
	off := head
	binary.BigEndian.PutUint32(out[4:], uint32(off))
	off += len(js)
	for i, b := range buffers {
		binary.BigEndian.PutUint32(out[8+4*i:], uint32(off))
		off += len(b)
	}
	out = append(out, js...)
	for _, b := range buffers {
		out = append(out, b...)
	}
	return out
}

// v1 protocol: a little-endian uint64 count k, then k uint64 offsets; parts
// between consecutive offsets are channel, header, parent_header, metadata,
// content and buffers, and the last offset is the frame's length.
func decodeV1(data []byte) (*jupyter.Message, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the offset count", ErrBadFrame, len(data))
	}
	k := binary.LittleEndian.Uint64(data)
	if k < 6 || k > uint64(len(data)-8)/8 {
		return nil, fmt.Errorf("%w: %d offsets (at least 6: channel, header, parent_header, metadata, content, end) in %d bytes", ErrBadFrame, k, len(data))
	}
	offsets := make([]int, k)
	for i := range k {
		o := binary.LittleEndian.Uint64(data[8+8*i:])
		if o > uint64(len(data)) {
			return nil, fmt.Errorf("%w: offset %d beyond the frame's %d bytes", ErrBadFrame, o, len(data))
		}
		offsets[i] = int(o)
	}
	if offsets[k-1] != len(data) {
		return nil, fmt.Errorf("%w: the last offset is %d, the frame has %d bytes", ErrBadFrame, offsets[k-1], len(data))
	}
	parts, err := split(data, offsets, 8+8*int(k))
	if err != nil {
		return nil, err
	}
	ch, err := jupyter.ParseChannel(string(parts[0]))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	m := &jupyter.Message{Channel: ch}
	if err := json.Unmarshal(parts[1], &m.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadFrame, err)
	}
	if err := json.Unmarshal(parts[2], &m.ParentHeader); err != nil {
		return nil, fmt.Errorf("%w: parent_header: %v", ErrBadFrame, err)
	}
	for i, dst := range []*json.RawMessage{&m.Metadata, &m.Content} {
		part := parts[3+i]
		if !json.Valid(part) || bytes.TrimSpace(part)[0] != '{' {
			return nil, fmt.Errorf("%w: %s is not a JSON object", ErrBadFrame, [...]string{"metadata", "content"}[i])
		}
		*dst = json.RawMessage(bytes.Clone(part))
	}
	for _, b := range parts[5:] {
		m.Buffers = append(m.Buffers, bytes.Clone(b))
	}
	return m, nil
}

func encodeV1(m *jupyter.Message) []byte {
	hdr, _ := m.Header.MarshalJSON()
	parent, _ := m.ParentHeader.MarshalJSON()
	parts := [][]byte{[]byte(m.Channel.String()), hdr, parent, object(m.Metadata), object(m.Content)}
	parts = append(parts, m.Buffers...)
	k := len(parts) + 1
	head := 8 + 8*k
	size := head
	for _, p := range parts {
		size += len(p)
	}
	out := make([]byte, head, size)
	binary.LittleEndian.PutUint64(out, uint64(k))
	off := head
	for i, p := range parts {
		binary.LittleEndian.PutUint64(out[8+8*i:], uint64(off))
		off += len(p)
	}
	binary.LittleEndian.PutUint64(out[8+8*(k-1):], uint64(off))
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// split cuts data at offsets (ascending, the first at least start, the last
// the end of data) into parts.
func split(data []byte, offsets []int, start int) ([][]byte, error) {
	parts := make([][]byte, 0, len(offsets)-1)
	prev := start
	for i := 0; i+1 < len(offsets); i++ {
		a, b := offsets[i], offsets[i+1]
		if a < prev || b < a || b > len(data) {
			return nil, fmt.Errorf("%w: part %d spans bytes %d to %d of %d (offsets must ascend after the offset table)", ErrBadFrame, i, a, b, len(data))
		}
		parts = append(parts, data[a:b])
		prev = b
	}
	return parts, nil
}
