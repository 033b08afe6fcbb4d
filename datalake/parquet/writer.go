// Package parquet writes lake records (flows, packets) as Parquet files with
// github.com/apache/arrow-go (pqarrow), and publishes them atomically into
// the hour partitions of the lake.
//
// The ingest side uses a FlowWriter:
//
//	w := parquet.NewFlowWriter(lake, parquet.Options{})
//	for each finished flow { w.Write(flow) }
//	err := w.Close() // publishes what is buffered
//
// Records are buffered per hour of their start time; each published file
// holds one hour, sorted by (src_address, start_timestamp) so engines can
// skip row groups by address.
package parquet

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/flowlab/flowlab/datalake"
)

// Publisher publishes one file into an hour partition of a dataset,
// atomically. *datalake.Lake implements it.
type Publisher interface {
	Publish(dataset string, hour time.Time, format string, write func(w io.Writer) error) (string, error)
}

var _ Publisher = (*datalake.Lake)(nil)

// Options configures writers. The zero value works.
type Options struct {
	// Dataset is the lake path written. Empty means datalake.FlowsPath for a
	// FlowWriter and datalake.PacketsPath for a PacketWriter.
	Dataset string
	// MaxRowsPerFile bounds the records buffered for one hour: when an hour
	// reaches it, its records are published as one file and the buffer
	// starts again, so memory stays bounded whatever the rate. Zero means
	// 262,144.
	MaxRowsPerFile int
	// RowGroupRows is the Parquet row group size. Zero means 122,880
	// (DuckDB's own).
	RowGroupRows int
	// Compression is "snappy" (the zero value; fast to read, what Spark
	// writes), "zstd" (smaller files) or "none".
	Compression string
	// Logger receives one debug line per published file. Nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults(dataset string) (Options, error) {
	if o.Dataset == "" {
		o.Dataset = dataset
	}
	if o.MaxRowsPerFile <= 0 {
		o.MaxRowsPerFile = 262_144
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = 122_880
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch strings.ToLower(o.Compression) {
	case "", "snappy", "zstd", "none":
	default:
		return o, fmt.Errorf("%w: compression %q: use snappy, zstd or none", datalake.ErrBadArgument, o.Compression)
	}
	return o, nil
}

func (o Options) properties() *pq.WriterProperties {
	codec := compress.Codecs.Snappy
	switch strings.ToLower(o.Compression) {
	case "zstd":
		codec = compress.Codecs.Zstd
	case "none":
		codec = compress.Codecs.Uncompressed
	}
	props := []pq.WriterProperty{
		pq.WithCompression(codec),
		pq.WithMaxRowGroupLength(int64(o.RowGroupRows)),
		pq.WithDictionaryDefault(true),
		pq.WithStats(true),
		pq.WithCreatedBy("flowlab"),
	}
	for _, name := range plainColumns {
		props = append(props, pq.WithDictionaryFor(name, false))
	}
	return pq.NewWriterProperties(props...)
}

// plainColumns are the columns whose values are (nearly) unique per row.
// A dictionary cannot shrink them; building one costs a hash insert per
// value and then falls back to plain encoding anyway, so they are written
// plain from the start. Every other column (addresses, ports, protocols,
// flags, states) repeats heavily and keeps its dictionary.
var plainColumns = []string{
	"start_timestamp", "end_timestamp", "duration_us", "flow_id", "community_id",
	"fwd_bytes", "rev_bytes", "fwd_payload_bytes", "rev_payload_bytes", "bytes",
	"fwd_pkt_len_sumsq", "rev_pkt_len_sumsq", "srtt_us", "handshake_us", "seq", "ack",
}

// transposeRows is how many rows encode turns into columns at a time.
const transposeRows = 256

// encode writes rows, in order, as one Parquet file to w.
func encode[T any](w io.Writer, cols []colDef[T], schema *arrow.Schema, rows []*T, o Options) error {
	fw, err := pqarrow.NewFileWriter(schema, w, o.properties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return fmt.Errorf("parquet writer: %w", err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	for start := 0; start < len(rows) || start == 0; start += o.RowGroupRows {
		end := min(start+o.RowGroupRows, len(rows))
		for i := range cols {
			rb.Field(i).Reserve(end - start)
		}
		// Column by column over a few hundred rows at a time: those rows
		// stay in the CPU cache for all the columns. Column by column
		// over the whole row group, each value read was a cache miss
		// (sorted rows are scattered in memory), which cost more than
		// the Parquet encoding itself.
		for cs := start; cs < end; cs += transposeRows {
			ce := min(cs+transposeRows, end)
			for i, c := range cols {
				c.append(rb.Field(i), rows[cs:ce])
			}
		}
		rec := rb.NewRecordBatch()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return fmt.Errorf("parquet write: %w", err)
		}
		if end == len(rows) {
			break
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("parquet close: %w", err)
	}
	return nil
}

func pointers[T any](recs []T) []*T {
	out := make([]*T, len(recs))
	for i := range recs {
		out[i] = &recs[i]
	}
	return out
}

// blockLen is the number of records in one block of an hour's buffer.
// Blocks never move once allocated, so buffering costs no copying as it
// grows, and pointers into them stay valid for sorting.
const blockLen = 4096

// records is an append-only buffer of records in fixed-size blocks.
type records[T any] struct {
	blocks [][]T
	n      int
}

func (r *records[T]) add(v *T) {
	if r.n%blockLen == 0 {
		r.blocks = append(r.blocks, make([]T, 0, blockLen))
	}
	last := len(r.blocks) - 1
	r.blocks[last] = append(r.blocks[last], *v)
	r.n++
}

func (r *records[T]) pointers() []*T {
	out := make([]*T, 0, r.n)
	for _, b := range r.blocks {
		for i := range b {
			out = append(out, &b[i])
		}
	}
	return out
}

// WriteFlows writes flows, in the order given, as one Parquet file to w.
// Safe for concurrent use with distinct writers.
func WriteFlows(w io.Writer, flows []datalake.Flow, opts Options) error {
	o, err := opts.withDefaults(datalake.FlowsPath)
	if err != nil {
		return err
	}
	return encode(w, flowColumns, flowSchema, pointers(flows), o)
}

// WritePackets writes packets, in the order given, as one Parquet file to w.
// Safe for concurrent use with distinct writers.
func WritePackets(w io.Writer, packets []datalake.Packet, opts Options) error {
	o, err := opts.withDefaults(datalake.PacketsPath)
	if err != nil {
		return err
	}
	return encode(w, packetColumns, packetSchema, pointers(packets), o)
}

// hourWriter buffers records of type T per hour and publishes each hour as
// sorted Parquet files.
type hourWriter[T any] struct {
	pub    Publisher
	opts   Options
	cols   []colDef[T]
	schema *arrow.Schema
	hourOf func(*T) time.Time
	less   func(a, b *T) int

	mu        sync.Mutex
	buf       map[time.Time]*records[T]
	published []string
	closed    bool
}

func (w *hourWriter[T]) write(recs []T) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("%w: write after Close", datalake.ErrClosed)
	}
	for i := range recs {
		t := w.hourOf(&recs[i])
		if t.IsZero() {
			return fmt.Errorf("%w: record %d has no timestamp, so it has no hour partition", datalake.ErrBadArgument, i)
		}
		h := t.UTC().Truncate(time.Hour)
		b := w.buf[h]
		if b == nil {
			b = &records[T]{}
			w.buf[h] = b
		}
		b.add(&recs[i])
		if b.n >= w.opts.MaxRowsPerFile {
			if err := w.publish(h); err != nil {
				return err
			}
		}
	}
	return nil
}

// publish writes the buffer of hour h as one file and empties it.
func (w *hourWriter[T]) publish(h time.Time) error {
	b := w.buf[h]
	if b == nil || b.n == 0 {
		delete(w.buf, h)
		return nil
	}
	rows := sortRows(b.pointers(), w.less)
	p, err := w.pub.Publish(w.opts.Dataset, h, "PARQUET", func(out io.Writer) error {
		return encode(out, w.cols, w.schema, rows, w.opts)
	})
	if err != nil {
		return fmt.Errorf("publish %d records of hour %s: %w", len(rows), datalake.Stamp(h), err)
	}
	w.opts.Logger.Debug("published", "file", p, "rows", len(rows))
	w.published = append(w.published, p)
	delete(w.buf, h)
	return nil
}

// sortRows orders rows by less and, among equals, by their position, as a
// stable sort would, with an O(n log n) unstable one: a stable sort's
// merging cost a third of publishing an hour of 175k flows.
func sortRows[T any](rows []*T, less func(a, b *T) int) []*T {
	type ranked struct {
		r *T
		i int
	}
	rk := make([]ranked, len(rows))
	for i, r := range rows {
		rk[i] = ranked{r, i}
	}
	slices.SortFunc(rk, func(a, b ranked) int { return cmp.Or(less(a.r, b.r), cmp.Compare(a.i, b.i)) })
	for i := range rk {
		rows[i] = rk[i].r
	}
	return rows
}

func (w *hourWriter[T]) flush() error { return w.flushBefore(time.Time{}) }

// flushBefore publishes the buffered hours that end at or before t, or
// every buffered hour if t is zero.
func (w *hourWriter[T]) flushBefore(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	hours := make([]time.Time, 0, len(w.buf))
	for h := range w.buf {
		if t.IsZero() || !h.Add(time.Hour).After(t) {
			hours = append(hours, h)
		}
	}
	slices.SortFunc(hours, func(a, b time.Time) int { return a.Compare(b) })
	var errs []error
	for _, h := range hours {
		errs = append(errs, w.publish(h))
	}
	return errors.Join(errs...)
}

func (w *hourWriter[T]) close() error {
	err := w.flush()
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return err
}

func (w *hourWriter[T]) files() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.published)
}

// FlowWriter buffers flows per hour of their start time and publishes each
// hour as Parquet files sorted by (src_address, start_timestamp). A file is
// published when an hour's buffer reaches Options.MaxRowsPerFile, and for
// every buffered hour on Flush and Close. It is safe for concurrent use.
type FlowWriter struct{ w *hourWriter[datalake.Flow] }

// NewFlowWriter returns a writer publishing to pub (a *datalake.Lake). It
// returns an error wrapping datalake.ErrBadArgument for bad options.
func NewFlowWriter(pub Publisher, opts Options) (*FlowWriter, error) {
	o, err := opts.withDefaults(datalake.FlowsPath)
	if err != nil {
		return nil, err
	}
	return &FlowWriter{&hourWriter[datalake.Flow]{
		pub: pub, opts: o, cols: flowColumns, schema: flowSchema, buf: map[time.Time]*records[datalake.Flow]{},
		hourOf: func(f *datalake.Flow) time.Time { return f.StartTimestamp },
		less: func(a, b *datalake.Flow) int {
			return cmp.Or(strings.Compare(a.SrcAddress, b.SrcAddress), a.StartTimestamp.Compare(b.StartTimestamp))
		},
	}}, nil
}

// Write buffers flows. It returns an error wrapping datalake.ErrBadArgument
// for a flow without a start time, datalake.ErrClosed after Close, or the
// error of a publication the buffer triggered.
func (w *FlowWriter) Write(flows ...datalake.Flow) error { return w.w.write(flows) }

// Flush publishes every buffered hour.
func (w *FlowWriter) Flush() error { return w.w.flush() }

// FlushBefore publishes every buffered hour that ends at or before t. A
// producer whose clock has passed an hour boundary, so that no more records
// of the hours before it will come, calls it to have those hours written
// while it goes on rather than all at Close.
func (w *FlowWriter) FlushBefore(t time.Time) error { return w.w.flushBefore(t) }

// Close publishes every buffered hour; later writes fail.
func (w *FlowWriter) Close() error { return w.w.close() }

// Published returns the lake paths of the files published so far.
func (w *FlowWriter) Published() []string { return w.w.files() }

// PacketWriter is FlowWriter for packets: buffered per hour of their
// timestamp, files sorted by (src_address, timestamp). It is safe for
// concurrent use.
type PacketWriter struct{ w *hourWriter[datalake.Packet] }

// NewPacketWriter returns a writer publishing to pub (a *datalake.Lake). It
// returns an error wrapping datalake.ErrBadArgument for bad options.
func NewPacketWriter(pub Publisher, opts Options) (*PacketWriter, error) {
	o, err := opts.withDefaults(datalake.PacketsPath)
	if err != nil {
		return nil, err
	}
	return &PacketWriter{&hourWriter[datalake.Packet]{
		pub: pub, opts: o, cols: packetColumns, schema: packetSchema, buf: map[time.Time]*records[datalake.Packet]{},
		hourOf: func(p *datalake.Packet) time.Time { return p.Timestamp },
		less: func(a, b *datalake.Packet) int {
			return cmp.Or(strings.Compare(a.SrcAddress, b.SrcAddress), a.Timestamp.Compare(b.Timestamp))
		},
	}}, nil
}

// Write buffers packets; errors as FlowWriter.Write.
func (w *PacketWriter) Write(packets ...datalake.Packet) error { return w.w.write(packets) }

// Flush publishes every buffered hour.
func (w *PacketWriter) Flush() error { return w.w.flush() }

// FlushBefore publishes every buffered hour that ends at or before t; see
// FlowWriter.FlushBefore.
func (w *PacketWriter) FlushBefore(t time.Time) error { return w.w.flushBefore(t) }

// Close publishes every buffered hour; later writes fail.
func (w *PacketWriter) Close() error { return w.w.close() }

// Published returns the lake paths of the files published so far.
func (w *PacketWriter) Published() []string { return w.w.files() }
