package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlab/flowlab/internal/flowlabtest"
	"github.com/flowlab/flowlab/kernel/jupyter"
)

// lifecycle delivers states to its live subscribers only, as the kernel
// manager's Subscribe does: a state published while nobody listens is lost.
type lifecycle struct {
	mu   sync.Mutex
	n    int
	subs map[int]chan string
}

func (l *lifecycle) subscribe() (<-chan string, func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs == nil {
		l.subs = map[int]chan string{}
	}
	l.n++
	id, ch := l.n, make(chan string, 8)
	l.subs[id] = ch
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.subs, id)
	}
}

func (l *lifecycle) publish(state string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range l.subs {
		select {
		case ch <- state:
		default:
		}
	}
}

// restartServer serves ServeChannels as the server's kernelChannels does,
// with a kernel whose connection info conn returns and whose lifecycle
// states come from life.
func restartServer(t *testing.T, rb *ReconnectBuffers, life *lifecycle, conn func() jupyter.ConnectionInfo) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := ServeChannels(r.Context(), w, r, ChannelsOptions{
			Connection: conn(),
			SessionID:  r.URL.Query().Get("session_id"),
			Subscribe:  life.subscribe,
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

func isStatus(state string) func(*jupyter.Message) bool {
	return func(m *jupyter.Message) bool {
		if m.Type() != "status" {
			return false
		}
		var c struct {
			ExecutionState string `json:"execution_state"`
		}
		return json.Unmarshal(m.Content, &c) == nil && c.ExecutionState == state
	}
}

// TestReconnectReplaysRestart: a kernel restarted while its session's
// websocket is down is announced (status restarting) to the reconnect,
// so the page clears its running cells.
func TestReconnectReplaysRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	k := flowlabtest.StartKernel(t, nil)
	rb := &ReconnectBuffers{Window: time.Hour}
	life := &lifecycle{}
	srv := restartServer(t, rb, life, func() jupyter.ConnectionInfo { return k.Connection })
	c := dialDroppable(t, srv, "s-restart")
	id := c.send(jupyter.Shell, "kernel_info_request", map[string]any{})
	c.recv(func(m *jupyter.Message) bool { return m.Type() == "kernel_info_reply" && m.ParentID() == id })
	c.drop()
	waitKept(t, rb, 1)
	life.publish(StateRestarting)
	c2 := dialDroppable(t, srv, "s-restart")
	c2.recv(isStatus(StateRestarting))
}

// TestReconnectRedialsAfterNewPorts: a session kept across a restart that
// moved the kernel to new ports reconnects to the new ports (and hears
// the restart), not to the old connection that nothing answers any more.
func TestReconnectRedialsAfterNewPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernel processes")
	}
	k1 := flowlabtest.StartKernel(t, nil)
	k2 := flowlabtest.StartKernel(t, nil)
	var mu sync.Mutex
	current := k1.Connection
	rb := &ReconnectBuffers{Window: time.Hour}
	life := &lifecycle{}
	srv := restartServer(t, rb, life, func() jupyter.ConnectionInfo {
		mu.Lock()
		defer mu.Unlock()
		return current
	})
	c := dialDroppable(t, srv, "s-ports")
	id := c.send(jupyter.Shell, "execute_request", executeContent(`x := 41`))
	c.recv(func(m *jupyter.Message) bool { return m.Type() == "execute_reply" && m.ParentID() == id })
	c.drop()
	waitKept(t, rb, 1)
	mu.Lock()
	current = k2.Connection // the restart moved the kernel
	mu.Unlock()
	life.publish(StateRestarting)

	c2 := dialDroppable(t, srv, "s-ports")
	c2.recv(isStatus(StateRestarting))
	id = c2.send(jupyter.Shell, "execute_request", executeContent(`x`))
	msgs := c2.recv(func(m *jupyter.Message) bool { return m.Type() == "execute_reply" && m.ParentID() == id })
	var reply struct{ Status string }
	if err := json.Unmarshal(msgs[len(msgs)-1].Content, &reply); err != nil {
		t.Fatal(err)
	}
	if reply.Status != "error" {
		t.Errorf("x evaluated with status %q after the restart: the reconnect still talks to the old kernel", reply.Status)
	}
}

func keptKeys(rb *ReconnectBuffers) map[string]bool {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	keys := map[string]bool{}
	for k, c := range rb.conns {
		if c.parked != nil {
			keys[k] = true
		}
	}
	return keys
}

// TestReconnectGlobalBounds: dropped sessions are bounded per kernel and
// in total bytes; the oldest kept session goes first.
func TestReconnectGlobalBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	park := func(t *testing.T, srv *httptest.Server, rb *ReconnectBuffers, session string, kept int) {
		t.Helper()
		c := dialDroppable(t, srv, session)
		id := c.send(jupyter.Shell, "kernel_info_request", map[string]any{})
		c.recv(func(m *jupyter.Message) bool { return m.Type() == "kernel_info_reply" && m.ParentID() == id })
		c.drop()
		waitKept(t, rb, kept)
	}
	t.Run("per kernel", func(t *testing.T) {
		rb := &ReconnectBuffers{Window: time.Hour, MaxKeptPerKernel: 2}
		srv := reconnectServer(t, rb)
		park(t, srv, rb, "a", 1)
		park(t, srv, rb, "b", 2)
		park(t, srv, rb, "c", 2)
		time.Sleep(100 * time.Millisecond)
		got := keptKeys(rb)
		if got["k1\x00a"] || !got["k1\x00b"] || !got["k1\x00c"] {
			t.Errorf("kept %v, want b and c (a, the oldest, dropped)", got)
		}
	})
	t.Run("total bytes", func(t *testing.T) {
		rb := &ReconnectBuffers{Window: time.Hour, MaxTotalBytes: 4 << 10}
		srv := reconnectServer(t, rb)
		park(t, srv, rb, "idle", 1)
		c := dialDroppable(t, srv, "busy")
		c.send(jupyter.Shell, "execute_request", executeContent(slowPrint))
		c.recv(func(m *jupyter.Message) bool { return m.Type() == "stream" })
		c.drop()
		for deadline := time.Now().Add(10 * time.Second); keptKeys(rb)["k1\x00idle"]; {
			if time.Now().After(deadline) {
				t.Fatalf("the oldest kept session stayed past the total budget: %v", keptKeys(rb))
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // the busy cell's output ends
		rb.mu.Lock()
		total := rb.total
		rb.mu.Unlock()
		if total > 4<<10 {
			t.Errorf("%d bytes kept, budget %d", total, 4<<10)
		}
	})
}

// TestChannelsKeepsUnsentInputRequest: an input_request that could not be
// written to a dropped websocket is kept for the reconnect like any other
// kernel message; losing it leaves the kernel waiting for input forever.
func TestChannelsKeepsUnsentInputRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		conn.CloseNow()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):], nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.CloseNow() // every write now fails
	sess, err := jupyter.NewSession(jupyter.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		channel jupyter.Channel
		kept    bool
	}{
		{"stdin input_request", jupyter.Stdin, true},
		{"iopub stream", jupyter.IOPub, true},
		{"heartbeat", jupyter.Heartbeat, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sess.NewMessage("input_request", map[string]any{"prompt": "? ", "password": false})
			if err != nil {
				t.Fatal(err)
			}
			m.Channel = tc.channel
			msgs := make(chan *jupyter.Message, 1)
			msgs <- m
			if tc.channel == jupyter.Heartbeat {
				close(msgs)
			}
			b := &bridge{conn: conn, msgs: msgs, log: slog.New(slog.DiscardHandler), activity: func() {}}
			if err := b.toBrowser(ctx, nil, nil, nil); err == nil {
				t.Fatal("toBrowser wrote to a closed websocket")
			}
			if got := len(b.unsent) == 1 && b.unsent[0] == m; got != tc.kept {
				t.Errorf("unsent %v, want kept %v", b.unsent, tc.kept)
			}
		})
	}
}

// TestReconnectNotKeptForGoneKernel: a websocket that drops after its
// kernel was shut down is not kept for a reconnect.
func TestReconnectNotKeptForGoneKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	k := flowlabtest.StartKernel(t, nil)
	rb := &ReconnectBuffers{Window: time.Hour}
	ctx := context.Background()
	c, _, err := rb.attach(ctx, "k1", "s", func(error) {}, func(ctx context.Context) (*jupyter.Client, error) {
		return jupyter.Dial(ctx, k.Connection, jupyter.ClientOptions{})
	}, k.Connection, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	close(done)
	rb.DropKernel("k1") // the kernel was shut down before the websocket let go
	rb.release(c, true, nil, done)
	if n := rb.Kept(); n != 0 {
		t.Errorf("kept %d sessions of a kernel that is gone", n)
	}
}
