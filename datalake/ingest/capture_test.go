package ingest_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/datalake/pcap"
)

// replaySource is a fake live source: the frames of a capture file, then
// it blocks until Close, as an idle interface does.
type replaySource struct {
	r       *pcap.Reader
	closed  chan struct{}
	once    sync.Once
	drained chan struct{} // closed once every frame of the file was taken
	drain   sync.Once
}

func (s *replaySource) Next() (pcap.Frame, error) {
	f, err := s.r.Next()
	if err == nil {
		return f, nil
	}
	s.drain.Do(func() { close(s.drained) })
	<-s.closed
	return pcap.Frame{}, pcap.ErrClosed
}

func (s *replaySource) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

func openLake(t *testing.T) (*datalake.Lake, string) {
	dir := t.TempDir()
	l, err := datalake.Open(datalake.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

// replay returns a replaySource of a corpus capture (closed when the test
// ends) and its reader.
func replay(t *testing.T, capture string) (*replaySource, *pcap.Reader) {
	r, c, err := pcap.Open(filepath.Join(corpus, capture))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &replaySource{r: r, closed: make(chan struct{}), drained: make(chan struct{})}, r
}

func TestCaptureStopLosesNothing(t *testing.T) {
	src, _ := replay(t, "tcpstate/curated-pcaps__tcp_control_two_way_all_flags.pcap")
	lake, dir := openLake(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var st ingest.CaptureStats
	var cerr error
	go func() {
		defer close(done)
		st, cerr = ingest.Capture(ctx, src, lake, ingest.Options{Sensor: "replay"}, ingest.CaptureOptions{Interface: "fake0", Tick: 10 * time.Millisecond})
	}()
	// Wait until every frame was taken (the source says so: the reader
	// itself belongs to the capture's goroutine), then stop.
	select {
	case <-src.drained:
	case <-time.After(10 * time.Second):
		t.Error("the capture did not take every frame within 10 s")
	}
	cancel()
	<-done
	if cerr != nil {
		t.Fatal(cerr)
	}
	if st.Packets != 7938 || st.Flows == 0 || len(st.Published) == 0 {
		t.Fatalf("stats %+v", st)
	}
	if _, pkts := sumColumn(t, dir, "tetration/flows", "pkts"); pkts != 7938 {
		t.Errorf("%d packets in the lake's flows, want 7938", pkts)
	}
}

// TestCapturePublishesWhileRunning has the clock jump a minute at every
// tick, so the capture publishes what it buffered while it runs (the
// writer's flush request travels through the same queue as the records).
func TestCapturePublishesWhileRunning(t *testing.T) {
	src, _ := replay(t, "good/zeek__conn-size.pcap")
	lake, dir := openLake(t)
	var mu sync.Mutex
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Minute)
		return clock
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := ingest.Capture(ctx, src, lake, ingest.Options{Sensor: "replay", Now: now}, ingest.CaptureOptions{Interface: "fake0", Tick: 5 * time.Millisecond})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "tetration", "flows", "dt=*", "hr=*", "*.parquet"))
		if len(files) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("capture ended before publishing: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing published while the capture ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLiveCaptureOnLoopback captures on lo while the test sends UDP
// datagrams to itself, to two ports, and finds their flows in the lake:
// each datagram once (lo delivers an outgoing and an incoming copy; the
// capture drops the outgoing one), and with a filter only the port it
// names. It needs CAP_NET_RAW and skips without it.
func TestLiveCaptureOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("live capture")
	}
	for _, filtered := range []bool{false, true} {
		t.Run(fmt.Sprintf("filtered=%v", filtered), func(t *testing.T) {
			live, err := pcap.OpenLive("lo", 0)
			if err != nil {
				t.Skipf("no live capture here: %v", err)
			}
			lake, dir := openLake(t)
			var ports [2]int
			for i := range ports {
				srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				ports[i] = srv.LocalAddr().(*net.UDPAddr).Port
			}
			if filtered {
				prog, err := pcap.CompileFilter(fmt.Sprintf("udp and dst port %d", ports[0]), 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := live.SetFilter(prog); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := ingest.Capture(ctx, live, lake, ingest.Options{Sensor: "test"}, ingest.CaptureOptions{Interface: "lo"})
				done <- err
			}()
			time.Sleep(200 * time.Millisecond) // the sockets are bound already; let the loop start
			for _, port := range ports {
				cl, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 5; i++ {
					if _, err := cl.Write([]byte("flowlab live capture test")); err != nil {
						t.Fatal(err)
					}
				}
				cl.Close()
			}
			time.Sleep(300 * time.Millisecond)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got := udpPacketsByPort(t, dir)
			want := map[int]int64{ports[0]: 5, ports[1]: 5}
			if filtered {
				want = map[int]int64{ports[0]: 5}
			}
			for _, port := range ports {
				if got[port] != want[port] {
					t.Errorf("UDP to port %d: %d packets in the lake's flows, want %d", port, got[port], want[port])
				}
			}
		})
	}
}

// udpPacketsByPort sums fwd_pkts of the UDP flows in the lake by
// destination port.
func udpPacketsByPort(t *testing.T, dir string) map[int]int64 {
	t.Helper()
	out := map[int]int64{}
	files, _ := filepath.Glob(filepath.Join(dir, "tetration", "flows", "dt=*", "hr=*", "*.parquet"))
	for _, f := range files {
		rdr, err := file.OpenParquetFile(f, false)
		if err != nil {
			t.Fatal(err)
		}
		fr, _ := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dp := tbl.Column(tbl.Schema().FieldIndices("dst_port")[0]).Data().Chunk(0).(*array.Int32)
		fp := tbl.Column(tbl.Schema().FieldIndices("fwd_pkts")[0]).Data().Chunk(0).(*array.Int64)
		pr := tbl.Column(tbl.Schema().FieldIndices("proto")[0]).Data().Chunk(0)
		for i := 0; i < dp.Len(); i++ {
			if pr.ValueStr(i) == "UDP" {
				out[int(dp.Value(i))] += fp.Value(i)
			}
		}
		tbl.Release()
		rdr.Close()
	}
	return out
}
