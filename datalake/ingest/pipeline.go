package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/parquet"
	"github.com/flowlab/flowlab/datalake/pcap"
)

// batchSize is how many records the decoding goroutine hands to the
// writing goroutine at once.
const batchSize = 8192

// maxRowsPerFile bounds the records an hour's buffer holds before it is
// published as one file, unless Options.Parquet says otherwise. A quarter
// of the lake's default: the writer encodes a file while the table goes
// on, and the table blocks once queueDepth batches wait, so the queue has
// to hold about one file's worth of records for the two goroutines to
// overlap; files of 262k rows made it wait half the time. Memory is a few
// times this many records (about 1 KiB each with their strings): the
// queue, one or two open hours, the file being encoded.
const maxRowsPerFile = 1 << 16

// queueDepth is how many batches the table may hand over before it waits
// for the writer: one file's worth.
const queueDepth = maxRowsPerFile / batchSize

// batch is one hand-over from the table to the writers.
type batch struct {
	flows   *datalake.Columns // of datalake.FlowLayout
	packets *datalake.Columns // of datalake.PacketLayout
	flush   chan error        // if set: publish what the writers buffered, reply here
	// sealed, if not zero, is an hour boundary the table's clock has
	// passed: the records of the hours before it are all in this batch or
	// earlier ones, so the writers publish those hours now.
	sealed time.Time
}

// pipeline is reader and decoder → flow table → Parquet writers, in three
// goroutines for a file (run): the caller's reads and decodes, a second
// runs the table, a third encodes Parquet, so the two cores of a small
// machine both work whichever stage is the heaviest at the moment. A live
// capture (add) decodes in the table's goroutine.
type pipeline struct {
	dec         pcap.Decoder
	fr          flowtable.Frame
	table       *flowtable.Table
	fw          *parquet.FlowWriter   // nil with a sink
	pw          *parquet.PacketWriter // nil with a sink, or without packets
	sink        RecordSink            // instead of the writers, for a capture to Kafka
	payloadHead int                   // payload bytes packet records keep

	cur     batch
	work    chan batch
	written chan error // the writer goroutine's result, once
	werr    error      // the writer's error, once seen
	spare   chan batch // batches the writer is done with, for reuse

	flows, packets atomic.Uint64 // records handed to the writers (read by progress reports)
	hour           int64         // the newest frame's hour (Unix hours); hours before it are sealed
	started        bool          // hour is set
}

// newPipeline writes the records to pub, or hands them to sink when it is
// not nil.
func newPipeline(pub parquet.Publisher, sink RecordSink, o Options, iface string) (*pipeline, error) {
	p := &pipeline{work: make(chan batch, queueDepth), written: make(chan error, 1), spare: make(chan batch, queueDepth+1), sink: sink}
	var err error
	po := o.Parquet
	po.Dataset = ""
	if po.MaxRowsPerFile <= 0 {
		po.MaxRowsPerFile = maxRowsPerFile
	}
	if sink == nil {
		if p.fw, err = parquet.NewFlowWriter(pub, po); err != nil {
			return nil, err
		}
	}
	to := o.Table
	to.Sensor, to.Interface = o.Sensor, iface
	to.EmitFlow = nil
	to.FlowColumns = p.flowColumns
	to.EmitPacket = nil
	if o.Packets {
		if sink == nil {
			if p.pw, err = parquet.NewPacketWriter(pub, po); err != nil {
				return nil, err
			}
		}
		to.EmitPacket = p.emitPacket
		to.PayloadHead = o.PayloadHead
		if to.PayloadHead == 0 {
			to.PayloadHead = -1
		}
		p.payloadHead = max(o.PayloadHead, 0)
	}
	p.table = flowtable.New(to)
	p.cur = p.newBatch()
	go p.write()
	return p, nil
}

// newBatch returns an empty batch, one the writer is done with if any.
func (p *pipeline) newBatch() batch {
	select {
	case b := <-p.spare:
		b.flows.Reset()
		b.packets.Reset()
		return b
	default:
		// Room for a batch's flows from the start: the columns would
		// otherwise grow by copying, about four times over.
		b := batch{flows: datalake.FlowLayout.New(), packets: datalake.PacketLayout.New()}
		b.flows.Reserve(batchSize, flowStringBytes)
		return b
	}
}

// flowStringBytes is the room reserved per value of a flow string column:
// about their average (most are short or NULL); the longer ones (ids,
// addresses, MACs) grow their columns once or twice.
const flowStringBytes = 8

// flowColumns is the table's FlowColumns: where its next record goes.
func (p *pipeline) flowColumns() (*datalake.Columns, error) {
	if p.cur.flows.Len() >= batchSize {
		if err := p.handOver(); err != nil {
			return nil, err
		}
	}
	p.flows.Add(1)
	return p.cur.flows, nil
}

func (p *pipeline) emitPacket(r *datalake.Packet) error {
	c := *r
	if len(c.PayloadHead) == 0 {
		c.PayloadHead = nil // NULL, not an empty value
	}
	datalake.PacketLayout.Append(p.cur.packets, c)
	p.packets.Add(1)
	if p.cur.packets.Len() >= batchSize {
		return p.handOver()
	}
	return nil
}

// handOver gives the current batch to the writer goroutine.
func (p *pipeline) handOver() error {
	if p.werr != nil {
		return p.werr
	}
	if p.cur.flows.Len() == 0 && p.cur.packets.Len() == 0 && p.cur.sealed.IsZero() {
		return nil
	}
	select {
	case p.work <- p.cur:
	case err := <-p.written:
		// The writer stopped early: remember why.
		p.werr = fmt.Errorf("write records: %w", err)
		return p.werr
	}
	p.cur = p.newBatch()
	return nil
}

// add decodes a frame and gives it to the table. When the frame is the
// first of a later hour, the table has just cut every flow at the
// boundary, so the hours before it are complete: they are handed over
// sealed, and the writer publishes them while this goroutine goes on,
// instead of encoding everything at the end.
func (p *pipeline) add(f pcap.Frame) error {
	if !p.dec.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &p.fr) {
		return nil
	}
	return p.addDecoded(&p.fr)
}

// addDecoded gives a decoded frame to the table; see add.
func (p *pipeline) addDecoded(fr *flowtable.Frame) error {
	if err := p.table.Add(fr); err != nil {
		return err
	}
	h := unixHour(fr.Layers[0].Time)
	if !p.started {
		p.hour, p.started = h, true
		return nil
	}
	if h <= p.hour {
		return nil
	}
	p.hour = h
	p.cur.sealed = time.Unix(h*3600, 0).UTC()
	return p.handOver()
}

// unixHour is the hour of a Unix time in nanoseconds, rounded down.
func unixHour(ns int64) int64 {
	const hour = int64(time.Hour)
	h := ns / hour
	if ns < 0 && ns%hour != 0 {
		h--
	}
	return h
}

// write is the writer goroutine: it ends when work is closed, or at the
// first error (then it drains work so senders never block).
func (p *pipeline) write() {
	var err error
	for b := range p.work {
		if err != nil {
			continue
		}
		if p.sink != nil {
			err = p.toSink(b)
		} else {
			err = p.toWriters(b)
		}
		if err != nil {
			p.written <- err
			for range p.work {
			}
			return
		}
		if b.flows != nil {
			b.sealed = time.Time{}
			select {
			case p.spare <- b:
			default:
			}
		}
	}
	p.written <- err
}

// toWriters buffers a batch in the Parquet writers and publishes the hours
// it sealed, or everything when it asks for a flush. A flush request
// (Capture's publish) carries no columns.
func (p *pipeline) toWriters(b batch) error {
	var err error
	if b.flows != nil && b.flows.Len() > 0 {
		err = p.fw.WriteColumns(b.flows)
	}
	if err == nil && b.packets != nil && b.packets.Len() > 0 {
		err = p.pw.WriteColumns(b.packets)
	}
	if err == nil && !b.sealed.IsZero() {
		err = p.fw.FlushBefore(b.sealed)
		if err == nil && p.pw != nil {
			err = p.pw.FlushBefore(b.sealed)
		}
	}
	if err == nil && b.flush != nil {
		err = p.fw.Flush()
		if err == nil && p.pw != nil {
			err = p.pw.Flush()
		}
		if err == nil {
			b.flush <- nil
		}
	}
	return err
}

// toSink hands a batch to the sink as records; hours mean nothing there.
func (p *pipeline) toSink(b batch) error {
	if b.flows != nil && b.flows.Len() > 0 {
		flows := make([]datalake.Flow, b.flows.Len())
		for i := range flows {
			flows[i] = datalake.FlowLayout.Record(b.flows, i)
		}
		if err := p.sink.SendFlows(flows); err != nil {
			return err
		}
	}
	if b.packets != nil && b.packets.Len() > 0 {
		packets := make([]datalake.Packet, b.packets.Len())
		for i := range packets {
			packets[i] = datalake.PacketLayout.Record(b.packets, i)
		}
		if err := p.sink.SendPackets(packets); err != nil {
			return err
		}
	}
	if b.flush != nil {
		if err := p.sink.Flush(); err != nil {
			return err
		}
		b.flush <- nil
	}
	return nil
}

// stop ends the writer goroutine and returns its error.
func (p *pipeline) stop() error {
	close(p.work)
	if p.werr != nil {
		return p.werr
	}
	return <-p.written
}

// finish flushes the table, hands over the last records, waits for the
// writer and publishes what the writers buffered.
func (p *pipeline) finish() error {
	err := p.table.Flush()
	if err == nil {
		err = p.handOver()
	}
	if serr := p.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if p.sink != nil {
		return p.sink.Flush()
	}
	if err := p.fw.Close(); err != nil {
		return err
	}
	if p.pw != nil {
		return p.pw.Close()
	}
	return nil
}

// frameSource is where frames come from: a file reader, a live capture.
type frameSource interface {
	Next() (pcap.Frame, error)
}

// frameBatchLen is how many decoded frames the reading goroutine hands to
// the table's at once: a few hundred kilobytes, so they are still in the
// CPU caches when the table reads them.
const frameBatchLen = 512

// frameBatch is decoded frames on their way from the reading goroutine to
// the table's. The frames' payloads point into payload (or are nil when
// packet records keep no payload), not into the reader's buffer, which
// the next read overwrites.
type frameBatch struct {
	frames  [frameBatchLen]flowtable.Frame
	n       int
	payload []byte
}

// decode decodes f into the batch's next frame; it reports whether the
// frame had an IP layer (and so was kept).
func (p *pipeline) decode(b *frameBatch, f pcap.Frame) bool {
	fr := &b.frames[b.n]
	if !p.dec.Decode(f.LinkType, f.Data, f.WireLen, f.Time, fr) {
		return false
	}
	for i := range min(fr.N, flowtable.MaxLayers) {
		l := &fr.Layers[i]
		if p.payloadHead == 0 {
			l.Payload = nil
			continue
		}
		h := l.Payload[:min(len(l.Payload), p.payloadHead)]
		if cap(b.payload)-len(b.payload) < len(h) {
			// Earlier frames keep the old buffer.
			b.payload = make([]byte, 0, max(1<<16, 2*cap(b.payload), len(h)))
		}
		start := len(b.payload)
		b.payload = append(b.payload, h...)
		l.Payload = b.payload[start:len(b.payload):len(b.payload)]
	}
	b.n++
	return true
}

// tabulate is the table's goroutine of run: it adds the frames of every
// batch of full and returns the batch to empty, until full is closed or a
// frame fails.
func (p *pipeline) tabulate(full <-chan *frameBatch, empty chan<- *frameBatch) error {
	for b := range full {
		for i := range b.n {
			if err := p.addDecoded(&b.frames[i]); err != nil {
				return err
			}
		}
		b.n, b.payload = 0, b.payload[:0]
		empty <- b
	}
	return nil
}

// run reads src to its end. It returns the reader's error for a damaged
// source (after finishing what came before) as damage, and ctx.Err() or a
// writing error as err (the writers then published nothing more).
func (p *pipeline) run(ctx context.Context, src frameSource, progress func(final bool)) (damage, err error) {
	const batches = 4
	full, empty := make(chan *frameBatch, batches), make(chan *frameBatch, batches)
	for range batches {
		empty <- new(frameBatch)
	}
	tabled := make(chan error, 1)
	go func() { tabled <- p.tabulate(full, empty) }()
	// fail stops the table's goroutine (once it has taken what was handed
	// over) unless it has stopped already, then the writer's.
	tableDone := false
	fail := func(err error) (error, error) {
		if !tableDone {
			close(full)
			<-tabled
		}
		p.stop()
		return nil, err
	}
	b := <-empty
	last := time.Now()
	// nextHour is the start of the hour after the newest frame's (Unix
	// ns): a frame at or after it is handed over at once with its batch,
	// so the table seals the earlier hours and the writer publishes them
	// without waiting for the batch to fill.
	nextHour := int64(math.MinInt64)
	for n := uint64(1); ; n++ {
		f, rerr := src.Next()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				damage = rerr
			}
			break
		}
		if p.decode(b, f) {
			newHour := f.Time >= nextHour
			if newHour {
				nextHour = (unixHour(f.Time) + 1) * int64(time.Hour)
			}
			if b.n == frameBatchLen || newHour {
				// Hand the batch over and take an empty one, unless the
				// table stopped at an error.
				select {
				case full <- b:
					select {
					case b = <-empty:
					case err = <-tabled:
					}
				case err = <-tabled:
				}
				if err != nil {
					tableDone = true
					return fail(err)
				}
			}
		}
		if n%16384 == 0 {
			if err := ctx.Err(); err != nil {
				return fail(err)
			}
			if now := time.Now(); now.Sub(last) >= 100*time.Millisecond {
				last = now
				progress(false)
			}
		}
	}
	if b.n > 0 {
		select {
		case full <- b:
		case err = <-tabled:
			tableDone = true
			return fail(err)
		}
	}
	close(full)
	if err := <-tabled; err != nil {
		p.stop()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		p.stop()
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	progress(true)
	return damage, nil
}
