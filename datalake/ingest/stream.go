package ingest

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/parquet"
)

// ErrStale is wrapped by StreamWriter.Publish when a batch starts before
// the end of what the lake already holds of its partition: publishing it
// would duplicate records.
var ErrStale = errors.New("offsets already in the lake")

// StreamWriter publishes batches of records that came from a partitioned
// log (the partitions of a Kafka topic) into the lake, exactly once.
//
// Each batch is staged like a capture file and committed with the redo log
// of IngestFile; the commit also records, in the lake, the offset that
// follows the batch in its partition (.ingest/offsets/TOPIC/PARTITION.json).
// So a consumer that publishes and then dies before committing its offsets
// to Kafka finds, through Resume, that the lake already holds what Kafka
// delivers again, and skips it. Batch files are named after their topic,
// partition and offset range (part-stream-HASH-P-FIRST-LAST-NNNNN.parquet),
// so finishing an interrupted commit twice is harmless.
//
// Publish and Resume may be called concurrently for different partitions;
// calls for one partition must not overlap (a consumer group gives each
// partition to one goroutine).
type StreamWriter struct {
	root string
	opts Options
}

// NewStreamWriter returns a StreamWriter for the lake at root (created if
// missing). It uses opts.Parquet, opts.Now and opts.Logger. The error wraps
// datalake.ErrNotConfigured when root is empty.
func NewStreamWriter(root string, opts Options) (*StreamWriter, error) {
	in, err := New(root, opts)
	if err != nil {
		return nil, err
	}
	return &StreamWriter{root: in.root, opts: in.opts}, nil
}

// streamOffsets is the lake's record of a partition: every record before
// Next is in the lake.
type streamOffsets struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Next      int64     `json:"next"`
	Batch     string    `json:"batch"`
	Updated   time.Time `json:"updated"`
}

// streamKey names a batch: readable, bounded in length whatever the topic
// name, and the same for the same offsets.
func streamKey(topic string, partition int32, first, last int64) string {
	return fmt.Sprintf("%s%d-%d-%d", streamPrefix(topic), partition, first, last)
}

// streamPrefix is what the keys of a topic's batches start with.
func streamPrefix(topic string) string {
	h := sha256.Sum256([]byte(topic))
	return "stream-" + hex.EncodeToString(h[:6]) + "-"
}

// offsetsFile is where the lake records a partition's next offset.
func offsetsFile(root, topic string, partition int32) string {
	return filepath.Join(root, ledgerDir, "offsets", topic, strconv.Itoa(int(partition))+".json")
}

// Resume finishes the commits an earlier run left half done for the
// partition (a crash while moving files) and returns the first offset of
// the partition that the lake does not hold, or -1 if it holds none.
func (w *StreamWriter) Resume(topic string, partition int32) (int64, error) {
	pending, err := filepath.Glob(filepath.Join(w.root, ledgerDir, "ledger", streamPrefix(topic)+strconv.Itoa(int(partition))+"-*.commit"))
	if err != nil {
		return -1, err
	}
	slices.SortFunc(pending, func(a, b string) int { return cmp.Compare(firstOffset(a), firstOffset(b)) })
	for _, p := range pending {
		key := strings.TrimSuffix(filepath.Base(p), ".commit")
		w.opts.Logger.Info("finishing an interrupted commit", "topic", topic, "partition", partition, "batch", key)
		if err := finishCommit(w.root, key); err != nil {
			return -1, fmt.Errorf("finish the interrupted commit %s of %s/%d: %w", key, topic, partition, err)
		}
	}
	var o streamOffsets
	switch err := readJSON(offsetsFile(w.root, topic, partition), &o); {
	case errors.Is(err, fs.ErrNotExist):
		return -1, nil
	case err != nil:
		return -1, fmt.Errorf("offsets of %s/%d in the lake: %w", topic, partition, err)
	}
	return o.Next, nil
}

// firstOffset is the first offset of a pending commit's batch, to finish
// them in order.
func firstOffset(path string) int64 {
	parts := strings.Split(strings.TrimSuffix(filepath.Base(path), ".commit"), "-")
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(parts[len(parts)-2], 10, 64)
	return n
}

// Publish writes one batch: the flow and packet records that came from
// offsets first to last of the topic's partition (malformed messages in
// between count as consumed). Flows go to /tetration/flows and packets to
// /tetration/packets, by the UTC hour of their start; the files and the
// partition's new offset appear together. It returns the lake paths
// published. The error wraps ErrStale when the lake already holds offset
// first, datalake.ErrBadArgument for a record without a time, or the
// file system's error; nothing is then published.
func (w *StreamWriter) Publish(topic string, partition int32, first, last int64, flows []datalake.Flow, packets []datalake.Packet) ([]string, error) {
	if first < 0 || last < first {
		return nil, fmt.Errorf("%w: offsets %d to %d", datalake.ErrBadArgument, first, last)
	}
	next, err := w.Resume(topic, partition)
	if err != nil {
		return nil, err
	}
	if first < next {
		return nil, fmt.Errorf("%w: %s/%d offsets %d to %d: the lake holds the partition up to offset %d", ErrStale, topic, partition, first, last, next-1)
	}
	key := streamKey(topic, partition, first, last)
	stg, err := newStage(w.root, key)
	if err != nil {
		return nil, err
	}
	files, err := w.publish(stg, topic, partition, first, last, flows, packets)
	if err != nil {
		stg.discard()
		return nil, fmt.Errorf("stream %s/%d offsets %d to %d: %w", topic, partition, first, last, err)
	}
	w.opts.Logger.Debug("published a stream batch", slog.String("topic", topic), slog.Int("partition", int(partition)),
		slog.Int64("first", first), slog.Int64("last", last), slog.Int("files", len(files)))
	return files, nil
}

// writeAll writes recs with a new writer and closes it, which publishes
// them (into the stage).
func writeAll[T any, W interface {
	Write(...T) error
	Close() error
}](recs []T, open func() (W, error)) error {
	w, err := open()
	if err != nil {
		return err
	}
	if err := w.Write(recs...); err != nil {
		return err
	}
	return w.Close()
}

// publish stages the batch's files and commits them with the offsets.
func (w *StreamWriter) publish(stg *stage, topic string, partition int32, first, last int64, flows []datalake.Flow, packets []datalake.Packet) ([]string, error) {
	po := w.opts.Parquet
	po.Dataset = ""
	if po.MaxRowsPerFile <= 0 {
		po.MaxRowsPerFile = maxRowsPerFile
	}
	if len(flows) > 0 {
		if err := writeAll(flows, func() (*parquet.FlowWriter, error) { return parquet.NewFlowWriter(stg, po) }); err != nil {
			return nil, err
		}
	}
	if len(packets) > 0 {
		if err := writeAll(packets, func() (*parquet.PacketWriter, error) { return parquet.NewPacketWriter(stg, po) }); err != nil {
			return nil, err
		}
	}
	now := w.opts.Now().UTC()
	l := Ledger{Key: stg.key, Source: fmt.Sprintf("%s/%d@%d-%d", topic, partition, first, last), Sensor: w.opts.Sensor,
		Finished: now, Packets: uint64(len(packets)), Flows: uint64(len(flows))}
	off := &streamOffsets{Topic: topic, Partition: partition, Next: last + 1, Batch: stg.key, Updated: now}
	if err := stg.commitWith(l, off); err != nil {
		return nil, err
	}
	files := make([]string, len(stg.moves))
	for i, m := range stg.moves {
		files[i] = "/" + m.To
	}
	return files, nil
}
