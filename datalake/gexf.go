package datalake

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// GEXF 1.3 identifiers (https://gexf.net/schema.html).
const (
	gexfNamespace = "http://gexf.net/1.3"
	gexfSchema    = "http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd"
	gexfTime      = "2006-01-02T15:04:05Z" // xsd:dateTime, UTC
)

// Spell is one interval in which a node or an edge exists, for the timeline
// of a dynamic graph. End is exclusive; a zero End means "until the end".
type Spell struct {
	Start, End time.Time
}

// GraphNode is one node of a Graph. Attrs holds extra values shown as node
// attributes in Gephi (string, bool, integer and floating-point values;
// anything else is written as its text).
type GraphNode struct {
	ID     string
	Label  string
	Attrs  map[string]any
	Spells []Spell
}

// GraphEdge is one directed edge of a Graph, weighted.
type GraphEdge struct {
	Source, Target string
	Weight         float64
	Attrs          map[string]any
	Spells         []Spell
}

// Graph is a directed, weighted graph with optional time intervals, built
// for export to Gephi as GEXF 1.3 (WriteGEXF). When any node or edge has a
// spell the graph is written in dynamic mode, and Gephi's timeline plays the
// network hour by hour.
//
// Adding a node or an edge that already exists merges it: the spells are
// appended, the weight and numeric attributes are added, other attributes
// keep their first value. So one row per (source, target, hour) adds up to
// one edge whose spells are the hours it was active. A Graph is not safe for
// concurrent use.
type Graph struct {
	// Name is written as the graph's description.
	Name  string
	nodes []*GraphNode
	edges []*GraphEdge
	node  map[string]int
	edge  map[[2]string]int
}

// NewGraph returns an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{Name: name, node: map[string]int{}, edge: map[[2]string]int{}}
}

// NumNodes returns the number of distinct nodes.
func (g *Graph) NumNodes() int { return len(g.nodes) }

// NumEdges returns the number of distinct (source, target) edges.
func (g *Graph) NumEdges() int { return len(g.edges) }

// AddNode adds n, or merges it into the node with the same ID. An empty ID,
// or a floating-point attribute that is NaN or infinite (GEXF readers such
// as Gephi and networkx refuse them) or would become infinite when added
// to the existing node's, is an error wrapping ErrBadArgument.
func (g *Graph) AddNode(n GraphNode) error {
	if n.ID == "" {
		return wrapf(ErrBadArgument, "AddNode: the node has an empty ID")
	}
	if err := checkSpells(n.Spells); err != nil {
		return fmt.Errorf("AddNode %s: %w", n.ID, err)
	}
	var old *GraphNode
	if i, ok := g.node[n.ID]; ok {
		old = g.nodes[i]
	}
	var oldAttrs map[string]any
	if old != nil {
		oldAttrs = old.Attrs
	}
	if err := checkAttrs(oldAttrs, n.Attrs); err != nil {
		return fmt.Errorf("AddNode %s: %w", n.ID, err)
	}
	if old != nil {
		if old.Label == "" {
			old.Label = n.Label
		}
		old.Attrs = mergeAttrs(old.Attrs, n.Attrs)
		old.Spells = append(old.Spells, n.Spells...)
		return nil
	}
	c := n
	c.Attrs = mergeAttrs(nil, n.Attrs)
	c.Spells = append([]Spell(nil), n.Spells...)
	g.node[n.ID] = len(g.nodes)
	g.nodes = append(g.nodes, &c)
	return nil
}

// AddEdge adds e, or merges it into the edge with the same source and
// target. Both ends must already be nodes: an edge to an unknown node is an
// error wrapping ErrBadArgument that names it, so a mistake in the node
// list is not silently papered over. A weight or floating-point attribute
// that is NaN or infinite, or would become infinite when added to the
// existing edge's, is an error wrapping ErrBadArgument too: GEXF readers
// (Gephi, networkx) refuse them.
func (g *Graph) AddEdge(e GraphEdge) error {
	for _, end := range []string{e.Source, e.Target} {
		if _, ok := g.node[end]; !ok {
			return wrapf(ErrBadArgument, "AddEdge %s -> %s: %q is not a node of the graph: add it with AddNode (or to the nodes frame) first", e.Source, e.Target, end)
		}
	}
	if math.IsNaN(e.Weight) || math.IsInf(e.Weight, 0) {
		return wrapf(ErrBadArgument, "AddEdge %s -> %s: weight %v is not a finite number", e.Source, e.Target, e.Weight)
	}
	if err := checkSpells(e.Spells); err != nil {
		return fmt.Errorf("AddEdge %s -> %s: %w", e.Source, e.Target, err)
	}
	key := [2]string{e.Source, e.Target}
	var old *GraphEdge
	var oldAttrs map[string]any
	if i, ok := g.edge[key]; ok {
		old = g.edges[i]
		oldAttrs = old.Attrs
		if w := old.Weight + e.Weight; math.IsInf(w, 0) {
			return wrapf(ErrBadArgument, "AddEdge %s -> %s: weight %v added to the edge's %v is beyond the largest number", e.Source, e.Target, e.Weight, old.Weight)
		}
	}
	if err := checkAttrs(oldAttrs, e.Attrs); err != nil {
		return fmt.Errorf("AddEdge %s -> %s: %w", e.Source, e.Target, err)
	}
	if old != nil {
		old.Weight += e.Weight
		old.Attrs = mergeAttrs(old.Attrs, e.Attrs)
		old.Spells = append(old.Spells, e.Spells...)
		return nil
	}
	c := e
	c.Attrs = mergeAttrs(nil, e.Attrs)
	c.Spells = append([]Spell(nil), e.Spells...)
	g.edge[key] = len(g.edges)
	g.edges = append(g.edges, &c)
	return nil
}

func checkSpells(spells []Spell) error {
	for _, s := range spells {
		if s.Start.IsZero() {
			return wrapf(ErrBadArgument, "a spell has no start time")
		}
		if !s.End.IsZero() && s.End.Before(s.Start) {
			return wrapf(ErrBadArgument, "a spell ends (%s) before it starts (%s)", s.End.UTC().Format(gexfTime), s.Start.UTC().Format(gexfTime))
		}
	}
	return nil
}

// checkAttrs refuses floating-point attributes in src that are NaN or
// infinite, or that mergeAttrs would make infinite when adding them to
// dst's; GEXF has no way to write them that readers accept.
func checkAttrs(dst, src map[string]any) error {
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := src[k]
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		default:
			continue
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return wrapf(ErrBadArgument, "attribute %q is %v: GEXF readers accept only finite numbers (drop or replace the value, e.g. with coalesce or a filter, first)", k, f)
		}
		if a, ok := number(dst[k]); ok && math.IsInf(a+f, 0) {
			return wrapf(ErrBadArgument, "attribute %q: %v added to %v is beyond the largest number", k, f, a)
		}
	}
	return nil
}

// mergeAttrs adds numbers and keeps the first value of anything else.
func mergeAttrs(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = make(map[string]any, len(src))
	}
	for k, v := range src {
		old, ok := dst[k]
		if !ok || old == nil {
			dst[k] = v
			continue
		}
		if a, ok := number(old); ok {
			if b, ok := number(v); ok {
				if isInteger(old) && isInteger(v) {
					dst[k] = int64(a) + int64(b)
				} else {
					dst[k] = a + b
				}
			}
		}
	}
	return dst
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func isInteger(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		return true
	}
	return false
}

// gexfType is the GEXF attribute type of a Go value.
func gexfType(v any) string {
	switch {
	case isInteger(v):
		return "long"
	case v == nil:
		return "string"
	}
	switch v.(type) {
	case float32, float64:
		return "double"
	case bool:
		return "boolean"
	}
	return "string"
}

func gexfValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(gexfTime)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// attrDecl is one declared attribute column: id (its index) and type.
type attrDecl struct {
	title, typ string
}

// declare collects the attribute titles of items, sorted, with the type of
// the first non-nil value (a column that mixes types is written as string).
func declare(attrs []map[string]any) []attrDecl {
	types := map[string]string{}
	for _, a := range attrs {
		for k, v := range a {
			if v == nil {
				if _, ok := types[k]; !ok {
					types[k] = ""
				}
				continue
			}
			t := gexfType(v)
			switch old := types[k]; {
			case old == "":
				types[k] = t
			case old != t && (old == "long" && t == "double" || old == "double" && t == "long"):
				types[k] = "double"
			case old != t:
				types[k] = "string"
			}
		}
	}
	out := make([]attrDecl, 0, len(types))
	for k, t := range types {
		if t == "" {
			t = "string"
		}
		out = append(out, attrDecl{k, t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].title < out[j].title })
	return out
}

// WriteGEXF writes the graph as a GEXF 1.3 document: directed edges, a
// weight on each, node and edge attributes declared with their types, and,
// when any item has a spell, mode="dynamic" with timeformat="dateTime" and
// a <spells> list per item (single-spell items carry start and end
// attributes instead). Nodes and edges keep the order they were added, so
// the output is deterministic. Errors are the writer's.
func (g *Graph) WriteGEXF(w io.Writer) error {
	bw := bufio.NewWriter(w)
	dynamic := false
	var first, last time.Time
	note := func(spells []Spell) {
		for _, s := range spells {
			dynamic = true
			if first.IsZero() || s.Start.Before(first) {
				first = s.Start
			}
			for _, t := range []time.Time{s.Start, s.End} {
				if !t.IsZero() && t.After(last) {
					last = t
				}
			}
		}
	}
	nodeAttrs := make([]map[string]any, len(g.nodes))
	for i, n := range g.nodes {
		note(n.Spells)
		nodeAttrs[i] = n.Attrs
	}
	edgeAttrs := make([]map[string]any, len(g.edges))
	for i, e := range g.edges {
		note(e.Spells)
		edgeAttrs[i] = e.Attrs
	}
	bw.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(bw, `<gexf xmlns="%s" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="%s" version="1.3">`+"\n", gexfNamespace, gexfSchema)
	bw.WriteString("  <meta>\n    <creator>flowlab</creator>\n")
	if g.Name != "" {
		fmt.Fprintf(bw, "    <description>%s</description>\n", xmlText(g.Name))
	}
	bw.WriteString("  </meta>\n")
	if dynamic {
		fmt.Fprintf(bw, `  <graph mode="dynamic" defaultedgetype="directed" timeformat="dateTime" timerepresentation="interval" start="%s"`, first.UTC().Format(gexfTime))
		if !last.IsZero() {
			fmt.Fprintf(bw, ` end="%s"`, last.UTC().Format(gexfTime))
		}
		bw.WriteString(">\n")
	} else {
		bw.WriteString(`  <graph mode="static" defaultedgetype="directed">` + "\n")
	}
	nodeDecl, edgeDecl := declare(nodeAttrs), declare(edgeAttrs)
	writeDecls(bw, "node", nodeDecl)
	writeDecls(bw, "edge", edgeDecl)
	fmt.Fprintf(bw, "    <nodes count=\"%d\">\n", len(g.nodes))
	for _, n := range g.nodes {
		label := n.Label
		if label == "" {
			label = n.ID
		}
		fmt.Fprintf(bw, `      <node id="%s" label="%s"`, xmlAttr(n.ID), xmlAttr(label))
		writeItemBody(bw, n.Spells, n.Attrs, nodeDecl, "node")
	}
	bw.WriteString("    </nodes>\n")
	fmt.Fprintf(bw, "    <edges count=\"%d\">\n", len(g.edges))
	for i, e := range g.edges {
		fmt.Fprintf(bw, `      <edge id="%d" source="%s" target="%s" weight="%s"`, i, xmlAttr(e.Source), xmlAttr(e.Target), strconv.FormatFloat(e.Weight, 'g', -1, 64))
		writeItemBody(bw, e.Spells, e.Attrs, edgeDecl, "edge")
	}
	bw.WriteString("    </edges>\n  </graph>\n</gexf>\n")
	return bw.Flush()
}

func writeDecls(bw *bufio.Writer, class string, decls []attrDecl) {
	if len(decls) == 0 {
		return
	}
	fmt.Fprintf(bw, "    <attributes class=\"%s\" mode=\"static\">\n", class)
	for i, d := range decls {
		fmt.Fprintf(bw, "      <attribute id=\"%d\" title=\"%s\" type=\"%s\"/>\n", i, xmlAttr(d.title), d.typ)
	}
	bw.WriteString("    </attributes>\n")
}

// writeItemBody finishes a <node or <edge element: start/end attributes for
// one spell, else a <spells> list, then the attribute values.
func writeItemBody(bw *bufio.Writer, spells []Spell, attrs map[string]any, decls []attrDecl, tag string) {
	spells = normalizeSpells(spells)
	if len(spells) == 1 {
		fmt.Fprintf(bw, ` start="%s"`, spells[0].Start.UTC().Format(gexfTime))
		if !spells[0].End.IsZero() {
			fmt.Fprintf(bw, ` end="%s"`, spells[0].End.UTC().Format(gexfTime))
		}
	}
	var values []string
	for i, d := range decls {
		if v, ok := attrs[d.title]; ok && v != nil {
			values = append(values, fmt.Sprintf(`<attvalue for="%d" value="%s"/>`, i, xmlAttr(gexfValue(v))))
		}
	}
	if len(spells) <= 1 && len(values) == 0 {
		bw.WriteString("/>\n")
		return
	}
	bw.WriteString(">\n")
	if len(values) > 0 {
		bw.WriteString("        <attvalues>")
		bw.WriteString(strings.Join(values, ""))
		bw.WriteString("</attvalues>\n")
	}
	if len(spells) > 1 {
		bw.WriteString("        <spells>")
		for _, s := range spells {
			fmt.Fprintf(bw, `<spell start="%s"`, s.Start.UTC().Format(gexfTime))
			if !s.End.IsZero() {
				fmt.Fprintf(bw, ` end="%s"`, s.End.UTC().Format(gexfTime))
			}
			bw.WriteString("/>")
		}
		bw.WriteString("</spells>\n")
	}
	fmt.Fprintf(bw, "      </%s>\n", tag)
}

// normalizeSpells sorts spells by start and joins overlapping or touching
// ones (hour after hour becomes one interval), as GEXF wants spells that do
// not overlap.
func normalizeSpells(spells []Spell) []Spell {
	if len(spells) < 2 {
		return spells
	}
	s := append([]Spell(nil), spells...)
	sort.Slice(s, func(i, j int) bool { return s[i].Start.Before(s[j].Start) })
	out := []Spell{s[0]}
	for _, sp := range s[1:] {
		cur := &out[len(out)-1]
		switch {
		case cur.End.IsZero():
			// open-ended: covers everything after it
		case !sp.Start.After(cur.End):
			if sp.End.IsZero() || sp.End.After(cur.End) {
				cur.End = sp.End
			}
		default:
			out = append(out, sp)
		}
	}
	return out
}

func xmlAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func xmlText(s string) string { return xmlAttr(s) }

// GraphFromFrames builds a Graph from a frame of nodes and a frame of edges,
// as cells compute them with SQL:
//
//   - nodes needs a column id; label, start and end are optional; every
//     other column becomes a node attribute (kind, bytes, ...);
//   - edges needs source and target; weight, start and end are optional
//     (weight defaults to 1 per row); every other column becomes an edge
//     attribute.
//
// start and end are timestamps: a row with a start gets that interval as a
// spell, so one row per (source, target, hour) gives an edge that exists in
// the hours it was active. Rows repeating an id or a (source, target) merge
// as AddNode and AddEdge describe. Both frames are run (Rows), so each is
// limited to Options.MaxCollectRows rows. Errors wrap ErrBadArgument (a
// missing column, an edge to an unknown node), the frames' errors or
// ErrTooManyRows.
func GraphFromFrames(name string, nodes, edges *Frame) (*Graph, error) {
	g := NewGraph(name)
	ncols, nrows, err := nodes.rows(nil, ".GraphFromFrames(nodes)")
	if err != nil {
		return nil, fmt.Errorf("GraphFromFrames: nodes: %w", err)
	}
	ecols, erows, err := edges.rows(nil, ".GraphFromFrames(edges)")
	if err != nil {
		return nil, fmt.Errorf("GraphFromFrames: edges: %w", err)
	}
	nidx, err := columnIndex("nodes", ncols, []string{"id"})
	if err != nil {
		return nil, err
	}
	eidx, err := columnIndex("edges", ecols, []string{"source", "target"})
	if err != nil {
		return nil, err
	}
	for r, row := range nrows {
		n := GraphNode{ID: cellString(row[nidx["id"]]), Attrs: map[string]any{}}
		if i, ok := nidx["label"]; ok {
			n.Label = cellString(row[i])
		}
		sp, err := rowSpell(nidx, row)
		if err != nil {
			return nil, fmt.Errorf("GraphFromFrames: nodes row %d: %w", r+1, err)
		}
		n.Spells = sp
		for i, c := range ncols {
			if !graphColumn(c.Name, "id", "label") {
				n.Attrs[c.Name] = attrValue(row[i])
			}
		}
		if err := g.AddNode(n); err != nil {
			return nil, fmt.Errorf("GraphFromFrames: nodes row %d: %w", r+1, err)
		}
	}
	for r, row := range erows {
		e := GraphEdge{Source: cellString(row[eidx["source"]]), Target: cellString(row[eidx["target"]]), Weight: 1, Attrs: map[string]any{}}
		if i, ok := eidx["weight"]; ok {
			w, ok := number(attrValue(row[i]))
			if !ok {
				return nil, wrapf(ErrBadArgument, "GraphFromFrames: edges row %d: weight %v is not a number", r+1, row[i])
			}
			e.Weight = w
		}
		sp, err := rowSpell(eidx, row)
		if err != nil {
			return nil, fmt.Errorf("GraphFromFrames: edges row %d: %w", r+1, err)
		}
		e.Spells = sp
		for i, c := range ecols {
			if !graphColumn(c.Name, "source", "target", "weight") {
				e.Attrs[c.Name] = attrValue(row[i])
			}
		}
		if err := g.AddEdge(e); err != nil {
			return nil, fmt.Errorf("GraphFromFrames: edges row %d: %w", r+1, err)
		}
	}
	return g, nil
}

// graphColumn reports whether a column is structural (not an attribute).
func graphColumn(name string, structural ...string) bool {
	if name == "start" || name == "end" {
		return true
	}
	for _, s := range structural {
		if name == s {
			return true
		}
	}
	return false
}

func columnIndex(which string, cols []Column, required []string) (map[string]int, error) {
	idx := make(map[string]int, len(cols))
	var names []string
	for i, c := range cols {
		idx[c.Name] = i
		names = append(names, c.Name)
	}
	for _, r := range required {
		if _, ok := idx[r]; !ok {
			return nil, wrapf(ErrBadArgument, "GraphFromFrames: the %s frame has no column %q (it has %s): name it with AS %s in the SELECT", which, r, strings.Join(names, ", "), r)
		}
	}
	return idx, nil
}

func rowSpell(idx map[string]int, row []any) ([]Spell, error) {
	i, ok := idx["start"]
	if !ok || row[i] == nil {
		return nil, nil
	}
	start, ok := row[i].(time.Time)
	if !ok {
		return nil, wrapf(ErrBadArgument, "start %v is a %T, not a timestamp: select a TIMESTAMP column (date_trunc('hour', start_timestamp) AS start)", row[i], row[i])
	}
	sp := Spell{Start: start}
	if j, ok := idx["end"]; ok && row[j] != nil {
		end, ok := row[j].(time.Time)
		if !ok {
			return nil, wrapf(ErrBadArgument, "end %v is a %T, not a timestamp", row[j], row[j])
		}
		sp.End = end
	}
	return []Spell{sp}, nil
}

func cellString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// attrValue turns an engine value into one an attribute can hold: big
// integers (HUGEINT sums) become int64 or float64, timestamps text.
func attrValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(gexfTime)
	case []byte:
		return string(x)
	case fmt.Stringer:
		if f, err := strconv.ParseFloat(x.String(), 64); err == nil {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return int64(f)
			}
			return f
		}
		return x.String()
	}
	return v
}
