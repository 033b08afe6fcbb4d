package pcap

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowlab/flowlab/datalake/flowtable"
)

// Link types the decoder understands (LINKTYPE_* of the pcap and pcapng
// specifications; the values match gopacket's layers.LinkType).
const (
	LinkNull     = 0   // BSD loopback: 4-byte address family, host byte order
	LinkEthernet = 1   // Ethernet II / 802.3
	LinkRawAlt   = 12  // DLT_RAW on some BSDs
	LinkRawAlt2  = 14  // DLT_RAW on OpenBSD
	LinkRaw      = 101 // raw IPv4 or IPv6, by the version nibble
	LinkLoop     = 108 // OpenBSD loopback: address family in network byte order
	LinkSLL      = 113 // Linux cooked capture v1
	LinkIPv4     = 228 // raw IPv4 only
	LinkIPv6     = 229 // raw IPv6 only
	LinkSLL2     = 276 // Linux cooked capture v2
)

// EtherTypes the decoder follows.
const (
	etherIPv4     = 0x0800
	etherARP      = 0x0806
	etherVLAN     = 0x8100
	etherQinQ     = 0x88a8
	etherQinQOld  = 0x9100
	etherIPv6     = 0x86dd
	etherTEB      = 0x6558 // transparent Ethernet bridging (GRE)
	maxVLANTags   = 4
	ipv6HeaderLen = 40
)

// DecodeStats count what the decoder saw, by outcome. Every frame given to
// Decode lands in exactly one of IP, NonIP, UnknownLink, Truncated and
// Malformed.
type DecodeStats struct {
	Frames      uint64 // frames given to Decode
	IP          uint64 // frames with at least one IP layer for the flow table
	NonIP       uint64 // frames whose link layer carried no IP (ARP, LLC, STP, ...)
	ARP         uint64 // of NonIP: ARP frames
	UnknownLink uint64 // frames of a link type the decoder does not know
	Truncated   uint64 // frames cut before the outer IP header was complete
	Malformed   uint64 // frames whose outer IP header is invalid (version, header length, total length)
	Tunnels     uint64 // inner IP layers decoded inside GRE or IP-in-IP
	TooDeep     uint64 // tunnels deeper than flowtable.MaxLayers, not decoded
	TSO         uint64 // IP layers whose length field was 0 (TSO, LRO, BIG TCP): length from the capture
	Jumbo       uint64 // IPv6 jumbograms (hop-by-hop jumbo payload option)
}

// Decoder decodes captured frames into flowtable.Frame values without
// allocating. The zero value is ready. A Decoder is not safe for concurrent
// use; give each goroutine its own.
type Decoder struct {
	// Stats are the counters since the decoder was created.
	Stats DecodeStats
}

// Decode decodes one frame of the given link type, captured at time ns
// (Unix nanoseconds) with original length wireLen, into fr. It reports
// whether fr holds at least one IP layer; the payloads in fr point into
// data. It never panics on any input (see FuzzDecode).
func (d *Decoder) Decode(link uint32, data []byte, wireLen int, ns int64, fr *flowtable.Frame) bool {
	fr.N = 0
	d.Stats.Frames++
	c := layerCtx{time: ns, wireLen: uint32(max(wireLen, len(data))), capLen: uint32(len(data))}
	var st status
	switch link {
	case LinkEthernet:
		st = d.ethernet(data, &c, fr)
	case LinkSLL:
		if len(data) < 16 {
			st = stTruncated
			break
		}
		st = d.etherType(binary.BigEndian.Uint16(data[14:16]), data[16:], &c, fr)
	case LinkSLL2:
		if len(data) < 20 {
			st = stTruncated
			break
		}
		st = d.etherType(binary.BigEndian.Uint16(data[0:2]), data[20:], &c, fr)
	case LinkNull, LinkLoop:
		st = d.loopback(link, data, &c, fr)
	case LinkRaw, LinkRawAlt, LinkRawAlt2:
		st = d.ip(data, &c, fr)
	case LinkIPv4:
		st = d.ipVersion(data, 4, &c, fr)
	case LinkIPv6:
		st = d.ipVersion(data, 6, &c, fr)
	default:
		st = stUnknownLink
	}
	switch {
	case fr.N > 0:
		d.Stats.IP++
		return true
	case st == stNonIP:
		d.Stats.NonIP++
	case st == stUnknownLink:
		d.Stats.UnknownLink++
	case st == stTruncated:
		d.Stats.Truncated++
	default:
		d.Stats.Malformed++
	}
	return false
}

type status uint8

const (
	stOK status = iota
	stNonIP
	stUnknownLink
	stTruncated
	stMalformed
)

// layerCtx carries what the link layer found to the IP layers below it.
type layerCtx struct {
	time            int64
	wireLen, capLen uint32
	vlans           uint8
	vlan, inner     uint16
	hasMAC          bool
	src, dst        [6]byte
	depth           uint8 // encapsulation depth of the next IP layer
}

func (d *Decoder) ethernet(data []byte, c *layerCtx, fr *flowtable.Frame) status {
	if len(data) < 14 {
		return stTruncated
	}
	copy(c.dst[:], data[0:6])
	copy(c.src[:], data[6:12])
	c.hasMAC = true
	c.vlans = 0
	et := binary.BigEndian.Uint16(data[12:14])
	data = data[14:]
	for n := 0; et == etherVLAN || et == etherQinQ || et == etherQinQOld; n++ {
		if n >= maxVLANTags {
			return stMalformed
		}
		if len(data) < 4 {
			return stTruncated
		}
		id := binary.BigEndian.Uint16(data[0:2]) & 0x0fff
		switch c.vlans {
		case 0:
			c.vlan = id
		case 1:
			c.inner = id
		}
		if c.vlans < 255 {
			c.vlans++
		}
		et = binary.BigEndian.Uint16(data[2:4])
		data = data[4:]
	}
	return d.etherType(et, data, c, fr)
}

func (d *Decoder) etherType(et uint16, data []byte, c *layerCtx, fr *flowtable.Frame) status {
	switch et {
	case etherIPv4:
		return d.ipVersion(data, 4, c, fr)
	case etherIPv6:
		return d.ipVersion(data, 6, c, fr)
	case etherARP:
		d.Stats.ARP++
	}
	return stNonIP
}

// loopback decodes DLT_NULL (family in the capturing host's byte order) and
// DLT_LOOP (network byte order). IPv6's family value differs by OS: 10
// (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
func (d *Decoder) loopback(link uint32, data []byte, c *layerCtx, fr *flowtable.Frame) status {
	if len(data) < 4 {
		return stTruncated
	}
	fam := binary.BigEndian.Uint32(data[0:4])
	if link == LinkNull && fam > 0xffff {
		fam = binary.LittleEndian.Uint32(data[0:4])
	}
	switch fam {
	case 2:
		return d.ipVersion(data[4:], 4, c, fr)
	case 10, 24, 28, 30:
		return d.ipVersion(data[4:], 6, c, fr)
	}
	return stNonIP
}

// ipVersion decodes an IP packet that must be of version v.
func (d *Decoder) ipVersion(data []byte, v uint8, c *layerCtx, fr *flowtable.Frame) status {
	if len(data) < 1 {
		return stTruncated
	}
	if data[0]>>4 != v {
		return stMalformed
	}
	return d.ip(data, c, fr)
}

// ip decodes one IP layer (and what it carries) into fr.Layers[fr.N].
func (d *Decoder) ip(data []byte, c *layerCtx, fr *flowtable.Frame) status {
	if len(data) < 1 {
		return stTruncated
	}
	if fr.N >= flowtable.MaxLayers {
		d.Stats.TooDeep++
		return stOK
	}
	p := &fr.Layers[fr.N]
	*p = flowtable.Packet{
		Time: c.time, WireLen: c.wireLen, CapLen: c.capLen, Depth: c.depth,
		VLANs: c.vlans, VLANID: c.vlan, InnerVLANID: c.inner,
		HasMAC: c.hasMAC, SrcMAC: c.src, DstMAC: c.dst,
	}
	var st status
	var l4 []byte
	switch data[0] >> 4 {
	case 4:
		l4, st = d.ipv4(data, p)
	case 6:
		l4, st = d.ipv6(data, p)
	default:
		return stMalformed
	}
	if st != stOK {
		return st
	}
	fr.N++
	if p.Fragment && p.FragOffset != 0 {
		return stOK
	}
	return d.transport(l4, p, c, fr)
}

// ipv4 fills p from an IPv4 header and returns the captured L4 bytes.
func (d *Decoder) ipv4(data []byte, p *flowtable.Packet) ([]byte, status) {
	if len(data) < 20 {
		return nil, stTruncated
	}
	ihl := int(data[0]&0x0f) * 4
	if ihl < 20 {
		return nil, stMalformed
	}
	if len(data) < ihl {
		return nil, stTruncated
	}
	total := int(binary.BigEndian.Uint16(data[2:4]))
	if total == 0 {
		// TSO/LRO/BIG TCP: the NIC or the stack left the length to be
		// filled in; the captured bytes are the packet.
		d.Stats.TSO++
		total = len(data)
	} else if total < ihl {
		return nil, stMalformed
	}
	p.Src = netip.AddrFrom4([4]byte(data[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	p.TTL = data[8]
	p.Proto = data[9]
	p.IPLen = uint32(total)
	ff := binary.BigEndian.Uint16(data[6:8])
	p.MoreFrags = ff&0x2000 != 0
	p.FragOffset = uint32(ff&0x1fff) * 8
	if p.MoreFrags || p.FragOffset != 0 {
		p.Fragment = true
		p.FragID = uint32(binary.BigEndian.Uint16(data[4:6]))
		p.FragLen = uint32(total - ihl)
	}
	end := min(total, len(data))
	p.PayloadLen = uint32(total - ihl)
	return data[ihl:end], stOK
}

// ipv6 fills p from an IPv6 header and its extension headers and returns
// the captured L4 bytes.
func (d *Decoder) ipv6(data []byte, p *flowtable.Packet) ([]byte, status) {
	if len(data) < ipv6HeaderLen {
		return nil, stTruncated
	}
	plen := int(binary.BigEndian.Uint16(data[4:6]))
	p.Src = netip.AddrFrom16([16]byte(data[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(data[24:40]))
	p.TTL = data[7]
	next := data[6]
	off := ipv6HeaderLen
	jumbo := -1
headers:
	for {
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination options, mobility, HIP, shim6
			if len(data) < off+2 {
				return nil, stTruncated
			}
			hl := (int(data[off+1]) + 1) * 8
			if len(data) < off+hl {
				return nil, stTruncated
			}
			if next == 0 {
				jumbo = jumboLength(data[off+2 : off+hl])
			}
			next = data[off]
			off += hl
			continue
		case 51: // authentication header
			if len(data) < off+2 {
				return nil, stTruncated
			}
			hl := (int(data[off+1]) + 2) * 4
			if len(data) < off+hl {
				return nil, stTruncated
			}
			next = data[off]
			off += hl
			continue
		case 44: // fragment
			if len(data) < off+8 {
				return nil, stTruncated
			}
			fo := binary.BigEndian.Uint16(data[off+2 : off+4])
			p.Fragment = true
			p.FragOffset = uint32(fo>>3) * 8
			p.MoreFrags = fo&1 != 0
			p.FragID = binary.BigEndian.Uint32(data[off+4 : off+8])
			next = data[off]
			off += 8
			if !p.MoreFrags && p.FragOffset == 0 {
				// An atomic fragment (RFC 6946): a whole datagram.
				p.Fragment = false
			}
			if p.FragOffset != 0 {
				break headers // the rest is the middle of a datagram
			}
			continue
		}
		break
	}
	p.Proto = next
	var total int
	switch {
	case plen != 0:
		total = ipv6HeaderLen + plen
	case jumbo >= 0:
		d.Stats.Jumbo++
		total = ipv6HeaderLen + jumbo
	default:
		// Payload length 0 without a jumbo option: BIG TCP/LRO as
		// captured, the captured bytes are the packet.
		d.Stats.TSO++
		total = len(data)
	}
	if total < off {
		return nil, stMalformed
	}
	p.IPLen = uint32(min(total, 1<<32-1))
	p.PayloadLen = uint32(total - off)
	if p.Fragment {
		p.FragLen = p.PayloadLen
	}
	end := min(total, len(data))
	return data[off:end], stOK
}

// jumboLength finds the jumbo payload option (type 0xC2, length 4) in
// hop-by-hop options; -1 when there is none.
func jumboLength(opts []byte) int {
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == 0 { // Pad1
			i++
			continue
		}
		if i+2 > len(opts) {
			return -1
		}
		l := int(opts[i+1])
		if t == 0xc2 && l == 4 && i+6 <= len(opts) {
			return int(binary.BigEndian.Uint32(opts[i+2 : i+6]))
		}
		i += 2 + l
	}
	return -1
}

// transport decodes the L4 header of an IP layer and follows tunnels.
func (d *Decoder) transport(l4 []byte, p *flowtable.Packet, c *layerCtx, fr *flowtable.Frame) status {
	switch p.Proto {
	case flowtable.ProtoTCP:
		if len(l4) >= 4 {
			p.SrcPort = binary.BigEndian.Uint16(l4[0:2])
			p.DstPort = binary.BigEndian.Uint16(l4[2:4])
			p.HasPorts = true
		}
		if len(l4) < 20 {
			return stOK
		}
		hl := int(l4[12]>>4) * 4
		if hl < 20 {
			return stOK
		}
		p.Seq = binary.BigEndian.Uint32(l4[4:8])
		p.Ack = binary.BigEndian.Uint32(l4[8:12])
		p.TCPFlags = l4[13]
		p.Window = binary.BigEndian.Uint16(l4[14:16])
		p.HasTCP = true
		if uint32(hl) <= p.PayloadLen {
			p.PayloadLen -= uint32(hl)
		} else {
			p.PayloadLen = 0
		}
		if hl <= len(l4) {
			p.Payload = l4[hl:]
		}
	case flowtable.ProtoUDP, 132, 136: // UDP, SCTP, UDP-Lite: ports first
		if len(l4) >= 4 {
			p.SrcPort = binary.BigEndian.Uint16(l4[0:2])
			p.DstPort = binary.BigEndian.Uint16(l4[2:4])
			p.HasPorts = true
		}
		hl := uint32(8)
		if p.Proto == 132 {
			hl = 12
		}
		if p.PayloadLen >= hl {
			p.PayloadLen -= hl
		} else {
			p.PayloadLen = 0
		}
		if len(l4) >= int(hl) {
			p.Payload = l4[hl:]
		}
	case flowtable.ProtoICMP, flowtable.ProtoICMPv6:
		if len(l4) >= 2 {
			p.ICMPType, p.ICMPCode = l4[0], l4[1]
			p.HasICMP = true
		}
		if p.PayloadLen >= 8 {
			p.PayloadLen -= 8
		} else {
			p.PayloadLen = 0
		}
		if len(l4) >= 8 {
			p.Payload = l4[8:]
		}
	case flowtable.ProtoGRE:
		return d.gre(l4, c, fr)
	case 4, 41: // IP in IP, IPv6 in IP
		d.Stats.Tunnels++
		ic := *c
		ic.depth++
		d.ip(l4, &ic, fr)
	default:
		p.Payload = l4
	}
	return stOK
}

// gre follows a GRE (version 0) header to the IP or Ethernet frame inside.
// The outer flow is always kept; an inner layer that fails to decode is
// simply not added.
func (d *Decoder) gre(b []byte, c *layerCtx, fr *flowtable.Frame) status {
	if len(b) < 4 {
		return stOK
	}
	flags := b[0]
	if b[1]&0x07 != 0 { // version 1 is PPTP's enhanced GRE: PPP inside
		return stOK
	}
	off := 4
	if flags&0x80 != 0 || flags&0x40 != 0 { // checksum or routing present
		off += 4
	}
	if flags&0x20 != 0 { // key
		off += 4
	}
	if flags&0x10 != 0 { // sequence number
		off += 4
	}
	if flags&0x40 != 0 { // source routing: not followed
		return stOK
	}
	if len(b) < off {
		return stOK
	}
	inner := b[off:]
	ic := *c
	ic.depth++
	switch binary.BigEndian.Uint16(b[2:4]) {
	case etherIPv4, etherIPv6:
		d.Stats.Tunnels++
		d.ip(inner, &ic, fr)
	case etherTEB:
		d.Stats.Tunnels++
		d.ethernet(inner, &ic, fr)
	}
	return stOK
}
