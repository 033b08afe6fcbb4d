package flowtable

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// CommunityID returns the Community ID v1 flow hash of a 5-tuple
// ("1:" + base64 of a SHA-1), as Zeek, Suricata and Arkime compute it:
// SHA-1 over the seed (2 bytes, big-endian), the source and destination
// addresses (4 or 16 bytes), the protocol, one zero padding byte and the
// two ports (2 bytes each, big-endian), with the (address, port) pairs put
// in ascending order first so both directions hash alike.
//
// For ICMP and ICMPv6, srcPort and dstPort are the type and code; they are
// mapped as the specification says: a type with a request/reply counterpart
// (echo, timestamp, information, address mask, router and neighbour
// discovery, MLD, ...) becomes the port pair (type, counterpart type),
// other types the pair (type, code) and the tuple is then one-way, hashed
// in the order given. For protocols without ports pass 0, 0.
//
// CommunityID is safe for concurrent use.
func CommunityID(seed uint16, src, dst netip.Addr, proto uint8, srcPort, dstPort uint16) string {
	var buf [2 + 16 + 16 + 2 + 4]byte
	return string(appendCommunityID(buf[:0], seed, src, dst, proto, srcPort, dstPort))
}

// appendCommunityID appends the Community ID to buf, which it also uses
// for the hash input.
func appendCommunityID(buf []byte, seed uint16, src, dst netip.Addr, proto uint8, srcPort, dstPort uint16) []byte {
	oneWay := false
	if proto == ProtoICMP || proto == ProtoICMPv6 {
		srcPort, dstPort, oneWay = icmpPorts(proto, uint8(srcPort), uint8(dstPort))
	}
	s, d := src.Unmap(), dst.Unmap()
	if !oneWay && !tupleOrdered(s, d, srcPort, dstPort) {
		s, d = d, s
		srcPort, dstPort = dstPort, srcPort
	}
	in := len(buf)
	buf = binary.BigEndian.AppendUint16(buf, seed)
	buf = appendAddr(buf, s)
	buf = appendAddr(buf, d)
	buf = append(buf, proto, 0)
	buf = binary.BigEndian.AppendUint16(buf, srcPort)
	buf = binary.BigEndian.AppendUint16(buf, dstPort)
	sum := sha1.Sum(buf[in:])
	buf = append(buf[:in], "1:"...)
	return base64.StdEncoding.AppendEncode(buf, sum[:])
}

func appendAddr(buf []byte, a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return append(buf, b[:]...)
	}
	b := a.As16()
	return append(buf, b[:]...)
}

// tupleOrdered reports whether (src, srcPort) sorts before or equal to
// (dst, dstPort), comparing addresses as bytes.
func tupleOrdered(src, dst netip.Addr, srcPort, dstPort uint16) bool {
	var sb, db [16]byte
	n := 16
	if src.Is4() && dst.Is4() {
		s4, d4 := src.As4(), dst.As4()
		copy(sb[:], s4[:])
		copy(db[:], d4[:])
		n = 4
	} else {
		sb, db = src.As16(), dst.As16()
	}
	switch c := bytes.Compare(sb[:n], db[:n]); {
	case c < 0:
		return true
	case c > 0:
		return false
	}
	return srcPort <= dstPort
}

// icmpPorts maps an ICMP type and code to the port pair of the Community ID
// specification and says whether the tuple is one-way.
func icmpPorts(proto, typ, code uint8) (uint16, uint16, bool) {
	var peer uint8
	var ok bool
	if proto == ProtoICMP {
		peer, ok = icmp4Counterpart(typ)
	} else {
		peer, ok = icmp6Counterpart(typ)
	}
	if ok {
		return uint16(typ), uint16(peer), false
	}
	return uint16(typ), uint16(code), true
}

// icmp4Counterpart is the ICMPv4 request/reply pairing of the Community ID
// specification (and of Zeek's ICMP4_counterpart).
func icmp4Counterpart(t uint8) (uint8, bool) {
	switch t {
	case 8:
		return 0, true // echo request -> echo reply
	case 0:
		return 8, true
	case 13:
		return 14, true // timestamp
	case 14:
		return 13, true
	case 15:
		return 16, true // information
	case 16:
		return 15, true
	case 10:
		return 9, true // router solicitation -> advertisement
	case 9:
		return 10, true
	case 17:
		return 18, true // address mask
	case 18:
		return 17, true
	}
	return 0, false
}

// icmp6Counterpart is the ICMPv6 pairing of the Community ID specification.
func icmp6Counterpart(t uint8) (uint8, bool) {
	switch t {
	case 128:
		return 129, true // echo
	case 129:
		return 128, true
	case 133:
		return 134, true // router solicitation -> advertisement
	case 134:
		return 133, true
	case 135:
		return 136, true // neighbour solicitation -> advertisement
	case 136:
		return 135, true
	case 130:
		return 131, true // MLD query -> report
	case 131:
		return 130, true
	case 139:
		return 140, true // node information query -> response
	case 140:
		return 139, true
	case 144:
		return 145, true // home agent address discovery
	case 145:
		return 144, true
	}
	return 0, false
}
