package yaegi

import (
	"go/scanner"
	"go/token"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flowlab/flowlab/kernel"
)

var goKeywords = []string{
	"break", "case", "chan", "const", "continue", "default", "defer", "else",
	"fallthrough", "for", "func", "go", "goto", "if", "import", "interface",
	"map", "package", "range", "return", "select", "struct", "switch", "type", "var",
}

var goBuiltins = map[string]string{
	"append": "function", "cap": "function", "clear": "function", "close": "function",
	"complex": "function", "copy": "function", "delete": "function", "imag": "function",
	"len": "function", "make": "function", "max": "function", "min": "function",
	"new": "function", "panic": "function", "print": "function", "println": "function",
	"real": "function", "recover": "function",
	"any": "type", "bool": "type", "byte": "type", "comparable": "type", "complex64": "type",
	"complex128": "type", "error": "type", "float32": "type", "float64": "type", "int": "type",
	"int8": "type", "int16": "type", "int32": "type", "int64": "type", "rune": "type",
	"string": "type", "uint": "type", "uint8": "type", "uint16": "type", "uint32": "type",
	"uint64": "type", "uintptr": "type",
	"true": "constant", "false": "constant", "iota": "constant", "nil": "constant",
}

// byteOffset converts a cursor counted in code points to a byte offset.
func byteOffset(code string, cursor int) int {
	if cursor <= 0 {
		return 0
	}
	i := 0
	for n := 0; n < cursor && i < len(code); n++ {
		_, size := utf8.DecodeRuneInString(code[i:])
		i += size
	}
	return i
}

// runeCount returns the number of code points in code[:off].
func runeCount(code string, off int) int { return utf8.RuneCountInString(code[:off]) }

func isIdentRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// identBefore returns the start of the identifier that ends at off.
func identBefore(code string, off int) int {
	start := off
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(code[:start])
		if !isIdentRune(r) {
			break
		}
		start -= size
	}
	return start
}

// chainBefore returns the selector chain (a.b.c) that ends just before the
// dot at off-1, or "".
func chainBefore(code string, off int) string {
	start := off
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(code[:start])
		if !isIdentRune(r) && r != '.' {
			break
		}
		start -= size
	}
	chain := code[start:off]
	if chain == "" || strings.Contains(chain, "..") || strings.HasPrefix(chain, ".") {
		return ""
	}
	if r, _ := utf8.DecodeRuneInString(chain); unicode.IsDigit(r) {
		return ""
	}
	return chain
}

var importPrefix = regexp.MustCompile(`import\s*(?:\(\s*(?:(?:[\w.]+\s+)?"[^"\n]*"\s*;?\s*)*)?(?:[\w.]+\s+)?"([^"\n]*)$`)

type candidate struct{ text, kind string }

// Complete implements kernel.Executor. It proposes import paths inside an
// import's quotes, members after pkg. or value., and otherwise the names in
// scope: those cells declared, imported packages, dot-imported members,
// names declared earlier in code, builtins and keywords.
func (e *Executor) Complete(code string, cursor int) kernel.Completion {
	off := byteOffset(code, cursor)
	res := kernel.Completion{Matches: []string{}, CursorStart: cursor, CursorEnd: cursor, Metadata: map[string]any{}}
	var cands []candidate
	var start int

	if m := importPrefix.FindStringSubmatchIndex(code[:off]); m != nil && inImportContext(code[:off], m[0]) {
		prefix := code[m[2]:m[3]]
		start = m[2]
		for _, p := range e.Packages() {
			if strings.HasPrefix(p.Path, prefix) {
				cands = append(cands, candidate{p.Path, "module"})
			}
		}
	} else {
		start = identBefore(code, off)
		prefix := code[start:off]
		if start > 0 && code[start-1] == '.' {
			if chain := chainBefore(code, start-1); chain != "" {
				cands = e.memberCandidates(chain, prefix)
			}
		} else {
			cands = e.scopeCandidates(code[:start], prefix)
		}
	}

	seen := map[string]bool{}
	var types []map[string]any
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].text < cands[j].text })
	for _, c := range cands {
		if seen[c.text] {
			continue
		}
		seen[c.text] = true
		res.Matches = append(res.Matches, c.text)
		types = append(types, map[string]any{
			"start": runeCount(code, start), "end": cursor, "text": c.text, "type": c.kind,
		})
	}
	res.CursorStart = runeCount(code, start)
	if len(types) > 0 {
		res.Metadata["_jupyter_types_experimental"] = types
	}
	return res
}

// inImportContext rejects matches of importPrefix inside comments or other
// strings: the import keyword at at must be a real token.
func inImportContext(code string, at int) bool {
	var s scanner.Scanner
	fset := token.NewFileSet()
	src := []byte(code)
	s.Init(fset.AddFile("", -1, len(src)), src, func(token.Position, string) {}, 0)
	for {
		pos, tok, _ := s.Scan()
		if tok == token.EOF {
			return false
		}
		if int(pos)-1 == at {
			return tok == token.IMPORT
		}
		if int(pos)-1 > at {
			return false
		}
	}
}

// scopeCandidates lists the names in scope that start with prefix.
func (e *Executor) scopeCandidates(before, prefix string) []candidate {
	var out []candidate
	add := func(name, kind string) {
		if strings.HasPrefix(name, prefix) && !strings.HasPrefix(name, "__") {
			out = append(out, candidate{name, kind})
		}
	}
	for _, k := range goKeywords {
		add(k, "keyword")
	}
	for n, k := range goBuiltins {
		add(n, k)
	}
	for n, d := range e.st.names {
		add(n, kindName(d.kind))
	}
	for n := range e.st.imports {
		add(n, "module")
	}
	for _, p := range e.st.dots {
		for n, v := range e.syms[p] {
			if !strings.HasPrefix(n, "_") {
				add(n, symbolKind(v))
			}
		}
	}
	for _, n := range localNames(before) {
		add(n, "variable")
	}
	return out
}

func kindName(k itemKind) string {
	switch k {
	case itemFunc:
		return "function"
	case itemType:
		return "type"
	case itemConst:
		return "constant"
	case itemMethod:
		return "method"
	}
	return "variable"
}

// symbolKind classifies a member of a binary package table.
func symbolKind(v reflect.Value) string {
	switch {
	case isConstant(v):
		return "constant"
	case v.Kind() == reflect.Func:
		return "function"
	case v.Kind() == reflect.Pointer && v.IsNil():
		return "type"
	}
	return "variable"
}

// localNames lists the names code declares (by :=, var, const, func, type)
// before the cursor, which completion offers before the cell runs.
func localNames(code string) []string {
	var s scanner.Scanner
	fset := token.NewFileSet()
	src := []byte(code)
	s.Init(fset.AddFile("", -1, len(src)), src, func(token.Position, string) {}, 0)
	var out []string
	var prev []string // identifiers since the last statement start
	var prevTok token.Token
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		switch tok {
		case token.IDENT:
			switch prevTok {
			case token.VAR, token.CONST, token.FUNC, token.TYPE:
				out = append(out, lit)
			}
			prev = append(prev, lit)
		case token.COMMA:
		case token.DEFINE:
			out = append(out, prev...)
			prev = nil
		default:
			prev = nil
		}
		prevTok = tok
	}
}

// memberCandidates lists the members of a package or of a value's type.
func (e *Executor) memberCandidates(chain, prefix string) []candidate {
	var out []candidate
	add := func(name, kind string) {
		if strings.HasPrefix(name, prefix) && token.IsExported(name) {
			out = append(out, candidate{name, kind})
		}
	}
	if p, ok := e.packageOf(chain); ok {
		for n, v := range e.syms[p] {
			add(n, symbolKind(v))
		}
		for n := range genericDocs()[p] {
			add(n, "function")
		}
		return out
	}
	head, _, _ := strings.Cut(chain, ".")
	if !e.knownValue(head) {
		return nil
	}
	v, ok := e.valueOf(e.internalChain(chain))
	if !ok {
		return nil
	}
	for name, kind := range e.members(v) {
		add(name, kind)
	}
	return out
}

// packageOf returns the import path of a package name: one imported by a
// cell, or else the default name of an importable package.
func (e *Executor) packageOf(name string) (string, bool) {
	if p, ok := e.st.imports[name]; ok {
		return p, true
	}
	if strings.Contains(name, ".") {
		return "", false
	}
	found := ""
	for p, n := range e.pkgNames {
		if n == name && e.importDenied(p) == "" {
			if found != "" {
				return "", false // ambiguous: crypto/rand and math/rand
			}
			found = p
		}
	}
	return found, found != ""
}

// knownValue reports whether name is a variable or function cells declared
// or a dot-imported member, whose value may be read for completion.
func (e *Executor) knownValue(name string) bool {
	if d, ok := e.st.names[name]; ok {
		return d.kind == itemVar || d.kind == itemStmt || d.kind == itemFunc || d.kind == itemConst
	}
	for _, p := range e.st.dots {
		if v, ok := e.syms[p][name]; ok && symbolKind(v) == "variable" {
			return true
		}
	}
	if p, ok := e.st.imports[name]; ok {
		return p != ""
	}
	return false
}

// internalChain maps the head of a selector chain to its internal name.
func (e *Executor) internalChain(chain string) string {
	head, rest, found := strings.Cut(chain, ".")
	head = e.st.internal(head)
	if found {
		return head + "." + rest
	}
	return head
}

// members lists the exported fields and methods of v's type, including the
// methods cells declared on interpreted types.
func (e *Executor) members(v reflect.Value) map[string]string {
	out := map[string]string{}
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	t := v.Type()
	addMethods := func(t reflect.Type) {
		for i := 0; i < t.NumMethod(); i++ {
			out[t.Method(i).Name] = "method"
		}
	}
	addMethods(t)
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		addMethods(reflect.PointerTo(t))
	}
	st := t
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		for i := 0; i < st.NumField(); i++ {
			if f := st.Field(i); f.IsExported() {
				out[f.Name] = "field"
			}
		}
	}
	if name := e.typeNameOf(st); name != "" {
		for m := range e.st.methods[name] {
			out[m] = "method"
		}
	}
	return out
}

// typeNameOf returns the name of the cell-declared type whose interpreted
// representation is t, or "".
func (e *Executor) typeNameOf(t reflect.Type) string {
	for name, d := range e.st.names {
		if d.kind != itemType {
			continue
		}
		v, ok := e.valueOf("(*" + e.st.internal(name) + ")(nil)")
		if ok && v.Kind() == reflect.Pointer && v.Type().Elem() == t {
			return name
		}
	}
	return ""
}
