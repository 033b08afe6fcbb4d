package flowtable

// Fragment attribution. Only an IP datagram's first fragment (offset 0)
// carries the transport header, so the table remembers, per datagram, the
// ports (or ICMP type and code) of the first fragment under the key
// (source, destination, protocol, IP identification, depth) and gives them
// to the later fragments of the same datagram. The entry is forgotten when
// the datagram is complete (the last fragment was seen and the fragments'
// data add up to its length), after Options.FragmentTimeout without a
// fragment, or when Options.MaxFragments datagrams are pending (oldest
// first). Later fragments that arrive before their first fragment are held
// in the entry (up to maxParked per datagram) and attributed when it comes;
// if it never comes they are attributed without ports (src_port = dst_port
// = 0) and counted in Stats.FragmentsOrphan.

const maxParked = 64

type fragKey struct {
	src, dst     [16]byte
	id           uint32
	proto, depth uint8
}

type fragEntry struct {
	key        fragKey
	sport      uint16
	dport      uint16
	icmpType   uint8
	icmpCode   uint8
	hasPorts   bool
	hasICMP    bool
	haveFirst  bool
	haveLast   bool
	received   uint64
	total      uint64
	touch      int64
	parked     []Packet
	parents    []*flowID // the tunnel parent of each parked fragment (a copy: that flow may end meanwhile)
	prev, next *fragEntry
}

type fragList struct{ head, tail *fragEntry }

func (l *fragList) pushBack(e *fragEntry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *fragList) remove(e *fragEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// addFragment attributes a fragment using the datagram's first fragment.
func (t *Table) addFragment(p *Packet, parent *flowID) *flow {
	t.stats.Fragments++
	k := fragKey{src: p.Src.As16(), dst: p.Dst.As16(), id: p.FragID, proto: p.Proto, depth: p.Depth}
	e := t.frags[k]
	if e == nil {
		if len(t.frags) >= t.opts.MaxFragments {
			t.stats.FragmentsEvicted++
			t.dropFragment(t.fragList.head)
			if t.err != nil {
				return nil
			}
		}
		e = &fragEntry{key: k}
		t.frags[k] = e
	} else {
		t.fragList.remove(e)
	}
	e.touch = t.clock
	t.fragList.pushBack(e)

	e.received += uint64(p.FragLen)
	if !p.MoreFrags {
		e.haveLast = true
		e.total = uint64(p.FragOffset) + uint64(p.FragLen)
	}

	var f *flow
	if p.FragOffset == 0 {
		e.haveFirst = true
		e.hasPorts, e.sport, e.dport = p.HasPorts, p.SrcPort, p.DstPort
		e.hasICMP, e.icmpType, e.icmpCode = p.HasICMP, p.ICMPType, p.ICMPCode
		f = t.attribute(p, parent)
		for i := range e.parked {
			if t.err != nil {
				break
			}
			q := &e.parked[i]
			t.giveFirst(e, q)
			t.stats.FragmentsMatched++
			t.attribute(q, e.parents[i])
		}
		e.parked, e.parents = nil, nil
	} else if e.haveFirst {
		t.giveFirst(e, p)
		t.stats.FragmentsMatched++
		f = t.attribute(p, parent)
	} else if len(e.parked) < maxParked {
		q := *p
		q.Payload = nil
		e.parked = append(e.parked, q)
		if parent != nil {
			id := *parent
			parent = &id
		}
		e.parents = append(e.parents, parent)
	} else {
		t.stats.FragmentsOrphan++
		f = t.attribute(p, parent)
	}
	if e.haveFirst && e.haveLast && e.received >= e.total {
		delete(t.frags, k)
		t.fragList.remove(e)
	}
	return f
}

// giveFirst copies the first fragment's transport fields into a later one.
func (t *Table) giveFirst(e *fragEntry, p *Packet) {
	p.HasPorts, p.SrcPort, p.DstPort = e.hasPorts, e.sport, e.dport
	p.HasICMP, p.ICMPType, p.ICMPCode = e.hasICMP, e.icmpType, e.icmpCode
}

// expireFragments forgets datagrams not seen for FragmentTimeout (all of
// them when all is set), attributing their held fragments without ports.
func (t *Table) expireFragments(all bool) {
	to := int64(t.opts.FragmentTimeout)
	for h := t.fragList.head; h != nil && t.err == nil; h = t.fragList.head {
		if !all && h.touch+to > t.clock {
			return
		}
		t.dropFragment(h)
	}
}

func (t *Table) dropFragment(e *fragEntry) {
	delete(t.frags, e.key)
	t.fragList.remove(e)
	for i := range e.parked {
		if t.err != nil {
			return
		}
		t.stats.FragmentsOrphan++
		t.attribute(&e.parked[i], e.parents[i])
	}
	e.parked, e.parents = nil, nil
}
