package httpapi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/kernel/jupyter"
)

func sampleMessage(ch jupyter.Channel, buffers ...[]byte) *jupyter.Message {
	return &jupyter.Message{
		Header:       jupyter.Header{MsgID: "m1", MsgType: "execute_request", Username: "ana", Session: "s1", Date: "2026-01-02T13:00:00.000000Z", Version: "5.3"},
		ParentHeader: jupyter.Header{MsgID: "p0", MsgType: "kernel_info_request", Session: "s1", Version: "5.3"},
		Metadata:     json.RawMessage(`{"cellId":"c1"}`),
		Content:      json.RawMessage(`{"code":"1+1","silent":false}`),
		Buffers:      buffers,
		Channel:      ch,
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		for _, bufs := range [][][]byte{nil, {[]byte("abc"), {}, {0, 1, 2}}} {
			m := sampleMessage(jupyter.Shell, bufs...)
			kind, data, err := encodeFrame(v1, m)
			if err != nil {
				t.Fatal(err)
			}
			if want := textFrame; (v1 || len(bufs) > 0) == (kind == want) {
				t.Errorf("v1=%v buffers=%d: frame kind %v", v1, len(bufs), kind)
			}
			got, err := decodeFrame(v1, kind, data)
			if err != nil {
				t.Fatalf("v1=%v buffers=%d: decode: %v", v1, len(bufs), err)
			}
			if len(got.Buffers) == 0 {
				got.Buffers = nil
			}
			want := *m
			if len(want.Buffers) == 0 {
				want.Buffers = nil
			}
			if !reflect.DeepEqual(got.Header, want.Header) || !reflect.DeepEqual(got.ParentHeader, want.ParentHeader) ||
				!bytes.Equal(got.Metadata, want.Metadata) || !bytes.Equal(got.Content, want.Content) ||
				got.Channel != want.Channel || len(got.Buffers) != len(want.Buffers) {
				t.Errorf("v1=%v buffers=%d: round trip\n got %+v\nwant %+v", v1, len(bufs), got, want)
			}
			for i := range want.Buffers {
				if !bytes.Equal(got.Buffers[i], want.Buffers[i]) {
					t.Errorf("buffer %d = %q, want %q", i, got.Buffers[i], want.Buffers[i])
				}
			}
		}
	}
}

// TestV1Layout checks the v1 framing byte by byte, as
// @jupyterlab/services writes and reads it.
func TestV1Layout(t *testing.T) {
	m := &jupyter.Message{Channel: jupyter.IOPub, Header: jupyter.Header{MsgID: "a", MsgType: "status"}, Content: json.RawMessage(`{"execution_state":"idle"}`)}
	data := encodeV1(m)
	k := binary.LittleEndian.Uint64(data)
	if k != 6 {
		t.Fatalf("offset count %d, want 6 (5 parts and the end)", k)
	}
	var offs []uint64
	for i := range k {
		offs = append(offs, binary.LittleEndian.Uint64(data[8+8*i:]))
	}
	if offs[0] != 56 || offs[5] != uint64(len(data)) {
		t.Fatalf("offsets %v for %d bytes", offs, len(data))
	}
	parts := []string{}
	for i := 0; i < 5; i++ {
		parts = append(parts, string(data[offs[i]:offs[i+1]]))
	}
	want := []string{"iopub", `{"msg_id":"a","msg_type":"status","username":"","session":"","date":"","version":""}`, "{}", "{}", `{"execution_state":"idle"}`}
	if !reflect.DeepEqual(parts, want) {
		t.Errorf("parts\n got %q\nwant %q", parts, want)
	}
}

func TestDefaultJSONShape(t *testing.T) {
	m := sampleMessage(jupyter.IOPub)
	m.Header.MsgType = "stream"
	_, data, err := encodeFrame(false, m)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"header", "parent_header", "metadata", "content", "buffers", "channel", "msg_id", "msg_type"} {
		if _, ok := got[k]; !ok {
			t.Errorf("default-protocol message lacks %q: %s", k, data)
		}
	}
	if got["channel"] != "iopub" || got["msg_type"] != "stream" {
		t.Errorf("channel/msg_type: %s", data)
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	v1 := func(parts ...string) []byte {
		k := len(parts) + 1
		head := 8 + 8*k
		out := make([]byte, head)
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
	hdr := `{"msg_id":"x","msg_type":"execute_request"}`
	tests := []struct {
		name string
		v1   bool
		kind frameKind
		data []byte
		want string
	}{
		{"not JSON", false, textFrame, []byte(`{"header":`), "unexpected end"},
		{"unknown channel", false, textFrame, []byte(`{"header":` + hdr + `,"parent_header":{},"metadata":{},"content":{},"channel":"nope"}`), "nope"},
		{"iopub from a browser", false, textFrame, []byte(`{"header":` + hdr + `,"parent_header":{},"metadata":{},"content":{},"channel":"iopub"}`), "not iopub"},
		{"no msg_id", false, textFrame, []byte(`{"header":{"msg_type":"x"},"parent_header":{},"metadata":{},"content":{},"channel":"shell"}`), "msg_id"},
		{"default binary too short", false, binaryFrame, []byte{0, 0}, "shorter"},
		{"default binary count too big", false, binaryFrame, []byte{0, 0, 0, 9, 0, 0, 0, 8}, "do not fit"},
		{"default binary offset before table", false, binaryFrame, []byte{0, 0, 0, 1, 0, 0, 0, 0}, "ascend"},
		{"v1 text frame", true, textFrame, []byte(`{}`), "binary frames"},
		{"v1 too short", true, binaryFrame, []byte{1, 2, 3}, "shorter"},
		{"v1 too few offsets", true, binaryFrame, v1("shell", hdr), "at least 6"},
		{"v1 bad end", true, binaryFrame, append(v1("shell", hdr, "{}", "{}", "{}"), 'x'), "last offset"},
		{"v1 bad channel", true, binaryFrame, v1("nope", hdr, "{}", "{}", "{}"), "nope"},
		{"v1 content not an object", true, binaryFrame, v1("shell", hdr, "{}", "{}", "[1]"), "content is not a JSON object"},
		{"v1 bad header", true, binaryFrame, v1("shell", "{", "{}", "{}", "{}"), "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeFrame(tt.v1, tt.kind, tt.data)
			if !errors.Is(err, ErrBadFrame) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrBadFrame mentioning %q", err, tt.want)
			}
		})
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, v1 := range []bool{false, true} {
		for _, bufs := range [][][]byte{nil, {[]byte("b")}} {
			kind, data, _ := encodeFrame(v1, sampleMessage(jupyter.Shell, bufs...))
			f.Add(v1, kind == binaryFrame, data)
		}
	}
	f.Fuzz(func(t *testing.T, v1, binary bool, data []byte) {
		kind := textFrame
		if binary {
			kind = binaryFrame
		}
		m, err := decodeFrame(v1, kind, data)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error not wrapping ErrBadFrame: %v", err)
			}
			return
		}
		// Whatever decodes re-encodes and decodes to the same message.
		k2, d2, err := encodeFrame(v1, m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeFrame(v1, k2, d2)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if m2.Header != m.Header || m2.ParentHeader != m.ParentHeader || m2.Channel != m.Channel || len(m2.Buffers) != len(m.Buffers) {
			t.Fatalf("re-decoded %+v, want %+v", m2, m)
		}
	})
}
