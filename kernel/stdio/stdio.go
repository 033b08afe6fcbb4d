// Package stdio captures the kernel process's standard output and error at
// the file-descriptor level and delivers what is written, live, to a sink.
//
// Redirecting the descriptors (rather than replacing os.Stdout) catches every
// writer: fmt.Println in a cell, goroutines the cell started, compiled
// libraries, and C code such as DuckDB. Writes are coalesced for a short
// interval so that a loop printing many small lines becomes few messages, and
// Flush guarantees that everything written before it has reached the sink, so
// a cell's output always precedes its result.
package stdio

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Sink receives captured text. stream is the Stream's Name ("stdout",
// "stderr"). Calls for one stream are serialised and in write order; calls for
// different streams may be concurrent.
type Sink func(stream, text string)

// Stream names one captured descriptor.
type Stream struct {
	Name string
	FD   int
}

// Options configure a Capture. The zero value captures fds 1 and 2, points
// fd 0 at /dev/null and delivers every 20 ms.
type Options struct {
	// Sink receives the captured text. Required.
	Sink Sink
	// Streams lists the descriptors to capture; nil means stdout (1) and
	// stderr (2).
	Streams []Stream
	// KeepStdin leaves fd 0 alone; by default it is pointed at /dev/null so a
	// read from the real stdin returns EOF instead of blocking the kernel.
	KeepStdin bool
	// Interval is how long output is collected before it is delivered.
	Interval time.Duration
	// MaxChunk delivers early once this many bytes are pending (default 64 KiB).
	MaxChunk int
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// ErrClosed is returned by Flush after Close.
var ErrClosed = errors.New("stdio: capture closed")

// Capture owns the redirected descriptors. Its methods are safe for concurrent
// use.
type Capture struct {
	opts     Options
	streams  []*stream
	sentinel []byte
	flushMu  sync.Mutex
	closed   chan struct{}
	wg       sync.WaitGroup
	origErr  *os.File
}

type stream struct {
	name     string
	fd       int
	orig     *os.File // dup of the descriptor before redirection
	r, w     *os.File // pipe; fd is a dup2 of w
	events   chan event
	sentinel []byte
}

type event struct {
	data []byte
	ack  chan struct{}
}

// Start redirects the descriptors and starts delivering. Call Close to restore
// them.
func Start(opts Options) (*Capture, error) {
	if opts.Sink == nil {
		return nil, errors.New("stdio: Options.Sink is required")
	}
	if opts.Streams == nil {
		opts.Streams = []Stream{{"stdout", 1}, {"stderr", 2}}
	}
	if opts.Interval <= 0 {
		opts.Interval = 20 * time.Millisecond
	}
	if opts.MaxChunk <= 0 {
		opts.MaxChunk = 64 << 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var tok [12]byte
	_, _ = rand.Read(tok[:])
	c := &Capture{
		opts:     opts,
		sentinel: []byte("\x00flowlab-flush-" + hex.EncodeToString(tok[:]) + "\x00"),
		closed:   make(chan struct{}),
	}
	for _, s := range opts.Streams {
		st, err := c.redirect(s)
		if err != nil {
			c.restore()
			return nil, err
		}
		c.streams = append(c.streams, st)
		if s.FD == 2 {
			c.origErr = st.orig
			// A fatal runtime error must still reach the launcher's log.
			_ = debug.SetCrashOutput(c.origErr, debug.CrashOptions{})
		}
	}
	if !opts.KeepStdin {
		if null, err := os.Open(os.DevNull); err == nil {
			_ = unix.Dup2(int(null.Fd()), 0)
			null.Close()
		}
	}
	for _, st := range c.streams {
		c.wg.Add(2)
		go c.read(st)
		go c.deliver(st)
	}
	return c, nil
}

func (c *Capture) redirect(s Stream) (*stream, error) {
	orig, err := unix.Dup(s.FD)
	if err != nil {
		return nil, fmt.Errorf("stdio: dup fd %d (%s): %w", s.FD, s.Name, err)
	}
	unix.CloseOnExec(orig)
	origFile := os.NewFile(uintptr(orig), "original-"+s.Name)
	r, w, err := os.Pipe()
	if err != nil {
		origFile.Close()
		return nil, fmt.Errorf("stdio: pipe for %s: %w", s.Name, err)
	}
	if err := unix.Dup2(int(w.Fd()), s.FD); err != nil {
		origFile.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("stdio: redirect fd %d (%s): %w", s.FD, s.Name, err)
	}
	return &stream{name: s.Name, fd: s.FD, orig: origFile, r: r, w: w, events: make(chan event, 64), sentinel: c.sentinel}, nil
}

// OriginalStderr is the process's stderr before redirection, for the kernel's
// own logs. It is nil when stderr is not captured.
func (c *Capture) OriginalStderr() *os.File { return c.origErr }

// Flush returns once everything written to the captured descriptors before
// the call has been delivered to the sink, or when ctx ends.
func (c *Capture) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	acks := make([]chan struct{}, 0, len(c.streams))
	for _, st := range c.streams {
		ack := make(chan struct{})
		// The reader recognises the sentinel and forwards the ack in order
		// behind the data written before it.
		select {
		case st.events <- event{ack: ack}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if _, err := st.w.Write(st.sentinel); err != nil {
			return fmt.Errorf("stdio: flush %s: %w", st.name, err)
		}
		acks = append(acks, ack)
	}
	for _, ack := range acks {
		select {
		case <-ack:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.closed:
			return ErrClosed
		}
	}
	return nil
}

// read copies the pipe into events. A sentinel in the data turns into a
// marker that releases the matching Flush.
func (c *Capture) read(st *stream) {
	defer c.wg.Done()
	defer close(st.events)
	buf := make([]byte, 64<<10)
	var carry []byte // a possible sentinel prefix held back from the last read
	for {
		n, err := st.r.Read(buf)
		if n > 0 {
			data := append(carry, buf[:n]...)
			carry = nil
			for {
				i := bytes.Index(data, st.sentinel)
				if i < 0 {
					break
				}
				if i > 0 {
					st.events <- event{data: bytes.Clone(data[:i])}
				}
				st.events <- event{ack: flushMarker}
				data = data[i+len(st.sentinel):]
			}
			keep := sentinelPrefixLen(data, st.sentinel)
			if len(data)-keep > 0 {
				st.events <- event{data: bytes.Clone(data[:len(data)-keep])}
			}
			if keep > 0 {
				carry = bytes.Clone(data[len(data)-keep:])
			}
		}
		if err != nil {
			if len(carry) > 0 {
				st.events <- event{data: carry}
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				c.opts.Logger.Warn("stdio: read failed", "stream", st.name, "err", err)
			}
			return
		}
	}
}

// flushMarker is the ack value the reader sends when it meets a sentinel; the
// deliverer pairs it with the oldest waiting Flush.
var flushMarker = make(chan struct{})

// sentinelPrefixLen is the length of the longest suffix of data that is a
// proper prefix of the sentinel.
func sentinelPrefixLen(data, sentinel []byte) int {
	max := len(sentinel) - 1
	if max > len(data) {
		max = len(data)
	}
	for n := max; n > 0; n-- {
		if bytes.Equal(data[len(data)-n:], sentinel[:n]) {
			return n
		}
	}
	return 0
}

// deliver coalesces data and calls the sink; it releases Flush waiters when
// their marker arrives, after delivering everything before it.
func (c *Capture) deliver(st *stream) {
	defer c.wg.Done()
	var pending []byte
	var waiting []chan struct{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	send := func(force bool) {
		if armed {
			timer.Stop()
			armed = false
		}
		if len(pending) == 0 {
			return
		}
		n := len(pending)
		if !force {
			n = completeUTF8(pending)
		}
		if n == 0 {
			return
		}
		text := strings.ToValidUTF8(string(pending[:n]), "\uFFFD")
		pending = append(pending[:0], pending[n:]...)
		c.opts.Sink(st.name, text)
	}
	for {
		select {
		case ev, ok := <-st.events:
			if !ok {
				send(true)
				for _, w := range waiting {
					close(w)
				}
				return
			}
			switch {
			case ev.ack == flushMarker:
				send(true)
				if len(waiting) > 0 {
					close(waiting[0])
					waiting = waiting[1:]
				}
			case ev.ack != nil:
				waiting = append(waiting, ev.ack)
			default:
				pending = append(pending, ev.data...)
				if len(pending) >= c.opts.MaxChunk {
					send(false)
				} else if !armed {
					timer.Reset(c.opts.Interval)
					armed = true
				}
			}
		case <-timer.C:
			armed = false
			send(false)
		}
	}
}

// completeUTF8 is the length of the longest prefix of b that does not end in
// the middle of a UTF-8 sequence.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// Close restores the original descriptors and delivers what remains.
func (c *Capture) Close() error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	select {
	case <-c.closed:
		return nil
	default:
	}
	close(c.closed)
	c.restore()
	c.wg.Wait()
	return nil
}

func (c *Capture) restore() {
	for _, st := range c.streams {
		_ = unix.Dup2(int(st.orig.Fd()), st.fd)
		st.w.Close() // with fd restored, this was the last write end: the reader sees EOF
		st.orig.Close()
	}
	if c.origErr != nil {
		_ = debug.SetCrashOutput(nil, debug.CrashOptions{})
	}
}
