package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlab/flowlab/kernel/display"
	"github.com/flowlab/flowlab/kernel/jupyter"
)

// fakeWire is an in-memory Wire: tests push requests into its channels and
// read what the session sent.
type fakeWire struct {
	sess                  *jupyter.Session
	shell, control, stdin chan *jupyter.Message

	mu   sync.Mutex
	sent []*jupyter.Message // replies (with Channel set) and iopub messages
	cond *sync.Cond
}

var _ Wire = (*fakeWire)(nil)

func newFakeWire(t *testing.T) *fakeWire {
	sess, err := jupyter.NewSession(jupyter.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := &fakeWire{sess: sess, shell: make(chan *jupyter.Message, 16), control: make(chan *jupyter.Message, 16), stdin: make(chan *jupyter.Message, 16)}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *fakeWire) Shell() <-chan *jupyter.Message   { return w.shell }
func (w *fakeWire) Control() <-chan *jupyter.Message { return w.control }
func (w *fakeWire) Stdin() <-chan *jupyter.Message   { return w.stdin }
func (w *fakeWire) Session() *jupyter.Session        { return w.sess }

func (w *fakeWire) record(m *jupyter.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent = append(w.sent, m)
	w.cond.Broadcast()
}

func (w *fakeWire) Reply(req *jupyter.Message, msgType string, content any) error {
	m, err := w.sess.NewReply(req, msgType, content)
	if err != nil {
		return err
	}
	m.Channel = req.Channel
	w.record(m)
	return nil
}

func (w *fakeWire) Send(ch jupyter.Channel, m *jupyter.Message) error {
	m.Channel = ch
	w.record(m)
	return nil
}

func (w *fakeWire) PublishFor(req *jupyter.Message, msgType string, content any) error {
	m, err := w.sess.NewMessage(msgType, content)
	if err != nil {
		return err
	}
	if req != nil {
		m.ParentHeader = req.Header
	}
	m.Channel = jupyter.IOPub
	w.record(m)
	return nil
}

// request builds a request as a client would send it.
func (w *fakeWire) request(t *testing.T, ch jupyter.Channel, msgType string, content any) *jupyter.Message {
	t.Helper()
	if c, ok := content.(map[string]any); content == nil || ok && c == nil {
		content = map[string]any{}
	}
	m, err := w.sess.NewMessage(msgType, content)
	if err != nil {
		t.Fatal(err)
	}
	m.Identities = [][]byte{[]byte("client")}
	m.Channel = ch
	return m
}

// waitFor blocks until the session sent a message matching pred, and returns
// every message for parent sent so far.
func (w *fakeWire) waitFor(t *testing.T, pred func(*jupyter.Message) bool) *jupyter.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	timer := time.AfterFunc(5*time.Second, func() { w.mu.Lock(); w.cond.Broadcast(); w.mu.Unlock() })
	defer timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		for _, m := range w.sent {
			if pred(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range w.sent {
				got = append(got, m.String())
			}
			t.Fatalf("no matching message; sent:\n%s", strings.Join(got, "\n"))
		}
		w.cond.Wait()
	}
}

// idle waits for the idle status of req and returns req's messages in order.
func (w *fakeWire) idle(t *testing.T, req *jupyter.Message) []*jupyter.Message {
	t.Helper()
	w.waitFor(t, func(m *jupyter.Message) bool {
		return m.ParentID() == req.Header.MsgID && m.Type() == "status" && strings.Contains(string(m.Content), "idle")
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*jupyter.Message
	for _, m := range w.sent {
		if m.ParentID() == req.Header.MsgID {
			out = append(out, m)
		}
	}
	return out
}

func types(msgs []*jupyter.Message) string {
	var s []string
	for _, m := range msgs {
		t := m.Type()
		if t == "status" {
			var c jupyter.Status
			_ = m.DecodeContent(&c)
			t = c.ExecutionState
		}
		s = append(s, t)
	}
	return strings.Join(s, ",")
}

func content(t *testing.T, m *jupyter.Message) map[string]any {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(m.Content, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func find(msgs []*jupyter.Message, msgType string) *jupyter.Message {
	for _, m := range msgs {
		if m.Type() == msgType {
			return m
		}
	}
	return nil
}

// fakeExecutor interprets a tiny language: "value:X" returns X, "fail:X"
// fails with X, "block" waits for cancellation, "input" reads a line,
// "print:X" writes X through the session's stream sink.
type fakeExecutor struct {
	mu    sync.Mutex
	ran   []string
	reset int
	sink  func(stream, text string)
	gate  chan struct{} // opened by tests that need requests queued
}

var _ Executor = (*fakeExecutor)(nil)

func (f *fakeExecutor) Execute(ctx context.Context, cell Cell) (Result, error) {
	src := strings.TrimSpace(cell.Source)
	f.mu.Lock()
	f.ran = append(f.ran, src)
	f.mu.Unlock()
	kind, arg, _ := strings.Cut(src, ":")
	switch kind {
	case "value":
		return Result{Values: []any{arg}}, nil
	case "tuple":
		return Result{Values: []any{1, nil}}, nil
	case "nil":
		return Result{Values: []any{nil}}, nil
	case "fail":
		return Result{}, &CellError{Name: "panic", Value: arg, Traceback: []string{"panic: " + arg}}
	case "block":
		<-ctx.Done()
		return Result{}, Interrupted()
	case "gatedfail":
		// fails once the test opens the gate: requests sent meanwhile are
		// queued behind it
		<-f.gate
		return Result{}, &CellError{Name: "panic", Value: arg, Traceback: []string{"panic: " + arg}}
	case "input":
		if cell.Input == nil {
			return Result{}, &CellError{Name: "StdinError", Value: ErrStdinNotAllowed.Error(), Traceback: []string{"x"}}
		}
		v, err := cell.Input(ctx, "", false)
		if err != nil {
			return Result{}, err
		}
		return Result{Values: []any{v}}, nil
	case "print":
		f.sink("stdout", arg)
		return Result{}, nil
	case "show":
		display.Show(display.HTML(arg))
		return Result{}, nil
	case "broken":
		return Result{}, errors.New("executor is broken")
	}
	return Result{}, nil
}

func (f *fakeExecutor) Complete(code string, cursor int) Completion {
	return Completion{Matches: []string{"Println"}, CursorStart: cursor - 3, CursorEnd: cursor}
}
func (f *fakeExecutor) Inspect(code string, cursor, detail int) (Inspection, bool) {
	return Inspection{Data: map[string]any{"text/plain": "func Println(a ...any)"}}, code == "fmt.Println"
}
func (f *fakeExecutor) IsComplete(code string) Completeness {
	if strings.HasSuffix(code, "{") {
		return Completeness{Status: "incomplete", Indent: "\t"}
	}
	return Completeness{Status: "complete"}
}
func (f *fakeExecutor) Reset() error { f.mu.Lock(); f.reset++; f.mu.Unlock(); return nil }
func (f *fakeExecutor) Packages() []Package {
	return []Package{{"fmt", "formatted I/O"}, {"net/netip", "IP addresses"}}
}

func startSession(t *testing.T, opts Options) (*Session, *fakeWire, *fakeExecutor) {
	t.Helper()
	w := newFakeWire(t)
	ex := &fakeExecutor{}
	opts.Wire, opts.Executor = w, ex
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ex.sink = s.WriteStream
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s, w, ex
}

func execute(t *testing.T, w *fakeWire, code string, opts ...func(map[string]any)) *jupyter.Message {
	c := map[string]any{"code": code, "silent": false, "store_history": true, "allow_stdin": false, "stop_on_error": true, "user_expressions": map[string]any{}}
	for _, o := range opts {
		o(c)
	}
	req := w.request(t, jupyter.Shell, "execute_request", c)
	w.shell <- req
	return req
}

func TestStartingIsPublishedOnce(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	w.waitFor(t, func(m *jupyter.Message) bool { return m.Type() == "status" && m.ParentID() == "" })
	req := execute(t, w, "value:1")
	w.idle(t, req)
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.sent {
		if m.Type() == "status" && strings.Contains(string(m.Content), "starting") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("starting published %d times", n)
	}
}

func TestExecuteMessagesAndCounts(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	tests := []struct {
		name      string
		code      string
		opts      []func(map[string]any)
		wantTypes string
		wantCount float64
		wantPlain string
	}{
		{"value", "value:a", nil, "busy,execute_input,execute_result,execute_reply,idle", 1, `"a"`},
		{"no value", "print:x", nil, "busy,execute_input,stream,execute_reply,idle", 2, ""},
		{"tuple", "tuple", nil, "busy,execute_input,execute_result,execute_reply,idle", 3, "(1, <nil>)"},
		{"silent", "value:b", []func(map[string]any){func(c map[string]any) { c["silent"] = true }}, "busy,execute_reply,idle", 3, ""},
		{"no history", "value:c", []func(map[string]any){func(c map[string]any) { c["store_history"] = false }}, "busy,execute_input,execute_result,execute_reply,idle", 3, `"c"`},
		{"error", "fail:boom", nil, "busy,execute_input,error,execute_reply,idle", 4, ""},
		{"counts go on", "value:d", nil, "busy,execute_input,execute_result,execute_reply,idle", 5, `"d"`},
		{"a lone nil is not shown", "nil", nil, "busy,execute_input,execute_reply,idle", 6, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := execute(t, w, tt.code, tt.opts...)
			msgs := w.idle(t, req)
			if got := types(msgs); got != tt.wantTypes {
				t.Fatalf("messages = %s, want %s", got, tt.wantTypes)
			}
			reply := content(t, find(msgs, "execute_reply"))
			if reply["execution_count"] != tt.wantCount {
				t.Errorf("execution_count = %v, want %v", reply["execution_count"], tt.wantCount)
			}
			if r := find(msgs, "execute_result"); r != nil {
				c := content(t, r)
				if c["execution_count"] != tt.wantCount {
					t.Errorf("result count = %v", c["execution_count"])
				}
				if plain := c["data"].(map[string]any)["text/plain"]; plain != tt.wantPlain {
					t.Errorf("text/plain = %v, want %v", plain, tt.wantPlain)
				}
			}
			if rep := find(msgs, "execute_reply"); rep.Channel != jupyter.Shell {
				t.Errorf("reply went out on %s", rep.Channel)
			}
		})
	}
}

func TestErrorReplyCarriesTraceback(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	msgs := w.idle(t, execute(t, w, "fail:bad thing"))
	for _, typ := range []string{"error", "execute_reply"} {
		c := content(t, find(msgs, typ))
		if c["ename"] != "panic" || c["evalue"] != "bad thing" {
			t.Errorf("%s = %v", typ, c)
		}
		if tb, ok := c["traceback"].([]any); !ok || len(tb) == 0 {
			t.Errorf("%s traceback = %v", typ, c["traceback"])
		}
	}
	if c := content(t, find(msgs, "execute_reply")); c["status"] != "error" {
		t.Errorf("status = %v", c["status"])
	}
}

func TestBrokenExecutorIsAKernelErrorNotACrash(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	msgs := w.idle(t, execute(t, w, "broken"))
	if c := content(t, find(msgs, "execute_reply")); c["ename"] != "KernelError" {
		t.Fatalf("reply = %v", c)
	}
}

func TestStopOnErrorAbortsQueuedExecutes(t *testing.T) {
	_, w, ex := startSession(t, Options{})
	ex.gate = make(chan struct{})
	first := w.request(t, jupyter.Shell, "execute_request", map[string]any{"code": "gatedfail:x", "stop_on_error": true, "store_history": true})
	second := w.request(t, jupyter.Shell, "execute_request", map[string]any{"code": "value:never", "stop_on_error": true, "store_history": true})
	info := w.request(t, jupyter.Shell, "kernel_info_request", nil)
	third := w.request(t, jupyter.Shell, "execute_request", map[string]any{"code": "value:never2", "stop_on_error": true, "store_history": true})
	// The first cell runs until the others are queued behind it, as with
	// "Run All" behind a slow failing cell.
	w.shell <- first
	w.waitFor(t, func(m *jupyter.Message) bool {
		return m.Type() == "execute_input" && m.ParentID() == first.Header.MsgID
	})
	for _, m := range []*jupyter.Message{second, info, third} {
		w.shell <- m
	}
	close(ex.gate)
	for _, m := range []*jupyter.Message{second, third} {
		msgs := w.idle(t, m)
		if got := types(msgs); got != "busy,execute_reply,idle" {
			t.Errorf("aborted request messages = %s", got)
		}
		if c := content(t, find(msgs, "execute_reply")); c["status"] != "aborted" {
			t.Errorf("status = %v", c["status"])
		}
	}
	if find(w.idle(t, info), "kernel_info_reply") == nil {
		t.Error("kernel_info queued behind the failed cell was not answered")
	}
	ex.mu.Lock()
	ran := strings.Join(ex.ran, ",")
	ex.mu.Unlock()
	if strings.Contains(ran, "never") {
		t.Errorf("aborted cells ran: %v", ran)
	}
	// The failed request is idle before any aborted request is busy.
	w.mu.Lock()
	var order []string
	for _, m := range w.sent {
		if m.Type() == "status" && (m.ParentID() == first.Header.MsgID || m.ParentID() == second.Header.MsgID) {
			order = append(order, m.ParentID()[:4]+strings.TrimSuffix(strings.TrimPrefix(string(m.Content), `{"execution_state":"`), `"}`))
		}
	}
	w.mu.Unlock()
	want := []string{first.Header.MsgID[:4] + "busy", first.Header.MsgID[:4] + "idle", second.Header.MsgID[:4] + "busy", second.Header.MsgID[:4] + "idle"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("status order = %v, want %v", order, want)
	}
	// A request sent after the failed cell's idle runs, even while the
	// aborted ones are still being answered.
	msgs := w.idle(t, execute(t, w, "value:after"))
	if c := content(t, find(msgs, "execute_reply")); c["status"] != "ok" {
		t.Errorf("after abort: %v", c)
	}
}

func TestStopOnErrorFalseKeepsGoing(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	first := execute(t, w, "fail:x", func(c map[string]any) { c["stop_on_error"] = false })
	second := execute(t, w, "value:ran")
	w.idle(t, first)
	if c := content(t, find(w.idle(t, second), "execute_reply")); c["status"] != "ok" {
		t.Fatalf("second = %v", c)
	}
}

func TestInterruptOnControl(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	req := execute(t, w, "block")
	w.waitFor(t, func(m *jupyter.Message) bool { return m.Type() == "execute_input" && m.ParentID() == req.Header.MsgID })
	intr := w.request(t, jupyter.Control, "interrupt_request", nil)
	start := time.Now()
	w.control <- intr
	msgs := w.idle(t, req)
	if d := time.Since(start); d > time.Second {
		t.Errorf("interrupt took %v", d)
	}
	if c := content(t, find(msgs, "execute_reply")); c["ename"] != "Interrupted" {
		t.Errorf("reply = %v", c)
	}
	rep := w.waitFor(t, func(m *jupyter.Message) bool { return m.Type() == "interrupt_reply" })
	if rep.Channel != jupyter.Control {
		t.Errorf("interrupt_reply on %s", rep.Channel)
	}
}

func TestInterruptMethod(t *testing.T) {
	var hooked atomic.Int32
	s, w, _ := startSession(t, Options{OnInterrupt: func() { hooked.Add(1) }})
	req := execute(t, w, "block")
	w.waitFor(t, func(m *jupyter.Message) bool { return m.Type() == "execute_input" && m.ParentID() == req.Header.MsgID })
	s.Interrupt() // what the SIGINT handler calls
	if c := content(t, find(w.idle(t, req), "execute_reply")); c["ename"] != "Interrupted" {
		t.Errorf("reply = %v", c)
	}
	// The hook stops work outside the interpreter, such as a lake query.
	if n := hooked.Load(); n != 1 {
		t.Errorf("OnInterrupt called %d times, want 1", n)
	}
}

func TestInputRequest(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	req := execute(t, w, "input", func(c map[string]any) { c["allow_stdin"] = true })
	ir := w.waitFor(t, func(m *jupyter.Message) bool { return m.Type() == "input_request" })
	if ir.Channel != jupyter.Stdin || ir.ParentID() != req.Header.MsgID || string(ir.Identities[0]) != "client" {
		t.Fatalf("input_request = %v (channel %s)", ir, ir.Channel)
	}
	w.stdin <- w.request(t, jupyter.Stdin, "input_reply", map[string]any{"value": "gopher"})
	msgs := w.idle(t, req)
	if c := content(t, find(msgs, "execute_result")); c["data"].(map[string]any)["text/plain"] != `"gopher"` {
		t.Fatalf("result = %v", c)
	}
	// Without allow_stdin the executor gets no Input function.
	msgs = w.idle(t, execute(t, w, "input"))
	if c := content(t, find(msgs, "execute_reply")); c["status"] != "error" {
		t.Fatalf("reply = %v", c)
	}
}

func TestInterruptWhileWaitingForInput(t *testing.T) {
	s, w, _ := startSession(t, Options{})
	req := execute(t, w, "input", func(c map[string]any) { c["allow_stdin"] = true })
	w.waitFor(t, func(m *jupyter.Message) bool { return m.Type() == "input_request" })
	s.Interrupt()
	if c := content(t, find(w.idle(t, req), "execute_reply")); c["status"] != "error" {
		t.Fatalf("reply = %v", c)
	}
}

func TestOutputCap(t *testing.T) {
	_, w, _ := startSession(t, Options{MaxOutputBytes: 10})
	msgs := w.idle(t, execute(t, w, "print:0123456789abcdef"))
	var out, errText string
	for _, m := range msgs {
		if m.Type() == "stream" {
			c := content(t, m)
			if c["name"] == "stdout" {
				out += c["text"].(string)
			} else {
				errText += c["text"].(string)
			}
		}
	}
	if out != "0123456789" {
		t.Errorf("stdout = %q, want the first 10 bytes", out)
	}
	if !strings.Contains(errText, "output limit of 10 bytes") {
		t.Errorf("notice = %q", errText)
	}
	// The next cell starts with a fresh allowance.
	msgs = w.idle(t, execute(t, w, "print:ok"))
	if c := content(t, find(msgs, "stream")); c["text"] != "ok" {
		t.Errorf("next cell output = %v", c)
	}
}

func TestDisplayIsAttributedToTheCell(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	req := execute(t, w, "show:<b>x</b>")
	msgs := w.idle(t, req)
	d := find(msgs, "display_data")
	if d == nil {
		t.Fatalf("no display_data in %s", types(msgs))
	}
	if c := content(t, d); c["data"].(map[string]any)["text/html"] != "<b>x</b>" {
		t.Errorf("display = %v", c)
	}
}

func TestIntrospectionRequests(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	tests := []struct {
		msgType string
		content map[string]any
		check   func(map[string]any) bool
	}{
		{"complete_request", map[string]any{"code": "fmt.Pri", "cursor_pos": 7}, func(c map[string]any) bool {
			return c["status"] == "ok" && c["cursor_start"] == float64(4) && c["cursor_end"] == float64(7) && fmt.Sprint(c["matches"]) == "[Println]"
		}},
		{"inspect_request", map[string]any{"code": "fmt.Println", "cursor_pos": 5, "detail_level": 0}, func(c map[string]any) bool {
			return c["found"] == true && c["data"].(map[string]any)["text/plain"] != nil
		}},
		{"inspect_request", map[string]any{"code": "nothing", "cursor_pos": 3}, func(c map[string]any) bool {
			return c["status"] == "ok" && c["found"] == false && len(c["data"].(map[string]any)) == 0
		}},
		{"is_complete_request", map[string]any{"code": "func f() {"}, func(c map[string]any) bool {
			return c["status"] == "incomplete" && c["indent"] == "\t"
		}},
		{"is_complete_request", map[string]any{"code": "%packages"}, func(c map[string]any) bool { return c["status"] == "complete" }},
		{"comm_info_request", nil, func(c map[string]any) bool { return c["status"] == "ok" && len(c["comms"].(map[string]any)) == 0 }},
		{"kernel_info_request", nil, func(c map[string]any) bool {
			li := c["language_info"].(map[string]any)
			return c["protocol_version"] == jupyter.ProtocolVersion && li["name"] == "go" && li["mimetype"] == "text/x-go"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.msgType, func(t *testing.T) {
			req := w.request(t, jupyter.Shell, tt.msgType, tt.content)
			w.shell <- req
			msgs := w.idle(t, req)
			reply := strings.TrimSuffix(tt.msgType, "_request") + "_reply"
			m := find(msgs, reply)
			if m == nil {
				t.Fatalf("no %s in %s", reply, types(msgs))
			}
			if c := content(t, m); !tt.check(c) {
				t.Errorf("%s = %v", reply, c)
			}
		})
	}
}

func TestCommOpenIsClosed(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	req := w.request(t, jupyter.Shell, "comm_open", map[string]any{"comm_id": "c1", "target_name": "jupyter.widget", "data": map[string]any{}})
	w.shell <- req
	msgs := w.idle(t, req)
	if c := find(msgs, "comm_close"); c == nil || content(t, c)["comm_id"] != "c1" {
		t.Fatalf("messages: %s", types(msgs))
	}
}

func TestShutdownOnControl(t *testing.T) {
	s, w, _ := startSession(t, Options{})
	req := w.request(t, jupyter.Control, "shutdown_request", map[string]any{"restart": true})
	w.control <- req
	rep := w.waitFor(t, func(m *jupyter.Message) bool { return m.Type() == "shutdown_reply" })
	if rep.Channel != jupyter.Control || content(t, rep)["restart"] != true {
		t.Fatalf("reply = %v", rep)
	}
	select {
	case <-s.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("session did not stop after shutdown_request")
	}
}

func TestHistoryRequests(t *testing.T) {
	_, w, _ := startSession(t, Options{})
	for _, code := range []string{"value:alpha", "value:beta", "value:alpha"} {
		w.idle(t, execute(t, w, code))
	}
	tests := []struct {
		name    string
		content map[string]any
		want    string
	}{
		{"tail", map[string]any{"hist_access_type": "tail", "n": 2, "output": false}, "[[1 2 value:beta] [1 3 value:alpha]]"},
		{"range", map[string]any{"hist_access_type": "range", "session": 0, "start": 1, "stop": 3}, "[[1 1 value:alpha] [1 2 value:beta]]"},
		{"other session", map[string]any{"hist_access_type": "range", "session": 7, "start": 1}, "[]"},
		{"search", map[string]any{"hist_access_type": "search", "pattern": "*alp?a"}, "[[1 1 value:alpha] [1 3 value:alpha]]"},
		{"search unique", map[string]any{"hist_access_type": "search", "pattern": "*alpha", "unique": true}, "[[1 3 value:alpha]]"},
		{"with output", map[string]any{"hist_access_type": "tail", "n": 1, "output": true}, `[[1 3 [value:alpha "alpha"]]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := w.request(t, jupyter.Shell, "history_request", tt.content)
			w.shell <- req
			c := content(t, find(w.idle(t, req), "history_reply"))
			if got := fmt.Sprint(c["history"]); got != tt.want {
				t.Errorf("history = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSplitMagics(t *testing.T) {
	tests := []struct {
		name     string
		cell     string
		magics   []magicLine
		code     string
		errorSub string
	}{
		{"no magics", "x := 1", nil, "x := 1", ""},
		{"magic only", "%packages net", []magicLine{{"packages", "net"}}, "", ""},
		{"time keeps line numbers", "%time\nx := 1\ny", []magicLine{{"time", ""}}, "\nx := 1\ny", ""},
		{"cell magic spelling", "%%time\nx", []magicLine{{"time", ""}}, "\nx", ""},
		{"leading blank lines", "\n  %env A=b\nx", []magicLine{{"env", "A=b"}}, "\n\nx", ""},
		{"percent later is code", "x := 1\n%help", nil, "x := 1\n%help", ""},
		{"unknown", "%bogus", nil, "", "unknown magic %bogus on line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			magics, code, err := splitMagics(tt.cell)
			if tt.errorSub != "" {
				if err == nil || !strings.Contains(err.Value, tt.errorSub) {
					t.Fatalf("err = %v, want %q", err, tt.errorSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(magics) != fmt.Sprint(tt.magics) || code != tt.code {
				t.Errorf("got %v %q, want %v %q", magics, code, tt.magics, tt.code)
			}
		})
	}
}

func TestMagics(t *testing.T) {
	_, w, ex := startSession(t, Options{})
	stdout := func(msgs []*jupyter.Message) string {
		var s string
		for _, m := range msgs {
			if m.Type() == "stream" {
				s += content(t, m)["text"].(string)
			}
		}
		return s
	}
	if out := stdout(w.idle(t, execute(t, w, "%help"))); !strings.Contains(out, "%packages") || !strings.Contains(out, "IO.Read") {
		t.Errorf("%%help = %q", out)
	}
	if out := stdout(w.idle(t, execute(t, w, "%packages netip"))); !strings.Contains(out, "net/netip  IP addresses") || strings.Contains(out, "fmt") {
		t.Errorf("%%packages = %q", out)
	}
	if out := stdout(w.idle(t, execute(t, w, "%time\nvalue:x"))); !strings.Contains(out, "Wall time:") {
		t.Errorf("%%time = %q", out)
	}
	t.Setenv("FLOWLAB_SESSION_TEST", "")
	w.idle(t, execute(t, w, "%env FLOWLAB_SESSION_TEST=on"))
	if out := stdout(w.idle(t, execute(t, w, "%env FLOWLAB_SESSION_TEST"))); out != "on\n" {
		t.Errorf("%%env NAME = %q", out)
	}
	t.Setenv("FLOWLAB_TEST_TOKEN", "s3cr3t")
	if out := stdout(w.idle(t, execute(t, w, "%env"))); strings.Contains(out, "s3cr3t") || !strings.Contains(out, "FLOWLAB_TEST_TOKEN=<hidden>") {
		t.Errorf("%%env listing leaks or misses secrets")
	}
	w.idle(t, execute(t, w, "%reset"))
	ex.mu.Lock()
	if ex.reset != 1 {
		t.Errorf("reset called %d times", ex.reset)
	}
	ex.mu.Unlock()
	msgs := w.idle(t, execute(t, w, "%nope"))
	if c := content(t, find(msgs, "execute_reply")); c["ename"] != "MagicError" {
		t.Errorf("unknown magic reply = %v", c)
	}
}
