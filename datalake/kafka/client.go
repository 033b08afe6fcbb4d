package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/flowlab/flowlab/datalake/taps"
)

// DefaultTimeout bounds connecting to the brokers, and each flush of a
// Producer, when the options set no timeout.
const DefaultTimeout = 30 * time.Second

// withDefaults fills the settings the producer and the consumer share.
func withDefaults(timeout time.Duration, now func() time.Time, logger *slog.Logger) (time.Duration, func() time.Time, *slog.Logger) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return timeout, now, logger
}

// checkCluster refuses a cluster without brokers (ErrNoBrokers) or with
// bad settings (taps.ErrTapConfig).
func checkCluster(c taps.Cluster) error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: pass --brokers HOST:PORT[,HOST:PORT...], or --tap NAME to use a configured tap's cluster", ErrNoBrokers)
	}
	return c.Validate()
}

// saramaConfig is the cluster's client configuration with producer
// settings that lose nothing (taps.SafeProducer), retries with backoff for
// about 15 s, records keyed to partitions, snappy compression (JSON
// shrinks about fivefold).
func saramaConfig(c taps.Cluster, timeout time.Duration) (*sarama.Config, error) {
	cfg, err := c.SaramaConfig(timeout)
	if err != nil {
		return nil, err
	}
	taps.SafeProducer(cfg)
	cfg.Producer.Retry.Max = 10
	cfg.Producer.Retry.BackoffFunc = func(retries, _ int) time.Duration {
		return min(100*time.Millisecond<<min(retries, 5), 2*time.Second)
	}
	cfg.Producer.Timeout = min(timeout, 10*time.Second)
	cfg.Producer.Compression = sarama.CompressionSnappy
	cfg.Producer.Flush.Frequency = 50 * time.Millisecond
	cfg.Producer.Flush.Messages = 1000
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	return cfg, nil
}

// connect returns a client of the cluster that has fetched the metadata
// of the topics, or an error wrapping ErrUnreachable: no broker answered
// within timeout, or a topic does not exist. A client that connects after
// the timeout is closed.
func connect(ctx context.Context, c taps.Cluster, cfg *sarama.Config, timeout time.Duration, topics ...string) (sarama.Client, error) {
	type result struct {
		client sarama.Client
		err    error
	}
	done := make(chan result, 1)
	go func() {
		cl, err := sarama.NewClient(c.Brokers, cfg)
		if err == nil {
			if err = cl.RefreshMetadata(topics...); err != nil {
				cl.Close()
				cl = nil
			}
		}
		done <- result{cl, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case r := <-done:
		if r.err == nil {
			return r.client, nil
		}
		err = r.err
	case <-t.C:
		err = fmt.Errorf("no answer within %s", timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	go func() {
		if r := <-done; r.client != nil {
			r.client.Close()
		}
	}()
	brokers := strings.Join(c.Brokers, ",")
	switch {
	case errors.Is(err, context.Canceled):
		return nil, err
	case errors.Is(err, sarama.ErrUnknownTopicOrPartition):
		return nil, fmt.Errorf("%w: a topic of %s does not exist on %s; create it (kafka-topics.sh --create --topic NAME) or let the brokers create topics automatically",
			ErrUnreachable, strings.Join(topics, ", "), brokers)
	}
	return nil, fmt.Errorf("%w at %s: %v; check the broker addresses and that Kafka is running and reachable from here", ErrUnreachable, brokers, err)
}

// partitions returns a topic's partitions, or an error wrapping
// ErrUnreachable that says the topic does not exist.
func partitions(cl sarama.Client, brokers []string, topic string) ([]int32, error) {
	ps, err := cl.Partitions(topic)
	if err == nil && len(ps) == 0 {
		err = sarama.ErrUnknownTopicOrPartition
	}
	if err != nil {
		return nil, fmt.Errorf("%w: topic %q on %s: %v; create it (kafka-topics.sh --create --topic %s) or let the brokers create topics automatically", ErrUnreachable, topic, strings.Join(brokers, ","), err, topic)
	}
	return ps, nil
}
