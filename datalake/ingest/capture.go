package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/parquet"
	"github.com/flowlab/flowlab/datalake/pcap"
)

// LiveSource is a live capture: pcap.Live, or a fake in tests. Close must
// make a blocked Next return an error.
type LiveSource interface {
	Next() (pcap.Frame, error)
	Close() error
}

var _ LiveSource = (*pcap.Live)(nil)

// RecordSink takes a capture's records instead of the lake: a Kafka
// producer for `flowlab capture --to-kafka` (kafka.Producer). Capture
// calls it from one goroutine.
type RecordSink interface {
	// SendFlows and SendPackets hand records over; they may return before
	// the records are delivered, and must not keep the slices. An error
	// means the sink failed for good: the capture stops with it.
	SendFlows(flows []datalake.Flow) error
	SendPackets(packets []datalake.Packet) error
	// Flush returns once everything handed over was delivered, or with an
	// error saying what was not; the sink bounds how long it waits.
	Flush() error
}

// CaptureOptions configure Capture beyond Options.
type CaptureOptions struct {
	// Interface names the capture point's interface (interface column).
	Interface string
	// PublishEvery is how often buffered records are published to the
	// lake (default 1 minute); records are also published at every UTC
	// hour boundary and when the capture stops.
	PublishEvery time.Duration
	// Tick is how often the flow table's clock follows the wall clock when
	// no packet arrives, ending idle flows (default 1 s). With a Sink, the
	// records that finished are also handed to it every Tick.
	Tick time.Duration
	// Sink, if set, receives the records instead of the lake (which may
	// then be nil); it is flushed every PublishEvery, at each UTC hour and
	// at the end, and Capture returns only after the final flush.
	Sink RecordSink
	// Replay says the source is a capture file read from its start: time
	// comes from the packets alone (the wall clock ends no flow), and the
	// end of the file (io.EOF) ends the capture like a cancellation.
	Replay bool
}

// CaptureStats are what a capture did.
type CaptureStats struct {
	Packets       uint64
	Flows         uint64
	PacketRecords uint64
	Published     []string
}

// Capture reads frames from src until ctx is cancelled or src fails, and
// publishes flow (and packet) records into lake, or hands them to co.Sink,
// as they finish. On
// cancellation it ends every open flow (flow_end_reason 4) and publishes
// everything, so stopping loses nothing; a restarted capture starts new
// flows. It closes src. It returns nil after a cancellation, or the
// source's or the lake's error.
func Capture(ctx context.Context, src LiveSource, lake *datalake.Lake, o Options, co CaptureOptions) (CaptureStats, error) {
	var st CaptureStats
	if o.Now == nil {
		o.Now = time.Now
	}
	if co.PublishEvery <= 0 {
		co.PublishEvery = time.Minute
	}
	if co.Tick <= 0 {
		co.Tick = time.Second
	}
	var pub parquet.Publisher = lake
	if co.Sink != nil {
		pub = nil
	} else if lake == nil {
		src.Close()
		return st, fmt.Errorf("%w: capture has neither a lake nor a sink", datalake.ErrNotConfigured)
	}
	p, err := newPipeline(pub, co.Sink, o, co.Interface)
	if err != nil {
		src.Close()
		return st, err
	}

	type frame struct {
		f   pcap.Frame
		err error
	}
	// The reader hands every frame it read to the loop, and ends (closing
	// frames) at the source's first error, which Close provokes: so after
	// a stop the loop drains what was read and nothing is lost.
	frames := make(chan frame, 1024)
	go func() {
		defer close(frames)
		for {
			f, err := src.Next()
			if err == nil {
				f.Data = bytes.Clone(f.Data)
			}
			frames <- frame{f, err}
			if err != nil {
				return
			}
		}
	}()
	add := func(fr frame) error {
		st.Packets++
		return p.add(fr.f)
	}

	tick := time.NewTicker(co.Tick)
	defer tick.Stop()
	lastPublish := o.Now()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case fr := <-frames:
			if fr.err != nil {
				if ctx.Err() == nil && !(co.Replay && errors.Is(fr.err, io.EOF)) {
					runErr = fr.err
				}
				break loop
			}
			if err := add(fr); err != nil {
				runErr = err
				break loop
			}
		case <-tick.C:
			now := o.Now()
			if !co.Replay {
				if err := p.table.Advance(now); err != nil {
					runErr = err
					break loop
				}
			}
			if co.Sink != nil {
				if err := p.handOver(); err != nil {
					runErr = err
					break loop
				}
			}
			if now.Sub(lastPublish) >= co.PublishEvery || now.Truncate(time.Hour) != lastPublish.Truncate(time.Hour) {
				lastPublish = now
				if err := p.publish(); err != nil {
					runErr = err
					break loop
				}
			}
		}
	}
	src.Close()
	for fr := range frames {
		if fr.err == nil && runErr == nil {
			runErr = add(fr)
		}
	}
	err = p.finish()
	st.Flows, st.PacketRecords = p.flows.Load(), p.packets.Load()
	if p.fw != nil {
		st.Published = p.fw.Published()
	}
	if p.pw != nil {
		st.Published = append(st.Published, p.pw.Published()...)
	}
	if runErr != nil && !errors.Is(runErr, pcap.ErrClosed) {
		return st, errors.Join(runErr, err)
	}
	if runErr != nil && ctx.Err() == nil {
		return st, errors.Join(fmt.Errorf("capture stopped: %w", runErr), err)
	}
	return st, err
}

// publish hands over the current records and publishes what the writers
// buffered, without ending any flow.
func (p *pipeline) publish() error {
	if err := p.handOver(); err != nil {
		return err
	}
	// The flush goes through the writer's queue, after every batch
	// handed over before it.
	done := make(chan error, 1)
	select {
	case p.work <- batch{flush: done}:
	case err := <-p.written:
		p.werr = err
		return err
	}
	select {
	case err := <-done:
		return err
	case err := <-p.written:
		p.werr = err
		return err
	}
}
