package jupyter

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer starts a Server on info and returns it; cleanup cancels Run and
// checks it returned nil.
func testServer(t testing.TB, info ConnectionInfo, opts ServerOptions) *Server {
	t.Helper()
	srv, err := NewServer(info, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return srv
}

// testInfo returns a ConnectionInfo on 127.0.0.1 (tcp) or in a temp dir (ipc).
func testInfo(t testing.TB, transport string) ConnectionInfo {
	t.Helper()
	opts := ConnectionOptions{Transport: transport}
	if transport == "ipc" {
		opts.Dir = shortTempDir(t)
	}
	info, err := NewConnectionInfo(opts)
	if err != nil {
		t.Fatalf("NewConnectionInfo: %v", err)
	}
	return info
}

// shortTempDir is t.TempDir, unless its path is too long for unix sockets.
func shortTempDir(t testing.TB) string {
	dir := t.TempDir()
	if len(dir) > 80 {
		t.Fatalf("temp dir %s too long for unix sockets", dir)
	}
	return dir
}

func testClient(t testing.TB, info ConnectionInfo, opts ClientOptions) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, info, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoKernel is a tiny kernel: it answers kernel_info, execute (echoing the
// code as stdout and as the result), interrupt and shutdown, with the status
// messages a real kernel publishes. execute_request with code "block" waits
// for an interrupt_request on control; code "input" asks for input on stdin.
type echoKernel struct {
	srv       *Server
	interrupt chan struct{}
	count     int

	mu       sync.Mutex
	received []*Message // every shell and control request, in order
}

func startEchoKernel(t testing.TB, srv *Server) *echoKernel {
	k := &echoKernel{srv: srv, interrupt: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for m := range srv.Shell() {
			k.record(m)
			k.handleShell(m)
		}
	})
	wg.Go(func() {
		for m := range srv.Control() {
			k.record(m)
			k.handleControl(m)
		}
	})
	// The receive channels close when the server has shut down.
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	return k
}

func (k *echoKernel) record(m *Message) {
	k.mu.Lock()
	k.received = append(k.received, m)
	k.mu.Unlock()
}

func (k *echoKernel) requests() []*Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*Message(nil), k.received...)
}

func (k *echoKernel) handleShell(m *Message) {
	s := k.srv
	s.PublishFor(m, "status", Status{ExecutionState: "busy"})
	defer s.PublishFor(m, "status", Status{ExecutionState: "idle"})
	switch m.Header.MsgType {
	case "kernel_info_request":
		s.Reply(m, "kernel_info_reply", KernelInfoReply{
			Status: "ok", ProtocolVersion: ProtocolVersion, Implementation: "echo", ImplementationVersion: "0.1",
			LanguageInfo: LanguageInfo{Name: "echo", Version: "1", MIMEType: "text/plain", FileExtension: ".txt"},
			Banner:       "echo kernel",
		})
	case "execute_request":
		var req ExecuteRequest
		if err := m.DecodeContent(&req); err != nil {
			s.Reply(m, "execute_reply", ExecuteReply{Status: "error", ErrorContent: ErrorContent{EName: "BadRequest", EValue: err.Error(), Traceback: []string{}}})
			return
		}
		k.count++
		s.PublishFor(m, "execute_input", ExecuteInput{Code: req.Code, ExecutionCount: k.count})
		switch req.Code {
		case "block":
			<-k.interrupt
			s.PublishFor(m, "error", ErrorContent{EName: "Interrupted", EValue: "interrupted", Traceback: []string{"Interrupted"}})
			s.Reply(m, "execute_reply", ExecuteReply{Status: "error", ExecutionCount: k.count, ErrorContent: ErrorContent{EName: "Interrupted", EValue: "interrupted", Traceback: []string{"Interrupted"}}})
			return
		case "input":
			value := k.askInput(m, "name? ")
			s.PublishFor(m, "stream", Stream{Name: "stdout", Text: "hello " + value})
		default:
			s.PublishFor(m, "stream", Stream{Name: "stdout", Text: req.Code})
			s.PublishFor(m, "execute_result", ExecuteResult{ExecutionCount: k.count, Data: map[string]any{"text/plain": req.Code}, Metadata: map[string]any{}})
		}
		s.Reply(m, "execute_reply", ExecuteReply{Status: "ok", ExecutionCount: k.count, UserExpressions: map[string]json.RawMessage{}})
	default:
		s.Reply(m, strings.TrimSuffix(m.Header.MsgType, "_request")+"_reply", ReplyStatus{Status: "error", ErrorContent: ErrorContent{EName: "Unknown", EValue: m.Header.MsgType}})
	}
}

// askInput sends an input_request on stdin to the peer of req and waits for
// the matching input_reply.
func (k *echoKernel) askInput(req *Message, prompt string) string {
	s := k.srv
	ir, _ := s.Session().NewReply(req, "input_request", InputRequest{Prompt: prompt})
	if err := s.Send(Stdin, ir); err != nil {
		return "<" + err.Error() + ">"
	}
	for m := range s.Stdin() {
		// jupyter_client sends input_reply without a parent header; a reply
		// that names another parent answers an abandoned request.
		if m.Type() != "input_reply" || (m.ParentID() != "" && m.ParentID() != ir.Header.MsgID) {
			continue
		}
		var r InputReply
		m.DecodeContent(&r)
		return r.Value
	}
	return "<closed>"
}

func (k *echoKernel) handleControl(m *Message) {
	s := k.srv
	switch m.Header.MsgType {
	case "interrupt_request":
		select {
		case k.interrupt <- struct{}{}:
		default:
		}
		s.Reply(m, "interrupt_reply", ReplyStatus{Status: "ok"})
	case "shutdown_request":
		var r ShutdownRequest
		m.DecodeContent(&r)
		s.Reply(m, "shutdown_reply", ShutdownReply{Status: "ok", Restart: r.Restart})
	default:
		s.Reply(m, strings.TrimSuffix(m.Header.MsgType, "_request")+"_reply", ReplyStatus{Status: "ok"})
	}
}

// logRecorder is a slog handler that keeps records for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
	notify  chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{notify: make(chan struct{}, 100)} }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec.Clone())
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// find returns the attributes of the first record with msg, or nil.
func (r *logRecorder) find(msg string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.Message != msg {
			continue
		}
		attrs := map[string]string{"level": rec.Level.String()}
		rec.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		return attrs
	}
	return nil
}

// goroutinesOf returns the stacks of live goroutines running code of this
// package (other than tests) or of zmq4.
func goroutinesOf() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		if strings.Contains(s, "jupyter.goroutinesOf(") {
			continue // the checking goroutine itself
		}
		if strings.Contains(s, "go-zeromq") {
			out = append(out, s)
			continue
		}
		for _, line := range strings.Split(s, "\n") {
			if i := strings.Index(line, "flowlab/kernel/jupyter."); i >= 0 {
				fn := line[i+len("flowlab/kernel/jupyter."):]
				if strings.HasPrefix(fn, "Test") || strings.HasPrefix(fn, "Benchmark") || strings.HasPrefix(fn, "Fuzz") ||
					strings.HasPrefix(fn, "goroutinesOf") || strings.HasPrefix(fn, "checkNoLeaks") || strings.HasPrefix(fn, "testServer") {
					continue
				}
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// checkNoLeaks fails t if goroutines of this package are still alive after a
// grace period (closing sockets lets readers return asynchronously).
func checkNoLeaks(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := goroutinesOf()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines leaked:\n%s", len(left), strings.Join(left, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
