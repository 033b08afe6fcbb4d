// Package brokertest starts the in-process Kafka-protocol broker for tests.
package brokertest

import (
	"context"
	"testing"

	"github.com/flowlab/flowlab/datalake/taps/broker"
)

// Start runs a broker on a free 127.0.0.1 port (unless opts.Addr names
// one) until the test ends, and returns it.
func Start(tb testing.TB, opts broker.Options) *broker.Broker {
	tb.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	b, err := broker.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return b
}
