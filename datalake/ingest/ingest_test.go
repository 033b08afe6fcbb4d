package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/datalake/pcap"
)

const corpus = "../../testdata/pcaps"

var fixed = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func newIngester(t *testing.T, lake string, o ingest.Options) *ingest.Ingester {
	t.Helper()
	if o.Sensor == "" {
		o.Sensor = "test-sensor"
	}
	o.Now = func() time.Time { return fixed }
	in, err := ingest.New(lake, o)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// readTable reads a Parquet file whole; the table is released when the
// test ends.
func readTable(t *testing.T, path string) arrow.Table {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// sumColumn reads every Parquet file of a dataset and returns the row
// count and the sum of an int64 column.
func sumColumn(t *testing.T, lake, dataset, col string) (rows, sum int64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(lake, dataset, "dt=*", "hr=*", "*.parquet"))
	for _, f := range files {
		tbl := readTable(t, f)
		rows += tbl.NumRows()
		idx := tbl.Schema().FieldIndices(col)
		if len(idx) != 1 {
			t.Fatalf("%s has no column %s", f, col)
		}
		for _, ch := range tbl.Column(idx[0]).Data().Chunks() {
			a := ch.(*array.Int64)
			for i := 0; i < a.Len(); i++ {
				sum += a.Value(i)
			}
		}
	}
	return rows, sum
}

func TestIngestFileAndResume(t *testing.T) {
	lake := t.TempDir()
	src := filepath.Join(corpus, "tcpstate", "curated-pcaps__tcp_control_two_way_all_flags.pcap")
	in := newIngester(t, lake, ingest.Options{Packets: true, PayloadHead: 16})
	res, err := in.IngestFile(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped || res.Packets != 7938 || res.Flows == 0 || len(res.Files) < 2 {
		t.Fatalf("result %+v", res)
	}
	rows, pkts := sumColumn(t, lake, "tetration/flows", "pkts")
	if rows != int64(res.Flows) || pkts != 7938 {
		t.Errorf("lake has %d flows with %d packets; ingest reported %d flows of 7938 packets", rows, pkts, res.Flows)
	}
	prow, _ := sumColumn(t, lake, "tetration/packets", "seq")
	if prow != 7938 {
		t.Errorf("%d packet records", prow)
	}
	// The same file again: skipped, nothing duplicated.
	again, err := in.IngestFile(context.Background(), src)
	if err != nil || !again.Skipped {
		t.Fatalf("second ingest: %+v %v", again, err)
	}
	if r2, p2 := sumColumn(t, lake, "tetration/flows", "pkts"); r2 != rows || p2 != pkts {
		t.Errorf("after the second ingest %d rows %d packets", r2, p2)
	}
	// Another sensor's copy of the same file is another source.
	other := newIngester(t, lake, ingest.Options{Sensor: "other"})
	if r, err := other.IngestFile(context.Background(), src); err != nil || r.Skipped {
		t.Fatalf("other sensor: %+v %v", r, err)
	}
}

func TestCancelledIngestPublishesNothing(t *testing.T) {
	lake := t.TempDir()
	src := filepath.Join(corpus, "tcpstate", "curated-pcaps__tcp_control_two_way_all_flags.pcap")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := newIngester(t, lake, ingest.Options{})
	if _, err := in.IngestFile(ctx, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if rows, _ := sumColumn(t, lake, "tetration/flows", "pkts"); rows != 0 {
		t.Fatalf("%d rows published by a cancelled ingest", rows)
	}
	// Resuming ingests the whole file once.
	res, err := in.IngestFile(context.Background(), src)
	if err != nil || res.Skipped {
		t.Fatal(res, err)
	}
	if _, pkts := sumColumn(t, lake, "tetration/flows", "pkts"); pkts != 7938 {
		t.Errorf("%d packets after resuming", pkts)
	}
}

// TestDamagedFilesKeepWhatCameBefore ingests every file of bad/ and
// derived/: no panic; damaged ones report file and offset and keep the
// packets before the damage.
func TestDamagedFilesKeepWhatCameBefore(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus, "bad", "*.pcap*"))
	derived, _ := filepath.Glob(filepath.Join(corpus, "derived", "*.pcap*"))
	files = append(files, derived...)
	if len(files) < 20 {
		t.Fatalf("only %d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			lake := t.TempDir()
			in := newIngester(t, lake, ingest.Options{})
			res, err := in.IngestFile(context.Background(), f)
			var fe *pcap.FileError
			switch {
			case err == nil:
			case errors.Is(err, ingest.ErrDamaged):
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "byte offset") {
					t.Errorf("damage error %v should name the file and the offset", err)
				}
				if res.Packets != fe.Packets {
					t.Errorf("ingested %d packets, the reader read %d before the damage", res.Packets, fe.Packets)
				}
			case errors.As(err, &fe):
				// Not a capture at all (cut inside the file header).
				if fe.Packets != 0 || res.Packets != 0 {
					t.Errorf("%v after %d packets", err, res.Packets)
				}
				return
			default:
				t.Fatalf("unexpected error %v", err)
			}
			_, pkts := sumColumn(t, lake, "tetration/flows", "pkts")
			if pkts != int64(res.Table.Packets) {
				t.Errorf("lake has %d packets in flows, the table attributed %d", pkts, res.Table.Packets)
			}
		})
	}
}

func TestNmapCutKeeps164Packets(t *testing.T) {
	lake := t.TempDir()
	in := newIngester(t, lake, ingest.Options{})
	res, err := in.IngestFile(context.Background(), filepath.Join(corpus, "derived", "nmap-vsn.cut-mid-packet.pcap"))
	if !errors.Is(err, ingest.ErrDamaged) || !errors.Is(err, pcap.ErrTruncated) {
		t.Fatalf("err = %v", err)
	}
	if res.Packets != 164 || res.Decode.NonIP != 149 || len(res.Files) == 0 {
		t.Errorf("%+v", res)
	}
	// Damage is permanent: the file is in the ledger and skipped next time.
	if again, err := in.IngestFile(context.Background(), filepath.Join(corpus, "derived", "nmap-vsn.cut-mid-packet.pcap")); err != nil || !again.Skipped {
		t.Errorf("again: %+v %v", again, err)
	}
}

func TestInterruptedCommitIsFinished(t *testing.T) {
	lake := t.TempDir()
	src := filepath.Join(corpus, "good", "zeek__conn-size.pcap")
	in := newIngester(t, lake, ingest.Options{})
	res, err := in.IngestFile(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a crash after the commit log was written and one file
	// moved: put the file back in staging and restore the log.
	ledger := filepath.Join(lake, ".ingest", "ledger", res.Key)
	done, err := os.ReadFile(ledger + ".done")
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(lake, filepath.FromSlash(res.Files[0]))
	from := filepath.Join(lake, ".ingest", "staging", res.Key, filepath.FromSlash(res.Files[0]))
	if err := os.MkdirAll(filepath.Dir(from), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to, from); err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(res.Files[0], "/")
	log := `{"moves":[{"from":".ingest/staging/` + res.Key + `/` + rel + `","to":"` + rel + `"}],"ledger":` + string(done) + `}`
	if err := os.WriteFile(ledger+".commit", []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(ledger + ".done")
	again, err := in.IngestFile(context.Background(), src)
	if err != nil || !again.Skipped {
		t.Fatalf("again: %+v %v", again, err)
	}
	if _, err := os.Stat(to); err != nil {
		t.Errorf("file not moved back into the lake: %v", err)
	}
	if _, pkts := sumColumn(t, lake, "tetration/flows", "pkts"); pkts != 21 {
		t.Errorf("%d packets", pkts)
	}
}

func TestNoLake(t *testing.T) {
	if _, err := ingest.New("", ingest.Options{}); err == nil || !strings.Contains(err.Error(), "--lake") {
		t.Errorf("err = %v", err)
	}
}
