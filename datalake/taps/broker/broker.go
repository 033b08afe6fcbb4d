// Package broker runs an in-process Kafka-protocol broker (franz-go's kfake)
// for `flowlab serve --demo` and for tests, so taps and datasinks work with
// no Kafka installed and any Kafka client (kcat, a SIEM connector) can
// consume from it. It keeps messages in memory only.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultAddr is where the broker listens unless told otherwise.
const DefaultAddr = "127.0.0.1:9092"

// ErrAddr means the listen address cannot be used; the message says why.
var ErrAddr = errors.New("bad broker address")

// Options configures a Broker. The zero value works: one broker on
// DefaultAddr with no topics.
type Options struct {
	// Addr is host:port to listen on; the host must be a loopback or a
	// specific interface address, since it is also the address the broker
	// advertises to clients. Port 0 picks a free port. Empty means
	// DefaultAddr.
	Addr string
	// Topics are created at start (tap topics, datasink topics).
	Topics []string
	// Partitions is the number of partitions of each topic; zero means 1,
	// which keeps every topic in arrival order.
	Partitions int32
	// Logger receives the broker's warnings and errors; nil discards.
	Logger *slog.Logger
}

// Broker is a running in-process Kafka-protocol broker. It is safe for
// concurrent use.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// New starts listening and returns the broker; Run keeps it until its
// context ends. Errors wrap ErrAddr or the listener's error.
func New(opts Options) (*Broker, error) {
	addr := opts.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v (write it as host:port, e.g. %s)", ErrAddr, addr, err, DefaultAddr)
	}
	pn, err := strconv.Atoi(port)
	if err != nil || pn < 0 || pn > 65535 {
		return nil, fmt.Errorf("%w %q: the port is not a number from 0 to 65535", ErrAddr, addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return nil, fmt.Errorf("%w %q: the broker advertises its address to clients, so name one interface (e.g. 127.0.0.1), not every interface", ErrAddr, addr)
	}
	partitions := opts.Partitions
	if partitions <= 0 {
		partitions = 1
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(pn),
		kfake.DefaultNumPartitions(int(partitions)),
		// kfake listens on 127.0.0.1; listen where we were told instead.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, port))
		}),
	}
	if len(opts.Topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(partitions, opts.Topics...))
	}
	if opts.Logger != nil {
		kopts = append(kopts, kfake.WithLogger(slogLogger{opts.Logger}))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("start the broker on %s: %w", addr, err)
	}
	return &Broker{cluster: c, addr: c.ListenAddrs()[0]}, nil
}

// Addr returns the address the broker listens on and advertises
// (host:port, with the port picked when Options.Addr asked for 0).
func (b *Broker) Addr() string { return b.addr }

// Cluster returns the underlying kfake cluster, for tests that inject
// faults through its control hooks.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Run blocks until ctx ends, then closes the broker. It returns nil on
// cancellation.
func (b *Broker) Run(ctx context.Context) error {
	<-ctx.Done()
	b.Close()
	return nil
}

// Close stops the broker; connected clients see their connections drop.
// It may be called more than once.
func (b *Broker) Close() { b.cluster.Close() }

// slogLogger adapts slog to kfake's logger, passing warnings and errors.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		s.l.Error(fmt.Sprintf(msg, args...), "component", "broker")
	case kfake.LogLevelWarn:
		s.l.Warn(fmt.Sprintf(msg, args...), "component", "broker")
	}
}
