package parquet

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// golden compares got with testdata/name (go test -update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	flowlabtest.Golden(t, filepath.Join("testdata", name), got)
}

// TestSchemasMatchRecords checks that every field of the record types has
// its column, in order, nullable exactly when the field is a pointer or a
// byte slice.
func TestSchemasMatchRecords(t *testing.T) {
	tests := []struct {
		name   string
		typ    reflect.Type
		schema *arrow.Schema
	}{
		{"flow", reflect.TypeFor[datalake.Flow](), FlowSchema()},
		{"packet", reflect.TypeFor[datalake.Packet](), PacketSchema()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.typ.NumField() != tt.schema.NumFields() {
				t.Fatalf("%d fields, %d columns", tt.typ.NumField(), tt.schema.NumFields())
			}
			for i := range tt.typ.NumField() {
				sf, col := tt.typ.Field(i), tt.schema.Field(i)
				if tag := sf.Tag.Get("parquet"); tag != col.Name {
					t.Errorf("field %s has tag %q, column %d is %q", sf.Name, tag, i, col.Name)
				}
				if json := sf.Tag.Get("json"); json != col.Name {
					t.Errorf("field %s has json tag %q, want %q", sf.Name, json, col.Name)
				}
				nullable := sf.Type.Kind() == reflect.Pointer || sf.Type.Kind() == reflect.Slice
				if nullable != col.Nullable {
					t.Errorf("field %s: nullable %v, column nullable %v", sf.Name, nullable, col.Nullable)
				}
			}
		})
	}
}

// TestParquetSchema pins the Parquet schema of the files: physical and
// logical types as FLOWS_SCHEMA.md lists them.
func TestParquetSchema(t *testing.T) {
	o, _ := (Options{}).withDefaults("")
	var b strings.Builder
	for _, s := range []*arrow.Schema{FlowSchema(), PacketSchema()} {
		ps, err := pqarrow.ToParquet(s, o.properties(s), pqarrow.DefaultWriterProps())
		if err != nil {
			t.Fatal(err)
		}
		schema.PrintSchema(ps.Root(), &b, 2)
	}
	golden(t, "schema.golden", b.String())
	got := b.String()
	for _, want := range []string{
		"required int64 field_id=-1 start_timestamp (Timestamp(isAdjustedToUTC=true, timeUnit=microseconds",
		"required int64 field_id=-1 timestamp (Timestamp(isAdjustedToUTC=false, timeUnit=microseconds",
		"required byte_array field_id=-1 src_address (String)",
		"optional int32 field_id=-1 icmp_type",
		"required int64 field_id=-1 fwd_pkts",
		"required int32 field_id=-1 fwd_syn_count",
		"required boolean field_id=-1 direction_flipped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("schema lacks %q", want)
		}
	}
}

func readTable(t *testing.T, data []byte) arrow.Table {
	t.Helper()
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), pq.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// column returns the values of column name as strings (NULL as "<null>").
func column(t *testing.T, tbl arrow.Table, name string) []string {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %s", name)
	}
	var out []string
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		for i := range chunk.Len() {
			if chunk.IsNull(i) {
				out = append(out, "<null>")
				continue
			}
			switch a := chunk.(type) {
			case *array.Timestamp:
				out = append(out, strconv64(int64(a.Value(i))))
			default:
				out = append(out, a.ValueStr(i))
			}
		}
	}
	return out
}

func strconv64(v int64) string { return fmt.Sprint(v) }

func sampleFlow(src string, start time.Time) datalake.Flow {
	return datalake.Flow{
		StartTimestamp: start, EndTimestamp: start.Add(1500 * time.Microsecond), Timestamp: start.Truncate(time.Hour).Add(time.Hour),
		DurationUS: 1500, FlowID: "C" + src, SrcAddress: src, DstAddress: "10.0.0.9", IPVersion: 4,
		SrcPort: 40000, DstPort: 22, Proto: "TCP", IPProto: 6, FwdPkts: 1, FwdSynCount: 1, ConnState: "S0", History: "S",
	}
}

func TestWriteFlowsRoundTrip(t *testing.T) {
	start := time.Date(2026, 1, 2, 13, 4, 5, 123456789, time.UTC)
	typ, code, srtt, name := int32(8), int32(0), int64(250), "web"
	full := sampleFlow("10.1.1.1", start)
	full.ICMPType, full.ICMPCode, full.SRTTUS, full.SrcHostname = &typ, &code, &srtt, &name
	full.DirectionFlipped, full.SrcIsInternal = true, true
	flows := []datalake.Flow{full, sampleFlow("10.1.1.2", start.Add(time.Second))}
	var buf bytes.Buffer
	if err := WriteFlows(&buf, flows, Options{Compression: "zstd"}); err != nil {
		t.Fatal(err)
	}
	tbl := readTable(t, buf.Bytes())
	if tbl.NumRows() != 2 || tbl.NumCols() != int64(FlowSchema().NumFields()) {
		t.Fatalf("%d rows, %d columns", tbl.NumRows(), tbl.NumCols())
	}
	checks := map[string][]string{
		"start_timestamp":   {fmt.Sprint(start.UnixMicro()), fmt.Sprint(start.Add(time.Second).UnixMicro())},
		"src_address":       {"10.1.1.1", "10.1.1.2"},
		"icmp_type":         {"8", "<null>"},
		"srtt_us":           {"250", "<null>"},
		"src_hostname":      {"web", "<null>"},
		"direction_flipped": {"true", "false"},
		"fwd_syn_count":     {"1", "1"},
		"conn_state":        {"S0", "S0"},
	}
	for col, want := range checks {
		if got := column(t, tbl, col); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", col, got, want)
		}
	}
	if _, err := (Options{Compression: "lz5"}).withDefaults(""); !errors.Is(err, datalake.ErrBadArgument) {
		t.Errorf("bad compression: %v", err)
	}
}

func TestFlowWriter(t *testing.T) {
	lake, err := datalake.Open(datalake.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer lake.Close()
	w, err := NewFlowWriter(lake, Options{MaxRowsPerFile: 4, RowGroupRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	h12 := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	// Out of order, across two hours; 12:00 gets 5 flows (a file of 4 is
	// published as soon as the buffer fills, then one of 1 on Close).
	in := []datalake.Flow{
		sampleFlow("10.0.0.3", h12.Add(50*time.Minute)),
		sampleFlow("10.0.0.1", h12.Add(70*time.Minute)),
		sampleFlow("10.0.0.2", h12.Add(10*time.Minute)),
		sampleFlow("10.0.0.1", h12.Add(20*time.Minute)),
		sampleFlow("10.0.0.1", h12.Add(5*time.Minute)),
		sampleFlow("10.0.0.9", h12.Add(1*time.Minute)),
	}
	if err := w.Write(in...); err != nil {
		t.Fatal(err)
	}
	if n := len(w.Published()); n != 1 {
		t.Fatalf("%d files published before Close, want 1 (the full buffer)", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(in[0]); !errors.Is(err, datalake.ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	files := w.Published()
	if len(files) != 3 {
		t.Fatalf("published %v", files)
	}
	var order []string
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(lake.Root(), f))
		if err != nil {
			t.Fatal(err)
		}
		tbl := readTable(t, raw)
		src, start := column(t, tbl, "src_address"), column(t, tbl, "start_timestamp")
		for i := range src {
			order = append(order, strings.TrimPrefix(f, "/tetration/flows/")[:19]+" "+src[i]+" "+start[i])
		}
	}
	want := []string{
		// The first file: the four 12:00 flows buffered first, sorted.
		fmt.Sprintf("dt=2026-01-02/hr=12 10.0.0.1 %d", h12.Add(5*time.Minute).UnixMicro()),
		fmt.Sprintf("dt=2026-01-02/hr=12 10.0.0.1 %d", h12.Add(20*time.Minute).UnixMicro()),
		fmt.Sprintf("dt=2026-01-02/hr=12 10.0.0.2 %d", h12.Add(10*time.Minute).UnixMicro()),
		fmt.Sprintf("dt=2026-01-02/hr=12 10.0.0.3 %d", h12.Add(50*time.Minute).UnixMicro()),
		fmt.Sprintf("dt=2026-01-02/hr=12 10.0.0.9 %d", h12.Add(1*time.Minute).UnixMicro()),
		fmt.Sprintf("dt=2026-01-02/hr=13 10.0.0.1 %d", h12.Add(70*time.Minute).UnixMicro()),
	}
	if strings.Join(order, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows by file:\n%s\nwant\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
	if err := w.Flush(); err != nil {
		t.Errorf("Flush with nothing buffered: %v", err)
	}
	t.Run("a flow without a start time", func(t *testing.T) {
		w, _ := NewFlowWriter(lake, Options{})
		if err := w.Write(datalake.Flow{SrcAddress: "x"}); !errors.Is(err, datalake.ErrBadArgument) {
			t.Errorf("got %v", err)
		}
	})
}

func TestPacketWriter(t *testing.T) {
	lake, err := datalake.Open(datalake.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer lake.Close()
	w, err := NewPacketWriter(lake, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 13, 0, 0, 0, time.UTC)
	pkts := []datalake.Packet{
		{Timestamp: ts.Add(time.Second), SrcAddress: "10.0.0.2", DstAddress: "10.0.0.9", Proto: "TCP", IPProto: 6, Seq: 4294967295, TCPFlags: datalake.FlagSYN, PayloadHead: []byte("GET /")},
		{Timestamp: ts, SrcAddress: "10.0.0.1", DstAddress: "10.0.0.9", Proto: "UDP", IPProto: 17},
	}
	if err := w.Write(pkts...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := w.Published()
	if len(files) != 1 || !strings.HasPrefix(files[0], "/tetration/packets/dt=2026-01-02/hr=13/") {
		t.Fatalf("published %v", files)
	}
	raw, _ := os.ReadFile(filepath.Join(lake.Root(), files[0]))
	tbl := readTable(t, raw)
	if got := column(t, tbl, "src_address"); fmt.Sprint(got) != "[10.0.0.1 10.0.0.2]" {
		t.Errorf("src_address = %v", got)
	}
	if got := column(t, tbl, "seq"); fmt.Sprint(got) != "[0 4294967295]" {
		t.Errorf("seq = %v", got)
	}
	if got := column(t, tbl, "payload_head"); got[0] != "<null>" || got[1] == "<null>" {
		t.Errorf("payload_head = %v", got)
	}
}

// TestSortedOrder checks the order files are sorted in against a plain
// comparison of the strings, with strings that share their first 16
// bytes, differ only by trailing zero bytes, or are longer than 16 bytes.
func TestSortedOrder(t *testing.T) {
	srcs := []string{"10.0.0.2", "10.0.0.10", "2001:db8::1", "2001:db8::1:0:0:1", "2001:db8::1:0:0:2", "2001:db8::1:0:0", "a", "a\x00", "a\x00\x00", "", "10.0.0.2", "2001:db8:0:0:0:0:0:1", "10.0.0.1"}
	c := datalake.FlowLayout.New()
	for i, s := range srcs {
		f := sampleFlow(s, time.Unix(int64(100-i%3), 0).UTC())
		datalake.FlowLayout.Append(c, f)
	}
	got := sortedOrder(c, 6, 0)
	want := make([]int32, len(srcs))
	for i := range want {
		want[i] = int32(i)
	}
	slices.SortStableFunc(want, func(a, b int32) int {
		return cmp.Or(strings.Compare(srcs[a], srcs[b]), cmp.Compare(100-a%3, 100-b%3))
	})
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestStringEncodings writes string columns through each path of the
// encoder: a dictionary built by flowlab (runs, a few values, many values,
// NULLs), plain when a large chunk is mostly distinct, plain when its
// values come sorted and its first 1,024 are mostly distinct (though the
// chunk is not), and a dictionary for a chunk as distinct at its start
// but unsorted; every value must read back, and the encodings must be the
// expected ones.
func TestStringEncodings(t *testing.T) {
	const n = 3000
	start := time.Date(2026, 1, 2, 13, 0, 0, 0, time.UTC)
	var flows []datalake.Flow
	for i := range n {
		f := sampleFlow(fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256), start.Add(time.Duration(i)*time.Millisecond))
		f.History = fmt.Sprintf("S%d", i%40) // 40 values: past the scan, into the map
		f.ConnState = []string{"S0", "SF", "REJ"}[i%3]
		if i%7 != 0 {
			host := fmt.Sprintf("host-%d", i%11)
			f.SrcHostname = &host
		}
		// Distinct for the first 1,100 rows, then 10 values: a third of
		// the chunk is distinct. Sorted (service) it stops early;
		// descending (dst_hostname) it decides at the end.
		service, dst := fmt.Sprintf("svc-%05d", min(i, 1100+i%10)), fmt.Sprintf("dst-%05d", 5000-min(i, 1100+i%10))
		f.Service, f.DstHostname = &service, &dst
		flows = append(flows, f)
	}
	var buf bytes.Buffer
	if err := WriteFlows(&buf, flows, Options{}); err != nil {
		t.Fatal(err)
	}
	tbl := readTable(t, buf.Bytes())
	for _, c := range []struct {
		name string
		want func(f *datalake.Flow) string
	}{
		{"src_address", func(f *datalake.Flow) string { return f.SrcAddress }},
		{"history", func(f *datalake.Flow) string { return f.History }},
		{"conn_state", func(f *datalake.Flow) string { return f.ConnState }},
		{"src_hostname", func(f *datalake.Flow) string {
			if f.SrcHostname == nil {
				return "<null>"
			}
			return *f.SrcHostname
		}},
		{"service", func(f *datalake.Flow) string { return *f.Service }},
		{"dst_hostname", func(f *datalake.Flow) string { return *f.DstHostname }},
	} {
		got := column(t, tbl, c.name)
		for i := range flows {
			if want := c.want(&flows[i]); got[i] != want {
				t.Fatalf("%s row %d: %q, want %q", c.name, i, got[i], want)
			}
		}
	}
	r, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rg := r.MetaData().RowGroup(0)
	for name, dict := range map[string]bool{"src_address": false, "history": true, "conn_state": true, "src_hostname": true, "service": false, "dst_hostname": true} {
		cc, err := rg.ColumnChunk(rg.Schema.ColumnIndexByName(name))
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(cc.Encodings(), pq.Encodings.RLEDict); got != dict {
			t.Errorf("%s: dictionary %v, want %v (%v)", name, got, dict, cc.Encodings())
		}
	}
}
