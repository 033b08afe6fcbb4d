package yaegi

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"unicode/utf8"
)

// itemKind classifies one top-level piece of a cell.
type itemKind uint8

const (
	itemStmt   itemKind = iota // any statement, including func literals and labels
	itemImport                 // import "p" or import ( ... )
	itemFunc                   // func F(...) ...
	itemMethod                 // func (r T) M(...) ...
	itemType                   // type T ...
	itemVar                    // var x ...
	itemConst                  // const c ...
)

var itemKindNames = [...]string{
	itemStmt:   "stmt",
	itemImport: "import",
	itemFunc:   "func",
	itemMethod: "method",
	itemType:   "type",
	itemVar:    "var",
	itemConst:  "const",
}

func (k itemKind) String() string { return itemKindNames[k] }

// isDecl reports whether items of kind k are package-level declarations,
// evaluated in file context rather than as statements.
func (k itemKind) isDecl() bool { return k != itemStmt && k != itemImport }

// isPure reports whether declaring an item of kind k has no effect at run
// time, so that it may be moved before the statements that use it.
func (k itemKind) isPure() bool {
	return k == itemFunc || k == itemMethod || k == itemType || k == itemConst
}

// item is one top-level piece of a cell: a declaration, an import or one
// statement, delimited by semicolons (written or automatic) outside brackets.
type item struct {
	kind itemKind
	// lead is where the item's text begins: just after the previous
	// separator, so that doc comments belong to the item they precede.
	lead int
	// start is the offset of the item's first token and end the offset just
	// after its last token.
	start, end int
}

// cellSplit is the result of splitting a cell's source.
type cellSplit struct {
	items []item
	// suppressed is true when the last token of the cell is a written
	// semicolon: the final value is not shown (IPython convention).
	suppressed bool
	// depth is the bracket depth at the end of the source (for IsComplete).
	depth int
	// openRaw is true when the source ends inside a raw string or a general
	// comment, and scanErr when the scanner met any other error.
	openRaw bool
	scanErr bool
}

type tokInfo struct {
	off int
	tok token.Token
	lit string
}

// splitCell cuts src into top-level items. It never fails: malformed source
// still yields items, and the parser reports the errors with positions.
func splitCell(src string) cellSplit {
	var res cellSplit
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	s.Init(file, []byte(src), func(pos token.Position, msg string) {
		switch msg {
		case "raw string literal not terminated", "comment not terminated":
			res.openRaw = true
		default:
			res.scanErr = true
		}
	}, 0)

	var toks []tokInfo
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		toks = append(toks, tokInfo{off: file.Offset(pos), tok: tok, lit: lit})
	}

	depth := 0
	itemStart := -1 // index of first token of the current item
	lead := 0
	lastEnd := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if itemStart < 0 && depth == 0 && headerSemicolon(toks[i:]) {
			// A for, if or switch statement whose header holds written
			// semicolons: let the parser find where it ends.
			if end := stmtEnd(src, t.off); end > t.off {
				itemStart = i
				for i+1 < len(toks) && toks[i+1].off < end {
					i++
				}
				lastEnd = end
				continue
			}
		}
		switch t.tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if depth > 0 {
				depth--
			}
		}
		if t.tok == token.SEMICOLON && depth == 0 {
			if itemStart >= 0 {
				res.items = append(res.items, item{
					kind:  classify(toks[itemStart:i]),
					lead:  lead,
					start: toks[itemStart].off,
					end:   lastEnd,
				})
				itemStart = -1
			}
			lead = t.off
			if t.lit == ";" {
				lead++
			}
			continue
		}
		if itemStart < 0 {
			itemStart = i
		}
		lastEnd = tokEnd(src, t)
	}
	if itemStart >= 0 {
		res.items = append(res.items, item{
			kind:  classify(toks[itemStart:]),
			lead:  lead,
			start: toks[itemStart].off,
			end:   lastEnd,
		})
	}
	res.depth = depth
	// A written semicolon as the cell's last token suppresses the value.
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].tok == token.SEMICOLON && toks[i].lit == "\n" {
			continue // automatic semicolon at a newline or at EOF
		}
		res.suppressed = toks[i].tok == token.SEMICOLON && toks[i].lit == ";"
		break
	}
	return res
}

// tokEnd returns the offset just after token t in src. Literal tokens are
// measured in src itself, since the scanner drops carriage returns from raw
// strings and comments.
func tokEnd(src string, t tokInfo) int {
	end := tokEndRaw(src, t)
	if end > len(src) {
		end = len(src)
	}
	return end
}

func tokEndRaw(src string, t tokInfo) int {
	switch t.tok {
	case token.ILLEGAL:
		// The scanner reports an invalid byte as U+FFFD, longer than it.
		if t.off < len(src) {
			_, w := utf8.DecodeRuneInString(src[t.off:])
			return t.off + w
		}
		return t.off
	case token.SEMICOLON:
		if t.lit == "\n" {
			return t.off // automatic: nothing was written
		}
		return t.off + 1
	case token.STRING:
		if len(t.lit) > 0 && t.lit[0] == '`' {
			// Find the closing backquote in the source.
			for j := t.off + 1; j < len(src); j++ {
				if src[j] == '`' {
					return j + 1
				}
			}
			return len(src)
		}
		return t.off + len(t.lit)
	case token.IDENT, token.INT, token.FLOAT, token.IMAG, token.CHAR:
		return t.off + len(t.lit)
	default:
		if t.tok.IsKeyword() {
			return t.off + len(t.tok.String())
		}
		if t.lit != "" {
			return t.off + len(t.lit)
		}
		return t.off + len(t.tok.String())
	}
}

// classify tells the kind of the item made of toks (no trailing semicolon).
func classify(toks []tokInfo) itemKind {
	switch toks[0].tok {
	case token.IMPORT:
		return itemImport
	case token.TYPE:
		return itemType
	case token.VAR:
		return itemVar
	case token.CONST:
		return itemConst
	case token.FUNC:
		if len(toks) < 2 {
			return itemStmt
		}
		switch toks[1].tok {
		case token.IDENT:
			return itemFunc
		case token.LPAREN:
			// Either a method receiver or a func literal's parameters: a
			// method has its name right after the closing parenthesis, then
			// its own parameters; a literal has its results or its body.
			depth := 0
			for j := 1; j < len(toks); j++ {
				switch toks[j].tok {
				case token.LPAREN, token.LBRACK, token.LBRACE:
					depth++
				case token.RPAREN, token.RBRACK, token.RBRACE:
					depth--
				}
				if depth == 0 {
					if j+2 < len(toks) && toks[j+1].tok == token.IDENT && toks[j+2].tok == token.LPAREN {
						return itemMethod
					}
					return itemStmt
				}
			}
		}
	}
	return itemStmt
}

// headerSemicolon reports whether toks start a for, if or switch statement
// (possibly labelled) with a written semicolon at its own bracket depth
// before the end of its line: the semicolons of a header such as
// for i := 0; i < n; i++ do not end the statement.
func headerSemicolon(toks []tokInfo) bool {
	i := 0
	if len(toks) > 2 && toks[0].tok == token.IDENT && toks[1].tok == token.COLON {
		i = 2
	}
	if i >= len(toks) {
		return false
	}
	switch toks[i].tok {
	case token.FOR, token.IF, token.SWITCH:
	default:
		return false
	}
	depth := 0
	for _, t := range toks[i+1:] {
		switch t.tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
		case token.SEMICOLON:
			if depth == 0 {
				return t.lit == ";"
			}
		}
		if depth < 0 {
			return false
		}
	}
	return false
}

// stmtEnd returns the offset in src just after the statement that starts at
// off, as the Go parser sees it, or -1.
func stmtEnd(src string, off int) int {
	const prefix = "package p; func _() {\n"
	code := prefix + src[off:] + "\n}"
	fset := token.NewFileSet()
	f, _ := parser.ParseFile(fset, "", code, parser.SkipObjectResolution)
	if f == nil || len(f.Decls) == 0 {
		return -1
	}
	fd, ok := f.Decls[0].(*ast.FuncDecl)
	if !ok || fd.Body == nil || len(fd.Body.List) == 0 {
		return -1
	}
	end := fset.Position(fd.Body.List[0].End()).Offset - len(prefix)
	if end <= 0 || end > len(src)-off {
		return -1
	}
	return off + end
}
