package yaegi

import (
	"go/ast"
	"go/printer"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// declInfo records one name a cell declared, for redefinitions, completion
// and inspection.
type declInfo struct {
	name string
	kind itemKind // itemStmt for variables defined by :=
	recv string   // receiver base type, for methods
	seq  int      // the cell that declared it
	// text is the source of the whole item, and anchor the line directive
	// that positions it in its cell, so that the declaration can be parsed
	// again (methods carried over to a redefined type).
	text, anchor string
	doc          string // doc comment
	decl         string // the declaration as Inspect shows it
	isInt        bool   // a variable or constant known to be an integer
}

// cellState is what the executor knows of the names cells declared. It is
// reset with the interpreter.
type cellState struct {
	names    map[string]*declInfo            // package-level names
	methods  map[string]map[string]*declInfo // receiver type → method → decl
	imports  map[string]string               // package name in cells → import path
	dots     []string                        // dot-imported paths
	renames  map[string]string               // user name → internal name
	versions map[string]int
	reverse  *strings.Replacer // internal names → user names
}

func newCellState() *cellState {
	return &cellState{
		names:    map[string]*declInfo{},
		methods:  map[string]map[string]*declInfo{},
		imports:  map[string]string{},
		renames:  map[string]string{},
		versions: map[string]int{},
	}
}

// setRename binds a user-visible name to an internal one.
func (st *cellState) setRename(name, internal string) {
	st.renames[name] = internal
	var pairs []string
	all := make([]string, 0, len(st.versions))
	for n := range st.versions {
		all = append(all, n)
	}
	sort.Strings(all)
	type pair struct{ from, to string }
	var ps []pair
	for _, n := range all {
		for v := st.versions[n]; v > 0; v-- {
			ps = append(ps, pair{versionedName(n, v), n})
		}
	}
	// Longest first, so that T__v12 is not read as T__v1 followed by 2.
	sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].from) > len(ps[j].from) })
	for _, p := range ps {
		pairs = append(pairs, p.from, p.to)
	}
	st.reverse = strings.NewReplacer(pairs...)
}

// internal returns the interpreter's name for a user-visible name.
func (st *cellState) internal(name string) string {
	if to, ok := st.renames[name]; ok {
		return to
	}
	return name
}

func versionedName(name string, v int) string {
	return name + "__v" + strconv.Itoa(v)
}

// nodeString prints n as Go source.
func nodeString(fset *token.FileSet, n any) string {
	var b strings.Builder
	_ = (&printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}).Fprint(&b, fset, n)
	return b.String()
}

// declSummary returns the declaration of a func without its body, or the
// whole declaration of anything else, as Inspect shows it.
func declSummary(fset *token.FileSet, n ast.Node) string {
	switch d := n.(type) {
	case *ast.FuncDecl:
		c := *d
		c.Body = nil
		c.Doc = nil
		return nodeString(fset, &c)
	case *ast.GenDecl:
		c := *d
		c.Doc = nil
		return nodeString(fset, &c)
	}
	return nodeString(fset, n)
}
