package datasink

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/flowlab/flowlab/datalake/taps"
)

var _ Producer = (*KafkaProducer)(nil)

// KafkaProducer produces datasink records with acknowledgements from all
// in-sync replicas and idempotence, like the taps. It connects on first
// use. Safe for concurrent use.
type KafkaProducer struct {
	cluster taps.Cluster
	timeout time.Duration
	now     func() time.Time

	mu   sync.Mutex
	sync sarama.SyncProducer
}

// NewKafkaProducer returns a producer for the cluster; timeout bounds one
// Produce (zero: 10 s); now stamps the records (nil: time.Now), which
// decides their hour partition in the lake. The error wraps
// taps.ErrTapConfig.
func NewKafkaProducer(cluster taps.Cluster, timeout time.Duration, now func() time.Time) (*KafkaProducer, error) {
	if err := cluster.Validate(); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = taps.DefaultTimeout
	}
	if now == nil {
		now = time.Now
	}
	return &KafkaProducer{cluster: cluster, timeout: timeout, now: now}, nil
}

func (p *KafkaProducer) producer() (sarama.SyncProducer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sync != nil {
		return p.sync, nil
	}
	cfg, err := p.cluster.SaramaConfig(p.timeout)
	if err != nil {
		return nil, err
	}
	taps.SafeProducer(cfg)
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	cfg.Producer.MaxMessageBytes = 2 << 20
	sp, err := sarama.NewSyncProducer(p.cluster.Brokers, cfg)
	if err != nil {
		return nil, err
	}
	p.sync = sp
	return sp, nil
}

// Produce sends records to topic and returns once all are acknowledged, at
// most the producer's timeout or until ctx ends. The error wraps
// ErrUnavailable and names the topic and brokers.
func (p *KafkaProducer) Produce(ctx context.Context, topic string, records [][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		sp, err := p.producer()
		if err != nil {
			done <- err
			return
		}
		now := p.now()
		msgs := make([]*sarama.ProducerMessage, len(records))
		for i, r := range records {
			msgs[i] = &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(r), Timestamp: now}
		}
		err = sp.SendMessages(msgs)
		if err != nil {
			p.drop(sp)
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("%w: topic %q on broker %s: %v", ErrUnavailable, topic, strings.Join(p.cluster.Brokers, ","), err)
	}
	return nil
}

// drop forgets a failed producer so the next Produce connects afresh.
func (p *KafkaProducer) drop(sp sarama.SyncProducer) {
	p.mu.Lock()
	if p.sync == sp {
		p.sync = nil
	}
	p.mu.Unlock()
	go sp.Close()
}

// Close closes the connection.
func (p *KafkaProducer) Close() error {
	p.mu.Lock()
	sp := p.sync
	p.sync = nil
	p.mu.Unlock()
	if sp != nil {
		return sp.Close()
	}
	return nil
}
