package flowtable_test

import (
	"errors"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/flowtable"
)

// base is an arbitrary start time: 2024-05-01 10:58:00 UTC.
var base = time.Date(2024, 5, 1, 10, 58, 0, 0, time.UTC)

// pkt builds one IP layer: src:sport -> dst:dport at base+at.
func pkt(t testing.TB, at time.Duration, src string, sport uint16, dst string, dport uint16, proto uint8, flags uint8, seq uint32, payload uint32) flowtable.Packet {
	p := flowtable.Packet{
		Time: base.Add(at).UnixNano(), Src: mustAddr(t, src), Dst: mustAddr(t, dst), Proto: proto, TTL: 64,
		SrcPort: sport, DstPort: dport, HasPorts: true, PayloadLen: payload,
	}
	hdr := uint32(20 + 8)
	if proto == flowtable.ProtoTCP {
		p.HasTCP, p.TCPFlags, p.Seq, p.Window = true, flags, seq, 1000
		hdr = 20 + 20
	}
	p.IPLen = hdr + payload
	return p
}

func run(t *testing.T, opts flowtable.Options, pkts []flowtable.Packet) ([]*datalake.Flow, *flowtable.Table) {
	t.Helper()
	var out []*datalake.Flow
	opts.EmitFlow = func(f *datalake.Flow) error { out = append(out, f); return nil }
	tab := flowtable.New(opts)
	for i := range pkts {
		if err := tab.AddPacket(&pkts[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.Flush(); err != nil {
		t.Fatal(err)
	}
	return out, tab
}

const (
	syn = datalake.FlagSYN
	ack = datalake.FlagACK
	fin = datalake.FlagFIN
	rst = datalake.FlagRST
	psh = datalake.FlagPSH
)

func TestTableLifetimes(t *testing.T) {
	a, b := "10.0.0.1", "10.0.0.2"
	tests := []struct {
		name  string
		opts  flowtable.Options
		pkts  func(t *testing.T) []flowtable.Packet
		check func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats)
	}{
		{
			name: "udp idle timeout splits after 1 minute",
			pkts: func(t *testing.T) []flowtable.Packet {
				return []flowtable.Packet{
					pkt(t, 0, a, 5000, b, 53, 17, 0, 0, 10),
					pkt(t, time.Second, b, 53, a, 5000, 17, 0, 0, 50),
					pkt(t, 62*time.Second, a, 5000, b, 53, 17, 0, 0, 10),
				}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				if len(recs) != 2 || recs[0].FlowEndReason != flowtable.EndIdle || recs[1].FlowEndReason != flowtable.EndForced {
					t.Fatalf("records %v", reasons(recs))
				}
				if recs[0].FwdPkts != 1 || recs[0].RevPkts != 1 || recs[0].ConnState != "SF" || recs[0].History != "Dd" {
					t.Errorf("first %+v", recs[0])
				}
				if recs[0].FlowID == recs[1].FlowID {
					t.Errorf("two connections share flow_id %s", recs[0].FlowID)
				}
			},
		},
		{
			name: "configurable idle timeout",
			opts: flowtable.Options{UDPIdleTimeout: 2 * time.Minute},
			pkts: func(t *testing.T) []flowtable.Packet {
				return []flowtable.Packet{
					pkt(t, 0, a, 5000, b, 53, 17, 0, 0, 10),
					pkt(t, 100*time.Second, a, 5000, b, 53, 17, 0, 0, 10),
				}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				if len(recs) != 1 || recs[0].FwdPkts != 2 || recs[0].ConnState != "S0" {
					t.Fatalf("records %v", reasons(recs))
				}
			},
		},
		{
			name: "hour boundary cuts slices sharing flow_id",
			pkts: func(t *testing.T) []flowtable.Packet {
				return []flowtable.Packet{
					pkt(t, 0, a, 40000, b, 80, 6, syn, 100, 0),
					pkt(t, time.Second, b, 80, a, 40000, 6, syn|ack, 500, 0),
					pkt(t, 2*time.Second, a, 40000, b, 80, 6, ack, 101, 0),
					pkt(t, 3*time.Minute, a, 40000, b, 80, 6, ack|psh, 101, 100), // 11:01, next hour
					pkt(t, 3*time.Minute+time.Second, b, 80, a, 40000, 6, ack, 501, 0),
				}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				if len(recs) != 2 {
					t.Fatalf("records %v", reasons(recs))
				}
				first, second := recs[0], recs[1]
				if first.FlowID != second.FlowID || first.CommunityID != second.CommunityID {
					t.Errorf("slices have ids %s/%s", first.FlowID, second.FlowID)
				}
				if first.FlowEndReason != flowtable.EndActive || !first.Timestamp.Equal(time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)) {
					t.Errorf("first slice reason %d timestamp %v", first.FlowEndReason, first.Timestamp)
				}
				if first.FwdPkts != 2 || first.RevPkts != 1 || second.FwdPkts != 1 || second.RevPkts != 1 {
					t.Errorf("slice packets %d/%d and %d/%d", first.FwdPkts, first.RevPkts, second.FwdPkts, second.RevPkts)
				}
				if second.StartTimestamp.Hour() != 11 || second.SrcAddress != a || second.DstPort != 80 {
					t.Errorf("second slice %+v", second)
				}
				// Each slice carries the history and state so far.
				if first.ConnState != "S1" || first.History != "ShA" || second.ConnState != "S1" || second.History != "ShADa" {
					t.Errorf("slices %s %q and %s %q", first.ConnState, first.History, second.ConnState, second.History)
				}
				if st.HourCuts != 1 {
					t.Errorf("HourCuts %d", st.HourCuts)
				}
			},
		},
		{
			name: "active timeout",
			opts: flowtable.Options{ActiveTimeout: 30 * time.Second},
			pkts: func(t *testing.T) []flowtable.Packet {
				var ps []flowtable.Packet
				for i := 0; i < 5; i++ {
					ps = append(ps, pkt(t, time.Duration(i)*20*time.Second, a, 5000, b, 9999, 17, 0, 0, 10))
				}
				return ps
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				var total int64
				for _, r := range recs {
					total += r.FwdPkts
					if r.FlowID != recs[0].FlowID {
						t.Errorf("slice with another flow_id")
					}
				}
				if len(recs) != 3 || total != 5 || st.ActiveCuts != 2 {
					t.Errorf("%d records, %d packets, %d cuts", len(recs), total, st.ActiveCuts)
				}
			},
		},
		{
			name: "udp reply first is flipped by the server port",
			pkts: func(t *testing.T) []flowtable.Packet {
				return []flowtable.Packet{pkt(t, 0, b, 53, a, 5000, 17, 0, 0, 50)}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				r := recs[0]
				if r.SrcAddress != a || r.DstPort != 53 || !r.DirectionFlipped || r.RevPkts != 1 || r.ConnState != "SHR" || r.History != "^d" {
					t.Errorf("%s:%d -> %s:%d flipped %v rev %d %s %q", r.SrcAddress, r.SrcPort, r.DstAddress, r.DstPort, r.DirectionFlipped, r.RevPkts, r.ConnState, r.History)
				}
			},
		},
		{
			name: "syn-ack first is not flipped when both ports are server ports",
			pkts: func(t *testing.T) []flowtable.Packet {
				return []flowtable.Packet{pkt(t, 0, a, 80, b, 443, 6, syn|ack, 1, 0)}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				if r := recs[0]; r.DirectionFlipped || r.SrcAddress != a {
					t.Errorf("flipped: %+v", r)
				}
			},
		},
		{
			name: "port scan shapes: REJ and S0",
			pkts: func(t *testing.T) []flowtable.Packet {
				return []flowtable.Packet{
					pkt(t, 0, a, 40001, b, 22, 6, syn, 7, 0),
					pkt(t, time.Millisecond, b, 22, a, 40001, 6, rst|ack, 0, 0),
					pkt(t, 2*time.Millisecond, a, 40002, b, 23, 6, syn, 9, 0),
					// Unrelated traffic moves the clock past the delays.
					pkt(t, 10*time.Second, "10.9.9.9", 1, "10.9.9.8", 2, 17, 0, 0, 1),
				}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				if len(recs) != 3 {
					t.Fatalf("records %v", reasons(recs))
				}
				// Emission order follows the timers' lists, not the deadlines.
				rej, s0 := recs[0], recs[1]
				if rej.DstPort != 22 {
					rej, s0 = s0, rej
				}
				if rej.ConnState != "REJ" || rej.FwdSynCount != 1 || rej.RevRstCount != 1 || rej.FwdPkts != 1 || rej.RevPkts != 1 || rej.FlowEndReason != flowtable.EndClosed {
					t.Errorf("REJ flow %s %q reason %d", rej.ConnState, rej.History, rej.FlowEndReason)
				}
				if s0.ConnState != "S0" || s0.RevPkts != 0 || s0.FlowEndReason != flowtable.EndIdle {
					t.Errorf("S0 flow %s reason %d", s0.ConnState, s0.FlowEndReason)
				}
			},
		},
		{
			name: "full connection closes after the close delay",
			pkts: func(t *testing.T) []flowtable.Packet {
				return []flowtable.Packet{
					pkt(t, 0, a, 40000, b, 80, 6, syn, 100, 0),
					pkt(t, 10*time.Millisecond, b, 80, a, 40000, 6, syn|ack, 500, 0),
					pkt(t, 20*time.Millisecond, a, 40000, b, 80, 6, ack, 101, 0),
					pkt(t, 30*time.Millisecond, a, 40000, b, 80, 6, ack|psh, 101, 10),
					pkt(t, 40*time.Millisecond, b, 80, a, 40000, 6, ack|psh, 501, 20),
					pkt(t, 50*time.Millisecond, a, 40000, b, 80, 6, fin|ack, 111, 0),
					pkt(t, 60*time.Millisecond, b, 80, a, 40000, 6, fin|ack, 521, 0),
					pkt(t, 70*time.Millisecond, a, 40000, b, 80, 6, ack, 112, 0),
					// Same 5-tuple 10 s later: a new connection.
					pkt(t, 10*time.Second, a, 40000, b, 80, 6, syn, 9000, 0),
				}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				if len(recs) != 2 {
					t.Fatalf("records %v", reasons(recs))
				}
				r := recs[0]
				if r.ConnState != "SF" || r.History != "ShADdFf" || r.FlowEndReason != flowtable.EndClosed || r.FwdPkts != 5 || r.RevPkts != 3 {
					t.Errorf("%s %q reason %d pkts %d/%d", r.ConnState, r.History, r.FlowEndReason, r.FwdPkts, r.RevPkts)
				}
				if r.FwdPayloadBytes != 10 || r.RevPayloadBytes != 20 || r.HandshakeUS == nil || *r.HandshakeUS != 20000 {
					t.Errorf("payload %d/%d handshake %v", r.FwdPayloadBytes, r.RevPayloadBytes, r.HandshakeUS)
				}
				if recs[1].ConnState != "S0" || recs[1].FlowID == r.FlowID {
					t.Errorf("second connection %s %s", recs[1].ConnState, recs[1].FlowID)
				}
			},
		},
		{
			name: "max flows evicts the least recently active",
			opts: flowtable.Options{MaxFlows: 2},
			pkts: func(t *testing.T) []flowtable.Packet {
				return []flowtable.Packet{
					pkt(t, 0, a, 1, b, 9, 17, 0, 0, 1),
					pkt(t, time.Second, a, 2, b, 9, 17, 0, 0, 1),
					pkt(t, 2*time.Second, a, 1, b, 9, 17, 0, 0, 1),
					pkt(t, 3*time.Second, a, 3, b, 9, 17, 0, 0, 1),
				}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				if st.Evicted != 1 || recs[0].SrcPort != 2 || recs[0].FlowEndReason != flowtable.EndResources {
					t.Errorf("evicted %d, first record port %d reason %d", st.Evicted, recs[0].SrcPort, recs[0].FlowEndReason)
				}
			},
		},
		{
			name: "vlans are recorded, and keyed on request",
			opts: flowtable.Options{KeyByVLAN: true},
			pkts: func(t *testing.T) []flowtable.Packet {
				p1 := pkt(t, 0, a, 1, b, 9, 17, 0, 0, 1)
				p1.VLANs, p1.VLANID = 1, 10
				p2 := p1
				p2.VLANID = 20
				return []flowtable.Packet{p1, p2}
			},
			check: func(t *testing.T, recs []*datalake.Flow, st flowtable.Stats) {
				if len(recs) != 2 || *recs[0].VLANID != 10 || *recs[1].VLANID != 20 || recs[0].InnerVLANID != nil {
					t.Errorf("records %v", reasons(recs))
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, tab := run(t, tc.opts, tc.pkts(t))
			tc.check(t, recs, tab.Stats())
		})
	}
}

func reasons(recs []*datalake.Flow) []int32 {
	var out []int32
	for _, r := range recs {
		out = append(out, r.FlowEndReason)
	}
	return out
}

// TestFragmentsOutOfOrder sends a datagram's fragments last-first: the
// later ones wait for the first and all land in the flow of its ports.
func TestFragmentsOutOfOrder(t *testing.T) {
	a, b := "10.0.0.1", "10.0.0.2"
	first := pkt(t, 0, a, 123, b, 137, 17, 0, 0, 1472)
	first.Fragment, first.MoreFrags, first.FragID, first.FragLen, first.IPLen = true, true, 7, 1480, 1500
	second := flowtable.Packet{Time: first.Time + 1, Src: first.Src, Dst: first.Dst, Proto: 17, TTL: 64,
		Fragment: true, FragID: 7, FragOffset: 1480, FragLen: 100, IPLen: 120}
	recs, tab := run(t, flowtable.Options{}, []flowtable.Packet{second, first})
	if len(recs) != 1 || recs[0].FwdPkts != 2 || recs[0].FwdBytes != 1620 || recs[0].DstPort != 137 {
		t.Fatalf("records %+v", recs)
	}
	if st := tab.Stats(); st.Fragments != 2 || st.FragmentsMatched != 1 || st.FragmentsOrphan != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestEmitErrorStops checks that an emit error stops the table and is
// returned, wrapped, from then on.
func TestEmitErrorStops(t *testing.T) {
	boom := errors.New("disk full")
	tab := flowtable.New(flowtable.Options{EmitFlow: func(*datalake.Flow) error { return boom }})
	p := pkt(t, 0, "10.0.0.1", 1, "10.0.0.2", 2, 17, 0, 0, 1)
	if err := tab.AddPacket(&p); err != nil {
		t.Fatal(err)
	}
	if err := tab.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v", err)
	}
	if err := tab.AddPacket(&p); !errors.Is(err, boom) {
		t.Fatalf("Add after the error = %v", err)
	}
}

// TestDeterministic ingests the same capture twice: identical records,
// flow ids included.
func TestDeterministic(t *testing.T) {
	path := corpus + "/tcpstate/curated-pcaps__tcp_control_two_way_all_flags.pcap"
	a := ingest(t, path, flowtable.Options{Sensor: "s1"})
	b := ingest(t, path, flowtable.Options{Sensor: "s1"})
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d and %d records", len(a), len(b))
	}
	for i := range a {
		if a[i].FlowID != b[i].FlowID || a[i].History != b[i].History || a[i].Pkts != b[i].Pkts {
			t.Fatalf("record %d differs", i)
		}
	}
	c := ingest(t, path, flowtable.Options{Sensor: "s2"})
	if c[0].FlowID == a[0].FlowID {
		t.Errorf("flow_id does not depend on the sensor")
	}
}

// FuzzTable feeds arbitrary packet sequences to a table with small limits:
// no panic, and every packet is accounted for in exactly one record.
func FuzzTable(f *testing.F) {
	f.Add([]byte{0, 6, 2, 1, 0, 6, 18, 1, 3, 6, 16, 2})
	f.Add([]byte{1, 17, 0, 0, 2, 17, 0, 200, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var pkts int64
		var got int64
		tab := flowtable.New(flowtable.Options{
			MaxFlows: 3, MaxFragments: 2, ActiveTimeout: 40 * time.Second,
			EmitFlow: func(r *datalake.Flow) error {
				if r.Pkts != r.FwdPkts+r.RevPkts || r.Pkts <= 0 || r.EndTimestamp.Before(r.StartTimestamp) {
					t.Fatalf("bad record %+v", r)
				}
				got += r.Pkts
				return nil
			},
		})
		addrs := []string{"10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2"}
		now := base
		for len(data) >= 4 {
			op, proto, flags, step := data[0], data[1], data[2], data[3]
			data = data[4:]
			now = now.Add(time.Duration(step) * time.Second * 7)
			v6 := op&0x80 != 0
			s, d := addrs[op&1], addrs[(op>>1)&1]
			if v6 {
				s, d = addrs[2+op&1], addrs[2+(op>>1)&1]
			}
			p := flowtable.Packet{Time: now.UnixNano(), Src: mustAddr(t, s), Dst: mustAddr(t, d), Proto: proto % 60,
				SrcPort: uint16(op>>2&3) + 79, DstPort: uint16(op>>4&3) + 79, HasPorts: op&0x40 == 0,
				HasTCP: true, TCPFlags: flags, Seq: uint32(step) * 1000, IPLen: 40 + uint32(step)}
			if proto&0x80 != 0 {
				p.Fragment, p.FragID, p.MoreFrags, p.FragOffset, p.FragLen = true, uint32(op&3), flags&1 == 1, uint32(flags&6)*8, 8
			}
			if proto%60 == 1 || proto%60 == 58 {
				p.HasICMP, p.ICMPType, p.ICMPCode = true, flags, step
			}
			if err := tab.AddPacket(&p); err != nil {
				t.Fatal(err)
			}
			pkts++
		}
		if err := tab.Flush(); err != nil {
			t.Fatal(err)
		}
		if got != pkts {
			t.Fatalf("%d packets added, %d in records", pkts, got)
		}
	})
}
