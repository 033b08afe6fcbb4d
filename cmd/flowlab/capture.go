//go:build !kernelonly

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/datalake/kafka"
	"github.com/flowlab/flowlab/datalake/pcap"
)

func init() {
	register(command{name: "capture", summary: "capture live traffic from an interface into the lake's flows, or onto a Kafka topic", run: runCapture})
}

func runCapture(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "capture", "capture -i IFACE [--lake DIR] [flags]\n       flowlab capture -i IFACE --to-kafka TOPIC --brokers HOST:PORT [flags]\n       flowlab capture -r FILE --to-kafka TOPIC --brokers HOST:PORT [flags]", `
Capture live traffic from a network interface (AF_PACKET, no libpcap; needs
root or CAP_NET_RAW) into the lake: flow records are published to
/tetration/flows as they finish, every --publish-every and at each hour
boundary. Ctrl-C (or SIGTERM) ends every open flow and publishes everything
before exiting, so stopping loses nothing. --filter keeps only the frames
that match, in the kernel: "tcp and port 443", "not port 22", "net
10.0.0.0/8 and udp", or tcpdump -ddd output for other expressions.

With --to-kafka TOPIC the records go to Kafka instead of the lake, within
a second of the flow's end: one JSON object per flow with the flow schema's
column names, keyed by flow_id, acknowledged by every in-sync replica
(idempotent producer); with --packets, packet records go to --packets-topic.
Ctrl-C waits for the acknowledgement of everything sent (at most
--kafka-timeout). 'flowlab ingest --from-kafka TOPIC' writes them to the
lake. -r FILE replays a capture file instead of an interface, with the time
of its packets, and stops at its end. See docs/ingest.md.`)
	lake := fs.String("lake", os.Getenv("FLOWLAB_LAKE"), "datalake root `DIR` (default $FLOWLAB_LAKE)")
	iface := fs.String("i", "", "network `interface` to capture on")
	file := fs.String("r", "", "replay this capture `file` (pcap or pcapng) instead of an interface")
	toKafka := fs.String("to-kafka", "", "publish the records to this Kafka `topic` instead of the lake")
	kf := addKafkaFlags(fs)
	snaplen := fs.Int("snaplen", 0, "capture at most `N` bytes per frame (0: whole frames)")
	filter := fs.String("filter", "", "capture only frames matching `EXPR`, a tcpdump expression in the subset flowlab compiles\n"+
		"(ip ip6 arp tcp udp sctp icmp icmp6, [src|dst] host/net/port/portrange, and or not, parentheses)\n"+
		"or the output of tcpdump -ddd 'EXPR' for any other; filtered in the kernel (see docs/ingest.md)")
	every := fs.Duration("publish-every", time.Minute, "publish buffered records this `often`")
	quiet := fs.Bool("quiet", false, "print only errors")
	tf := addTableFlags(fs)
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	if (*iface == "") == (*file == "") {
		return usagef("capture needs -i IFACE, or -r FILE to replay a capture file")
	}
	set := setFlags(fs)
	if *toKafka == "" && (set["brokers"] || set["tap"] || set["packets-topic"]) {
		return usagef("--brokers, --tap and --packets-topic go with --to-kafka TOPIC")
	}
	if *toKafka != "" && set["lake"] {
		return usagef("--to-kafka and --lake: the records go to one of them; run 'flowlab ingest --from-kafka %s' to fill the lake", *toKafka)
	}
	if *toKafka == "" && *lake == "" {
		return usagef("no lake: pass --lake DIR or set FLOWLAB_LAKE (or --to-kafka TOPIC)")
	}
	if *file != "" && set["filter"] {
		return usagef("--filter works on interfaces; -r replays the whole file")
	}
	opts, err := tf.options()
	if err != nil {
		return err
	}
	prog, err := pcap.CompileFilter(*filter, *snaplen)
	if err != nil {
		return usagef("--filter: %v", err)
	}
	co := ingest.CaptureOptions{Interface: *iface, PublishEvery: *every}
	var l *datalake.Lake
	var producer *kafka.Producer
	dest := *lake
	if *toKafka != "" {
		if producer, err = captureToKafka(ctx, kf, *toKafka, *tf.packets); err != nil {
			return err
		}
		defer producer.Close()
		co.Sink = producer
		dest = "Kafka topic " + *toKafka
	} else {
		if l, err = datalake.Open(datalake.Options{Root: *lake}); err != nil {
			return err
		}
		defer l.Close()
	}
	var src ingest.LiveSource
	if *file != "" {
		r, c, err := pcap.Open(*file)
		if err != nil {
			return err
		}
		src, co.Interface, co.Replay = replayFile{r, c}, filepath.Base(*file), true
	} else {
		live, err := pcap.OpenLive(*iface, *snaplen)
		if err != nil {
			return err
		}
		if prog != nil {
			if err := live.SetFilter(prog); err != nil {
				live.Close()
				return err
			}
		}
		src = live
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*quiet {
		fmt.Fprintf(std.err, "flowlab capture: capturing on %s into %s; Ctrl-C to stop\n", co.Interface, dest)
	}
	st, err := ingest.Capture(ctx, src, l, opts, co)
	if producer != nil {
		if cerr := producer.Close(); err == nil {
			err = cerr
		}
	}
	if !*quiet {
		if producer != nil {
			ps := producer.Stats()
			fmt.Fprintf(std.out, "%s: %d packets, %d flows, %d messages acknowledged by Kafka (%d failed) on %s\n",
				co.Interface, st.Packets, st.Flows, ps.Acked, ps.Failed, *toKafka)
		} else {
			fmt.Fprintf(std.out, "%s: %d packets, %d flows, %d files published\n", co.Interface, st.Packets, st.Flows, len(st.Published))
		}
	}
	return err
}

// replayFile is a capture file as a capture source.
type replayFile struct {
	*pcap.Reader
	c io.Closer
}

func (f replayFile) Close() error { return f.c.Close() }
