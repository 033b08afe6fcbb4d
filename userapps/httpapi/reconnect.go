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
//
// The zero value is ready to use; it is safe for concurrent use.
type ReconnectBuffers struct {
	// Window is how long a dropped session is kept; zero means
	// DefaultReconnectWindow.
	Window time.Duration
	// MaxBytes bounds the kernel messages (content, metadata, buffers)
	// kept per dropped session; zero means DefaultReconnectBytes.
	MaxBytes int
	// AfterFunc schedules the end of a Window (the clock): it calls f
	// after d, never before it returns, and its result cancels that; nil
	// means time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Logger receives what is kept and dropped; nil discards.
	Logger *slog.Logger

	mu    sync.Mutex
	conns map[string]*kernelConn
}

// errTakenOver ends a bridge whose session reconnected on another websocket.
var errTakenOver = errors.New("the session reconnected on another websocket")

// kernelConn is one session's connection to a kernel, which outlives its
// websockets while the session is kept for a reconnect.
type kernelConn struct {
	key    string // kernel id and session id; "" when not kept
	client *jupyter.Client
	msgs   chan *jupyter.Message // the kernel's messages; closed when the client ends
	stop   context.CancelFunc    // ends the pump

	// Guarded by ReconnectBuffers.mu.
	attached bool
	takeover context.CancelCauseFunc // ends the attached bridge
	released chan struct{}           // closed when the attached bridge let go
	parked   *parking
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
func (rb *ReconnectBuffers) attach(ctx context.Context, kernelID, sessionID string, cancel context.CancelCauseFunc, dial func(context.Context) (*jupyter.Client, error)) (*kernelConn, []*jupyter.Message, error) {
	key := ""
	if rb != nil && kernelID != "" && sessionID != "" {
		key = kernelID + "\x00" + sessionID
	}
	if key != "" {
		c, replay, err := rb.resume(ctx, key, cancel)
		if c != nil || err != nil {
			return c, replay, err
		}
	}
	client, err := dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	c := newKernelConn(client)
	if key == "" {
		c.attached = true
		return c, nil, nil
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
	return c, nil, nil
}

// resume returns the connection of session key, attached to the caller,
// with its buffered messages, or nil when there is none.
func (rb *ReconnectBuffers) resume(ctx context.Context, key string, cancel context.CancelCauseFunc) (*kernelConn, []*jupyter.Message, error) {
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
// for the browser and not delivered; otherwise the connection is closed.
func (rb *ReconnectBuffers) release(c *kernelConn, park bool, unsent []*jupyter.Message) {
	if c.key == "" || rb == nil {
		c.close()
		return
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
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
		return
	}
	p := &parking{stop: make(chan struct{}), done: make(chan struct{})}
	for _, m := range unsent {
		p.add(m)
	}
	c.parked = p
	after := rb.AfterFunc
	if after == nil {
		after = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	p.stopTimer = after(rb.window(), func() { rb.drop(c, p, "no reconnect within "+rb.window().String()) })
	max := rb.maxBytes()
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case m, ok := <-c.msgs:
				if !ok {
					p.ended = true
					go rb.drop(c, p, "the kernel connection ended")
					return
				}
				p.add(m)
				if p.bytes > max {
					p.ended = true
					go rb.drop(c, p, fmt.Sprintf("more than %d bytes of output", max))
					return
				}
			}
		}
	}()
	rb.log().Info("kernel websocket dropped: keeping its session for a reconnect", "session", c.key, "window", rb.window())
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
	rb.log().Warn("dropped a disconnected kernel session's output", "session", c.key, "reason", why, "messages", len(p.buf))
	c.close()
}

func (p *parking) add(m *jupyter.Message) {
	p.buf = append(p.buf, m)
	n := len(m.Content) + len(m.Metadata) + 256
	for _, b := range m.Buffers {
		n += len(b)
	}
	p.bytes += n
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
