package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/taps"
)

// ProducerOptions configures a Producer. Cluster and FlowsTopic are
// required.
type ProducerOptions struct {
	// Cluster is where to produce: brokers, TLS, SASL.
	Cluster taps.Cluster
	// FlowsTopic receives one message per flow record.
	FlowsTopic string
	// PacketsTopic receives one message per packet record; empty refuses
	// packets.
	PacketsTopic string
	// Timeout bounds connecting and each Flush; zero means DefaultTimeout.
	Timeout time.Duration
	// Now stamps the messages (their Kafka timestamp is the time they are
	// sent, not the flow's, so a replayed old capture is not expired by
	// the topic's retention at once); nil means time.Now.
	Now func() time.Time
	// Logger receives the first delivery failure; nil discards.
	Logger *slog.Logger
}

// ProducerStats count a Producer's records.
type ProducerStats struct {
	Sent   uint64 // handed to the producer
	Acked  uint64 // acknowledged by the brokers
	Failed uint64 // given up after the retries
}

// Producer publishes flow and packet records to Kafka as they come: one
// JSON message per record (EncodeFlow, EncodePacket), keyed by flow_id so
// every slice and every packet of a flow lands in one partition, in order.
// It is sarama's asynchronous idempotent producer with acks=all: a record
// the brokers acknowledged is stored on every in-sync replica, and the
// producer's retries neither duplicate nor reorder. It implements
// ingest.RecordSink. Safe for concurrent use.
type Producer struct {
	opts   ProducerOptions
	log    *slog.Logger
	client sarama.Client
	async  sarama.AsyncProducer
	wg     sync.WaitGroup // the result readers
	input  sync.RWMutex   // held for reading while sending to async.Input, for writing to close it

	mu       sync.Mutex
	inflight int64
	idle     chan struct{} // closed while nothing is in flight
	stats    ProducerStats
	err      error // the first delivery failure
	closed   bool
}

// NewProducer connects to the cluster, checks that the topics exist and
// returns a Producer. It gives up after opts.Timeout with an error
// wrapping ErrUnreachable; ErrNoBrokers or taps.ErrTapConfig mean the
// options are wrong.
func NewProducer(ctx context.Context, opts ProducerOptions) (*Producer, error) {
	if err := checkCluster(opts.Cluster); err != nil {
		return nil, err
	}
	if opts.FlowsTopic == "" {
		return nil, fmt.Errorf("%w: no topic for flows", taps.ErrTapConfig)
	}
	var log *slog.Logger
	opts.Timeout, opts.Now, log = withDefaults(opts.Timeout, opts.Now, opts.Logger)
	cfg, err := saramaConfig(opts.Cluster, opts.Timeout)
	if err != nil {
		return nil, err
	}
	topics := []string{opts.FlowsTopic}
	if opts.PacketsTopic != "" {
		topics = append(topics, opts.PacketsTopic)
	}
	client, err := connect(ctx, opts.Cluster, cfg, opts.Timeout, topics...)
	if err != nil {
		return nil, err
	}
	for _, t := range topics {
		if _, err := partitions(client, opts.Cluster.Brokers, t); err != nil {
			client.Close()
			return nil, err
		}
	}
	async, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, strings.Join(opts.Cluster.Brokers, ","), err)
	}
	p := &Producer{opts: opts, log: log, client: client, async: async, idle: make(chan struct{})}
	close(p.idle)
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		for range async.Successes() {
			p.done(nil)
		}
	}()
	go func() {
		defer p.wg.Done()
		for e := range async.Errors() {
			p.done(e.Err)
		}
	}()
	return p, nil
}

// done counts one record's result.
func (p *Producer) done(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if err != nil {
		p.stats.Failed++
		if p.err == nil {
			p.err = err
			p.log.Error("kafka did not acknowledge a record", "brokers", strings.Join(p.opts.Cluster.Brokers, ","), "err", err)
		}
	} else {
		p.stats.Acked++
	}
	if p.inflight == 0 {
		close(p.idle)
	}
}

// send hands n encoded records to sarama. It returns the first delivery
// failure so far, if any: the capture should stop rather than lose more.
func (p *Producer) send(msgs []*sarama.ProducerMessage) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if err := p.failure(); err != nil {
		p.mu.Unlock()
		return err
	}
	if p.inflight == 0 {
		p.idle = make(chan struct{})
	}
	p.inflight += int64(len(msgs))
	p.stats.Sent += uint64(len(msgs))
	p.input.RLock()
	p.mu.Unlock()
	defer p.input.RUnlock()
	for _, m := range msgs {
		p.async.Input() <- m
	}
	return nil
}

// failure is the first delivery failure, wrapped; p.mu is held.
func (p *Producer) failure() error {
	if p.err == nil {
		return nil
	}
	return fmt.Errorf("%w: %d records on %s: %v", ErrNotDelivered, p.stats.Failed, strings.Join(p.opts.Cluster.Brokers, ","), p.err)
}

// SendFlows encodes flows and hands them to the producer, keyed by
// flow_id; it may return before they are acknowledged (Flush waits). It
// returns an error wrapping ErrNotDelivered once any record failed, or
// ErrClosed.
func (p *Producer) SendFlows(flows []datalake.Flow) error {
	msgs, err := messages(p.opts.FlowsTopic, p.opts.Now(), flows, EncodeFlow, func(f *datalake.Flow) string { return f.FlowID })
	if err != nil {
		return err
	}
	return p.send(msgs)
}

// SendPackets is SendFlows for packet records, to the packets topic.
func (p *Producer) SendPackets(packets []datalake.Packet) error {
	if p.opts.PacketsTopic == "" {
		return fmt.Errorf("%w: no topic for packets", taps.ErrTapConfig)
	}
	msgs, err := messages(p.opts.PacketsTopic, p.opts.Now(), packets, EncodePacket, func(r *datalake.Packet) string { return r.FlowID })
	if err != nil {
		return err
	}
	return p.send(msgs)
}

// messages encodes records as the messages of a topic.
func messages[T any](topic string, now time.Time, recs []T, encode func(*T) ([]byte, error), key func(*T) string) ([]*sarama.ProducerMessage, error) {
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i := range recs {
		b, err := encode(&recs[i])
		if err != nil {
			return nil, err
		}
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key(&recs[i])), Value: sarama.ByteEncoder(b), Timestamp: now}
	}
	return msgs, nil
}

// Flush waits until every record sent so far is acknowledged, at most the
// producer's timeout. The error wraps ErrNotDelivered, with how many
// records failed or are still waiting.
func (p *Producer) Flush() error {
	p.mu.Lock()
	idle := p.idle
	p.mu.Unlock()
	t := time.NewTimer(p.opts.Timeout)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		p.mu.Lock()
		defer p.mu.Unlock()
		return fmt.Errorf("%w: %d records not acknowledged within %s by %s; is the broker running?", ErrNotDelivered, p.inflight, p.opts.Timeout, strings.Join(p.opts.Cluster.Brokers, ","))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failure()
}

// Stats returns the producer's counts so far.
func (p *Producer) Stats() ProducerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close flushes (see Flush), then closes the connections, after the
// records sent meanwhile are delivered or given up. It returns the flush's
// error. Later sends return ErrClosed.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	err := p.Flush()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.input.Lock() // no send is between its check of closed and async.Input
	p.async.AsyncClose()
	p.input.Unlock()
	p.wg.Wait()
	p.client.Close()
	return err
}
