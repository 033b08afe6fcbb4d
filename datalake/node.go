package datalake

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// node is one step of a frame: the complete SQL of the frame after the step,
// its arguments in placeholder order, and where the SQL of the frames it was
// built from (kids) and the text the caller wrote (user) sit inside it, so an
// engine position can be traced back to the step and the words that caused
// it. Nodes are immutable and shared between frames.
type node struct {
	call string // the call that made the step: `.Filter("x > ?", 1)`
	desc string // the chain of calls from the source
	sql  string
	args []any
	kids []kid
	user span // text from the caller, or {-1,-1}
	err  error

	// For Limit after OrderBy, so both land in one SELECT (top-N).
	ordered *node
	order   string
}

type kid struct {
	at int
	n  *node
}

type span struct{ start, end int }

var noSpan = span{-1, -1}

// sqlBuilder assembles a node's SQL, recording kids and the caller's span.
type sqlBuilder struct {
	b    strings.Builder
	args []any
	kids []kid
	user span
}

func newBuilder() *sqlBuilder { return &sqlBuilder{user: noSpan} }

func (s *sqlBuilder) text(t string) *sqlBuilder { s.b.WriteString(t); return s }

// sub embeds n's SQL as a parenthesised subquery on lines of its own, so a
// trailing "--" comment in it cannot swallow what follows.
func (s *sqlBuilder) sub(n *node) *sqlBuilder {
	s.b.WriteString("(\n")
	s.kids = append(s.kids, kid{s.b.Len(), n})
	s.b.WriteString(n.sql)
	s.args = append(s.args, n.args...)
	s.b.WriteString("\n)")
	return s
}

// caller writes text the caller supplied, with its arguments.
func (s *sqlBuilder) caller(t string, args ...any) *sqlBuilder {
	s.user = span{s.b.Len(), s.b.Len() + len(t)}
	s.b.WriteString(t)
	s.args = append(s.args, args...)
	return s
}

func (s *sqlBuilder) node(call, desc string) *node {
	return &node{call: call, desc: desc, sql: s.b.String(), args: s.args, kids: s.kids, user: s.user}
}

// locate follows an engine position in n.sql down to the step whose own text
// holds it. It returns that node and the position relative to its SQL.
func (n *node) locate(pos int) (*node, int) {
	for {
		descended := false
		for _, k := range n.kids {
			if pos >= k.at && pos < k.at+len(k.n.sql) {
				n, pos = k.n, pos-k.at
				descended = true
				break
			}
		}
		if !descended {
			return n, pos
		}
	}
}

// callString renders a call for descriptions: name(arg, arg) with strings
// quoted and long values cut.
func callString(name string, args ...any) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('(')
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(shortValue(a))
	}
	b.WriteByte(')')
	return b.String()
}

func shortValue(a any) string {
	const max = 60
	var s string
	switch x := a.(type) {
	case string:
		x = strings.Join(strings.Fields(x), " ")
		if utf8.RuneCountInString(x) > max {
			x = string([]rune(x)[:max]) + "…"
		}
		s = fmt.Sprintf("%q", x)
	case *Frame:
		s = "<frame>"
	default:
		s = fmt.Sprintf("%v", x)
		if utf8.RuneCountInString(s) > max {
			s = string([]rune(s)[:max]) + "…"
		}
	}
	return s
}
