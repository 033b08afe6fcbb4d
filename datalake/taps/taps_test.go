package taps_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startBroker runs an in-process broker on a free 127.0.0.1 port with the
// given topics, stopped when the test ends.
func startBroker(t *testing.T, topics ...string) *broker.Broker {
	t.Helper()
	b, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Topics: topics})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker Run: %v", err)
		}
	})
	return b
}

func newSet(t *testing.T, cfg taps.Config, opts taps.Options) *taps.Set {
	t.Helper()
	s, err := taps.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func oneTap(addr, topic string, timeout time.Duration) taps.Config {
	return taps.Config{Taps: map[string]taps.TapConfig{
		"Alerts": {Cluster: taps.Cluster{Brokers: []string{addr}}, Topic: topic, Timeout: taps.Duration(timeout)},
	}}
}

// readAll tails a tap from the oldest offset until n messages arrived.
func readAll(t *testing.T, s *taps.Set, tap string, n int) []taps.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []taps.Message
	errEnough := errors.New("enough")
	err := s.Tail(ctx, tap, taps.FromOldest, func(m taps.Message) error {
		got = append(got, m)
		if len(got) == n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("tail %s: %v after %d of %d messages", tap, err, len(got), n)
	}
	return got
}

func TestSendThenConsumeInOrder(t *testing.T) {
	b := startBroker(t, "alerts")
	rec := &taps.MemoryRecorder{}
	fixed := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s := newSet(t, oneTap(b.Addr(), "alerts", 0), taps.Options{App: "portscan", Run: "run-7", Recorder: rec, Now: func() time.Time { return fixed }})
	h := taps.Bind(s)

	var want []string
	for i := range 3 {
		msg := fmt.Sprintf("scan %d from 10.0.0.%d", i, i)
		if err := h.SendMessage(msg, "Alerts"); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		want = append(want, msg)
	}
	batch := []string{"b0", "b1", "b2", "b3", "b4"}
	if err := h.SendMessages(batch, "Alerts"); err != nil {
		t.Fatalf("SendMessages: %v", err)
	}
	want = append(want, batch...)
	if err := h.SendJSON(map[string]any{"source": "10.0.0.9", "ports": 120}, "Alerts"); err != nil {
		t.Fatalf("SendJSON: %v", err)
	}
	want = append(want, `{"ports":120,"source":"10.0.0.9"}`)

	got := readAll(t, s, "Alerts", len(want))
	for i, m := range got {
		if m.Value != want[i] || m.Offset != int64(i) || m.Partition != 0 || m.Topic != "alerts" {
			t.Errorf("message %d = %+v, want %q at offset %d", i, m, want[i], i)
		}
		if m.App != "portscan" || m.Run != "run-7" {
			t.Errorf("message %d sender app %q run %q, want the Set's portscan, run-7 (record headers)", i, m.App, m.Run)
		}
		if !m.Time.Equal(fixed.Truncate(time.Millisecond)) {
			t.Errorf("message %d time %v, want the injected clock %v", i, m.Time, fixed)
		}
	}
	recs := rec.Records()
	if len(recs) != len(want) {
		t.Fatalf("%d audit records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		w := taps.Record{Time: fixed, App: "portscan", Run: "run-7", Tap: "Alerts", Topic: "alerts", Partition: 0, Offset: int64(i), Bytes: len(want[i])}
		if r != w {
			t.Errorf("audit record %d = %+v, want %+v", i, r, w)
		}
	}
	if names := h.List(); len(names) != 1 || names[0] != "Alerts" {
		t.Errorf("List() = %v", names)
	}
}

func TestSendErrors(t *testing.T) {
	b := startBroker(t, "alerts")
	cfg := oneTap(b.Addr(), "alerts", 2*time.Second)
	tc := cfg.Taps["Alerts"]
	tc.MaxMessageBytes = 10
	cfg.Taps["Alerts"] = tc
	cfg.Taps["Missing"] = taps.TapConfig{Cluster: taps.Cluster{Brokers: []string{b.Addr()}}, Topic: "no-such-topic", Timeout: taps.Duration(2 * time.Second)}
	h := taps.Bind(newSet(t, cfg, taps.Options{}))
	for _, tc := range []struct {
		name    string
		send    func() error
		is      error
		mention []string
	}{
		{"unknown tap", func() error { return h.SendMessage("x", "Alarms") }, taps.ErrUnknownTap, []string{`"Alarms"`, `"Alerts"`, `"Missing"`}},
		{"case of the name", func() error { return h.SendMessage("x", "alerts") }, taps.ErrUnknownTap, []string{`did you mean "Alerts"`}},
		{"too large", func() error { return h.SendMessage(strings.Repeat("x", 11), "Alerts") }, taps.ErrTapMessage, []string{"11 bytes", "limit of 10"}},
		{"not JSON", func() error { return h.SendJSON(func() {}, "Alerts") }, taps.ErrTapMessage, []string{"SendJSON"}},
		{"missing topic", func() error { return h.SendMessage("x", "Missing") }, taps.ErrTapSend, []string{`tap "Missing"`, `"no-such-topic"`, b.Addr()}},
		{"batch on missing topic", func() error { return h.SendMessages([]string{"a", "b"}, "Missing") }, taps.ErrTapSend, []string{"0 of 2 messages acknowledged", `"no-such-topic"`}},
		{"not configured", func() error { return taps.DataTaps.SendMessage("x", "Alerts") }, taps.ErrTapsNotConfigured, []string{"--taps", "FLOWLAB_TAPS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.send()
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want one wrapping %v", err, tc.is)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %v, past the 2 s timeout", took)
			}
		})
	}
}

// freeAddr returns a 127.0.0.1 address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestSendWithoutABrokerEndsWithinTheTimeout(t *testing.T) {
	// A silent peer accepts connections and never answers: only the
	// timeout can end the send.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				buf := make([]byte, 1024)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { silent.Close() })

	for _, tc := range []struct {
		name    string
		addr    string
		timeout error
	}{
		{"nothing listens", freeAddr(t), nil},
		{"peer never answers", silent.Addr().String(), taps.ErrTapTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const timeout = 1500 * time.Millisecond
			h := taps.Bind(newSet(t, oneTap(tc.addr, "alerts", timeout), taps.Options{}))
			start := time.Now()
			err := h.SendMessage("port scan", "Alerts")
			took := time.Since(start)
			if !errors.Is(err, taps.ErrTapSend) {
				t.Fatalf("error %v, want ErrTapSend", err)
			}
			if tc.timeout != nil && !errors.Is(err, tc.timeout) {
				t.Errorf("error %v, want ErrTapTimeout", err)
			}
			for _, m := range []string{`tap "Alerts"`, `topic "alerts"`, tc.addr} {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name %s", err, m)
				}
			}
			if took > timeout+500*time.Millisecond {
				t.Errorf("returned after %v, timeout %v", took, timeout)
			}
		})
	}
}

func TestBrokerRestartRecovers(t *testing.T) {
	addr := freeAddr(t)
	h := taps.Bind(newSet(t, oneTap(addr, "alerts", 5*time.Second), taps.Options{}))
	// The broker comes up while the first send is retrying its connection.
	go func() {
		time.Sleep(500 * time.Millisecond)
		b, err := broker.New(broker.Options{Addr: addr, Topics: []string{"alerts"}})
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(b.Close)
	}()
	if err := h.SendMessage("late broker", "Alerts"); err != nil {
		t.Fatalf("send while the broker starts: %v", err)
	}
}

func TestInterruptEndsASend(t *testing.T) {
	addr := freeAddr(t)
	s := newSet(t, oneTap(addr, "alerts", 10*time.Second), taps.Options{})
	done := make(chan error, 1)
	go func() { done <- taps.Bind(s).SendMessage("x", "Alerts") }()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	s.Interrupt()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, taps.ErrTapSend) {
			t.Errorf("interrupted send: %v", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("interrupt took %v", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the send ignored the interrupt")
	}
}

// TestFaultsDeliverExactlyOnce sends batches while the broker answers
// retriable errors (some after appending, the case idempotence exists for)
// and drops connections; every acknowledged message must be in the topic
// exactly once, in order.
func TestFaultsDeliverExactlyOnce(t *testing.T) {
	b := startBroker(t, "alerts")
	c := b.Cluster()
	c.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "alerts", Err: kerr.NotEnoughReplicasAfterAppend, Count: 2},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "alerts", Err: kerr.NotLeaderForPartition, Count: 1},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "alerts", Err: kerr.RequestTimedOut, Count: 1},
	)
	var dropped sync.Once
	var produced atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if produced.Add(1) == 6 {
			handled := false
			dropped.Do(func() { handled = true })
			if handled {
				return nil, errors.New("drop the connection"), true
			}
		}
		return nil, nil, false
	})
	h := taps.Bind(newSet(t, oneTap(b.Addr(), "alerts", 10*time.Second), taps.Options{}))
	var want []string
	for round := range 5 {
		batch := make([]string, 20)
		for i := range batch {
			batch[i] = fmt.Sprintf("r%d-m%02d", round, i)
		}
		if err := h.SendMessages(batch, "Alerts"); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		want = append(want, batch...)
		if err := h.SendMessage(fmt.Sprintf("r%d-single", round), "Alerts"); err != nil {
			t.Fatalf("round %d single: %v", round, err)
		}
		want = append(want, fmt.Sprintf("r%d-single", round))
	}
	if n := produced.Load(); n < 6 {
		t.Fatalf("only %d produce requests: the faults were not exercised", n)
	}
	s2 := newSet(t, oneTap(b.Addr(), "alerts", 10*time.Second), taps.Options{})
	got := readAll(t, s2, "Alerts", len(want))
	seen := map[string]int{}
	for i, m := range got {
		seen[m.Value]++
		if m.Value != want[i] {
			t.Errorf("message %d = %q, want %q", i, m.Value, want[i])
		}
	}
	// Nothing beyond: a duplicate would sit after the expected messages.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	extra := 0
	_ = s2.Tail(ctx, "Alerts", int64(len(want)), func(m taps.Message) error { extra++; return nil })
	if extra > 0 {
		t.Errorf("%d messages beyond the %d sent: duplicates", extra, len(want))
	}
}

func TestJSONLRecorder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	r, err := taps.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 2 {
		if err := r.Record(taps.Record{Time: at, App: "lab", Tap: "Alerts", Topic: "alerts", Offset: int64(i), Bytes: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-01-02T03:04:05Z","app":"lab","tap":"Alerts","topic":"alerts","partition":0,"offset":0,"bytes":3}
{"time":"2026-01-02T03:04:05Z","app":"lab","tap":"Alerts","topic":"alerts","partition":0,"offset":1,"bytes":3}
`
	if string(b) != want {
		t.Errorf("audit file:\n%s\nwant:\n%s", b, want)
	}
	if err := r.Record(taps.Record{}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("record after close: %v", err)
	}
}
