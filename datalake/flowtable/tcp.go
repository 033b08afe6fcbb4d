package flowtable

// TCP endpoint states, after Zeek's TCP_Endpoint (TCP_ENDPOINT_*).
type epState uint8

const (
	stInactive epState = iota
	stSynSent
	stSynAckSent
	stPartial
	stEstablished
	stClosed
	stReset
)

const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
	flagURG
	flagECE
	flagCWR
)

// Bits of flow.histSeen, one per history event and side (the responder's
// bits are shifted left by 16), as in Zeek's Connection::hist_seen.
const (
	histSYN     = 0x1
	histFIN     = 0x2
	histRST     = 0x4
	histFINRST  = 0x8
	histData    = 0x10
	histACK     = 0x20
	histMulti   = 0x40
	histCorrupt = 0x80
)

// tooLargeSeqDelta is the sequence jump beyond which SYN and RST sequence
// numbers are not trusted (Zeek's TOO_LARGE_SEQ_DELTA).
const tooLargeSeqDelta = 1 << 20

// endpoint is one side of a TCP connection.
type endpoint struct {
	state, prev epState
	isOrig      bool
	didClose    bool
	startSeq    uint32
	lastSeq     uint32
	ackSeq      uint32
	finCnt      uint32

	histLastSYN, histLastFIN, histLastRST uint32

	rxmtCnt, rxmtThresh uint32
	win0Cnt, win0Thresh uint32
}

func (e *endpoint) setState(s epState) {
	if s != e.state {
		e.prev = e.state
		e.state = s
	}
}

// size is the endpoint's byte count in sequence space, as Zeek's
// TCP_Endpoint::Size computes it (without 64-bit wrap tracking); only
// conn_state's REJ rule uses it.
func (e *endpoint) size(peer *endpoint) uint32 {
	if e.prev == stSynSent && e.state == stReset && peer.state == stInactive && e.ackSeq != e.startSeq {
		return 0
	}
	var size uint32
	if int32(e.lastSeq-e.ackSeq) > 0 {
		size = e.lastSeq - e.startSeq
	} else {
		size = e.ackSeq - e.startSeq
	}
	if size != 0 {
		size--
	}
	if e.finCnt > 0 && size != 0 {
		size--
	}
	return size
}

// tcpConn is the TCP state of a flow: the two endpoints, reached through
// orig and resp so a flip of roles swaps two pointers.
type tcpConn struct {
	eps        [2]endpoint
	orig, resp *endpoint

	synTime, synAckTime int64
	handshake           int64 // ns, -1 until known
}

func (c *tcpConn) init() {
	c.eps[0] = endpoint{isOrig: true, rxmtThresh: 1, win0Thresh: 1}
	c.eps[1] = endpoint{isOrig: false, rxmtThresh: 1, win0Thresh: 1}
	c.orig, c.resp = &c.eps[0], &c.eps[1]
	c.handshake = -1
}

// addHistory appends a letter, lower-cased for the responder.
func (f *flow) addHistory(e *endpoint, code byte) {
	if !e.isOrig {
		code |= 0x20
	}
	f.history = append(f.history, code)
}

// checkHistory adds code once per side; it reports whether the event had
// been seen before (Zeek's Connection::CheckHistory).
func (f *flow) checkHistory(e *endpoint, mask uint32, code byte) bool {
	if !e.isOrig {
		mask <<= 16
	}
	if f.histSeen&mask == 0 {
		f.histSeen |= mask
		f.addHistory(e, code)
		return false
	}
	return true
}

// scaledHistory adds code at the 1st, 10th, 100th, ... event.
func (f *flow) scaledHistory(e *endpoint, code byte, counter, threshold *uint32) {
	*counter++
	if *counter == *threshold {
		f.addHistory(e, code)
		*threshold *= 10
	}
}

// tcpReuse reports whether a packet on an existing connection starts a new
// one (Zeek's TCPSessionAdapter::IsReuse): a SYN on a connection one side
// has closed, or a SYN whose sequence number is not the connection's.
func (c *tcpConn) reuse(p *Packet) bool {
	if p.TCPFlags&flagSYN == 0 {
		return false
	}
	connOrig := c.orig
	if p.TCPFlags&flagACK != 0 {
		if c.orig.state != stInactive {
			return false
		}
		connOrig = c.resp
	}
	if !c.orig.didClose && !c.resp.didClose {
		if p.Seq == connOrig.startSeq {
			return false
		}
		if p.TCPFlags&flagACK == 0 && connOrig.state == stSynAckSent && c.resp.state == stInactive && p.Seq == c.resp.startSeq {
			return false
		}
	}
	return true
}

// tcpResult tells the table what a packet did to the connection.
type tcpResult struct {
	flipped   bool // roles were swapped (SYN/SYN-ACK reversal)
	attempt   bool // the originator's first SYN: start the attempt timer
	closed    bool // the connection closed completely: start the close delay
	rxmt      bool // the packet retransmitted payload
	synOrigin bool
}

// processTCP runs one segment through the connection state machine, the
// history and the retransmission check. isOrig is the sender's role before
// the packet; the result says whether roles flipped.
func (f *flow) processTCP(p *Packet, isOrig bool) tcpResult {
	var res tcpResult
	c := &f.tcp
	e, peer := c.resp, c.orig
	if isOrig {
		e, peer = c.orig, c.resp
	}
	flags := p.TCPFlags
	syn, fin, rst, ack := flags&flagSYN != 0, flags&flagFIN != 0, flags&flagRST != 0, flags&flagACK != 0
	length := int64(p.PayloadLen)
	if !p.HasTCP {
		length = 0
	}
	segLen := length
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst {
		segLen -= length
	}
	seq := p.Seq
	onePast := seq + uint32(segLen)

	// init_endpoint
	switch e.state {
	case stInactive:
		last := onePast
		if syn {
			e.ackSeq, e.startSeq = seq, seq
		} else {
			e.ackSeq, e.startSeq = seq-1, seq-1
			last = seq
		}
		e.lastSeq = last
	case stSynSent, stSynAckSent:
		if syn && seq != e.startSeq {
			e.startSeq, e.ackSeq, e.lastSeq = seq, seq, onePast
		}
	case stEstablished, stPartial:
		if syn {
			e.startSeq, e.ackSeq, e.lastSeq = seq, seq, onePast
		}
	case stReset:
		if syn && e.prev == stInactive {
			e.startSeq, e.ackSeq, e.lastSeq = seq, seq, onePast
		}
	}
	relSeq := seq - e.startSeq

	// update_history
	bits := 0
	if syn {
		bits++
	}
	if fin {
		bits++
	}
	if rst {
		bits++
	}
	switch {
	case bits > 1:
		if fin && rst {
			f.checkHistory(e, histFINRST, 'I')
		} else {
			f.checkHistory(e, histMulti, 'Q')
		}
	case bits == 1:
		if syn {
			code := byte('S')
			if ack {
				code = 'H'
			}
			if f.checkHistory(e, histSYN, code) && relSeq != e.histLastSYN {
				f.addHistory(e, code)
			}
			e.histLastSYN = relSeq
		}
		if fin {
			end := relSeq + uint32(length)
			if f.checkHistory(e, histFIN, 'F') && end != e.histLastFIN {
				f.addHistory(e, 'F')
			}
			e.histLastFIN = end
		}
		if rst {
			if f.checkHistory(e, histRST, 'R') && relSeq != e.histLastRST {
				f.addHistory(e, 'R')
			}
			e.histLastRST = relSeq
		}
	default:
		if length > 0 {
			f.checkHistory(e, histData, 'D')
		} else if ack {
			f.checkHistory(e, histACK, 'A')
		}
	}

	// update_window: only the zero-window history letter matters here.
	if p.HasTCP && p.Window == 0 && !rst && peer.state != stClosed && e.state != stReset {
		f.scaledHistory(e, 'W', &e.win0Cnt, &e.win0Thresh)
	}

	if fin {
		e.finCnt++
	}

	if ack {
		if peer.state == stInactive {
			peer.startSeq, peer.ackSeq, peer.lastSeq = p.Ack-1, p.Ack-1, p.Ack-1
		} else if !rst {
			delta := int32(p.Ack - peer.ackSeq)
			if !(p.Ack == 0 && delta > tooLargeSeqDelta) && delta > 0 {
				peer.ackSeq = p.Ack
			}
		}
	}

	// update_last_seq
	deltaLast := int32(onePast - e.lastSeq)
	switch {
	case (syn || rst) && (deltaLast > tooLargeSeqDelta || deltaLast < -tooLargeSeqDelta):
	case fin && e.lastSeq == e.startSeq+1:
		e.lastSeq = onePast
	case e.state == stReset:
	case deltaLast > 0:
		e.lastSeq = onePast
	case length > 0:
		res.rxmt = true
		f.scaledHistory(e, 'T', &e.rxmtCnt, &e.rxmtThresh)
	}

	// UpdateStateMachine
	doClose := false
	switch e.state {
	case stInactive:
		if syn {
			if e.isOrig {
				if ack {
					e.setState(stSynAckSent)
				} else {
					e.setState(stSynSent)
				}
				res.attempt = true
			} else {
				if !ack && peer.state == stSynAckSent && seq == e.startSeq {
					// A SYN/SYN-ACK reversal: the side that sent the
					// SYN-ACK first is the responder after all.
					f.flipRoles()
					peer.setState(stEstablished)
					res.flipped = true
				}
				if peer.state == stSynSent {
					peer.setState(stEstablished)
				}
				e.setState(stEstablished)
			}
		}
		if fin {
			e.setState(stClosed)
			doClose = true
		}
		if rst {
			e.setState(stReset)
			doClose = true
		}
		if e.state == stInactive {
			switch {
			case !e.isOrig && length == 0 && c.orig.state == stSynSent:
				// An ACK of the SYN before the SYN-ACK: not a partial
				// connection.
			case ack && peer.state == stEstablished:
				e.setState(stEstablished)
			default:
				e.setState(stPartial)
			}
		}
	case stSynSent, stSynAckSent:
		if fin {
			e.setState(stClosed)
			doClose = true
		}
		if rst {
			e.setState(stReset)
			doClose = true
		}
	case stEstablished, stPartial:
		if syn && e.state == stPartial && peer.state == stInactive && !ack {
			e.setState(stSynSent)
		}
		if fin && !rst {
			e.setState(stClosed)
			if peer.state == stReset && peer.prev == stClosed {
				peer.setState(stClosed)
			}
			doClose = true
		}
		if rst {
			e.setState(stReset)
			doClose = true
		}
	case stClosed:
		if rst && peer.state != stClosed {
			e.setState(stReset)
			if !e.didClose {
				doClose = true
			}
		}
	case stReset:
	}

	if doClose && !e.didClose {
		e.didClose = true
		if e.state == stReset || peer.didClose || peer.state == stInactive {
			res.closed = true
		}
	}
	return res
}

// flipRoles swaps originator and responder mid-connection and marks the
// history with '^' (Zeek's Connection::FlipRoles). The history letters
// already written keep their case, as in Zeek.
func (f *flow) flipRoles() {
	c := &f.tcp
	c.orig, c.resp = c.resp, c.orig
	c.orig.isOrig, c.resp.isOrig = true, false
	f.swapRoles()
	f.history = append(f.history, '^')
}

// connState is Zeek's conn_state for the flow.
func (f *flow) connState() string {
	switch f.key.proto {
	case ProtoTCP:
		return f.tcp.connState(f.history)
	case ProtoUDP:
		o, r := f.udpActive[0], f.udpActive[1]
		switch {
		case o && r:
			return "SF"
		case o:
			return "S0"
		case r:
			return "SHR"
		}
		return "OTH"
	}
	return "OTH"
}

func (c *tcpConn) connState(history []byte) string {
	os, rs := c.orig.state, c.resp.state
	oInactive := os == stInactive || os == stPartial
	rInactive := rs == stInactive || rs == stPartial
	switch {
	case rs == stReset:
		if os == stSynSent || os == stSynAckSent || (os == stReset && c.orig.size(c.resp) == 0 && c.resp.size(c.orig) == 0) {
			return "REJ"
		}
		if oInactive {
			return "RSTRH"
		}
		return "RSTR"
	case os == stReset:
		if rInactive {
			if rstos0History(history) {
				return "RSTOS0"
			}
			return "OTH"
		}
		return "RSTO"
	case rs == stClosed && os == stClosed:
		return "SF"
	case os == stClosed:
		if rInactive {
			return "SH"
		}
		return "S2"
	case rs == stClosed:
		if oInactive {
			return "SHR"
		}
		return "S3"
	case os == stSynSent && rs == stInactive:
		return "S0"
	case os == stEstablished && rs == stEstablished:
		return "S1"
	}
	return "OTH"
}

// rstos0History matches Zeek's /^?S[^HAFGIQ]*R.*/ against the whole
// history: an optional '^', an 'S', then an 'R' before any of H A F G I Q.
func rstos0History(h []byte) bool {
	i := 0
	if i < len(h) && h[i] == '^' {
		i++
	}
	if i >= len(h) || h[i] != 'S' {
		return false
	}
	for i++; i < len(h); i++ {
		switch h[i] {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
