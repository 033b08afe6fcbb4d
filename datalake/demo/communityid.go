package demo

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// icmpReply maps ICMPv4 request types to their replies, so both directions
// of an exchange get the same Community ID (the spec's one-way pairs).
var icmpReply = map[uint16]uint16{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10}

// communityID computes the Community ID v1 flow hash (seed 0) of a 5-tuple:
// "1:" + base64(sha1(seed, ordered addresses, proto, pad, ordered ports)).
// For ICMP the ports are the type and the code (or the reply type).
func communityID(src, dst netip.Addr, proto uint8, sport, dport uint16) string {
	oneWay := false
	if proto == 1 {
		t := sport
		if r, ok := icmpReply[t]; ok {
			dport = r
		} else {
			oneWay = true
		}
	}
	a, b := src.AsSlice(), dst.AsSlice()
	swap := false
	if !oneWay {
		switch c := compareBytes(a, b); {
		case c > 0:
			swap = true
		case c == 0:
			swap = sport > dport
		}
	}
	if swap {
		a, b = b, a
		sport, dport = dport, sport
	}
	buf := make([]byte, 0, 2+len(a)+len(b)+2+4)
	buf = binary.BigEndian.AppendUint16(buf, 0)
	buf = append(buf, a...)
	buf = append(buf, b...)
	buf = append(buf, proto, 0)
	buf = binary.BigEndian.AppendUint16(buf, sport)
	buf = binary.BigEndian.AppendUint16(buf, dport)
	sum := sha1.Sum(buf)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

func compareBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}
