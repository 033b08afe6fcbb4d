package flowtable

import (
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

	id        flowID
	cid       communityIDText
	parent    flowID // tunnel_parent, if hasParent
	hasParent bool
	start     int64
	ipVersion uint8

	icmpType, icmpCode  int32
	hasICMP             bool
	vlans               uint8
	vlanID, innerVLANID int32
	hasMAC              bool
	mac                 [2][6]byte // originator, responder
	origAddr, respAddr  netip.Addr
	// For packet records only (Options.EmitPacket): the addresses
	// (originator, responder) and ids as strings, made once per flow.
	addr    [2]string
	idText  string
	cidText string
	local   [2]bool
	initWin [2]int32
	hasWin  [2]bool

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

// appendRecord appends the record of the current slice to c (columns of
// datalake.FlowLayout), field by field in the order of datalake.Flow.
func (f *flow) appendRecord(c *datalake.Columns, o *Options, reason int32, end int64) {
	s := &f.sl
	fw, rv := &s.d[0], &s.d[1]
	srcPort, dstPort := int32(f.key.hiPort), int32(f.key.loPort)
	if f.origIsLo {
		srcPort, dstPort = int32(f.key.loPort), int32(f.key.hiPort)
	}
	if f.hasICMP || f.key.proto == ProtoICMP || f.key.proto == ProtoICMPv6 {
		srcPort, dstPort = 0, 0
	}
	r := c.AppendRow()
	r.Time(time.Unix(0, s.first))
	r.Time(time.Unix(0, s.last))
	r.Time(time.Unix(0, end))
	r.Int64((s.last - s.first) / 1000)
	r.StringBytes(f.id[:])
	r.StringBytes(f.cid[:])
	r.AppendString(f.origAddr.AppendTo, true)
	r.AppendString(f.respAddr.AppendTo, true)
	r.Int32(int32(f.ipVersion))
	r.Int32(srcPort)
	r.Int32(dstPort)
	r.OptInt32(f.icmpType, f.hasICMP)
	r.OptInt32(f.icmpCode, f.hasICMP)
	r.String(ProtoName(f.key.proto))
	r.Int32(int32(f.key.proto))

	for _, v := range [...]int64{fw.pkts, rv.pkts, fw.bytes, rv.bytes, fw.payload, rv.payload, fw.pkts + rv.pkts, fw.bytes + rv.bytes} {
		r.Int64(v)
	}
	// flagCount is indexed by flag bit: FIN SYN RST PSH ACK URG ECE CWR;
	// the columns go SYN ACK FIN RST PSH URG ECE CWR.
	for _, d := range []*dirStats{fw, rv} {
		for _, b := range [8]int{1, 4, 0, 2, 3, 5, 6, 7} {
			r.Int32(d.flagCount[b])
		}
	}
	r.Int32(int32(fw.flagsOr))
	r.Int32(int32(rv.flagsOr))
	for _, d := range []*dirStats{fw, rv} {
		r.Int32(d.synfin)
		r.Int32(d.synrst)
		r.Int32(d.null)
		r.Int32(d.xmas)
		r.Int32(d.finnoack)
	}

	r.String(f.connState())
	r.StringBytes(f.history)
	r.Bool(f.flipped)
	r.Int32(reason)

	r.Int64(fw.retrans)
	r.Int64(rv.retrans)
	r.Int64(0)           // missed_bytes: no reassembly
	r.OptInt64(0, false) // srtt_us: not measured
	r.OptInt64(f.tcp.handshake/1000, f.tcp.handshake >= 0)
	r.Int32(f.initWin[0])
	r.Int32(f.initWin[1])
	r.Int32(int32(s.minTTL))
	r.Int32(int32(s.maxTTL))

	for _, v := range [...]int32{fw.lenMin, fw.lenMax, rv.lenMin, rv.lenMax} {
		r.Int32(v)
	}
	r.Int64(fw.sumsq)
	r.Int64(rv.sumsq)

	r.OptInt32(f.vlanID, f.vlans > 0)
	r.OptInt32(f.innerVLANID, f.vlans > 1)
	r.AppendString(func(b []byte) []byte { return appendMAC(b, &f.mac[0]) }, f.hasMAC)
	r.AppendString(func(b []byte) []byte { return appendMAC(b, &f.mac[1]) }, f.hasMAC)
	r.AppendString(func(b []byte) []byte { return append(b, f.parent[:]...) }, f.hasParent)

	r.String(o.Sensor)
	r.String(o.Interface)
	r.Bool(f.local[0])
	r.Bool(f.local[1])
	r.AppendString(nil, false) // src_hostname, dst_hostname, service: no enrichment yet
	r.AppendString(nil, false)
	r.AppendString(nil, false)
	r.Done()
}

// appendMAC appends a MAC address as net.HardwareAddr.String writes it.
func appendMAC(b []byte, mac *[6]byte) []byte {
	const hex = "0123456789abcdef"
	for i, x := range mac {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&15])
	}
	return b
}

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
