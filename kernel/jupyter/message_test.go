package jupyter

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixedSession is a Session whose ids and dates are deterministic.
func fixedSession(t testing.TB, key string, id string) *Session {
	t.Helper()
	n := 0
	s, err := NewSession(SessionOptions{
		Key:      []byte(key),
		ID:       id,
		Username: "analyst",
		Now:      func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600)) },
		NewID: func() string {
			n++
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wireBytes returns the ZMTP encoding appendWire produces.
func wireBytes(s *Session, route [][]byte, m *Message) []byte {
	w := &wireWriter{}
	s.appendWire(w, route, m)
	var b []byte
	for _, seg := range w.buffers() {
		b = append(b, seg...)
	}
	return b
}

// readWire parses ZMTP bytes back into frames with the connection reader.
func readWire(t testing.TB, b []byte) [][]byte {
	t.Helper()
	zc := &zconn{br: bufio.NewReader(bytes.NewReader(b)), maxMsg: defaultMaxMessage}
	zm, err := zc.readMsg(nil)
	if err != nil {
		t.Fatalf("readMsg: %v", err)
	}
	return zm.frames
}

func TestGoldenFrames(t *testing.T) {
	client := fixedSession(t, "secret", "client-session")
	kernel := fixedSession(t, "secret", "kernel-session")
	unsigned := fixedSession(t, "", "unsigned-session")

	req, _ := client.NewMessage("execute_request", ExecuteRequest{Code: "fmt.Println(\"héllo\")\n", StoreHistory: true, UserExpressions: map[string]string{}, StopOnError: true})
	// On the kernel side the ROUTER prepends the peer identity.
	req.Identities = [][]byte{[]byte("client-session")}
	reply, _ := kernel.NewReply(req, "execute_reply", ExecuteReply{Status: "ok", ExecutionCount: 1})
	stream, _ := kernel.NewMessage("stream", Stream{Name: "stdout", Text: "héllo\t\"quoted\"\n"})
	stream.ParentHeader = req.Header
	withBuffers, _ := unsigned.NewMessage("comm_msg", json.RawMessage(`{"comm_id":"c1","data":{}}`))
	withBuffers.Buffers = [][]byte{{0, 1, 2, 255}, bytes.Repeat([]byte("B"), 300)}
	withBuffers.Metadata = json.RawMessage(`{"buffer_paths":[["a"],["b"]]}`)

	tests := []struct {
		name  string
		sess  *Session
		route [][]byte // frames before the delimiter on the wire
		m     *Message
	}{
		{"execute_request", client, nil, &Message{Header: req.Header, Content: req.Content}},
		{"execute_reply", kernel, reply.Identities[1:], reply},
		{"iopub_stream", kernel, [][]byte{[]byte("kernel.kernel-session.stream")}, stream},
		{"unsigned_with_buffers", unsigned, nil, withBuffers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := tt.sess.Encode(tt.m)
			wire := wireBytes(tt.sess, tt.route, tt.m)

			var out strings.Builder
			fmt.Fprintf(&out, "# %s: frames as Message encodes them (identities %q)\n", tt.name, tt.m.Identities)
			for i, f := range frames {
				fmt.Fprintf(&out, "frame %d: %q\n", i, f)
			}
			fmt.Fprintf(&out, "# ZMTP bytes on the wire (route %q)\n", tt.route)
			out.WriteString(hex.Dump(wire))
			compareGolden(t, filepath.Join("testdata", tt.name+".golden"), out.String())

			// The wire bytes hold the same frames, after the route.
			got := readWire(t, wire)
			want := append(append([][]byte{}, tt.route...), frames[len(tt.m.Identities):]...)
			if !framesEqual(got, want) {
				t.Errorf("wire frames differ from Encode:\n got %q\nwant %q", got, want)
			}
			// And decode back to the message.
			dec, err := DecodeFrames(frames, tt.sess.Signer())
			if err != nil {
				t.Fatalf("DecodeFrames: %v", err)
			}
			if dec.Header != tt.m.Header || dec.ParentHeader != tt.m.ParentHeader ||
				!bytes.Equal(dec.Content, orEmpty(tt.m.Content)) || !bytes.Equal(dec.Metadata, orEmpty(tt.m.Metadata)) ||
				len(dec.Buffers) != len(tt.m.Buffers) || len(dec.Identities) != len(tt.m.Identities) {
				t.Errorf("round trip:\n got %+v\nwant %+v", dec, tt.m)
			}
		})
	}
}

// framesEqual compares frames, an empty frame being nil or not.
func framesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestNewMessageHeader(t *testing.T) {
	s := fixedSession(t, "k", "sess")
	m, err := s.NewMessage("kernel_info_request", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{MsgID: "00000000-0000-4000-8000-000000000001", MsgType: "kernel_info_request", Username: "analyst",
		Session: "sess", Date: "2024-05-06T05:08:09.123456Z", Version: "5.3"}
	if m.Header != want {
		t.Errorf("header = %+v\nwant %+v", m.Header, want)
	}
	if tm, err := m.Header.Time(); err != nil || !tm.Equal(time.Date(2024, 5, 6, 5, 8, 9, 123456000, time.UTC)) {
		t.Errorf("Time() = %v, %v", tm, err)
	}
	if !m.ParentHeader.IsZero() || m.Identities != nil {
		t.Errorf("new message has parent %+v identities %q", m.ParentHeader, m.Identities)
	}

	t.Run("real ids are fresh UUIDs", func(t *testing.T) {
		real, _ := NewSession(SessionOptions{})
		a, _ := real.NewMessage("x", nil)
		b, _ := real.NewMessage("x", nil)
		if a.Header.MsgID == b.Header.MsgID || len(a.Header.MsgID) != 36 {
			t.Errorf("msg ids %q %q", a.Header.MsgID, b.Header.MsgID)
		}
		if !strings.HasSuffix(a.Header.Date, "Z") || len(a.Header.Date) != len(DateLayout) {
			t.Errorf("date %q", a.Header.Date)
		}
	})
	t.Run("reply copies identities and parent", func(t *testing.T) {
		req := &Message{Identities: [][]byte{[]byte("peer"), []byte("hop")}, Header: want}
		r, err := s.NewReply(req, "kernel_info_reply", map[string]string{"status": "ok"})
		if err != nil {
			t.Fatal(err)
		}
		if r.ParentHeader != want || len(r.Identities) != 2 || string(r.Identities[0]) != "peer" || r.Header.MsgID == want.MsgID {
			t.Errorf("reply = %+v", r)
		}
	})
	t.Run("content must be an object", func(t *testing.T) {
		if _, err := s.NewMessage("x", []int{1}); err == nil {
			t.Error("array content accepted")
		}
		if _, err := s.NewMessage("x", func() {}); err == nil {
			t.Error("unmarshalable content accepted")
		}
	})
}

// validFrames returns a correctly signed message's frames with key "k".
func validFrames(t testing.TB) [][]byte {
	s := fixedSession(t, "k", "s")
	m, _ := s.NewMessage("execute_request", ExecuteRequest{Code: "1"})
	m.Identities = [][]byte{[]byte("peer")}
	return s.Encode(m)
}

// resign recomputes the signature of frames (laid out as validFrames) with key "k".
func resign(frames [][]byte) [][]byte {
	s, _ := NewSigner("", []byte("k"))
	frames[2] = []byte(s.Sign(frames[3], frames[4], frames[5], frames[6]))
	return frames
}

func TestDecodeFramesErrors(t *testing.T) {
	signer := mustSigner(t, "", []byte("k"))
	mod := func(f func([][]byte) [][]byte) [][]byte { return f(validFrames(t)) }
	tests := []struct {
		name    string
		frames  [][]byte
		wantErr error
		mention string
	}{
		{"no frames", nil, ErrNoDelimiter, ""},
		{"no delimiter", mod(func(f [][]byte) [][]byte { f[1] = []byte("<IDS|MSG"); return f }), ErrNoDelimiter, ""},
		{"too few frames", mod(func(f [][]byte) [][]byte { return f[:6] }), ErrMalformed, "4 frames after the delimiter"},
		{"missing signature", mod(func(f [][]byte) [][]byte { f[2] = nil; return f }), ErrBadSignature, "not signed"},
		{"wrong signature", mod(func(f [][]byte) [][]byte { f[2] = bytes.Repeat([]byte("0"), 64); return f }), ErrBadSignature, "does not match"},
		{"tampered content", mod(func(f [][]byte) [][]byte { f[6] = []byte(`{"code":"rm -rf"}`); return f }), ErrBadSignature, ""},
		{"header not json", mod(func(f [][]byte) [][]byte { f[3] = []byte(`{"msg_id":`); return resign(f) }), ErrMalformed, "header"},
		{"header is an array", mod(func(f [][]byte) [][]byte { f[3] = []byte(`["x"]`); return resign(f) }), ErrMalformed, "header"},
		{"header null", mod(func(f [][]byte) [][]byte { f[3] = []byte(`null`); return resign(f) }), ErrMalformed, "header"},
		{"header without msg_type", mod(func(f [][]byte) [][]byte { f[3] = []byte(`{"msg_id":"1"}`); return resign(f) }), ErrMalformed, "msg_type"},
		{"header msg_id a number", mod(func(f [][]byte) [][]byte { f[3] = []byte(`{"msg_id":1,"msg_type":"x"}`); return resign(f) }), ErrMalformed, "msg_id"},
		{"parent not an object", mod(func(f [][]byte) [][]byte { f[4] = []byte(`"x"`); return resign(f) }), ErrMalformed, "parent_header"},
		{"metadata not an object", mod(func(f [][]byte) [][]byte { f[5] = []byte(`[]`); return resign(f) }), ErrMalformed, "metadata"},
		{"content not json", mod(func(f [][]byte) [][]byte { f[6] = []byte(`{"a":}`); return resign(f) }), ErrMalformed, "content"},
		{"content empty", mod(func(f [][]byte) [][]byte { f[6] = nil; return resign(f) }), ErrMalformed, "content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeFrames(tt.frames, signer)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("DecodeFrames = %v, %v; want %v mentioning %q", m, err, tt.wantErr, tt.mention)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		m, err := DecodeFrames(validFrames(t), signer)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Identities[0]) != "peer" || m.Type() != "execute_request" || m.Buffers != nil {
			t.Errorf("m = %+v", m)
		}
	})
	t.Run("unsigned session ignores the signature frame", func(t *testing.T) {
		f := validFrames(t)
		f[2] = []byte("garbage")
		if _, err := DecodeFrames(f, nil); err != nil {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("replayed message", func(t *testing.T) {
		s := fixedSession(t, "k", "receiver")
		f := validFrames(t)
		if _, err := s.Decode(f); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Decode(f); !errors.Is(err, ErrDuplicateSignature) {
			t.Errorf("second Decode = %v, want ErrDuplicateSignature", err)
		}
	})
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Header
		err  bool
	}{
		{"empty", `{}`, Header{}, false},
		{"spaces", " { \"msg_id\" : \"a\" ,\n\"msg_type\":\"b\" } ", Header{MsgID: "a", MsgType: "b"}, false},
		{"unknown keys ignored", `{"msg_id":"a","subshell_id":null,"x":{"y":[1,2]},"msg_type":"t"}`, Header{MsgID: "a", MsgType: "t"}, false},
		{"escapes", `{"username":"a\"b\\c\u00e9\n"}`, Header{Username: "a\"b\\cé\n"}, false},
		{"utf-8", `{"username":"jürgen"}`, Header{Username: "jürgen"}, false},
		{"last duplicate wins", `{"msg_id":"a","msg_id":"b"}`, Header{MsgID: "b"}, false},
		{"case-sensitive keys", `{"MSG_ID":"a"}`, Header{}, false},
		{"null value", `{"msg_id":null}`, Header{}, false},
		{"number value", `{"msg_id":5}`, Header{}, true},
		{"trailing garbage", `{"msg_id":"a"}x`, Header{}, true},
		{"trailing comma", `{"msg_id":"a",}`, Header{}, true},
		{"not an object", `"x"`, Header{}, true},
		{"null", `null`, Header{}, true},
		{"empty input", ``, Header{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			err := parseHeader([]byte(tt.json), &h)
			if (err != nil) != tt.err || h != tt.want {
				t.Errorf("parseHeader(%s) = %+v, %v; want %+v, err %v", tt.json, h, err, tt.want, tt.err)
			}
		})
	}
}

func TestHeaderJSON(t *testing.T) {
	type wsMessage struct { // the shape of the websocket JSON protocol
		Header       Header          `json:"header"`
		ParentHeader Header          `json:"parent_header"`
		Content      json.RawMessage `json:"content"`
	}
	h := Header{MsgID: "m1", MsgType: "status", Username: "u", Session: "s", Date: "2024-01-01T00:00:00.000000Z", Version: "5.3"}
	b, err := json.Marshal(wsMessage{Header: h, Content: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"header":{"msg_id":"m1","msg_type":"status","username":"u","session":"s","date":"2024-01-01T00:00:00.000000Z","version":"5.3"},"parent_header":{},"content":{}}`
	if string(b) != want {
		t.Errorf("marshal = %s\nwant      %s", b, want)
	}
	var back wsMessage
	if err := json.Unmarshal(b, &back); err != nil || back.Header != h || !back.ParentHeader.IsZero() {
		t.Errorf("unmarshal = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"header":{"msg_id":7}}`), &back); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad header err = %v", err)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\t\r\n", "ünïcödé ✓ 🚀", "bad\xffutf8", "\u2028"} {
		got := appendJSONString(nil, s)
		want, _ := json.Marshal(s)
		var back, wantBack string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: invalid JSON: %v", s, got, err)
			continue
		}
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("appendJSONString(%q) decodes to %q, encoding/json's to %q", s, back, wantBack)
		}
	}
}
