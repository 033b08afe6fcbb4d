package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/parquet"
)

// TestWriterFilesInDuckDB reads files of the Parquet writer with DuckDB:
// the types FLOWS_SCHEMA.md names, the values written, and the sort order.
func TestWriterFilesInDuckDB(t *testing.T) {
	root := t.TempDir()
	l := openLake(t, root)
	w, err := parquet.NewFlowWriter(l, parquet.Options{RowGroupRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := now.Truncate(time.Hour)
	typ, code, hs := int32(3), int32(1), int64(1234)
	host := "ws-1.corp.example"
	var in []datalake.Flow
	for i := range 10 {
		f := datalake.Flow{
			StartTimestamp: h.Add(time.Duration(10-i) * time.Minute).Add(123456 * time.Nanosecond),
			EndTimestamp:   h.Add(time.Duration(10-i)*time.Minute + time.Second),
			Timestamp:      h.Add(time.Hour),
			DurationUS:     1_000_000, FlowID: fmt.Sprintf("C%02d", i), CommunityID: "1:x",
			SrcAddress: fmt.Sprintf("10.0.0.%d", i%3), DstAddress: "10.0.0.99", IPVersion: 4,
			SrcPort: int32(40000 + i), DstPort: 443, Proto: "TCP", IPProto: 6,
			FwdPkts: int64(i), RevPkts: 2, FwdBytes: 1 << 40, FwdSynCount: 1, RevRstCount: int32(i % 2),
			ConnState: "SF", History: "ShADadFf", DirectionFlipped: i == 3, Sensor: "s", Interface: "eth0",
			SrcIsInternal: true,
		}
		if i == 0 {
			f.ICMPType, f.ICMPCode, f.HandshakeUS, f.SrcHostname = &typ, &code, &hs, &host
		}
		in = append(in, f)
	}
	if err := w.Write(in...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	flows := l.IO().Read(datalake.FlowsPath, "PARQUET", "LASTHOUR")
	schema, err := flows.Schema()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range schema {
		types[c.Name] = c.Type
	}
	for col, want := range map[string]string{
		"start_timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp": "TIMESTAMP", "src_address": "VARCHAR",
		"src_port": "INTEGER", "fwd_pkts": "BIGINT", "fwd_syn_count": "INTEGER", "direction_flipped": "BOOLEAN",
		"icmp_type": "INTEGER", "srtt_us": "BIGINT", "dt": "DATE", "hr": "INTEGER",
	} {
		if types[col] != want {
			t.Errorf("%s is %s, want %s", col, types[col], want)
		}
	}
	if len(schema) != parquet.FlowSchema().NumFields()+2 {
		t.Errorf("%d columns", len(schema))
	}
	rows, err := flows.Filter("flow_id = ?", "C00").Collect()
	if err != nil || len(rows) != 1 {
		t.Fatalf("%v, %v", rows, err)
	}
	r := rows[0]
	wantStart := in[0].StartTimestamp.Truncate(time.Microsecond)
	if !r["start_timestamp"].(time.Time).Equal(wantStart) || r["icmp_type"] != int32(3) || r["handshake_us"] != int64(1234) ||
		r["src_hostname"] != host || r["fwd_bytes"] != int64(1<<40) || r["srtt_us"] != nil || r["timestamp"].(time.Time) != h.Add(time.Hour) {
		t.Errorf("row %v", r)
	}
	// One file, sorted by (src_address, start_timestamp).
	file := filepath.Join(l.Root(), w.Published()[0])
	order, err := l.SQL(fmt.Sprintf(`SELECT src_address || ' ' || strftime(start_timestamp, '%%H:%%M') AS k
		FROM read_parquet('%s', file_row_number = true) ORDER BY file_row_number`, file)).Strings("k")
	if err != nil {
		t.Fatal(err)
	}
	want := "10.0.0.0 13:01,10.0.0.0 13:04,10.0.0.0 13:07,10.0.0.0 13:10,10.0.0.1 13:03,10.0.0.1 13:06,10.0.0.1 13:09,10.0.0.2 13:02,10.0.0.2 13:05,10.0.0.2 13:08"
	if strings.Join(order, ",") != want {
		t.Errorf("file order %v", order)
	}
	groups, err := l.SQL(fmt.Sprintf(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata('%s')`, file)).Int64s("n")
	if err != nil || groups[0] != 4 {
		t.Errorf("row groups %v, %v", groups, err)
	}
	// Near-unique columns are written plain, repeating ones with a dictionary.
	enc, err := l.SQL(fmt.Sprintf(`SELECT DISTINCT path_in_schema || ' ' || CAST(contains(encodings, 'DICTIONARY') AS VARCHAR) AS e
		FROM parquet_metadata('%s') WHERE path_in_schema IN ('flow_id', 'start_timestamp', 'fwd_bytes', 'src_address', 'proto') ORDER BY e`, file)).Strings("e")
	if err != nil || strings.Join(enc, ",") != "flow_id false,fwd_bytes false,proto true,src_address true,start_timestamp false" {
		t.Errorf("dictionary use %v, %v", enc, err)
	}
}

func TestPacketFilesInDuckDB(t *testing.T) {
	l := openLake(t, t.TempDir())
	w, err := parquet.NewPacketWriter(l, parquet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(datalake.Packet{Timestamp: now, SrcAddress: "10.0.0.1", DstAddress: "10.0.0.2", Proto: "TCP", IPProto: 6,
		Seq: 4_000_000_000, TCPFlags: datalake.FlagSYN | datalake.FlagACK, PayloadHead: []byte{0x16, 0x03, 0x01}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := l.IO().Read(datalake.PacketsPath, "PARQUET", "LASTHOUR").Collect()
	if err != nil || len(rows) != 1 {
		t.Fatalf("%v, %v", rows, err)
	}
	if r := rows[0]; r["seq"] != int64(4_000_000_000) || fmt.Sprint(r["payload_head"]) != "[22 3 1]" || r["tcp_flags"] != int32(18) {
		t.Errorf("row %v", r)
	}
}
