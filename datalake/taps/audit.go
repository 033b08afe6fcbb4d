package taps

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Record is the audit record of one acknowledged message: who sent it and
// where the broker stored it. The message itself is not kept; the topic
// holds it at Partition/Offset.
type Record struct {
	Time      time.Time `json:"time"`
	App       string    `json:"app,omitempty"`
	Run       string    `json:"run,omitempty"`
	Tap       string    `json:"tap"`
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Bytes     int       `json:"bytes"`
}

// Recorder keeps audit records. The taps call it once per acknowledged
// message, possibly from several goroutines at once.
type Recorder interface {
	Record(r Record) error
}

var (
	_ Recorder = (*MemoryRecorder)(nil)
	_ Recorder = (*JSONLRecorder)(nil)
	_ Recorder = LogRecorder{}
)

// MemoryRecorder keeps records in memory. The zero value is ready; it is
// safe for concurrent use.
type MemoryRecorder struct {
	mu      sync.Mutex
	records []Record
}

// Record appends r.
func (m *MemoryRecorder) Record(r Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, r)
	return nil
}

// Records returns a copy of the records so far, in the order recorded.
func (m *MemoryRecorder) Records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.records...)
}

// JSONLRecorder appends records to a file, one JSON object per line. Each
// record is one write to a file opened with O_APPEND, so several kernels may
// share a file. Safe for concurrent use.
type JSONLRecorder struct {
	mu sync.Mutex
	f  *os.File
}

// OpenJSONL opens (creating if needed) the audit file at path.
func OpenJSONL(path string) (*JSONLRecorder, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open the taps audit file: %w", err)
	}
	return &JSONLRecorder{f: f}, nil
}

// Record appends r as one line.
func (j *JSONLRecorder) Record(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("taps audit: %w", os.ErrClosed)
	}
	_, err = j.f.Write(b)
	return err
}

// Close closes the file.
func (j *JSONLRecorder) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// LogRecorder logs records at info level; it is what a Set uses when given
// no Recorder. A nil Logger discards.
type LogRecorder struct {
	Logger *slog.Logger
}

// Record logs r.
func (l LogRecorder) Record(r Record) error {
	if l.Logger != nil {
		l.Logger.Info("tap message", "app", r.App, "run", r.Run, "tap", r.Tap, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "bytes", r.Bytes)
	}
	return nil
}
