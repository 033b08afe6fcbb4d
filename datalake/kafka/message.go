package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/flowlab/flowlab/datalake"
)

// MaxMessageBytes is the largest record message DecodeFlow and
// DecodePacket accept, Kafka's default message.max.bytes. A flow record is
// about 2 KiB of JSON.
const MaxMessageBytes = 1 << 20

// EncodeFlow returns the message of one flow record: a JSON object whose
// keys are exactly the flow schema's column names, with times in UTC
// (RFC 3339, microseconds, as the lake keeps them) and null for the
// nullable columns that have no value. Safe for concurrent use.
func EncodeFlow(f *datalake.Flow) ([]byte, error) {
	c := *f
	c.StartTimestamp, c.EndTimestamp, c.Timestamp = lakeTime(c.StartTimestamp), lakeTime(c.EndTimestamp), lakeTime(c.Timestamp)
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode flow %s: %w", f.FlowID, err)
	}
	return b, nil
}

// EncodePacket returns the message of one packet record: a JSON object with
// the packet dataset's field names; payload_head is base64, as
// encoding/json writes bytes. Safe for concurrent use.
func EncodePacket(p *datalake.Packet) ([]byte, error) {
	c := *p
	c.Timestamp = lakeTime(c.Timestamp)
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode packet of flow %s: %w", p.FlowID, err)
	}
	return b, nil
}

// DecodeFlow decodes and validates one flow message. Unknown keys are
// refused (the lake's schema could not keep them, and a misspelt column
// must not turn into a silent zero), as is anything after the object.
// Times come back in UTC, truncated to microseconds. The error wraps
// ErrBadMessage and names the field.
func DecodeFlow(msg []byte) (datalake.Flow, error) {
	var f datalake.Flow
	if err := decodeStrict(msg, &f); err != nil {
		return datalake.Flow{}, err
	}
	f.StartTimestamp, f.EndTimestamp, f.Timestamp = lakeTime(f.StartTimestamp), lakeTime(f.EndTimestamp), lakeTime(f.Timestamp)
	if err := checkFlow(&f); err != nil {
		return datalake.Flow{}, fmt.Errorf("%w: flow %q: %s", ErrBadMessage, truncate(f.FlowID), err)
	}
	return f, nil
}

// DecodePacket decodes and validates one packet message, as DecodeFlow
// does flows. The error wraps ErrBadMessage.
func DecodePacket(msg []byte) (datalake.Packet, error) {
	var p datalake.Packet
	if err := decodeStrict(msg, &p); err != nil {
		return datalake.Packet{}, err
	}
	p.Timestamp = lakeTime(p.Timestamp)
	if len(p.PayloadHead) == 0 {
		p.PayloadHead = nil
	}
	if err := checkPacket(&p); err != nil {
		return datalake.Packet{}, fmt.Errorf("%w: packet of flow %q: %s", ErrBadMessage, truncate(p.FlowID), err)
	}
	return p, nil
}

// decodeStrict decodes exactly one JSON object into v, refusing unknown
// keys and trailing data.
func decodeStrict(msg []byte, v any) error {
	if len(msg) > MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrBadMessage, len(msg), MaxMessageBytes)
	}
	trimmed := bytes.TrimSpace(msg)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: not a JSON object (starts with %q)", ErrBadMessage, truncate(string(trimmed)))
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the JSON object", ErrBadMessage)
	}
	return nil
}

// lakeTime is t as the lake stores it: UTC, microseconds.
func lakeTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// firstProblem is the first non-empty problem as an error, or nil.
func firstProblem(problems ...string) error {
	for _, p := range problems {
		if p != "" {
			return errors.New(p)
		}
	}
	return nil
}

// checkTime says what is wrong with a required record time, or "". Any
// time RFC 3339 can write is accepted: pcapng files may hold times before
// 1970, and the lake keeps them.
func checkTime(name string, t time.Time) string {
	if t.IsZero() {
		return name + ": missing"
	}
	return ""
}

// checkAddrs checks the address pair against the IP version.
func checkAddrs(src, dst string, version int32) string {
	if version != 4 && version != 6 {
		return fmt.Sprintf("ip_version: %d, want 4 or 6", version)
	}
	for _, a := range []struct{ name, v string }{{"src_address", src}, {"dst_address", dst}} {
		ip, err := netip.ParseAddr(a.v)
		switch {
		case a.v == "":
			return a.name + ": missing"
		case err != nil || ip.Zone() != "":
			return fmt.Sprintf("%s: %q is not an IP address", a.name, truncate(a.v))
		case (version == 4) != ip.Is4():
			return fmt.Sprintf("%s: %s is not an IPv%d address (ip_version)", a.name, a.v, version)
		}
	}
	return ""
}

// checkPorts checks ports and the protocol number.
func checkPorts(src, dst, ipProto int32, proto string) string {
	switch {
	case src < 0 || src > 65535:
		return fmt.Sprintf("src_port: %d is not a port", src)
	case dst < 0 || dst > 65535:
		return fmt.Sprintf("dst_port: %d is not a port", dst)
	case ipProto < 0 || ipProto > 255:
		return fmt.Sprintf("ip_proto: %d is not an IP protocol number", ipProto)
	case proto == "":
		return "proto: missing"
	}
	return ""
}

// checkFlow says what makes f impossible as a flow record.
func checkFlow(f *datalake.Flow) error {
	if err := firstProblem(
		checkTime("start_timestamp", f.StartTimestamp),
		checkTime("end_timestamp", f.EndTimestamp),
		checkAddrs(f.SrcAddress, f.DstAddress, f.IPVersion),
		checkPorts(f.SrcPort, f.DstPort, f.IPProto, f.Proto),
	); err != nil {
		return err
	}
	switch {
	case f.FlowID == "":
		return fmt.Errorf("flow_id: missing")
	case f.EndTimestamp.Before(f.StartTimestamp):
		return fmt.Errorf("end_timestamp %s is before start_timestamp %s", f.EndTimestamp.Format(time.RFC3339Nano), f.StartTimestamp.Format(time.RFC3339Nano))
	case f.DurationUS < 0:
		return fmt.Errorf("duration_us: %d is negative", f.DurationUS)
	case f.FwdPkts < 0 || f.RevPkts < 0 || f.FwdBytes < 0 || f.RevBytes < 0 || f.FwdPayloadBytes < 0 || f.RevPayloadBytes < 0:
		return fmt.Errorf("a packet or byte count is negative")
	case f.Pkts < 1:
		return fmt.Errorf("pkts: %d, a flow has at least one packet", f.Pkts)
	case f.Pkts != f.FwdPkts+f.RevPkts:
		return fmt.Errorf("pkts: %d is not fwd_pkts + rev_pkts (%d + %d)", f.Pkts, f.FwdPkts, f.RevPkts)
	case f.Bytes != f.FwdBytes+f.RevBytes:
		return fmt.Errorf("bytes: %d is not fwd_bytes + rev_bytes (%d + %d)", f.Bytes, f.FwdBytes, f.RevBytes)
	case f.FlowEndReason < 1 || f.FlowEndReason > 5:
		return fmt.Errorf("flow_end_reason: %d, want 1 to 5", f.FlowEndReason)
	}
	for _, v := range []struct {
		name string
		p    *int32
	}{{"icmp_type", f.ICMPType}, {"icmp_code", f.ICMPCode}} {
		if v.p != nil && (*v.p < 0 || *v.p > 255) {
			return fmt.Errorf("%s: %d, want 0 to 255", v.name, *v.p)
		}
	}
	return nil
}

// checkPacket says what makes p impossible as a packet record.
func checkPacket(p *datalake.Packet) error {
	if err := firstProblem(
		checkTime("timestamp", p.Timestamp),
		checkAddrs(p.SrcAddress, p.DstAddress, p.IPVersion),
		checkPorts(p.SrcPort, p.DstPort, p.IPProto, p.Proto),
	); err != nil {
		return err
	}
	switch {
	case p.FlowID == "":
		return fmt.Errorf("flow_id: missing")
	case p.Seq < 0 || p.Seq > 1<<32-1 || p.Ack < 0 || p.Ack > 1<<32-1:
		return fmt.Errorf("seq/ack: %d/%d, want 32-bit sequence numbers", p.Seq, p.Ack)
	case p.TCPFlags < 0 || p.TCPFlags > 255:
		return fmt.Errorf("tcp_flags: %d, want 0 to 255", p.TCPFlags)
	case p.WireLen < 0 || p.CapLen < 0 || p.IPLen < 0 || p.PayloadLen < 0 || p.TTL < 0 || p.Window < 0:
		return fmt.Errorf("a length, ttl or window is negative")
	case len(p.PayloadHead) > 65535:
		return fmt.Errorf("payload_head: %d bytes, over 65535", len(p.PayloadHead))
	}
	return nil
}

// truncate keeps error messages short when a field holds a lot.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
