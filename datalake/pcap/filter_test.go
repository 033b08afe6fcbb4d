package pcap_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/pcap"
)

// ethFrame is an untagged Ethernet frame of the corpus with its decoded
// outer IP layer (ok false when it has none).
type ethFrame struct {
	data      []byte
	etherType uint16
	p         flowtable.Packet
	ok        bool
}

// untaggedFrames reads the Ethernet frames of the corpus whose outer header is what CompileFilter's primitives look at:
// no VLAN tag, and for IPv6 no extension header before the transport.
func untaggedFrames(t *testing.T) []ethFrame {
	t.Helper()
	var out []ethFrame
	for _, path := range captures(t, "good", "tcpstate", "derived", "bad") {
		r, c, err := pcap.Open(path)
		if err != nil {
			continue // damaged before the first frame
		}
		var d pcap.Decoder
		var fr flowtable.Frame
		for {
			f, err := r.Next()
			if err != nil {
				break // the end, or damage: the frames before it count
			}
			if f.LinkType != pcap.LinkEthernet || len(f.Data) < 14 {
				continue
			}
			e := ethFrame{data: slices.Clone(f.Data), etherType: binary.BigEndian.Uint16(f.Data[12:14])}
			if e.etherType == 0x8100 || e.etherType == 0x88a8 {
				continue
			}
			ok := d.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &fr)
			if !ok && (e.etherType == 0x0800 || e.etherType == 0x86dd) {
				// A damaged IP header the decoder rejects; BPF looks
				// at single fields and may still match it, as tcpdump.
				continue
			}
			if ok {
				e.p, e.ok = fr.Layers[0], true
				e.p.Payload = nil
				if e.etherType == 0x86dd && len(f.Data) > 20 && f.Data[20] != e.p.Proto {
					continue
				}
			}
			out = append(out, e)
		}
		c.Close()
	}
	return out
}

// TestFilterAgreesWithDecoder runs compiled filters in x/net/bpf's virtual
// machine over every untagged Ethernet frame of the corpus and compares
// each verdict with the same condition evaluated on the decoder's view of
// the frame.
func TestFilterAgreesWithDecoder(t *testing.T) {
	frames := untaggedFrames(t)
	is := func(v uint8) func(e ethFrame) bool {
		return func(e ethFrame) bool { return e.ok && e.p.Src.BitLen() == int(v)*8 }
	}
	v4, v6 := is(4), is(16)
	proto := func(n uint8) func(e ethFrame) bool { return func(e ethFrame) bool { return e.ok && e.p.Proto == n } }
	ports := func(e ethFrame) bool {
		return e.ok && e.p.HasPorts && (e.p.Proto == 6 || e.p.Proto == 17 || e.p.Proto == 132)
	}
	// Hosts of the corpus, so that host and net filters match something.
	var host, host6, dst netip.Addr
	for _, e := range frames {
		if e.ok && e.p.Src.Is4() && !host.IsValid() {
			host, dst = e.p.Src, e.p.Dst
		}
		if e.ok && e.p.Src.Is6() && !host6.IsValid() {
			host6 = e.p.Src
		}
	}
	net6 := netip.PrefixFrom(host6, 64).Masked()
	net4 := netip.PrefixFrom(dst, 20).Masked()
	cases := []struct {
		expr string
		want func(e ethFrame) bool
	}{
		{"ip", func(e ethFrame) bool { return e.etherType == 0x0800 }},
		{"ip6", func(e ethFrame) bool { return e.etherType == 0x86dd }},
		{"arp", func(e ethFrame) bool { return e.etherType == 0x0806 }},
		{"tcp", proto(6)},
		{"udp", proto(17)},
		{"icmp", func(e ethFrame) bool { return v4(e) && e.p.Proto == 1 }},
		{"ip6 and tcp", func(e ethFrame) bool { return v6(e) && e.p.Proto == 6 }},
		{"not tcp", func(e ethFrame) bool { return !proto(6)(e) }},
		{"port 53", func(e ethFrame) bool { return ports(e) && (e.p.SrcPort == 53 || e.p.DstPort == 53) }},
		{"tcp and dst port 80", func(e ethFrame) bool { return proto(6)(e) && ports(e) && e.p.DstPort == 80 }},
		{"udp && src portrange 1024-65535", func(e ethFrame) bool { return proto(17)(e) && ports(e) && e.p.SrcPort >= 1024 }},
		{"(tcp or udp) and not port 443", func(e ethFrame) bool {
			return (proto(6)(e) || proto(17)(e)) && !(ports(e) && (e.p.SrcPort == 443 || e.p.DstPort == 443))
		}},
		{"host " + host.String(), func(e ethFrame) bool { return e.ok && (e.p.Src == host || e.p.Dst == host) }},
		{"src host " + host.String() + " or dst net 192.168.0.0/16", func(e ethFrame) bool {
			return e.ok && (e.p.Src == host || (e.p.Dst.Is4() && netip.MustParsePrefix("192.168.0.0/16").Contains(e.p.Dst)))
		}},
		{"ip6 and net " + net6.String(), func(e ethFrame) bool {
			return v6(e) && (net6.Contains(e.p.Src) || net6.Contains(e.p.Dst))
		}},
		{"dst net " + net4.String(), func(e ethFrame) bool { return v4(e) && net4.Contains(e.p.Dst) }},
		{"! ip and ! ip6", func(e ethFrame) bool { return e.etherType != 0x0800 && e.etherType != 0x86dd }},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			prog, err := pcap.CompileFilter(c.expr, 0)
			if err != nil {
				t.Fatal(err)
			}
			ins := make([]bpf.Instruction, len(prog))
			for i, r := range prog {
				ins[i] = r.Disassemble()
			}
			vm, err := bpf.NewVM(ins)
			if err != nil {
				t.Fatal(err)
			}
			matched := 0
			for i, e := range frames {
				n, err := vm.Run(e.data)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if want := c.want(e); (n > 0) != want {
					t.Fatalf("frame %d (ethertype %#04x, %+v): filter says %v, decoder says %v", i, e.etherType, e.p, n > 0, want)
				}
				if n > 0 {
					matched++
				}
			}
			// Each case must tell frames apart, or it tests nothing.
			if matched == 0 || matched == len(frames) {
				t.Errorf("%d of %d frames matched", matched, len(frames))
			}
		})
	}
}

// TestFilterRawPrograms: tcpdump -ddd output is taken as is, one
// instruction per line or separated by commas, and checked.
func TestFilterRawPrograms(t *testing.T) {
	prog, err := pcap.CompileFilter("tcp and port 80", 0)
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{fmt.Sprint(len(prog))}
	for _, r := range prog {
		lines = append(lines, fmt.Sprintf("%d %d %d %d", r.Op, r.Jt, r.Jf, r.K))
	}
	for _, sep := range []string{"\n", ","} {
		got, err := pcap.CompileFilter(strings.Join(lines, sep)+sep, 0)
		if err != nil {
			t.Fatalf("separator %q: %v", sep, err)
		}
		if !slices.Equal(got, prog) {
			t.Errorf("separator %q: parsed %v, want %v", sep, got, prog)
		}
	}
	bad := map[string]string{
		"count":     "3\n6 0 0 262144",
		"jump":      "2\n21 5 0 2048\n6 0 0 0",
		"no return": "1\n40 0 0 12",
		"fields":    "1\n6 0 0",
	}
	for name, raw := range bad {
		if _, err := pcap.CompileFilter(raw, 0); !errors.Is(err, pcap.ErrFilter) {
			t.Errorf("%s: %q gave %v, want ErrFilter", name, raw, err)
		}
	}
}

// TestFilterErrors: expressions outside the subset fail with ErrFilter and
// a message naming the word.
func TestFilterErrors(t *testing.T) {
	for expr, word := range map[string]string{
		"vlan 10":            "vlan",
		"host example.com":   "example.com",
		"port http":          "http",
		"tcp and":            "expression ends",
		"(tcp or udp":        "missing )",
		"portrange 10-5":     "10-5",
		"net 10.0.0.1/33":    "10.0.0.1/33",
		"tcp udp":            "udp",
		"ether host 0:1:2:3": "ether",
	} {
		_, err := pcap.CompileFilter(expr, 0)
		if !errors.Is(err, pcap.ErrFilter) || !strings.Contains(err.Error(), word) {
			t.Errorf("%q: error %v, want ErrFilter naming %q", expr, err, word)
		}
	}
}
