package jupyter

import (
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
