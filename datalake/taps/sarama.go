package taps

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// SaramaConfig returns a sarama client configuration for the cluster:
// client id, TLS, SASL, and network timeouts derived from timeout (the
// bound of one operation). Producer settings are left to the caller. The
// error wraps ErrTapConfig when a TLS file or the password file cannot be
// read.
func (c Cluster) SaramaConfig(timeout time.Duration) (*sarama.Config, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = c.ClientID
	if cfg.ClientID == "" {
		cfg.ClientID = "flowlab"
	}
	cfg.Net.DialTimeout = min(timeout, 3*time.Second)
	cfg.Net.ReadTimeout = timeout
	cfg.Net.WriteTimeout = timeout
	cfg.Metadata.Full = false
	cfg.Metadata.Retry.Max = 2
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Metadata.Timeout = timeout
	if t := c.TLS; t != nil {
		tc, err := t.load()
		if err != nil {
			return nil, err
		}
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = tc
	}
	if s := c.SASL; s != nil {
		pass := s.Password
		if s.PasswordFile != "" {
			b, err := os.ReadFile(s.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("%w: sasl: password_file: %v", ErrTapConfig, err)
			}
			pass = strings.TrimRight(string(b), "\r\n")
		}
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Handshake = true
		cfg.Net.SASL.User = s.User
		cfg.Net.SASL.Password = pass
		switch s.Mechanism {
		case SASLPlain:
			cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		case SASLScramSHA256:
			cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAM256() }
		case SASLScramSHA512:
			cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAM512() }
		default:
			return nil, fmt.Errorf("%w: sasl: mechanism %q: use %s, %s or %s", ErrTapConfig, s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
		}
	}
	return cfg, nil
}

// load builds the crypto/tls configuration.
func (t *TLSConfig) load() (*tls.Config, error) {
	tc := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for tests
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls: ca_file: %v", ErrTapConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: tls: ca_file %s holds no PEM certificate", ErrTapConfig, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls: cert_file/key_file: %v", ErrTapConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// producerConfig is the tap's sarama configuration: acknowledgement from
// every in-sync replica, idempotence (one request in flight, so retries
// neither duplicate nor reorder), bounded retries with exponential backoff,
// and everything on partition 0 so the topic keeps the order of sends.
func (t TapConfig) producerConfig() (*sarama.Config, error) {
	cfg, err := t.Cluster.SaramaConfig(t.timeout())
	if err != nil {
		return nil, err
	}
	SafeProducer(cfg)
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Retry.BackoffFunc = backoff(50*time.Millisecond, time.Second)
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Timeout = t.timeout()
	cfg.Producer.MaxMessageBytes = t.maxBytes() + 512 // headroom for the record's framing
	cfg.Producer.Flush.Frequency = 0
	return cfg, nil
}

// SafeProducer sets cfg's producer so that nothing the brokers acknowledged
// is lost and retries neither duplicate nor reorder messages:
// acknowledgement from every in-sync replica, idempotence with one request
// in flight, successes and errors returned, and a short wait for the
// producer id. Retries, partitioning and sizes are left to the caller.
func SafeProducer(cfg *sarama.Config) {
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	// The idempotent producer asks for a producer id when it starts,
	// retrying 50 times by default: a dead broker would hold the send for
	// five seconds before the first error.
	cfg.Producer.Transaction.Retry.Max = 2
	cfg.Producer.Transaction.Retry.Backoff = 100 * time.Millisecond
}

// backoff doubles from first up to limit.
func backoff(first, limit time.Duration) func(retries, maxRetries int) time.Duration {
	return func(retries, _ int) time.Duration {
		d := first
		for i := 0; i < retries && d < limit; i++ {
			d *= 2
		}
		return min(d, limit)
	}
}

// saramaProducer is one tap's connection: a client and a synchronous
// producer on it.
type saramaProducer struct {
	client sarama.Client
	sync   sarama.SyncProducer
}

func dialProducer(t TapConfig) (*saramaProducer, error) {
	cfg, err := t.producerConfig()
	if err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(t.Brokers, cfg)
	if err != nil {
		return nil, err
	}
	sp, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &saramaProducer{client: client, sync: sp}, nil
}

// send produces msgs in order to partition 0 of topic, each with headers,
// and returns where each landed. On a partial failure it returns the deliveries of the
// messages that were acknowledged (Offset -1 for the others) and the error.
func (p *saramaProducer) send(topic string, msgs []string, headers []sarama.RecordHeader, now time.Time) ([]Delivery, error) {
	pms := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pms[i] = &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(m), Headers: headers, Timestamp: now}
	}
	var err error
	if len(pms) == 1 {
		_, _, err = p.sync.SendMessage(pms[0])
	} else {
		err = p.sync.SendMessages(pms)
	}
	failed := map[*sarama.ProducerMessage]bool{}
	var perrs sarama.ProducerErrors
	if errors.As(err, &perrs) {
		for _, pe := range perrs {
			failed[pe.Msg] = true
		}
		if len(perrs) > 0 {
			err = perrs[0].Err
		}
	}
	out := make([]Delivery, len(pms))
	for i, pm := range pms {
		if failed[pm] || (err != nil && len(failed) == 0) {
			out[i] = Delivery{Partition: pm.Partition, Offset: -1}
			continue
		}
		out[i] = Delivery{Partition: pm.Partition, Offset: pm.Offset}
	}
	return out, err
}

func (p *saramaProducer) close() {
	_ = p.sync.Close()
	_ = p.client.Close()
}
