package ingest_test

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/datalake/parquet"
	"github.com/flowlab/flowlab/datalake/pcap"
)

// benchCapture is the capture the benchmarks read: $FLOWLAB_BENCH_PCAP, as
// written by bench/ingest/gen (bench/ingest/run.sh uses the same file).
// Without it the benchmarks are skipped.
func benchCapture(b *testing.B) (string, int64) {
	b.Helper()
	path := os.Getenv("FLOWLAB_BENCH_PCAP")
	if path == "" {
		b.Skip("set FLOWLAB_BENCH_PCAP to a capture (go run ./bench/ingest/gen -o FILE)")
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return path, st.Size()
}

// readAll runs each frame of the capture through step and returns the
// number of frames.
func readAll(b *testing.B, path string, step func(pcap.Frame)) uint64 {
	b.Helper()
	r, c, err := pcap.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Packets()
		}
		if err != nil {
			b.Fatal(err)
		}
		step(f)
	}
}

// cpuPerOp reports the process's CPU time (all goroutines, the garbage
// collector included) per iteration of b.Loop, from start on: on a
// machine shared with other work, wall time varies with the load and CPU
// time much less.
func cpuPerOp(b *testing.B, start time.Duration) {
	b.ReportMetric((cpuTime()-start).Seconds()*1e3/float64(b.N), "cpu-ms/op")
}

// The stages of ingest, each including the ones before it, so the
// differences between them are what each stage costs.
func BenchmarkStages(b *testing.B) {
	path, size := benchCapture(b)
	report := func(b *testing.B, pkts uint64, cpu time.Duration) {
		b.SetBytes(size)
		b.ReportMetric(float64(pkts)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpkt/s")
		cpuPerOp(b, cpu)
	}
	b.Run("read", func(b *testing.B) {
		var pkts uint64
		cpu := cpuTime()
		for b.Loop() {
			pkts = readAll(b, path, func(pcap.Frame) {})
		}
		report(b, pkts, cpu)
	})
	b.Run("decode", func(b *testing.B) {
		var pkts uint64
		cpu := cpuTime()
		for b.Loop() {
			var d pcap.Decoder
			var fr flowtable.Frame
			pkts = readAll(b, path, func(f pcap.Frame) { d.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &fr) })
		}
		report(b, pkts, cpu)
	})
	b.Run("table", func(b *testing.B) {
		var pkts, recs uint64
		cpu := cpuTime()
		for b.Loop() {
			var d pcap.Decoder
			var fr flowtable.Frame
			recs = 0
			// As ingest collects them: rows of columns, handed over 8,192
			// at a time.
			c := datalake.FlowLayout.New()
			t := flowtable.New(flowtable.Options{FlowColumns: func() (*datalake.Columns, error) {
				if c.Len() == 8192 {
					c.Reset()
				}
				recs++
				return c, nil
			}})
			pkts = readAll(b, path, func(f pcap.Frame) {
				if d.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &fr) {
					if err := t.Add(&fr); err != nil {
						b.Fatal(err)
					}
				}
			})
			if err := t.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		if recs == 0 {
			b.Fatal("no flow records")
		}
		report(b, pkts, cpu)
	})
	b.Run("ingest", func(b *testing.B) {
		var pkts uint64
		cpu := cpuTime()
		for b.Loop() {
			lake := b.TempDir()
			in, err := ingest.New(lake, ingest.Options{Sensor: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			res, err := in.IngestFile(context.Background(), path)
			if err != nil {
				b.Fatal(err)
			}
			if res.Flows == 0 {
				b.Fatal("no flow records")
			}
			pkts = res.Packets
		}
		report(b, pkts, cpu)
	})
}

// What the writer goroutine of ingest does with the capture's flow
// records: buffer them per hour, sort each file's rows and encode them,
// in files of 65,536 rows as ingest writes them.
func BenchmarkEncodeFlows(b *testing.B) {
	path, _ := benchCapture(b)
	flows := datalake.FlowLayout.New()
	var d pcap.Decoder
	var fr flowtable.Frame
	t := flowtable.New(flowtable.Options{FlowColumns: func() (*datalake.Columns, error) { return flows, nil }})
	readAll(b, path, func(f pcap.Frame) {
		if d.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &fr) {
			if err := t.Add(&fr); err != nil {
				b.Fatal(err)
			}
		}
	})
	if err := t.Flush(); err != nil {
		b.Fatal(err)
	}
	batch := datalake.FlowLayout.New()
	var size countingWriter
	// One writer, as ingest has: after the first round its buffers are
	// reused.
	w, err := parquet.NewFlowWriter(&size, parquet.Options{MaxRowsPerFile: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	cpu := cpuTime()
	for b.Loop() {
		size = 0
		for i := 0; i < flows.Len(); i += 8192 {
			batch.Reset()
			batch.AppendRows(flows, i, min(i+8192, flows.Len()))
			if err := w.WriteColumns(batch); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(flows.Len())*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mflows/s")
	b.ReportMetric(float64(size)/float64(flows.Len()), "B/flow")
	cpuPerOp(b, cpu)
}

// countingWriter is a parquet.Publisher that counts the bytes of the
// files and keeps none.
type countingWriter int64

func (c *countingWriter) Publish(_ string, _ time.Time, _ string, write func(io.Writer) error) (string, error) {
	return "", write(c)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
