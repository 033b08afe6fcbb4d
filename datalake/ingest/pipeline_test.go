package ingest

import (
	"context"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/pcap"
)

// udpFrame is an Ethernet frame of one IPv4 UDP datagram from 10.0.0.1 to
// 10.0.0.2 with the given source port, captured at t.
func udpFrame(t time.Time, sport uint16) pcap.Frame {
	b := make([]byte, 14+20+8)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], 28)
	copy(ip[12:], []byte{10, 0, 0, 1})
	copy(ip[16:], []byte{10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], 53)
	binary.BigEndian.PutUint16(ip[24:], 8)
	return pcap.Frame{Data: b, Time: t.UnixNano(), WireLen: len(b), LinkType: pcap.LinkEthernet}
}

// gatedSource returns frames; before the frame at index gate it waits until
// open is closed (or fails the test after a timeout).
type gatedSource struct {
	t      *testing.T
	frames []pcap.Frame
	gate   int
	open   chan struct{}
	i      int
}

func (s *gatedSource) Next() (pcap.Frame, error) {
	if s.i == s.gate {
		select {
		case <-s.open:
		case <-time.After(10 * time.Second):
			s.t.Error("the earlier hour was not published while the input went on")
			return pcap.Frame{}, io.EOF
		}
	}
	if s.i >= len(s.frames) {
		return pcap.Frame{}, io.EOF
	}
	s.i++
	return s.frames[s.i-1], nil
}

// hourPublisher records the hours of the files published and closes
// first when a file of hour is published.
type hourPublisher struct {
	mu    sync.Mutex
	hours []time.Time
	hour  time.Time
	first chan struct{}
}

func (p *hourPublisher) Publish(dataset string, hour time.Time, format string, write func(w io.Writer) error) (string, error) {
	if err := write(io.Discard); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hours = append(p.hours, hour)
	if hour.Equal(p.hour) && p.first != nil {
		close(p.first)
		p.first = nil
	}
	return "/" + dataset + "/" + hour.Format(time.RFC3339), nil
}

// TestHourSealedWhileReading: once frames of a later hour arrive, the
// earlier hour is published while the input is still being read, not at
// its end; the source does not go on until it is.
func TestHourSealedWhileReading(t *testing.T) {
	h0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	var frames []pcap.Frame
	for i := range 100 {
		frames = append(frames, udpFrame(h0.Add(time.Duration(i)*20*time.Second), uint16(1000+i)))
	}
	gate := len(frames) + 1 // a frame of the next hour, then the gate
	for i := range 100 {
		frames = append(frames, udpFrame(h0.Add(time.Hour+time.Duration(i)*time.Second), uint16(5000+i)))
	}
	pub := &hourPublisher{hour: h0, first: make(chan struct{})}
	src := &gatedSource{t: t, frames: frames, gate: gate, open: pub.first}
	p, err := newPipeline(pub, nil, Options{Sensor: "test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	damage, err := p.run(context.Background(), src, func(bool) {})
	if err != nil || damage != nil {
		t.Fatal(err, damage)
	}
	if p.flows.Load() != 200 {
		t.Errorf("%d flow records, want 200", p.flows.Load())
	}
	// The first hour once (sealed), the second at the end.
	if len(pub.hours) != 2 || !pub.hours[0].Equal(h0) || !pub.hours[1].Equal(h0.Add(time.Hour)) {
		t.Errorf("published hours %v, want %v then %v", pub.hours, h0, h0.Add(time.Hour))
	}
}
