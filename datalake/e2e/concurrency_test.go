package e2e

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/parquet"
)

// TestPublishWhileReading has a writer publish partitions while readers
// query the dataset in a loop, through one shared lake and through a second
// lake on the same folder (a second kernel). No reader may ever fail or see
// a partial file: every count is a whole number of published files and
// never goes down.
func TestPublishWhileReading(t *testing.T) {
	root := t.TempDir()
	writerLake := openLake(t, root)
	readers := []*datalake.Lake{writerLake, writerLake, openLake(t, root)}
	const batch = 400
	files := 30
	if testing.Short() {
		files = 10
	}
	w, err := parquet.NewFlowWriter(writerLake, parquet.Options{MaxRowsPerFile: batch, RowGroupRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(i int) error {
		hour := now.Truncate(time.Hour).Add(-time.Duration(i%4) * time.Hour)
		for j := range batch {
			f := datalake.Flow{
				StartTimestamp: hour.Add(time.Duration(j) * time.Second), EndTimestamp: hour.Add(time.Duration(j) * time.Second),
				Timestamp: hour.Add(time.Hour), FlowID: fmt.Sprintf("%d-%d", i, j), SrcAddress: fmt.Sprintf("10.0.%d.%d", i, j%250),
				DstAddress: "10.0.0.1", Proto: "TCP", IPProto: 6, FwdPkts: 1,
			}
			if err := w.Write(f); err != nil { // the batch-th write publishes a file
				return err
			}
		}
		return nil
	}
	if err := publish(0); err != nil {
		t.Fatal(err)
	}
	var published atomic.Int64
	published.Store(batch)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var queries atomic.Int64
	for ri, l := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for {
				select {
				case <-done:
					return
				default:
				}
				atLeast := published.Load()
				n, err := l.IO().Read(datalake.FlowsPath, "PARQUET", "ALL").Filter("fwd_pkts = ?", 1).Count()
				if err != nil {
					t.Errorf("reader %d: %v", ri, err)
					return
				}
				queries.Add(1)
				if n%batch != 0 || n < last || n < atLeast {
					t.Errorf("reader %d saw %d rows (last %d, published at least %d)", ri, n, last, atLeast)
					return
				}
				last = n
			}
		}()
	}
	for i := 1; i < files; i++ {
		if err := publish(i); err != nil {
			t.Fatal(err)
		}
		published.Add(batch)
	}
	close(done)
	wg.Wait()
	if err := w.Close(); err != nil && !errors.Is(err, datalake.ErrClosed) {
		t.Fatal(err)
	}
	n, err := writerLake.IO().Read(datalake.FlowsPath, "PARQUET", "ALL").Count()
	if err != nil || n != int64(files*batch) {
		t.Fatalf("final count %d, %v; want %d", n, err, files*batch)
	}
	if queries.Load() < int64(len(readers)) {
		t.Errorf("only %d queries ran", queries.Load())
	}
	t.Logf("%d files published during %d queries", files, queries.Load())
}
