package datalake

import (
	"encoding/xml"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestGraphGEXFGolden(t *testing.T) {
	h := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	hour := func(i int) []Spell {
		return []Spell{{Start: h.Add(time.Duration(i) * time.Hour), End: h.Add(time.Duration(i+1) * time.Hour)}}
	}
	g := NewGraph("who talks to whom & how much")
	for _, n := range []GraphNode{
		{ID: "10.0.0.1", Label: "web-01", Attrs: map[string]any{"kind": "internal"}, Spells: hour(0)},
		{ID: "198.51.100.23", Attrs: map[string]any{"kind": "external", "country": "ZZ"}, Spells: hour(1)},
		{ID: "10.0.0.1", Spells: hour(1)}, // merges: two touching hours become one spell
		{ID: "10.1.1.5", Attrs: map[string]any{"kind": "internal"}},
	} {
		if err := g.AddNode(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []GraphEdge{
		{Source: "198.51.100.23", Target: "10.0.0.1", Weight: 3, Attrs: map[string]any{"bytes": int64(1200)}, Spells: hour(1)},
		{Source: "10.1.1.5", Target: "10.0.0.1", Weight: 2, Attrs: map[string]any{"bytes": int64(500), "service": "https"}, Spells: hour(0)},
		{Source: "10.1.1.5", Target: "10.0.0.1", Weight: 1, Attrs: map[string]any{"bytes": 250.5, "service": "http"}, Spells: hour(2)},
	} {
		if err := g.AddEdge(e); err != nil {
			t.Fatal(err)
		}
	}
	if g.NumNodes() != 3 || g.NumEdges() != 2 {
		t.Fatalf("%d nodes, %d edges; want 3 and 2", g.NumNodes(), g.NumEdges())
	}
	var b strings.Builder
	if err := g.WriteGEXF(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "graph.gexf.golden", b.String())
	checkGEXF(t, b.String(), 3, 2)

	// Without spells the graph is static.
	s := NewGraph("")
	_ = s.AddNode(GraphNode{ID: "a"})
	_ = s.AddNode(GraphNode{ID: "b"})
	_ = s.AddEdge(GraphEdge{Source: "a", Target: "b", Weight: 1})
	b.Reset()
	if err := s.WriteGEXF(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "graph-static.gexf.golden", b.String())
	checkGEXF(t, b.String(), 2, 1)
}

// checkGEXF parses doc as GEXF 1.3 and counts its nodes and edges.
func checkGEXF(t *testing.T, doc string, nodes, edges int) {
	t.Helper()
	var g struct {
		XMLName xml.Name `xml:"http://gexf.net/1.3 gexf"`
		Version string   `xml:"version,attr"`
		Graph   struct {
			Nodes []struct {
				ID string `xml:"id,attr"`
			} `xml:"nodes>node"`
			Edges []struct {
				Source string `xml:"source,attr"`
			} `xml:"edges>edge"`
		} `xml:"graph"`
	}
	if err := xml.Unmarshal([]byte(doc), &g); err != nil {
		t.Fatalf("not GEXF 1.3: %v\n%s", err, doc)
	}
	if g.Version != "1.3" || len(g.Graph.Nodes) != nodes || len(g.Graph.Edges) != edges {
		t.Errorf("version %s, %d nodes, %d edges; want 1.3, %d, %d", g.Version, len(g.Graph.Nodes), len(g.Graph.Edges), nodes, edges)
	}
}

func TestGraphErrors(t *testing.T) {
	h := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	g := NewGraph("")
	_ = g.AddNode(GraphNode{ID: "a", Attrs: map[string]any{"m": math.MaxFloat64}})
	if err := g.AddEdge(GraphEdge{Source: "a", Target: "a", Weight: math.MaxFloat64, Attrs: map[string]any{"bytes": math.MaxFloat64}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"empty id", g.AddNode(GraphNode{}), "empty ID"},
		{"unknown target", g.AddEdge(GraphEdge{Source: "a", Target: "b"}), `"b" is not a node`},
		{"unknown source", g.AddEdge(GraphEdge{Source: "x", Target: "a"}), `"x" is not a node`},
		{"NaN weight", g.AddEdge(GraphEdge{Source: "a", Target: "a", Weight: nan()}), "not a finite number"},
		{"+Inf weight", g.AddEdge(GraphEdge{Source: "a", Target: "a", Weight: math.Inf(1)}), "not a finite number"},
		{"weight sum overflows", g.AddEdge(GraphEdge{Source: "a", Target: "a", Weight: math.MaxFloat64}), "beyond the largest number"},
		{"NaN node attribute", g.AddNode(GraphNode{ID: "d", Attrs: map[string]any{"score": nan()}}), `attribute "score" is NaN`},
		{"-Inf float32 edge attribute", g.AddEdge(GraphEdge{Source: "a", Target: "a", Attrs: map[string]any{"r": float32(math.Inf(-1))}}), `attribute "r" is -Inf`},
		{"edge attribute sum overflows", g.AddEdge(GraphEdge{Source: "a", Target: "a", Attrs: map[string]any{"bytes": math.MaxFloat64}}), `attribute "bytes"`},
		{"node attribute sum overflows", g.AddNode(GraphNode{ID: "a", Attrs: map[string]any{"m": math.MaxFloat64}}), `attribute "m": `},
		{"spell without start", g.AddNode(GraphNode{ID: "c", Spells: []Spell{{End: h}}}), "no start"},
		{"spell backwards", g.AddNode(GraphNode{ID: "c", Spells: []Spell{{Start: h, End: h.Add(-time.Hour)}}}), "ends"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, ErrBadArgument) || !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("error %v, want ErrBadArgument with %q", tt.err, tt.want)
			}
		})
	}
	// The refused adds changed nothing, so the graph writes only finite
	// numbers.
	if g.NumNodes() != 1 || g.NumEdges() != 1 {
		t.Errorf("%d nodes and %d edges after refused adds, want 1 and 1", g.NumNodes(), g.NumEdges())
	}
	var b strings.Builder
	if err := g.WriteGEXF(&b); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "Inf") || strings.Contains(out, "NaN") || !strings.Contains(out, `weight="1.7976931348623157e+308"`) {
		t.Errorf("GEXF after refused adds:\n%s", out)
	}
}

func nan() float64 { var z float64; return z / z }

func TestNormalizeSpells(t *testing.T) {
	h := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return h.Add(time.Duration(i) * time.Hour) }
	tests := []struct {
		name string
		in   []Spell
		want []Spell
	}{
		{"touching join", []Spell{{at(1), at(2)}, {at(0), at(1)}}, []Spell{{at(0), at(2)}}},
		{"gap kept", []Spell{{at(0), at(1)}, {at(3), at(4)}}, []Spell{{at(0), at(1)}, {at(3), at(4)}}},
		{"open end swallows", []Spell{{at(0), time.Time{}}, {at(3), at(4)}}, []Spell{{at(0), time.Time{}}}},
		{"nested", []Spell{{at(0), at(5)}, {at(1), at(2)}}, []Spell{{at(0), at(5)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := normalizeSpells(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if !got[i].Start.Equal(tt.want[i].Start) || !got[i].End.Equal(tt.want[i].End) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}
