package yaegi

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// physName is the file name every chunk is parsed under. yaegi scopes
// imports by the base name of a node's (line-directive adjusted) file name,
// so all cells must share it for an import to stay visible in later cells;
// the cell's sequence number travels in the directory part ("12/cell").
const physName = "cell"

// cellFile returns the file name used in positions of the seq-th cell.
func cellFile(seq int) string { return strconv.Itoa(seq) + "/" + physName }

// cellSeq extracts the sequence number from a position's file name; ok is
// false for positions outside any cell.
func cellSeq(file string) (int, bool) {
	dir, base, found := strings.Cut(file, "/")
	if !found || base != physName {
		return 0, false
	}
	n, err := strconv.Atoi(dir)
	return n, err == nil
}

// source is one cell's text with the means to turn offsets into cell
// line:column positions.
type source struct {
	seq   int
	text  string
	file  string
	lines []int // offsets of line starts
}

func newSource(seq int, text string) *source {
	s := &source{seq: seq, text: text, file: cellFile(seq), lines: []int{0}}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	return s
}

// lineCol returns the 1-based line and byte column of offset off.
func (s *source) lineCol(off int) (int, int) {
	i := sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off }) - 1
	return i + 1, off - s.lines[i] + 1
}

// anchor is a line directive that gives the text after it the position of
// offset off in the cell.
func (s *source) anchor(off int) string {
	l, c := s.lineCol(off)
	return fmt.Sprintf("/*line %s:%d:%d*/", s.file, l, c)
}

// parsedItem is an item parsed on its own, with what it declares and uses.
type parsedItem struct {
	item
	text  string    // src[lead:end]
	file  *ast.File // imports and declarations
	stmts []ast.Stmt
	body  *ast.BlockStmt // statements: the wrapper function's body
	defs  []string       // package-level names it declares (methods: "T.M")
	refs  map[string]bool
}

// parseItems parses every item of the cell. Syntax errors of all items are
// returned together, positioned in the cell.
func parseItems(fset *token.FileSet, src *source, sp cellSplit) ([]*parsedItem, []string) {
	var items []*parsedItem
	var errs []string
	for _, it := range sp.items {
		pi, e := parseItem(fset, src, it)
		if len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		items = append(items, pi)
	}
	return items, errs
}

// parseItem parses one item: a statement as the body of a function, an
// import or a declaration as a file. A line directive positions the text in
// the cell.
func parseItem(fset *token.FileSet, src *source, it item) (*parsedItem, []string) {
	pi := &parsedItem{item: it, text: src.text[it.lead:it.end]}
	var code string
	if it.kind == itemStmt {
		code = "package main; func main() {" + src.anchor(it.lead) + pi.text + "\n}"
	} else {
		code = "package main;" + src.anchor(it.lead) + pi.text + "\n"
	}
	f, err := parser.ParseFile(fset, physName, code, parser.ParseComments)
	if err != nil {
		return nil, positionedErrors(err, src)
	}
	if it.kind == itemStmt {
		fd, ok := f.Decls[len(f.Decls)-1].(*ast.FuncDecl)
		if !ok || len(f.Decls) != 1 {
			l, c := src.lineCol(it.start)
			return nil, []string{fmt.Sprintf("%d:%d: expected a statement", l, c)}
		}
		pi.body = fd.Body
		pi.stmts = fd.Body.List
	} else {
		pi.file = f
	}
	pi.defs, pi.refs = defsAndRefs(pi)
	return pi, nil
}

// positionedErrors turns parser errors into "line:col: message" strings
// relative to the cell. Positions past the cell's end (errors found in the
// closing text the executor adds) are moved to its last line.
func positionedErrors(err error, src *source) []string {
	var list scanner.ErrorList
	if !errors.As(err, &list) {
		return []string{err.Error()}
	}
	var out []string
	for i, e := range list {
		if i == 10 {
			out = append(out, fmt.Sprintf("(and %d more errors)", len(list)-10))
			break
		}
		line, col, msg := e.Pos.Line, e.Pos.Column, e.Msg
		if line > len(src.lines) {
			// The error is in the text closing the item: the cell ended.
			line = len(src.lines)
			col = len(src.text) - src.lines[line-1] + 1
			msg = strings.Replace(strings.Replace(msg, "found '}'", "found the end of the cell", 1), "found 'EOF'", "found the end of the cell", 1)
		}
		out = append(out, fmt.Sprintf("%d:%d: %s", line, col, msg))
	}
	return out
}

// defsAndRefs lists the package-level names an item declares and every
// identifier it mentions (selector names included, so that a method call
// x.M counts as a use of M).
func defsAndRefs(pi *parsedItem) ([]string, map[string]bool) {
	refs := map[string]bool{}
	var defs []string
	var root ast.Node
	if pi.file != nil {
		root = pi.file
		for _, d := range pi.file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil {
					defs = append(defs, d.Name.Name)
					if t := recvTypeName(d); t != "" {
						defs = append(defs, t+"."+d.Name.Name)
					}
				} else {
					defs = append(defs, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						defs = append(defs, s.Name.Name)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							defs = append(defs, n.Name)
						}
					}
				}
			}
		}
	} else {
		root = pi.body
		for _, s := range pi.stmts {
			switch s := s.(type) {
			case *ast.AssignStmt:
				if s.Tok == token.DEFINE {
					for _, l := range s.Lhs {
						if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
							defs = append(defs, id.Name)
						}
					}
				}
			case *ast.DeclStmt:
				if g, ok := s.Decl.(*ast.GenDecl); ok {
					for _, sp := range g.Specs {
						if vs, ok := sp.(*ast.ValueSpec); ok {
							for _, n := range vs.Names {
								defs = append(defs, n.Name)
							}
						}
					}
				}
			}
		}
	}
	ast.Inspect(root, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			refs[id.Name] = true
		}
		return true
	})
	for _, d := range defs {
		if !strings.Contains(d, ".") {
			delete(refs, d)
		}
	}
	return defs, refs
}

// recvTypeName returns the base type name of a method's receiver.
func recvTypeName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return ""
	}
	t := fd.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.ParenExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// chunkKind says how a chunk is evaluated.
type chunkKind uint8

const (
	chunkImports chunkKind = iota // one file of import declarations
	chunkDecls                    // one file of package-level declarations
	chunkStmts                    // statements, run at the interpreter's top level
	chunkFinal                    // the final expression statement, whose value is shown
)

// chunk is a run of items evaluated by one yaegi compile and execute.
type chunk struct {
	kind  chunkKind
	items []*parsedItem
}

// planChunks orders the items and groups them into chunks:
//
//  1. Imports are hoisted into one chunk evaluated first.
//  2. A pure declaration (func, method, type, const) that an earlier item
//     uses is moved just before its first user, unless it uses a name that
//     the items it would jump over define.
//  3. Consecutive declarations form one chunk; consecutive statements form
//     one chunk.
//  4. When the last item is an expression statement, it becomes a chunk of
//     its own whose value is shown.
func planChunks(items []*parsedItem) []chunk {
	var imports []*parsedItem
	var order []*parsedItem
	for _, it := range items {
		if it.kind == itemImport {
			imports = append(imports, it)
		} else {
			order = append(order, it)
		}
	}
	order = hoistDecls(order)

	var final *parsedItem
	if n := len(order); n > 0 && order[n-1].kind == itemStmt && len(order[n-1].stmts) == 1 {
		if _, ok := order[n-1].stmts[0].(*ast.ExprStmt); ok {
			final = order[n-1]
			order = order[:n-1]
		}
	}

	var chunks []chunk
	if len(imports) > 0 {
		chunks = append(chunks, chunk{kind: chunkImports, items: imports})
	}
	for _, it := range order {
		k := chunkStmts
		if it.kind.isDecl() {
			k = chunkDecls
		}
		if n := len(chunks); n > 0 && chunks[n-1].kind == k {
			chunks[n-1].items = append(chunks[n-1].items, it)
			continue
		}
		chunks = append(chunks, chunk{kind: k, items: []*parsedItem{it}})
	}
	if final != nil {
		chunks = append(chunks, chunk{kind: chunkFinal, items: []*parsedItem{final}})
	}
	return chunks
}

// hoistDecls applies rule 2 of planChunks.
func hoistDecls(order []*parsedItem) []*parsedItem {
	for p := 0; p < len(order); p++ {
		d := order[p]
		if !d.kind.isPure() {
			continue
		}
		q := -1
		for i := 0; i < p && q < 0; i++ {
			for _, name := range d.defs {
				if order[i].refs[name] {
					q = i
					break
				}
			}
		}
		if q < 0 {
			continue
		}
		blocked := false
		for i := q; i < p && !blocked; i++ {
			for _, name := range order[i].defs {
				if d.refs[name] {
					blocked = true
					break
				}
			}
		}
		if blocked {
			continue
		}
		copy(order[q+1:p+1], order[q:p])
		order[q] = d
	}
	return order
}
