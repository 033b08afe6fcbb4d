//go:build !kernelonly

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/datalake/kafka"
	"github.com/flowlab/flowlab/datalake/taps"
)

// The lake side of a Kafka ingest is the ingest package's StreamWriter.
var _ kafka.Lake = (*ingest.StreamWriter)(nil)

// kafkaFlags are the Kafka flags capture and ingest share.
type kafkaFlags struct {
	brokers      *string
	tapsConf     *string
	tap          *string
	packetsTopic *string
	timeout      *time.Duration
}

func addKafkaFlags(fs *flag.FlagSet) *kafkaFlags {
	return &kafkaFlags{
		brokers:      fs.String("brokers", "", "Kafka bootstrap brokers, comma-separated `host:port` list"),
		tapsConf:     fs.String("taps", os.Getenv("FLOWLAB_TAPS"), "taps configuration `file` or JSON for --tap (default $FLOWLAB_TAPS)"),
		tap:          fs.String("tap", "", "use the Kafka cluster (brokers, TLS, SASL) of this configured `tap`; --brokers overrides its brokers"),
		packetsTopic: fs.String("packets-topic", "", "Kafka `topic` of packet records with --packets (default: the flows topic + \".packets\")"),
		timeout:      fs.Duration("kafka-timeout", kafka.DefaultTimeout, "give up connecting to Kafka, or waiting for its acknowledgements, after this `long`"),
	}
}

// cluster is the Kafka cluster the flags name.
func (k *kafkaFlags) cluster() (taps.Cluster, error) {
	var c taps.Cluster
	if *k.tap != "" {
		cfg, err := loadTaps(*k.tapsConf)
		if err != nil {
			return c, err
		}
		t, ok := cfg.Taps[*k.tap]
		if !ok {
			return c, usagef("--tap %q: the configured taps are %s", *k.tap, strings.Join(cfg.Names(), ", "))
		}
		c = t.Cluster
	}
	if *k.brokers != "" {
		c.Brokers = nil
		for _, b := range strings.Split(*k.brokers, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Brokers = append(c.Brokers, b)
			}
		}
	}
	if len(c.Brokers) == 0 {
		return c, usagef("no Kafka brokers: pass --brokers HOST:PORT[,HOST:PORT...], or --tap NAME (with --taps FILE) to use a tap's cluster")
	}
	if err := c.Validate(); err != nil {
		return c, usagef("%v", err)
	}
	return c, nil
}

// packetsTopicFor is the packets topic of a flows topic.
func (k *kafkaFlags) packetsTopicFor(flows string) string {
	if *k.packetsTopic != "" {
		return *k.packetsTopic
	}
	return flows + ".packets"
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// kafkaPublished, when set (by tests), runs after a batch from Kafka is
// in the lake and before its offsets are committed.
var kafkaPublished func(kafka.Publication)

// ingestKafkaFlags are ingest's flags for --from-kafka.
type ingestKafkaFlags struct {
	topic         *string
	group         *string
	deadLetter    *string
	flushRecords  *int
	flushInterval *time.Duration
	exitAtEnd     *bool
	kf            *kafkaFlags
}

func addIngestKafkaFlags(fs *flag.FlagSet) *ingestKafkaFlags {
	return &ingestKafkaFlags{
		topic:         fs.String("from-kafka", "", "read flow records from this Kafka `topic` (what capture --to-kafka writes) instead of files"),
		group:         fs.String("group", kafka.DefaultGroup, "Kafka consumer `group` of --from-kafka"),
		deadLetter:    fs.String("dead-letter", "", "copy malformed messages to this Kafka `topic` (default: log, count and skip them)"),
		flushRecords:  fs.Int("flush-records", kafka.DefaultFlushRecords, "publish a partition's records once this `many` messages wait"),
		flushInterval: fs.Duration("flush-interval", kafka.DefaultFlushInterval, "publish a partition's records once the oldest waited this `long`"),
		exitAtEnd:     fs.Bool("exit-at-end", false, "stop once the topics are in the lake up to where they ended at start (like kcat -e)"),
		kf:            addKafkaFlags(fs),
	}
}

// fileOnlyFlags are ingest flags that shape flow records: with
// --from-kafka the records are already made.
var fileOnlyFlags = []string{"sensor", "tcp-idle", "udp-idle", "icmp-idle", "active-timeout", "local-nets", "payload-head"}

// runIngestKafka is `flowlab ingest --from-kafka TOPIC`.
func runIngestKafka(ctx context.Context, std streams, fs *flag.FlagSet, lake string, quiet bool, tf *tableFlags, kf *ingestKafkaFlags) error {
	if fs.NArg() > 0 {
		return usagef("ingest --from-kafka reads a topic, not files (%s): run them in another ingest", strings.Join(fs.Args(), " "))
	}
	set := setFlags(fs)
	for _, name := range fileOnlyFlags {
		if set[name] {
			return usagef("--%s shapes the flow records of capture files; with --from-kafka the records come made (set it on capture --to-kafka)", name)
		}
	}
	if lake == "" {
		return usagef("no lake: pass --lake DIR or set FLOWLAB_LAKE")
	}
	cluster, err := kf.kf.cluster()
	if err != nil {
		return err
	}
	opts, err := tf.options()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts.Logger = log
	w, err := ingest.NewStreamWriter(lake, opts)
	if err != nil {
		return err
	}
	co := kafka.ConsumerOptions{
		Cluster: cluster, Group: *kf.group, FlowsTopic: *kf.topic, DeadLetterTopic: *kf.deadLetter, Lake: w,
		FlushRecords: *kf.flushRecords, FlushInterval: *kf.flushInterval, ExitAtEnd: *kf.exitAtEnd,
		Timeout: *kf.kf.timeout, Logger: log,
		OnPublish: func(p kafka.Publication) {
			if !quiet {
				fmt.Fprintf(std.err, "%s/%d offsets %d-%d: %d flows, %d packets, %d malformed, %d files\n",
					p.Topic, p.Partition, p.First, p.Last, p.Flows, p.Packets, p.Malformed, len(p.Files))
			}
			if kafkaPublished != nil {
				kafkaPublished(p)
			}
		},
	}
	if *tf.packets {
		co.PacketsTopic = kf.kf.packetsTopicFor(*kf.topic)
	}
	c, err := kafka.NewConsumer(co)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !quiet {
		fmt.Fprintf(std.err, "flowlab ingest: reading Kafka topic %s (group %s) at %s into %s; Ctrl-C to stop\n",
			strings.Join(nonEmpty(co.FlowsTopic, co.PacketsTopic), ", "), co.Group, strings.Join(cluster.Brokers, ","), lake)
	}
	start := time.Now()
	err = c.Run(ctx)
	if st := c.Stats(); err == nil || st.Read > 0 {
		summarizeKafka(std.out, quiet, co, st, time.Since(start))
	}
	return err
}

// summarizeKafka prints the one-line result of a Kafka ingest, like a
// file's.
func summarizeKafka(w io.Writer, quiet bool, co kafka.ConsumerOptions, st kafka.ConsumerStats, elapsed time.Duration) {
	if quiet {
		return
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(st.Messages) / s
	}
	fmt.Fprintf(w, "kafka:%s (group %s): %d messages (%d malformed), %d flows, %d packets, %d files, %.1fs, %.0f messages/s\n",
		co.FlowsTopic, co.Group, st.Messages, st.Malformed, st.Flows, st.Packets, st.Files, elapsed.Seconds(), rate)
}

// captureToKafka makes the producer of `capture --to-kafka TOPIC`.
func captureToKafka(ctx context.Context, kf *kafkaFlags, topic string, packets bool) (*kafka.Producer, error) {
	cluster, err := kf.cluster()
	if err != nil {
		return nil, err
	}
	po := kafka.ProducerOptions{Cluster: cluster, FlowsTopic: topic, Timeout: *kf.timeout}
	if packets {
		po.PacketsTopic = kf.packetsTopicFor(topic)
	}
	p, err := kafka.NewProducer(ctx, po)
	if errors.Is(err, kafka.ErrNoBrokers) {
		return nil, usagef("%v", err)
	}
	return p, err
}
