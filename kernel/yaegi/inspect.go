package yaegi

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/flowlab/flowlab/kernel"
	"github.com/flowlab/flowlab/kernel/display"
	gen "github.com/traefik/yaegi/stdlib/generic"
)

// Inspect implements kernel.Executor. It describes the name at cursor (or,
// inside a call's parentheses, the function called): a package, a package
// member (signature from the symbol table, documentation from GOROOT's
// sources for the standard library and from the generated table for
// flowlab's packages), a name a cell declared (its declaration and doc
// comment, and a variable's type and value), a field or method of a value,
// or a builtin.
func (e *Executor) Inspect(code string, cursor int, detail int) (kernel.Inspection, bool) {
	chain := chainAt(code, byteOffset(code, cursor))
	if chain == "" {
		return kernel.Inspection{}, false
	}
	decl, docText, extra := e.describe(chain, detail)
	if decl == "" && docText == "" {
		return kernel.Inspection{}, false
	}
	var plain, md strings.Builder
	plain.WriteString(decl)
	md.WriteString("```go\n" + decl + "\n```\n")
	if docText != "" {
		plain.WriteString("\n\n" + strings.TrimSpace(docText))
		md.WriteString("\n" + strings.TrimSpace(docText) + "\n")
	}
	if extra != "" {
		plain.WriteString("\n\n" + extra)
		md.WriteString("\n```\n" + extra + "\n```\n")
	}
	return kernel.Inspection{Data: map[string]any{
		display.MIMEText:     plain.String(),
		display.MIMEMarkdown: md.String(),
	}}, true
}

// chainAt returns the selector chain under or just before off; inside the
// parentheses of a call with nothing under the cursor, the callee.
func chainAt(code string, off int) string {
	end := off
	for end < len(code) {
		r, size := utf8.DecodeRuneInString(code[end:])
		if !isIdentRune(r) {
			break
		}
		end += size
	}
	start := off
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(code[:start])
		if !isIdentRune(r) && r != '.' {
			break
		}
		start -= size
	}
	if start == end {
		// Find the callee of the innermost open parenthesis.
		depth := 0
		for i := off - 1; i >= 0; i-- {
			switch code[i] {
			case ')':
				depth++
			case '(':
				if depth == 0 {
					return chainAt(code, i)
				}
				depth--
			case '\n':
				if depth == 0 && i < off-1 {
					return ""
				}
			}
		}
		return ""
	}
	return strings.Trim(code[start:end], ".")
}

// describe returns the declaration, the documentation and extra text (a
// variable's value) for chain.
func (e *Executor) describe(chain string, detail int) (decl, docText, extra string) {
	parts := strings.Split(chain, ".")
	head := parts[0]

	// A cell-declared name, or a field or method of a cell value.
	if d, ok := e.st.names[head]; ok {
		if len(parts) == 1 {
			decl, docText = d.decl, d.doc
			if detail > 0 && d.text != "" {
				extra = strings.TrimSpace(d.text)
			}
			if d.kind == itemVar || d.kind == itemStmt {
				if v, ok := e.valueOf(e.st.internal(head)); ok {
					extra = e.valueSummary(v)
				}
			}
			return decl, docText, extra
		}
		if d.kind == itemType && len(parts) == 2 {
			if m := e.st.methods[head][parts[1]]; m != nil {
				return m.decl, m.doc, ""
			}
			return "", "", ""
		}
		return e.describeMember(chain)
	}
	// A package or one of its members.
	if p, ok := e.packageOf(head); ok {
		if len(parts) == 1 {
			return "package " + e.pkgNames[p] + ` // import "` + p + `"`, synopses[p], ""
		}
		if len(parts) == 2 {
			return e.describePackageMember(p, parts[1])
		}
		return e.describeMember(chain)
	}
	// A dot-imported member.
	for _, p := range e.st.dots {
		if _, ok := e.syms[p][head]; ok {
			if len(parts) == 1 {
				return e.describePackageMember(p, head)
			}
			return e.describeMember(chain)
		}
	}
	if len(parts) == 1 {
		if _, ok := goBuiltins[head]; ok {
			if decl, docText, ok := stdDoc("builtin", head); ok {
				return decl, docText, ""
			}
			return head + " (builtin)", "", ""
		}
	}
	return "", "", ""
}

// describePackageMember describes p.name.
func (e *Executor) describePackageMember(p, name string) (decl, docText, extra string) {
	if d, ok := cellDocs[p][name]; ok {
		return d.Decl, d.Doc, ""
	}
	if d, ok := genericDocs()[p][name]; ok {
		return d.Decl, d.Doc, ""
	}
	v, ok := e.syms[p][name]
	if !ok {
		return "", "", ""
	}
	if decl, docText, ok := stdDoc(p, name); ok {
		return decl, docText, ""
	}
	return e.pkgNames[p] + "." + name + " " + signature(v), "", ""
}

// signature describes a symbol table value from its type.
func signature(v reflect.Value) string {
	switch symbolKind(v) {
	case "constant":
		return "= " + fmt.Sprint(v.Interface())
	case "type":
		return "(type " + v.Type().Elem().String() + ")"
	}
	return v.Type().String()
}

// describeMember describes the last element of a chain whose prefix is a
// value: a field or a method of its type.
func (e *Executor) describeMember(chain string) (decl, docText, extra string) {
	i := strings.LastIndexByte(chain, '.')
	owner, name := chain[:i], chain[i+1:]
	v, ok := e.valueOf(e.internalChain(owner))
	if !ok {
		return "", "", ""
	}
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	t := v.Type()
	st := t
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if tn := e.typeNameOf(st); tn != "" {
		if m := e.st.methods[tn][name]; m != nil {
			return m.decl, m.doc, ""
		}
	}
	for _, mt := range []reflect.Type{t, reflect.PointerTo(t)} {
		if m, ok := mt.MethodByName(name); ok {
			decl = fmt.Sprintf("func (%s) %s%s", e.unversion(mt.String()), name, strings.TrimPrefix(m.Type.String(), "func"))
			if named := st; named.PkgPath() != "" {
				// flowlab's packages document their methods in the generated
				// table (IO.Read → datalake's LakeIO.Read), the standard library in GOROOT.
				if d, ok := cellDocs[named.PkgPath()][named.Name()+"."+name]; ok {
					return d.Decl, d.Doc, ""
				}
				if d, dd, ok := stdDoc(named.PkgPath(), named.Name()+"."+name); ok {
					return d, dd, ""
				}
			}
			return decl, "", ""
		}
	}
	if st.Kind() == reflect.Struct {
		if f, ok := st.FieldByName(name); ok {
			return fmt.Sprintf("field %s %s", name, e.unversion(f.Type.String())), "", ""
		}
	}
	return "", "", ""
}

// valueSummary shows a variable's type and value, shortened.
func (e *Executor) valueSummary(v reflect.Value) string {
	var x any
	if v.CanInterface() {
		x = v.Interface()
	}
	s := display.Plain(x)
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return "type: " + e.unversion(v.Type().String()) + "\nvalue: " + s
}

// stdDocs caches the documentation parsed from GOROOT, per import path.
var stdDocs sync.Map // path → map[string]memberDoc (nil when unavailable)

// stdDoc returns the declaration and doc comment of name ("T.M" for a
// method) in the standard library package p, read from GOROOT's sources
// when they are present.
func stdDoc(p, name string) (decl, docText string, ok bool) {
	m, loaded := stdDocs.Load(p)
	if !loaded {
		m, _ = stdDocs.LoadOrStore(p, parseStdDocs(p))
	}
	docs, _ := m.(map[string]memberDoc)
	d, ok := docs[name]
	return d.Decl, d.Doc, ok
}

func parseStdDocs(p string) map[string]memberDoc {
	root := build.Default.GOROOT
	if root == "" {
		return nil
	}
	dir := filepath.Join(root, "src", filepath.FromSlash(p))
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil && p != "builtin" {
		return nil
	}
	names := bp.GoFiles
	if p == "builtin" {
		names = []string{"builtin.go"}
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil
		}
		files = append(files, f)
	}
	mode := doc.Mode(0)
	if p == "builtin" {
		mode = doc.AllDecls
	}
	dp, err := doc.NewFromFiles(fset, files, p, mode)
	if err != nil {
		return nil
	}
	return packageDocs(fset, dp)
}

// packageDocs indexes a package's documentation by member name.
func packageDocs(fset *token.FileSet, dp *doc.Package) map[string]memberDoc {
	out := map[string]memberDoc{}
	fn := func(f *doc.Func) string {
		c := *f.Decl
		c.Body, c.Doc = nil, nil
		return nodeString(fset, &c)
	}
	gd := func(g *ast.GenDecl) string {
		c := *g
		c.Doc = nil
		return nodeString(fset, &c)
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, n := range v.Names {
				out[n] = memberDoc{gd(v.Decl), v.Doc}
			}
		}
	}
	for _, f := range dp.Funcs {
		out[f.Name] = memberDoc{fn(f), f.Doc}
	}
	values(dp.Consts)
	values(dp.Vars)
	for _, t := range dp.Types {
		out[t.Name] = memberDoc{gd(t.Decl), t.Doc}
		for _, f := range t.Funcs {
			out[f.Name] = memberDoc{fn(f), f.Doc}
		}
		for _, m := range t.Methods {
			out[t.Name+"."+m.Name] = memberDoc{fn(m), m.Doc}
		}
		values(t.Consts)
		values(t.Vars)
	}
	return out
}

// genericDocs documents the generic functions yaegi interprets from source
// (slices, maps, cmp), which the binary tables cannot list.
var genericDocs = sync.OnceValue(func() map[string]map[string]memberDoc {
	out := map[string]map[string]memberDoc{}
	for _, src := range gen.Sources {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "", src, parser.ParseComments)
		if err != nil {
			continue
		}
		dp, err := doc.NewFromFiles(fset, []*ast.File{f}, f.Name.Name)
		if err != nil {
			continue
		}
		docs := packageDocs(fset, dp)
		if old := out[f.Name.Name]; old != nil {
			for k, v := range docs {
				old[k] = v
			}
			continue
		}
		out[f.Name.Name] = docs
	}
	return out
})
