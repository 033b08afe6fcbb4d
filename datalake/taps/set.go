package taps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Options configures a Set. The zero value works.
type Options struct {
	// App and Run name who sends, for the audit records and the record
	// headers of each message (HeaderApp, HeaderRun): the user app and its
	// scheduled run, if any.
	App, Run string
	// Recorder receives one Record per acknowledged message. Nil means the
	// records are logged at info level on Logger.
	Recorder Recorder
	// Now is the clock of message timestamps and audit records; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives connection and audit-failure logs; nil discards.
	Logger *slog.Logger
}

// Delivery is where the broker stored one acknowledged message.
type Delivery struct {
	Partition int32
	Offset    int64
}

// Set is the configured taps of one process, each with its producer,
// connected on first use. It is safe for concurrent use.
type Set struct {
	cfg  Config
	opts Options
	log  *slog.Logger
	taps map[string]*tap

	mu        sync.Mutex
	closed    bool
	interrupt context.Context // cancelled by Interrupt, then replaced
	cancel    context.CancelFunc
}

// tap is one tap's configuration and its producer.
type tap struct {
	name string
	cfg  TapConfig

	mu sync.Mutex
	p  *saramaProducer // nil until connected, and after a failure
}

// New validates cfg and returns its taps, not yet connected: each tap
// connects on its first send. Errors wrap ErrTapConfig.
func New(cfg Config, opts Options) (*Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Recorder == nil {
		opts.Recorder = LogRecorder{Logger: log}
	}
	s := &Set{cfg: cfg, opts: opts, log: log, taps: map[string]*tap{}}
	for name, tc := range cfg.Taps {
		s.taps[name] = &tap{name: name, cfg: tc}
	}
	s.interrupt, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Names returns the tap names, sorted. Safe for concurrent use.
func (s *Set) Names() []string { return s.cfg.Names() }

// Tap returns the configuration of the named tap. Safe for concurrent use.
func (s *Set) Tap(name string) (TapConfig, bool) {
	t, ok := s.cfg.Taps[name]
	return t, ok
}

// lookup returns the named tap or an ErrUnknownTap error listing the names.
func (s *Set) lookup(name string) (*tap, error) {
	if t, ok := s.taps[name]; ok {
		return t, nil
	}
	names := s.Names()
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return nil, fmt.Errorf("%w %q: tap names are case-sensitive: did you mean %q?", ErrUnknownTap, name, n)
		}
	}
	return nil, fmt.Errorf("%w %q: the configured taps are %s", ErrUnknownTap, name, quoteList(names))
}

// Interrupt makes the sends in progress return at once with an error
// wrapping ErrTapSend and context.Canceled (a kernel interrupt). Later sends
// are not affected. Safe for concurrent use.
func (s *Set) Interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancel()
	s.interrupt, s.cancel = context.WithCancel(context.Background())
}

// Send produces msgs, in order, to the named tap and waits until the broker
// acknowledged every one (from all in-sync replicas), at most the tap's
// timeout or until ctx ends. Each acknowledged message is recorded. It
// returns where each message landed; on error the messages not
// acknowledged have Offset -1.
//
// Errors wrap ErrUnknownTap, ErrTapMessage (a message over the tap's size
// limit), ErrTapSend (and ErrTapTimeout when the time ran out), or
// ErrTapsClosed; their message names the tap, the topic and the brokers.
// Safe for concurrent use; concurrent sends to one tap are not ordered
// relative to each other.
func (s *Set) Send(ctx context.Context, tapName string, msgs []string) ([]Delivery, error) {
	t, err := s.lookup(tapName)
	if err != nil {
		return nil, err
	}
	for i, m := range msgs {
		if len(m) > t.cfg.maxBytes() {
			return nil, fmt.Errorf("%w: tap %q: message %d is %d bytes, over the tap's limit of %d (max_message_bytes)", ErrTapMessage, t.name, i, len(m), t.cfg.maxBytes())
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: tap %q", ErrTapsClosed, t.name)
	}
	intr := s.interrupt
	s.mu.Unlock()

	timeout := t.cfg.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(intr, cancel)
	defer stop()

	type result struct {
		d   []Delivery
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	var last lastError
	go func() {
		d, err := s.sendOnce(ctx, t, msgs, &last)
		done <- result{d, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		// The producer may be stuck on a broker that accepts connections
		// but does not answer; drop it so its retries end, and let the
		// next send connect afresh.
		t.discard(nil)
		cause := ctx.Err()
		if intr.Err() != nil {
			cause = context.Canceled
		}
		if e := last.get(); e != nil {
			cause = fmt.Errorf("%w; last error: %v", cause, e)
		}
		r = result{err: cause}
	}
	// Messages the broker acknowledged are recorded even when others of the
	// batch failed: the audit lists everything that was sent.
	s.record(t, msgs, r.d)
	if r.err != nil {
		return r.d, s.sendError(t, r.err, time.Since(start), timeout)
	}
	return r.d, nil
}

// record keeps the audit records of acknowledged messages, all at once
// when the Recorder can.
func (s *Set) record(t *tap, msgs []string, ds []Delivery) {
	now := s.opts.Now()
	recs := make([]Record, 0, len(ds))
	for i, d := range ds {
		if d.Offset < 0 || i >= len(msgs) {
			continue // not acknowledged
		}
		recs = append(recs, Record{Time: now, App: s.opts.App, Run: s.opts.Run, Tap: t.name, Topic: t.cfg.Topic, Partition: d.Partition, Offset: d.Offset, Bytes: len(msgs[i])})
	}
	if len(recs) == 0 {
		return
	}
	// The messages are acknowledged: failing the send would make the
	// caller send them again. An audit gap is logged instead.
	if rb, ok := s.opts.Recorder.(recordBatcher); ok && len(recs) > 1 {
		if err := rb.recordBatch(recs); err != nil {
			s.log.Error("record tap messages for audit", "tap", t.name, "topic", t.cfg.Topic, "partition", recs[0].Partition, "offsets", fmt.Sprintf("%d-%d", recs[0].Offset, recs[len(recs)-1].Offset), "err", err)
		}
		return
	}
	for _, rec := range recs {
		if err := s.opts.Recorder.Record(rec); err != nil {
			s.log.Error("record a tap message for audit", "tap", t.name, "topic", t.cfg.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		}
	}
}

// sendOnce connects the tap if needed, retrying the connection with backoff
// until ctx ends (nothing was sent yet, so a retry cannot duplicate), and
// sends msgs once; the producer's own retries are idempotent.
func (s *Set) sendOnce(ctx context.Context, t *tap, msgs []string, last *lastError) ([]Delivery, error) {
	wait := 100 * time.Millisecond
	for {
		p, err := t.producer()
		if err == nil {
			d, err := p.send(t.cfg.Topic, msgs, s.senderHeaders(), s.opts.Now())
			if err != nil {
				t.discard(p)
			}
			return d, err
		}
		last.set(err)
		if errors.Is(err, ErrTapConfig) || errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
			return nil, err
		}
		s.log.Debug("connect a tap", "tap", t.name, "brokers", t.cfg.Brokers, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// lastError is the latest connection error of a send still retrying, so a
// timeout can say what went wrong.
type lastError struct {
	mu  sync.Mutex
	err error
}

func (l *lastError) set(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

func (l *lastError) get() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// sendError wraps a failed send with the tap, topic and brokers.
func (s *Set) sendError(t *tap, err error, took, timeout time.Duration) error {
	where := fmt.Sprintf("tap %q: topic %q on broker %s", t.name, t.cfg.Topic, strings.Join(t.cfg.Brokers, ","))
	switch {
	case errors.Is(err, ErrTapConfig):
		return fmt.Errorf("%s: %w", where, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %s: interrupted before the broker acknowledged: %w", ErrTapSend, where, err)
	case errors.Is(err, context.DeadlineExceeded) || took >= timeout:
		return fmt.Errorf("%w: %s: %w: no acknowledgement within %v; is the broker running and reachable, and does the topic exist? (%v)", ErrTapSend, where, ErrTapTimeout, timeout, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrTapSend, where, err)
}

// producer returns the tap's producer, connecting it if needed. It does not
// hold the lock while connecting, so a slow connection never blocks a
// concurrent send past its own timeout.
func (t *tap) producer() (*saramaProducer, error) {
	t.mu.Lock()
	p := t.p
	t.mu.Unlock()
	if p != nil {
		return p, nil
	}
	np, err := dialProducer(t.cfg)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p != nil {
		go np.close()
		return t.p, nil
	}
	t.p = np
	return np, nil
}

// discard drops the tap's producer (p, or whichever it has when p is nil)
// and closes it in the background.
func (t *tap) discard(p *saramaProducer) {
	t.mu.Lock()
	if p == nil || t.p == p {
		p, t.p = t.p, nil
	}
	t.mu.Unlock()
	if p != nil {
		go p.close()
	}
}

// Close closes every tap's producer after its sends in flight; later sends
// fail with ErrTapsClosed. Safe for concurrent use.
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	for _, t := range s.taps {
		t.mu.Lock()
		p := t.p
		t.p = nil
		t.mu.Unlock()
		if p != nil {
			p.close()
		}
	}
	return nil
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// Record headers that name who sent a message, so that a tap's readers
// (the UI's tap monitor) can show it; the audit records say the same.
const (
	HeaderApp = "flowlab-app"
	HeaderRun = "flowlab-run"
)

// senderHeaders are the headers of every message this Set sends: the app
// and run of Options, when set.
func (s *Set) senderHeaders() []sarama.RecordHeader {
	var hs []sarama.RecordHeader
	if s.opts.App != "" {
		hs = append(hs, sarama.RecordHeader{Key: []byte(HeaderApp), Value: []byte(s.opts.App)})
	}
	if s.opts.Run != "" {
		hs = append(hs, sarama.RecordHeader{Key: []byte(HeaderRun), Value: []byte(s.opts.Run)})
	}
	return hs
}
