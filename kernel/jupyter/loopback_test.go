package jupyter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var transports = []string{"tcp", "ipc"}

// loopback starts an echo kernel and a ready client on transport, and checks
// at the end that every goroutine of both is gone.
func loopback(t *testing.T, transport string, sopts ServerOptions) (*Server, *echoKernel, *Client) {
	t.Helper()
	t.Cleanup(func() { checkNoLeaks(t) }) // registered first: runs last
	srv := testServer(t, testInfo(t, transport), sopts)
	k := startEchoKernel(t, srv)
	c := testClient(t, srv.ConnectionInfo(), ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return srv, k, c
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestLoopbackExecute(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			_, _, c := loopback(t, transport, ServerOptions{})
			ctx := timeout(t)

			info, err := c.KernelInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.ProtocolVersion != "5.3" || info.Implementation != "echo" || info.LanguageInfo.Name != "echo" {
				t.Errorf("kernel info = %+v", info)
			}

			ex, err := c.Execute(ctx, "x := 42", ExecuteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, m := range ex.Outputs {
				types = append(types, m.Type())
				if m.ParentID() != ex.Request.Header.MsgID || m.Channel != IOPub {
					t.Errorf("output %v does not belong to the request", m)
				}
			}
			if got, want := strings.Join(types, ","), "status,execute_input,stream,execute_result,status"; got != want {
				t.Errorf("outputs = %s, want %s", got, want)
			}
			var st Stream
			ex.Outputs[2].DecodeContent(&st)
			if st.Text != "x := 42" || st.Name != "stdout" {
				t.Errorf("stream = %+v", st)
			}
			r, err := ex.ReplyContent()
			if err != nil || r.Status != "ok" || r.ExecutionCount != 1 || ex.Reply.Channel != Shell {
				t.Errorf("reply = %+v, %v", r, err)
			}
		})
	}
}

func TestLoopbackReplyOnRequestSocket(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			srv, _, a := loopback(t, transport, ServerOptions{})
			b := testClient(t, srv.ConnectionInfo(), ClientOptions{})
			ctx := timeout(t)
			for _, ch := range []Channel{Shell, Control} {
				r, err := a.Request(ctx, ch, "comm_info_request", nil)
				if err != nil {
					t.Fatal(err)
				}
				if r.Channel != ch || r.Type() != "comm_info_reply" {
					t.Errorf("request on %s: reply %v arrived on %s", ch, r.Type(), r.Channel)
				}
			}
			// Each client gets its own reply, nothing of the other's.
			ra, err := a.Request(ctx, Shell, "kernel_info_request", nil)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := b.Request(ctx, Shell, "kernel_info_request", nil)
			if err != nil {
				t.Fatal(err)
			}
			if ra.ParentHeader.Session != a.Session().ID() || rb.ParentHeader.Session != b.Session().ID() {
				t.Errorf("replies crossed: a got parent session %s, b got %s", ra.ParentHeader.Session, rb.ParentHeader.Session)
			}
			short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			for {
				m, err := b.Recv(short)
				if err != nil {
					break
				}
				if m.Channel != IOPub {
					t.Errorf("client b received %v, which is not broadcast", m)
				}
			}
		})
	}
}

func TestLoopbackControlWhileShellBusy(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			_, _, c := loopback(t, transport, ServerOptions{})
			ctx := timeout(t)
			started := make(chan struct{})
			var once sync.Once
			type result struct {
				ex  *Execution
				err error
			}
			done := make(chan result, 1)
			go func() {
				ex, err := c.Execute(ctx, "block", ExecuteOptions{Output: func(m *Message) {
					if m.Type() == "execute_input" {
						once.Do(func() { close(started) })
					}
				}})
				done <- result{ex, err}
			}()
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal("the blocking cell never started")
			}
			// The shell request is blocked in the kernel; control still answers.
			if err := c.Interrupt(ctx); err != nil {
				t.Fatalf("Interrupt while shell busy: %v", err)
			}
			res := <-done
			if res.err != nil {
				t.Fatal(res.err)
			}
			r, _ := res.ex.ReplyContent()
			if r.Status != "error" || r.EName != "Interrupted" {
				t.Errorf("reply = %+v", r)
			}
		})
	}
}

func TestLoopbackStdin(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			_, _, c := loopback(t, transport, ServerOptions{})
			var prompts []string
			ex, err := c.Execute(timeout(t), "input", ExecuteOptions{Input: func(ctx context.Context, prompt string, password bool) (string, error) {
				prompts = append(prompts, prompt)
				return "world", nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(prompts) != 1 || prompts[0] != "name? " {
				t.Errorf("prompts = %q", prompts)
			}
			var texts []string
			for _, m := range ex.Outputs {
				if m.Type() == "stream" {
					var s Stream
					m.DecodeContent(&s)
					texts = append(texts, s.Text)
				}
			}
			if len(texts) != 1 || texts[0] != "hello world" {
				t.Errorf("stream = %q", texts)
			}
		})
	}
}

func TestLoopbackWrongKeyDropped(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			logs := newLogRecorder()
			srv, k, good := loopback(t, transport, ServerOptions{Logger: slog.New(logs)})
			bad := srv.ConnectionInfo()
			bad.Key = "not-the-key"
			intruder := testClient(t, bad, ClientOptions{})
			ctx := timeout(t)
			m, _ := intruder.Session().NewMessage("execute_request", ExecuteRequest{Code: "steal()"})
			if err := intruder.Send(ctx, Shell, m); err != nil {
				t.Fatal(err)
			}
			var attrs map[string]string
			for attrs == nil {
				select {
				case <-logs.notify:
					attrs = logs.find("dropped message")
				case <-ctx.Done():
					t.Fatal("no warning logged for the badly signed message")
				}
			}
			if attrs["level"] != "WARN" || attrs["channel"] != "shell" || !strings.Contains(attrs["reason"], "signature") {
				t.Errorf("log = %v", attrs)
			}
			// The kernel keeps serving, and never saw the intruder's request.
			if _, err := good.KernelInfo(ctx); err != nil {
				t.Fatal(err)
			}
			for _, r := range k.requests() {
				if r.Header.Session == intruder.Session().ID() {
					t.Errorf("badly signed message delivered: %v", r)
				}
			}
			// Nor did the intruder get a reply.
			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			for {
				r, err := intruder.Recv(short)
				if err != nil {
					break
				}
				if r.ParentID() == m.Header.MsgID {
					t.Errorf("intruder got a reply: %v", r)
				}
			}
		})
	}
}

func TestLoopbackHeartbeat(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			srv, _, c := loopback(t, transport, ServerOptions{})
			for i := range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err := c.Heartbeat(ctx)
				cancel()
				if err != nil {
					t.Fatalf("beat %d: %v", i, err)
				}
			}
			srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := c.Heartbeat(ctx); !errors.Is(err, ErrNoHeartbeat) {
				t.Errorf("Heartbeat after kernel stop = %v, want ErrNoHeartbeat", err)
			}
		})
	}
}

func TestLoopbackRawBridge(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			_, _, c := loopback(t, transport, ServerOptions{})
			ctx := timeout(t)
			// Drain what WaitReady left behind (statuses, extra replies).
			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			for {
				if _, err := c.Recv(short); err != nil {
					break
				}
			}
			cancel()
			req, _ := c.Session().NewMessage("execute_request", ExecuteRequest{Code: "raw", StoreHistory: true, UserExpressions: map[string]string{}})
			if err := c.Send(ctx, Shell, req); err != nil {
				t.Fatal(err)
			}
			var iopub []string
			gotReply := false
			for len(iopub) < 5 || !gotReply {
				m, err := c.Recv(ctx)
				if err != nil {
					t.Fatalf("Recv after %q, reply %v: %v", iopub, gotReply, err)
				}
				if m.ParentID() != req.Header.MsgID {
					continue // a late answer to one of WaitReady's requests
				}
				switch m.Channel {
				case IOPub:
					iopub = append(iopub, m.Type())
				case Shell:
					gotReply = m.Type() == "execute_reply"
				default:
					t.Errorf("message on %s", m.Channel)
				}
			}
			if got := strings.Join(iopub, ","); got != "status,execute_input,stream,execute_result,status" {
				t.Errorf("iopub order = %s", got)
			}
		})
	}
}

func TestLoopbackConcurrentExecutes(t *testing.T) {
	_, _, c := loopback(t, "tcp", ServerOptions{})
	ctx := timeout(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				code := fmt.Sprintf("g%d-%d", g, i)
				ex, err := c.Execute(ctx, code, ExecuteOptions{})
				if err != nil {
					errs <- err
					return
				}
				var res ExecuteResult
				for _, m := range ex.Outputs {
					if m.ParentID() != ex.Request.Header.MsgID {
						errs <- fmt.Errorf("%s got an output of another request: %v", code, m)
					}
					if m.Type() == "execute_result" {
						m.DecodeContent(&res)
					}
				}
				if res.Data["text/plain"] != code {
					errs <- fmt.Errorf("%s: result %v", code, res.Data)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLoopbackKernelRestart(t *testing.T) {
	t.Cleanup(func() { checkNoLeaks(t) })
	info := testInfo(t, "tcp")
	srv1, err := NewServer(info, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx1, stop1 := context.WithCancel(context.Background())
	run1 := make(chan error, 1)
	go func() { run1 <- srv1.Run(ctx1) }()
	startEchoKernel(t, srv1)
	c := testClient(t, info, ClientOptions{})
	ctx := timeout(t)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	stop1()
	if err := <-run1; err != nil {
		t.Fatal(err)
	}
	// A new kernel process on the same connection file: the client reconnects.
	srv2 := testServer(t, info, ServerOptions{})
	startEchoKernel(t, srv2)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady after restart: %v", err)
	}
	if _, err := c.Execute(ctx, "after restart", ExecuteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestServerShutdown(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			defer checkNoLeaks(t)
			srv, err := NewServer(testInfo(t, transport), ServerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			run := make(chan error, 1)
			go func() { run <- srv.Run(ctx) }()
			c := testClient(t, srv.ConnectionInfo(), ClientOptions{})
			// A request waits, undelivered, in the shell queue.
			m, _ := c.Session().NewMessage("kernel_info_request", nil)
			if err := c.Send(timeout(t), Shell, m); err != nil {
				t.Fatal(err)
			}
			got := <-srv.Shell()
			if got.Header.MsgID != m.Header.MsgID {
				t.Fatalf("got %v", got)
			}
			cancel()
			select {
			case err := <-run:
				if err != nil {
					t.Fatalf("Run = %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return")
			}
			for _, ch := range []<-chan *Message{srv.Shell(), srv.Control(), srv.Stdin()} {
				if _, open := <-ch; open {
					t.Error("receive channel still open after shutdown")
				}
			}
			if err := srv.Publish(m); !errors.Is(err, ErrClosed) {
				t.Errorf("Publish after shutdown = %v", err)
			}
			if err := srv.Send(Shell, got); !errors.Is(err, ErrClosed) {
				t.Errorf("Send after shutdown = %v", err)
			}
			c.Close()
			if _, err := c.Recv(context.Background()); !errors.Is(err, ErrClosed) {
				t.Errorf("Recv after Close = %v", err)
			}
		})
	}
}

func TestServerBindError(t *testing.T) {
	defer checkNoLeaks(t)
	info := testInfo(t, "tcp")
	srv, err := NewServer(info, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = NewServer(info, ServerOptions{})
	if err == nil || !strings.Contains(err.Error(), info.Endpoint(Shell)) {
		t.Errorf("second bind: %v, want an error naming %s", err, info.Endpoint(Shell))
	}
	t.Run("port 0 picks free ports", func(t *testing.T) {
		zero := ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", Key: "k"}
		s, err := NewServer(zero, ServerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for ch := Shell; ch <= Heartbeat; ch++ {
			if s.ConnectionInfo().Port(ch) == 0 {
				t.Errorf("%s port still 0", ch)
			}
		}
	})
}

func TestServerSurvivesGarbagePeer(t *testing.T) {
	logs := newLogRecorder()
	srv, _, c := loopback(t, "tcp", ServerOptions{Logger: slog.New(logs)})
	ctx := timeout(t)
	network, addr := srv.ConnectionInfo().netAddr(Shell)
	nc, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", 64)))
	for logs.find("connection refused") == nil {
		select {
		case <-logs.notify:
		case <-ctx.Done():
			t.Fatal("garbage peer not refused")
		}
	}
	nc.Close()
	if _, err := c.KernelInfo(ctx); err != nil {
		t.Fatalf("kernel stopped serving after a garbage peer: %v", err)
	}
}

// TestDialWaitsForAStartingKernel dials before the kernel listens, as a
// kernel manager does right after starting the process, and checks that the
// client connects soon after the kernel binds its ports, not a doubled
// backoff later.
func TestDialWaitsForAStartingKernel(t *testing.T) {
	info := testInfo(t, "tcp")
	const bindAfter = 400 * time.Millisecond
	type dialed struct {
		c   *Client
		err error
		at  time.Duration
	}
	res := make(chan dialed, 1)
	t0 := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := Dial(ctx, info, ClientOptions{})
		res <- dialed{c, err, time.Since(t0)}
	}()
	time.Sleep(bindAfter)
	srv := testServer(t, info, ServerOptions{})
	startEchoKernel(t, srv)
	d := <-res
	if d.err != nil {
		t.Fatal(d.err)
	}
	defer d.c.Close()
	// Until the first connection the client retries every startRetry at
	// most; allow the machine some slack, far less than the 315 → 635 ms
	// step a doubling backoff takes here.
	if late := d.at - bindAfter; late > 175*time.Millisecond {
		t.Errorf("connected %s after the kernel listened; want within %s (and some slack)", late, startRetry)
	}
}

// TestShutdownIsNoConnectionLoss checks that a kernel closing its sockets
// after a shutdown_request is logged as expected (debug), while a kernel
// that just goes away is a warning.
func TestShutdownIsNoConnectionLoss(t *testing.T) {
	for _, tt := range []struct {
		name     string
		shutdown bool
		want     slog.Level
	}{
		{"after shutdown_request", true, slog.LevelDebug},
		{"unannounced", false, slog.LevelWarn},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := testServer(t, testInfo(t, "tcp"), ServerOptions{})
			startEchoKernel(t, srv)
			logs := newLogRecorder()
			c := testClient(t, srv.ConnectionInfo(), ClientOptions{Logger: slog.New(logs)})
			ctx := timeout(t)
			if err := c.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
			if tt.shutdown {
				if err := c.Shutdown(ctx, false); err != nil {
					t.Fatal(err)
				}
			}
			srv.Close()
			msg := "kernel connection lost, reconnecting"
			if tt.shutdown {
				msg = "kernel closed its connection after a shutdown request"
			}
			for logs.find(msg) == nil {
				select {
				case <-logs.notify:
				case <-ctx.Done():
					t.Fatalf("no %q logged", msg)
				}
			}
			if got := logs.find(msg)["level"]; got != tt.want.String() {
				t.Errorf("%q logged at %s, want %s", msg, got, tt.want)
			}
			if tt.shutdown && logs.find("kernel connection lost, reconnecting") != nil {
				t.Error("a shut-down kernel's closing was logged as a lost connection")
			}
		})
	}
}
