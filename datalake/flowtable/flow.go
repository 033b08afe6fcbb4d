package flowtable

import (
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/flowlab/flowlab/datalake"
)

// dirStats are one direction's counters of a slice.
type dirStats struct {
	pkts, bytes, payload int64
	flagCount            [8]int32
	flagsOr              uint8
	synfin, synrst       int32
	null, xmas, finnoack int32
	lenMin, lenMax       int32
	sumsq                int64
	retrans              int64
}

// slice is the part of a flow inside one hour (or one active timeout).
type slice struct {
	first, last    int64
	d              [2]dirStats // 0 originator, 1 responder
	minTTL, maxTTL uint8
}

func (s *slice) pkts() int64 { return s.d[0].pkts + s.d[1].pkts }
func (s *slice) reset()      { *s = slice{} }

// flow is a tracked bidirectional flow.
type flow struct {
	key      flowKey
	serial   uint64
	origIsLo bool
	flipped  bool

	list       int // index into Table.lists, -1 when on none
	touch      int64
	prev, next *flow

	id, cid, parent string
	start           int64
	ipVersion       uint8

	icmpType, icmpCode  int32
	hasICMP             bool
	vlans               uint8
	vlanID, innerVLANID int32
	hasMAC              bool
	mac                 [2][6]byte // originator, responder
	addr                [2]string  // originator, responder
	origAddr, respAddr  netip.Addr
	local               [2]bool
	initWin             [2]int32
	hasWin              [2]bool

	history   []byte
	histSeen  uint32
	udpActive [2]bool
	tcp       tcpConn

	sl slice
}

// swapRoles exchanges everything kept per side.
func (f *flow) swapRoles() {
	f.origIsLo = !f.origIsLo
	f.flipped = true
	f.sl.d[0], f.sl.d[1] = f.sl.d[1], f.sl.d[0]
	f.mac[0], f.mac[1] = f.mac[1], f.mac[0]
	f.addr[0], f.addr[1] = f.addr[1], f.addr[0]
	f.origAddr, f.respAddr = f.respAddr, f.origAddr
	f.local[0], f.local[1] = f.local[1], f.local[0]
	f.initWin[0], f.initWin[1] = f.initWin[1], f.initWin[0]
	f.hasWin[0], f.hasWin[1] = f.hasWin[1], f.hasWin[0]
	f.udpActive[0], f.udpActive[1] = f.udpActive[1], f.udpActive[0]
}

// update adds a packet to the current slice's counters.
func (f *flow) update(p *Packet, isOrig, rxmt bool) {
	d := 1
	if isOrig {
		d = 0
	}
	s := &f.sl
	if s.pkts() == 0 {
		s.first, s.last = p.Time, p.Time
		s.minTTL, s.maxTTL = p.TTL, p.TTL
	} else {
		s.first = min(s.first, p.Time)
		s.last = max(s.last, p.Time)
		s.minTTL = min(s.minTTL, p.TTL)
		s.maxTTL = max(s.maxTTL, p.TTL)
	}
	ds := &s.d[d]
	ds.pkts++
	l := int32(min(p.IPLen, 1<<31-1))
	ds.bytes += int64(p.IPLen)
	ds.payload += int64(p.PayloadLen)
	if ds.pkts == 1 {
		ds.lenMin, ds.lenMax = l, l
	} else {
		ds.lenMin = min(ds.lenMin, l)
		ds.lenMax = max(ds.lenMax, l)
	}
	ds.sumsq += int64(l) * int64(l)
	if p.Proto == ProtoTCP && p.HasTCP {
		fl := p.TCPFlags
		for b := 0; b < 8; b++ {
			if fl&(1<<b) != 0 {
				ds.flagCount[b]++
			}
		}
		ds.flagsOr |= fl
		syn, fin, rst := fl&flagSYN != 0, fl&flagFIN != 0, fl&flagRST != 0
		if syn && fin {
			ds.synfin++
		}
		if syn && rst {
			ds.synrst++
		}
		if fl == 0 {
			ds.null++
		}
		if fin && fl&flagPSH != 0 && fl&flagURG != 0 {
			ds.xmas++
		}
		if fin && fl&flagACK == 0 {
			ds.finnoack++
		}
		if rxmt {
			ds.retrans++
		}
		if !f.hasWin[d] {
			f.initWin[d], f.hasWin[d] = int32(p.Window), true
		}
		f.handshakeStep(p, isOrig)
	}
	if !f.hasMAC && p.HasMAC {
		f.hasMAC = true
		f.mac[d], f.mac[1-d] = p.SrcMAC, p.DstMAC
	}
}

// handshakeStep measures the three-way handshake: from the originator's
// SYN to its first ACK after the responder's SYN-ACK.
func (f *flow) handshakeStep(p *Packet, isOrig bool) {
	c := &f.tcp
	fl := p.TCPFlags
	syn, ack := fl&flagSYN != 0, fl&flagACK != 0
	switch {
	case isOrig && syn && !ack && c.synTime == 0:
		c.synTime = p.Time
	case !isOrig && syn && ack && c.synTime != 0 && c.synAckTime == 0:
		c.synAckTime = p.Time
	case isOrig && ack && !syn && c.synAckTime != 0 && c.handshake < 0:
		c.handshake = max(p.Time-c.synTime, 0)
	}
}

// record builds the datalake record of the current slice.
func (f *flow) record(o *Options, reason int32, end int64) *datalake.Flow {
	s := &f.sl
	fw, rv := &s.d[0], &s.d[1]
	r := &datalake.Flow{
		StartTimestamp: time.Unix(0, s.first).UTC(),
		EndTimestamp:   time.Unix(0, s.last).UTC(),
		Timestamp:      time.Unix(0, end).UTC(),
		DurationUS:     (s.last - s.first) / 1000,
		FlowID:         f.id,
		CommunityID:    f.cid,
		SrcAddress:     f.addr[0],
		DstAddress:     f.addr[1],
		IPVersion:      int32(f.ipVersion),
		Proto:          ProtoName(f.key.proto),
		IPProto:        int32(f.key.proto),

		FwdPkts:         fw.pkts,
		RevPkts:         rv.pkts,
		FwdBytes:        fw.bytes,
		RevBytes:        rv.bytes,
		FwdPayloadBytes: fw.payload,
		RevPayloadBytes: rv.payload,
		Pkts:            fw.pkts + rv.pkts,
		Bytes:           fw.bytes + rv.bytes,

		FwdFinCount: fw.flagCount[0], FwdSynCount: fw.flagCount[1], FwdRstCount: fw.flagCount[2], FwdPshCount: fw.flagCount[3],
		FwdAckCount: fw.flagCount[4], FwdUrgCount: fw.flagCount[5], FwdEceCount: fw.flagCount[6], FwdCwrCount: fw.flagCount[7],
		RevFinCount: rv.flagCount[0], RevSynCount: rv.flagCount[1], RevRstCount: rv.flagCount[2], RevPshCount: rv.flagCount[3],
		RevAckCount: rv.flagCount[4], RevUrgCount: rv.flagCount[5], RevEceCount: rv.flagCount[6], RevCwrCount: rv.flagCount[7],
		FwdTCPFlags: int32(fw.flagsOr),
		RevTCPFlags: int32(rv.flagsOr),

		FwdSynfinCount: fw.synfin, FwdSynrstCount: fw.synrst, FwdNullCount: fw.null, FwdXmasCount: fw.xmas, FwdFinnoackCount: fw.finnoack,
		RevSynfinCount: rv.synfin, RevSynrstCount: rv.synrst, RevNullCount: rv.null, RevXmasCount: rv.xmas, RevFinnoackCount: rv.finnoack,

		ConnState:        f.connState(),
		History:          string(f.history),
		DirectionFlipped: f.flipped,
		FlowEndReason:    reason,

		TCPRetransFwd: fw.retrans,
		TCPRetransRev: rv.retrans,
		FwdInitWin:    f.initWin[0],
		RevInitWin:    f.initWin[1],
		MinTTL:        int32(s.minTTL),
		MaxTTL:        int32(s.maxTTL),

		FwdPktLenMin: fw.lenMin, FwdPktLenMax: fw.lenMax, FwdPktLenSumsq: fw.sumsq,
		RevPktLenMin: rv.lenMin, RevPktLenMax: rv.lenMax, RevPktLenSumsq: rv.sumsq,

		Sensor:        o.Sensor,
		Interface:     o.Interface,
		SrcIsInternal: f.local[0],
		DstIsInternal: f.local[1],
	}
	if f.origIsLo {
		r.SrcPort, r.DstPort = int32(f.key.loPort), int32(f.key.hiPort)
	} else {
		r.SrcPort, r.DstPort = int32(f.key.hiPort), int32(f.key.loPort)
	}
	if f.hasICMP || f.key.proto == ProtoICMP || f.key.proto == ProtoICMPv6 {
		r.SrcPort, r.DstPort = 0, 0
		if f.hasICMP {
			r.ICMPType, r.ICMPCode = ptr(f.icmpType), ptr(f.icmpCode)
		}
	}
	if f.tcp.handshake >= 0 {
		r.HandshakeUS = ptr(f.tcp.handshake / 1000)
	}
	if f.vlans > 0 {
		r.VLANID = ptr(f.vlanID)
		if f.vlans > 1 {
			r.InnerVLANID = ptr(f.innerVLANID)
		}
	}
	if f.hasMAC {
		r.SrcMAC = ptr(net.HardwareAddr(f.mac[0][:]).String())
		r.DstMAC = ptr(net.HardwareAddr(f.mac[1][:]).String())
	}
	if f.parent != "" {
		r.TunnelParent = ptr(f.parent)
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// ProtoName is the proto column of an IP protocol number: the IANA keyword
// for common protocols (TCP, UDP, ICMP, IPv6-ICMP, GRE, ...), the number in
// decimal otherwise.
func ProtoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoICMP:
		return "ICMP"
	case ProtoICMPv6:
		return "IPv6-ICMP"
	case ProtoGRE:
		return "GRE"
	case 2:
		return "IGMP"
	case 4:
		return "IPv4"
	case 41:
		return "IPv6"
	case 50:
		return "ESP"
	case 51:
		return "AH"
	case 89:
		return "OSPFIGP"
	case 103:
		return "PIM"
	case 112:
		return "VRRP"
	case 132:
		return "SCTP"
	case 136:
		return "UDPLite"
	}
	return strconv.Itoa(int(p))
}
