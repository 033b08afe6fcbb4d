package datalake

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Frame is a lazy table: a description of a query over the lake that runs
// in the engine when a terminal method is called (Count, Collect, Rows,
// Strings, Int64s, Float64s, Stats, Columns, Schema, ToCSV, ToJSON) or when
// the frame is shown as a cell's value. Every builder method returns a new
// Frame and leaves its receiver unchanged, except Persist and Unpersist,
// which change how the receiver is computed, as in Spark.
//
// Builder methods never panic and never run a query: an error (a bad
// argument, a bad path, an SQL error found later) travels with the frame and
// is returned by the terminal call or rendered in place of the table, naming
// the step and the position. All methods are safe on a nil *Frame (they
// report ErrNilFrame) and safe for concurrent use.
type Frame struct {
	lake *Lake

	mu        sync.Mutex
	n         *node
	persisted string // SQL reference to the table holding the rows, while persisted
	base      *node  // the node before Persist
}

// errFrame returns a frame that carries err.
func errFrame(l *Lake, call string, err error) *Frame {
	return &Frame{lake: l, n: &node{call: call, desc: call, err: fmt.Errorf("%s: %w", call, err), user: noSpan}}
}

// snapshot returns the frame's current node and lake, or its error.
func (f *Frame) snapshot() (*node, *Lake, error) {
	if f == nil {
		return nil, nil, wrapf(ErrNilFrame, "the frame is nil: it was never assigned (check the cell that should have built it)")
	}
	f.mu.Lock()
	n := f.n
	f.mu.Unlock()
	if n == nil {
		return nil, nil, wrapf(ErrNilFrame, "the frame is a zero Frame: build frames with IO.Read or SQL")
	}
	if n.err != nil {
		return n, f.lake, n.err
	}
	return n, f.lake, nil
}

// derive builds a new frame from f with build; call describes the step. An
// errored f passes its error on.
func (f *Frame) derive(call string, build func(in *node) (*node, error)) *Frame {
	in, l, err := f.snapshot()
	if in == nil {
		return &Frame{n: &node{call: call, desc: call, err: err, user: noSpan}}
	}
	desc := in.desc + call
	if err != nil {
		return &Frame{lake: l, n: &node{call: call, desc: desc, err: err, user: noSpan}}
	}
	out, err := build(in)
	if err != nil {
		return &Frame{lake: l, n: &node{call: call, desc: desc, err: fmt.Errorf("%s: %w", call, err), user: noSpan}}
	}
	out.call, out.desc = call, desc
	return &Frame{lake: l, n: out}
}

// String describes how the frame was built, without running it.
func (f *Frame) String() string {
	n, _, err := f.snapshot()
	if n == nil {
		return "Frame(<nil>)"
	}
	if err != nil {
		return "Frame(" + n.desc + ") with error: " + err.Error()
	}
	return "Frame(" + n.desc + ")"
}

// Err returns the error the frame carries, or nil. It does not run the
// query, so SQL errors only show once a terminal method ran.
func (f *Frame) Err() error {
	_, _, err := f.snapshot()
	return err
}

// SQL returns a Frame over the result of query, an SQL SELECT (or WITH,
// FROM, VALUES, DESCRIBE, SUMMARIZE, PIVOT ...) in DuckDB's dialect, on the
// default lake. Tables are the names given with RegisterTempTable. args bind
// to "?" placeholders in order (or to $1, $2, ...); a slice argument expands
// for "x IN ?". The query must be one statement. Safe for concurrent use.
func SQL(query string, args ...any) *Frame {
	return IO.sql(query, args...)
}

// SQL is the package-level SQL on this lake.
func (l *Lake) SQL(query string, args ...any) *Frame {
	return l.IO().sql(query, args...)
}

func (io *LakeIO) sql(query string, args ...any) *Frame {
	call := callString("SQL", append([]any{query}, args...)...)
	l, err := io.target()
	if err != nil {
		return errFrame(nil, call, err)
	}
	text, bound, err := prepareSQL(query, args)
	if err != nil {
		return errFrame(l, call, err)
	}
	n := newBuilder().caller(text, bound...).node(call, call)
	return &Frame{lake: l, n: n}
}

// Select keeps the given columns or SQL expressions ("src_address",
// "bytes / 1024 AS kib", "*"). A bare name is quoted, so reserved words work.
func (f *Frame) Select(cols ...string) *Frame {
	return f.derive(callString(".Select", anys(cols)...), func(in *node) (*node, error) {
		if len(cols) == 0 {
			return nil, wrapf(ErrBadArgument, "Select needs at least one column")
		}
		return newBuilder().text("SELECT ").caller(exprList(cols)).text(" FROM ").sub(in).text(" AS t").node("", ""), nil
	})
}

// Filter keeps the rows for which the SQL condition holds. args bind to "?"
// placeholders in expr; a slice expands for "x IN ?".
func (f *Frame) Filter(expr string, args ...any) *Frame {
	return f.where(".Filter", expr, args)
}

// Where is Filter.
func (f *Frame) Where(expr string, args ...any) *Frame {
	return f.where(".Where", expr, args)
}

func (f *Frame) where(name, expr string, args []any) *Frame {
	return f.derive(callString(name, append([]any{expr}, args...)...), func(in *node) (*node, error) {
		text, bound, err := prepareSQL(expr, args)
		if err != nil {
			return nil, err
		}
		return newBuilder().text("SELECT * FROM ").sub(in).text(" AS t WHERE (").caller(text, bound...).text("\n)").node("", ""), nil
	})
}

// DropDuplicates keeps one row for each distinct combination of cols (any
// one of them, as in Spark); with no cols it is Distinct.
func (f *Frame) DropDuplicates(cols ...string) *Frame {
	return f.derive(callString(".DropDuplicates", anys(cols)...), func(in *node) (*node, error) {
		if len(cols) == 0 {
			return newBuilder().text("SELECT DISTINCT * FROM ").sub(in).text(" AS t").node("", ""), nil
		}
		return newBuilder().text("SELECT DISTINCT ON (").caller(identList(cols)).text(") * FROM ").sub(in).text(" AS t").node("", ""), nil
	})
}

// Distinct keeps distinct rows.
func (f *Frame) Distinct() *Frame {
	return f.derive(".Distinct()", func(in *node) (*node, error) {
		return newBuilder().text("SELECT DISTINCT * FROM ").sub(in).text(" AS t").node("", ""), nil
	})
}

// OrderBy sorts by columns or expressions; append " DESC" for descending
// order ("count DESC").
func (f *Frame) OrderBy(cols ...string) *Frame {
	return f.derive(callString(".OrderBy", anys(cols)...), func(in *node) (*node, error) {
		if len(cols) == 0 {
			return nil, wrapf(ErrBadArgument, "OrderBy needs at least one column")
		}
		order := exprList(cols)
		n := newBuilder().text("SELECT * FROM ").sub(in).text(" AS t ORDER BY ").caller(order).node("", "")
		n.ordered, n.order = in, order
		return n, nil
	})
}

// Limit keeps the first n rows (n >= 0).
func (f *Frame) Limit(n int) *Frame {
	return f.derive(callString(".Limit", n), func(in *node) (*node, error) {
		if n < 0 {
			return nil, wrapf(ErrBadArgument, "Limit(%d): the row count cannot be negative", n)
		}
		lim := " LIMIT " + strconv.Itoa(n)
		if in.ordered != nil {
			// ORDER BY and LIMIT in one SELECT lets the engine keep only the
			// top n rows instead of sorting everything.
			return newBuilder().text("SELECT * FROM ").sub(in.ordered).text(" AS t ORDER BY ").caller(in.order).text(lim).node("", ""), nil
		}
		return newBuilder().text("SELECT * FROM ").sub(in).text(" AS t"+lim).node("", ""), nil
	})
}

// Sample keeps each row with probability fraction (0 < fraction <= 1), as
// Spark's sample does. Which rows are kept differs between runs.
func (f *Frame) Sample(fraction float64) *Frame {
	return f.derive(callString(".Sample", fraction), func(in *node) (*node, error) {
		if !(fraction > 0 && fraction <= 1) {
			return nil, wrapf(ErrBadArgument, "Sample(%v): the fraction must be above 0 and at most 1 (0.1 keeps about 10%% of the rows)", fraction)
		}
		pct := strconv.FormatFloat(fraction*100, 'f', -1, 64)
		return newBuilder().text("SELECT * FROM ").sub(in).text(" AS t USING SAMPLE "+pct+" PERCENT (bernoulli)").node("", ""), nil
	})
}

// FillNull replaces NULLs with value in the given columns; with no columns,
// in every column whose type fits the value (numbers for a number, text for a
// string, booleans for a bool), as Spark's fillna. The form without columns
// reads the frame's schema, so it runs a query that binds the frame.
func (f *Frame) FillNull(value any, cols ...string) *Frame {
	return f.derive(callString(".FillNull", append([]any{value}, anys(cols)...)...), func(in *node) (*node, error) {
		v, err := normalizeArg(value)
		if err != nil {
			return nil, err
		}
		if _, isList := v.([]any); isList || v == nil {
			return nil, wrapf(ErrBadArgument, "FillNull needs a single non-nil value, got %T", value)
		}
		if len(cols) == 0 {
			schema, err := f.lake.schemaOf(nil, in)
			if err != nil {
				return nil, err
			}
			for _, c := range schema {
				if c.fits(v) {
					cols = append(cols, c.Name)
				}
			}
			if len(cols) == 0 {
				return in, nil
			}
		}
		var repl []string
		var args []any
		for _, c := range cols {
			repl = append(repl, "coalesce("+quoteIdent(c)+", ?) AS "+quoteIdent(c))
			args = append(args, v)
		}
		return newBuilder().text("SELECT * REPLACE (").caller(strings.Join(repl, ", "), args...).text(") FROM ").sub(in).text(" AS t").node("", ""), nil
	})
}

// Union appends the rows of other, matching columns by name (a column
// missing on one side is NULL there); duplicates are kept, as in Spark's
// union.
func (f *Frame) Union(other *Frame) *Frame {
	return f.derive(callString(".Union", other), func(in *node) (*node, error) {
		on, ol, err := other.snapshot()
		if err != nil {
			return nil, fmt.Errorf("the other frame: %w", err)
		}
		if ol != f.lake {
			return nil, wrapf(ErrBadArgument, "the other frame belongs to another lake")
		}
		return newBuilder().text("SELECT * FROM ").sub(in).text(" UNION ALL BY NAME SELECT * FROM ").sub(on).node("", ""), nil
	})
}

// Join joins other to f. on is a column name or a comma-separated list of
// names present in both frames (the join keys then appear once), or an SQL
// condition in which the left frame is l and the right frame r
// ("l.src_address = r.ip"). how is inner, left, right, full (also outer,
// left_outer, right_outer, full_outer), semi or anti; empty means inner.
func (f *Frame) Join(other *Frame, on, how string) *Frame {
	return f.derive(callString(".Join", other, on, how), func(in *node) (*node, error) {
		kind, err := joinKind(how)
		if err != nil {
			return nil, err
		}
		on = strings.TrimSpace(on)
		if on == "" {
			return nil, wrapf(ErrBadArgument, "Join needs the column(s) or condition to join on")
		}
		rn, rl, err := other.snapshot()
		if err != nil {
			return nil, fmt.Errorf("the other frame: %w", err)
		}
		if rl != f.lake {
			return nil, wrapf(ErrBadArgument, "the other frame belongs to another lake")
		}
		b := newBuilder().text("SELECT * FROM ").sub(in).text(" AS l " + kind + " JOIN ").sub(rn).text(" AS r ")
		if names := strings.Split(on, ","); allSimple(names) {
			b.text("USING (").caller(identList(names)).text(")")
		} else {
			b.text("ON (").caller(on).text("\n)")
		}
		return b.node("", ""), nil
	})
}

func joinKind(how string) (string, error) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(how), " ", "_")) {
	case "", "inner":
		return "INNER", nil
	case "left", "left_outer", "leftouter":
		return "LEFT", nil
	case "right", "right_outer", "rightouter":
		return "RIGHT", nil
	case "full", "outer", "full_outer", "fullouter":
		return "FULL", nil
	case "semi", "left_semi", "leftsemi":
		return "SEMI", nil
	case "anti", "left_anti", "leftanti":
		return "ANTI", nil
	}
	return "", wrapf(ErrBadArgument, "unknown join type %q: use inner, left, right, full, semi or anti", how)
}

// GroupBy groups rows by columns or expressions for an aggregation:
// GroupBy("source", "destination").Count(). With no columns the aggregation
// covers the whole frame.
func (f *Frame) GroupBy(cols ...string) *GroupedFrame {
	return &GroupedFrame{f: f, cols: cols}
}

// GroupedFrame is a Frame grouped by columns, waiting for an aggregation.
// Its methods return Frames and are safe for concurrent use.
type GroupedFrame struct {
	f    *Frame
	cols []string
}

// Count counts the rows of each group into a column named count.
func (g *GroupedFrame) Count() *Frame {
	return g.agg(".Count()", []string{`count(*) AS "count"`}, false)
}

// Agg computes SQL aggregate expressions per group, for example
// Agg("count(*) AS flows", "sum(bytes) AS bytes", "count(DISTINCT dst_port) AS ports").
func (g *GroupedFrame) Agg(exprs ...string) *Frame {
	return g.agg(callString(".Agg", anys(exprs)...), exprs, true)
}

// Sum adds up each column per group, into columns named sum(col).
func (g *GroupedFrame) Sum(cols ...string) *Frame { return g.simple("Sum", "sum", cols) }

// Avg averages each column per group, into columns named avg(col).
func (g *GroupedFrame) Avg(cols ...string) *Frame { return g.simple("Avg", "avg", cols) }

// Min takes each column's minimum per group, into columns named min(col).
func (g *GroupedFrame) Min(cols ...string) *Frame { return g.simple("Min", "min", cols) }

// Max takes each column's maximum per group, into columns named max(col).
func (g *GroupedFrame) Max(cols ...string) *Frame { return g.simple("Max", "max", cols) }

func (g *GroupedFrame) simple(method, fn string, cols []string) *Frame {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = fn + "(" + quoteIdent(c) + ") AS " + quoteIdent(fn+"("+c+")")
	}
	call := callString("."+method, anys(cols)...)
	if len(cols) == 0 {
		return g.frame().derive(call, func(*node) (*node, error) {
			return nil, wrapf(ErrBadArgument, "%s needs at least one column", method)
		})
	}
	return g.agg(call, exprs, true)
}

func (g *GroupedFrame) frame() *Frame {
	if g == nil {
		return nil
	}
	return g.f
}

func (g *GroupedFrame) agg(aggCall string, exprs []string, userExprs bool) *Frame {
	f := g.frame()
	var cols []string
	if g != nil {
		cols = g.cols
	}
	call := callString(".GroupBy", anys(cols)...) + aggCall
	return f.derive(call, func(in *node) (*node, error) {
		if len(exprs) == 0 {
			return nil, wrapf(ErrBadArgument, "Agg needs at least one aggregate expression, such as \"count(*) AS n\"")
		}
		b := newBuilder().text("SELECT ")
		list := exprList(cols)
		aggs := strings.Join(exprs, ", ")
		switch {
		case len(cols) > 0 && userExprs:
			b.text(list + ", ").caller(aggs)
		case len(cols) > 0:
			b.caller(list).text(", " + aggs)
		case userExprs:
			b.caller(aggs)
		default:
			b.text(aggs)
		}
		b.text(" FROM ").sub(in).text(" AS t")
		if len(cols) > 0 {
			pos := make([]string, len(cols))
			for i := range cols {
				pos[i] = strconv.Itoa(i + 1)
			}
			b.text(" GROUP BY " + strings.Join(pos, ", "))
		}
		return b.node("", ""), nil
	})
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func exprList(cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = columnExpr(c)
	}
	return strings.Join(parts, ", ")
}

func identList(cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = quoteIdent(strings.TrimSpace(c))
	}
	return strings.Join(parts, ", ")
}

func allSimple(names []string) bool {
	for _, n := range names {
		if !isSimpleName(strings.TrimSpace(n)) {
			return false
		}
	}
	return true
}
