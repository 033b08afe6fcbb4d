package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlab/flowlab/internal/flowlabtest"
	"github.com/flowlab/flowlab/kernel/jupyter"
)

// channelsServer serves ServeChannels for one real kernel, and lets the test
// push lifecycle events.
func channelsServer(t *testing.T) (*httptest.Server, chan string) {
	srv, events, _ := channelsServerActivity(t)
	return srv, events
}

// channelsServerActivity is channelsServer, also counting Activity calls.
func channelsServerActivity(t *testing.T) (*httptest.Server, chan string, *atomic.Int64) {
	t.Helper()
	k := flowlabtest.StartKernel(t, nil)
	events := make(chan string, 4)
	var activity atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := ServeChannels(r.Context(), w, r, ChannelsOptions{
			Connection: k.Connection,
			SessionID:  r.URL.Query().Get("session_id"),
			Events:     events,
			Activity:   func() { activity.Add(1) },
		})
		if err != nil {
			t.Logf("ServeChannels: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, events, &activity
}

// wsClient is a browser-side connection speaking one protocol.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	v1   bool
}

func dialChannels(t *testing.T, srv *httptest.Server, v1 bool) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{}
	if v1 {
		opts.Subprotocols = []string{ProtocolV1}
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/channels?session_id=browser-1", opts)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(64 << 20)
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	if got := conn.Subprotocol(); (got == ProtocolV1) != v1 {
		t.Fatalf("negotiated subprotocol %q (offered v1: %v)", got, v1)
	}
	return &wsClient{t: t, conn: conn, v1: v1}
}

func (c *wsClient) send(ch jupyter.Channel, msgType string, content any) string {
	c.t.Helper()
	sess, err := jupyter.NewSession(jupyter.SessionOptions{ID: "browser-1"})
	if err != nil {
		c.t.Fatal(err)
	}
	m, err := sess.NewMessage(msgType, content)
	if err != nil {
		c.t.Fatal(err)
	}
	m.Channel = ch
	kind, data, err := encodeFrame(c.v1, m)
	if err != nil {
		c.t.Fatal(err)
	}
	typ := websocket.MessageText
	if kind == binaryFrame {
		typ = websocket.MessageBinary
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, typ, data); err != nil {
		c.t.Fatal(err)
	}
	return m.Header.MsgID
}

// recv reads messages until one matches, returning all read.
func (c *wsClient) recv(match func(*jupyter.Message) bool) []*jupyter.Message {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var seen []*jupyter.Message
	for {
		typ, data, err := c.conn.Read(ctx)
		if err != nil {
			c.t.Fatalf("read: %v (after %d messages)", err, len(seen))
		}
		if c.v1 && typ != websocket.MessageBinary {
			c.t.Fatalf("v1 frame of type %v", typ)
		}
		kind := textFrame
		if typ == websocket.MessageBinary {
			kind = binaryFrame
		}
		m, err := decodeMessage(c.v1, kind, data)
		if err != nil {
			c.t.Fatal(err)
		}
		seen = append(seen, m)
		if match(m) {
			return seen
		}
	}
}

func TestChannelsExecute(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	srv, events, activity := channelsServerActivity(t)
	for _, v1 := range []bool{false, true} {
		name := "default"
		if v1 {
			name = "v1"
		}
		t.Run(name, func(t *testing.T) {
			c := dialChannels(t, srv, v1)
			id := c.send(jupyter.Shell, "execute_request", map[string]any{"code": "6 * 7", "silent": false, "store_history": true, "user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true})
			// The reply (shell) and the idle status (iopub) may come in either order.
			var idle, replied bool
			msgs := c.recv(func(m *jupyter.Message) bool {
				idle = idle || m.Channel == jupyter.IOPub && m.Type() == "status" && m.ParentID() == id && strings.Contains(string(m.Content), "idle")
				replied = replied || m.Type() == "execute_reply" && m.ParentID() == id
				return idle && replied
			})
			var types, iopub []string
			var result, reply bool
			for _, m := range msgs {
				if m.ParentID() != id {
					continue
				}
				types = append(types, m.Channel.String()+":"+m.Type())
				if m.Channel == jupyter.IOPub {
					iopub = append(iopub, m.Type())
				}
				if m.Type() == "execute_result" && strings.Contains(string(m.Content), `"text/plain":"42"`) {
					result = true
				}
				if m.Type() == "execute_reply" && m.Channel == jupyter.Shell && strings.Contains(string(m.Content), `"status":"ok"`) {
					reply = true
				}
			}
			// Nothing published for the cell is lost, in order on iopub
			// (shell and iopub are separate sockets: no order between them).
			if got, want := strings.Join(iopub, " "), "status execute_input execute_result status"; got != want {
				t.Errorf("iopub messages for the request: %s, want %s", got, want)
			}
			if activity.Load() == 0 {
				t.Errorf("no activity reported for the kernel's traffic")
			}
			if !result || !reply {
				t.Errorf("messages for the request: %v (result %v, reply %v)", types, result, reply)
			}
			// A frame the bridge cannot decode is dropped; the connection stays.
			if err := c.conn.Write(context.Background(), websocket.MessageText, []byte("not json")); err != nil {
				t.Fatal(err)
			}
			id = c.send(jupyter.Control, "kernel_info_request", map[string]any{})
			c.recv(func(m *jupyter.Message) bool {
				return m.Type() == "kernel_info_reply" && m.ParentID() == id && m.Channel == jupyter.Control
			})
			// The server's own lifecycle statuses reach the browser with its session id.
			events <- StateRestarting
			st := c.recv(func(m *jupyter.Message) bool {
				return m.Type() == "status" && strings.Contains(string(m.Content), StateRestarting)
			})
			if last := st[len(st)-1]; last.Header.Session != "browser-1" || last.Channel != jupyter.IOPub {
				t.Errorf("restarting status: session %q channel %s", last.Header.Session, last.Channel)
			}
		})
	}
}

func TestChannelsRefuseForeignOrigin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	srv, _ := channelsServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/channels", &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"https://evil.example"}},
	})
	if err == nil {
		t.Fatal("a websocket from a foreign Origin was accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Origin: response %v, want 403", resp)
	}
}

// TestChannelsClientClose checks that a browser closing its websocket ends
// the bridge without an error, whether it gives a status code or none
// (ws.close() in a page sends a close frame without one: 1005).
func TestChannelsClientClose(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	k := flowlabtest.StartKernel(t, nil)
	ended := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ended <- ServeChannels(r.Context(), w, r, ChannelsOptions{Connection: k.Connection})
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		status websocket.StatusCode
	}{
		{"normal", websocket.StatusNormalClosure},
		{"going away", websocket.StatusGoingAway},
		{"no status", websocket.StatusNoStatusRcvd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialChannels(t, srv, true)
			id := c.send(jupyter.Control, "kernel_info_request", map[string]any{})
			c.recv(func(m *jupyter.Message) bool { return m.Type() == "kernel_info_reply" && m.ParentID() == id })
			if err := c.conn.Close(tc.status, ""); err != nil {
				t.Fatalf("close: %v", err)
			}
			select {
			case err := <-ended:
				if err != nil {
					t.Errorf("ServeChannels after a close with %v: %v", tc.status, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ServeChannels did not return after the browser closed")
			}
		})
	}
}

// TestChannelsEndWithTheKernel checks that a websocket whose kernel is gone
// for good gets a dead status and is closed, instead of staying open.
func TestChannelsEndWithTheKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	k := flowlabtest.StartKernel(t, nil)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = ServeChannels(r.Context(), w, r, ChannelsOptions{Connection: k.Connection, SessionID: "browser-1", Done: done})
	}))
	t.Cleanup(srv.Close)
	c := dialChannels(t, srv, false)
	close(done)
	msgs := c.recv(func(m *jupyter.Message) bool {
		return m.Type() == "status" && strings.Contains(string(m.Content), StateDead)
	})
	if last := msgs[len(msgs)-1]; last.Header.Session != "browser-1" {
		t.Errorf("dead status with session %q", last.Header.Session)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := c.conn.Read(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("the websocket stayed open after the kernel ended: %v", err)
	}
}

// TestChannelsPingUnansweredEnds checks that a browser that stops
// answering (it no longer reads: no pongs) is disconnected, while one that
// reads stays connected across pings.
func TestChannelsPingUnansweredEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	defer func(i, p time.Duration) { wsPingInterval, wsPingTimeout = i, p }(wsPingInterval, wsPingTimeout)
	wsPingInterval, wsPingTimeout = 100*time.Millisecond, 200*time.Millisecond
	k := flowlabtest.StartKernel(t, nil)
	ended := make(chan error, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ended <- ServeChannels(r.Context(), w, r, ChannelsOptions{Connection: k.Connection})
	}))
	defer srv.Close()

	// A stuck browser: connected, but it never reads. A live one keeps
	// reading (a websocket client answers pings while it reads): the
	// stuck one is dropped, the live one keeps working.
	dialChannels(t, srv, true)
	live := dialChannels(t, srv, true)
	var stuckEnded time.Time
	for deadline := time.Now().Add(15 * time.Second); ; {
		id := live.send(jupyter.Shell, "kernel_info_request", map[string]any{})
		live.recv(func(m *jupyter.Message) bool { return m.Type() == "kernel_info_reply" && m.ParentID() == id })
		select {
		case err := <-ended:
			if err == nil || !strings.Contains(err.Error(), "ping") {
				t.Fatalf("ServeChannels for a browser that stopped answering: %v, want a ping error", err)
			}
			stuckEnded = time.Now()
		default:
		}
		if !stuckEnded.IsZero() && time.Since(stuckEnded) > time.Second {
			return // the live one outlived it by many ping intervals
		}
		if time.Now().After(deadline) {
			t.Fatal("the bridge of a browser that answers no pings stayed up")
		}
	}
}
