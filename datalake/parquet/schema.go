package parquet

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flowlab/flowlab/datalake"
)

type flow = datalake.Flow

// flowColumns lists the columns of /tetration/flows in FLOWS_SCHEMA.md
// order, one per field of datalake.Flow.
var flowColumns = []colDef[flow]{
	ts("start_timestamp", tsUTC, func(f *flow) time.Time { return f.StartTimestamp }),
	ts("end_timestamp", tsUTC, func(f *flow) time.Time { return f.EndTimestamp }),
	ts("timestamp", tsLocal, func(f *flow) time.Time { return f.Timestamp }),
	i64("duration_us", func(f *flow) int64 { return f.DurationUS }),
	str("flow_id", func(f *flow) string { return f.FlowID }),
	str("community_id", func(f *flow) string { return f.CommunityID }),
	str("src_address", func(f *flow) string { return f.SrcAddress }),
	str("dst_address", func(f *flow) string { return f.DstAddress }),
	i32("ip_version", func(f *flow) int32 { return f.IPVersion }),
	i32("src_port", func(f *flow) int32 { return f.SrcPort }),
	i32("dst_port", func(f *flow) int32 { return f.DstPort }),
	optI32("icmp_type", func(f *flow) *int32 { return f.ICMPType }),
	optI32("icmp_code", func(f *flow) *int32 { return f.ICMPCode }),
	str("proto", func(f *flow) string { return f.Proto }),
	i32("ip_proto", func(f *flow) int32 { return f.IPProto }),
	i64("fwd_pkts", func(f *flow) int64 { return f.FwdPkts }),
	i64("rev_pkts", func(f *flow) int64 { return f.RevPkts }),
	i64("fwd_bytes", func(f *flow) int64 { return f.FwdBytes }),
	i64("rev_bytes", func(f *flow) int64 { return f.RevBytes }),
	i64("fwd_payload_bytes", func(f *flow) int64 { return f.FwdPayloadBytes }),
	i64("rev_payload_bytes", func(f *flow) int64 { return f.RevPayloadBytes }),
	i64("pkts", func(f *flow) int64 { return f.Pkts }),
	i64("bytes", func(f *flow) int64 { return f.Bytes }),
	i32("fwd_syn_count", func(f *flow) int32 { return f.FwdSynCount }),
	i32("fwd_ack_count", func(f *flow) int32 { return f.FwdAckCount }),
	i32("fwd_fin_count", func(f *flow) int32 { return f.FwdFinCount }),
	i32("fwd_rst_count", func(f *flow) int32 { return f.FwdRstCount }),
	i32("fwd_psh_count", func(f *flow) int32 { return f.FwdPshCount }),
	i32("fwd_urg_count", func(f *flow) int32 { return f.FwdUrgCount }),
	i32("fwd_ece_count", func(f *flow) int32 { return f.FwdEceCount }),
	i32("fwd_cwr_count", func(f *flow) int32 { return f.FwdCwrCount }),
	i32("rev_syn_count", func(f *flow) int32 { return f.RevSynCount }),
	i32("rev_ack_count", func(f *flow) int32 { return f.RevAckCount }),
	i32("rev_fin_count", func(f *flow) int32 { return f.RevFinCount }),
	i32("rev_rst_count", func(f *flow) int32 { return f.RevRstCount }),
	i32("rev_psh_count", func(f *flow) int32 { return f.RevPshCount }),
	i32("rev_urg_count", func(f *flow) int32 { return f.RevUrgCount }),
	i32("rev_ece_count", func(f *flow) int32 { return f.RevEceCount }),
	i32("rev_cwr_count", func(f *flow) int32 { return f.RevCwrCount }),
	i32("fwd_tcp_flags", func(f *flow) int32 { return f.FwdTCPFlags }),
	i32("rev_tcp_flags", func(f *flow) int32 { return f.RevTCPFlags }),
	i32("fwd_synfin_count", func(f *flow) int32 { return f.FwdSynfinCount }),
	i32("fwd_synrst_count", func(f *flow) int32 { return f.FwdSynrstCount }),
	i32("fwd_null_count", func(f *flow) int32 { return f.FwdNullCount }),
	i32("fwd_xmas_count", func(f *flow) int32 { return f.FwdXmasCount }),
	i32("fwd_finnoack_count", func(f *flow) int32 { return f.FwdFinnoackCount }),
	i32("rev_synfin_count", func(f *flow) int32 { return f.RevSynfinCount }),
	i32("rev_synrst_count", func(f *flow) int32 { return f.RevSynrstCount }),
	i32("rev_null_count", func(f *flow) int32 { return f.RevNullCount }),
	i32("rev_xmas_count", func(f *flow) int32 { return f.RevXmasCount }),
	i32("rev_finnoack_count", func(f *flow) int32 { return f.RevFinnoackCount }),
	str("conn_state", func(f *flow) string { return f.ConnState }),
	str("history", func(f *flow) string { return f.History }),
	boolean("direction_flipped", func(f *flow) bool { return f.DirectionFlipped }),
	i32("flow_end_reason", func(f *flow) int32 { return f.FlowEndReason }),
	i64("tcp_retrans_fwd", func(f *flow) int64 { return f.TCPRetransFwd }),
	i64("tcp_retrans_rev", func(f *flow) int64 { return f.TCPRetransRev }),
	i64("missed_bytes", func(f *flow) int64 { return f.MissedBytes }),
	optI64("srtt_us", func(f *flow) *int64 { return f.SRTTUS }),
	optI64("handshake_us", func(f *flow) *int64 { return f.HandshakeUS }),
	i32("fwd_init_win", func(f *flow) int32 { return f.FwdInitWin }),
	i32("rev_init_win", func(f *flow) int32 { return f.RevInitWin }),
	i32("min_ttl", func(f *flow) int32 { return f.MinTTL }),
	i32("max_ttl", func(f *flow) int32 { return f.MaxTTL }),
	i32("fwd_pkt_len_min", func(f *flow) int32 { return f.FwdPktLenMin }),
	i32("fwd_pkt_len_max", func(f *flow) int32 { return f.FwdPktLenMax }),
	i32("rev_pkt_len_min", func(f *flow) int32 { return f.RevPktLenMin }),
	i32("rev_pkt_len_max", func(f *flow) int32 { return f.RevPktLenMax }),
	i64("fwd_pkt_len_sumsq", func(f *flow) int64 { return f.FwdPktLenSumsq }),
	i64("rev_pkt_len_sumsq", func(f *flow) int64 { return f.RevPktLenSumsq }),
	optI32("vlan_id", func(f *flow) *int32 { return f.VLANID }),
	optI32("inner_vlan_id", func(f *flow) *int32 { return f.InnerVLANID }),
	optStr("src_mac", func(f *flow) *string { return f.SrcMAC }),
	optStr("dst_mac", func(f *flow) *string { return f.DstMAC }),
	optStr("tunnel_parent", func(f *flow) *string { return f.TunnelParent }),
	str("sensor", func(f *flow) string { return f.Sensor }),
	str("interface", func(f *flow) string { return f.Interface }),
	boolean("src_is_internal", func(f *flow) bool { return f.SrcIsInternal }),
	boolean("dst_is_internal", func(f *flow) bool { return f.DstIsInternal }),
	optStr("src_hostname", func(f *flow) *string { return f.SrcHostname }),
	optStr("dst_hostname", func(f *flow) *string { return f.DstHostname }),
	optStr("service", func(f *flow) *string { return f.Service }),
}

type packet = datalake.Packet

// packetColumns lists the columns of /tetration/packets, one per field of
// datalake.Packet.
var packetColumns = []colDef[packet]{
	ts("timestamp", tsUTC, func(p *packet) time.Time { return p.Timestamp }),
	str("src_address", func(p *packet) string { return p.SrcAddress }),
	str("dst_address", func(p *packet) string { return p.DstAddress }),
	i32("src_port", func(p *packet) int32 { return p.SrcPort }),
	i32("dst_port", func(p *packet) int32 { return p.DstPort }),
	i32("ip_version", func(p *packet) int32 { return p.IPVersion }),
	str("proto", func(p *packet) string { return p.Proto }),
	i32("ip_proto", func(p *packet) int32 { return p.IPProto }),
	i32("ttl", func(p *packet) int32 { return p.TTL }),
	i64("seq", func(p *packet) int64 { return p.Seq }),
	i64("ack", func(p *packet) int64 { return p.Ack }),
	i32("tcp_flags", func(p *packet) int32 { return p.TCPFlags }),
	i32("window", func(p *packet) int32 { return p.Window }),
	i32("wire_len", func(p *packet) int32 { return p.WireLen }),
	i32("cap_len", func(p *packet) int32 { return p.CapLen }),
	i32("ip_len", func(p *packet) int32 { return p.IPLen }),
	i32("payload_len", func(p *packet) int32 { return p.PayloadLen }),
	optBytes("payload_head", func(p *packet) []byte { return p.PayloadHead }),
	str("flow_id", func(p *packet) string { return p.FlowID }),
	str("community_id", func(p *packet) string { return p.CommunityID }),
	str("sensor", func(p *packet) string { return p.Sensor }),
	str("interface", func(p *packet) string { return p.Interface }),
}

var (
	flowSchema   = schemaOf(flowColumns)
	packetSchema = schemaOf(packetColumns)
)

// FlowSchema returns the Arrow schema of flow files. The Parquet types
// follow FLOWS_SCHEMA.md: timestamps are INT64 TIMESTAMP(MICROS) (UTC-
// adjusted except the export timestamp), strings are UTF-8 BYTE_ARRAY,
// pointer fields are the nullable columns. Safe for concurrent use.
func FlowSchema() *arrow.Schema { return flowSchema }

// PacketSchema returns the Arrow schema of packet files. Safe for concurrent
// use.
func PacketSchema() *arrow.Schema { return packetSchema }
