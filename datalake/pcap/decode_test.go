package pcap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/pcap"
)

// TestDecodeAgreesWithGopacket decodes every frame of the good and tcpstate
// captures with gopacket's own layer decoders as an independent reference
// and compares the outermost IP layer: addresses, protocol, TTL, ports,
// TCP flags, sequence numbers and the IP-level length.
//
// Where gopacket is known to be wrong the frame is listed in gopacketWrong
// with the reason, and tshark is the tie-breaker.
func TestDecodeAgreesWithGopacket(t *testing.T) {
	gopacketWrong := map[string]string{
		// tshark: "Bogus TCP header length (0, must be at least 20)";
		// gopacket still fills the TCP fields.
		"gopacket__layers_testdata_linux_sll_oversized_addr.pcapng#95": "TCP data offset 0",
	}
	for _, path := range captures(t, "good", "tcpstate", "communityid") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			r, c, err := pcap.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var d pcap.Decoder
			var fr flowtable.Frame
			compared := 0
			for i := 1; ; i++ {
				f, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				ok := d.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &fr)
				pkt := gopacket.NewPacket(f.Data, layers.LinkType(f.LinkType), gopacket.Default)
				ref, refOK := reference(pkt)
				if !refOK || gopacketWrong[fmt.Sprintf("%s#%d", filepath.Base(path), i)] != "" {
					continue
				}
				if !ok {
					t.Errorf("frame %d: gopacket decodes %+v, we found no IP", i, ref)
					continue
				}
				got := fr.Layers[0]
				g := refPacket{src: got.Src, dst: got.Dst, proto: got.Proto, ttl: got.TTL, ipLen: got.IPLen, noL4: ref.noL4, lengthZero: ref.lengthZero}
				if got.HasPorts && (got.Proto == 6 || got.Proto == 17) && !ref.noL4 {
					g.sport, g.dport = got.SrcPort, got.DstPort
				}
				if got.HasTCP && !ref.noL4 {
					g.flags, g.seq, g.ack = got.TCPFlags, got.Seq, got.Ack
				}
				if ref.lengthZero {
					// gopacket has no rule for a zero length field (TSO,
					// BIG TCP); TestLengthRules pins ours.
					g.ipLen, ref.ipLen = 0, 0
				}
				if g != ref {
					t.Errorf("frame %d:\n got %+v\nwant %+v (gopacket)", i, g, ref)
				}
				compared++
			}
			if lt := layers.LinkType(d.Stats.IP); compared == 0 && lt > 0 && !strings.Contains(path, "LINKTYPE_IPV") {
				t.Errorf("no frame compared")
			}
		})
	}
}

type refPacket struct {
	src, dst     netip.Addr
	proto, ttl   uint8
	sport, dport uint16
	flags        uint8
	seq, ack     uint32
	ipLen        uint32
	noL4         bool // gopacket does not decode the transport (fragment, zero length)
	lengthZero   bool // the IP length field is 0
}

// reference extracts the outermost IP layer as gopacket decodes it.
func reference(p gopacket.Packet) (refPacket, bool) {
	var r refPacket
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		r.src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		r.dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		r.proto, r.ttl = uint8(ip.Protocol), ip.TTL
		r.ipLen = uint32(ip.Length)
		r.lengthZero = binary.BigEndian.Uint16(ip.Contents[2:4]) == 0
		if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
			r.noL4 = true // gopacket does not decode inside fragments
			return r, true
		}
	case *layers.IPv6:
		r.src, _ = netip.AddrFromSlice(ip.SrcIP)
		r.dst, _ = netip.AddrFromSlice(ip.DstIP)
		r.ttl = ip.HopLimit
		r.ipLen = uint32(ip.Length) + 40
		if ip.Length == 0 {
			r.lengthZero = true
		}
		r.proto = uint8(ip.NextHeader)
		for _, l := range p.Layers() {
			switch e := l.(type) {
			case *layers.IPv6HopByHop:
				r.proto = uint8(e.NextHeader)
			case *layers.IPv6Fragment:
				r.proto = uint8(e.NextHeader)
			case *layers.IPv6Destination:
				r.proto = uint8(e.NextHeader)
			case *layers.IPv6Routing:
				r.proto = uint8(e.NextHeader)
			}
		}
	default:
		return r, false
	}
	if r.lengthZero && r.src.Is6() {
		r.noL4 = true // gopacket stops at a zero IPv6 payload length
		return r, true
	}
	// Only a transport header carried directly by the outer IP layer
	// (after IPv6 extension headers) is the outer layer's; GRE's inner
	// packets are compared as tunnels elsewhere.
	if r.proto != 6 && r.proto != 17 {
		return r, true
	}
	switch l4 := p.TransportLayer().(type) {
	case *layers.TCP:
		r.sport, r.dport = uint16(l4.SrcPort), uint16(l4.DstPort)
		r.seq, r.ack = l4.Seq, l4.Ack
		for i, b := range []bool{l4.FIN, l4.SYN, l4.RST, l4.PSH, l4.ACK, l4.URG, l4.ECE, l4.CWR} {
			if b {
				r.flags |= 1 << i
			}
		}
	case *layers.UDP:
		r.sport, r.dport = uint16(l4.SrcPort), uint16(l4.DstPort)
	}
	return r, true
}

// TestLengthRules pins the IP-length rules on the captures made for them.
func TestLengthRules(t *testing.T) {
	tests := []struct {
		file       string
		ipLen      uint32
		payloadLen uint32
		proto      uint8
	}{
		// IPv4 total length 0 (TSO): 2016 bytes from the capture.
		{"good/tcpdump__ipv4_tcp_http_xml_tso.pcap", 2016, 2016 - 20 - 20, 6},
		// BIG TCP IPv4: total length 0, 80,052 captured bytes after Ethernet.
		{"good/tcpdump__bigtcp-ipv4.pcap", 80052, 80052 - 20 - 32, 6},
		// BIG TCP IPv6: payload length 0 and no jumbo option; a 32-byte TCP
		// header as in its IPv4 twin.
		{"good/tcpdump__bigtcp-ipv6.pcap", 80040, 80040 - 40 - 32, 6},
		// Jumbogram: payload length 0, jumbo option 65,536.
		{"good/tcpdump__ipv6_jumbogram_1.pcap", 40 + 65536, 65536 - 8 - 8, 58},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			r, c, err := pcap.Open(filepath.Join(corpus, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			f, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			var d pcap.Decoder
			var fr flowtable.Frame
			if !d.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &fr) {
				t.Fatalf("no IP layer: %+v", d.Stats)
			}
			p := fr.Layers[0]
			if p.IPLen != tc.ipLen || p.PayloadLen != tc.payloadLen || p.Proto != tc.proto {
				t.Errorf("IPLen %d PayloadLen %d Proto %d; want %d %d %d", p.IPLen, p.PayloadLen, p.Proto, tc.ipLen, tc.payloadLen, tc.proto)
			}
		})
	}
}

// TestLinkTypes decodes one hand-built IPv4/UDP packet behind every link
// header the decoder knows.
func TestLinkTypes(t *testing.T) {
	ip := []byte{
		0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4, total 32
		0x30, 0x39, 0, 53, 0, 12, 0, 0, 'a', 'b', 'c', 'd', // UDP 12345 -> 53
	}
	eth := append([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00}, ip...)
	vlan := append([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa8, 0, 100, 0x81, 0x00, 0, 200, 0x08, 0x00}, ip...)
	sll := append([]byte{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00}, ip...)
	sll2 := append([]byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, ip...)
	nullLE := append([]byte{2, 0, 0, 0}, ip...)
	nullBE := append([]byte{0, 0, 0, 2}, ip...)
	loop := append([]byte{0, 0, 0, 2}, ip...)
	gre := append([]byte{
		0x45, 0, 0, byte(20 + 4 + len(ip)), 0, 2, 0, 0, 64, 47, 0, 0, 192, 168, 0, 1, 192, 168, 0, 2,
		0, 0, 0x08, 0x00,
	}, ip...)
	tests := []struct {
		name   string
		link   uint32
		data   []byte
		layers int
		vlans  uint8
	}{
		{"ethernet", pcap.LinkEthernet, eth, 1, 0},
		{"qinq", pcap.LinkEthernet, vlan, 1, 2},
		{"sll", pcap.LinkSLL, sll, 1, 0},
		{"sll2", pcap.LinkSLL2, sll2, 1, 0},
		{"null little-endian", pcap.LinkNull, nullLE, 1, 0},
		{"null big-endian", pcap.LinkNull, nullBE, 1, 0},
		{"loop", pcap.LinkLoop, loop, 1, 0},
		{"raw", pcap.LinkRaw, ip, 1, 0},
		{"ipv4", pcap.LinkIPv4, ip, 1, 0},
		{"ipv6 link with ipv4 inside", pcap.LinkIPv6, ip, 0, 0},
		{"gre", pcap.LinkRaw, gre, 2, 0},
		{"unknown link", 147, ip, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d pcap.Decoder
			var fr flowtable.Frame
			d.Decode(tc.link, tc.data, len(tc.data), 1, &fr)
			if fr.N != tc.layers {
				t.Fatalf("%d layers, want %d (%+v)", fr.N, tc.layers, d.Stats)
			}
			if fr.N == 0 {
				return
			}
			p := fr.Layers[fr.N-1]
			if p.Src.String() != "10.0.0.1" || p.Dst.String() != "10.0.0.2" || p.SrcPort != 12345 || p.DstPort != 53 || p.PayloadLen != 4 || p.IPLen != 32 {
				t.Errorf("inner layer %+v", p)
			}
			if fr.Layers[0].VLANs != tc.vlans || (tc.vlans == 2 && (fr.Layers[0].VLANID != 100 || fr.Layers[0].InnerVLANID != 200)) {
				t.Errorf("vlans %d %d/%d", fr.Layers[0].VLANs, fr.Layers[0].VLANID, fr.Layers[0].InnerVLANID)
			}
			if fr.N == 2 && (fr.Layers[1].Depth != 1 || fr.Layers[0].Proto != 47) {
				t.Errorf("tunnel layers %+v", fr.Layers[:2])
			}
		})
	}
}

// FuzzDecode feeds arbitrary frames of every link type to the decoder: it
// must never panic, and what it returns must be self-consistent.
func FuzzDecode(f *testing.F) {
	for _, path := range captures(f, "good", "bad", "tcpstate") {
		r, c, err := pcap.Open(path)
		if err != nil {
			continue
		}
		for i := 0; i < 3; i++ {
			fr, err := r.Next()
			if err != nil {
				break
			}
			f.Add(fr.LinkType, bytes.Clone(fr.Data))
		}
		c.Close()
	}
	f.Fuzz(func(t *testing.T, link uint32, data []byte) {
		var d pcap.Decoder
		var fr flowtable.Frame
		ok := d.Decode(link%300, data, len(data), 0, &fr)
		if ok != (fr.N > 0) || fr.N > flowtable.MaxLayers {
			t.Fatalf("ok=%v N=%d", ok, fr.N)
		}
		s := d.Stats
		if s.IP+s.NonIP+s.UnknownLink+s.Truncated+s.Malformed != 1 {
			t.Fatalf("frame counted %+v", s)
		}
		for i := 0; i < fr.N; i++ {
			p := fr.Layers[i]
			if len(p.Payload) > len(data) || !p.Src.IsValid() || p.Src.Is4() != p.Dst.Is4() {
				t.Fatalf("layer %d: %+v", i, p)
			}
		}
	})
}

// FuzzReader feeds arbitrary bytes to the file reader: no panic, errors are
// *FileError with an offset inside the input, offsets never go back.
func FuzzReader(f *testing.F) {
	for _, path := range captures(f, "good", "bad", "derived") {
		b, err := os.ReadFile(path)
		if err == nil && len(b) < 1<<16 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		agreesWithPcapgo(t, data)
		r, err := pcap.NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			checkFileError(t, err, len(data))
			return
		}
		var d pcap.Decoder
		var fr flowtable.Frame
		last := r.Offset()
		for n := 0; n < 1<<16; n++ {
			frame, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				checkFileError(t, err, len(data))
				return
			}
			if r.Offset() < last || r.Offset() > int64(len(data)) {
				t.Fatalf("offset %d after %d (len %d)", r.Offset(), last, len(data))
			}
			last = r.Offset()
			d.Decode(frame.LinkType, frame.Data, frame.WireLen, frame.Time, &fr)
		}
	})
}

// agreesWithPcapgo reads a classic pcap file both with Reader (which reads
// most records itself) and with pcapgo alone, and fails on the first frame
// or error where they differ. It reports whether data was a pcap file.
func agreesWithPcapgo(t *testing.T, data []byte) bool {
	t.Helper()
	r, err := pcap.NewReader(bytes.NewReader(data), "x")
	if err != nil || r.Format() != pcap.FormatPcap {
		return false
	}
	g, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Reader accepted a file pcapgo rejects: %v", err)
	}
	for n := 0; n < 1<<16; n++ {
		f, err := r.Next()
		gd, gci, gerr := g.ReadPacketData()
		if (err != nil) != (gerr != nil) {
			t.Fatalf("frame %d: Reader error %v, pcapgo error %v", n, err, gerr)
		}
		if err != nil {
			// pcapgo also says io.EOF for a record header followed by
			// nothing, which Reader reports as truncation.
			if errors.Is(err, io.EOF) && !errors.Is(gerr, io.EOF) {
				t.Fatalf("frame %d: Reader error %v, pcapgo error %v", n, err, gerr)
			}
			return true
		}
		if !bytes.Equal(f.Data, gd) || f.Time != gci.Timestamp.UnixNano() || f.WireLen != gci.Length || f.LinkType != uint32(g.LinkType()) {
			t.Fatalf("frame %d: Reader %d bytes at %d (wire %d, link %d), pcapgo %d bytes at %d (wire %d, link %d)",
				n, len(f.Data), f.Time, f.WireLen, f.LinkType, len(gd), gci.Timestamp.UnixNano(), gci.Length, g.LinkType())
		}
	}
	return true
}

// TestPcapRecordsAsPcapgo: the records Reader reads itself are pcapgo's,
// byte for byte, for every classic pcap capture of the corpus.
func TestPcapRecordsAsPcapgo(t *testing.T) {
	n := 0
	for _, path := range captures(t, "good", "bad", "derived", "tcpstate") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			if agreesWithPcapgo(t, b) {
				n++
			}
		})
	}
	if n == 0 {
		t.Fatal("no classic pcap file in the corpus")
	}
}

func checkFileError(t *testing.T, err error, size int) {
	t.Helper()
	fe, ok := err.(*pcap.FileError)
	if !ok {
		t.Fatalf("error %T %v is not a *FileError", err, err)
	}
	if fe.Offset < 0 || fe.Offset > int64(size) {
		t.Fatalf("offset %d outside the %d-byte input: %v", fe.Offset, size, err)
	}
	_ = fmt.Sprint(err)
}
