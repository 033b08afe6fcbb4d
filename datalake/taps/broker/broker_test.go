package broker_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
		say  string
	}{
		{"127.0.0.1:0", true, ""},
		{"localhost:0", true, ""},
		{"0.0.0.0:9092", false, "name one interface"},
		{":9092", false, "name one interface"},
		{"127.0.0.1", false, "host:port"},
		{"127.0.0.1:http", false, "not a number"},
		{"127.0.0.1:70000", false, "not a number"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			b, err := broker.New(broker.Options{Addr: tc.addr})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				b.Close()
				return
			}
			if !errors.Is(err, broker.ErrAddr) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("error %v, want ErrAddr saying %q", err, tc.say)
			}
		})
	}
}

// TestRunServesKcatUntilCancelled: kcat (librdkafka) sees the broker's
// topics, and cancelling Run frees the port.
func TestRunServesKcatUntilCancelled(t *testing.T) {
	b, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Topics: []string{"alerts", "datasink.scanner"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || strings.HasSuffix(b.Addr(), ":0") {
		t.Errorf("Addr() = %q, want 127.0.0.1 with the picked port", b.Addr())
	}
	if !testing.Short() {
		kcat := flowlabtest.RequireCommand(t, "kcat")
		out, err := exec.Command(kcat, "-L", "-b", b.Addr(), "-m", "10").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat -L: %v\n%s", err, out)
		}
		for _, topic := range []string{`topic "alerts" with 1 partitions`, `topic "datasink.scanner" with 1 partitions`} {
			if !strings.Contains(string(out), topic) {
				t.Errorf("kcat -L does not list %s:\n%s", topic, out)
			}
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	ln, err := net.Listen("tcp", b.Addr())
	if err != nil {
		t.Fatalf("the port is still taken after Run returned: %v", err)
	}
	ln.Close()
}
