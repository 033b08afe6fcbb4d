package jupyter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// fuzzKey signs the seed messages; FuzzDecodeFrames verifies with it when
// its signed argument is true.
const fuzzKey = "fuzz-key"

// fuzzSeeds are ZMTP byte streams of valid and broken messages.
func fuzzSeeds(t testing.TB) map[string][]byte {
	signed := fixedSession(t, fuzzKey, "fuzz")
	unsigned := fixedSession(t, "", "fuzz")
	req, _ := signed.NewMessage("execute_request", ExecuteRequest{Code: "x := 1\nx", StoreHistory: true})
	reply, _ := signed.NewReply(&Message{Identities: [][]byte{[]byte("peer")}, Header: req.Header}, "execute_reply", ExecuteReply{Status: "ok", ExecutionCount: 1})
	stream, _ := unsigned.NewMessage("stream", Stream{Name: "stdout", Text: "héllo \"w\"\n"})
	comm, _ := unsigned.NewMessage("comm_msg", json.RawMessage(`{"comm_id":"c","data":{"k":[1,2.5,null,true]}}`))
	comm.Buffers = [][]byte{{0, 1, 2}, bytes.Repeat([]byte{7}, 300)}
	escaped, _ := unsigned.NewMessage("kernel_info_request", nil)
	escaped.Header.Username = "tab\there \u00e9"

	seeds := map[string][]byte{
		"signed_request":  wireBytes(signed, nil, req),
		"signed_reply":    wireBytes(signed, [][]byte{[]byte("hop")}, reply),
		"iopub_stream":    wireBytes(unsigned, [][]byte{[]byte("kernel.x.stream")}, stream),
		"with_buffers":    wireBytes(unsigned, nil, comm),
		"escaped_header":  wireBytes(unsigned, nil, escaped),
		"no_delimiter":    {0x01, 0x03, 'a', 'b', 'c', 0x00, 0x02, '{', '}'},
		"long_frame_flag": {0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00},
		"ping_command":    {0x04, 0x07, 0x04, 'P', 'I', 'N', 'G', 0, 10},
	}
	return seeds
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzDecodeFrames's hand-made seeds
// in sync with the encoder (regenerate with -update) and checks the valid
// ones decode.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeFrames")
	for name, wire := range fuzzSeeds(t) {
		signed := name == "signed_request" || name == "signed_reply"
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\n", wire, signed)
		path := filepath.Join(dir, "seed_"+name)
		if *update {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != body {
			t.Errorf("%s is missing or stale (run go test -run TestFuzzSeedCorpus -update): %v", path, err)
		}
	}
	for _, name := range []string{"signed_request", "signed_reply", "iopub_stream", "with_buffers", "escaped_header"} {
		m, err := decodeWire(fuzzSeeds(t)[name], name == "signed_request" || name == "signed_reply")
		if err != nil || m == nil {
			t.Errorf("seed %s does not decode: %v", name, err)
		}
	}
}

// decodeWire reads one ZMTP message from wire and decodes it.
func decodeWire(wire []byte, signed bool) (*Message, error) {
	zc := &zconn{nc: discardConn{}, br: bufio.NewReader(bytes.NewReader(wire)), maxMsg: 1 << 20}
	zm, err := zc.readMsg(nil)
	if err != nil {
		return nil, err
	}
	var s *Signer
	if signed {
		s, _ = NewSigner("", []byte(fuzzKey))
	}
	return DecodeFrames(zm.frames, s)
}

// discardConn is the write side of a fuzzed connection (PONG answers).
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
func (discardConn) Close() error                { return nil }

// FuzzDecodeFrames feeds untrusted bytes through the connection reader
// (ZMTP framing) and DecodeFrames. Whatever decodes must re-encode and
// decode to the same message.
func FuzzDecodeFrames(f *testing.F) {
	for name, wire := range fuzzSeeds(f) {
		f.Add(wire, name == "signed_request" || name == "signed_reply")
	}
	f.Fuzz(func(t *testing.T, wire []byte, signed bool) {
		m, err := decodeWire(wire, signed)
		if err != nil {
			return
		}
		var s *Signer
		if signed {
			s, _ = NewSigner("", []byte(fuzzKey))
		}
		frames := EncodeFrames(m, s)
		again, err := DecodeFrames(frames, s)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v\nframes %q", err, frames)
		}
		if again.Header != m.Header || again.ParentHeader != m.ParentHeader ||
			!bytes.Equal(again.Content, m.Content) || !bytes.Equal(again.Metadata, m.Metadata) ||
			len(again.Buffers) != len(m.Buffers) || len(again.Identities) != len(m.Identities) {
			t.Fatalf("round trip changed the message:\n got %+v\nwant %+v", again, m)
		}
	})
}

// FuzzParseHeader checks the hand-written header scanner against the
// encoding/json path it falls back to.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{`{}`, `{"msg_id":"a","msg_type":"b"}`, `{"username":"\u00e9"}`, ` {"date" : "x" , "v":1} `, `{"msg_id":"a",}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Header
		if !parseHeaderFast(b, &fast) {
			return
		}
		var slow Header
		if err := parseHeaderSlow(b, &slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refuses: %v", b, err)
		}
		if fast != slow {
			t.Fatalf("fast %+v != slow %+v for %q", fast, slow, b)
		}
		again := appendHeaderJSON(nil, &fast)
		var back Header
		if err := parseHeader(again, &back); err != nil || back != fast {
			t.Fatalf("re-encoded %s decodes to %+v, %v", again, back, err)
		}
	})
}
