package jupyter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// ClientOptions configures a Client. The zero value works.
type ClientOptions struct {
	// Logger receives dropped-message warnings and reconnections; nil
	// discards.
	Logger *slog.Logger
	// Session sets the client's session id (also its ZeroMQ identity on
	// shell, control and stdin), username, clock and msg_id source; Key and
	// SignatureScheme are ignored (the ConnectionInfo's are used).
	Session SessionOptions
	// MaxMessageSize bounds one received message; default 512 MiB.
	MaxMessageSize int64
	// WriteTimeout bounds one send to a kernel that does not read; default 30s.
	WriteTimeout time.Duration
	// RawBuffer is how many messages that no call is waiting for are kept
	// for Recv; when full the oldest is dropped (and logged). Default 8192.
	RawBuffer int
}

// Client is the front-end side of the protocol: DEALER sockets on shell,
// control and stdin (all with the session id as identity, so the kernel can
// route stdin requests), a SUB socket subscribed to everything on iopub, and
// a REQ socket for the heartbeat.
//
// Low level, Send sends any message on shell, control or stdin, and Recv
// returns, in arrival order per channel, every received message that no
// high-level call is waiting for (with Channel set): a websocket bridge uses
// just these two. High level, Request, Execute, KernelInfo, Interrupt,
// Shutdown, Heartbeat and WaitReady register the msg_id of their request and
// take the messages whose parent it is; everything else goes to Recv.
//
// Connections are re-established automatically when the kernel restarts.
// A Client is safe for concurrent use: several Execute and Request calls may
// be in flight.
type Client struct {
	info ConnectionInfo
	sess *Session
	log  *slog.Logger
	opts ClientOptions

	socks [IOPub + 1]*dialSocket
	hb    hbSocket

	mu      sync.Mutex
	waiters map[string]*waiter

	iopubMu    sync.Mutex
	iopubReady chan struct{} // closed at the first iopub message of a connection
	iopubSeen  bool

	raw msgQueue
	// life is cancelled by Close; it only bounds the client's own
	// goroutines (dials), never a caller's call.
	life   context.Context
	cancel context.CancelFunc
	quit   <-chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	// expected says a dropped connection is the kernel doing as asked: it
	// was told to shut down (expectShutdown) or restart (expectRestart).
	expected atomic.Int32
}

// What the client expects of the kernel's connections.
const (
	expectNothing int32 = iota
	expectShutdown
	expectRestart
)

// Dial connects to the kernel described by info and returns once the shell,
// control, stdin and iopub connections are up (the heartbeat connects on
// first use). It retries while the kernel is not listening yet, until ctx is
// done. The iopub subscription may still be in flight: call WaitReady before
// relying on iopub messages.
//
// Errors wrap ErrBadConnectionInfo, ErrUnsupportedScheme, or ctx's error with
// the endpoint that could not be reached.
func Dial(ctx context.Context, info ConnectionInfo, opts ClientOptions) (*Client, error) {
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("dial kernel: %w", err)
	}
	for ch := Shell; ch <= Heartbeat; ch++ {
		if info.Port(ch) == 0 && info.Transport == "tcp" {
			return nil, fmt.Errorf("dial kernel: %w: %s port is 0", ErrBadConnectionInfo, ch)
		}
	}
	sopts := opts.Session
	sopts.Key, sopts.SignatureScheme = []byte(info.Key), info.SignatureScheme
	sess, err := NewSession(sopts)
	if err != nil {
		return nil, fmt.Errorf("dial kernel: %w", err)
	}
	if opts.RawBuffer <= 0 {
		opts.RawBuffer = 8192
	}
	c := &Client{
		info:       info,
		sess:       sess,
		log:        discardLogger(opts.Logger),
		opts:       opts,
		waiters:    make(map[string]*waiter),
		iopubReady: make(chan struct{}),
	}
	c.life, c.cancel = context.WithCancel(context.Background())
	c.quit = c.life.Done()
	c.raw.init(opts.RawBuffer, c.log)
	c.hb.c = c
	id := []byte(sess.ID())
	for ch := Shell; ch <= IOPub; ch++ {
		typ := zmq4.Dealer
		sid := id
		if ch == IOPub {
			typ, sid = zmq4.Sub, nil
		}
		d := &dialSocket{c: c, ch: ch, typ: typ, id: sid, ready: make(chan struct{})}
		c.socks[ch] = d
		c.wg.Go(d.run)
	}
	for ch := Shell; ch <= IOPub; ch++ {
		if _, err := c.socks[ch].conn(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial kernel %s endpoint %s: %w", ch, info.Endpoint(ch), err)
		}
	}
	return c, nil
}

// Session returns the client's session, to build messages for Send.
func (c *Client) Session() *Session { return c.sess }

// ConnectionInfo returns the connection the client dials.
func (c *Client) ConnectionInfo() ConnectionInfo { return c.info }

// Close closes every connection, ends pending calls with ErrClosed and waits
// for the client's goroutines. It is safe to call more than once.
func (c *Client) Close() error {
	c.once.Do(func() {
		c.cancel()
		for ch := Shell; ch <= IOPub; ch++ {
			if d := c.socks[ch]; d != nil {
				d.closeConn()
			}
		}
		c.hb.closeConn()
		c.wg.Wait()
	})
	return nil
}

func (c *Client) closed() bool {
	select {
	case <-c.quit:
		return true
	default:
		return false
	}
}

// Send sends m on shell, control or stdin, waiting for the connection if it
// is being re-established (until ctx is done). The message is sent as is:
// build it with Session().NewMessage or NewReply. Safe for concurrent use.
//
// It returns errors wrapping ErrBadChannel (iopub, heartbeat), ErrClosed,
// ctx's error, or the write error.
func (c *Client) Send(ctx context.Context, ch Channel, m *Message) error {
	if ch < Shell || ch > Stdin {
		return fmt.Errorf("send %s: %w: a client sends on shell, control or stdin, not %s", m.Header.MsgType, ErrBadChannel, ch)
	}
	zc, err := c.socks[ch].conn(ctx)
	if err != nil {
		return fmt.Errorf("send %s on %s: %w", m.Header.MsgType, ch, err)
	}
	w := getWire()
	c.sess.appendWire(w, m.Identities, m)
	err = zc.write(w)
	putWire(w)
	if err != nil {
		return fmt.Errorf("send %s on %s: %w", m.Header.MsgType, ch, err)
	}
	return nil
}

// Recv returns the next received message that no high-level call took, with
// Channel set, in arrival order per channel. It returns ctx's error, or
// ErrClosed once the client is closed.
func (c *Client) Recv(ctx context.Context) (*Message, error) {
	return c.raw.pop(ctx, c.quit)
}

// dispatch routes one received message: to the call waiting for its parent,
// else to Recv.
func (c *Client) dispatch(m *Message) {
	if m.Channel == IOPub {
		c.sawIOPub()
	}
	if pid := m.ParentHeader.MsgID; pid != "" {
		c.mu.Lock()
		w := c.waiters[pid]
		c.mu.Unlock()
		if w != nil && w.channels&(1<<m.Channel) != 0 {
			w.push(m)
			return
		}
	}
	c.raw.push(m)
}

func (c *Client) sawIOPub() {
	c.iopubMu.Lock()
	if !c.iopubSeen {
		c.iopubSeen = true
		close(c.iopubReady)
	}
	c.iopubMu.Unlock()
}

// resetIOPub marks iopub as not proven (connection lost or new): messages
// published before a new connection's subscription is in place are lost
// (the slow joiner), so WaitReady must see one again.
func (c *Client) resetIOPub() {
	c.iopubMu.Lock()
	if c.iopubSeen {
		c.iopubSeen = false
		c.iopubReady = make(chan struct{})
	}
	c.iopubMu.Unlock()
}

func (c *Client) iopubReadyChan() <-chan struct{} {
	c.iopubMu.Lock()
	defer c.iopubMu.Unlock()
	return c.iopubReady
}

// register makes w receive the messages whose parent is msgID.
func (c *Client) register(msgID string, w *waiter) {
	c.mu.Lock()
	c.waiters[msgID] = w
	c.mu.Unlock()
}

func (c *Client) unregister(msgIDs ...string) {
	c.mu.Lock()
	for _, id := range msgIDs {
		delete(c.waiters, id)
	}
	c.mu.Unlock()
}

// waiter collects the messages of one high-level call. Its queue is
// unbounded so a slow caller never stalls a socket reader.
type waiter struct {
	channels uint8 // bit set of accepted channels
	mu       sync.Mutex
	q        []*Message
	notify   chan struct{}
}

func newWaiter(chans ...Channel) *waiter {
	w := &waiter{notify: make(chan struct{}, 1)}
	for _, ch := range chans {
		w.channels |= 1 << ch
	}
	return w
}

func (w *waiter) push(m *Message) {
	w.mu.Lock()
	w.q = append(w.q, m)
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// drain empties the queue and returns how many messages it held.
func (w *waiter) drain() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.q)
	clear(w.q)
	w.q = w.q[:0]
	return n
}

func (w *waiter) next(ctx context.Context, quit <-chan struct{}) (*Message, error) {
	for {
		w.mu.Lock()
		if len(w.q) > 0 {
			m := w.q[0]
			w.q[0] = nil
			w.q = w.q[1:]
			w.mu.Unlock()
			return m, nil
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-quit:
			return nil, ErrClosed
		}
	}
}

// msgQueue is the bounded queue behind Recv.
type msgQueue struct {
	mu      sync.Mutex
	buf     []*Message
	head    int
	max     int
	dropped int
	notify  chan struct{}
	log     *slog.Logger
}

func (q *msgQueue) init(max int, log *slog.Logger) {
	q.max, q.log, q.notify = max, log, make(chan struct{}, 1)
}

func (q *msgQueue) push(m *Message) {
	q.mu.Lock()
	if len(q.buf)-q.head >= q.max {
		q.buf[q.head] = nil
		q.head++
		q.dropped++
		if q.dropped&(q.dropped-1) == 0 {
			q.log.Warn("unread messages dropped: nothing calls Recv fast enough", "dropped", q.dropped)
		}
	}
	if q.head > 0 && q.head >= len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf = q.buf[:n]
		q.head = 0
	}
	q.buf = append(q.buf, m)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *msgQueue) pop(ctx context.Context, quit <-chan struct{}) (*Message, error) {
	for {
		select {
		case <-quit:
			return nil, ErrClosed
		default:
		}
		q.mu.Lock()
		if q.head < len(q.buf) {
			m := q.buf[q.head]
			q.buf[q.head] = nil
			q.head++
			more := q.head < len(q.buf)
			q.mu.Unlock()
			if more { // pass the wake-up on to another reader
				select {
				case q.notify <- struct{}{}:
				default:
				}
			}
			return m, nil
		}
		q.mu.Unlock()
		select {
		case <-q.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-quit:
			return nil, ErrClosed
		}
	}
}

// dialSocket is one client connection (DEALER or SUB) that reconnects when
// lost, as a ZeroMQ connect does.
type dialSocket struct {
	c   *Client
	ch  Channel
	typ zmq4.SocketType
	id  []byte

	mu    sync.Mutex
	cur   *zconn
	nc    net.Conn      // the connection being set up or used
	ready chan struct{} // closed while cur is set
}

// conn returns the live connection, waiting for one until ctx is done.
func (d *dialSocket) conn(ctx context.Context) (*zconn, error) {
	for {
		d.mu.Lock()
		zc, ready := d.cur, d.ready
		d.mu.Unlock()
		if zc != nil {
			return zc, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-d.c.quit:
			return nil, ErrClosed
		}
	}
}

func (d *dialSocket) closeConn() {
	d.mu.Lock()
	if d.nc != nil {
		d.nc.Close()
	}
	d.mu.Unlock()
}

// track publishes nc as being set up; it refuses (closing nc) once the
// client is closing, so Close never misses a connection.
func (d *dialSocket) track(nc net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c.closed() {
		nc.Close()
		return false
	}
	d.nc = nc
	return true
}

func (d *dialSocket) run() {
	c := d.c
	network, addr := c.info.netAddr(d.ch)
	var dialer net.Dialer
	backoff := 5 * time.Millisecond
	lost := false
	for !c.closed() {
		nc, err := dialer.DialContext(c.life, network, addr)
		if err == nil && d.track(nc) {
			var zc *zconn
			zc, err = handshake(nc, d.typ, d.id, false, c.opts.MaxMessageSize, c.opts.WriteTimeout)
			if err == nil {
				backoff = 5 * time.Millisecond
				if lost {
					c.log.Info("reconnected to kernel", "channel", d.ch.String(), "endpoint", c.info.Endpoint(d.ch))
					c.expected.CompareAndSwap(expectRestart, expectNothing)
				}
				err = d.serve(zc)
				lost = true
				switch {
				case c.closed():
				case c.expected.Load() == expectShutdown:
					c.log.Debug("kernel closed its connection after a shutdown request", "channel", d.ch.String())
				case c.expected.Load() == expectRestart:
					c.log.Info("kernel connection closed by a restart, reconnecting", "channel", d.ch.String())
				default:
					c.log.Warn("kernel connection lost, reconnecting", "channel", d.ch.String(), "reason", err.Error())
				}
			}
			nc.Close()
		}
		if c.closed() {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-c.quit:
			t.Stop()
			return
		}
		// A kernel that is starting binds its ports within tens of
		// milliseconds (ipykernel: hundreds): until the first connection,
		// try again every 25 ms at most, so the client connects about when
		// the kernel listens instead of up to a doubled backoff later. A
		// connection that was lost backs off up to a second.
		limit := startRetry
		if lost {
			limit = time.Second
		}
		backoff = min(2*backoff, limit)
	}
}

// startRetry bounds the wait between dials until the first connection.
const startRetry = 25 * time.Millisecond

// serve makes zc the live connection and reads it until it fails.
func (d *dialSocket) serve(zc *zconn) error {
	c := d.c
	if d.typ == zmq4.Sub {
		c.resetIOPub()
		w := getWire()
		w.frame([]byte{1}, false) // subscribe to every topic
		err := zc.write(w)
		putWire(w)
		if err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.cur = zc
	close(d.ready)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.cur = nil
		d.ready = make(chan struct{})
		d.mu.Unlock()
		if d.typ == zmq4.Sub {
			c.resetIOPub() // until the next connection proves its subscription
		}
	}()
	for {
		zm, err := zc.readMsg(nil)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("kernel closed the connection: %w", err)
			}
			return err
		}
		if zm.command != "" {
			continue
		}
		m, err := c.sess.Decode(zm.frames)
		if err != nil {
			c.log.Warn("dropped message", "channel", d.ch.String(), "reason", err.Error())
			continue
		}
		m.Channel = d.ch
		c.dispatch(m)
	}
}

// hbSocket is the heartbeat REQ connection, dialed on first use and dropped
// after a missed beat (a REQ socket that lost its reply is stuck).
type hbSocket struct {
	c   *Client
	mu  sync.Mutex // serializes pings
	zc  *zconn
	seq uint64

	ncMu sync.Mutex
	nc   net.Conn
}

func (h *hbSocket) closeConn() {
	h.ncMu.Lock()
	if h.nc != nil {
		h.nc.Close()
	}
	h.ncMu.Unlock()
}

func (h *hbSocket) setNC(nc net.Conn) bool {
	h.ncMu.Lock()
	defer h.ncMu.Unlock()
	if h.c.closed() {
		nc.Close()
		return false
	}
	h.nc = nc
	return true
}

func (h *hbSocket) ping(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.c
	if c.closed() {
		return ErrClosed
	}
	if h.zc == nil {
		network, addr := c.info.netAddr(Heartbeat)
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return err
		}
		if !h.setNC(nc) {
			return ErrClosed
		}
		stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
		zc, err := handshake(nc, zmq4.Req, nil, false, 1<<20, 0)
		if !stop() {
			err = errors.Join(err, ctx.Err())
		}
		if err != nil {
			nc.Close()
			return err
		}
		h.zc = zc
	}
	zc := h.zc
	h.seq++
	payload := fmt.Appendf(nil, "ping %d", h.seq)
	stop := context.AfterFunc(ctx, func() { zc.nc.SetDeadline(time.Unix(1, 0)) })
	err := func() error {
		w := getWire()
		defer putWire(w)
		w.frame(nil, true) // REQ envelope delimiter
		w.frame(payload, false)
		if err := zc.write(w); err != nil {
			return err
		}
		zm, err := zc.readMsg(nil)
		if err != nil {
			return err
		}
		if n := len(zm.frames); n < 2 || len(zm.frames[0]) != 0 || string(zm.frames[n-1]) != string(payload) {
			return fmt.Errorf("heartbeat echo does not match: %q", zm.frames)
		}
		return nil
	}()
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		zc.close()
		h.zc = nil
	}
	return err
}
