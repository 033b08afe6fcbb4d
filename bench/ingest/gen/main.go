// Command gen writes the synthetic capture bench/ingest measures: an
// Ethernet pcap of TCP connections (handshake, data both ways, FIN close)
// and DNS-like UDP exchanges between many hosts, interleaved, with a TCP
// SYN port scan inside (one scanner, 1,024 ports of one target, answered
// by RST/ACK), spread over about two hours so flows cross an hour
// boundary. Output is deterministic for a given seed.
//
//	go run ./bench/ingest/gen -o /tmp/bench.pcap -packets 3200000
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	out := flag.String("o", "bench.pcap", "output `file`")
	packets := flag.Int("packets", 3_200_000, "approximate number of `packets`")
	perFlow := flag.Int("per-flow", 10, "average packets per TCP flow")
	payload := flag.Int("payload", 640, "average TCP payload `bytes` of data packets")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*out, *packets, *perFlow, *payload, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

type conn struct {
	cli, srv     [4]byte
	cport, sport uint16
	cseq, sseq   uint32
	step, steps  int
	udp          bool
}

func run(path string, packets, perFlow, payload int, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 4<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Date(2024, 5, 1, 9, 20, 0, 0, time.UTC)
	span := 2 * time.Hour
	step := span / time.Duration(packets)
	now := start
	buf := make([]byte, 0, 2048)
	var active []*conn
	written, flows, scanPort := 0, 0, 0
	scanAt := packets / 2
	newConn := func() *conn {
		flows++
		c := &conn{
			cli:   [4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(1 + rng.IntN(250))},
			srv:   [4]byte{172, 16, byte(rng.IntN(16)), byte(1 + rng.IntN(250))},
			cport: uint16(1024 + rng.IntN(60000)), cseq: rng.Uint32(), sseq: rng.Uint32(),
		}
		if rng.IntN(10) == 0 {
			c.udp, c.sport, c.steps = true, 53, 2
		} else {
			c.sport = []uint16{80, 443, 443, 22, 8080}[rng.IntN(5)]
			c.steps = 6 + rng.IntN(2*(perFlow-6)+1)
		}
		return c
	}
	emit := func(data []byte) error {
		ci := gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(data), Length: len(data)}
		written++
		now = now.Add(step)
		return w.WritePacket(ci, data)
	}
	for written < packets {
		if written >= scanAt && scanPort < 1024 {
			// The port scan: SYN to the next port, RST/ACK back.
			scanner, target := [4]byte{192, 0, 2, 66}, [4]byte{172, 16, 0, 10}
			p := uint16(1 + scanPort)
			scanPort++
			if err := emit(tcp(buf, scanner, target, 40000, p, 1000, 0, 0x02, 0)); err != nil {
				return err
			}
			if err := emit(tcp(buf, target, scanner, p, 40000, 0, 1001, 0x14, 0)); err != nil {
				return err
			}
			continue
		}
		if len(active) < 256 {
			active = append(active, newConn())
		}
		i := rng.IntN(len(active))
		c := active[i]
		var data []byte
		if c.udp {
			if c.step == 0 {
				data = udp(buf, c.cli, c.srv, c.cport, c.sport, 40)
			} else {
				data = udp(buf, c.srv, c.cli, c.sport, c.cport, 120)
			}
		} else {
			last := c.steps - 1
			switch {
			case c.step == 0:
				data = tcp(buf, c.cli, c.srv, c.cport, c.sport, c.cseq, 0, 0x02, 0)
				c.cseq++
			case c.step == 1:
				data = tcp(buf, c.srv, c.cli, c.sport, c.cport, c.sseq, c.cseq, 0x12, 0)
				c.sseq++
			case c.step == 2:
				data = tcp(buf, c.cli, c.srv, c.cport, c.sport, c.cseq, c.sseq, 0x10, 0)
			case c.step == last-2:
				data = tcp(buf, c.cli, c.srv, c.cport, c.sport, c.cseq, c.sseq, 0x11, 0)
				c.cseq++
			case c.step == last-1:
				data = tcp(buf, c.srv, c.cli, c.sport, c.cport, c.sseq, c.cseq, 0x11, 0)
				c.sseq++
			case c.step == last:
				data = tcp(buf, c.cli, c.srv, c.cport, c.sport, c.cseq, c.sseq, 0x10, 0)
			default:
				n := payload/2 + rng.IntN(payload+1)
				if rng.IntN(2) == 0 {
					data = tcp(buf, c.cli, c.srv, c.cport, c.sport, c.cseq, c.sseq, 0x18, n)
					c.cseq += uint32(n)
				} else {
					data = tcp(buf, c.srv, c.cli, c.sport, c.cport, c.sseq, c.cseq, 0x18, n)
					c.sseq += uint32(n)
				}
			}
		}
		c.step++
		if c.step >= c.steps {
			active[i] = active[len(active)-1]
			active = active[:len(active)-1]
		}
		if err := emit(data); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("%s: %d packets, %d flows started, port scan of %d ports\n", path, written, flows, scanPort)
	return nil
}

func eth(b []byte) []byte {
	b = append(b[:0], 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00)
	return b
}

func ipv4(b []byte, src, dst [4]byte, proto byte, l4len int) []byte {
	total := 20 + l4len
	b = append(b, 0x45, 0, byte(total>>8), byte(total), 0, 0, 0x40, 0, 64, proto, 0, 0)
	b = append(b, src[:]...)
	return append(b, dst[:]...)
}

func tcp(buf []byte, src, dst [4]byte, sp, dp uint16, seq, ack uint32, flags byte, n int) []byte {
	b := ipv4(eth(buf), src, dst, 6, 20+n)
	b = binary.BigEndian.AppendUint16(b, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = binary.BigEndian.AppendUint32(b, ack)
	b = append(b, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0)
	return append(b, make([]byte, n)...)
}

func udp(buf []byte, src, dst [4]byte, sp, dp uint16, n int) []byte {
	b := ipv4(eth(buf), src, dst, 17, 8+n)
	b = binary.BigEndian.AppendUint16(b, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	b = binary.BigEndian.AppendUint16(b, uint16(8+n))
	b = append(b, 0, 0)
	return append(b, make([]byte, n)...)
}
