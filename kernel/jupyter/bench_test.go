package jupyter

import (
	"bufio"
	"bytes"
	"context"
	"testing"
)

// BenchmarkExecuteRoundTrip measures one trivial execute through this
// package over tcp on 127.0.0.1: the client sends a signed execute_request;
// the echo kernel publishes status busy, execute_input, stream,
// execute_result and status idle on iopub and sends the execute_reply on
// shell; the client decodes and verifies all six and returns.
func BenchmarkExecuteRoundTrip(b *testing.B) {
	for _, transport := range []string{"tcp", "ipc"} {
		b.Run(transport, func(b *testing.B) {
			info := testInfo(b, transport)
			srv := testServer(b, info, ServerOptions{})
			startEchoKernel(b, srv)
			c := testClient(b, srv.ConnectionInfo(), ClientOptions{})
			ctx := context.Background()
			if err := c.WaitReady(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ex, err := c.Execute(ctx, "1", ExecuteOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if len(ex.Outputs) != 5 || ex.Reply == nil {
					b.Fatalf("got %d outputs, reply %v", len(ex.Outputs), ex.Reply)
				}
			}
		})
	}
}

// BenchmarkEncodeDecode measures one signed execute_reply through the send
// path's encoder (appendWire) and the receive path's reader and decoder.
func BenchmarkEncodeDecode(b *testing.B) {
	s := fixedSession(b, "secret", "kernel")
	req, _ := s.NewMessage("execute_request", ExecuteRequest{Code: "x"})
	req.Identities = [][]byte{[]byte("peer")}
	m, _ := s.NewReply(req, "execute_reply", ExecuteReply{Status: "ok", ExecutionCount: 1})
	wire := wireBytes(s, nil, m)
	recv, _ := NewSession(SessionOptions{Key: []byte("secret"), ReplayHistory: -1})
	rd := bytes.NewReader(wire)
	zc := &zconn{br: bufio.NewReader(rd), maxMsg: defaultMaxMessage}
	b.ReportAllocs()
	for b.Loop() {
		w := getWire()
		s.appendWire(w, nil, m)
		putWire(w)
		rd.Reset(wire)
		zc.br.Reset(rd)
		zm, err := zc.readMsg(nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := recv.Decode(zm.frames); err != nil {
			b.Fatal(err)
		}
	}
}
