package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
)

// Defaults of ReconnectBuffers: how long, and how much of, a dropped
// websocket's kernel output is kept for its reconnect.
const (
	DefaultReconnectWindow = 2 * time.Minute
	DefaultReconnectBytes  = 32 << 20
	// DefaultReconnectTotalBytes bounds the output kept for all dropped
	// sessions together.
	DefaultReconnectTotalBytes = 256 << 20
	// DefaultReconnectPerKernel bounds the dropped sessions kept per kernel.
	DefaultReconnectPerKernel = 8
)

// ReconnectBuffers keeps the kernel connections of kernel websockets that
// dropped (a network failure, not a close by the browser), by kernel and
// session id, as Jupyter Server's buffering does: the kernel's messages
// for a dropped websocket, iopub output and the replies to its requests,
// are kept and replayed, in order, when a websocket with the same session
// id connects again within Window, before anything newer. A session whose
// buffer grows past MaxBytes, or whose Window passes, is dropped (its
// kernel connection closed); a reconnect after that starts afresh. A new
// websocket with the session id of one still open replaces it (the old
// one's network is presumably gone without the server knowing yet).
// Beyond MaxTotalBytes for all kept sessions, or MaxKeptPerKernel
// sessions of one kernel, the oldest kept session is dropped.
//
// A kept session goes on hearing its kernel's lifecycle states
// (restarting, dead) and replays them as status messages in order; a
// session whose kernel moved to new connection info (a restart with new
// ports) replays what it kept, then dials the kernel afresh.
//
// The zero value is ready to use; it is safe for concurrent use.
type ReconnectBuffers struct {
	// Window is how long a dropped session is kept; zero means
	// DefaultReconnectWindow.
	Window time.Duration
	// MaxBytes bounds the kernel messages (content, metadata, buffers)
	// kept per dropped session; zero means DefaultReconnectBytes.
	MaxBytes int
	// MaxTotalBytes bounds the kernel messages kept for all dropped
	// sessions together; zero means DefaultReconnectTotalBytes.
	MaxTotalBytes int
	// MaxKeptPerKernel bounds the dropped sessions kept per kernel; zero
	// means DefaultReconnectPerKernel.
	MaxKeptPerKernel int
	// AfterFunc schedules the end of a Window (the clock): it calls f
	// after d, never before it returns, and its result cancels that; nil
	// means time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Logger receives what is kept and dropped; nil discards.
	Logger *slog.Logger

	mu    sync.Mutex
	conns map[string]*kernelConn
	total int    // bytes kept by all parked sessions
	seq   uint64 // counts parkings, to find the oldest
}

// errTakenOver ends a bridge whose session reconnected on another websocket.
var errTakenOver = errors.New("the session reconnected on another websocket")

// kernelConn is one session's connection to a kernel, which outlives its
// websockets while the session is kept for a reconnect.
type kernelConn struct {
	key      string // kernel id and session id; "" when not kept
	kernelID string
	session  string
	info     jupyter.ConnectionInfo // what client was dialled to
	client   *jupyter.Client
	// events are the kernel's lifecycle states while the connection lives
	// (nil: none); unsubscribe ends them.
	events      <-chan string
	unsubscribe func()
	msgs        chan *jupyter.Message // the kernel's messages; closed when the client ends
	stop        context.CancelFunc    // ends the pump

	// Guarded by ReconnectBuffers.mu.
	attached bool
	takeover context.CancelCauseFunc // ends the attached bridge
	released chan struct{}           // closed when the attached bridge let go
	parked   *parking
	parkSeq  uint64 // rb.seq when parked
}

// parking is a dropped session's buffer, filled by a goroutine that reads
// the kernel's messages until a reconnect, the Window's end or MaxBytes.
type parking struct {
	stop      chan struct{} // closed to end the parking
	done      chan struct{} // closed when the goroutine ended: buf is final
	buf       []*jupyter.Message
	bytes     int
	ended     bool // by overflow or the kernel connection's end
	stopTimer func() bool
}

func (rb *ReconnectBuffers) window() time.Duration {
	if rb.Window > 0 {
		return rb.Window
	}
	return DefaultReconnectWindow
}

func (rb *ReconnectBuffers) maxBytes() int {
	if rb.MaxBytes > 0 {
		return rb.MaxBytes
	}
	return DefaultReconnectBytes
}

func (rb *ReconnectBuffers) maxTotalBytes() int {
	if rb.MaxTotalBytes > 0 {
		return rb.MaxTotalBytes
	}
	return DefaultReconnectTotalBytes
}

func (rb *ReconnectBuffers) maxPerKernel() int {
	if rb.MaxKeptPerKernel > 0 {
		return rb.MaxKeptPerKernel
	}
	return DefaultReconnectPerKernel
}

func (rb *ReconnectBuffers) log() *slog.Logger {
	if rb == nil || rb.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rb.Logger
}

// Kept returns how many dropped sessions are kept for a reconnect.
func (rb *ReconnectBuffers) Kept() int {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	n := 0
	for _, c := range rb.conns {
		if c.parked != nil {
			n++
		}
	}
	return n
}

// attach gives a new websocket of session (kernelID, sessionID) its kernel
// connection: the kept one of the same session with the messages buffered
// for it, the one an open websocket of the same session had, or a new one
// from dial. rb may be nil (nothing is kept), and so may the ids be empty.
// cancel ends the caller's bridge when another websocket takes the session.
// info is the kernel's connection info now, which dial dials; a kept
// connection dialled to other info is replaced. subscribe, when not nil,
// gives the kernel's lifecycle states for as long as the connection lives.
func (rb *ReconnectBuffers) attach(ctx context.Context, kernelID, sessionID string, cancel context.CancelCauseFunc, dial func(context.Context) (*jupyter.Client, error), info jupyter.ConnectionInfo, subscribe func() (<-chan string, func())) (*kernelConn, []*jupyter.Message, error) {
	key := ""
	if rb != nil && kernelID != "" && sessionID != "" {
		key = kernelID + "\x00" + sessionID
	}
	var replay []*jupyter.Message
	if key != "" {
		c, kept, err := rb.resume(ctx, key, cancel, info)
		if c != nil || err != nil {
			return c, kept, err
		}
		replay = kept
	}
	client, err := dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	c := newKernelConn(client)
	c.kernelID, c.session, c.info = kernelID, sessionID, info
	if subscribe != nil {
		c.events, c.unsubscribe = subscribe()
	}
	if key == "" {
		c.attached = true
		return c, replay, nil
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.conns == nil {
		rb.conns = map[string]*kernelConn{}
	}
	c.attached = true
	if rb.conns[key] == nil { // else two websockets of one session raced: this one is not kept
		c.key = key
		c.takeover, c.released = cancel, make(chan struct{})
		rb.conns[key] = c
	}
	return c, replay, nil
}

// resume returns the connection of session key, attached to the caller,
// with its buffered messages, or nil when there is none. A kept
// connection dialled to other connection info than info is closed and its
// buffered messages returned without it, for a new connection to follow.
func (rb *ReconnectBuffers) resume(ctx context.Context, key string, cancel context.CancelCauseFunc, info jupyter.ConnectionInfo) (*kernelConn, []*jupyter.Message, error) {
	rb.mu.Lock()
	c := rb.conns[key]
	if c != nil && c.attached {
		// A websocket of this session is still open: end it and take its place.
		takeover, released := c.takeover, c.released
		rb.mu.Unlock()
		rb.log().Info("kernel websocket replaced by a reconnect of its session", "session", key)
		takeover(errTakenOver)
		select {
		case <-released:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("waiting for the replaced websocket to end: %w", ctx.Err())
		}
		rb.mu.Lock()
		c = rb.conns[key]
	}
	if c == nil || c.parked == nil {
		rb.mu.Unlock()
		return nil, nil, nil
	}
	p := c.parked
	c.parked = nil
	c.attached = true
	c.takeover, c.released = cancel, make(chan struct{})
	p.stopTimer()
	close(p.stop)
	rb.mu.Unlock()
	<-p.done
	rb.mu.Lock()
	rb.total -= p.bytes
	rb.mu.Unlock()
	if !p.ended && c.info != info {
		// The kernel restarted on new ports: the kept connection hears
		// nothing any more. Replay what it kept, then connect afresh.
		rb.mu.Lock()
		if rb.conns[key] == c {
			delete(rb.conns, key)
		}
		rb.mu.Unlock()
		c.close()
		rb.log().Info("kernel websocket reconnected to a kernel on new ports", "session", key, "replayed", len(p.buf))
		return nil, p.buf, nil
	}
	if p.ended {
		// It overflowed or its kernel connection ended just now: start afresh.
		rb.mu.Lock()
		if rb.conns[key] == c {
			delete(rb.conns, key)
		}
		rb.mu.Unlock()
		c.close()
		return nil, nil, nil
	}
	rb.log().Info("kernel websocket reconnected", "session", key, "replayed", len(p.buf), "bytes", p.bytes)
	return c, p.buf, nil
}

// release lets go of c when its websocket ended. park keeps the session
// for a reconnect (the websocket dropped), with unsent: the messages taken
// for the browser and not delivered; otherwise, or when done (the kernel's
// end, may be nil) is closed, the connection is closed.
func (rb *ReconnectBuffers) release(c *kernelConn, park bool, unsent []*jupyter.Message, done <-chan struct{}) {
	if c.key == "" || rb == nil {
		c.close()
		return
	}
	select {
	case <-done:
		park = false // the kernel is gone: nothing to reconnect to
	default:
	}
	rb.mu.Lock()
	parked := rb.park(c, park, unsent)
	rb.mu.Unlock()
	if parked {
		rb.trim()
	}
}

// park is release with rb.mu held; it reports whether c was kept.
func (rb *ReconnectBuffers) park(c *kernelConn, park bool, unsent []*jupyter.Message) bool {
	c.attached = false
	if c.released != nil {
		close(c.released)
		c.released = nil
	}
	if !park || rb.conns[c.key] != c {
		if rb.conns[c.key] == c {
			delete(rb.conns, c.key)
		}
		c.close()
		return false
	}
	p := &parking{stop: make(chan struct{}), done: make(chan struct{})}
	for _, m := range unsent {
		rb.total += p.add(m)
	}
	c.parked = p
	rb.seq++
	c.parkSeq = rb.seq
	after := rb.AfterFunc
	if after == nil {
		after = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	p.stopTimer = after(rb.window(), func() { rb.drop(c, p, "no reconnect within "+rb.window().String()) })
	max, maxTotal := rb.maxBytes(), rb.maxTotalBytes()
	events := c.events
	go func() {
		defer close(p.done)
		for {
			var m *jupyter.Message
			select {
			case <-p.stop:
				return
			case state, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				m = statusMessage(c.client, c.session, state)
			case m1, ok := <-c.msgs:
				if !ok {
					p.ended = true
					go rb.drop(c, p, "the kernel connection ended")
					return
				}
				m = m1
			}
			n := p.add(m)
			rb.mu.Lock()
			rb.total += n
			over := rb.total > maxTotal
			rb.mu.Unlock()
			if over {
				go rb.trim()
			}
			if p.bytes > max {
				p.ended = true
				go rb.drop(c, p, fmt.Sprintf("more than %d bytes of output", max))
				return
			}
		}
	}()
	rb.log().Info("kernel websocket dropped: keeping its session for a reconnect", "session", c.key, "window", rb.window())
	return true
}

// trim drops the oldest kept sessions while a kernel has more than
// MaxKeptPerKernel of them or all keep more than MaxTotalBytes.
func (rb *ReconnectBuffers) trim() {
	for {
		rb.mu.Lock()
		perKernel := map[string]int{}
		for _, c := range rb.conns {
			if c.parked != nil {
				perKernel[c.kernelID]++
			}
		}
		over := rb.total > rb.maxTotalBytes()
		var oldest *kernelConn
		for _, c := range rb.conns {
			if c.parked == nil || !over && perKernel[c.kernelID] <= rb.maxPerKernel() {
				continue
			}
			if oldest == nil || c.parkSeq < oldest.parkSeq {
				oldest = c
			}
		}
		if oldest == nil {
			rb.mu.Unlock()
			return
		}
		p := oldest.parked
		why := fmt.Sprintf("more than %d kept sessions of the kernel", rb.maxPerKernel())
		if over {
			why = fmt.Sprintf("more than %d bytes kept for all dropped sessions", rb.maxTotalBytes())
		}
		rb.mu.Unlock()
		rb.drop(oldest, p, why)
	}
}

// drop ends a kept session (its window passed, its buffer overflowed or
// its kernel connection ended) unless it reconnected meanwhile.
func (rb *ReconnectBuffers) drop(c *kernelConn, p *parking, why string) {
	rb.mu.Lock()
	if c.parked != p {
		rb.mu.Unlock()
		return
	}
	c.parked = nil
	if rb.conns[c.key] == c {
		delete(rb.conns, c.key)
	}
	p.stopTimer()
	close(p.stop)
	rb.mu.Unlock()
	<-p.done
	rb.mu.Lock()
	rb.total -= p.bytes
	rb.mu.Unlock()
	rb.log().Warn("dropped a disconnected kernel session's output", "session", c.key, "reason", why, "messages", len(p.buf))
	c.close()
}

// add keeps m and returns the bytes it counts for.
func (p *parking) add(m *jupyter.Message) int {
	p.buf = append(p.buf, m)
	n := len(m.Content) + len(m.Metadata) + 256
	for _, b := range m.Buffers {
		n += len(b)
	}
	p.bytes += n
	return n
}

// newKernelConn starts the pump that reads the client's messages into msgs.
func newKernelConn(client *jupyter.Client) *kernelConn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &kernelConn{client: client, msgs: make(chan *jupyter.Message, 64), stop: cancel}
	go func() {
		defer close(c.msgs)
		for {
			m, err := client.Recv(ctx)
			if err != nil {
				return
			}
			select {
			case c.msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return c
}

func (c *kernelConn) close() {
	if c.unsubscribe != nil {
		c.unsubscribe()
	}
	c.stop()
	c.client.Close()
}

// DropKernel ends the kept sessions of a kernel that was shut down.
func (rb *ReconnectBuffers) DropKernel(kernelID string) {
	rb.mu.Lock()
	var drop []*kernelConn
	for key, c := range rb.conns {
		if c.parked != nil && len(key) > len(kernelID) && key[:len(kernelID)+1] == kernelID+"\x00" {
			drop = append(drop, c)
		}
	}
	parked := make([]*parking, len(drop))
	for i, c := range drop {
		parked[i] = c.parked
	}
	rb.mu.Unlock()
	for i, c := range drop {
		rb.drop(c, parked[i], "the kernel was shut down")
	}
}
