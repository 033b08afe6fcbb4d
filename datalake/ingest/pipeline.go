package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// pipeline is decoder → flow table → Parquet writers. Decoding and the
// table run in the caller's goroutine; encoding Parquet runs in a second
// one, so the two cores of a small machine both work.
type pipeline struct {
	dec   pcap.Decoder
	fr    flowtable.Frame
	table *flowtable.Table
	fw    *parquet.FlowWriter
	pw    *parquet.PacketWriter

	cur     batch
	work    chan batch
	written chan error // the writer goroutine's result, once
	werr    error      // the writer's error, once seen
	spare   chan batch // batches the writer is done with, for reuse

	flows, packets uint64
	hour           int64 // the newest frame's hour (Unix hours); hours before it are sealed
	started        bool  // hour is set
}

func newPipeline(pub parquet.Publisher, o Options, iface string) (*pipeline, error) {
	p := &pipeline{work: make(chan batch, queueDepth), written: make(chan error, 1), spare: make(chan batch, queueDepth+1)}
	var err error
	po := o.Parquet
	po.Dataset = ""
	if po.MaxRowsPerFile <= 0 {
		po.MaxRowsPerFile = maxRowsPerFile
	}
	if p.fw, err = parquet.NewFlowWriter(pub, po); err != nil {
		return nil, err
	}
	to := o.Table
	to.Sensor, to.Interface = o.Sensor, iface
	to.EmitFlow = nil
	to.FlowColumns = p.flowColumns
	to.EmitPacket = nil
	if o.Packets {
		if p.pw, err = parquet.NewPacketWriter(pub, po); err != nil {
			return nil, err
		}
		to.EmitPacket = p.emitPacket
		to.PayloadHead = o.PayloadHead
		if to.PayloadHead == 0 {
			to.PayloadHead = -1
		}
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
		return batch{flows: datalake.FlowLayout.New(), packets: datalake.PacketLayout.New()}
	}
}

// flowColumns is the table's FlowColumns: where its next record goes.
func (p *pipeline) flowColumns() (*datalake.Columns, error) {
	if p.cur.flows.Len() >= batchSize {
		if err := p.handOver(); err != nil {
			return nil, err
		}
	}
	p.flows++
	return p.cur.flows, nil
}

func (p *pipeline) emitPacket(r *datalake.Packet) error {
	c := *r
	if len(c.PayloadHead) == 0 {
		c.PayloadHead = nil // NULL, not an empty value
	}
	datalake.PacketLayout.Append(p.cur.packets, c)
	p.packets++
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
		// A flush request (Capture's publish) carries no columns.
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
