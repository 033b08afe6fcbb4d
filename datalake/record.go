package datalake

import "time"

// Dataset paths of the system datasets. They are read-only to cells.
const (
	// FlowsPath is the dataset of Flow records.
	FlowsPath = "/tetration/flows"
	// PacketsPath is the dataset of Packet records.
	PacketsPath = "/tetration/packets"
)

// Flow is one bidirectional flow record of the /tetration/flows dataset, with
// exactly the columns of FLOWS_SCHEMA.md, in its order. The originator is the
// side that sent the first packet (the SYN for TCP): "fwd" counts packets from
// the originator to the responder, "rev" the other way (Tetration naming).
//
// The struct tags name the Parquet/JSON columns; the lab's names
// (src_address, dst_address, src_port, dst_port, proto, fwd_pkts, rev_pkts,
// fwd_syn_count, rev_rst_count, ...) are fixed. Nullable columns are pointers;
// a nil pointer is written as NULL.
//
// Two choices the schema leaves open: times are time.Time and are written as
// INT64 TIMESTAMP(MICROS) (UTC-adjusted for start and end, local-semantics for
// the export timestamp, as the schema says), so nanoseconds are truncated; and
// the "fwd_pkt_len_sumsq ..." family is kept to the two sums of squares
// (fwd_pkt_len_sumsq, rev_pkt_len_sumsq), which together with the byte and
// packet counts give the mean and standard deviation of packet lengths.
//
// Flow is a plain value; copies are independent apart from the pointers.
type Flow struct {
	StartTimestamp time.Time `parquet:"start_timestamp" json:"start_timestamp"` // first packet
	EndTimestamp   time.Time `parquet:"end_timestamp" json:"end_timestamp"`     // last packet
	Timestamp      time.Time `parquet:"timestamp" json:"timestamp"`             // record/export time (hour-slice end)
	DurationUS     int64     `parquet:"duration_us" json:"duration_us"`         // end - start in microseconds
	FlowID         string    `parquet:"flow_id" json:"flow_id"`                 // stable id across hour slices
	CommunityID    string    `parquet:"community_id" json:"community_id"`       // Community-ID v1 of the 5-tuple

	SrcAddress string `parquet:"src_address" json:"src_address"` // originator IP, canonical text
	DstAddress string `parquet:"dst_address" json:"dst_address"` // responder IP, canonical text
	IPVersion  int32  `parquet:"ip_version" json:"ip_version"`   // 4 or 6
	SrcPort    int32  `parquet:"src_port" json:"src_port"`       // 0 for non-TCP/UDP
	DstPort    int32  `parquet:"dst_port" json:"dst_port"`       // 0 for non-TCP/UDP
	ICMPType   *int32 `parquet:"icmp_type" json:"icmp_type"`     // first ICMP type, nil if not ICMP
	ICMPCode   *int32 `parquet:"icmp_code" json:"icmp_code"`     // first ICMP code, nil if not ICMP
	Proto      string `parquet:"proto" json:"proto"`             // "TCP", "UDP", "ICMP", ...
	IPProto    int32  `parquet:"ip_proto" json:"ip_proto"`       // IANA protocol number

	FwdPkts         int64 `parquet:"fwd_pkts" json:"fwd_pkts"`
	RevPkts         int64 `parquet:"rev_pkts" json:"rev_pkts"`
	FwdBytes        int64 `parquet:"fwd_bytes" json:"fwd_bytes"` // IP-level bytes
	RevBytes        int64 `parquet:"rev_bytes" json:"rev_bytes"`
	FwdPayloadBytes int64 `parquet:"fwd_payload_bytes" json:"fwd_payload_bytes"` // L4 payload bytes
	RevPayloadBytes int64 `parquet:"rev_payload_bytes" json:"rev_payload_bytes"`
	Pkts            int64 `parquet:"pkts" json:"pkts"`   // fwd_pkts + rev_pkts
	Bytes           int64 `parquet:"bytes" json:"bytes"` // fwd_bytes + rev_bytes

	FwdSynCount int32 `parquet:"fwd_syn_count" json:"fwd_syn_count"`
	FwdAckCount int32 `parquet:"fwd_ack_count" json:"fwd_ack_count"`
	FwdFinCount int32 `parquet:"fwd_fin_count" json:"fwd_fin_count"`
	FwdRstCount int32 `parquet:"fwd_rst_count" json:"fwd_rst_count"`
	FwdPshCount int32 `parquet:"fwd_psh_count" json:"fwd_psh_count"`
	FwdUrgCount int32 `parquet:"fwd_urg_count" json:"fwd_urg_count"`
	FwdEceCount int32 `parquet:"fwd_ece_count" json:"fwd_ece_count"`
	FwdCwrCount int32 `parquet:"fwd_cwr_count" json:"fwd_cwr_count"`
	RevSynCount int32 `parquet:"rev_syn_count" json:"rev_syn_count"`
	RevAckCount int32 `parquet:"rev_ack_count" json:"rev_ack_count"`
	RevFinCount int32 `parquet:"rev_fin_count" json:"rev_fin_count"`
	RevRstCount int32 `parquet:"rev_rst_count" json:"rev_rst_count"`
	RevPshCount int32 `parquet:"rev_psh_count" json:"rev_psh_count"`
	RevUrgCount int32 `parquet:"rev_urg_count" json:"rev_urg_count"`
	RevEceCount int32 `parquet:"rev_ece_count" json:"rev_ece_count"`
	RevCwrCount int32 `parquet:"rev_cwr_count" json:"rev_cwr_count"`
	FwdTCPFlags int32 `parquet:"fwd_tcp_flags" json:"fwd_tcp_flags"` // OR of the flags seen
	RevTCPFlags int32 `parquet:"rev_tcp_flags" json:"rev_tcp_flags"`

	FwdSynfinCount   int32 `parquet:"fwd_synfin_count" json:"fwd_synfin_count"` // scan-technique anomaly counters
	FwdSynrstCount   int32 `parquet:"fwd_synrst_count" json:"fwd_synrst_count"`
	FwdNullCount     int32 `parquet:"fwd_null_count" json:"fwd_null_count"`
	FwdXmasCount     int32 `parquet:"fwd_xmas_count" json:"fwd_xmas_count"`
	FwdFinnoackCount int32 `parquet:"fwd_finnoack_count" json:"fwd_finnoack_count"`
	RevSynfinCount   int32 `parquet:"rev_synfin_count" json:"rev_synfin_count"`
	RevSynrstCount   int32 `parquet:"rev_synrst_count" json:"rev_synrst_count"`
	RevNullCount     int32 `parquet:"rev_null_count" json:"rev_null_count"`
	RevXmasCount     int32 `parquet:"rev_xmas_count" json:"rev_xmas_count"`
	RevFinnoackCount int32 `parquet:"rev_finnoack_count" json:"rev_finnoack_count"`

	ConnState        string `parquet:"conn_state" json:"conn_state"`               // Zeek state: S0, S1, SF, REJ, ...
	History          string `parquet:"history" json:"history"`                     // Zeek history letters
	DirectionFlipped bool   `parquet:"direction_flipped" json:"direction_flipped"` // originator chosen by heuristic
	FlowEndReason    int32  `parquet:"flow_end_reason" json:"flow_end_reason"`     // 1 idle, 2 active/hour cut, 3 FIN/RST, 4 forced, 5 resources

	TCPRetransFwd int64  `parquet:"tcp_retrans_fwd" json:"tcp_retrans_fwd"`
	TCPRetransRev int64  `parquet:"tcp_retrans_rev" json:"tcp_retrans_rev"`
	MissedBytes   int64  `parquet:"missed_bytes" json:"missed_bytes"`
	SRTTUS        *int64 `parquet:"srtt_us" json:"srtt_us"`
	HandshakeUS   *int64 `parquet:"handshake_us" json:"handshake_us"`
	FwdInitWin    int32  `parquet:"fwd_init_win" json:"fwd_init_win"`
	RevInitWin    int32  `parquet:"rev_init_win" json:"rev_init_win"`
	MinTTL        int32  `parquet:"min_ttl" json:"min_ttl"`
	MaxTTL        int32  `parquet:"max_ttl" json:"max_ttl"`

	FwdPktLenMin   int32 `parquet:"fwd_pkt_len_min" json:"fwd_pkt_len_min"`
	FwdPktLenMax   int32 `parquet:"fwd_pkt_len_max" json:"fwd_pkt_len_max"`
	RevPktLenMin   int32 `parquet:"rev_pkt_len_min" json:"rev_pkt_len_min"`
	RevPktLenMax   int32 `parquet:"rev_pkt_len_max" json:"rev_pkt_len_max"`
	FwdPktLenSumsq int64 `parquet:"fwd_pkt_len_sumsq" json:"fwd_pkt_len_sumsq"`
	RevPktLenSumsq int64 `parquet:"rev_pkt_len_sumsq" json:"rev_pkt_len_sumsq"`

	VLANID       *int32  `parquet:"vlan_id" json:"vlan_id"`
	InnerVLANID  *int32  `parquet:"inner_vlan_id" json:"inner_vlan_id"`
	SrcMAC       *string `parquet:"src_mac" json:"src_mac"`
	DstMAC       *string `parquet:"dst_mac" json:"dst_mac"`
	TunnelParent *string `parquet:"tunnel_parent" json:"tunnel_parent"` // outer flow_id for GRE/VXLAN inner flows

	Sensor        string  `parquet:"sensor" json:"sensor"`       // capture point
	Interface     string  `parquet:"interface" json:"interface"` // file or interface name
	SrcIsInternal bool    `parquet:"src_is_internal" json:"src_is_internal"`
	DstIsInternal bool    `parquet:"dst_is_internal" json:"dst_is_internal"`
	SrcHostname   *string `parquet:"src_hostname" json:"src_hostname"`
	DstHostname   *string `parquet:"dst_hostname" json:"dst_hostname"`
	Service       *string `parquet:"service" json:"service"`
}

// Packet is one record of the /tetration/packets dataset: the seed sniffer's
// fields, one row per captured packet. Addresses are canonical text, times
// are written as INT64 TIMESTAMP(MICROS, UTC). Seq and Ack are the 32-bit TCP
// numbers widened to int64 so no value turns negative. PayloadHead holds the
// first bytes of the L4 payload (the writer's limit, 64 by default); nil is
// written as NULL.
//
// Packet is a plain value; copies share PayloadHead.
type Packet struct {
	Timestamp   time.Time `parquet:"timestamp" json:"timestamp"`
	SrcAddress  string    `parquet:"src_address" json:"src_address"`
	DstAddress  string    `parquet:"dst_address" json:"dst_address"`
	SrcPort     int32     `parquet:"src_port" json:"src_port"`
	DstPort     int32     `parquet:"dst_port" json:"dst_port"`
	IPVersion   int32     `parquet:"ip_version" json:"ip_version"`
	Proto       string    `parquet:"proto" json:"proto"`
	IPProto     int32     `parquet:"ip_proto" json:"ip_proto"`
	TTL         int32     `parquet:"ttl" json:"ttl"`
	Seq         int64     `parquet:"seq" json:"seq"`
	Ack         int64     `parquet:"ack" json:"ack"`
	TCPFlags    int32     `parquet:"tcp_flags" json:"tcp_flags"` // FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128
	Window      int32     `parquet:"window" json:"window"`
	WireLen     int32     `parquet:"wire_len" json:"wire_len"`       // length on the wire
	CapLen      int32     `parquet:"cap_len" json:"cap_len"`         // captured length
	IPLen       int32     `parquet:"ip_len" json:"ip_len"`           // IP header + payload
	PayloadLen  int32     `parquet:"payload_len" json:"payload_len"` // L4 payload length
	PayloadHead []byte    `parquet:"payload_head" json:"payload_head"`
	FlowID      string    `parquet:"flow_id" json:"flow_id"` // the flow the packet belongs to
	CommunityID string    `parquet:"community_id" json:"community_id"`
	Sensor      string    `parquet:"sensor" json:"sensor"`
	Interface   string    `parquet:"interface" json:"interface"`
}

// FlowLayout is the columns of Flow: the /tetration/flows schema, one
// column per field.
var FlowLayout = newLayout(
	timestamp(TimeColumn, func(f *Flow) *time.Time { return &f.StartTimestamp }),
	timestamp(TimeColumn, func(f *Flow) *time.Time { return &f.EndTimestamp }),
	timestamp(LocalTimeColumn, func(f *Flow) *time.Time { return &f.Timestamp }),
	i64(func(f *Flow) *int64 { return &f.DurationUS }),
	str(func(f *Flow) *string { return &f.FlowID }),
	str(func(f *Flow) *string { return &f.CommunityID }),
	str(func(f *Flow) *string { return &f.SrcAddress }),
	str(func(f *Flow) *string { return &f.DstAddress }),
	i32(func(f *Flow) *int32 { return &f.IPVersion }),
	i32(func(f *Flow) *int32 { return &f.SrcPort }),
	i32(func(f *Flow) *int32 { return &f.DstPort }),
	optI32(func(f *Flow) **int32 { return &f.ICMPType }),
	optI32(func(f *Flow) **int32 { return &f.ICMPCode }),
	str(func(f *Flow) *string { return &f.Proto }),
	i32(func(f *Flow) *int32 { return &f.IPProto }),
	i64(func(f *Flow) *int64 { return &f.FwdPkts }),
	i64(func(f *Flow) *int64 { return &f.RevPkts }),
	i64(func(f *Flow) *int64 { return &f.FwdBytes }),
	i64(func(f *Flow) *int64 { return &f.RevBytes }),
	i64(func(f *Flow) *int64 { return &f.FwdPayloadBytes }),
	i64(func(f *Flow) *int64 { return &f.RevPayloadBytes }),
	i64(func(f *Flow) *int64 { return &f.Pkts }),
	i64(func(f *Flow) *int64 { return &f.Bytes }),
	i32(func(f *Flow) *int32 { return &f.FwdSynCount }),
	i32(func(f *Flow) *int32 { return &f.FwdAckCount }),
	i32(func(f *Flow) *int32 { return &f.FwdFinCount }),
	i32(func(f *Flow) *int32 { return &f.FwdRstCount }),
	i32(func(f *Flow) *int32 { return &f.FwdPshCount }),
	i32(func(f *Flow) *int32 { return &f.FwdUrgCount }),
	i32(func(f *Flow) *int32 { return &f.FwdEceCount }),
	i32(func(f *Flow) *int32 { return &f.FwdCwrCount }),
	i32(func(f *Flow) *int32 { return &f.RevSynCount }),
	i32(func(f *Flow) *int32 { return &f.RevAckCount }),
	i32(func(f *Flow) *int32 { return &f.RevFinCount }),
	i32(func(f *Flow) *int32 { return &f.RevRstCount }),
	i32(func(f *Flow) *int32 { return &f.RevPshCount }),
	i32(func(f *Flow) *int32 { return &f.RevUrgCount }),
	i32(func(f *Flow) *int32 { return &f.RevEceCount }),
	i32(func(f *Flow) *int32 { return &f.RevCwrCount }),
	i32(func(f *Flow) *int32 { return &f.FwdTCPFlags }),
	i32(func(f *Flow) *int32 { return &f.RevTCPFlags }),
	i32(func(f *Flow) *int32 { return &f.FwdSynfinCount }),
	i32(func(f *Flow) *int32 { return &f.FwdSynrstCount }),
	i32(func(f *Flow) *int32 { return &f.FwdNullCount }),
	i32(func(f *Flow) *int32 { return &f.FwdXmasCount }),
	i32(func(f *Flow) *int32 { return &f.FwdFinnoackCount }),
	i32(func(f *Flow) *int32 { return &f.RevSynfinCount }),
	i32(func(f *Flow) *int32 { return &f.RevSynrstCount }),
	i32(func(f *Flow) *int32 { return &f.RevNullCount }),
	i32(func(f *Flow) *int32 { return &f.RevXmasCount }),
	i32(func(f *Flow) *int32 { return &f.RevFinnoackCount }),
	str(func(f *Flow) *string { return &f.ConnState }),
	str(func(f *Flow) *string { return &f.History }),
	boolean(func(f *Flow) *bool { return &f.DirectionFlipped }),
	i32(func(f *Flow) *int32 { return &f.FlowEndReason }),
	i64(func(f *Flow) *int64 { return &f.TCPRetransFwd }),
	i64(func(f *Flow) *int64 { return &f.TCPRetransRev }),
	i64(func(f *Flow) *int64 { return &f.MissedBytes }),
	optI64(func(f *Flow) **int64 { return &f.SRTTUS }),
	optI64(func(f *Flow) **int64 { return &f.HandshakeUS }),
	i32(func(f *Flow) *int32 { return &f.FwdInitWin }),
	i32(func(f *Flow) *int32 { return &f.RevInitWin }),
	i32(func(f *Flow) *int32 { return &f.MinTTL }),
	i32(func(f *Flow) *int32 { return &f.MaxTTL }),
	i32(func(f *Flow) *int32 { return &f.FwdPktLenMin }),
	i32(func(f *Flow) *int32 { return &f.FwdPktLenMax }),
	i32(func(f *Flow) *int32 { return &f.RevPktLenMin }),
	i32(func(f *Flow) *int32 { return &f.RevPktLenMax }),
	i64(func(f *Flow) *int64 { return &f.FwdPktLenSumsq }),
	i64(func(f *Flow) *int64 { return &f.RevPktLenSumsq }),
	optI32(func(f *Flow) **int32 { return &f.VLANID }),
	optI32(func(f *Flow) **int32 { return &f.InnerVLANID }),
	optStr(func(f *Flow) **string { return &f.SrcMAC }),
	optStr(func(f *Flow) **string { return &f.DstMAC }),
	optStr(func(f *Flow) **string { return &f.TunnelParent }),
	str(func(f *Flow) *string { return &f.Sensor }),
	str(func(f *Flow) *string { return &f.Interface }),
	boolean(func(f *Flow) *bool { return &f.SrcIsInternal }),
	boolean(func(f *Flow) *bool { return &f.DstIsInternal }),
	optStr(func(f *Flow) **string { return &f.SrcHostname }),
	optStr(func(f *Flow) **string { return &f.DstHostname }),
	optStr(func(f *Flow) **string { return &f.Service }),
)

// PacketLayout is the columns of Packet: the /tetration/packets schema.
var PacketLayout = newLayout(
	timestamp(TimeColumn, func(p *Packet) *time.Time { return &p.Timestamp }),
	str(func(p *Packet) *string { return &p.SrcAddress }),
	str(func(p *Packet) *string { return &p.DstAddress }),
	i32(func(p *Packet) *int32 { return &p.SrcPort }),
	i32(func(p *Packet) *int32 { return &p.DstPort }),
	i32(func(p *Packet) *int32 { return &p.IPVersion }),
	str(func(p *Packet) *string { return &p.Proto }),
	i32(func(p *Packet) *int32 { return &p.IPProto }),
	i32(func(p *Packet) *int32 { return &p.TTL }),
	i64(func(p *Packet) *int64 { return &p.Seq }),
	i64(func(p *Packet) *int64 { return &p.Ack }),
	i32(func(p *Packet) *int32 { return &p.TCPFlags }),
	i32(func(p *Packet) *int32 { return &p.Window }),
	i32(func(p *Packet) *int32 { return &p.WireLen }),
	i32(func(p *Packet) *int32 { return &p.CapLen }),
	i32(func(p *Packet) *int32 { return &p.IPLen }),
	i32(func(p *Packet) *int32 { return &p.PayloadLen }),
	optBytes(func(p *Packet) *[]byte { return &p.PayloadHead }),
	str(func(p *Packet) *string { return &p.FlowID }),
	str(func(p *Packet) *string { return &p.CommunityID }),
	str(func(p *Packet) *string { return &p.Sensor }),
	str(func(p *Packet) *string { return &p.Interface }),
)

// TCP flag bits as used in Packet.TCPFlags, Flow.FwdTCPFlags and
// Flow.RevTCPFlags.
const (
	FlagFIN = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)
