package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlab/flowlab/kernel/jupyter"
)

// Lifecycle states the server announces on a kernel's websocket itself, as
// Jupyter Server does: the kernel cannot say it is restarting or dead.
const (
	StateRestarting = "restarting"
	StateDead       = "dead"
)

// ChannelsOptions configures a websocket bridge to one kernel.
type ChannelsOptions struct {
	// Connection is the kernel's connection file content.
	Connection jupyter.ConnectionInfo
	// SessionID is the client's session_id from the URL; the statuses the
	// server sends itself carry it as their header's session.
	SessionID string
	// Events delivers lifecycle states (StateRestarting, StateDead) to
	// announce; nil means none. The bridge stops reading it when it ends.
	// Subscribe replaces it when set.
	Events <-chan string
	// Subscribe, when set, subscribes to the kernel's lifecycle states for
	// as long as the bridge's kernel connection lives, which is beyond the
	// websocket while Reconnect keeps its session: a restart while the
	// websocket is down reaches the reconnect.
	Subscribe func() (states <-chan string, cancel func())
	// OriginPatterns are extra allowed Origin host patterns for browsers on
	// another origin (see websocket.AcceptOptions); by default only the
	// server's own origin may open the websocket.
	OriginPatterns []string
	// Done, when set, is closed when the kernel is gone for good (shut
	// down, culled, dead beyond its restarts): the browser gets a dead
	// status and the websocket closes.
	Done <-chan struct{}
	// Activity, when set, is called for every message in either direction,
	// so the kernel manager's idle culling sees a kernel in use.
	Activity func()
	// Logger receives diagnostics; nil discards.
	Logger *slog.Logger
	// Reconnect, when set, keeps the session of a websocket that drops
	// (keyed by KernelID and SessionID) and replays the kernel's messages
	// for it when the session reconnects; nil closes the kernel connection
	// with the websocket.
	Reconnect *ReconnectBuffers
	// KernelID names the kernel for Reconnect.
	KernelID string
}

// ServeChannels upgrades the request to the kernel websocket
// (/api/kernels/{id}/channels) and bridges it to the kernel's ZeroMQ
// channels until either side closes or ctx is done. It speaks the protocol
// the browser offers: v1.kernel.websocket.jupyter.org when offered, else the
// default JSON protocol. Authentication happens before, in the handler that
// calls it; a foreign Origin is refused here.
func ServeChannels(ctx context.Context, w http.ResponseWriter, r *http.Request, opts ChannelsOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{ProtocolV1},
		OriginPatterns: opts.OriginPatterns,
	})
	if err != nil {
		return fmt.Errorf("kernel websocket: %w", err)
	}
	// Kernel output can be large (tables, images); the default 32 KiB read
	// limit only bounds what the browser sends.
	conn.SetReadLimit(64 << 20)
	v1 := conn.Subprotocol() == ProtocolV1

	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	dial := func(ctx context.Context) (*jupyter.Client, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		client, err := jupyter.Dial(ctx, opts.Connection, jupyter.ClientOptions{Logger: log})
		if err != nil {
			return nil, err
		}
		// A new iopub subscription misses what is published before it is in
		// place; wait until it is, so the browser's first cell loses nothing.
		if err := client.WaitReady(ctx); err != nil {
			client.Close()
			return nil, err
		}
		return client, nil
	}
	kc, replay, err := opts.Reconnect.attach(ctx, opts.KernelID, opts.SessionID, cancel, dial, opts.Connection, opts.Subscribe)
	if err != nil {
		conn.Close(websocket.StatusInternalError, "the kernel is not reachable")
		return fmt.Errorf("kernel websocket: connect to the kernel: %w", err)
	}
	activity := opts.Activity
	if activity == nil {
		activity = func() {}
	}
	b := &bridge{conn: conn, client: kc.client, msgs: kc.msgs, v1: v1, session: opts.SessionID, log: log, activity: activity}

	errc := make(chan error, 3)
	go func() { errc <- b.fromBrowser(ctx) }()
	events := opts.Events
	if opts.Subscribe != nil {
		events = kc.events
	}
	go func() { errc <- b.toBrowser(ctx, replay, events, opts.Done) }()
	go func() { errc <- b.keepAlive(ctx) }()
	err = <-errc
	cancel(nil)
	<-errc
	<-errc
	// Browsers close with no status code when a page calls ws.close() (as
	// @jupyterlab/services does on every reconnect and dispose): 1005 is a
	// normal end too.
	status := websocket.CloseStatus(err)
	closed := status == websocket.StatusNormalClosure || status == websocket.StatusGoingAway || status == websocket.StatusNoStatusRcvd
	takenOver := errors.Is(context.Cause(ctx), errTakenOver)
	// A websocket that dropped (no close from the browser, a failed write,
	// an unanswered ping) or that a reconnect replaced keeps its session
	// for the reconnect; a closed one, or one whose kernel is gone, does not.
	park := takenOver || !closed && !errors.Is(err, errKernelGone) && parent.Err() == nil
	opts.Reconnect.release(kc, park, b.unsent, opts.Done)
	if closed || takenOver || errors.Is(err, errKernelGone) || errors.Is(err, context.Canceled) {
		conn.Close(websocket.StatusNormalClosure, "")
		return nil
	}
	conn.Close(websocket.StatusInternalError, "bridge stopped")
	return err
}

// errKernelGone ends a bridge whose kernel stopped for good.
var errKernelGone = errors.New("the kernel is gone")

// The browser side's liveness: a write that cannot complete within
// wsWriteTimeout (a browser that stopped reading, a dead network path)
// ends the websocket instead of holding the kernel's output, and so does a
// ping unanswered within wsPingTimeout; pings go every wsPingInterval so
// proxies keep an idle connection open. Variables for tests.
var (
	wsWriteTimeout = 30 * time.Second
	wsPingInterval = 30 * time.Second
	wsPingTimeout  = 20 * time.Second
)

// bridge is one websocket connected to one kernel through its own client,
// as Jupyter Server connects one ZeroMQ client per websocket.
type bridge struct {
	conn     *websocket.Conn
	client   *jupyter.Client
	msgs     <-chan *jupyter.Message // the kernel's messages (kernelConn.msgs)
	unsent   []*jupyter.Message      // taken from msgs, not delivered when the bridge ended
	v1       bool
	session  string
	log      *slog.Logger
	activity func()
}

// fromBrowser forwards the browser's messages to the kernel. A frame that
// does not decode is logged and dropped; the connection stays.
func (b *bridge) fromBrowser(ctx context.Context) error {
	for {
		typ, data, err := b.conn.Read(ctx)
		if err != nil {
			return err
		}
		kind := textFrame
		if typ == websocket.MessageBinary {
			kind = binaryFrame
		}
		m, err := decodeFrame(b.v1, kind, data)
		if err != nil {
			b.log.Warn("dropping a websocket frame", "err", err)
			continue
		}
		b.activity()
		if err := b.client.Send(ctx, m.Channel, m); err != nil {
			return err
		}
	}
}

// toBrowser forwards the kernel's messages, first those replayed for a
// reconnect, and the lifecycle states the server announces, to the
// browser. A message it could not deliver is left in b.unsent.
func (b *bridge) toBrowser(ctx context.Context, replay []*jupyter.Message, events <-chan string, done <-chan struct{}) error {
	for i, m := range replay {
		if err := b.forward(ctx, m); err != nil {
			b.unsent = replay[i:]
			return err
		}
	}
	for {
		var m *jupyter.Message
		select {
		case m1, ok := <-b.msgs:
			if !ok {
				return fmt.Errorf("kernel connection: %w", jupyter.ErrClosed)
			}
			m = m1
		case state, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			m = b.statusMessage(state)
		case <-done:
			// The kernel is gone: say so, then end the websocket.
			if kind, data, err := encodeFrame(b.v1, b.statusMessage(StateDead)); err == nil {
				typ := websocket.MessageText
				if kind == binaryFrame {
					typ = websocket.MessageBinary
				}
				_ = b.write(ctx, typ, data)
			}
			return errKernelGone
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := b.forward(ctx, m); err != nil {
			if m.Channel != jupyter.Heartbeat {
				b.unsent = []*jupyter.Message{m}
			}
			return err
		}
	}
}

// forward sends one kernel message to the browser.
func (b *bridge) forward(ctx context.Context, m *jupyter.Message) error {
	if m.Channel == jupyter.Heartbeat {
		return nil
	}
	b.activity()
	kind, data, err := encodeFrame(b.v1, m)
	if err != nil {
		b.log.Warn("dropping a kernel message", "type", m.Type(), "err", err)
		return nil
	}
	typ := websocket.MessageText
	if kind == binaryFrame {
		typ = websocket.MessageBinary
	}
	return b.write(ctx, typ, data)
}

// write sends one frame to the browser within wsWriteTimeout.
func (b *bridge) write(ctx context.Context, typ websocket.MessageType, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	if err := b.conn.Write(ctx, typ, data); err != nil {
		return fmt.Errorf("write to the browser (%s at most): %w", wsWriteTimeout, err)
	}
	return nil
}

// keepAlive pings the browser until ctx ends or a ping goes unanswered.
func (b *bridge) keepAlive(ctx context.Context) error {
	t := time.NewTicker(wsPingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, wsPingTimeout)
		err := b.conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("the browser did not answer a ping within %s: %w", wsPingTimeout, err)
		}
	}
}

// statusMessage is a status message from the server itself, on iopub, with
// the client's session id.
func (b *bridge) statusMessage(state string) *jupyter.Message {
	return statusMessage(b.client, b.session, state)
}

// statusMessage is a status message from the server on client's
// connection, with the browser's session id.
func statusMessage(client *jupyter.Client, session, state string) *jupyter.Message {
	h := client.Session().NewHeader("status")
	h.Session = session
	return &jupyter.Message{
		Header:  h,
		Content: statusContent(state),
		Channel: jupyter.IOPub,
	}
}

func statusContent(state string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"execution_state": state})
	return b
}
