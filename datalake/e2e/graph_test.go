package e2e

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/demo"
)

// TestGraphFromDemoFlows builds Lab 7's graph from the demo lake with
// DuckDB and checks the GEXF against counts the engine gives directly.
func TestGraphFromDemoFlows(t *testing.T) {
	root, _ := generate(t, 2, 1000)
	l := openLake(t, root)
	if err := l.IO().Read(datalake.FlowsPath, "PARQUET", "ALL").RegisterTempTable("flows"); err != nil {
		t.Fatal(err)
	}
	edges := l.SQL(`SELECT src_address AS source, dst_address AS target,
		date_trunc('hour', start_timestamp) AS start, date_trunc('hour', start_timestamp) + INTERVAL 1 HOUR AS "end",
		count(*) AS weight, sum(fwd_bytes + rev_bytes) AS bytes FROM flows GROUP BY ALL`)
	nodes := l.SQL(`SELECT src_address AS id, 'x' AS kind FROM flows UNION SELECT dst_address, 'x' FROM flows`)
	g, err := datalake.GraphFromFrames("demo", nodes, edges)
	if err != nil {
		t.Fatal(err)
	}
	want, err := l.SQL(`SELECT (SELECT count(*) FROM (SELECT src_address FROM flows UNION SELECT dst_address FROM flows)),
		(SELECT count(*) FROM (SELECT DISTINCT src_address, dst_address FROM flows)), (SELECT sum(fwd_bytes + rev_bytes) FROM flows)`).Rows()
	if err != nil {
		t.Fatal(err)
	}
	if g.NumNodes() != int(want[0][0].(int64)) || g.NumEdges() != int(want[0][1].(int64)) {
		t.Fatalf("graph has %d nodes, %d edges; the flows %v", g.NumNodes(), g.NumEdges(), want[0])
	}
	var b strings.Builder
	if err := g.WriteGEXF(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Graph struct {
			Mode  string `xml:"mode,attr"`
			Edges []struct {
				Start  string `xml:"start,attr"`
				Spells []struct {
					Start string `xml:"start,attr"`
				} `xml:"spells>spell"`
			} `xml:"edges>edge"`
		} `xml:"graph"`
	}
	if err := xml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Graph.Mode != "dynamic" || len(doc.Graph.Edges) != g.NumEdges() {
		t.Fatalf("mode %q, %d edges", doc.Graph.Mode, len(doc.Graph.Edges))
	}
	for i, e := range doc.Graph.Edges {
		if e.Start == "" && len(e.Spells) == 0 {
			t.Fatalf("edge %d has no time", i)
		}
	}

	// A missing column is a clear error.
	_, err = datalake.GraphFromFrames("", l.SQL(`SELECT 'a' AS name`), edges)
	if !errors.Is(err, datalake.ErrBadArgument) || !strings.Contains(err.Error(), `no column "id"`) {
		t.Errorf("nodes without id: %v", err)
	}
	// An edge to a node that is not listed is refused.
	_, err = datalake.GraphFromFrames("", l.SQL(`SELECT '10.9.9.9' AS id`), edges)
	if !errors.Is(err, datalake.ErrBadArgument) || !strings.Contains(err.Error(), "is not a node") {
		t.Errorf("edges to unknown nodes: %v", err)
	}
}

// TestRangesJoinInSQL reads the demo lake's enrichment tables from the lake
// and joins them with flows in DuckDB.
func TestRangesJoinInSQL(t *testing.T) {
	root, gt := generate(t, 1, 1000)
	l := openLake(t, root)
	nets, err := l.IO().ReadRanges(demo.ContextPath + "/networks.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := nets.Frame().RegisterTempTable("nets"); err != nil {
		t.Fatal(err)
	}
	if err := l.IO().Read(datalake.FlowsPath, "PARQUET", "LASTHOUR").RegisterTempTable("flows"); err != nil {
		t.Fatal(err)
	}
	// Every scanner gets exactly the name Lookup gives it.
	for _, s := range gt.Scans {
		rows, err := l.SQL(`SELECT DISTINCT n.name FROM flows f JOIN nets n ON `+datalake.IPNumber("f.src_address")+
			` BETWEEN n.first_ip AND n.last_ip WHERE f.src_address = ?`, s.Scanner).Strings("name")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0] != nets.Get(s.Scanner, "name") || rows[0] == "" {
			t.Errorf("%s: SQL names %v, Lookup %q", s.Scanner, rows, nets.Get(s.Scanner, "name"))
		}
	}
	// IPNumber is NULL for what is not an IPv4 address, so it joins with nothing.
	n, err := l.SQL(`SELECT count(*) AS n FROM nets WHERE ` + datalake.IPNumber("'2001:db8::1'") + ` BETWEEN first_ip AND last_ip OR ` +
		datalake.IPNumber("'10.1.2'") + ` BETWEEN first_ip AND last_ip`).Int64s("n")
	if err != nil || n[0] != 0 {
		t.Errorf("non-IPv4 addresses matched: %v %v", n, err)
	}

	// Files that are not there, folders and escapes are refused clearly.
	for _, tt := range []struct {
		path string
		want error
	}{
		{"/appdata/context/nope.csv", datalake.ErrUnknownPath},
		{"/appdata/context", datalake.ErrPathRefused},
		{"/appdata/../etc/passwd", datalake.ErrPathRefused},
	} {
		if _, err := l.IO().ReadRanges(tt.path); !errors.Is(err, tt.want) {
			t.Errorf("ReadRanges(%s): %v, want %v", tt.path, err, tt.want)
		}
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(root, "appdata", "context", "link.csv")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.IO().ReadRanges("/appdata/context/link.csv"); !errors.Is(err, datalake.ErrPathRefused) {
		t.Errorf("a link out of the lake: %v", err)
	}
}
