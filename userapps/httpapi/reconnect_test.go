package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlab/flowlab/internal/flowlabtest"
	"github.com/flowlab/flowlab/kernel/jupyter"
)

// reconnectServer serves ServeChannels for one real kernel with rb keeping
// dropped sessions.
func reconnectServer(t *testing.T, rb *ReconnectBuffers) *httptest.Server {
	t.Helper()
	k := flowlabtest.StartKernel(t, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := ServeChannels(r.Context(), w, r, ChannelsOptions{
			Connection: k.Connection,
			SessionID:  r.URL.Query().Get("session_id"),
			KernelID:   "k1",
			Reconnect:  rb,
		})
		if err != nil {
			t.Logf("ServeChannels: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// droppable is a websocket client whose TCP connection the test can cut
// without a close frame, as a failing network does.
type droppable struct {
	*wsClient
	mu  sync.Mutex
	raw net.Conn
}

func dialDroppable(t *testing.T, srv *httptest.Server, session string) *droppable {
	t.Helper()
	d := &droppable{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		d.mu.Lock()
		d.raw = c
		d.mu.Unlock()
		return c, err
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/channels?session_id="+session, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(64 << 20)
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	d.wsClient = &wsClient{t: t, conn: conn}
	return d
}

// drop cuts the TCP connection: no close frame, as when a network fails.
func (d *droppable) drop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if tc, ok := d.raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, not an orderly close
	}
	_ = d.raw.Close()
}

// streamText joins the stdout of msgs answering parent.
func streamText(t *testing.T, msgs []*jupyter.Message, parent string) string {
	t.Helper()
	var b strings.Builder
	for _, m := range msgs {
		if m.Type() != "stream" || m.ParentID() != parent {
			continue
		}
		var c struct{ Text string }
		if err := json.Unmarshal(m.Content, &c); err != nil {
			t.Fatal(err)
		}
		b.WriteString(c.Text)
	}
	return b.String()
}

func waitKept(t *testing.T, rb *ReconnectBuffers, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); rb.Kept() != want; {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions kept, want %d", rb.Kept(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const slowPrint = `import ("fmt"; "time")
for i := 0; i < 8; i++ { fmt.Printf("line %d\n", i); time.Sleep(150 * time.Millisecond) }`

func executeContent(code string) map[string]any {
	return map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true}
}

const allLines = "line 0\nline 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\n"

// TestReconnectReplaysOutput checks issue 8's "reconnects after a network
// drop without losing outputs": the output a cell prints while its
// websocket is down, and the cell's execute_reply, reach the websocket
// that reconnects with the same session id, in order, after what came
// before the drop.
func TestReconnectReplaysOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	rb := &ReconnectBuffers{Window: 30 * time.Second}
	srv := reconnectServer(t, rb)

	c := dialDroppable(t, srv, "s-replay")
	id := c.send(jupyter.Shell, "execute_request", executeContent(slowPrint))
	before := c.recv(func(m *jupyter.Message) bool { return m.Type() == "stream" && m.ParentID() == id })
	c.drop()
	waitKept(t, rb, 1)
	time.Sleep(500 * time.Millisecond) // the cell prints on meanwhile

	again := dialDroppable(t, srv, "s-replay")
	var idle, replied bool
	after := again.recv(func(m *jupyter.Message) bool {
		idle = idle || m.Type() == "status" && m.ParentID() == id && strings.Contains(string(m.Content), "idle")
		replied = replied || m.Type() == "execute_reply" && m.ParentID() == id
		return idle && replied
	})
	if got := streamText(t, before, id) + streamText(t, after, id); got != allLines {
		t.Errorf("output across the drop:\n%s\nwant\n%s", got, allLines)
	}
	if rb.Kept() != 0 {
		t.Errorf("%d sessions still kept after the reconnect", rb.Kept())
	}
	// The reconnected websocket works on.
	id = again.send(jupyter.Shell, "execute_request", executeContent(`6 * 7`))
	again.recv(func(m *jupyter.Message) bool {
		return m.Type() == "execute_result" && m.ParentID() == id && strings.Contains(string(m.Content), `"42"`)
	})
}

// TestReconnectKeepsOnlyDrops checks what is kept: a websocket the client
// closes keeps nothing; a dropped one is kept until its window passes or
// its buffer is full; another session id gets nothing of it; a websocket
// of a session still open replaces the old one and gets its output.
func TestReconnectKeepsOnlyDrops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	var mu sync.Mutex
	var timers []func()
	rb := &ReconnectBuffers{Window: time.Hour, AfterFunc: func(_ time.Duration, f func()) func() bool {
		mu.Lock()
		defer mu.Unlock()
		timers = append(timers, f)
		return func() bool { return true }
	}}
	srv := reconnectServer(t, rb)
	fireTimers := func() {
		mu.Lock()
		fs := timers
		timers = nil
		mu.Unlock()
		for _, f := range fs {
			f()
		}
	}
	info := func(c *droppable) {
		t.Helper()
		id := c.send(jupyter.Shell, "kernel_info_request", map[string]any{})
		c.recv(func(m *jupyter.Message) bool { return m.Type() == "kernel_info_reply" && m.ParentID() == id })
	}

	t.Run("closed", func(t *testing.T) {
		c := dialDroppable(t, srv, "s-closed")
		info(c)
		c.conn.Close(websocket.StatusNormalClosure, "")
		time.Sleep(200 * time.Millisecond)
		if n := rb.Kept(); n != 0 {
			t.Errorf("a closed websocket kept %d sessions", n)
		}
	})

	t.Run("window passes", func(t *testing.T) {
		c := dialDroppable(t, srv, "s-window")
		id := c.send(jupyter.Shell, "execute_request", executeContent(`import "fmt"; fmt.Println("before the window ends")`))
		c.drop()
		waitKept(t, rb, 1)
		fireTimers()
		waitKept(t, rb, 0)
		// A reconnect after the window starts afresh: nothing replayed.
		again := dialDroppable(t, srv, "s-window")
		probe := again.send(jupyter.Shell, "kernel_info_request", map[string]any{})
		msgs := again.recv(func(m *jupyter.Message) bool { return m.Type() == "kernel_info_reply" && m.ParentID() == probe })
		// (iopub is broadcast to every websocket; the reply goes only to
		// the session that asked, so a replay would show it.)
		for _, m := range msgs {
			if m.ParentID() == id && m.Channel == jupyter.Shell {
				t.Errorf("replayed %s after the window passed", m.Type())
			}
		}
		time.Sleep(300 * time.Millisecond)
		probe = again.send(jupyter.Shell, "kernel_info_request", map[string]any{})
		msgs = again.recv(func(m *jupyter.Message) bool { return m.Type() == "kernel_info_reply" && m.ParentID() == probe })
		for _, m := range msgs {
			if m.ParentID() == id && m.Channel == jupyter.Shell {
				t.Errorf("replayed %s after the window passed", m.Type())
			}
		}
	})

	t.Run("buffer full", func(t *testing.T) {
		rb.MaxBytes = 2000
		defer func() { rb.MaxBytes = 0 }()
		c := dialDroppable(t, srv, "s-full")
		info(c)
		c.drop()
		waitKept(t, rb, 1)
		// A second websocket makes output while the first is away: more
		// than MaxBytes of it ends the kept session.
		other := dialDroppable(t, srv, "s-other")
		id := other.send(jupyter.Shell, "execute_request", executeContent(`import ("fmt"; "strings"); fmt.Println(strings.Repeat("x", 5000))`))
		other.recv(func(m *jupyter.Message) bool { return m.Type() == "execute_reply" && m.ParentID() == id })
		waitKept(t, rb, 0)
	})

	t.Run("other session", func(t *testing.T) {
		c := dialDroppable(t, srv, "s-mine")
		id := c.send(jupyter.Shell, "execute_request", executeContent(slowPrint))
		c.recv(func(m *jupyter.Message) bool { return m.Type() == "stream" && m.ParentID() == id })
		c.drop()
		waitKept(t, rb, 1)
		// Another session sees iopub (it is broadcast) but not the reply.
		other := dialDroppable(t, srv, "s-yours")
		msgs := other.recv(func(m *jupyter.Message) bool {
			return m.Type() == "status" && m.ParentID() == id && strings.Contains(string(m.Content), "idle")
		})
		for _, m := range msgs {
			if m.Type() == "execute_reply" {
				t.Errorf("session s-yours got s-mine's execute_reply")
			}
		}
		if strings.Contains(streamText(t, msgs, id), "line 0") {
			t.Errorf("session s-yours got output from before it connected: %q", streamText(t, msgs, id))
		}
		// s-mine gets everything, the reply included.
		mine := dialDroppable(t, srv, "s-mine")
		after := mine.recv(func(m *jupyter.Message) bool { return m.Type() == "execute_reply" && m.ParentID() == id })
		if got := streamText(t, after, id); !strings.HasSuffix(got, "line 7\n") {
			t.Errorf("s-mine's replay: %q", got)
		}
	})

	t.Run("replaced while open", func(t *testing.T) {
		old := dialDroppable(t, srv, "s-stale")
		id := old.send(jupyter.Shell, "execute_request", executeContent(slowPrint))
		before := old.recv(func(m *jupyter.Message) bool { return m.Type() == "stream" && m.ParentID() == id })
		// The old websocket is never dropped from the server's view: the
		// new one of the same session replaces it and gets the rest.
		fresh := dialDroppable(t, srv, "s-stale")
		after := fresh.recv(func(m *jupyter.Message) bool { return m.Type() == "execute_reply" && m.ParentID() == id })
		// What the old websocket was sent before it ended, then its end.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			typ, data, err := old.conn.Read(ctx)
			if err != nil {
				if ctx.Err() != nil {
					t.Errorf("the replaced websocket stayed open")
				}
				break
			}
			kind := textFrame
			if typ == websocket.MessageBinary {
				kind = binaryFrame
			}
			m, err := decodeMessage(false, kind, data)
			if err != nil {
				t.Fatal(err)
			}
			before = append(before, m)
		}
		if got := streamText(t, before, id) + streamText(t, after, id); got != allLines {
			t.Errorf("output across the replacement:\n%s\nwant\n%s", got, allLines)
		}
	})
}
