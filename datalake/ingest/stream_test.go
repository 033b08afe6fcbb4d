package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/datalake/pcap"
)

// fileSource replays a capture file as a LiveSource.
type fileSource struct {
	*pcap.Reader
	c interface{ Close() error }
}

func (s fileSource) Close() error { return s.c.Close() }

func openFile(t *testing.T, path string) fileSource {
	t.Helper()
	r, c, err := pcap.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileSource{r, c}
}

// memSink is a RecordSink keeping what it receives.
type memSink struct {
	mu      sync.Mutex
	flows   []datalake.Flow
	packets []datalake.Packet
	flushes int
	fail    error // returned by SendFlows once set
}

func (s *memSink) SendFlows(f []datalake.Flow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.flows = append(s.flows, f...)
	return nil
}

func (s *memSink) SendPackets(p []datalake.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packets = append(s.packets, p...)
	return nil
}

func (s *memSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	return nil
}

type tupleCount struct{ flows, pkts, bytes int64 }

// byTuple sums records per (src, dst, sport, dport, proto).
func byTuple(flows []datalake.Flow) map[string]tupleCount {
	out := map[string]tupleCount{}
	for _, f := range flows {
		k := strings.Join([]string{f.SrcAddress, f.DstAddress, itoa(f.SrcPort), itoa(f.DstPort), f.Proto}, " ")
		c := out[k]
		c.flows++
		c.pkts += f.Pkts
		c.bytes += f.Bytes
		out[k] = c
	}
	return out
}

func itoa(v int32) string { b, _ := json.Marshal(v); return string(b) }

// TestCaptureReplayToSink: a capture file replayed through Capture with a
// sink gives the sink the records IngestFile writes to the lake, and the
// sink is flushed before Capture returns.
func TestCaptureReplayToSink(t *testing.T) {
	src := filepath.Join(corpus, "tcpstate", "curated-pcaps__tcp_control_two_way_all_flags.pcap")
	sink := &memSink{}
	st, err := ingest.Capture(context.Background(), openFile(t, src), nil, ingest.Options{Sensor: "s", Packets: true},
		ingest.CaptureOptions{Interface: filepath.Base(src), Sink: sink, Replay: true, Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 7938 || st.Flows != uint64(len(sink.flows)) || st.PacketRecords != uint64(len(sink.packets)) || sink.flushes == 0 || len(st.Published) != 0 {
		t.Fatalf("stats %+v, sink has %d flows, %d packets, %d flushes", st, len(sink.flows), len(sink.packets), sink.flushes)
	}
	lake := t.TempDir()
	if _, err := newIngester(t, lake, ingest.Options{Sensor: "s"}).IngestFile(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	rows, pkts := sumColumn(t, lake, "tetration/flows", "pkts")
	_, bytes := sumColumn(t, lake, "tetration/flows", "bytes")
	var sp, sb int64
	for _, f := range sink.flows {
		sp += f.Pkts
		sb += f.Bytes
	}
	if rows != int64(len(sink.flows)) || pkts != sp || bytes != sb || sp != 7938 {
		t.Errorf("sink: %d flows, %d packets, %d bytes; file ingest: %d, %d, %d", len(sink.flows), sp, sb, rows, pkts, bytes)
	}
}

// TestCaptureStopsWhenTheSinkFails: a sink that fails for good ends the
// capture with its error.
func TestCaptureStopsWhenTheSinkFails(t *testing.T) {
	boom := errors.New("broker gone")
	sink := &memSink{fail: boom}
	src := filepath.Join(corpus, "good", "zeek__conn-size.pcap")
	_, err := ingest.Capture(context.Background(), openFile(t, src), nil, ingest.Options{},
		ingest.CaptureOptions{Sink: sink, Replay: true, Tick: time.Millisecond})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the sink's", err)
	}
	if _, err := ingest.Capture(context.Background(), openFile(t, src), nil, ingest.Options{}, ingest.CaptureOptions{}); !errors.Is(err, datalake.ErrNotConfigured) {
		t.Errorf("no lake, no sink: %v", err)
	}
}

// streamRecords are the flows and packets of a small capture.
func streamRecords(t *testing.T) ([]datalake.Flow, []datalake.Packet) {
	t.Helper()
	sink := &memSink{}
	src := filepath.Join(corpus, "good", "zeek__conn-size.pcap")
	if _, err := ingest.Capture(context.Background(), openFile(t, src), nil, ingest.Options{Packets: true},
		ingest.CaptureOptions{Sink: sink, Replay: true}); err != nil {
		t.Fatal(err)
	}
	return sink.flows, sink.packets
}

func newStreamWriter(t *testing.T, lake string) *ingest.StreamWriter {
	t.Helper()
	w, err := ingest.NewStreamWriter(lake, ingest.Options{Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func resume(t *testing.T, w *ingest.StreamWriter, topic string, p int32) int64 {
	t.Helper()
	n, err := w.Resume(topic, p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStreamWriterPublishesOnce(t *testing.T) {
	flows, packets := streamRecords(t)
	lake := t.TempDir()
	w := newStreamWriter(t, lake)
	if n := resume(t, w, "flows", 0); n != -1 {
		t.Fatalf("empty lake resumes at %d", n)
	}
	for _, tc := range []struct {
		name        string
		topic       string
		partition   int32
		first, last int64
		flows       []datalake.Flow
		packets     []datalake.Packet
		want        error
		next        int64 // Resume after it
	}{
		{"first batch", "flows", 0, 0, 9, flows[:2], nil, nil, 10},
		{"next batch with packets", "flows", 0, 10, 19, flows[2:], packets, nil, 20},
		{"a batch again", "flows", 0, 10, 19, flows[2:], packets, ingest.ErrStale, 20},
		{"overlapping", "flows", 0, 15, 30, flows[:1], nil, ingest.ErrStale, 20},
		{"only malformed messages", "flows", 0, 20, 24, nil, nil, nil, 25},
		{"another partition", "flows", 1, 0, 0, flows[:1], nil, nil, 1},
		{"another topic", "flows.v2", 0, 100, 100, flows[:1], nil, nil, 101},
		{"offsets backwards", "flows", 3, 5, 4, nil, nil, datalake.ErrBadArgument, -1},
		{"a flow without time", "flows", 4, 0, 0, []datalake.Flow{{FlowID: "x"}}, nil, datalake.ErrBadArgument, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := w.Publish(tc.topic, tc.partition, tc.first, tc.last, tc.flows, tc.packets)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && len(files) == 0 && len(tc.flows) > 0 {
				t.Error("no files published")
			}
			if n := resume(t, w, tc.topic, tc.partition); n != tc.next {
				t.Errorf("resume at %d, want %d", n, tc.next)
			}
		})
	}
	rows, pkts := sumColumn(t, lake, "tetration/flows", "pkts")
	var want int64
	for _, f := range flows {
		want += f.Pkts
	}
	if rows != int64(len(flows))+2 || pkts != want+flows[0].Pkts*2 {
		t.Errorf("lake has %d flows with %d packets, want %d with %d", rows, pkts, len(flows)+2, want+flows[0].Pkts*2)
	}
	if rows, _ := sumColumn(t, lake, "tetration/packets", "seq"); rows != int64(len(packets)) {
		t.Errorf("lake has %d packets, want %d", rows, len(packets))
	}
	if st, _ := filepath.Glob(filepath.Join(lake, ".ingest", "staging", "*")); len(st) != 0 {
		t.Errorf("staging left behind: %v", st)
	}
}

// TestStreamWriterFinishesAnInterruptedCommit: a crash after the commit
// log was written and before the files were all moved is finished by the
// next Resume, files and offsets both; an older log finished late does not
// move the offsets back.
func TestStreamWriterFinishesAnInterruptedCommit(t *testing.T) {
	flows, _ := streamRecords(t)
	lake := t.TempDir()
	w := newStreamWriter(t, lake)
	files, err := w.Publish("flows", 2, 40, 49, flows, nil)
	if err != nil {
		t.Fatal(err)
	}
	offsets := filepath.Join(lake, ".ingest", "offsets", "flows", "2.json")
	saved, err := os.ReadFile(offsets)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(files[0]), "part-"), "-00001.parquet")
	rel := strings.TrimPrefix(files[0], "/")
	staged := filepath.Join(lake, ".ingest", "staging", key, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(lake, filepath.FromSlash(rel)), staged); err != nil {
		t.Fatal(err)
	}
	log := `{"moves":[{"from":".ingest/staging/` + key + `/` + rel + `","to":"` + rel + `"}],"ledger":{},"offsets":` + string(saved) + `}`
	commit := filepath.Join(lake, ".ingest", "ledger", key+".commit")
	if err := os.WriteFile(commit, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(offsets); err != nil {
		t.Fatal(err)
	}
	if n := resume(t, w, "flows", 1); n != -1 {
		t.Errorf("partition 1 resumes at %d", n)
	}
	if _, err := os.Stat(commit); err != nil {
		t.Fatal("another partition's Resume finished this commit")
	}
	if n := resume(t, w, "flows", 2); n != 50 {
		t.Errorf("resume at %d, want 50", n)
	}
	if rows, _ := sumColumn(t, lake, "tetration/flows", "pkts"); rows != int64(len(flows)) {
		t.Errorf("%d flows in the lake, want %d", rows, len(flows))
	}
	if _, err := w.Publish("flows", 2, 50, 59, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(commit, []byte(`{"moves":[],"ledger":{},"offsets":`+string(saved)+`}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := resume(t, w, "flows", 2); n != 60 {
		t.Errorf("an old commit log moved the offsets to %d, want 60", n)
	}
}
