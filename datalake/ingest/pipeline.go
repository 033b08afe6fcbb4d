package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
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
	flows   []datalake.Flow
	packets []datalake.Packet
	flush   chan error // if set: publish what the writers buffered, reply here
	// sealed, if not zero, is an hour boundary the table's clock has
	// passed: the records of the hours before it are all in this batch or
	// earlier ones, so the writers publish those hours now.
	sealed time.Time
}

// pipeline is decoder → flow table → Parquet writers. Decoding and the
// table run in the caller's goroutine; encoding Parquet runs in a second
// one, so the two cores of a small machine both work.
type pipeline struct {
	dec   pcap.Decoder
	fr    flowtable.Frame
	table *flowtable.Table
	fw    *parquet.FlowWriter // nil with a sink
	pw    *parquet.PacketWriter
	sink  RecordSink // instead of the writers, for a capture to Kafka

	cur     batch
	work    chan batch
	written chan error // the writer goroutine's result, once
	werr    error      // the writer's error, once seen

	flows, packets uint64
	hour           int64 // the newest frame's hour (Unix hours); hours before it are sealed
	started        bool  // hour is set
}

// newPipeline writes the records to pub, or hands them to sink when it is
// not nil.
func newPipeline(pub parquet.Publisher, sink RecordSink, o Options, iface string) (*pipeline, error) {
	p := &pipeline{work: make(chan batch, queueDepth), written: make(chan error, 1), sink: sink}
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
	to.EmitFlow = p.emitFlow
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
	}
	p.table = flowtable.New(to)
	go p.write()
	return p, nil
}

func (p *pipeline) emitFlow(f *datalake.Flow) error {
	p.cur.flows = append(p.cur.flows, *f)
	p.flows++
	if len(p.cur.flows) >= batchSize {
		return p.handOver()
	}
	return nil
}

func (p *pipeline) emitPacket(r *datalake.Packet) error {
	c := *r
	if len(r.PayloadHead) > 0 {
		c.PayloadHead = slices.Clone(r.PayloadHead)
	} else {
		c.PayloadHead = nil
	}
	p.cur.packets = append(p.cur.packets, c)
	p.packets++
	if len(p.cur.packets) >= batchSize {
		return p.handOver()
	}
	return nil
}

// handOver gives the current batch to the writer goroutine.
func (p *pipeline) handOver() error {
	if p.werr != nil {
		return p.werr
	}
	n := len(p.cur.flows)
	if n == 0 && len(p.cur.packets) == 0 && p.cur.sealed.IsZero() {
		return nil
	}
	select {
	case p.work <- p.cur:
	case err := <-p.written:
		// The writer stopped early: remember why.
		p.werr = fmt.Errorf("write records: %w", err)
		return p.werr
	}
	// A full batch is followed by another; a partial one (an hour sealed,
	// a capture's tick) by a smaller one that grows as needed.
	p.cur = batch{flows: make([]datalake.Flow, 0, min(batchSize, max(64, 2*n)))}
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
	if err := p.table.Add(&p.fr); err != nil {
		return err
	}
	h := unixHour(f.Time)
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
	}
	p.written <- err
}

// toWriters buffers a batch in the Parquet writers and publishes the hours
// it sealed, or everything when it asks for a flush.
func (p *pipeline) toWriters(b batch) error {
	var err error
	if len(b.flows) > 0 {
		err = p.fw.Write(b.flows...)
	}
	if err == nil && len(b.packets) > 0 {
		err = p.pw.Write(b.packets...)
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

// toSink hands a batch to the sink; hours mean nothing there.
func (p *pipeline) toSink(b batch) error {
	if len(b.flows) > 0 {
		if err := p.sink.SendFlows(b.flows); err != nil {
			return err
		}
	}
	if len(b.packets) > 0 {
		if err := p.sink.SendPackets(b.packets); err != nil {
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

// run reads src to its end. It returns the reader's error for a damaged
// source (after finishing what came before) as damage, and ctx.Err() or a
// writing error as err (the writers then published nothing more).
func (p *pipeline) run(ctx context.Context, src frameSource, progress func(final bool)) (damage, err error) {
	last := time.Now()
	for n := uint64(1); ; n++ {
		f, rerr := src.Next()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				damage = rerr
			}
			break
		}
		if err := p.add(f); err != nil {
			p.stop()
			return nil, err
		}
		if n%16384 == 0 {
			if err := ctx.Err(); err != nil {
				p.stop()
				return nil, err
			}
			if now := time.Now(); now.Sub(last) >= 100*time.Millisecond {
				last = now
				progress(false)
			}
		}
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
