package taps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// Offsets a Tail may start from besides an absolute offset.
const (
	// FromOldest starts at the oldest message the topic still holds.
	FromOldest int64 = sarama.OffsetOldest
	// FromNewest starts after the newest message: only new ones are read.
	FromNewest int64 = sarama.OffsetNewest
)

// Message is one message read from a tap's topic.
type Message struct {
	Tap       string    `json:"tap"`
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Time      time.Time `json:"time"`
	Value     string    `json:"value"`
	// App and Run name the sender, from the HeaderApp and HeaderRun
	// record headers flowlab kernels set; empty for other producers.
	App string `json:"app,omitempty"`
	Run string `json:"run,omitempty"`
}

// Tail reads the named tap's topic from offset from (an offset, FromOldest
// or FromNewest; in every partition) and calls fn with each message, in
// arrival order per partition (taps write partition 0 only, so that is the
// order of sends), until ctx ends or fn returns an error. It returns nil
// when ctx ends, fn's error, or an error wrapping ErrUnknownTap or
// ErrTapRead (the broker or topic cannot be reached; the message names
// them). fn is never called concurrently. Safe for concurrent use.
func (s *Set) Tail(ctx context.Context, tapName string, from int64, fn func(Message) error) error {
	t, err := s.lookup(tapName)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("tap %q: topic %q on broker %s", t.name, t.cfg.Topic, strings.Join(t.cfg.Brokers, ","))
	cfg, err := t.cfg.Cluster.SaramaConfig(t.cfg.timeout())
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	cfg.Consumer.Return.Errors = true
	client, err := sarama.NewClient(t.cfg.Brokers, cfg)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTapRead, where, err)
	}
	defer client.Close()
	parts, err := client.Partitions(t.cfg.Topic)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTapRead, where, err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTapRead, where, err)
	}
	defer consumer.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan *sarama.ConsumerMessage)
	errs := make(chan error, len(parts))
	for _, p := range parts {
		pc, err := consumer.ConsumePartition(t.cfg.Topic, p, from)
		if errors.Is(err, sarama.ErrOffsetOutOfRange) {
			oldest, _ := client.GetOffset(t.cfg.Topic, p, sarama.OffsetOldest)
			newest, _ := client.GetOffset(t.cfg.Topic, p, sarama.OffsetNewest)
			return fmt.Errorf("%w: %s: offset %d is out of range: partition %d holds offsets %d to %d", ErrTapRead, where, from, p, oldest, newest-1)
		}
		if err != nil {
			return fmt.Errorf("%w: %s: partition %d: %v", ErrTapRead, where, p, err)
		}
		defer pc.AsyncClose()
		go func() {
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					select {
					case msgs <- m:
					case <-ctx.Done():
						return
					}
				case e, ok := <-pc.Errors():
					if !ok {
						return
					}
					select {
					case errs <- e:
					default:
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-errs:
			return fmt.Errorf("%w: %s: %v", ErrTapRead, where, e)
		case m := <-msgs:
			msg := Message{Tap: t.name, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Time: m.Timestamp.UTC(), Value: string(m.Value)}
			for _, rh := range m.Headers {
				switch string(rh.Key) {
				case HeaderApp:
					msg.App = string(rh.Value)
				case HeaderRun:
					msg.Run = string(rh.Value)
				}
			}
			if err := fn(msg); err != nil {
				return err
			}
		}
	}
}

// ParseOffset reads where a tail starts: "oldest" (or "beginning"),
// "newest" (or "end"), or an offset ≥ 0. The error wraps ErrTapRead and says
// what is accepted.
func ParseOffset(s string) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "oldest", "beginning", "earliest":
		return FromOldest, nil
	case "newest", "end", "latest", "":
		return FromNewest, nil
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n < 0 || fmt.Sprint(n) != strings.TrimSpace(s) {
		return 0, fmt.Errorf("%w: offset %q: use oldest, newest or an offset ≥ 0", ErrTapRead, s)
	}
	return n, nil
}
