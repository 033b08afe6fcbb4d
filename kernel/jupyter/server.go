package jupyter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
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

// ServerOptions configures a Server. The zero value works.
type ServerOptions struct {
	// Logger receives dropped-message warnings and connection events;
	// nil discards.
	Logger *slog.Logger
	// Session sets the kernel's session id, username, clock and msg_id
	// source; its Key and SignatureScheme are ignored (the ConnectionInfo's
	// are used).
	Session SessionOptions
	// QueueSize is how many received messages per channel wait for the
	// session before the sockets stop reading (back pressure); default 64.
	QueueSize int
	// MaxMessageSize bounds one received message; default 512 MiB. A peer
	// exceeding it is disconnected.
	MaxMessageSize int64
	// WriteTimeout bounds one send to a peer that does not read; the peer is
	// then disconnected. Default 30s.
	WriteTimeout time.Duration
	// PubHighWater is how many iopub messages may wait for one slow
	// subscriber before further ones are dropped for it (ZeroMQ's SNDHWM);
	// default 1000.
	PubHighWater int
}

// Server is the kernel side of the protocol: it binds the shell, control and
// stdin ROUTER sockets, the iopub PUB socket and the heartbeat REP socket of
// a ConnectionInfo.
//
// Received requests are delivered per channel on Shell(), Control() and
// Stdin(), each read by the session at its own pace: shell serially, control
// concurrently with a running shell request, stdin while waiting for an
// input_reply. Messages with a bad or missing signature (or a replayed one)
// are dropped and logged, never delivered. The heartbeat echoes every message
// in its own goroutine, independent of the session.
//
// All methods are safe for concurrent use. Run serves
// until its context is cancelled (or Close), then closes every socket and
// waits for all its goroutines.
type Server struct {
	info ConnectionInfo
	sess *Session
	log  *slog.Logger
	opts ServerOptions

	lns  [Heartbeat + 1]net.Listener
	recv [Stdin + 1]chan *Message

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	routes [Stdin + 1]map[string]*zconn
	subs   map[*subscriber]struct{}

	nextID    atomic.Uint32
	running   atomic.Bool
	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// discardLogger returns l, or a logger that discards when l is nil.
func discardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// socketType is the ZeroMQ socket type of a channel on the kernel side.
func serverSocketType(ch Channel) zmq4.SocketType {
	switch ch {
	case IOPub:
		return zmq4.Pub
	case Heartbeat:
		return zmq4.Rep
	}
	return zmq4.Router
}

// NewServer validates info and binds its five endpoints, so bind errors
// (which name the endpoint) surface before the kernel reports ready. A tcp
// port of 0 binds a free port; ConnectionInfo reports the ports bound.
//
// Call Run to serve; if Run is never called, call Close to release the
// sockets. Errors wrap ErrBadConnectionInfo, ErrUnsupportedScheme or the bind
// error.
func NewServer(info ConnectionInfo, opts ServerOptions) (*Server, error) {
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	sopts := opts.Session
	sopts.Key, sopts.SignatureScheme = []byte(info.Key), info.SignatureScheme
	sess, err := NewSession(sopts)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 64
	}
	if opts.PubHighWater <= 0 {
		opts.PubHighWater = 1000
	}
	s := &Server{
		info:  info,
		sess:  sess,
		log:   discardLogger(opts.Logger),
		opts:  opts,
		conns: make(map[net.Conn]struct{}),
		subs:  make(map[*subscriber]struct{}),
		quit:  make(chan struct{}),
	}
	var seed [4]byte
	rand.Read(seed[:])
	s.nextID.Store(binary.BigEndian.Uint32(seed[:]))
	for ch := Shell; ch <= Stdin; ch++ {
		s.recv[ch] = make(chan *Message, opts.QueueSize)
		s.routes[ch] = make(map[string]*zconn)
	}
	for ch := Shell; ch <= Heartbeat; ch++ {
		ln, err := listen(s.info, ch)
		if err != nil {
			for _, l := range s.lns {
				if l != nil {
					l.Close()
				}
			}
			return nil, fmt.Errorf("new server: %w", err)
		}
		s.lns[ch] = ln
		if a, ok := ln.Addr().(*net.TCPAddr); ok && s.info.Port(ch) == 0 {
			s.info.setPort(ch, a.Port)
		}
	}
	return s, nil
}

// ConnectionInfo returns the connection the server is bound to, with the
// ports actually bound.
func (s *Server) ConnectionInfo() ConnectionInfo { return s.info }

// Session returns the kernel's session, to build messages.
func (s *Server) Session() *Session { return s.sess }

// Shell returns the channel of received shell requests. It is closed when
// the server has shut down.
func (s *Server) Shell() <-chan *Message { return s.recv[Shell] }

// Control returns the channel of received control requests (interrupt,
// shutdown, debug), served by a socket independent of shell's. It is closed
// when the server has shut down.
func (s *Server) Control() <-chan *Message { return s.recv[Control] }

// Stdin returns the channel of received stdin messages (input_reply). It is
// closed when the server has shut down.
//
// jupyter_client (and so most front ends) sends input_reply with an empty
// parent header, so a reply cannot always be matched to its input_request:
// drain stale messages before sending a request (as ipykernel does), take
// the next input_reply, and skip only one whose non-empty ParentID names
// another request.
func (s *Server) Stdin() <-chan *Message { return s.recv[Stdin] }

// Run accepts connections and serves them until ctx is cancelled or Close is
// called, then closes every socket, waits for all its goroutines, closes the
// receive channels and returns nil. It may be called once; it returns
// ErrClosed if the server was closed before.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("jupyter: Server.Run called more than once")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	for ch := Shell; ch <= Heartbeat; ch++ {
		ln := s.lns[ch]
		s.wg.Go(func() { s.accept(ch, ln) })
	}
	s.mu.Unlock()
	s.log.Debug("kernel sockets listening", "connection", s.info.String())
	select {
	case <-ctx.Done():
	case <-s.quit:
	}
	s.shutdown()
	return nil
}

// Close shuts the server down as cancelling Run's context does, and waits
// until it is down. It is safe to call more than once, with or without Run.
func (s *Server) Close() error {
	s.shutdown()
	return nil
}

func (s *Server) shutdown() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.quit)
		conns := make([]net.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, ln := range s.lns {
			if ln != nil {
				ln.Close()
			}
		}
		for _, c := range conns {
			c.Close()
		}
		s.wg.Wait()
		for ch := Shell; ch <= Stdin; ch++ {
			close(s.recv[ch])
		}
	})
}

func (s *Server) accept(ch Channel, ln net.Listener) {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "channel", ch.String(), "error", err.Error())
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.quit:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[nc] = struct{}{}
		s.wg.Go(func() { s.serveConn(ch, nc) })
		s.mu.Unlock()
	}
}

func (s *Server) serveConn(ch Channel, nc net.Conn) {
	defer func() {
		nc.Close()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
	}()
	zc, err := handshake(nc, serverSocketType(ch), nil, true, s.opts.MaxMessageSize, s.opts.WriteTimeout)
	if err != nil {
		if !s.isClosed() {
			s.log.Warn("connection refused", "channel", ch.String(), "remote", nc.RemoteAddr().String(), "reason", err.Error())
		}
		return
	}
	var rerr error
	switch ch {
	case Shell, Control, Stdin:
		rerr = s.serveRouter(ch, zc)
	case IOPub:
		rerr = s.servePub(zc)
	case Heartbeat:
		rerr = s.serveHeartbeat(zc)
	}
	if rerr != nil && !s.isClosed() && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, net.ErrClosed) {
		s.log.Warn("connection closed", "channel", ch.String(), "reason", rerr.Error())
	}
}

func (s *Server) isClosed() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// routingID returns the identity a ROUTER uses for a peer: the one it
// announced, or a generated one (5 bytes starting with 0, as libzmq does).
func (s *Server) routingID(announced []byte) []byte {
	if len(announced) > 0 {
		return announced
	}
	id := make([]byte, 5)
	binary.BigEndian.PutUint32(id[1:], s.nextID.Add(1))
	return id
}

func (s *Server) serveRouter(ch Channel, zc *zconn) error {
	id := s.routingID(zc.peerID)
	key := string(id)
	s.mu.Lock()
	// A reconnecting peer takes its identity over (ZMQ_ROUTER_HANDOVER).
	s.routes[ch][key] = zc
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.routes[ch][key] == zc {
			delete(s.routes[ch], key)
		}
		s.mu.Unlock()
	}()
	out := s.recv[ch]
	for {
		frames := make([][]byte, 1, 8)
		frames[0] = id
		zm, err := zc.readMsg(frames)
		if err != nil {
			return err
		}
		if zm.command != "" {
			continue
		}
		m, err := s.sess.Decode(zm.frames)
		if err != nil {
			s.log.Warn("dropped message", "channel", ch.String(), "reason", err.Error())
			continue
		}
		m.Channel = ch
		select {
		case out <- m:
		case <-s.quit:
			return nil
		}
	}
}

func (s *Server) serveHeartbeat(zc *zconn) error {
	w := &wireWriter{}
	for {
		zm, err := zc.readMsg(nil)
		if err != nil {
			return err
		}
		if zm.command != "" {
			continue
		}
		// REQ sends an empty delimiter then the payload; echoing every frame
		// returns the envelope with it, which is what REP must do.
		w.cur = w.cur[:0]
		for i, f := range zm.frames {
			w.frame(f, i < len(zm.frames)-1)
		}
		if err := zc.write(w); err != nil {
			return err
		}
		w.segs = w.segs[:0]
	}
}

// subscriber is one SUB connection on iopub with its own send queue, so a
// slow front end delays nobody else.
type subscriber struct {
	zc      *zconn
	q       chan net.Buffers
	done    chan struct{}
	mu      sync.Mutex
	topics  [][]byte
	dropped int
}

func (sub *subscriber) matches(topic []byte) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for _, t := range sub.topics {
		if bytes.HasPrefix(topic, t) {
			return true
		}
	}
	return false
}

func (sub *subscriber) subscribe(topic []byte, on bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if on {
		sub.topics = append(sub.topics, bytes.Clone(topic))
		return
	}
	for i, t := range sub.topics {
		if bytes.Equal(t, topic) {
			sub.topics = append(sub.topics[:i], sub.topics[i+1:]...)
			return
		}
	}
}

func (s *Server) servePub(zc *zconn) error {
	sub := &subscriber{zc: zc, q: make(chan net.Buffers, s.opts.PubHighWater), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.subs[sub] = struct{}{}
	s.wg.Go(func() { s.pubWriter(sub) })
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
		close(sub.done)
	}()
	for {
		zm, err := zc.readMsg(nil)
		if err != nil {
			return err
		}
		switch zm.command {
		case "SUBSCRIBE": // ZMTP 3.1 form
			sub.subscribe(zm.frames[0], true)
		case "CANCEL":
			sub.subscribe(zm.frames[0], false)
		case "":
			// ZMTP 3.0 form: one frame, \x01 or \x00 then the topic.
			if len(zm.frames) == 1 && len(zm.frames[0]) > 0 && zm.frames[0][0] <= 1 {
				sub.subscribe(zm.frames[0][1:], zm.frames[0][0] == 1)
			}
		}
	}
}

// pubWriter writes a subscriber's queue, batching what has piled up into
// one vectored write.
func (s *Server) pubWriter(sub *subscriber) {
	var batch net.Buffers
	for {
		select {
		case bufs := <-sub.q:
			batch = append(batch[:0], bufs...)
		drain:
			for range 63 {
				select {
				case more := <-sub.q:
					batch = append(batch, more...)
				default:
					break drain
				}
			}
			sub.zc.wmu.Lock()
			err := sub.zc.writeLocked(batch)
			sub.zc.wmu.Unlock()
			clear(batch)
			if err != nil {
				return
			}
		case <-sub.done:
			return
		case <-s.quit:
			return
		}
	}
}

// Send sends m on a ROUTER channel (shell, control or stdin) to the peer
// named by m.Identities[0], with the remaining identities as the envelope: a
// message built with NewReply goes back on the socket, and to the peer, the
// request came from. Send on IOPub is Publish. Safe for concurrent use.
//
// It returns errors wrapping ErrUnroutable (no identities, or that peer is
// no longer connected), ErrBadChannel (heartbeat), ErrClosed, or the write
// error.
func (s *Server) Send(ch Channel, m *Message) error {
	switch ch {
	case Shell, Control, Stdin:
	case IOPub:
		return s.Publish(m)
	default:
		return fmt.Errorf("send %s: %w: %s", m.Header.MsgType, ErrBadChannel, ch)
	}
	if len(m.Identities) == 0 {
		return fmt.Errorf("send %s on %s: %w: the message has no identities (build replies with NewReply)", m.Header.MsgType, ch, ErrUnroutable)
	}
	s.mu.Lock()
	closed := s.closed
	zc := s.routes[ch][string(m.Identities[0])]
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("send %s on %s: %w", m.Header.MsgType, ch, ErrClosed)
	}
	if zc == nil {
		return fmt.Errorf("send %s on %s: %w %q", m.Header.MsgType, ch, ErrUnroutable, m.Identities[0])
	}
	w := getWire()
	s.sess.appendWire(w, m.Identities[1:], m)
	err := zc.write(w)
	putWire(w)
	if err != nil {
		return fmt.Errorf("send %s on %s: %w", m.Header.MsgType, ch, err)
	}
	return nil
}

// Reply builds a reply to req (see Session.NewReply) and sends it on the
// channel req arrived on. Errors are NewReply's and Send's.
func (s *Server) Reply(req *Message, msgType string, content any) error {
	m, err := s.sess.NewReply(req, msgType, content)
	if err != nil {
		return err
	}
	return s.Send(req.Channel, m)
}

// Publish sends m on iopub to every subscriber whose subscription matches
// its topic, "kernel.<session id>.<msg_type>" (m.Identities are ignored: on
// iopub the routing frame is a topic). It does not wait for the network: each
// subscriber has a queue of PubHighWater messages, beyond which messages for
// that subscriber are dropped, as with ZeroMQ PUB. Safe for concurrent use;
// it returns ErrClosed after shutdown.
func (s *Server) Publish(m *Message) error {
	topic := []byte("kernel." + s.sess.ID() + "." + m.Header.MsgType)
	w := getWire()
	s.sess.appendWire(w, [][]byte{topic}, m)
	// The bytes wait in subscriber queues after Publish returns: copy them
	// out of the pooled writer, into one exactly sized buffer.
	var n int
	for _, b := range w.buffers() {
		n += len(b)
	}
	flat := make([]byte, 0, n)
	for _, b := range w.buffers() {
		flat = append(flat, b...)
	}
	putWire(w)
	bufs := net.Buffers{flat}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("publish %s: %w", m.Header.MsgType, ErrClosed)
	}
	for sub := range s.subs {
		if !sub.matches(topic) {
			continue
		}
		select {
		case sub.q <- bufs:
		default:
			sub.dropped++
			if sub.dropped&(sub.dropped-1) == 0 { // 1, 2, 4, 8...: do not flood the log
				s.log.Warn("iopub subscriber too slow, dropping messages", "dropped", sub.dropped, "remote", sub.zc.nc.RemoteAddr().String())
			}
		}
	}
	return nil
}

// PublishFor publishes a new message of msgType whose parent is req, such as
// a status, stream or execute_result for a request. Errors are NewMessage's
// and Publish's.
func (s *Server) PublishFor(req *Message, msgType string, content any) error {
	m, err := s.sess.NewMessage(msgType, content)
	if err != nil {
		return err
	}
	if req != nil {
		m.ParentHeader = req.Header
	}
	return s.Publish(m)
}
