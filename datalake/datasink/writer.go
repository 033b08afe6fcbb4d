package datasink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/flowlab/flowlab/datalake/taps"
)

// KeyField is the field the Writer adds to every record it writes to the
// lake: "topic:partition:offset:index", unique per record. A record is
// written twice only when the writer stops between writing a file and
// committing its offsets; both copies carry the same key, so
// SELECT DISTINCT ON (_sink_key) or Frame.DropDuplicates("_sink_key")
// removes the copy. Records must not carry the field themselves.
const KeyField = "_sink_key"

// Publisher writes one file into an hour partition atomically;
// *datalake.Lake implements it.
type Publisher interface {
	Publish(dataset string, hour time.Time, format string, write func(w io.Writer) error) (string, error)
}

// WriterOptions configures a Writer. Cluster, Sinks and Lake are required.
type WriterOptions struct {
	// Cluster is where the datasink topics are.
	Cluster taps.Cluster
	// Group is the consumer group; empty means "flowlab-datasink".
	Group string
	// Sinks are the datasink names whose topics are consumed.
	Sinks []string
	// Lake receives the records.
	Lake Publisher
	// FlushInterval is the longest a record waits in memory before it is
	// written; zero means 1 s.
	FlushInterval time.Duration
	// MaxBatch writes as soon as this many records wait; zero means 10,000.
	MaxBatch int
	// Now is the clock for records without a Kafka timestamp; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives skipped records and write failures; nil discards.
	Logger *slog.Logger

	// afterPublish, in tests, runs between the lake write and the offset
	// commit; an error stops the writer there, like a crash.
	afterPublish func() error
}

// Writer consumes the datasink topics as a consumer group and writes their
// records as JSON lines into the hour partitions of /appdata/datasink/{name}
// (the hour of each record's Kafka timestamp, UTC). It commits offsets only
// after the files are published (fsynced and renamed), so a stop loses
// nothing: records written but not committed are written again, with the
// same KeyField.
//
// A Kafka message may hold one object, an array or objects one per line,
// as the HTTP endpoint accepts; a message that is none of these is skipped
// with a warning.
type Writer struct {
	opts   WriterOptions
	log    *slog.Logger
	topics map[string]string // topic -> datasink name

	stopped atomic.Bool // a test's crash happened
}

// NewWriter validates opts. The error wraps taps.ErrTapConfig or
// ErrBadName.
func NewWriter(opts WriterOptions) (*Writer, error) {
	if err := opts.Cluster.Validate(); err != nil {
		return nil, err
	}
	if len(opts.Sinks) == 0 {
		return nil, fmt.Errorf("%w: no datasinks to consume", ErrBadName)
	}
	if opts.Lake == nil {
		return nil, errors.New("datasink writer: no lake to write to")
	}
	if opts.Group == "" {
		opts.Group = "flowlab-datasink"
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 10_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{opts: opts, log: log, topics: map[string]string{}}
	for _, s := range opts.Sinks {
		if err := CheckName(s); err != nil {
			return nil, err
		}
		w.topics[Topic(s)] = s
	}
	return w, nil
}

// Run consumes until ctx ends (returning nil) or the group fails.
func (w *Writer) Run(ctx context.Context) error {
	cfg, err := w.opts.Cluster.SaramaConfig(taps.DefaultTimeout)
	if err != nil {
		return err
	}
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	group, err := sarama.NewConsumerGroup(w.opts.Cluster.Brokers, w.opts.Group, cfg)
	if err != nil {
		return fmt.Errorf("datasink writer: join group %q: %w", w.opts.Group, err)
	}
	defer group.Close()
	go func() {
		for err := range group.Errors() {
			w.log.Warn("datasink consumer", "err", err)
		}
	}()
	topics := make([]string, 0, len(w.topics))
	for t := range w.topics {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for {
		err := group.Consume(ctx, topics, w)
		if w.stopped.Load() {
			return errStopped
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.Warn("datasink consumer group", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}

// errStopped ends the writer where a test asked it to crash.
var errStopped = errors.New("datasink writer stopped after publishing, before committing")

// Setup implements sarama.ConsumerGroupHandler.
func (w *Writer) Setup(sarama.ConsumerGroupSession) error { return nil }

// Cleanup implements sarama.ConsumerGroupHandler.
func (w *Writer) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim batches one partition's records and writes them.
func (w *Writer) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	name := w.topics[claim.Topic()]
	var batch []*sarama.ConsumerMessage
	tick := time.NewTicker(w.opts.FlushInterval)
	defer tick.Stop()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.write(name, batch); err != nil {
			return err
		}
		if w.opts.afterPublish != nil {
			if err := w.opts.afterPublish(); err != nil {
				return errStopped
			}
		}
		sess.MarkMessage(batch[len(batch)-1], "")
		sess.Commit()
		batch = batch[:0]
		return nil
	}
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return flush()
			}
			batch = append(batch, m)
			if len(batch) >= w.opts.MaxBatch {
				if err := flush(); err != nil {
					return w.failed(name, err)
				}
			}
		case <-tick.C:
			if err := flush(); err != nil {
				return w.failed(name, err)
			}
		case <-sess.Context().Done():
			// The partition is being taken away: what is not committed is
			// consumed again by its next owner, so writing it now would only
			// duplicate it.
			return nil
		}
	}
}

// failed reports a flush failure: a test's crash ends the writer; a lake
// failure is logged and the session restarts from the last commit.
func (w *Writer) failed(name string, err error) error {
	if errors.Is(err, errStopped) {
		w.stopped.Store(true)
		return err
	}
	w.log.Error("datasink write to the lake", "datasink", name, "err", err)
	return err
}

// write publishes batch into the hour partitions of its records.
func (w *Writer) write(name string, batch []*sarama.ConsumerMessage) error {
	hours := map[time.Time][][]byte{}
	var order []time.Time
	for _, m := range batch {
		recs, err := ParseRecords(m.Value, Limits{MaxRecordBytes: 16 << 20, MaxRecords: 1 << 20})
		if err != nil {
			w.log.Warn("datasink: skipped a Kafka message that is not JSON records", "datasink", name, "partition", m.Partition, "offset", m.Offset, "err", err)
			continue
		}
		ts := m.Timestamp
		if ts.IsZero() || ts.Unix() <= 0 {
			ts = w.opts.Now()
		}
		h := ts.UTC().Truncate(time.Hour)
		if _, ok := hours[h]; !ok {
			order = append(order, h)
		}
		for i, r := range recs {
			hours[h] = append(hours[h], withKey(r, m.Topic, m.Partition, m.Offset, i))
		}
	}
	for _, h := range order {
		lines := hours[h]
		_, err := w.opts.Lake.Publish(Dataset(name), h, "JSON", func(out io.Writer) error {
			for _, l := range lines {
				if _, err := out.Write(l); err != nil {
					return err
				}
				if _, err := out.Write([]byte{'\n'}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("datasink %s: %w", name, err)
		}
	}
	return nil
}

// withKey puts KeyField first in the compact object rec.
func withKey(rec []byte, topic string, partition int32, offset int64, index int) []byte {
	key := topic + ":" + strconv.Itoa(int(partition)) + ":" + strconv.FormatInt(offset, 10) + ":" + strconv.Itoa(index)
	out := make([]byte, 0, len(rec)+len(key)+20)
	out = append(out, `{"`+KeyField+`":`...)
	out = strconv.AppendQuote(out, key)
	if len(rec) > 2 {
		out = append(out, ',')
	}
	return append(out, rec[1:]...)
}
