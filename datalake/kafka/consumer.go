package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/taps"
)

// Lake is where a Consumer publishes; ingest.StreamWriter implements it.
type Lake interface {
	// Resume returns the first offset of the partition that the lake does
	// not hold (-1: none of it), after finishing whatever an earlier run
	// left half published.
	Resume(topic string, partition int32) (int64, error)
	// Publish writes the records that came from offsets first to last of
	// the partition into the lake, together with the record that the
	// lake now holds the partition up to last, and returns the lake paths
	// published. It must refuse a batch that starts before what the lake
	// holds.
	Publish(topic string, partition int32, first, last int64, flows []datalake.Flow, packets []datalake.Packet) ([]string, error)
}

// Defaults of ConsumerOptions.
const (
	DefaultGroup         = "flowlab-ingest"
	DefaultFlushRecords  = 1 << 16
	DefaultFlushInterval = time.Minute
)

// ConsumerOptions configures a Consumer. Cluster, FlowsTopic and Lake are
// required.
type ConsumerOptions struct {
	// Cluster is where to consume: brokers, TLS, SASL.
	Cluster taps.Cluster
	// Group is the consumer group; empty means DefaultGroup.
	Group string
	// FlowsTopic holds flow messages, for /tetration/flows.
	FlowsTopic string
	// PacketsTopic, if set, holds packet messages, for /tetration/packets.
	PacketsTopic string
	// DeadLetterTopic, if set, receives a copy of every malformed message
	// (same key and value, headers saying where it came from and why it
	// was refused) before its offset is committed. Without it malformed
	// messages are logged, counted and skipped.
	DeadLetterTopic string
	// Lake receives the batches.
	Lake Lake
	// FlushRecords publishes a partition's batch once it holds this many
	// messages; zero means DefaultFlushRecords.
	FlushRecords int
	// FlushInterval publishes a partition's batch once its first message
	// waited this long; zero means DefaultFlushInterval.
	FlushInterval time.Duration
	// Tick is how often batch ages are checked; zero means a tenth of
	// FlushInterval, at most 1 s.
	Tick time.Duration
	// ExitAtEnd ends Run once every partition of the topics is in the lake
	// up to the end it had when Run started (kcat -e). Meant for a drain
	// run by one process: partitions assigned to other members of the
	// group are never seen to end.
	ExitAtEnd bool
	// Timeout bounds connecting to the brokers; zero means DefaultTimeout.
	Timeout time.Duration
	// OnPublish, if set, is called after each batch is in the lake and
	// before its offsets are committed to Kafka, from the partition's
	// goroutine (calls for different partitions may overlap).
	OnPublish func(Publication)
	// Now is the clock of batch ages and publication times; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives malformed messages, rebalances and errors; nil
	// discards.
	Logger *slog.Logger
}

// Publication is one batch published into the lake.
type Publication struct {
	Topic       string
	Partition   int32
	First, Last int64 // offsets covered, malformed messages included
	Flows       int
	Packets     int
	Malformed   int
	Files       []string // lake paths
}

// ConsumerStats count what a Consumer did.
type ConsumerStats struct {
	Read      uint64 // messages read from Kafka, published or waiting in a batch
	Messages  uint64 // messages published (their offsets committed)
	Flows     uint64 // flow records published
	Packets   uint64 // packet records published
	Malformed uint64 // refused by the decoder (skipped or dead-lettered)
	Duplicate uint64 // delivered again but already in the lake: skipped
	Batches   uint64 // batches published
	Files     uint64 // files published
}

// Consumer reads flow (and packet) messages as a Kafka consumer group and
// publishes them into the lake: per partition, a batch is decoded and
// validated, published through the Lake, and only then are its offsets
// committed. It is a component: Run, called once, blocks until the
// context ends; Stats is safe for concurrent use.
type Consumer struct {
	opts ConsumerOptions
	log  *slog.Logger

	mu      sync.Mutex
	stats   ConsumerStats
	next    map[topicPartition]int64 // what the lake holds, from Resume and publishes
	ends    map[topicPartition]int64 // with ExitAtEnd: where the partitions ended at start
	dead    sarama.SyncProducer
	stop    context.CancelFunc
	failure error // a publish failure ends Run
}

type topicPartition struct {
	topic     string
	partition int32
}

// NewConsumer checks opts. The error wraps ErrNoBrokers or
// taps.ErrTapConfig.
func NewConsumer(opts ConsumerOptions) (*Consumer, error) {
	if err := checkCluster(opts.Cluster); err != nil {
		return nil, err
	}
	if opts.FlowsTopic == "" {
		return nil, fmt.Errorf("%w: no topic to consume", taps.ErrTapConfig)
	}
	if opts.Lake == nil {
		return nil, fmt.Errorf("%w: no lake to publish to", datalake.ErrNotConfigured)
	}
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if opts.FlushRecords <= 0 {
		opts.FlushRecords = DefaultFlushRecords
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Tick <= 0 {
		opts.Tick = min(opts.FlushInterval/10, time.Second)
	}
	var log *slog.Logger
	opts.Timeout, opts.Now, log = withDefaults(opts.Timeout, opts.Now, opts.Logger)
	return &Consumer{opts: opts, log: log, next: map[topicPartition]int64{}}, nil
}

// Stats returns the counts so far. Safe for concurrent use.
func (c *Consumer) Stats() ConsumerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// topics are the consumed topics.
func (c *Consumer) topics() []string {
	if c.opts.PacketsTopic != "" {
		return []string{c.opts.FlowsTopic, c.opts.PacketsTopic}
	}
	return []string{c.opts.FlowsTopic}
}

// Run consumes until ctx ends, or with ExitAtEnd until the topics are in
// the lake up to their end, and returns nil then: every batch read was
// published and committed first. It returns an error wrapping
// ErrUnreachable when the brokers or the topics cannot be reached within
// the timeout, or the Lake's error when a batch cannot be published (its
// offsets are not committed, so a restart reads it again).
func (c *Consumer) Run(ctx context.Context) error {
	cfg, err := saramaConfig(c.opts.Cluster, c.opts.Timeout)
	if err != nil {
		return err
	}
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	topics := c.topics()
	if c.opts.DeadLetterTopic != "" {
		topics = append(topics, c.opts.DeadLetterTopic)
	}
	admin, err := connect(ctx, c.opts.Cluster, cfg, c.opts.Timeout, topics...)
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, t := range topics {
		if _, err := partitions(admin, c.opts.Cluster.Brokers, t); err != nil {
			return err
		}
	}
	if c.opts.DeadLetterTopic != "" {
		if c.dead, err = sarama.NewSyncProducerFromClient(admin); err != nil {
			return fmt.Errorf("%w: dead-letter producer: %v", ErrUnreachable, err)
		}
		defer c.dead.Close()
	}
	ctx, c.stop = context.WithCancel(ctx)
	defer c.stop()
	if c.opts.ExitAtEnd {
		if err := c.findEnds(admin); err != nil {
			return err
		}
		if c.atEnd() {
			return nil
		}
	}
	group, err := sarama.NewConsumerGroup(c.opts.Cluster.Brokers, c.opts.Group, cfg)
	if err != nil {
		return fmt.Errorf("%w: join group %q at %s: %v", ErrUnreachable, c.opts.Group, strings.Join(c.opts.Cluster.Brokers, ","), err)
	}
	defer group.Close()
	go func() {
		for err := range group.Errors() {
			c.log.Warn("kafka consumer", "group", c.opts.Group, "err", err)
		}
	}()
	for {
		err := group.Consume(ctx, c.topics(), c)
		c.mu.Lock()
		failure := c.failure
		c.mu.Unlock()
		if failure != nil {
			return failure
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			c.log.Warn("kafka consumer group; joining again", "group", c.opts.Group, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}

// findEnds records, for ExitAtEnd, where each partition ends now, and
// counts as done the partitions with nothing left (empty, or all expired).
func (c *Consumer) findEnds(admin sarama.Client) error {
	c.ends = map[topicPartition]int64{}
	for _, t := range c.topics() {
		ps, err := partitions(admin, c.opts.Cluster.Brokers, t)
		if err != nil {
			return err
		}
		for _, p := range ps {
			tp := topicPartition{t, p}
			end, err := admin.GetOffset(t, p, sarama.OffsetNewest)
			if err == nil {
				var oldest int64
				oldest, err = admin.GetOffset(t, p, sarama.OffsetOldest)
				if err == nil && oldest >= end {
					end = -1 // nothing to read
				}
			}
			if err != nil {
				return fmt.Errorf("%w: end of %s/%d: %v", ErrUnreachable, t, p, err)
			}
			c.ends[tp] = end
			next, err := c.opts.Lake.Resume(t, p)
			if err != nil {
				return err
			}
			c.next[tp] = next
		}
	}
	return nil
}

// atEnd reports whether every partition is in the lake up to its end.
func (c *Consumer) atEnd() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for tp, end := range c.ends {
		if c.next[tp] < end {
			return false
		}
	}
	return true
}

// reached records that the lake (or the group) is past offset next-1:
// what a claim of the partition skips, and what ExitAtEnd compares.
func (c *Consumer) reached(tp topicPartition, next int64) {
	c.mu.Lock()
	if cur, ok := c.next[tp]; !ok || next > cur {
		c.next[tp] = next
	}
	c.mu.Unlock()
	if c.opts.ExitAtEnd && c.atEnd() {
		c.stop()
	}
}

// Setup implements sarama.ConsumerGroupHandler: for each partition it was
// given, it finishes the lake's interrupted commits and starts the claim
// where the lake's copy ends, committing that offset (so the group catches
// up with a lake that was published to before a crash).
func (c *Consumer) Setup(sess sarama.ConsumerGroupSession) error {
	for topic, ps := range sess.Claims() {
		for _, p := range ps {
			next, err := c.opts.Lake.Resume(topic, p)
			if err != nil {
				c.fail(err)
				return err
			}
			c.reached(topicPartition{topic, p}, next)
			if next >= 0 {
				sess.MarkOffset(topic, p, next, "")
			}
			c.log.Info("kafka partition assigned", "topic", topic, "partition", p, "lake_next", next)
		}
	}
	sess.Commit()
	return nil
}

// Cleanup implements sarama.ConsumerGroupHandler.
func (c *Consumer) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// fail ends Run with err.
func (c *Consumer) fail(err error) {
	c.mu.Lock()
	if c.failure == nil {
		c.failure = err
	}
	c.mu.Unlock()
	c.stop()
}

// batch is what one partition read since its last publish.
type batch struct {
	first, last int64
	started     time.Time
	n           int
	flows       []datalake.Flow
	packets     []datalake.Packet
	bad         []*sarama.ConsumerMessage
	reasons     []string
}

// ConsumeClaim implements sarama.ConsumerGroupHandler: it batches one
// partition's messages and publishes them by count, by age, when the
// partition is taken away and when the consumer stops.
func (c *Consumer) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	tp := topicPartition{claim.Topic(), claim.Partition()}
	c.mu.Lock()
	skipBelow := c.next[tp]
	end, hasEnd := c.ends[tp]
	c.mu.Unlock()
	if claim.InitialOffset() >= 0 {
		c.reached(tp, claim.InitialOffset())
	}
	b := &batch{}
	tick := time.NewTicker(c.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return c.publish(sess, tp, b)
			}
			if m.Offset < skipBelow {
				c.count(func(s *ConsumerStats) { s.Duplicate++ })
				continue
			}
			c.add(b, m)
			if b.n >= c.opts.FlushRecords || (hasEnd && m.Offset+1 >= end) {
				if err := c.publish(sess, tp, b); err != nil {
					return err
				}
			}
		case <-tick.C:
			if b.n > 0 && c.opts.Now().Sub(b.started) >= c.opts.FlushInterval {
				if err := c.publish(sess, tp, b); err != nil {
					return err
				}
			}
		}
	}
}

func (c *Consumer) count(f func(*ConsumerStats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// add decodes a message into the batch; a malformed one is logged with
// where it is, and kept for the dead-letter topic.
func (c *Consumer) add(b *batch, m *sarama.ConsumerMessage) {
	if b.n == 0 {
		b.first, b.started = m.Offset, c.opts.Now()
	}
	b.last = m.Offset
	b.n++
	c.count(func(s *ConsumerStats) { s.Read++ })
	var err error
	if m.Topic == c.opts.PacketsTopic {
		var p datalake.Packet
		if p, err = DecodePacket(m.Value); err == nil {
			b.packets = append(b.packets, p)
		}
	} else {
		var f datalake.Flow
		if f, err = DecodeFlow(m.Value); err == nil {
			b.flows = append(b.flows, f)
		}
	}
	if err != nil {
		b.bad = append(b.bad, m)
		b.reasons = append(b.reasons, err.Error())
		action := "skipped"
		if c.opts.DeadLetterTopic != "" {
			action = "sent to " + c.opts.DeadLetterTopic
		}
		c.log.Error("malformed message "+action, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
	}
}

// publish dead-letters the batch's malformed messages, publishes it into
// the lake, and then commits its offsets. A failure ends Run.
func (c *Consumer) publish(sess sarama.ConsumerGroupSession, tp topicPartition, b *batch) error {
	if b.n == 0 {
		return nil
	}
	if err := c.deadLetter(b); err != nil {
		c.fail(err)
		return err
	}
	files, err := c.opts.Lake.Publish(tp.topic, tp.partition, b.first, b.last, b.flows, b.packets)
	if err != nil {
		err = fmt.Errorf("publish %s/%d offsets %d to %d into the lake: %w", tp.topic, tp.partition, b.first, b.last, err)
		c.log.Error("kafka ingest stopped; nothing of the batch was committed, a restart reads it again", "err", err)
		c.fail(err)
		return err
	}
	c.count(func(s *ConsumerStats) {
		s.Messages += uint64(b.n)
		s.Flows += uint64(len(b.flows))
		s.Packets += uint64(len(b.packets))
		s.Malformed += uint64(len(b.bad))
		s.Batches++
		s.Files += uint64(len(files))
	})
	if c.opts.OnPublish != nil {
		c.opts.OnPublish(Publication{Topic: tp.topic, Partition: tp.partition, First: b.first, Last: b.last,
			Flows: len(b.flows), Packets: len(b.packets), Malformed: len(b.bad), Files: files})
	}
	next := b.last + 1
	sess.MarkOffset(tp.topic, tp.partition, next, "")
	sess.Commit()
	*b = batch{}
	c.reached(tp, next)
	return nil
}

// deadLetter copies the batch's malformed messages to the dead-letter
// topic, if there is one, and waits for the acknowledgements.
func (c *Consumer) deadLetter(b *batch) error {
	if c.dead == nil || len(b.bad) == 0 {
		return nil
	}
	msgs := make([]*sarama.ProducerMessage, len(b.bad))
	for i, m := range b.bad {
		msgs[i] = &sarama.ProducerMessage{
			Topic: c.opts.DeadLetterTopic, Value: sarama.ByteEncoder(m.Value), Timestamp: c.opts.Now(),
			Headers: []sarama.RecordHeader{
				{Key: []byte("flowlab-source-topic"), Value: []byte(m.Topic)},
				{Key: []byte("flowlab-source-partition"), Value: []byte(strconv.Itoa(int(m.Partition)))},
				{Key: []byte("flowlab-source-offset"), Value: []byte(strconv.FormatInt(m.Offset, 10))},
				{Key: []byte("flowlab-error"), Value: []byte(b.reasons[i])},
			},
		}
		if m.Key != nil {
			msgs[i].Key = sarama.ByteEncoder(m.Key)
		}
	}
	if err := c.dead.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			err = perrs[0].Err
		}
		return fmt.Errorf("%w: dead-letter topic %q: %v", ErrNotDelivered, c.opts.DeadLetterTopic, err)
	}
	return nil
}
