package taps

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// auditBatch is n records of one send, as Set.record makes them.
func auditBatch(n int, base Record) []Record {
	rs := make([]Record, n)
	for i := range rs {
		r := base
		r.Offset = base.Offset + int64(i)
		r.Bytes = 150 + i%97
		rs[i] = r
	}
	return rs
}

// TestRecordBatchWritesWhatRecordWrites checks the batch fast path against
// json.Marshal, one record at a time, byte for byte.
func TestRecordBatchWritesWhatRecordWrites(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	local := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	long := Record{Time: at, App: string(bytes.Repeat([]byte("a"), 300)), Tap: "Alerts", Topic: "alerts"}
	mixed := append(auditBatch(3, Record{Time: at, App: "lab", Tap: "Alerts", Topic: "alerts"}),
		auditBatch(2, Record{Time: local, Run: "run-7", Tap: "Bulk", Topic: "bulk", Partition: 3, Offset: 1 << 40})...)
	tests := []struct {
		name string
		rs   []Record
	}{
		{"one", auditBatch(1, Record{Time: at, App: "lab", Tap: "Alerts", Topic: "alerts"})},
		{"no app or run", auditBatch(5, Record{Time: at, Tap: "Alerts", Topic: "alerts"})},
		{"names needing escapes", auditBatch(5, Record{Time: at, App: "<lab> \"x\"", Run: "é\n", Tap: `t "partition":1`, Topic: "a.b-c_d"})},
		{"sources change within the batch", mixed},
		{"over one write", auditBatch(5000, long)}, // ~2 MB: three writes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			one, err := OpenJSONL(filepath.Join(dir, "one.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			batch, err := OpenJSONL(filepath.Join(dir, "batch.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.rs {
				if err := one.Record(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := batch.recordBatch(tt.rs); err != nil {
				t.Fatal(err)
			}
			one.Close()
			batch.Close()
			want, _ := os.ReadFile(filepath.Join(dir, "one.jsonl"))
			got, _ := os.ReadFile(filepath.Join(dir, "batch.jsonl"))
			if !bytes.Equal(got, want) {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				t.Fatalf("recordBatch wrote %d bytes, Record %d; first difference at byte %d:\n got %q\nwant %q",
					len(got), len(want), i, got[max(0, i-40):min(len(got), i+40)], want[max(0, i-40):min(len(want), i+40)])
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		r, err := OpenJSONL(filepath.Join(t.TempDir(), "a.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if err := r.recordBatch(auditBatch(2, Record{})); !errors.Is(err, os.ErrClosed) {
			t.Errorf("recordBatch after close: %v, want os.ErrClosed", err)
		}
	})
}

// BenchmarkJSONLRecorder compares auditing a 10,000-message batch record
// by record with recordBatch.
func BenchmarkJSONLRecorder(b *testing.B) {
	rs := auditBatch(10000, Record{Time: time.Now().UTC(), App: "portscan", Run: "run-7", Tap: "Alerts", Topic: "siem.alerts"})
	for _, mode := range []string{"Record", "recordBatch"} {
		b.Run(mode, func(b *testing.B) {
			j, err := OpenJSONL(filepath.Join(b.TempDir(), "audit.jsonl"))
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			for b.Loop() {
				if mode == "recordBatch" {
					err = j.recordBatch(rs)
				} else {
					for _, r := range rs {
						if err = j.Record(r); err != nil {
							break
						}
					}
				}
				if err != nil {
					b.Fatal(fmt.Errorf("%s: %w", mode, err))
				}
			}
		})
	}
}

// TestRecordKeepsOnlyAcknowledged checks that a partly failed send records
// exactly the messages the broker acknowledged.
func TestRecordKeepsOnlyAcknowledged(t *testing.T) {
	rec := &MemoryRecorder{}
	s := &Set{opts: Options{Recorder: rec, Now: func() time.Time { return time.Unix(0, 0) }, App: "lab4"}}
	tp := &tap{name: "Alerts", cfg: TapConfig{Topic: "alerts"}}
	s.record(tp, []string{"a", "bb", "ccc", "dddd"}, []Delivery{{0, 10}, {0, -1}, {0, 11}, {0, -1}})
	got := rec.Records()
	if len(got) != 2 || got[0].Offset != 10 || got[0].Bytes != 1 || got[1].Offset != 11 || got[1].Bytes != 3 || got[0].App != "lab4" {
		t.Fatalf("records %+v, want offsets 10 (1 byte) and 11 (3 bytes)", got)
	}
	s.record(tp, []string{"x"}, []Delivery{{0, -1}})
	if n := len(rec.Records()); n != 2 {
		t.Errorf("an unacknowledged message was recorded: %d records", n)
	}
}
