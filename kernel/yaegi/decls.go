package yaegi

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// runDecls evaluates a run of package-level declarations.
//
// yaegi ignores the redefinition of a type and of a method, so a type that
// an earlier cell declared gets a new internal name (T__v2) when a cell
// declares it again or redefines one of its methods; references to T in this
// and later cells are renamed, and the messages the user sees are mapped
// back. The methods earlier cells declared on T are declared again on the
// new type; when they no longer compile against a redefined type they are
// dropped, with a note on stderr.
func (e *Executor) runDecls(ctx context.Context, src *source, c chunk) error {
	carried, err := e.runDeclsOnce(ctx, src, c.items, true)
	if err == nil || len(carried) == 0 || !isCompileFailure(err) || !e.failedInEarlierCell(err) {
		return err.asError()
	}
	// Parse the items again: the first attempt rewrote their trees.
	fresh := make([]*parsedItem, 0, len(c.items))
	for _, it := range c.items {
		pi, errs := parseItem(e.in.FileSet(), src, it.item)
		if len(errs) > 0 {
			return err.asError()
		}
		fresh = append(fresh, pi)
	}
	if _, err2 := e.runDeclsOnce(ctx, src, fresh, false); err2 != nil {
		return err2.asError()
	}
	fmt.Fprintf(e.stderr(), "note: %s declared in earlier cells no longer compile against the redefined type and were dropped: declare them again\n", strings.Join(carried, ", "))
	return nil
}

// declErr is the outcome of one attempt: a compile failure (with the raw
// interpreter message) or the error of running the chunk.
type declErr struct {
	compile bool
	raw     string
	err     error
}

func (d *declErr) asError() error {
	if d == nil {
		return nil
	}
	return d.err
}

func isCompileFailure(d *declErr) bool { return d != nil && d.compile }

// failedInEarlierCell reports whether a compile failure points into code
// carried over from an earlier cell.
func (e *Executor) failedInEarlierCell(d *declErr) bool {
	m := cellPos.FindStringSubmatch(d.raw)
	if m == nil {
		return false
	}
	n, _ := strconv.Atoi(m[1])
	return n != int(e.seq.Load())
}

func (e *Executor) runDeclsOnce(ctx context.Context, src *source, items []*parsedItem, carry bool) ([]string, *declErr) {
	file := &ast.File{Name: items[0].file.Name, Package: items[0].file.Package}
	files := make([]*ast.File, 0, len(items))
	declTypes := map[string]bool{}
	declMethods := map[string]map[string]bool{}
	for _, it := range items {
		files = append(files, it.file)
		file.Decls = append(file.Decls, it.file.Decls...)
		for _, d := range it.file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil {
					t := recvTypeName(d)
					if declMethods[t] == nil {
						declMethods[t] = map[string]bool{}
					}
					declMethods[t][d.Name.Name] = true
				}
			case *ast.GenDecl:
				if d.Tok == token.TYPE {
					for _, sp := range d.Specs {
						declTypes[sp.(*ast.TypeSpec).Name.Name] = true
					}
				}
			}
		}
	}

	// Types that need a new version: redeclared ones, and those whose
	// methods are redefined.
	bump := map[string]bool{}
	for t := range declTypes {
		if e.st.names[t] != nil {
			bump[t] = true
		}
	}
	for t, ms := range declMethods {
		if declTypes[t] {
			continue
		}
		if d := e.st.names[t]; d == nil || d.kind != itemType {
			continue
		}
		for m := range ms {
			if e.st.methods[t][m] != nil {
				bump[t] = true
			}
		}
	}
	renames := maps.Clone(e.st.renames)
	var carried []string
	for _, t := range slices.Sorted(maps.Keys(bump)) {
		e.st.versions[t]++
		renames[t] = versionedName(t, e.st.versions[t])
		if !declTypes[t] {
			f, gd := e.reparseType(e.st.names[t], t)
			if gd == nil {
				return nil, &declErr{err: fmt.Errorf("yaegi executor: cannot declare type %s again", t)}
			}
			files = append(files, f)
			file.Decls = append(file.Decls, gd)
		}
		if !carry && declTypes[t] {
			continue
		}
		for _, m := range slices.Sorted(maps.Keys(e.st.methods[t])) {
			if declMethods[t][m] {
				continue
			}
			f, fd := e.reparseFunc(e.st.methods[t][m])
			if fd == nil {
				continue
			}
			files = append(files, f)
			file.Decls = append(file.Decls, fd)
			carried = append(carried, t+"."+m)
		}
	}

	r := e.newRewriter(renames)
	r.decls(file)
	r.rename(file, fileScope(files...))
	prog, err := e.compile(file)
	if err != nil {
		return carried, &declErr{compile: true, raw: err.Error(), err: e.compileError(err, src, items[0].start)}
	}
	for t := range bump {
		e.st.setRename(t, renames[t])
	}
	for _, it := range items {
		e.recordDecls(src, it, r)
	}
	if err := e.exec(ctx, prog, src.seq); err != nil {
		return carried, &declErr{err: err}
	}
	return carried, nil
}

// reparse parses a recorded item again, positioned in its own cell.
func (e *Executor) reparse(d *declInfo) *ast.File {
	f, err := parser.ParseFile(e.in.FileSet(), physName, "package main;"+d.anchor+d.text+"\n", parser.ParseComments)
	if err != nil {
		return nil
	}
	return f
}

// reparseType returns a declaration of type t alone, from its item.
func (e *Executor) reparseType(d *declInfo, t string) (*ast.File, *ast.GenDecl) {
	f := e.reparse(d)
	if f == nil {
		return nil, nil
	}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, sp := range g.Specs {
			if ts := sp.(*ast.TypeSpec); ts.Name.Name == t {
				return f, &ast.GenDecl{TokPos: g.TokPos, Tok: token.TYPE, Specs: []ast.Spec{ts}}
			}
		}
	}
	return nil, nil
}

// reparseFunc returns the function or method declaration of d's item.
func (e *Executor) reparseFunc(d *declInfo) (*ast.File, *ast.FuncDecl) {
	f := e.reparse(d)
	if f == nil {
		return nil, nil
	}
	for _, decl := range f.Decls {
		if fd, ok := decl.(*ast.FuncDecl); ok && fd.Name.Name == d.name {
			return f, fd
		}
	}
	return nil, nil
}

// recordDecls notes the names a declaration item declared.
func (e *Executor) recordDecls(src *source, it *parsedItem, r *rewriter) {
	fset := e.in.FileSet()
	base := declInfo{seq: src.seq, text: it.text, anchor: src.anchor(it.lead)}
	for _, d := range it.file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			di := base
			di.name = d.Name.Name
			di.doc = d.Doc.Text()
			di.decl = e.unversion(declSummary(fset, d))
			if d.Recv != nil {
				di.kind = itemMethod
				di.recv = e.unversion(recvTypeName(d))
				if e.st.methods[di.recv] == nil {
					e.st.methods[di.recv] = map[string]*declInfo{}
				}
				e.st.methods[di.recv][di.name] = &di
				continue
			}
			di.kind = itemFunc
			di.isInt = returnsInt(d.Type)
			e.st.names[di.name] = &di
		case *ast.GenDecl:
			var lastType ast.Expr
			var lastInt bool
			for _, sp := range d.Specs {
				switch sp := sp.(type) {
				case *ast.TypeSpec:
					di := base
					di.kind = itemType
					di.name = e.unversion(sp.Name.Name)
					di.doc = docOf(sp.Doc, d.Doc)
					di.decl = e.unversion("type " + nodeString(fset, &ast.TypeSpec{Name: sp.Name, TypeParams: sp.TypeParams, Assign: sp.Assign, Type: sp.Type}))
					e.st.names[di.name] = &di
				case *ast.ValueSpec:
					if sp.Type != nil || len(sp.Values) > 0 {
						lastType = sp.Type
						lastInt = false
					}
					for i, n := range sp.Names {
						di := base
						di.name = n.Name
						di.doc = docOf(sp.Doc, d.Doc)
						di.kind = itemVar
						if d.Tok == token.CONST {
							di.kind = itemConst
						}
						spec := &ast.ValueSpec{Names: []*ast.Ident{n}, Type: sp.Type}
						if i < len(sp.Values) && d.Tok == token.CONST {
							spec.Values = []ast.Expr{sp.Values[i]}
						}
						di.decl = e.unversion(d.Tok.String() + " " + nodeString(fset, spec))
						switch {
						case sp.Type != nil:
							id, ok := sp.Type.(*ast.Ident)
							di.isInt = ok && id.Obj == nil && intTypes[id.Name]
						case i < len(sp.Values):
							di.isInt = r.isIntExpr(sp.Values[i])
							lastInt = di.isInt
						case d.Tok == token.CONST && lastType == nil:
							di.isInt = lastInt
						}
						e.st.names[di.name] = &di
					}
				}
			}
		}
	}
}

func docOf(groups ...*ast.CommentGroup) string {
	for _, g := range groups {
		if t := g.Text(); t != "" {
			return t
		}
	}
	return ""
}

// returnsInt reports whether a function type has exactly one result, of a
// predeclared integer type.
func returnsInt(ft *ast.FuncType) bool {
	if ft.Results == nil || len(ft.Results.List) != 1 || len(ft.Results.List[0].Names) > 1 {
		return false
	}
	id, ok := ft.Results.List[0].Type.(*ast.Ident)
	return ok && id.Obj == nil && intTypes[id.Name]
}
