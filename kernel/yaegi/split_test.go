package yaegi

import (
	"go/ast"
	"go/scanner"
	"go/token"
	"reflect"
	"strings"
	"testing"
)

// describeItems renders items as "kind:text" for comparison.
func describeItems(src string, sp cellSplit) []string {
	var out []string
	for _, it := range sp.items {
		out = append(out, it.kind.String()+":"+src[it.start:it.end])
	}
	return out
}

func TestSplitCell(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		want       []string
		suppressed bool
	}{
		{"empty", "", nil, false},
		{"only comments", "// a comment\n/* another */\n", nil, false},
		{"expression", "1+1", []string{"stmt:1+1"}, false},
		{"statements and expression", "x := 1\ny := x\nx + y", []string{"stmt:x := 1", "stmt:y := x", "stmt:x + y"}, false},
		{"statements on one line", "a := 1; b := 2; a + b", []string{"stmt:a := 1", "stmt:b := 2", "stmt:a + b"}, false},
		{"import", "import \"fmt\"\nfmt.Println(1)", []string{"import:import \"fmt\"", "stmt:fmt.Println(1)"}, false},
		{"import group after a statement", "x := 1\nimport (\n\t\"fmt\"\n\tstr \"strings\"\n)", []string{"stmt:x := 1", "import:import (\n\t\"fmt\"\n\tstr \"strings\"\n)"}, false},
		{"func declaration", "func f(a int) int {\n\treturn a\n}", []string{"func:func f(a int) int {\n\treturn a\n}"}, false},
		{"generic func", "func F[T any](x T) T { return x }", []string{"func:func F[T any](x T) T { return x }"}, false},
		{"method", "func (p *P) M() {}", []string{"method:func (p *P) M() {}"}, false},
		{"method of a generic type", "func (s *Stack[T]) Push(v T) {}", []string{"method:func (s *Stack[T]) Push(v T) {}"}, false},
		{"func literal called", "func() { println(1) }()", []string{"stmt:func() { println(1) }()"}, false},
		{"func literal with a result called", "func(x int) int { return x }(3)", []string{"stmt:func(x int) int { return x }(3)"}, false},
		{"func literal with a qualified result", "func() time.Duration { return 0 }()", []string{"stmt:func() time.Duration { return 0 }()"}, false},
		{"func literal assigned", "f := func() {}", []string{"stmt:f := func() {}"}, false},
		{"type var const", "type T struct{ A int }\nvar v = 1\nconst (\n\tc = 2\n\td\n)", []string{"type:type T struct{ A int }", "var:var v = 1", "const:const (\n\tc = 2\n\td\n)"}, false},
		{"keywords in strings", "s := \"func main() { import }\"\nr := `type\n;var`", []string{"stmt:s := \"func main() { import }\"", "stmt:r := `type\n;var`"}, false},
		{"keywords in comments", "x := 1 // func f() {}\n/* import \"os\" */ y := 2", []string{"stmt:x := 1", "stmt:y := 2"}, false},
		{"doc comment belongs to its declaration", "x := 1\n// f doubles.\nfunc f() {}", []string{"stmt:x := 1", "func:func f() {}"}, false},
		{"three-clause for", "for i := 0; i < 3; i++ {\n\tprintln(i)\n}\nx := 1", []string{"stmt:for i := 0; i < 3; i++ {\n\tprintln(i)\n}", "stmt:x := 1"}, false},
		{"if with init", "if v := f(); v > 0 { println(v) } else { println(0) }", []string{"stmt:if v := f(); v > 0 { println(v) } else { println(0) }"}, false},
		{"switch with init", "switch x := 2; x {\ncase 1:\n}", []string{"stmt:switch x := 2; x {\ncase 1:\n}"}, false},
		{"labelled for", "L: for i := 0; i < 2; i++ { continue L }", []string{"stmt:L: for i := 0; i < 2; i++ { continue L }"}, false},
		{"statement after a block on one line", "for {}; x := 1", []string{"stmt:for {}", "stmt:x := 1"}, false},
		{"composite literal in a for header", "for _, v := range []int{1, 2} { println(v) }", []string{"stmt:for _, v := range []int{1, 2} { println(v) }"}, false},
		{"go statement", "go f(x)\ngo func() {}()", []string{"stmt:go f(x)", "stmt:go func() {}()"}, false},
		{"trailing semicolon", "1+1;", []string{"stmt:1+1"}, true},
		{"trailing semicolon and comment", "x;  // quiet\n", []string{"stmt:x"}, true},
		{"semicolon not last", "x; y", []string{"stmt:x", "stmt:y"}, false},
		{"unclosed bracket keeps the rest", "f(1,\n2", []string{"stmt:f(1,\n2"}, false},
		{"raw string with carriage returns", "s := `a\r\nb`\ns", []string{"stmt:s := `a\r\nb`", "stmt:s"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := splitCell(tt.src)
			if got := describeItems(tt.src, sp); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("items\n got %q\nwant %q", got, tt.want)
			}
			if sp.suppressed != tt.suppressed {
				t.Fatalf("suppressed = %v, want %v", sp.suppressed, tt.suppressed)
			}
		})
	}
}

func TestSplitCellState(t *testing.T) {
	tests := []struct {
		name             string
		src              string
		depth            int
		openRaw, scanErr bool
	}{
		{"balanced", "f(x)", 0, false, false},
		{"open brace", "func f() {\n\tif x {", 2, false, false},
		{"open raw string", "s := `abc", 0, true, false},
		{"open comment", "x := 1 /* note", 0, true, false},
		{"bad character", "x := 1 @", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := splitCell(tt.src)
			if sp.depth != tt.depth || sp.openRaw != tt.openRaw || sp.scanErr != tt.scanErr {
				t.Fatalf("depth %d openRaw %v scanErr %v, want %d %v %v", sp.depth, sp.openRaw, sp.scanErr, tt.depth, tt.openRaw, tt.scanErr)
			}
		})
	}
}

// describePlan renders the chunks of src as "kind[text | text]".
func describePlan(t *testing.T, src string) []string {
	t.Helper()
	items, errs := parseItems(token.NewFileSet(), newSource(1, src), splitCell(src))
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errs)
	}
	names := map[chunkKind]string{chunkImports: "imports", chunkDecls: "decls", chunkStmts: "stmts", chunkFinal: "final"}
	var out []string
	for _, c := range planChunks(items) {
		var texts []string
		for _, it := range c.items {
			texts = append(texts, src[it.start:it.end])
		}
		out = append(out, names[c.kind]+"["+strings.Join(texts, " | ")+"]")
	}
	return out
}

func TestPlanChunks(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"expression alone", "1+1", []string{"final[1+1]"}},
		{"statements then expression", "x := 1\ny := 2\nx + y", []string{"stmts[x := 1 | y := 2]", "final[x + y]"}},
		{"ending in a statement", "x := 1\nx++", []string{"stmts[x := 1 | x++]"}},
		{"imports are hoisted", "x := 1\nimport \"fmt\"\nfmt.Sprint(x)", []string{"imports[import \"fmt\"]", "stmts[x := 1]", "final[fmt.Sprint(x)]"}},
		{"consecutive declarations group", "type T int\nfunc f() T { return 1 }\nvar v = f()", []string{"decls[type T int | func f() T { return 1 } | var v = f()]"}},
		{"a function used before its declaration moves up", "x := f()\nfunc f() int { return 1 }\nx", []string{"decls[func f() int { return 1 }]", "stmts[x := f()]", "final[x]"}},
		{"its dependencies move too", "x := f()\nfunc f() int { return g() }\nfunc g() int { return 2 }", []string{"decls[func g() int { return 2 } | func f() int { return g() }]", "stmts[x := f()]"}},
		{"a function using a statement's variable stays", "base := 1\nfunc plus() int { return base }\nplus()", []string{"stmts[base := 1]", "decls[func plus() int { return base }]", "final[plus()]"}},
		{"a method used before its declaration moves up", "type P struct{}\nv := P{}.M()\nfunc (P) M() int { return 1 }", []string{"decls[type P struct{} | func (P) M() int { return 1 }]", "stmts[v := P{}.M()]"}},
		{"variables keep their order", "x := 1\nvar y = x + 1\ny", []string{"stmts[x := 1]", "decls[var y = x + 1]", "final[y]"}},
		{"a call ending the cell is final", "f()", []string{"final[f()]"}},
		{"an assignment ending the cell is not final", "x = 1", []string{"stmts[x = 1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describePlan(t, tt.src); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("plan\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseItemsPositions(t *testing.T) {
	src := "x := 1\n\ty := (2 +\nz"
	_, errs := parseItems(token.NewFileSet(), newSource(1, src), splitCell(src))
	if len(errs) == 0 || !strings.HasPrefix(errs[0], "3:") {
		t.Fatalf("errors %q, want the first at line 3", errs)
	}
}

// FuzzSplitCell checks that splitting, parsing, planning, rewriting and the
// completeness check never panic, and that items cover every token of the
// cell in order.
func FuzzSplitCell(f *testing.F) {
	for _, s := range []string{
		"1+1", "x := 1\nx + 1;", "import \"fmt\"\nfunc f() {}\nf()",
		"for i := 0; i < 3; i++ { go func() { defer println(i) }() }",
		"type T struct{ A int }\nfunc (t T) M() {}\nT{1}.M()",
		"L: for i := range 10 { if i > 2 { break L } }",
		"s := `raw\n;string`\n/* comment */ s",
		"func (", "for {", "if x := f(); x {", "`", "/*", "go f(", "defer g(1, x)\nreturn",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		sp := splitCell(src)
		prev := 0
		for _, it := range sp.items {
			if it.lead < prev || it.lead > it.start || it.start > it.end || it.end > len(src) {
				t.Fatalf("bad item %+v after %d in %q", it, prev, src)
			}
			prev = it.end
		}
		// Every token but a semicolon lies in an item.
		fset := token.NewFileSet()
		file := fset.AddFile("", -1, len(src))
		var s scanner.Scanner
		s.Init(file, []byte(src), func(token.Position, string) {}, 0)
		for {
			pos, tok, _ := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok == token.SEMICOLON || tok == token.ILLEGAL {
				continue
			}
			off := file.Offset(pos)
			in := false
			for _, it := range sp.items {
				if off >= it.start && off < it.end {
					in = true
					break
				}
			}
			if !in {
				t.Fatalf("token %s at %d of %q is in no item %+v", tok, off, src, sp.items)
			}
		}

		items, _ := parseItems(fset, newSource(1, src), sp)
		chunks := planChunks(items)
		n := 0
		for _, c := range chunks {
			n += len(c.items)
		}
		if n != len(items) {
			t.Fatalf("plan kept %d of %d items", n, len(items))
		}
		r := &rewriter{
			fset:      fset,
			renames:   map[string]string{"T": "T__v1"},
			isConst:   func(string) bool { return false },
			isPkg:     func(n string) bool { return n == "fmt" },
			pkgConst:  func(string, string) bool { return false },
			pkgInt:    func(string, string) bool { return false },
			globalInt: func(n string) bool { return n == "n" },
		}
		for _, c := range chunks {
			for _, it := range c.items {
				if it.file != nil {
					r.decls(it.file)
					r.rename(it.file, fileScope(it.file))
					continue
				}
				list := r.cellStmts(it.stmts)
				for _, st := range list {
					r.rename(st, nil)
				}
				if c.kind == chunkFinal {
					if es, ok := list[0].(*ast.ExprStmt); ok {
						_ = capture(es)
					}
				}
			}
		}
		switch isComplete(src).Status {
		case "complete", "incomplete", "invalid":
		default:
			t.Fatalf("IsComplete(%q) gave an unknown status", src)
		}
	})
}
