package yaegi

import (
	"errors"
	"go/parser"
	"go/scanner"
	"go/token"
	"strings"

	"github.com/flowlab/flowlab/kernel"
)

// IsComplete implements kernel.Executor: "incomplete" while brackets are
// open, a raw string or a general comment is unterminated, or the code stops
// in the middle of a statement (for example after a binary operator), with
// one tab of indentation per open bracket; "invalid" when the code cannot
// become valid by adding lines; "complete" otherwise.
func (e *Executor) IsComplete(code string) kernel.Completeness {
	return isComplete(code)
}

func isComplete(code string) kernel.Completeness {
	if strings.TrimSpace(code) == "" {
		return kernel.Completeness{Status: "complete"}
	}
	sp := splitCell(code)
	switch {
	case sp.openRaw:
		return kernel.Completeness{Status: "incomplete"}
	case sp.depth > 0:
		return kernel.Completeness{Status: "incomplete", Indent: strings.Repeat("\t", sp.depth)}
	case sp.scanErr:
		return kernel.Completeness{Status: "invalid"}
	}
	fset := token.NewFileSet()
	src := newSource(0, code)
	for _, it := range sp.items {
		if _, errs := parseItem(fset, src, it); len(errs) > 0 {
			if endsEarly(fset, src, it) {
				return kernel.Completeness{Status: "incomplete"}
			}
			return kernel.Completeness{Status: "invalid"}
		}
	}
	return kernel.Completeness{Status: "complete"}
}

// endsEarly reports whether the item's first syntax error lies past its end:
// the text is a valid beginning that more lines could complete.
func endsEarly(fset *token.FileSet, src *source, it item) bool {
	var code string
	if it.kind == itemStmt {
		code = "package main; func main() {" + src.anchor(it.lead) + src.text[it.lead:it.end] + "\n}"
	} else {
		code = "package main;" + src.anchor(it.lead) + src.text[it.lead:it.end] + "\n"
	}
	_, err := parser.ParseFile(fset, physName, code, 0)
	var list scanner.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		return false
	}
	endLine, endCol := src.lineCol(it.end)
	p := list[0].Pos
	return p.Line > endLine || p.Line == endLine && p.Column >= endCol
}
