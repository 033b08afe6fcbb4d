package demo

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/parquet"
)

const (
	sensor    = "demo-sensor-1"
	iface     = "eth0"
	rstACK    = datalake.FlagRST | datalake.FlagACK
	fullFlags = datalake.FlagSYN | datalake.FlagACK | datalake.FlagFIN | datalake.FlagPSH
)

// generate writes the flows of one unit to w.
func (p *plan) generate(u unit, w *parquet.FlowWriter) error {
	hp := p.hour(u.hour)
	for i := u.from; i < u.to; i++ {
		r := p.rng(3, uint64(hp.index), uint64(i))
		for j := range hp.counts[i] {
			f := p.background(r, hp, i, j)
			if err := w.Write(f); err != nil {
				return err
			}
		}
	}
	if !u.scans {
		return nil
	}
	for si, s := range p.scans {
		r := p.rng(4, uint64(hp.index), uint64(si))
		for j, pr := range s.probes {
			if err := w.Write(p.scanFlow(r, hp, s, pr, si, j)); err != nil {
				return err
			}
		}
	}
	return nil
}

// base fills the fields every flow has.
func (p *plan) base(r *rand.Rand, hp hourPlan, src, dst endpoint, svc service, sport int32, key ...uint64) datalake.Flow {
	start := hp.hour.Add(time.Duration(r.Int64N(int64(hp.horizon.Sub(hp.hour)/time.Microsecond))) * time.Microsecond)
	f := datalake.Flow{
		StartTimestamp: start,
		Timestamp:      hp.horizon, // the end of the hour slice, or now for the current hour
		FlowID:         flowID(mix(append([]uint64{uint64(p.o.Seed), uint64(hp.index)}, key...)...)),
		SrcAddress:     src.addr,
		DstAddress:     dst.addr,
		IPVersion:      4,
		SrcPort:        sport,
		DstPort:        svc.port,
		Proto:          svc.proto,
		IPProto:        svc.ipProto,
		Sensor:         sensor,
		Interface:      iface,
		SrcIsInternal:  src.internal,
		DstIsInternal:  dst.internal,
		SrcHostname:    src.host,
		DstHostname:    dst.host,
		MinTTL:         int32(52 + r.IntN(12)),
	}
	f.MaxTTL = f.MinTTL + int32(r.IntN(2))
	f.Service = svc.name
	f.CommunityID = communityID(src.ip, dst.ip, uint8(svc.ipProto), uint16(f.SrcPort), uint16(f.DstPort))
	return f
}

// finish sets the end time from a duration, kept inside the hour (and not
// after now), and the totals.
func finish(f *datalake.Flow, hp hourPlan, d time.Duration) {
	end := f.StartTimestamp.Add(d)
	if limit := hp.horizon.Add(-time.Microsecond); end.After(limit) {
		end = limit
	}
	if end.Before(f.StartTimestamp) {
		end = f.StartTimestamp
	}
	f.EndTimestamp = end
	f.DurationUS = end.Sub(f.StartTimestamp).Microseconds()
	f.Pkts = f.FwdPkts + f.RevPkts
	f.Bytes = f.FwdBytes + f.RevBytes
}

func flowID(x uint64) string {
	s := strconv.FormatUint(x, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return "C" + s
}

func logDuration(r *rand.Rand, min, max time.Duration) time.Duration {
	lo, hi := math.Log(float64(min)), math.Log(float64(max))
	return time.Duration(math.Exp(lo + r.Float64()*(hi-lo)))
}

// background makes flow j of source i in the hour.
func (p *plan) background(r *rand.Rand, hp hourPlan, i, j int) datalake.Flow {
	src := p.sources[i]
	sport := int32(32768 + r.IntN(28232))
	if peers, ok := p.peers[i]; ok {
		// A non-compliant host: TCP to its peers, every peer every hour.
		srv := p.servers[peers[j%len(peers)]]
		return p.tcp(r, hp, src, srv.endpoint, srv.services[r.IntN(len(srv.services))], sport, uint64(i), uint64(j))
	}
	roll := r.IntN(100)
	switch {
	case roll < 2:
		// A connection attempt that failed after one SYN: it matches the
		// lab's predicate, but only towards this source's two flaky servers.
		srv := p.servers[p.flaky[i][r.IntN(2)]]
		return p.synFailure(r, hp, src, srv.endpoint, srv.services[r.IntN(len(srv.services))], sport, uint64(i), uint64(j))
	case roll < 80:
		var srv server
		switch {
		case !src.internal:
			srv = p.servers[p.web[r.IntN(len(p.web))]]
		case r.IntN(10) < 6:
			srv = p.servers[p.internal[r.IntN(len(p.internal))]]
		default:
			srv = p.servers[p.external[r.IntN(len(p.external))]]
		}
		var svc service
		for {
			svc = srv.services[r.IntN(len(srv.services))]
			if svc.proto == "TCP" {
				break
			}
			srv = p.servers[p.web[r.IntN(len(p.web))]]
		}
		return p.tcp(r, hp, src, srv.endpoint, svc, sport, uint64(i), uint64(j))
	case roll < 97:
		srv := p.servers[p.dns]
		if src.internal && r.IntN(5) == 0 {
			srv = p.servers[p.ntp]
		}
		return p.udp(r, hp, src, srv.endpoint, srv.services[0], sport, uint64(i), uint64(j))
	default:
		var srv server
		if src.internal {
			srv = p.servers[p.internal[r.IntN(len(p.internal))]]
		} else {
			srv = p.servers[p.web[r.IntN(len(p.web))]]
		}
		return p.icmp(r, hp, src, srv.endpoint, uint64(i), uint64(j))
	}
}

// tcp makes a TCP connection: mostly complete (SF), some unanswered with SYN
// retries (S0), some refused after a retry (REJ). None has fwd_pkts = 1 with
// one SYN: single-SYN failures come from synFailure only, so their
// destinations stay bounded.
func (p *plan) tcp(r *rand.Rand, hp hourPlan, src, dst endpoint, svc service, sport int32, key ...uint64) datalake.Flow {
	f := p.base(r, hp, src, dst, svc, sport, key...)
	f.FwdInitWin = int32(64240)
	switch roll := r.IntN(100); {
	case roll < 95:
		data := int64(1 + r.IntN(20))
		back := int64(1 + r.IntN(30))
		f.FwdPkts, f.RevPkts = 3+data, 2+back
		f.FwdPayloadBytes = data * int64(40+r.IntN(1400))
		f.RevPayloadBytes = back * int64(200+r.IntN(1260))
		f.FwdBytes = f.FwdPkts*52 + f.FwdPayloadBytes
		f.RevBytes = f.RevPkts*52 + f.RevPayloadBytes
		f.FwdSynCount, f.FwdAckCount, f.FwdFinCount, f.FwdPshCount = 1, int32(f.FwdPkts-1), 1, int32(data)
		f.RevSynCount, f.RevAckCount, f.RevFinCount, f.RevPshCount = 1, int32(f.RevPkts), 1, int32(back)
		f.FwdTCPFlags, f.RevTCPFlags = fullFlags, fullFlags
		f.ConnState, f.History, f.FlowEndReason = "SF", "ShADadFf", 3
		f.RevInitWin = 65160
		hs := int64(200 + r.IntN(40000))
		f.HandshakeUS = &hs
		rtt := hs + int64(r.IntN(2000))
		f.SRTTUS = &rtt
		f.FwdPktLenMin, f.FwdPktLenMax = 52, int32(52+f.FwdPayloadBytes/data)
		f.RevPktLenMin, f.RevPktLenMax = 52, int32(52+f.RevPayloadBytes/back)
		f.FwdPktLenSumsq = f.FwdPkts * int64(f.FwdPktLenMax) * int64(f.FwdPktLenMax)
		f.RevPktLenSumsq = f.RevPkts * int64(f.RevPktLenMax) * int64(f.RevPktLenMax)
		if r.IntN(50) == 0 {
			f.TCPRetransFwd = 1
		}
		finish(&f, hp, logDuration(r, 2*time.Millisecond, 90*time.Second))
	case roll < 98:
		tries := int64(2 + r.IntN(2))
		f.FwdPkts, f.FwdBytes = tries, tries*60
		f.FwdSynCount, f.FwdTCPFlags = int32(tries), datalake.FlagSYN
		f.ConnState, f.History, f.FlowEndReason = "S0", "S", 1
		f.TCPRetransFwd = tries - 1
		f.FwdPktLenMin, f.FwdPktLenMax, f.FwdPktLenSumsq = 60, 60, tries*3600
		finish(&f, hp, time.Duration(tries-1)*time.Second)
	default:
		f.FwdPkts, f.FwdBytes, f.RevPkts, f.RevBytes = 2, 120, 2, 80
		f.FwdSynCount, f.FwdTCPFlags = 2, datalake.FlagSYN
		f.RevRstCount, f.RevAckCount, f.RevTCPFlags = 2, 2, rstACK
		f.ConnState, f.History, f.FlowEndReason = "REJ", "SrSr", 3
		f.TCPRetransFwd = 1
		f.FwdPktLenMin, f.FwdPktLenMax, f.FwdPktLenSumsq = 60, 60, 7200
		f.RevPktLenMin, f.RevPktLenMax, f.RevPktLenSumsq = 40, 40, 3200
		finish(&f, hp, time.Second+time.Duration(r.IntN(2000))*time.Microsecond)
	}
	return f
}

// udp makes a DNS or NTP exchange.
func (p *plan) udp(r *rand.Rand, hp hourPlan, src, dst endpoint, svc service, sport int32, key ...uint64) datalake.Flow {
	f := p.base(r, hp, src, dst, svc, sport, key...)
	q := int64(1 + r.IntN(2))
	f.FwdPkts, f.RevPkts = q, q
	f.FwdPayloadBytes, f.RevPayloadBytes = q*int64(30+r.IntN(40)), q*int64(60+r.IntN(400))
	f.FwdBytes, f.RevBytes = f.FwdPkts*28+f.FwdPayloadBytes, f.RevPkts*28+f.RevPayloadBytes
	f.ConnState, f.History, f.FlowEndReason = "SF", "Dd", 1
	f.FwdPktLenMin, f.FwdPktLenMax = int32(f.FwdBytes/q), int32(f.FwdBytes/q)
	f.RevPktLenMin, f.RevPktLenMax = int32(f.RevBytes/q), int32(f.RevBytes/q)
	f.FwdPktLenSumsq = q * int64(f.FwdPktLenMax) * int64(f.FwdPktLenMax)
	f.RevPktLenSumsq = q * int64(f.RevPktLenMax) * int64(f.RevPktLenMax)
	finish(&f, hp, logDuration(r, 300*time.Microsecond, 200*time.Millisecond))
	return f
}

// icmp makes an echo request/reply exchange.
func (p *plan) icmp(r *rand.Rand, hp hourPlan, src, dst endpoint, key ...uint64) datalake.Flow {
	f := p.base(r, hp, src, dst, service{"ICMP", 1, 0, nil}, 0, key...)
	f.CommunityID = communityID(src.ip, dst.ip, 1, 8, 0)
	typ, code := int32(8), int32(0)
	f.ICMPType, f.ICMPCode = &typ, &code
	n := int64(1 + r.IntN(4))
	f.FwdPkts, f.RevPkts = n, n
	f.FwdPayloadBytes, f.RevPayloadBytes = n*56, n*56
	f.FwdBytes, f.RevBytes = n*84, n*84
	f.ConnState, f.History, f.FlowEndReason = "OTH", "", 1
	f.FwdPktLenMin, f.FwdPktLenMax, f.RevPktLenMin, f.RevPktLenMax = 84, 84, 84, 84
	f.FwdPktLenSumsq, f.RevPktLenSumsq = n*84*84, n*84*84
	finish(&f, hp, time.Duration(n-1)*time.Second+time.Duration(r.IntN(900))*time.Microsecond)
	return f
}

// synFailure makes a connection attempt of one SYN that was refused with
// RST/ACK (REJ) or went unanswered (S0), like a probe of a scan.
func (p *plan) synFailure(r *rand.Rand, hp hourPlan, src, dst endpoint, svc service, sport int32, key ...uint64) datalake.Flow {
	f := p.base(r, hp, src, dst, svc, sport, key...)
	reply := "none"
	if r.IntN(2) == 0 {
		reply = "rst"
	}
	oneSYN(&f, r, hp, reply)
	f.FwdInitWin = 64240
	f.FwdBytes, f.FwdPktLenMin, f.FwdPktLenMax, f.FwdPktLenSumsq = 60, 60, 60, 3600
	return f
}

// oneSYN sets the fields of a single-SYN flow: answered by RST/ACK when
// reply is "rst" (rev_pkts = 1, rev_rst_count = 1, Zeek REJ), unanswered
// otherwise (rev_pkts = 0, Zeek S0).
func oneSYN(f *datalake.Flow, r *rand.Rand, hp hourPlan, reply string) {
	f.FwdPkts, f.FwdBytes = 1, 44
	f.FwdSynCount, f.FwdTCPFlags = 1, datalake.FlagSYN
	f.FwdPktLenMin, f.FwdPktLenMax, f.FwdPktLenSumsq = 44, 44, 44*44
	if reply == "rst" {
		f.RevPkts, f.RevBytes = 1, 40
		f.RevRstCount, f.RevAckCount, f.RevTCPFlags = 1, 1, rstACK
		f.RevPktLenMin, f.RevPktLenMax, f.RevPktLenSumsq = 40, 40, 1600
		f.ConnState, f.History, f.FlowEndReason = "REJ", "Sr", 3
		finish(f, hp, time.Duration(100+r.IntN(900))*time.Microsecond)
	} else {
		f.ConnState, f.History, f.FlowEndReason = "S0", "S", 1
		finish(f, hp, 0)
	}
}

// scanFlow makes one probe of a scan: one SYN, unanswered or answered by
// RST/ACK.
func (p *plan) scanFlow(r *rand.Rand, hp hourPlan, s scanPlan, pr probe, si, j int) datalake.Flow {
	svc := service{"TCP", 6, pr.port, nil}
	f := p.base(r, hp, s.src, pr.dst, svc, pr.sport, 1<<32|uint64(si), uint64(j))
	f.Service = nil
	oneSYN(&f, r, hp, s.reply)
	f.FwdInitWin = 1024
	return f
}
