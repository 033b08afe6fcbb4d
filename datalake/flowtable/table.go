package flowtable

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/flowlab/flowlab/datalake"
)

// Flow end reasons of datalake.Flow.FlowEndReason (IPFIX flowEndReason,
// IE 136).
const (
	EndIdle      = 1 // idle timeout (also Zeek's attempt delay for an unanswered SYN)
	EndActive    = 2 // active timeout or hour cut; the flow goes on in the next slice
	EndClosed    = 3 // FIN/RST close (after the close delay) or a new connection on the same 5-tuple
	EndForced    = 4 // Flush: end of input or shutdown
	EndResources = 5 // evicted because the table reached MaxFlows
)

// Defaults of Options.
const (
	DefaultTCPIdleTimeout  = 5 * time.Minute  // Zeek tcp_inactivity_timeout
	DefaultUDPIdleTimeout  = time.Minute      // Zeek udp_inactivity_timeout
	DefaultICMPIdleTimeout = time.Minute      // Zeek icmp_inactivity_timeout; also other protocols
	DefaultCloseDelay      = 5 * time.Second  // Zeek tcp_close_delay and tcp_reset_delay
	DefaultAttemptDelay    = 5 * time.Second  // Zeek tcp_attempt_delay
	DefaultFragmentTimeout = 30 * time.Second // Linux ipfrag_time
	DefaultMaxFlows        = 1 << 20
	DefaultMaxFragments    = 1 << 16
	DefaultPayloadHead     = 64
)

// Options configure a Table. The zero value works: every zero field takes
// its default.
type Options struct {
	// TCPIdleTimeout, UDPIdleTimeout and ICMPIdleTimeout end a flow that
	// saw no packet for that long (ICMPIdleTimeout also applies to other
	// IP protocols). Defaults: 5 min, 1 min, 1 min (Zeek's).
	TCPIdleTimeout, UDPIdleTimeout, ICMPIdleTimeout time.Duration
	// ActiveTimeout cuts a flow into a new slice (flow_end_reason 2, same
	// flow_id) once its current slice has lasted this long. Zero means no
	// active timeout beyond the hour cut, which always applies.
	ActiveTimeout time.Duration
	// CloseDelay is how long a TCP connection stays in the table after it
	// closed (FIN from both sides, or a RST), so late ACKs and RSTs count in
	// the same record; AttemptDelay is how long an unanswered SYN waits for
	// an answer. Defaults 5 s (Zeek's tcp_close_delay, tcp_reset_delay,
	// tcp_attempt_delay). A negative value means zero.
	CloseDelay, AttemptDelay time.Duration
	// FragmentTimeout is how long the table remembers the ports of an IP
	// datagram's first fragment for the later ones (default 30 s).
	FragmentTimeout time.Duration
	// MaxFlows bounds the tracked flows; at the bound the least recently
	// active flow is ended with flow_end_reason 5 (default 1<<20).
	// MaxFragments bounds the tracked fragmented datagrams likewise.
	MaxFlows, MaxFragments int
	// TCPServerPorts and UDPServerPorts are the likely server ports used to
	// pick the originator (nil: DefaultServerPorts).
	TCPServerPorts, UDPServerPorts []uint16
	// KeyByVLAN makes the outer and inner VLAN ids part of the flow key, so
	// the same 5-tuple on two VLANs is two flows (Zeek's vlan conn key
	// context). By default VLANs are recorded, not keyed.
	KeyByVLAN bool
	// CommunityIDSeed is the Community ID seed (default 0).
	CommunityIDSeed uint16
	// Sensor and Interface fill the records' sensor and interface columns.
	Sensor, Interface string
	// LocalNets decide src_is_internal and dst_is_internal.
	LocalNets []netip.Prefix
	// EmitFlow receives every finished flow record (or hour slice). The
	// record is newly allocated; the callee may keep it. An error stops
	// the table: Add, Advance and Flush return it.
	EmitFlow func(*datalake.Flow) error
	// FlowColumns, when set, is used instead of EmitFlow: before each
	// finished record the table calls it and appends the record as a row
	// to the columns it returns (of datalake.FlowLayout), which allocates
	// nothing per record: the way ingest collects them. The values are
	// EmitFlow's, with times truncated to microseconds. An error stops the
	// table as EmitFlow's does.
	FlowColumns func() (*datalake.Columns, error)
	// EmitPacket, when set, receives one record per IP layer added, with
	// its flow_id and community_id. The record is reused by the next call:
	// the callee must copy what it keeps (PayloadHead included).
	EmitPacket func(*datalake.Packet) error
	// PayloadHead is how many payload bytes packet records keep (default
	// 64, negative for none).
	PayloadHead int
	// Logger receives debug messages about evictions; nil discards.
	Logger *slog.Logger
}

// Stats are a table's counters since New.
type Stats struct {
	Frames           uint64 // frames given to Add
	Packets          uint64 // IP layers attributed to flows
	FlowsCreated     uint64 // flows started (slices not counted)
	Records          uint64 // records emitted (slices counted)
	EndedIdle        uint64 // flows ended by an idle timeout or the attempt delay
	EndedClosed      uint64 // flows ended by FIN/RST (after the close delay) or reuse
	EndedForced      uint64 // flows ended by Flush
	Evicted          uint64 // flows ended because the table was full (reason 5)
	Reused           uint64 // connections ended by a new SYN on the same 5-tuple
	HourCuts         uint64 // slices cut at an hour boundary
	ActiveCuts       uint64 // slices cut by the active timeout
	Flips            uint64 // flows whose originator was chosen by the port heuristic or a SYN/SYN-ACK reversal
	Fragments        uint64 // IP fragments seen
	FragmentsMatched uint64 // non-first fragments given the ports of their first fragment
	FragmentsOrphan  uint64 // non-first fragments whose first fragment never came (keyed without ports)
	FragmentsEvicted uint64 // datagrams forgotten because MaxFragments was reached
	TimeWentBack     uint64 // packets older than the newest one seen (out of order)
}

// Table is a bidirectional flow table. Time comes only from packet
// timestamps, so the same packets give the same records. A Table is not
// safe for concurrent use: one goroutine adds packets and flushes.
type Table struct {
	opts       Options
	tcpPorts   *portSet
	udpPorts   *portSet
	flows      flowIndex
	lists      [numLists]flowList
	timeouts   [numLists]int64
	frags      map[fragKey]*fragEntry
	fragList   fragList
	clock      int64
	hour       int64
	started    bool
	serial     uint64
	stats      Stats
	err        error
	payloadCap int
	pkt        datalake.Packet
	idBuf      []byte
	cidBuf     []byte
	record     *datalake.Columns // EmitFlow's record, before it becomes a datalake.Flow

	// Flows are allocated in chunks and reused: a finished flow goes to
	// ended, and from there to free when the next call that adds packets
	// starts, so no flow is reused while a pointer to it is in use.
	chunk       []flow
	ended, free []*flow
}

// list indexes
const (
	listAttempt = iota
	listClosing
	listTCP
	listUDP
	listOther
	numLists
)

// New returns an empty table.
func New(opts Options) *Table {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		} else if *d < 0 {
			*d = 0
		}
	}
	def(&opts.TCPIdleTimeout, DefaultTCPIdleTimeout)
	def(&opts.UDPIdleTimeout, DefaultUDPIdleTimeout)
	def(&opts.ICMPIdleTimeout, DefaultICMPIdleTimeout)
	def(&opts.CloseDelay, DefaultCloseDelay)
	def(&opts.AttemptDelay, DefaultAttemptDelay)
	def(&opts.FragmentTimeout, DefaultFragmentTimeout)
	if opts.ActiveTimeout < 0 {
		opts.ActiveTimeout = 0
	}
	if opts.MaxFlows <= 0 {
		opts.MaxFlows = DefaultMaxFlows
	}
	if opts.MaxFragments <= 0 {
		opts.MaxFragments = DefaultMaxFragments
	}
	if opts.TCPServerPorts == nil {
		opts.TCPServerPorts = defaultTCPServerPorts
	}
	if opts.UDPServerPorts == nil {
		opts.UDPServerPorts = defaultUDPServerPorts
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Table{
		opts:     opts,
		tcpPorts: newPortSet(opts.TCPServerPorts),
		udpPorts: newPortSet(opts.UDPServerPorts),
		flows:    newFlowIndex(),
		frags:    make(map[fragKey]*fragEntry),
	}
	t.payloadCap = opts.PayloadHead
	if t.payloadCap == 0 {
		t.payloadCap = DefaultPayloadHead
	}
	if t.payloadCap < 0 {
		t.payloadCap = 0
	}
	t.timeouts = [numLists]int64{
		listAttempt: int64(opts.AttemptDelay),
		listClosing: int64(opts.CloseDelay),
		listTCP:     int64(opts.TCPIdleTimeout),
		listUDP:     int64(opts.UDPIdleTimeout),
		listOther:   int64(opts.ICMPIdleTimeout),
	}
	return t
}

// Stats returns the counters.
func (t *Table) Stats() Stats { return t.stats }

// Len returns the number of flows tracked.
func (t *Table) Len() int { return t.flows.len() }

// Add attributes the IP layers of a frame to flows, outermost first; an
// inner layer's flow gets the outer layer's flow_id as tunnel_parent. It
// first ends the flows whose timeouts passed before the frame's time and
// cuts slices at a crossed hour boundary, emitting their records. It
// returns the first error of an emit callback (wrapped), and after one
// keeps returning it.
func (t *Table) Add(fr *Frame) error {
	if t.err != nil {
		return t.err
	}
	if fr.N <= 0 {
		return nil
	}
	t.reuseEnded()
	t.stats.Frames++
	var parent *flowID
	n := min(fr.N, MaxLayers)
	for i := 0; i < n; i++ {
		p := &fr.Layers[i]
		f := t.add(p, parent)
		if t.err != nil {
			return t.err
		}
		parent = nil
		if f != nil {
			parent = &f.id
		}
	}
	return nil
}

// AddPacket attributes one IP layer, with no tunnel parent.
func (t *Table) AddPacket(p *Packet) error {
	if t.err != nil {
		return t.err
	}
	t.reuseEnded()
	t.stats.Frames++
	t.add(p, nil)
	return t.err
}

// Advance moves the table's clock to now, if later than the newest packet,
// ending the flows whose timeouts passed and cutting slices at crossed hour
// boundaries. A live capture calls it when no packet arrived for a while;
// a file pipeline does not need it.
func (t *Table) Advance(now time.Time) error {
	if t.err != nil {
		return t.err
	}
	t.reuseEnded()
	t.advance(now.UnixNano())
	return t.err
}

// Flush ends every flow (flow_end_reason 4) and forgets pending fragments,
// emitting the records in the order the flows started. The table stays
// usable.
func (t *Table) Flush() error {
	if t.err != nil {
		return t.err
	}
	t.reuseEnded()
	t.expireFragments(true)
	all := make([]*flow, 0, t.flows.len())
	t.flows.all(func(f *flow) { all = append(all, f) })
	slices.SortFunc(all, func(a, b *flow) int { return cmpU64(a.serial, b.serial) })
	for _, f := range all {
		t.stats.EndedForced++
		t.finish(f, EndForced, f.sl.last)
		if t.err != nil {
			return t.err
		}
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

const hourNS = int64(time.Hour)

func floorHour(ns int64) int64 {
	h := ns / hourNS
	if ns < 0 && ns%hourNS != 0 {
		h--
	}
	return h
}

// advance moves the clock forward to now: timeouts due before a crossed
// hour boundary fire first, then the hour cut, then the rest.
func (t *Table) advance(now int64) {
	if !t.started {
		t.started = true
		t.clock = now
		t.hour = floorHour(now)
		return
	}
	if now <= t.clock {
		return
	}
	for t.err == nil {
		nh := floorHour(now)
		if nh <= t.hour {
			break
		}
		boundary := (t.hour + 1) * hourNS
		t.clock = max(t.clock, boundary-1)
		t.expire(boundary - 1)
		t.expireFragments(false)
		t.hour++
		t.cutHour(boundary)
		if nh > t.hour {
			// Skip empty hours at once.
			t.hour = nh - 1
		}
	}
	t.clock = now
	t.expire(now)
	t.expireFragments(false)
}

// expire ends flows whose deadline is at or before now.
func (t *Table) expire(now int64) {
	for li := range t.lists {
		l := &t.lists[li]
		to := t.timeouts[li]
		for l.head != nil && l.head.touch+to <= now && t.err == nil {
			f := l.head
			reason := int32(EndIdle)
			if li == listClosing {
				reason = EndClosed
				t.stats.EndedClosed++
			} else {
				t.stats.EndedIdle++
			}
			t.finish(f, reason, f.sl.last)
		}
	}
}

// cutHour emits the slices of every flow that has packets before boundary.
func (t *Table) cutHour(boundary int64) {
	var cut []*flow
	t.flows.all(func(f *flow) {
		if f.sl.pkts() > 0 && f.sl.first < boundary {
			cut = append(cut, f)
		}
	})
	slices.SortFunc(cut, func(a, b *flow) int { return cmpU64(a.serial, b.serial) })
	for _, f := range cut {
		t.stats.HourCuts++
		t.emit(f, EndActive, boundary)
		f.sl.reset()
		if t.err != nil {
			return
		}
	}
}

// add attributes one layer and returns its flow (nil when the packet was
// held back as an early fragment). parent is the id of the enclosing
// layer's flow, if any.
func (t *Table) add(p *Packet, parent *flowID) *flow {
	if p.Time > t.clock || !t.started {
		t.advance(p.Time)
		if t.err != nil {
			return nil
		}
	} else if p.Time < t.clock {
		t.stats.TimeWentBack++
	}
	if p.Fragment {
		return t.addFragment(p, parent)
	}
	return t.attribute(p, parent)
}

// attribute finds or creates the flow of a packet and updates it.
func (t *Table) attribute(p *Packet, parent *flowID) *flow {
	t.stats.Packets++
	key, srcIsLo := t.makeKey(p)
	f := t.flows.get(&key)
	if f != nil && key.proto == ProtoTCP && p.HasTCP && f.tcp.reuse(p) {
		t.stats.Reused++
		t.stats.EndedClosed++
		t.finish(f, EndClosed, f.sl.last)
		if t.err != nil {
			return nil
		}
		f = nil
	}
	if f == nil {
		if t.flows.len() >= t.opts.MaxFlows {
			t.evict()
			if t.err != nil {
				return nil
			}
		}
		f = t.newFlow(key, srcIsLo, p, parent)
	} else if t.opts.ActiveTimeout > 0 && f.sl.pkts() > 0 && p.Time-f.sl.first >= int64(t.opts.ActiveTimeout) {
		t.stats.ActiveCuts++
		t.emit(f, EndActive, f.sl.last)
		f.sl.reset()
		if t.err != nil {
			return nil
		}
	}
	isOrig := srcIsLo == f.origIsLo
	var res tcpResult
	switch key.proto {
	case ProtoTCP:
		if p.HasTCP {
			res = f.processTCP(p, isOrig)
			if res.flipped {
				t.stats.Flips++
				isOrig = srcIsLo == f.origIsLo
			}
		}
	case ProtoUDP:
		d := 1
		if isOrig {
			d = 0
		}
		f.udpActive[d] = true
		e := f.tcp.resp
		if isOrig {
			e = f.tcp.orig
		}
		f.checkHistory(e, histData, 'D')
	}
	f.update(p, isOrig, res.rxmt)
	t.place(f, key.proto, res)
	if t.opts.EmitPacket != nil {
		t.emitPacket(f, p)
	}
	return f
}

// place puts a flow on the list of its next deadline.
func (t *Table) place(f *flow, proto uint8, res tcpResult) {
	switch {
	case f.list == listClosing:
		// The close delay runs from the close; later packets do not
		// extend it (Zeek's ConnDeleteTimer).
		return
	case res.closed:
		t.move(f, listClosing)
	case proto == ProtoTCP:
		c := &f.tcp
		attempt := (c.orig.state == stSynSent || c.orig.state == stSynAckSent) && c.resp.state == stInactive
		if attempt && (res.attempt || f.list == listAttempt) {
			if f.list != listAttempt {
				t.move(f, listAttempt)
			}
			return
		}
		t.move(f, listTCP)
	case proto == ProtoUDP:
		t.move(f, listUDP)
	default:
		t.move(f, listOther)
	}
}

func (t *Table) move(f *flow, li int) {
	if f.list >= 0 {
		t.lists[f.list].remove(f)
	}
	f.list = li
	f.touch = t.clock
	t.lists[li].pushBack(f)
}

// evict ends the least recently active flow.
func (t *Table) evict() {
	var victim *flow
	for li := range t.lists {
		h := t.lists[li].head
		if h != nil && (victim == nil || h.touch < victim.touch || (h.touch == victim.touch && h.serial < victim.serial)) {
			victim = h
		}
	}
	if victim == nil {
		return
	}
	t.stats.Evicted++
	t.opts.Logger.Debug("flow table full, evicting", "flow_id", victim.id.String(), "max_flows", t.opts.MaxFlows)
	t.finish(victim, EndResources, victim.sl.last)
}

// finish emits a flow's last slice (if it has packets) and forgets it.
func (t *Table) finish(f *flow, reason int32, end int64) {
	if f.list >= 0 {
		t.lists[f.list].remove(f)
		f.list = -1
	}
	t.flows.delete(f)
	if f.sl.pkts() > 0 {
		t.emit(f, reason, end)
	}
	t.ended = append(t.ended, f)
}

// flowChunk is how many flows are allocated at once.
const flowChunk = 1024

// newFlowValue returns a zeroed flow, a reused one if any.
func (t *Table) newFlowValue() *flow {
	if n := len(t.free); n > 0 {
		f := t.free[n-1]
		t.free = t.free[:n-1]
		h := f.history[:0]
		*f = flow{history: h}
		return f
	}
	if len(t.chunk) == 0 {
		t.chunk = make([]flow, flowChunk)
	}
	f := &t.chunk[0]
	t.chunk = t.chunk[1:]
	return f
}

// reuseEnded makes the flows that ended so far available for reuse; it is
// called when no pointer to a flow is held outside the table's map.
func (t *Table) reuseEnded() {
	t.free = append(t.free, t.ended...)
	clear(t.ended)
	t.ended = t.ended[:0]
}

// makeKey builds the canonical key of a packet: the lower (address, port)
// pair first.
func (t *Table) makeKey(p *Packet) (flowKey, bool) {
	var k flowKey
	k.proto = p.Proto
	k.depth = p.Depth
	if p.Src.Is4() {
		k.v = 4
	} else {
		k.v = 6
	}
	if t.opts.KeyByVLAN {
		k.vlan = uint32(p.VLANID)<<16 | uint32(p.InnerVLANID)
	}
	src, dst := p.Src.As16(), p.Dst.As16()
	sp, dp := p.SrcPort, p.DstPort
	if p.HasICMP && (p.Proto == ProtoICMP || p.Proto == ProtoICMPv6) {
		sp, dp, _ = icmpPorts(p.Proto, p.ICMPType, p.ICMPCode)
	}
	// Both addresses are of one family, without zones: Compare orders
	// them as their 16-byte forms compare, with two integer comparisons.
	c := p.Src.Compare(p.Dst)
	srcIsLo := c < 0 || (c == 0 && sp <= dp)
	if srcIsLo {
		k.lo, k.hi, k.loPort, k.hiPort = src, dst, sp, dp
	} else {
		k.lo, k.hi, k.loPort, k.hiPort = dst, src, dp, sp
	}
	return k, srcIsLo
}

// newFlow creates the flow of a packet, choosing the originator.
func (t *Table) newFlow(key flowKey, srcIsLo bool, p *Packet, parent *flowID) *flow {
	t.serial++
	t.stats.FlowsCreated++
	f := t.newFlowValue()
	f.key, f.serial, f.list, f.origIsLo = key, t.serial, -1, srcIsLo
	f.tcp.init()
	f.sl.reset()
	flip := false
	switch p.Proto {
	case ProtoTCP:
		if p.HasTCP && (p.TCPFlags&flagSYN == 0 || p.TCPFlags&flagACK != 0) && p.HasPorts {
			if t.tcpPorts.has(p.SrcPort) {
				if t.tcpPorts.has(p.DstPort) {
					flip = p.TCPFlags&flagSYN == 0 && p.SrcPort < p.DstPort
				} else {
					flip = true
				}
			}
		}
	case ProtoUDP:
		flip = p.HasPorts && t.udpPorts.has(p.SrcPort) && !t.udpPorts.has(p.DstPort)
	}
	if flip {
		f.origIsLo = !srcIsLo
		f.history = append(f.history, '^')
		f.flipped = true
		t.stats.Flips++
	}
	f.start = p.Time
	f.ipVersion = key.v
	if p.HasICMP {
		f.icmpType, f.icmpCode, f.hasICMP = int32(p.ICMPType), int32(p.ICMPCode), true
	}
	if p.VLANs > 0 {
		f.vlans = p.VLANs
		f.vlanID, f.innerVLANID = int32(p.VLANID), int32(p.InnerVLANID)
	}
	if parent != nil {
		f.parent, f.hasParent = *parent, true
	}
	orig, resp := p.Src, p.Dst
	if flip {
		orig, resp = resp, orig
	}
	f.origAddr, f.respAddr = orig, resp
	t.setFlowID(f)
	t.setCommunityID(f, p)
	if t.opts.EmitPacket != nil {
		f.addr[0], f.addr[1] = orig.String(), resp.String()
		f.idText, f.cidText = f.id.String(), string(f.cid[:])
	}
	for _, pre := range t.opts.LocalNets {
		if pre.Contains(orig) {
			f.local[0] = true
		}
		if pre.Contains(resp) {
			f.local[1] = true
		}
	}
	t.flows.put(f)
	return f
}

// flowID is a flow_id: "F" and 20 base64url characters (120 bits of a
// SHA-1).
type flowID [21]byte

func (id *flowID) String() string { return string(id[:]) }

// communityIDText is a community_id: "1:" and the base64 of a SHA-1.
type communityIDText [30]byte

// setFlowID derives a stable identifier from the sensor, the interface,
// the first packet's time, the key and a serial number.
func (t *Table) setFlowID(f *flow) {
	b := t.idBuf[:0]
	b = append(b, t.opts.Sensor...)
	b = append(b, 0)
	b = append(b, t.opts.Interface...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(f.start))
	b = binary.BigEndian.AppendUint64(b, f.serial)
	b = append(b, f.key.lo[:]...)
	b = append(b, f.key.hi[:]...)
	b = binary.BigEndian.AppendUint16(b, f.key.loPort)
	b = binary.BigEndian.AppendUint16(b, f.key.hiPort)
	b = append(b, f.key.proto, f.key.depth)
	t.idBuf = b
	sum := sha1.Sum(b)
	f.id[0] = 'F'
	base64.RawURLEncoding.Encode(f.id[1:], sum[:15])
}

func (t *Table) setCommunityID(f *flow, p *Packet) {
	sp, dp := p.SrcPort, p.DstPort
	if p.HasICMP {
		sp, dp = uint16(p.ICMPType), uint16(p.ICMPCode)
	}
	t.cidBuf = appendCommunityID(t.cidBuf[:0], t.opts.CommunityIDSeed, p.Src, p.Dst, p.Proto, sp, dp)
	copy(f.cid[:], t.cidBuf)
}

// emit sends one record of the flow's current slice.
func (t *Table) emit(f *flow, reason int32, end int64) {
	t.stats.Records++
	if t.err != nil {
		return
	}
	var err error
	switch {
	case t.opts.FlowColumns != nil:
		var c *datalake.Columns
		if c, err = t.opts.FlowColumns(); err == nil {
			f.appendRecord(c, &t.opts, reason, end)
		}
	case t.opts.EmitFlow != nil:
		if t.record == nil {
			t.record = datalake.FlowLayout.New()
		}
		t.record.Reset()
		f.appendRecord(t.record, &t.opts, reason, end)
		rec := datalake.FlowLayout.Record(t.record, 0)
		// The columns keep microseconds; EmitFlow's records keep the
		// packets' nanoseconds.
		s := &f.sl
		rec.StartTimestamp, rec.EndTimestamp, rec.Timestamp = time.Unix(0, s.first).UTC(), time.Unix(0, s.last).UTC(), time.Unix(0, end).UTC()
		err = t.opts.EmitFlow(&rec)
	}
	if err != nil {
		t.err = fmt.Errorf("flowtable: emit flow %s: %w", f.id.String(), err)
	}
}

func (t *Table) emitPacket(f *flow, p *Packet) {
	r := &t.pkt
	isLoSrc := p.Src == f.origAddr
	r.Timestamp = time.Unix(0, p.Time).UTC()
	if isLoSrc {
		r.SrcAddress, r.DstAddress = f.addr[0], f.addr[1]
	} else if p.Src == f.respAddr {
		r.SrcAddress, r.DstAddress = f.addr[1], f.addr[0]
	} else {
		r.SrcAddress, r.DstAddress = p.Src.String(), p.Dst.String()
	}
	r.SrcPort, r.DstPort = int32(p.SrcPort), int32(p.DstPort)
	if p.HasICMP {
		r.SrcPort, r.DstPort = int32(p.ICMPType), int32(p.ICMPCode)
	}
	r.IPVersion = int32(f.ipVersion)
	r.Proto = ProtoName(p.Proto)
	r.IPProto = int32(p.Proto)
	r.TTL = int32(p.TTL)
	r.Seq, r.Ack, r.TCPFlags, r.Window = 0, 0, 0, 0
	if p.HasTCP {
		r.Seq, r.Ack = int64(p.Seq), int64(p.Ack)
		r.TCPFlags, r.Window = int32(p.TCPFlags), int32(p.Window)
	}
	r.WireLen, r.CapLen = int32(p.WireLen), int32(p.CapLen)
	r.IPLen, r.PayloadLen = int32(p.IPLen), int32(p.PayloadLen)
	n := min(len(p.Payload), t.payloadCap)
	r.PayloadHead = append(r.PayloadHead[:0], p.Payload[:n]...)
	if n == 0 {
		r.PayloadHead = r.PayloadHead[:0:0]
	}
	r.FlowID, r.CommunityID = f.idText, f.cidText
	r.Sensor, r.Interface = t.opts.Sensor, t.opts.Interface
	if err := t.opts.EmitPacket(r); err != nil {
		t.err = fmt.Errorf("flowtable: emit packet of flow %s: %w", f.idText, err)
	}
}

// flowKey is the canonical key: the lower (address, port) first.
type flowKey struct {
	lo, hi         [16]byte
	loPort, hiPort uint16
	proto, depth   uint8
	v              uint8
	vlan           uint32
}

// flowList is an intrusive doubly linked list ordered by touch time.
type flowList struct{ head, tail *flow }

func (l *flowList) pushBack(f *flow) {
	f.prev, f.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

func (l *flowList) remove(f *flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
}
