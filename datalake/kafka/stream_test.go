package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/datalake/kafka"
	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/datalake/taps/broker/brokertest"
)

// startBroker runs the in-process broker with topics of the given
// partition count until the test ends.
func startBroker(t *testing.T, partitions int32, topics ...string) *broker.Broker {
	t.Helper()
	return brokertest.Start(t, broker.Options{Topics: topics, Partitions: partitions})
}

// memLake is a Lake in memory that refuses stale batches like
// ingest.StreamWriter; crashAfter makes Publish fail after storing the
// batch, as a process dying between publishing and committing would.
type memLake struct {
	mu         sync.Mutex
	next       map[string]int64
	flows      map[string][]datalake.Flow // by "topic/partition"
	packets    int
	pubs       int
	crashAfter int // fail after this many publishes (0: never)
}

func newMemLake() *memLake {
	return &memLake{next: map[string]int64{}, flows: map[string][]datalake.Flow{}}
}

func (l *memLake) Resume(topic string, p int32) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.next[fmt.Sprintf("%s/%d", topic, p)]; ok {
		return n, nil
	}
	return -1, nil
}

var errCrash = errors.New("crash after publishing")

func (l *memLake) Publish(topic string, p int32, first, last int64, flows []datalake.Flow, packets []datalake.Packet) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := fmt.Sprintf("%s/%d", topic, p)
	if n, ok := l.next[k]; ok && first < n {
		return nil, fmt.Errorf("stale batch %s %d-%d, lake at %d", k, first, last, n)
	}
	l.next[k] = last + 1
	l.flows[k] = append(l.flows[k], flows...)
	l.packets += len(packets)
	l.pubs++
	if l.crashAfter > 0 && l.pubs >= l.crashAfter {
		return nil, errCrash
	}
	return []string{"/mem/" + k}, nil
}

func cluster(b *broker.Broker) taps.Cluster { return taps.Cluster{Brokers: []string{b.Addr()}} }

func produce(t *testing.T, b *broker.Broker, flows []datalake.Flow, packets []datalake.Packet) kafka.ProducerStats {
	t.Helper()
	o := kafka.ProducerOptions{Cluster: cluster(b), FlowsTopic: "flows", Timeout: 10 * time.Second}
	if len(packets) > 0 {
		o.PacketsTopic = "flows.packets"
	}
	p, err := kafka.NewProducer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// In several sends, as a capture hands them over.
	for i := 0; i < len(flows); i += 100 {
		if err := p.SendFlows(flows[i:min(i+100, len(flows))]); err != nil {
			t.Fatal(err)
		}
	}
	if len(packets) > 0 {
		if err := p.SendPackets(packets); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.SendFlows(flows[:1]); !errors.Is(err, kafka.ErrClosed) {
		t.Errorf("send after Close: %v", err)
	}
	return p.Stats()
}

func consume(t *testing.T, b *broker.Broker, lake kafka.Lake, o kafka.ConsumerOptions) (*kafka.Consumer, error) {
	t.Helper()
	o.Cluster, o.Lake, o.ExitAtEnd = cluster(b), lake, true
	if o.FlowsTopic == "" {
		o.FlowsTopic = "flows"
	}
	if o.Group == "" {
		o.Group = "test"
	}
	c, err := kafka.NewConsumer(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = c.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the consumer did not reach the end of the topics")
	}
	return c, err
}

// corpusFlows is every flow and packet of a few captures.
func corpusFlows(t *testing.T) ([]datalake.Flow, []datalake.Packet) {
	var flows []datalake.Flow
	var packets []datalake.Packet
	for _, f := range []string{"good/zeek__conn-size.pcap", "tcpstate/curated-pcaps__tcp_control_two_way_all_flags.pcap", "good/gopacket__pcap_test_loopback.pcap"} {
		fl, pk := corpusRecords(t, filepath.Join(corpus, f))
		flows, packets = append(flows, fl...), append(packets, pk...)
	}
	return flows, packets
}

// TestStreamThroughKafka: what the producer sends, the consumer publishes
// once, each flow's slices in one partition, packets from their own topic.
func TestStreamThroughKafka(t *testing.T) {
	b := startBroker(t, 3, "flows", "flows.packets")
	flows, packets := corpusFlows(t)
	st := produce(t, b, flows, packets)
	if want := uint64(len(flows) + len(packets)); st.Sent != want || st.Acked != want || st.Failed != 0 {
		t.Fatalf("producer stats %+v, want %d acknowledged", st, want)
	}
	lake := newMemLake()
	var mu sync.Mutex
	var pubs []kafka.Publication
	c, err := consume(t, b, lake, kafka.ConsumerOptions{PacketsTopic: "flows.packets", FlushRecords: 500,
		OnPublish: func(p kafka.Publication) { mu.Lock(); pubs = append(pubs, p); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	cs := c.Stats()
	if cs.Flows != uint64(len(flows)) || cs.Packets != uint64(len(packets)) || cs.Malformed != 0 || cs.Duplicate != 0 || int(cs.Batches) != len(pubs) {
		t.Errorf("consumer stats %+v; %d flows, %d packets sent; %d publications", cs, len(flows), len(packets), len(pubs))
	}
	seen := map[string]string{} // flow_id -> partition
	got := map[string]int{}
	for k, fl := range lake.flows {
		for _, f := range fl {
			if p, ok := seen[f.FlowID]; ok && p != k {
				t.Fatalf("flow %s in %s and %s", f.FlowID, p, k)
			}
			seen[f.FlowID] = k
			got[f.FlowID+f.StartTimestamp.String()]++
		}
	}
	for _, f := range flows {
		if got[f.FlowID+f.StartTimestamp.UTC().Truncate(time.Microsecond).String()] != 1 {
			t.Fatalf("flow %s in the lake %d times", f.FlowID, got[f.FlowID])
		}
	}
	if parts := len(lake.flows); parts < 2 {
		t.Errorf("flows landed in %d partitions; keyed by flow_id they spread", parts)
	}
	// Running again: nothing new, the group and the lake are at the end.
	again, err := consume(t, b, lake, kafka.ConsumerOptions{PacketsTopic: "flows.packets"})
	if err != nil || again.Stats().Messages != 0 {
		t.Errorf("a second run read %+v (%v)", again.Stats(), err)
	}
}

// TestCrashBetweenPublishAndCommit: a consumer whose batch reached the
// lake but whose offsets were never committed is followed by one that
// skips what Kafka delivers again: no duplicate, no loss.
func TestCrashBetweenPublishAndCommit(t *testing.T) {
	b := startBroker(t, 1, "flows")
	flows, _ := corpusFlows(t)
	produce(t, b, flows, nil)
	lake := newMemLake()
	lake.crashAfter = 2
	_, err := consume(t, b, lake, kafka.ConsumerOptions{FlushRecords: 1000})
	if !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the crash", err)
	}
	lake.crashAfter = 0
	if held := len(lake.flows["flows/0"]); held != 2000 {
		t.Fatalf("the lake holds %d flows after the crash, want 2000", held)
	}
	c, err := consume(t, b, lake, kafka.ConsumerOptions{FlushRecords: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lake.flows["flows/0"]); n != len(flows) {
		t.Errorf("lake holds %d flows, want %d", n, len(flows))
	}
	// The group had committed the first batch only; the second run starts
	// where the lake's copy ends instead.
	if st := c.Stats(); st.Messages != uint64(len(flows)-2000) || st.Duplicate != 0 {
		t.Errorf("second run %+v, want %d messages read", st, len(flows)-2000)
	}
}

// TestMalformedMessages: malformed messages are counted, logged with
// their partition and offset, and copied to the dead-letter topic with
// where they came from; the good ones reach the lake.
func TestMalformedMessages(t *testing.T) {
	b := startBroker(t, 1, "flows", "flows.bad")
	flows, _ := corpusFlows(t)
	flows = flows[:10]
	produce(t, b, flows[:5], nil)
	raw(t, b, "flows", `{"flow_id":"x"}`, `not json`)
	produce(t, b, flows[5:], nil)
	for _, tc := range []struct {
		name, dead string
	}{{"skip", ""}, {"dead letter", "flows.bad"}} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			lake := newMemLake()
			c, err := consume(t, b, lake, kafka.ConsumerOptions{Group: tc.name, DeadLetterTopic: tc.dead,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if st := c.Stats(); st.Malformed != 2 || st.Flows != 10 || st.Messages != 12 {
				t.Errorf("stats %+v", st)
			}
			if len(lake.flows["flows/0"]) != 10 {
				t.Errorf("%d flows in the lake", len(lake.flows["flows/0"]))
			}
			for _, want := range []string{"topic=flows partition=0 offset=5", "offset=6", "start_timestamp: missing", "not a JSON object"} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
			if tc.dead == "" {
				return
			}
			msgs := readAll(t, b, "flows.bad")
			if len(msgs) != 2 || string(msgs[1].Value) != "not json" {
				t.Fatalf("dead letters %v", msgs)
			}
			h := map[string]string{}
			for _, rh := range msgs[0].Headers {
				h[string(rh.Key)] = string(rh.Value)
			}
			if h["flowlab-source-topic"] != "flows" || h["flowlab-source-offset"] != "5" || !strings.Contains(h["flowlab-error"], "start_timestamp: missing") {
				t.Errorf("dead letter headers %v", h)
			}
		})
	}
}

func raw(t *testing.T, b *broker.Broker, topic string, values ...string) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, v := range values {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, b *broker.Broker, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer([]string{b.Addr()}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	for {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case <-time.After(2 * time.Second):
			return out
		}
	}
}

// TestFlushByTime: a batch younger than the flush interval waits; once the
// clock passes it, the batch is published without more messages.
func TestFlushByTime(t *testing.T) {
	b := startBroker(t, 1, "flows")
	flows, _ := corpusFlows(t)
	produce(t, b, flows[:3], nil)
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	published := make(chan kafka.Publication, 1)
	c, err := kafka.NewConsumer(kafka.ConsumerOptions{Cluster: cluster(b), FlowsTopic: "flows", Lake: newMemLake(),
		FlushInterval: time.Hour, Tick: 5 * time.Millisecond, Now: clock,
		OnPublish: func(p kafka.Publication) { published <- p }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case p := <-published:
		t.Fatalf("published before the interval: %+v", p)
	case <-time.After(3 * time.Second):
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	select {
	case p := <-published:
		if p.Flows != 3 || p.First != 0 || p.Last != 2 {
			t.Errorf("publication %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not published after the interval")
	}
}

// TestShutdownPublishes: stopping the consumer publishes and commits what
// it read, though neither the count nor the age of the batch asked for it.
func TestShutdownPublishes(t *testing.T) {
	b := startBroker(t, 2, "flows")
	flows, _ := corpusFlows(t)
	produce(t, b, flows, nil)
	lake := newMemLake()
	c, err := kafka.NewConsumer(kafka.ConsumerOptions{Cluster: cluster(b), FlowsTopic: "flows", Lake: lake, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats().Read < uint64(len(flows)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := c.Stats(); st.Read != uint64(len(flows)) || st.Batches != 0 {
		t.Fatalf("before the stop: %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Messages != uint64(len(flows)) || st.Batches != 2 {
		t.Errorf("after the stop: %+v", st)
	}
	// The offsets were committed: a new run of the group reads nothing.
	again, err := consume(t, b, newMemLake(), kafka.ConsumerOptions{Group: "flowlab-ingest"})
	if err != nil || again.Stats().Read != 0 {
		t.Errorf("after a clean stop the group read %+v again (%v)", again.Stats(), err)
	}
}

func TestConnectErrors(t *testing.T) {
	b := startBroker(t, 1, "flows")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		o    kafka.ProducerOptions
		want error
		say  string
	}{
		{"no brokers", kafka.ProducerOptions{FlowsTopic: "flows"}, kafka.ErrNoBrokers, "--brokers"},
		{"bad broker", kafka.ProducerOptions{Cluster: taps.Cluster{Brokers: []string{"kafka"}}, FlowsTopic: "flows"}, taps.ErrTapConfig, "host:port"},
		{"nobody there", kafka.ProducerOptions{Cluster: taps.Cluster{Brokers: []string{"127.0.0.1:1"}}, FlowsTopic: "flows", Timeout: 2 * time.Second}, kafka.ErrUnreachable, "is running"},
		{"no topic", kafka.ProducerOptions{Cluster: cluster(b), FlowsTopic: "flows", PacketsTopic: "nope", Timeout: 5 * time.Second}, kafka.ErrUnreachable, "flows, nope does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			p, err := kafka.NewProducer(ctx, tc.o)
			if err == nil {
				p.Close()
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("error %v, want %v saying %q", err, tc.want, tc.say)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	c, err := kafka.NewConsumer(kafka.ConsumerOptions{Cluster: cluster(b), FlowsTopic: "missing", Lake: newMemLake(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); !errors.Is(err, kafka.ErrUnreachable) || !strings.Contains(err.Error(), "missing does not exist") {
		t.Errorf("consumer of a missing topic: %v", err)
	}
}

var _ kafka.Lake = (*ingest.StreamWriter)(nil)
