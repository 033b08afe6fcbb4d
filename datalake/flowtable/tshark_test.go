package flowtable_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// tuple is a directed 5-tuple.
type tuple struct {
	src, dst     string
	proto        int
	sport, dport int
}

type counts struct{ pkts, bytes int64 }

// TestAgainstTshark compares, for every capture in good/ and tcpstate/, the
// packets and IP-level bytes per directed 5-tuple with what tshark
// (Wireshark's dissectors, an independent implementation) reports per
// packet. Rules where the two legitimately differ, applied to tshark's
// per-packet output and so tested here:
//
//   - Ports are those of a TCP or UDP header carried directly by the outer
//     IP layer; ICMP and tunnel (GRE) flows have ports 0, and flows inside
//     tunnels (tunnel_parent set) are not compared.
//   - IPv4 fragments are not reassembled (tshark runs with
//     ip.defragment:FALSE); a non-first fragment belongs to the 5-tuple of
//     its datagram's first fragment (same source, destination, protocol
//     and IP id).
//   - Bytes are the IP total length; IPv6: 40 + payload length, or
//     40 + jumbo payload length. When the length field is 0 (TSO, BIG TCP)
//     tshark's IPv4 dissector already takes the captured length; for IPv6
//     without a jumbo option it shows 0 and does not decode the transport,
//     so that frame (bigtcp-ipv6) is compared by TestLengthRules in
//     datalake/pcap instead and listed in skipFrames.
func TestAgainstTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("tshark comparison is slow")
	}
	tshark := flowlabtest.RequireCommand(t, "tshark") // Debian package tshark
	skipFrames := map[string]bool{"tcpdump__bigtcp-ipv6.pcap#1": true}
	var files []string
	for _, d := range []string{"good", "tcpstate"} {
		m, _ := filepath.Glob(filepath.Join(corpus, d, "*.pcap*"))
		files = append(files, m...)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := tsharkCounts(t, tshark, path, skipFrames)
			got := map[tuple]counts{}
			for _, f := range ingest(t, path, flowtable.Options{}) {
				if f.TunnelParent != nil {
					continue
				}
				if filepath.Base(path) == "tcpdump__bigtcp-ipv6.pcap" {
					continue // see skipFrames
				}
				fwd := tuple{f.SrcAddress, f.DstAddress, int(f.IPProto), int(f.SrcPort), int(f.DstPort)}
				rev := tuple{f.DstAddress, f.SrcAddress, int(f.IPProto), int(f.DstPort), int(f.SrcPort)}
				if f.FwdPkts > 0 {
					c := got[fwd]
					got[fwd] = counts{c.pkts + f.FwdPkts, c.bytes + f.FwdBytes}
				}
				if f.RevPkts > 0 {
					c := got[rev]
					got[rev] = counts{c.pkts + f.RevPkts, c.bytes + f.RevBytes}
				}
			}
			if d := diffCounts(got, want); d != "" {
				t.Errorf("per 5-tuple counts differ from tshark:\n%s", d)
			}
		})
	}
}

func diffCounts(got, want map[tuple]counts) string {
	keys := map[tuple]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var lines []string
	for k := range keys {
		if got[k] != want[k] {
			lines = append(lines, fmt.Sprintf("%v: flowlab %+v tshark %+v", k, got[k], want[k]))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// tsharkCounts runs tshark over a capture and sums packets and IP bytes
// per directed 5-tuple under the rules of TestAgainstTshark.
func tsharkCounts(t *testing.T, tshark, path string, skip map[string]bool) map[tuple]counts {
	t.Helper()
	fields := []string{"frame.number", "frame.cap_len", "eth.type",
		"ip.src", "ip.dst", "ip.proto", "ip.len", "ip.id", "ip.flags.mf", "ip.frag_offset",
		"ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.plen", "ipv6.opt.jumbo",
		"tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "icmpv6.type"}
	args := []string{"-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
		"-T", "fields", "-E", "occurrence=f", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tshark, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	type fragKey struct {
		src, dst string
		proto    int
		id       string
	}
	firstFrag := map[fragKey]tuple{}
	res := map[tuple]counts{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		v := strings.Split(line, "|")
		get := func(name string) string {
			for i, f := range fields {
				if f == name && i < len(v) {
					return v[i]
				}
			}
			return ""
		}
		num := func(name string) int {
			s := get(name)
			if strings.HasPrefix(s, "0x") {
				n, _ := strconv.ParseInt(s[2:], 16, 64)
				return int(n)
			}
			n, _ := strconv.Atoi(s)
			return n
		}
		if skip[filepath.Base(path)+"#"+get("frame.number")] {
			continue
		}
		var k tuple
		var ipBytes int64
		switch {
		case get("ip.src") != "":
			k = tuple{src: get("ip.src"), dst: get("ip.dst"), proto: num("ip.proto")}
			ipBytes = int64(num("ip.len"))
		case get("ipv6.src") != "":
			k = tuple{src: get("ipv6.src"), dst: get("ipv6.dst"), proto: num("ipv6.nxt")}
			switch {
			case get("tcp.srcport") != "":
				k.proto = 6
			case get("udp.srcport") != "":
				k.proto = 17
			case get("icmpv6.type") != "":
				k.proto = 58
			}
			plen := int64(num("ipv6.plen"))
			if plen == 0 && get("ipv6.opt.jumbo") != "" {
				plen = int64(num("ipv6.opt.jumbo"))
			}
			ipBytes = 40 + plen
		default:
			continue // not IP: counted by the decoder, not a flow
		}
		switch k.proto {
		case 6:
			k.sport, k.dport = num("tcp.srcport"), num("tcp.dstport")
		case 17:
			k.sport, k.dport = num("udp.srcport"), num("udp.dstport")
		}
		if get("ip.src") != "" && (get("ip.flags.mf") == "1" || get("ip.flags.mf") == "True" || num("ip.frag_offset") != 0) {
			fk := fragKey{k.src, k.dst, k.proto, get("ip.id")}
			if num("ip.frag_offset") == 0 {
				firstFrag[fk] = k
			} else if first, ok := firstFrag[fk]; ok {
				k = first
			} else {
				k.sport, k.dport = 0, 0
			}
		}
		c := res[k]
		res[k] = counts{c.pkts + 1, c.bytes + ipBytes}
	}
	return res
}
