package yaegi

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
)

// rtName is the name under which the executor's runtime helpers are
// imported in every interpreter (see runtime.go).
const rtName = "__flowlab"

// rewriter transforms the syntax tree of one chunk before yaegi compiles
// it, to give cells Go semantics the interpreter lacks (see the package
// documentation). Synthetic nodes carry the position of the code they
// replace, so errors and panics still point into the cell.
type rewriter struct {
	fset *token.FileSet
	// renames maps user-visible names of redefined types and re-bound
	// imports to the interpreter's internal names.
	renames map[string]string
	// isConst reports whether a package-level name is a constant.
	isConst func(name string) bool
	// isPkg reports whether a name is an imported package.
	isPkg func(name string) bool
	// pkgConst reports whether pkg.name is a constant of a binary package.
	pkgConst func(pkg, name string) bool
	// pkgInt reports whether pkg.name is an integer constant or variable.
	pkgInt func(pkg, name string) bool
	// globalInt reports whether a package-level name holds an integer.
	globalInt func(name string) bool
	// funcInt reports whether fun, a package-level function or a member of
	// a binary package, returns exactly one integer.
	funcInt func(fun ast.Expr) bool

	// wrapped is called with the extent of each top-level statement
	// cellStmts wraps in a function literal.
	wrapped func(start, end token.Pos)

	tmp int
	// loopIn records, for blocks produced by the range-over-int rewrite, the
	// loop they contain, so that a label can be moved onto it.
	loopIn map[*ast.BlockStmt]int
}

func (r *rewriter) newName(kind string) string {
	r.tmp++
	return "__fl" + kind + strconv.Itoa(r.tmp)
}

// cellStmts rewrites the top-level statements of a statement chunk. Compound
// statements are wrapped in a function literal called on the spot: yaegi
// runs top-level statements in the global scope, where a variable declared
// in a nested block overwrites a global of the same name and loop bodies
// cannot have per-iteration variables.
func (r *rewriter) cellStmts(list []ast.Stmt) []ast.Stmt {
	for i, s := range list {
		s = r.stmt(s, true)
		switch s.(type) {
		case *ast.ForStmt, *ast.RangeStmt, *ast.IfStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt,
			*ast.SelectStmt, *ast.BlockStmt, *ast.LabeledStmt:
			if r.wrapped != nil {
				r.wrapped(s.Pos(), s.End())
			}
			s = wrapInFunc(s)
		}
		list[i] = s
	}
	return list
}

// decls rewrites the function bodies and initialisers of a declaration
// chunk.
func (r *rewriter) decls(f *ast.File) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Body != nil {
				d.Body.List = r.block(d.Body.List, false)
			}
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				if vs, ok := sp.(*ast.ValueSpec); ok {
					for _, v := range vs.Values {
						r.expr(v)
					}
				}
			}
		}
	}
}

func wrapInFunc(s ast.Stmt) ast.Stmt {
	pos := s.Pos()
	lit := &ast.FuncLit{
		Type: &ast.FuncType{Func: pos, Params: &ast.FieldList{Opening: pos, Closing: pos}},
		Body: &ast.BlockStmt{Lbrace: pos, List: []ast.Stmt{s}, Rbrace: s.End()},
	}
	return &ast.ExprStmt{X: &ast.CallExpr{Fun: lit, Lparen: s.End(), Rparen: s.End()}}
}

func (r *rewriter) block(list []ast.Stmt, cell bool) []ast.Stmt {
	for i, s := range list {
		list[i] = r.stmt(s, cell)
	}
	return list
}

// stmt rewrites s and the statements nested in it. cell is true outside any
// function body, where return and defer refer to the cell itself.
func (r *rewriter) stmt(s ast.Stmt, cell bool) ast.Stmt {
	switch s := s.(type) {
	case nil:
		return nil
	case *ast.BlockStmt:
		s.List = r.block(s.List, cell)
	case *ast.IfStmt:
		s.Init = r.stmt(s.Init, cell)
		r.expr(s.Cond)
		s.Body.List = r.block(s.Body.List, cell)
		s.Else = r.stmt(s.Else, cell)
	case *ast.ForStmt:
		s.Init = r.stmt(s.Init, cell)
		r.expr(s.Cond)
		s.Post = r.stmt(s.Post, cell)
		s.Body.List = r.block(s.Body.List, cell)
		r.copyForVars(s)
	case *ast.RangeStmt:
		r.expr(s.X)
		s.Body.List = r.block(s.Body.List, cell)
		if b := r.rangeInt(s); b != nil {
			return b
		}
		r.copyRangeVars(s)
	case *ast.SwitchStmt:
		s.Init = r.stmt(s.Init, cell)
		r.expr(s.Tag)
		for _, c := range s.Body.List {
			cc := c.(*ast.CaseClause)
			for _, e := range cc.List {
				r.expr(e)
			}
			cc.Body = r.block(cc.Body, cell)
		}
	case *ast.TypeSwitchStmt:
		s.Init = r.stmt(s.Init, cell)
		s.Assign = r.stmt(s.Assign, cell)
		for _, c := range s.Body.List {
			cc := c.(*ast.CaseClause)
			cc.Body = r.block(cc.Body, cell)
		}
	case *ast.SelectStmt:
		for _, c := range s.Body.List {
			cc := c.(*ast.CommClause)
			cc.Comm = r.stmt(cc.Comm, cell)
			cc.Body = r.block(cc.Body, cell)
		}
	case *ast.LabeledStmt:
		inner := r.stmt(s.Stmt, cell)
		if b, ok := inner.(*ast.BlockStmt); ok {
			if i, ok := r.loopIn[b]; ok {
				// Keep the label on the loop so break/continue L still work.
				b.List[i] = &ast.LabeledStmt{Label: s.Label, Colon: s.Colon, Stmt: b.List[i]}
				return b
			}
		}
		s.Stmt = inner
	case *ast.GoStmt:
		r.expr(s.Call)
		return r.goStmt(s)
	case *ast.DeferStmt:
		r.expr(s.Call)
		if cell {
			return r.cellDefer(s)
		}
	case *ast.ReturnStmt:
		for _, e := range s.Results {
			r.expr(e)
		}
		if cell && len(s.Results) == 0 {
			// A bare return ends the cell, as it would end main.
			return &ast.ExprStmt{X: rtCall(s.Return, "Return")}
		}
	case *ast.ExprStmt:
		r.expr(s.X)
	case *ast.AssignStmt:
		for _, e := range s.Lhs {
			r.expr(e)
		}
		for _, e := range s.Rhs {
			r.expr(e)
		}
	case *ast.SendStmt:
		r.expr(s.Chan)
		r.expr(s.Value)
	case *ast.IncDecStmt:
		r.expr(s.X)
	case *ast.DeclStmt:
		if g, ok := s.Decl.(*ast.GenDecl); ok {
			for _, sp := range g.Specs {
				if vs, ok := sp.(*ast.ValueSpec); ok {
					for _, v := range vs.Values {
						r.expr(v)
					}
				}
			}
		}
	}
	return s
}

// expr rewrites the bodies of the function literals in e.
func (r *rewriter) expr(e ast.Node) {
	if e == nil {
		return
	}
	ast.Inspect(e, func(n ast.Node) bool {
		if fl, ok := n.(*ast.FuncLit); ok {
			fl.Body.List = r.block(fl.Body.List, false)
			return false
		}
		return true
	})
}

// rtCall builds __flowlab.name(args...).
func rtCall(pos token.Pos, name string, args ...ast.Expr) *ast.CallExpr {
	return &ast.CallExpr{
		Fun:    &ast.SelectorExpr{X: &ast.Ident{NamePos: pos, Name: rtName}, Sel: &ast.Ident{NamePos: pos, Name: name}},
		Lparen: pos,
		Args:   args,
		Rparen: pos,
	}
}

// capture wraps the final expression so that its values reach the executor.
func capture(s *ast.ExprStmt) *ast.ExprStmt {
	return &ast.ExprStmt{X: rtCall(s.X.Pos(), "Capture", s.X)}
}

// hoistCall evaluates, into fresh variables, the parts of call that Go
// evaluates at a go or defer statement and that could change before the
// call runs: the function value when it is not a plain name or a literal,
// and every argument that is not a constant. It returns the assignment to
// run first (nil when nothing needs it); call is updated in place.
func (r *rewriter) hoistCall(call *ast.CallExpr) ast.Stmt {
	var lhs, rhs []ast.Expr
	pos := call.Pos()
	if r.funNeedsEval(call.Fun) {
		n := r.newName("fn")
		lhs = append(lhs, &ast.Ident{NamePos: pos, Name: n})
		rhs = append(rhs, call.Fun)
		call.Fun = &ast.Ident{NamePos: call.Fun.Pos(), Name: n}
	}
	if !r.isBuiltinConversionFree(call) {
		return nil
	}
	for i, a := range call.Args {
		if r.isConstExpr(a) || isFuncLit(a) {
			continue
		}
		n := r.newName("arg")
		lhs = append(lhs, &ast.Ident{NamePos: a.Pos(), Name: n})
		rhs = append(rhs, a)
		call.Args[i] = &ast.Ident{NamePos: a.Pos(), Name: n}
	}
	if len(lhs) == 0 {
		return nil
	}
	return &ast.AssignStmt{Lhs: lhs, TokPos: pos, Tok: token.DEFINE, Rhs: rhs}
}

// isBuiltinConversionFree reports whether the arguments of call may be
// evaluated into variables: not for new and make, whose first argument is
// a type.
func (r *rewriter) isBuiltinConversionFree(call *ast.CallExpr) bool {
	if id, ok := call.Fun.(*ast.Ident); ok && id.Obj == nil {
		switch id.Name {
		case "new", "make":
			return false
		}
	}
	return true
}

func isFuncLit(e ast.Expr) bool {
	_, ok := e.(*ast.FuncLit)
	return ok
}

func (r *rewriter) funNeedsEval(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident, *ast.FuncLit:
		return false
	case *ast.ParenExpr:
		return r.funNeedsEval(e.X)
	case *ast.SelectorExpr:
		if id, ok := e.X.(*ast.Ident); ok && id.Obj == nil && r.isPkg(id.Name) {
			return false
		}
	case *ast.IndexExpr, *ast.IndexListExpr:
		// An instantiated generic function: a constant function value.
		return false
	}
	return true
}

// isConstExpr reports whether e is a constant expression, which must stay
// in place to keep its untyped constant type.
func (r *rewriter) isConstExpr(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		if e.Obj != nil {
			return e.Obj.Kind == ast.Con
		}
		switch e.Name {
		case "nil", "true", "false", "iota":
			return true
		}
		return r.isConst(e.Name)
	case *ast.ParenExpr:
		return r.isConstExpr(e.X)
	case *ast.UnaryExpr:
		return e.Op != token.AND && e.Op != token.ARROW && r.isConstExpr(e.X)
	case *ast.BinaryExpr:
		return r.isConstExpr(e.X) && r.isConstExpr(e.Y)
	case *ast.SelectorExpr:
		if id, ok := e.X.(*ast.Ident); ok && id.Obj == nil && r.isPkg(id.Name) {
			return r.pkgConst(id.Name, e.Sel.Name)
		}
	}
	return false
}

// funcLit parses code (a function literal) positioned at pos.
func (r *rewriter) funcLit(pos token.Pos, code string) *ast.FuncLit {
	p := r.fset.Position(pos)
	src := fmt.Sprintf("package main; var _ = /*line %s:%d:%d*/%s", p.Filename, p.Line, p.Column, code)
	f, err := parser.ParseFile(r.fset, physName, src, 0)
	if err != nil {
		panic(fmt.Sprintf("yaegi executor: bad template %q: %v", code, err)) // a bug in this file
	}
	return f.Decls[0].(*ast.GenDecl).Specs[0].(*ast.ValueSpec).Values[0].(*ast.FuncLit)
}

// replaceCall swaps the placeholder statement __flcall() in lit for call.
func replaceCall(lit *ast.FuncLit, call *ast.CallExpr) {
	ast.Inspect(lit, func(n ast.Node) bool {
		b, ok := n.(*ast.BlockStmt)
		if !ok {
			return true
		}
		for i, s := range b.List {
			if es, ok := s.(*ast.ExprStmt); ok {
				if c, ok := es.X.(*ast.CallExpr); ok {
					if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "__flcall" {
						b.List[i] = &ast.ExprStmt{X: call}
						return false
					}
				}
			}
		}
		return true
	})
}

// goStmt rewrites go f(x) so that a panic in the goroutine is recovered and
// reported on stderr instead of killing the kernel. f and x are still
// evaluated at the go statement.
func (r *rewriter) goStmt(g *ast.GoStmt) ast.Stmt {
	pre := r.hoistCall(g.Call)
	p := r.fset.Position(g.Go)
	where := strconv.Quote(fmt.Sprintf("%s:%d:%d", p.Filename, p.Line, p.Column))
	lit := r.funcLit(g.Go, `func() {
	defer func() {
		if __flr := recover(); __flr != nil {
			`+rtName+`.GoPanic(__flr, `+where+`)
		}
	}()
	__flcall()
}`)
	replaceCall(lit, g.Call)
	ng := &ast.GoStmt{Go: g.Go, Call: &ast.CallExpr{Fun: lit, Lparen: g.Go, Rparen: g.Go}}
	if pre == nil {
		return ng
	}
	return &ast.BlockStmt{Lbrace: g.Go, List: []ast.Stmt{pre, ng}, Rbrace: g.End()}
}

// cellDefer rewrites a defer at the cell's top level: the call runs when
// the cell ends (yaegi would otherwise keep it on its global frame and run
// it again after every later evaluation).
func (r *rewriter) cellDefer(d *ast.DeferStmt) ast.Stmt {
	pre := r.hoistCall(d.Call)
	lit := r.funcLit(d.Defer, "func() { __flcall() }")
	replaceCall(lit, d.Call)
	reg := &ast.ExprStmt{X: rtCall(d.Defer, "Defer", lit)}
	if pre == nil {
		return reg
	}
	return &ast.BlockStmt{Lbrace: d.Defer, List: []ast.Stmt{pre, reg}, Rbrace: d.End()}
}

// rangeInt rewrites for k := range n, which yaegi v0.16.1 cannot compile,
// into a three-clause loop when n is known to be an integer: an integer
// constant expression, len or cap, a conversion to an integer type, or a
// name whose type is known to be an integer. n is evaluated once and each
// iteration gets its own k, as in Go 1.22.
func (r *rewriter) rangeInt(s *ast.RangeStmt) *ast.BlockStmt {
	if s.Value != nil || !r.isIntExpr(s.X) {
		return nil
	}
	pos := s.For
	n := &ast.Ident{NamePos: pos, Name: r.newName("n")}
	i := r.newName("i")
	id := func() *ast.Ident { return &ast.Ident{NamePos: pos, Name: i} }
	nid := func() *ast.Ident { return &ast.Ident{NamePos: pos, Name: n.Name} }
	body := []ast.Stmt{}
	if k, ok := s.Key.(*ast.Ident); ok && k.Name != "_" || s.Key != nil && s.Tok == token.ASSIGN {
		tok := s.Tok
		body = append(body, &ast.AssignStmt{Lhs: []ast.Expr{s.Key}, TokPos: pos, Tok: tok, Rhs: []ast.Expr{id()}})
	}
	body = append(body, s.Body)
	loop := &ast.ForStmt{
		For:  pos,
		Init: &ast.AssignStmt{Lhs: []ast.Expr{id()}, TokPos: pos, Tok: token.DEFINE, Rhs: []ast.Expr{&ast.BinaryExpr{X: nid(), OpPos: pos, Op: token.SUB, Y: nid()}}},
		Cond: &ast.BinaryExpr{X: id(), OpPos: pos, Op: token.LSS, Y: nid()},
		Post: &ast.IncDecStmt{X: id(), TokPos: pos, Tok: token.INC},
		Body: &ast.BlockStmt{Lbrace: s.Body.Lbrace, List: body, Rbrace: s.Body.Rbrace},
	}
	b := &ast.BlockStmt{Lbrace: pos, List: []ast.Stmt{
		&ast.AssignStmt{Lhs: []ast.Expr{n}, TokPos: pos, Tok: token.DEFINE, Rhs: []ast.Expr{s.X}},
		loop,
	}, Rbrace: s.End()}
	if r.loopIn == nil {
		r.loopIn = map[*ast.BlockStmt]int{}
	}
	r.loopIn[b] = 1
	return b
}

var intTypes = map[string]bool{
	"int": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"uintptr": true, "byte": true, "rune": true,
}

// isIntExpr reports whether e is known, without evaluating it, to be an
// integer.
func (r *rewriter) isIntExpr(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.INT
	case *ast.ParenExpr:
		return r.isIntExpr(e.X)
	case *ast.UnaryExpr:
		return (e.Op == token.SUB || e.Op == token.ADD || e.Op == token.XOR) && r.isIntExpr(e.X)
	case *ast.BinaryExpr:
		switch e.Op {
		case token.SHL, token.SHR:
			return r.isIntExpr(e.X)
		case token.ADD, token.SUB, token.MUL, token.QUO, token.REM, token.AND, token.OR, token.XOR, token.AND_NOT:
			return r.isIntExpr(e.X) || r.isIntExpr(e.Y) && isUntypedConst(e.X)
		}
	case *ast.CallExpr:
		if id, ok := e.Fun.(*ast.Ident); ok && id.Obj == nil && (id.Name == "len" || id.Name == "cap" || intTypes[id.Name]) {
			return true
		}
		return r.funcInt != nil && r.funcInt(e.Fun)
	case *ast.SelectorExpr:
		if id, ok := e.X.(*ast.Ident); ok && id.Obj == nil && r.isPkg(id.Name) {
			return r.pkgInt(id.Name, e.Sel.Name)
		}
	case *ast.Ident:
		if e.Obj == nil {
			return e.Name == "iota" || r.globalInt(e.Name)
		}
		return r.localInt(e.Obj)
	}
	return false
}

func isUntypedConst(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.ParenExpr:
		return isUntypedConst(e.X)
	}
	return false
}

// localInt reports whether a name declared in the same item is an integer,
// from its declaration.
func (r *rewriter) localInt(obj *ast.Object) bool {
	switch d := obj.Decl.(type) {
	case *ast.Field:
		if id, ok := d.Type.(*ast.Ident); ok && id.Obj == nil {
			return intTypes[id.Name]
		}
	case *ast.ValueSpec:
		if d.Type != nil {
			id, ok := d.Type.(*ast.Ident)
			return ok && id.Obj == nil && intTypes[id.Name]
		}
		for i, n := range d.Names {
			if n.Obj == obj && i < len(d.Values) {
				return r.isIntExpr(d.Values[i])
			}
		}
		if obj.Kind == ast.Con && len(d.Values) == 0 {
			return true // iota continuation of an integer const block
		}
	case *ast.AssignStmt:
		if len(d.Lhs) != len(d.Rhs) {
			return false
		}
		for i, l := range d.Lhs {
			if id, ok := l.(*ast.Ident); ok && id.Obj == obj {
				return r.isIntExpr(d.Rhs[i])
			}
		}
	}
	return false
}

// hasClosure reports whether n contains a function literal, a go or a defer
// statement: code that can observe a loop variable after its iteration.
func hasClosure(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		switch n.(type) {
		case *ast.FuncLit, *ast.GoStmt, *ast.DeferStmt:
			found = true
		}
		return !found
	})
	return found
}

// copyRangeVars gives each iteration of a range loop its own variables
// (Go 1.22 semantics) when the body may capture them.
func (r *rewriter) copyRangeVars(s *ast.RangeStmt) {
	if s.Tok != token.DEFINE || !hasClosure(s.Body) {
		return
	}
	var names []string
	for _, e := range []ast.Expr{s.Key, s.Value} {
		if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
			names = append(names, id.Name)
		}
	}
	prependCopies(s.Body, names)
}

// copyForVars does the same for a three-clause loop, for each loop variable
// the body never assigns (with a per-iteration copy an assignment would be
// lost to the loop's condition and post statement).
func (r *rewriter) copyForVars(s *ast.ForStmt) {
	init, ok := s.Init.(*ast.AssignStmt)
	if !ok || init.Tok != token.DEFINE || !hasClosure(s.Body) {
		return
	}
	mutated := assignedNames(s.Body)
	var names []string
	for _, l := range init.Lhs {
		if id, ok := l.(*ast.Ident); ok && id.Name != "_" && !mutated[id.Name] {
			names = append(names, id.Name)
		}
	}
	prependCopies(s.Body, names)
}

func prependCopies(body *ast.BlockStmt, names []string) {
	if len(names) == 0 {
		return
	}
	pos := body.Lbrace
	var lhs, rhs []ast.Expr
	for _, n := range names {
		lhs = append(lhs, &ast.Ident{NamePos: pos, Name: n})
		rhs = append(rhs, &ast.Ident{NamePos: pos, Name: n})
	}
	inner := &ast.BlockStmt{Lbrace: body.Lbrace, List: body.List, Rbrace: body.Rbrace}
	body.List = []ast.Stmt{&ast.AssignStmt{Lhs: lhs, TokPos: pos, Tok: token.DEFINE, Rhs: rhs}, inner}
}

// assignedNames lists the names assigned, incremented or whose address is
// taken anywhere in n.
func assignedNames(n ast.Node) map[string]bool {
	m := map[string]bool{}
	ast.Inspect(n, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			if x.Tok != token.DEFINE {
				for _, l := range x.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						m[id.Name] = true
					}
				}
			}
		case *ast.IncDecStmt:
			if id, ok := x.X.(*ast.Ident); ok {
				m[id.Name] = true
			}
		case *ast.UnaryExpr:
			if id, ok := x.X.(*ast.Ident); ok && x.Op == token.AND {
				m[id.Name] = true
			}
		case *ast.RangeStmt:
			if x.Tok == token.ASSIGN {
				for _, e := range []ast.Expr{x.Key, x.Value} {
					if id, ok := e.(*ast.Ident); ok {
						m[id.Name] = true
					}
				}
			}
		}
		return true
	})
	return m
}

// rename replaces, in n, every identifier that refers to a package-level name
// listed in r.renames by its internal name. scope holds the chunk's own
// package-level objects.
func (r *rewriter) rename(n ast.Node, scope map[*ast.Object]bool) {
	if len(r.renames) == 0 {
		return
	}
	walkGlobalRefs(n, scope, func(id *ast.Ident) {
		if to, ok := r.renames[id.Name]; ok {
			id.Name = to
		}
	})
}

// walkGlobalRefs calls fn for every identifier in n that may refer to a
// package-level name: names resolved to an object in scope (the chunk's own
// package-level declarations, including the name of a type being declared)
// or not resolved at all. Names resolved to local declarations, selectors'
// field names, struct field and parameter names, composite literal keys,
// function names and labels are skipped.
func walkGlobalRefs(n ast.Node, scope map[*ast.Object]bool, fn func(*ast.Ident)) {
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			ast.Inspect(x.X, visit)
			return false
		case *ast.Field:
			if x.Type != nil {
				ast.Inspect(x.Type, visit)
			}
			return false
		case *ast.KeyValueExpr:
			if _, ok := x.Key.(*ast.Ident); !ok {
				ast.Inspect(x.Key, visit)
			}
			ast.Inspect(x.Value, visit)
			return false
		case *ast.LabeledStmt:
			ast.Inspect(x.Stmt, visit)
			return false
		case *ast.BranchStmt:
			return false
		case *ast.FuncDecl:
			if x.Recv != nil {
				for _, f := range x.Recv.List {
					ast.Inspect(f.Type, visit)
				}
			}
			ast.Inspect(x.Type, visit)
			if x.Body != nil {
				ast.Inspect(x.Body, visit)
			}
			return false
		case *ast.ImportSpec:
			return false
		case *ast.TypeSpec:
			if x.Name.Obj == nil || scope[x.Name.Obj] {
				fn(x.Name)
			}
			if x.TypeParams != nil {
				ast.Inspect(x.TypeParams, visit)
			}
			ast.Inspect(x.Type, visit)
			return false
		case *ast.ValueSpec:
			if x.Type != nil {
				ast.Inspect(x.Type, visit)
			}
			for _, v := range x.Values {
				ast.Inspect(v, visit)
			}
			return false
		case *ast.Ident:
			if x.Obj == nil || scope[x.Obj] {
				fn(x)
			}
		}
		return true
	}
	ast.Inspect(n, visit)
}

// fileScope returns the package-level objects declared in files.
func fileScope(files ...*ast.File) map[*ast.Object]bool {
	m := map[*ast.Object]bool{}
	for _, f := range files {
		if f.Scope == nil {
			continue
		}
		for _, o := range f.Scope.Objects {
			m[o] = true
		}
	}
	return m
}
