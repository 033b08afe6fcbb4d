// Package ingest fills the lake's /tetration/flows and /tetration/packets
// datasets from capture files: datalake/pcap reads and decodes,
// datalake/flowtable builds the flow records, datalake/parquet writes the
// hourly Parquet files.
//
// A file is ingested as one unit: its files are staged and moved into the
// hour partitions only when the whole file was read (or read up to its
// damage), under names derived from the file's key (sensor and content),
// and a ledger in the lake's hidden .ingest folder remembers it. Stopping
// ingest (a cancelled context) publishes nothing of the unfinished file;
// running it again ingests that file from its start and skips the files
// already in the ledger. So records are never duplicated or lost.
//
// A damaged file (truncated, malformed record) is ingested up to the
// damage, committed, and reported with the file name and byte offset.
//
// Streaming: Capture hands its records to a RecordSink (a Kafka producer)
// instead of the lake when one is given, and StreamWriter publishes the
// batches a Kafka consumer reads back, recording in the lake which offsets
// it holds so that a batch delivered twice is written once.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/parquet"
	"github.com/flowlab/flowlab/datalake/pcap"
)

// ErrDamaged is wrapped by the error of a file that could only be read up
// to a point (the *pcap.FileError is in the chain too); what came before
// was committed.
var ErrDamaged = errors.New("capture damaged; the packets before the damage were ingested")

// Options configure an Ingester. The zero value works.
type Options struct {
	// Sensor names the capture point in the sensor column (default: the
	// host name).
	Sensor string
	// Packets also writes /tetration/packets, one record per IP layer.
	Packets bool
	// PayloadHead is how many payload bytes packet records keep (0: none).
	PayloadHead int
	// Table configures the flow table (timeouts, local nets, ...); its
	// Emit callbacks, Sensor and Interface are set by the Ingester.
	Table flowtable.Options
	// Parquet configures the writers (compression, file sizes).
	Parquet parquet.Options
	// Progress, if set, is called about every 100 ms of work and at the
	// end of each file, from the ingesting goroutine.
	Progress func(Progress)
	// Now is the clock (default time.Now): progress times and the ledger.
	Now func() time.Time
	// Logger receives debug messages; nil discards.
	Logger *slog.Logger
}

// Progress is the state of the file being ingested.
type Progress struct {
	File       string
	Done       bool
	BytesRead  int64 // offset in the file
	BytesTotal int64 // file size
	Packets    uint64
	Flows      uint64
	Elapsed    time.Duration
}

// Result is what ingesting one file did.
type Result struct {
	File          string
	Key           string
	Skipped       bool // already in the ledger: nothing was done
	Format        pcap.Format
	Bytes         int64 // bytes read
	Packets       uint64
	Flows         uint64 // flow records written (hour slices counted)
	PacketRecords uint64
	Decode        pcap.DecodeStats
	Table         flowtable.Stats
	Files         []string // lake paths committed
	Elapsed       time.Duration
	// Damage is the reader's error for a damaged file (also returned,
	// wrapped in ErrDamaged, by IngestFile).
	Damage error
}

// Ingester ingests capture files into one lake. It is not safe for
// concurrent use; use one per goroutine (they may share a lake).
type Ingester struct {
	root string
	opts Options
}

// New returns an Ingester writing into the lake at root (created if
// missing).
func New(root string, opts Options) (*Ingester, error) {
	if root == "" {
		return nil, fmt.Errorf("%w: no lake: pass --lake DIR or set FLOWLAB_LAKE", datalake.ErrNotConfigured)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("lake %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("lake %s: %w", root, err)
	}
	if opts.Sensor == "" {
		opts.Sensor, _ = os.Hostname()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Ingester{root: abs, opts: opts}, nil
}

// IngestFile ingests one capture file. It returns a Result with Skipped
// set if the file was ingested before; ctx.Err() if cancelled (nothing of
// the file is published); an error wrapping ErrDamaged and the
// *pcap.FileError for a damaged file, after committing what came before
// the damage; other errors (unreadable file, not a capture, lake full)
// with nothing published.
func (in *Ingester) IngestFile(ctx context.Context, file string) (Result, error) {
	start := in.opts.Now()
	res := Result{File: file}
	f, err := os.Open(file)
	if err != nil {
		return res, fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("ingest: %w", err)
	}
	res.Key, err = sourceKey(f, st.Size(), in.opts.Sensor)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", file, err)
	}
	if l, err := lookup(in.root, res.Key); err != nil {
		return res, fmt.Errorf("ingest %s: %w", file, err)
	} else if l != nil {
		res.Skipped, res.Packets, res.Flows, res.Files = true, l.Packets, l.Flows, l.Files
		return res, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return res, fmt.Errorf("ingest %s: %w", file, err)
	}
	r, err := pcap.NewReader(f, file)
	if err != nil {
		return res, err
	}
	res.Format = r.Format()
	stg, err := newStage(in.root, res.Key)
	if err != nil {
		return res, err
	}
	p, err := newPipeline(stg, nil, in.opts, filepath.Base(file))
	if err != nil {
		return res, err
	}
	damage, runErr := p.run(ctx, r, func(final bool) {
		if in.opts.Progress != nil {
			in.opts.Progress(Progress{File: file, Done: final, BytesRead: r.Offset(), BytesTotal: st.Size(),
				Packets: r.Packets(), Flows: p.flows.Load(), Elapsed: in.opts.Now().Sub(start)})
		}
	})
	res.Bytes, res.Packets = r.Offset(), r.Packets()
	res.Decode, res.Table, res.Flows, res.PacketRecords = p.dec.Stats, p.table.Stats(), p.flows.Load(), p.packets.Load()
	res.Elapsed = in.opts.Now().Sub(start)
	if runErr != nil {
		return res, runErr
	}
	l := Ledger{Key: res.Key, Source: file, Sensor: in.opts.Sensor, Finished: in.opts.Now().UTC(), Packets: res.Packets, Flows: res.Flows}
	if damage != nil {
		l.Damage = damage.Error()
	}
	if err := stg.commit(l); err != nil {
		return res, fmt.Errorf("ingest %s: %w", file, err)
	}
	for _, m := range stg.moves {
		res.Files = append(res.Files, "/"+m.To)
	}
	if damage != nil {
		res.Damage = damage
		return res, fmt.Errorf("%w: %w", ErrDamaged, damage)
	}
	return res, nil
}

// sourceKey identifies a capture by sensor and content: the size and a
// SHA-256 of its first and last MiB. A renamed or copied file has the
// same key; a file that grew has another.
func sourceKey(f *os.File, size int64, sensor string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "flowlab-ingest-v1\x00%s\x00%d\x00", sensor, size)
	const span = 1 << 20
	if _, err := io.Copy(h, io.LimitReader(f, span)); err != nil {
		return "", err
	}
	if size > span {
		if _, err := f.Seek(max(size-span, span), io.SeekStart); err != nil {
			return "", err
		}
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}
