package kafka_test

import (
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/kafka"
	"github.com/flowlab/flowlab/datalake/pcap"
)

const corpus = "../../testdata/pcaps"

// corpusRecords runs a capture file through the decoder and a flow table
// and returns its flow and packet records, as ingest produces them.
func corpusRecords(tb testing.TB, file string) ([]datalake.Flow, []datalake.Packet) {
	tb.Helper()
	r, c, err := pcap.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	var flows []datalake.Flow
	var packets []datalake.Packet
	table := flowtable.New(flowtable.Options{
		Sensor: "test", Interface: filepath.Base(file), PayloadHead: 16,
		EmitFlow: func(f *datalake.Flow) error { flows = append(flows, *f); return nil },
		EmitPacket: func(p *datalake.Packet) error {
			c := *p
			c.PayloadHead = slices.Clone(p.PayloadHead)
			packets = append(packets, c)
			return nil
		},
	})
	var dec pcap.Decoder
	var fr flowtable.Frame
	for {
		f, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				break // damaged: what came before is enough
			}
			break
		}
		if dec.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &fr) {
			if err := table.Add(&fr); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := table.Flush(); err != nil {
		tb.Fatal(err)
	}
	return flows, packets
}

// corpusFiles are the captures of good/ and tcpstate/.
func corpusFiles(tb testing.TB) []string {
	var files []string
	for _, dir := range []string{"good", "tcpstate"} {
		m, err := filepath.Glob(filepath.Join(corpus, dir, "*.pcap*"))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		tb.Fatal("no captures in", corpus)
	}
	return files
}

// columns returns the parquet tags of a record struct: the lake's columns.
func columns(v any) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := 0; i < t.NumField(); i++ {
		out = append(out, t.Field(i).Tag.Get("parquet"))
	}
	slices.Sort(out)
	return out
}

func keys(tb testing.TB, msg []byte) []string {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		tb.Fatalf("%v: %s", err, msg)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestCorpusRoundTrip: every flow and packet record of the corpus encodes
// to an object with exactly the lake's column names, and decodes (with
// validation) to the record the lake would store.
func TestCorpusRoundTrip(t *testing.T) {
	wantFlowKeys, wantPacketKeys := columns(datalake.Flow{}), columns(datalake.Packet{})
	var nflows, npackets int
	for _, file := range corpusFiles(t) {
		flows, packets := corpusRecords(t, file)
		for i := range flows {
			msg, err := kafka.EncodeFlow(&flows[i])
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if nflows == 0 {
				if got := keys(t, msg); !slices.Equal(got, wantFlowKeys) {
					t.Fatalf("flow message keys\n got %v\nwant %v", got, wantFlowKeys)
				}
			}
			got, err := kafka.DecodeFlow(msg)
			if err != nil {
				t.Fatalf("%s: flow %d: %v\n%s", filepath.Base(file), i, err, msg)
			}
			want := flows[i]
			want.StartTimestamp = want.StartTimestamp.UTC().Truncate(time.Microsecond)
			want.EndTimestamp = want.EndTimestamp.UTC().Truncate(time.Microsecond)
			want.Timestamp = want.Timestamp.UTC().Truncate(time.Microsecond)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: flow %d changed:\n got %+v\nwant %+v", filepath.Base(file), i, got, want)
			}
			nflows++
		}
		for i := range packets {
			msg, err := kafka.EncodePacket(&packets[i])
			if err != nil {
				t.Fatal(err)
			}
			if npackets == 0 {
				if got := keys(t, msg); !slices.Equal(got, wantPacketKeys) {
					t.Fatalf("packet message keys\n got %v\nwant %v", got, wantPacketKeys)
				}
			}
			got, err := kafka.DecodePacket(msg)
			if err != nil {
				t.Fatalf("%s: packet %d: %v\n%s", filepath.Base(file), i, err, msg)
			}
			want := packets[i]
			want.Timestamp = want.Timestamp.UTC().Truncate(time.Microsecond)
			if len(want.PayloadHead) == 0 {
				want.PayloadHead = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: packet %d changed:\n got %+v\nwant %+v", filepath.Base(file), i, got, want)
			}
			npackets++
		}
	}
	t.Logf("%d flows and %d packets round-tripped", nflows, npackets)
}

// validFlow is a small consistent flow message, as a map to edit.
func validFlow() map[string]any {
	return map[string]any{
		"start_timestamp": "2024-05-01T10:00:00.123456Z", "end_timestamp": "2024-05-01T10:00:01Z",
		"timestamp": "2024-05-01T10:00:06Z", "duration_us": 876544, "flow_id": "CfAbc123", "community_id": "1:x",
		"src_address": "10.0.0.1", "dst_address": "10.0.0.2", "ip_version": 4, "src_port": 40000, "dst_port": 443,
		"proto": "TCP", "ip_proto": 6, "fwd_pkts": 3, "rev_pkts": 2, "fwd_bytes": 180, "rev_bytes": 120,
		"pkts": 5, "bytes": 300, "flow_end_reason": 3, "icmp_type": nil, "conn_state": "SF",
	}
}

func validPacket() map[string]any {
	return map[string]any{
		"timestamp": "2024-05-01T10:00:00.123456Z", "src_address": "2001:db8::1", "dst_address": "2001:db8::2",
		"src_port": 5353, "dst_port": 53, "ip_version": 6, "proto": "UDP", "ip_proto": 17, "ttl": 64,
		"wire_len": 90, "cap_len": 90, "ip_len": 76, "payload_len": 28, "payload_head": "AAEC", "flow_id": "CfX",
	}
}

func with(m map[string]any, kv ...any) []byte {
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "DELETE" {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodeFlow(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		want string // "" for valid, else a substring of the error
	}{
		{"valid", with(validFlow()), ""},
		{"offset time zone", with(validFlow(), "start_timestamp", "2024-05-01T12:00:00.123456+02:00"), ""},
		{"leading space", append([]byte("  "), with(validFlow())...), ""},
		{"empty", []byte(""), "not a JSON object"},
		{"array", []byte(`[{"flow_id":"x"}]`), "not a JSON object"},
		{"string", []byte(`"flow"`), "not a JSON object"},
		{"truncated", []byte(`{"flow_id":"x"`), "unexpected EOF"},
		{"two objects", append(with(validFlow()), with(validFlow())...), "data after the JSON object"},
		{"unknown column", with(validFlow(), "src_ip", "10.0.0.1"), `unknown field "src_ip"`},
		{"wrong type", with(validFlow(), "fwd_pkts", "3"), "fwd_pkts"},
		{"bad time", with(validFlow(), "start_timestamp", "yesterday"), "cannot parse"},
		{"no start", with(validFlow(), "start_timestamp", "DELETE"), "start_timestamp: missing"},
		{"before 1970", with(validFlow(), "start_timestamp", "1754-08-30T22:43:41Z"), ""},
		{"year 10000", with(validFlow(), "end_timestamp", "10000-01-01T00:00:00Z"), "cannot parse"},
		{"end before start", with(validFlow(), "end_timestamp", "2024-05-01T09:00:00Z"), "is before start_timestamp"},
		{"no flow id", with(validFlow(), "flow_id", ""), "flow_id: missing"},
		{"bad address", with(validFlow(), "src_address", "10.0.0.256"), `src_address: "10.0.0.256" is not an IP address`},
		{"zone", with(validFlow(), "dst_address", "fe80::1%eth0", "src_address", "fe80::2", "ip_version", 6), "is not an IP address"},
		{"version mismatch", with(validFlow(), "ip_version", 6), "is not an IPv6 address"},
		{"no version", with(validFlow(), "ip_version", "DELETE"), "ip_version: 0"},
		{"port", with(validFlow(), "dst_port", 70000), "dst_port: 70000 is not a port"},
		{"ip proto", with(validFlow(), "ip_proto", 300), "ip_proto: 300"},
		{"no proto", with(validFlow(), "proto", ""), "proto: missing"},
		{"no packets", with(validFlow(), "fwd_pkts", 0, "rev_pkts", 0, "pkts", 0), "at least one packet"},
		{"pkts sum", with(validFlow(), "pkts", 6), "is not fwd_pkts + rev_pkts"},
		{"bytes sum", with(validFlow(), "bytes", 1), "is not fwd_bytes + rev_bytes"},
		{"negative", with(validFlow(), "fwd_bytes", -1, "bytes", 119), "negative"},
		{"end reason", with(validFlow(), "flow_end_reason", 9), "flow_end_reason: 9"},
		{"icmp type", with(validFlow(), "icmp_type", 256), "icmp_type: 256"},
		{"too big", append(with(validFlow()), make([]byte, kafka.MaxMessageBytes)...), "over the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := kafka.DecodeFlow(tc.msg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if f.StartTimestamp.Location() != time.UTC || f.FlowID != "CfAbc123" || f.ICMPType != nil {
					t.Errorf("decoded %+v", f)
				}
				return
			}
			if !errors.Is(err, kafka.ErrBadMessage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadMessage saying %q", err, tc.want)
			}
		})
	}
}

func TestDecodePacket(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"valid", with(validPacket()), ""},
		{"no payload", with(validPacket(), "payload_head", nil), ""},
		{"flow column", with(validPacket(), "fwd_pkts", 1), `unknown field "fwd_pkts"`},
		{"no time", with(validPacket(), "timestamp", "DELETE"), "timestamp: missing"},
		{"v4 in v6", with(validPacket(), "src_address", "10.0.0.1"), "is not an IPv6 address"},
		{"seq", with(validPacket(), "seq", int64(1)<<32), "seq/ack"},
		{"flags", with(validPacket(), "tcp_flags", 256), "tcp_flags: 256"},
		{"negative length", with(validPacket(), "wire_len", -1), "negative"},
		{"payload not base64", with(validPacket(), "payload_head", "!!"), "illegal base64"},
		{"no flow id", with(validPacket(), "flow_id", "DELETE"), "flow_id: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.DecodePacket(tc.msg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, kafka.ErrBadMessage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadMessage saying %q", err, tc.want)
			}
		})
	}
}
