// Package parquet writes lake records (flows, packets) as Parquet files with
// github.com/apache/arrow-go (its column chunk writers), and publishes them
// atomically into the hour partitions of the lake.
//
// The ingest side uses a FlowWriter:
//
//	w := parquet.NewFlowWriter(lake, parquet.Options{})
//	for each finished flow { w.Write(flow) }  // or w.WriteColumns(batch)
//	err := w.Close() // publishes what is buffered
//
// Records are buffered per hour of their start time, column by column
// (datalake.Columns); each published file holds one hour, sorted by
// (src_address, start_timestamp) so engines can skip row groups by address.
package parquet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"

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

// properties are the Parquet writer properties of files of schema s.
//
// Integer and timestamp columns are DELTA_BINARY_PACKED, without a
// dictionary: most hold small counters, or values close to each other, so
// the deltas pack into a few bits, where a dictionary costs a hash insert
// per value (a third of the encoding time) and plain timestamps were left
// to Snappy; on the benchmark capture this writes 14 % fewer bytes in
// about a third less time. String columns keep their dictionary, except
// the per-flow identifiers (uniqueColumns), which are written plain and
// without statistics: their minimum and maximum are random strings that
// prune nothing.
func (o Options) properties(s *arrow.Schema) *pq.WriterProperties {
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
	for _, f := range s.Fields() {
		switch f.Type.ID() {
		case arrow.INT32, arrow.INT64, arrow.TIMESTAMP:
			props = append(props, pq.WithDictionaryFor(f.Name, false), pq.WithEncodingFor(f.Name, pq.Encodings.DeltaBinaryPacked))
		}
	}
	for _, name := range uniqueColumns {
		props = append(props, pq.WithDictionaryFor(name, false), pq.WithStatsFor(name, false))
	}
	return pq.NewWriterProperties(props...)
}

// uniqueColumns are the string columns whose values are (nearly) unique
// per row. A dictionary cannot shrink them; building one costs a hash
// insert per value and then falls back to plain encoding anyway.
var uniqueColumns = []string{"flow_id", "community_id"}

// WriteFlows writes flows, in the order given, as one Parquet file to w.
// Safe for concurrent use with distinct writers.
func WriteFlows(w io.Writer, flows []datalake.Flow, opts Options) error {
	return writeAll(w, datalake.FlowLayout, flowSchema, flows, opts, datalake.FlowsPath)
}

// WritePackets writes packets, in the order given, as one Parquet file to w.
// Safe for concurrent use with distinct writers.
func WritePackets(w io.Writer, packets []datalake.Packet, opts Options) error {
	return writeAll(w, datalake.PacketLayout, packetSchema, packets, opts, datalake.PacketsPath)
}

func writeAll[T any](w io.Writer, l *datalake.Layout[T], s *arrow.Schema, recs []T, opts Options, dataset string) error {
	o, err := opts.withDefaults(dataset)
	if err != nil {
		return err
	}
	enc, err := newEncoder(s, o)
	if err != nil {
		return err
	}
	c := l.New()
	l.Append(c, recs...)
	order := make([]int32, c.Len())
	for i := range order {
		order[i] = int32(i)
	}
	return enc.encode(w, c, order)
}

// hourWriter buffers records, column by column, per hour and publishes
// each hour as Parquet files sorted by a string column and a time column.
type hourWriter[T any] struct {
	pub    Publisher
	opts   Options
	layout *datalake.Layout[T]
	schema *arrow.Schema
	encs   []*encoder // one for publish, more for publishAll
	hourAt int        // the time column that decides a record's hour
	sortBy int        // the string column files are sorted by (then by hourAt)

	mu        sync.Mutex
	buf       map[int64]*datalake.Columns // by Unix hour
	spare     []*datalake.Columns         // emptied buffers, for reuse
	staged    *datalake.Columns           // Write's records as columns
	published []string
	closed    bool
}

func newHourWriter[T any](pub Publisher, l *datalake.Layout[T], s *arrow.Schema, opts Options, dataset, hourAt, sortBy string) (*hourWriter[T], error) {
	o, err := opts.withDefaults(dataset)
	if err != nil {
		return nil, err
	}
	enc, err := newEncoder(s, o)
	if err != nil {
		return nil, err
	}
	w := &hourWriter[T]{pub: pub, opts: o, layout: l, schema: s, encs: []*encoder{enc}, buf: map[int64]*datalake.Columns{}, staged: l.New()}
	w.hourAt, w.sortBy = s.FieldIndices(hourAt)[0], s.FieldIndices(sortBy)[0]
	return w, nil
}

// zeroTime is the microsecond count of the zero time.Time: a record
// without a timestamp.
var zeroTime = time.Time{}.UnixMicro()

func (w *hourWriter[T]) write(recs []T) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("%w: write after Close", datalake.ErrClosed)
	}
	w.staged.Reset()
	w.layout.Append(w.staged, recs...)
	return w.add(w.staged)
}

func (w *hourWriter[T]) writeColumns(c *datalake.Columns) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("%w: write after Close", datalake.ErrClosed)
	}
	return w.add(c)
}

// add buffers the rows of c in their hours, a run of rows of one hour at
// a time, publishing an hour's buffer as a file whenever it reaches
// Options.MaxRowsPerFile rows.
func (w *hourWriter[T]) add(c *datalake.Columns) error {
	at := c.Cols[w.hourAt].Int64
	for i := 0; i < len(at); {
		if at[i] == zeroTime {
			return fmt.Errorf("%w: record %d has no timestamp, so it has no hour partition", datalake.ErrBadArgument, i)
		}
		h := floorDiv(at[i], hourMicros)
		end := i + 1
		for end < len(at) && at[end] != zeroTime && floorDiv(at[end], hourMicros) == h {
			end++
		}
		for i < end {
			b := w.buf[h]
			if b == nil {
				b = w.newBuffer()
				w.buf[h] = b
			}
			n := min(end-i, w.opts.MaxRowsPerFile-b.Len())
			b.AppendRows(c, i, i+n)
			i += n
			if b.Len() >= w.opts.MaxRowsPerFile {
				if err := w.publish(h); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

const hourMicros = int64(time.Hour / time.Microsecond)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (w *hourWriter[T]) newBuffer() *datalake.Columns {
	if n := len(w.spare); n > 0 {
		b := w.spare[n-1]
		w.spare = w.spare[:n-1]
		return b
	}
	return w.layout.New()
}

// publish writes the buffer of hour h as one file and empties it.
func (w *hourWriter[T]) publish(h int64) error {
	b := w.take(h)
	if b == nil {
		return nil
	}
	defer w.recycle(b)
	order := w.encs[0].sort.order(b, w.sortBy, w.hourAt)
	return w.publishFile(h, len(order), func(out io.Writer) error {
		return w.encs[0].encode(out, b, order)
	})
}

// publishAll publishes the buffers of several hours, in order. Their
// files are encoded at the same time, one per CPU, into memory, and then
// published one by one as publish would: at the end of an ingest the
// last hours' files take both cores instead of one after the other.
func (w *hourWriter[T]) publishAll(hours []int64) error {
	type file struct {
		h    int64
		b    *datalake.Columns
		rows int
		data bytes.Buffer
		err  error
	}
	var files []*file
	for _, h := range hours {
		if b := w.take(h); b != nil {
			files = append(files, &file{h: h, b: b})
		}
	}
	n := min(len(files), runtime.GOMAXPROCS(0))
	for len(w.encs) < n {
		enc, err := newEncoder(w.schema, w.opts)
		if err != nil {
			return err
		}
		w.encs = append(w.encs, enc)
	}
	next := make(chan *file)
	var wg sync.WaitGroup
	for _, enc := range w.encs[:n] {
		wg.Go(func() {
			for f := range next {
				order := enc.sort.order(f.b, w.sortBy, w.hourAt)
				f.rows, f.err = len(order), enc.encode(&f.data, f.b, order)
			}
		})
	}
	for _, f := range files {
		next <- f
	}
	close(next)
	wg.Wait()
	var errs []error
	for _, f := range files {
		if f.err != nil {
			f.err = fmt.Errorf("publish %d records of hour %s: %w", f.rows, datalake.Stamp(time.Unix(f.h*3600, 0).UTC()), f.err)
		} else {
			f.err = w.publishFile(f.h, f.rows, func(out io.Writer) error {
				_, err := out.Write(f.data.Bytes())
				return err
			})
		}
		errs = append(errs, f.err)
		w.recycle(f.b)
	}
	return errors.Join(errs...)
}

// take removes the buffer of hour h from the hours being written; it
// returns nil if there is none or it is empty.
func (w *hourWriter[T]) take(h int64) *datalake.Columns {
	b := w.buf[h]
	delete(w.buf, h)
	if b != nil && b.Len() == 0 {
		w.recycle(b)
		return nil
	}
	return b
}

// recycle keeps an emptied buffer for another hour.
func (w *hourWriter[T]) recycle(b *datalake.Columns) {
	b.Reset()
	w.spare = append(w.spare, b)
}

// publishFile publishes one file of hour h, which write writes.
func (w *hourWriter[T]) publishFile(h int64, rows int, write func(io.Writer) error) error {
	hour := time.Unix(h*3600, 0).UTC()
	p, err := w.pub.Publish(w.opts.Dataset, hour, "PARQUET", write)
	if err != nil {
		return fmt.Errorf("publish %d records of hour %s: %w", rows, datalake.Stamp(hour), err)
	}
	w.opts.Logger.Debug("published", "file", p, "rows", rows)
	w.published = append(w.published, p)
	return nil
}

func (w *hourWriter[T]) flush() error { return w.flushBefore(time.Time{}) }

// flushBefore publishes the buffered hours that end at or before t, or
// every buffered hour if t is zero.
func (w *hourWriter[T]) flushBefore(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	hours := make([]int64, 0, len(w.buf))
	for h := range w.buf {
		if t.IsZero() || !time.Unix((h+1)*3600, 0).After(t) {
			hours = append(hours, h)
		}
	}
	slices.Sort(hours)
	if len(hours) > 1 {
		return w.publishAll(hours)
	}
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
	w, err := newHourWriter(pub, datalake.FlowLayout, flowSchema, opts, datalake.FlowsPath, "start_timestamp", "src_address")
	if err != nil {
		return nil, err
	}
	return &FlowWriter{w}, nil
}

// Write buffers flows. It returns an error wrapping datalake.ErrBadArgument
// for a flow without a start time, datalake.ErrClosed after Close, or the
// error of a publication the buffer triggered.
func (w *FlowWriter) Write(flows ...datalake.Flow) error { return w.w.write(flows) }

// WriteColumns buffers the flows of c (columns of datalake.FlowLayout), as
// Write does, without converting them to datalake.Flow values: the way
// ingest hands over the flow table's records. It copies the rows, so c
// may be reused when it returns.
func (w *FlowWriter) WriteColumns(c *datalake.Columns) error { return w.w.writeColumns(c) }

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
	w, err := newHourWriter(pub, datalake.PacketLayout, packetSchema, opts, datalake.PacketsPath, "timestamp", "src_address")
	if err != nil {
		return nil, err
	}
	return &PacketWriter{w}, nil
}

// Write buffers packets; errors as FlowWriter.Write.
func (w *PacketWriter) Write(packets ...datalake.Packet) error { return w.w.write(packets) }

// WriteColumns buffers the packets of c (columns of
// datalake.PacketLayout); see FlowWriter.WriteColumns.
func (w *PacketWriter) WriteColumns(c *datalake.Columns) error { return w.w.writeColumns(c) }

// Flush publishes every buffered hour.
func (w *PacketWriter) Flush() error { return w.w.flush() }

// FlushBefore publishes every buffered hour that ends at or before t; see
// FlowWriter.FlushBefore.
func (w *PacketWriter) FlushBefore(t time.Time) error { return w.w.flushBefore(t) }

// Close publishes every buffered hour; later writes fail.
func (w *PacketWriter) Close() error { return w.w.close() }

// Published returns the lake paths of the files published so far.
func (w *PacketWriter) Published() []string { return w.w.files() }
