package datalake

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// query runs the statement of node n (a terminal node built over a frame's
// node) and hands its rows to fn. Errors are mapped back to the step that
// caused them.
func (l *Lake) query(n *node, fn func(Rows) error) error {
	return l.queryCtx(nil, n, fn)
}

// queryCtx is query that also stops when the caller's ctx ends (nil: only
// on Interrupt or Close); the error then wraps ctx's error.
func (l *Lake) queryCtx(caller context.Context, n *node, fn func(Rows) error) error {
	eng, ctx, done, err := l.engineFor(caller)
	if err != nil {
		return err
	}
	defer done()
	mapErr := func(err error) error {
		if caller != nil && caller.Err() != nil {
			return fmt.Errorf("%s: %w", n.desc, caller.Err())
		}
		return l.mapErr(ctx, n, err)
	}
	start := time.Now()
	rows, err := eng.Query(ctx, n.sql, n.args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	if err := fn(rows); err != nil {
		if errors.Is(err, ErrTooManyRows) {
			return err
		}
		return mapErr(err)
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	l.log.Debug("datalake query", "step", n.call, "took", time.Since(start))
	return nil
}

// execInline runs a statement that cannot take placeholders, with its
// arguments written as literals.
func (l *Lake) execInline(n *node) error {
	return l.runInline(n, func(ctx context.Context, eng Engine, text string) error {
		return eng.Exec(ctx, text)
	})
}

// materialize keeps the rows of frame node n in a new engine table called
// name and returns how SQL refers to it: through the engine's Materializer
// when it has one, as a temporary table otherwise.
func (l *Lake) materialize(n *node, name string) (string, error) {
	eng, _, err := l.engine()
	if err != nil {
		return "", err
	}
	call, desc := ".Persist()", n.desc+".Persist()"
	m, ok := eng.(Materializer)
	if !ok {
		table := quoteIdent(name)
		stmt := newBuilder().text("CREATE TEMP TABLE "+table+" AS SELECT * FROM ").sub(n).text(" AS t").node(call, desc)
		return table, l.execInline(stmt)
	}
	var table string
	stmt := newBuilder().text("SELECT * FROM ").sub(n).text(" AS t").node(call, desc)
	err = l.runInline(stmt, func(ctx context.Context, _ Engine, text string) error {
		var err error
		table, err = m.Materialize(ctx, name, text)
		return err
	})
	return table, err
}

// runInline writes n's arguments into its SQL as literals and hands the
// text to run, mapping its errors back to n.
func (l *Lake) runInline(n *node, run func(ctx context.Context, eng Engine, text string) error) error {
	eng, ctx, err := l.engine()
	if err != nil {
		return err
	}
	text, err := inlineArgs(n.sql, n.args)
	if err != nil {
		return err
	}
	// The inlined text is longer than the original; positions in it cannot
	// be traced back to steps, so errors are mapped without them.
	if err := run(ctx, eng, text); err != nil {
		var qe *QueryError
		if errors.As(err, &qe) && text != n.sql {
			c := *qe
			c.Position = -1
			c.Query = ""
			err = &c
		}
		return l.mapErr(ctx, n, err)
	}
	return nil
}

var errInterrupted = wrapf(ErrInterrupted, "the query was interrupted; the kernel and its frames are kept")

// mapErr turns an engine error into the package's: interrupts wrap
// ErrInterrupted; a *QueryError gets the step and the caller's own text at
// the position, lake paths instead of host paths, and a hint.
func (l *Lake) mapErr(ctx context.Context, n *node, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrInterrupted) {
		return errInterrupted
	}
	var qe *QueryError
	if !errors.As(err, &qe) {
		return fmt.Errorf("%s: %w", n.desc, err)
	}
	out := *qe
	out.Message = l.lakePaths(out.Message)
	if out.File == "" {
		out.File = l.fileIn(qe.Message)
	}
	if out.Position >= 0 && out.Position < len(n.sql) && out.Query == n.sql {
		step, pos := n.locate(out.Position)
		out.Step = step.call
		if step.user.start >= 0 && pos >= step.user.start && pos <= step.user.end {
			out.Query = step.sql[step.user.start:step.user.end]
			out.Position = pos - step.user.start
		} else {
			out.Query = l.lakePaths(step.sql)
			out.Position = pos
		}
	} else {
		out.Step = n.desc
		out.Query = l.lakePaths(out.Query)
		out.Position = -1
		if out.File != "" {
			out.Query = ""
		}
	}
	out.Hint = l.hint(&out)
	return &out
}

// lakePaths rewrites host paths of lake files in s as lake paths.
func (l *Lake) lakePaths(s string) string {
	return strings.ReplaceAll(s, l.hostRoot+"/", "/")
}

var quotedPath = regexp.MustCompile(`["']([^"']+)["']`)

// fileIn returns the lake path of the first lake file named in msg.
func (l *Lake) fileIn(msg string) string {
	for _, m := range quotedPath.FindAllStringSubmatch(msg, -1) {
		if rel, ok := strings.CutPrefix(m[1], l.hostRoot+"/"); ok {
			if _, known := formatOfFile(rel); known {
				return "/" + rel
			}
		}
	}
	return ""
}

var missingTable = regexp.MustCompile(`Table with name ([^ ]+) does not exist`)

// hint says what to do about a query error, when the package knows.
func (l *Lake) hint(e *QueryError) string {
	if e.File != "" {
		hour := ""
		if i := strings.Index(e.File, "/dt="); i >= 0 {
			hour = " (" + strings.TrimPrefix(e.File[i:], "/") + ")"
		}
		return fmt.Sprintf("the data file %s cannot be decoded: it is damaged or not in the format read. Move it out of the lake or publish the hour again; until then read a time range without that hour%s.", e.File, hour)
	}
	m := missingTable.FindStringSubmatch(e.Message)
	if m == nil {
		return ""
	}
	name := strings.Trim(m[1], `"'!`)
	if strings.HasPrefix(name, persistPrefix) {
		return "this frame was built from a persisted frame that has since been unpersisted: build it again"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for reg, err := range l.failedReg {
		if strings.EqualFold(reg, name) {
			return fmt.Sprintf("%s was not registered because an earlier RegisterTempTable(%q) failed: %v", reg, reg, err)
		}
	}
	var known []string
	for v := range l.views {
		known = append(known, v)
	}
	if len(known) == 0 {
		return fmt.Sprintf("register a frame under that name first: IO.Read(...).RegisterTempTable(%q)", name)
	}
	return fmt.Sprintf("registered tables: %s; register a frame under that name with RegisterTempTable(%q)", strings.Join(nearest(name, known, 5), ", "), name)
}

// terminal builds the statement of a terminal call over frame f: prefix,
// the frame as a subquery aliased t, then suffix.
func (f *Frame) terminal(call, prefix, suffix string) (*node, *Lake, error) {
	n, l, err := f.snapshot()
	if err != nil {
		return nil, nil, err
	}
	t := newBuilder().text(prefix).sub(n).text(" AS t"+suffix).node(call, n.desc+call)
	return t, l, nil
}

// Count returns the number of rows.
func (f *Frame) Count() (int64, error) {
	t, l, err := f.terminal(".Count()", "SELECT count(*) FROM ", "")
	if err != nil {
		return 0, err
	}
	var c int64
	err = l.query(t, func(r Rows) error {
		if !r.Next() {
			return r.Err()
		}
		return r.Scan(&c)
	})
	return c, err
}

// Row is one row of a frame, by column name.
type Row map[string]any

// Collect returns every row as a map from column name to value. Values are
// Go values: int64 (and the other integer sizes), float64, string, bool,
// time.Time (UTC), time.Duration, []byte, []any, map[string]any, or nil for
// NULL. It returns ErrTooManyRows past Options.MaxCollectRows: aggregate or
// Limit the frame first.
func (f *Frame) Collect() ([]Row, error) {
	cols, rows, err := f.rows(nil, ".Collect()")
	if err != nil {
		return nil, err
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		m := make(Row, len(cols))
		for j, c := range cols {
			m[c.Name] = r[j]
		}
		out[i] = m
	}
	return out, nil
}

// Rows returns every row as a slice of values in column order (see Columns),
// with the value types of Collect. It returns ErrTooManyRows past
// Options.MaxCollectRows.
func (f *Frame) Rows() ([][]any, error) {
	_, rows, err := f.rows(nil, ".Rows()")
	return rows, err
}

// rows runs the frame and returns its columns and rows; ctx as for
// Lake.queryCtx.
func (f *Frame) rows(ctx context.Context, call string) ([]Column, [][]any, error) {
	n, l, err := f.snapshot()
	if err != nil {
		return nil, nil, err
	}
	t := newBuilder().text("SELECT * FROM ").sub(n).text(" AS t").node(call, n.desc+call)
	var cols []Column
	var out [][]any
	err = l.queryCtx(ctx, t, func(r Rows) error {
		cols = r.Columns()
		for r.Next() {
			if len(out) >= l.opts.MaxCollectRows {
				return tooMany(n, l.opts.MaxCollectRows)
			}
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				return err
			}
			out = append(out, vals)
		}
		return nil
	})
	return cols, out, err
}

func tooMany(n *node, max int) error {
	return wrapf(ErrTooManyRows, "%s has more than %d rows, more than a cell should hold: aggregate it (GroupBy), Filter it, or Limit it first", n.desc, max)
}

// Strings returns column col as strings (NULL as ""). Values of other types
// are cast to text by the engine.
func (f *Frame) Strings(col string) ([]string, error) {
	var out []string
	err := f.column(".Strings", col, "coalesce(CAST(%s AS VARCHAR), '')", func(r Rows) error {
		var s string
		if err := r.Scan(&s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// Int64s returns column col as int64s (NULL as 0). The engine casts other
// numeric types and fails on values that do not fit.
func (f *Frame) Int64s(col string) ([]int64, error) {
	var out []int64
	err := f.column(".Int64s", col, "coalesce(CAST(%s AS BIGINT), 0)", func(r Rows) error {
		var v int64
		if err := r.Scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// Float64s returns column col as float64s (NULL as NaN).
func (f *Frame) Float64s(col string) ([]float64, error) {
	var out []float64
	err := f.column(".Float64s", col, "coalesce(CAST(%s AS DOUBLE), 'NaN'::DOUBLE)", func(r Rows) error {
		var v float64
		if err := r.Scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func (f *Frame) column(method, col, expr string, scan func(Rows) error) error {
	call := callString(method, col)
	t, l, err := f.terminal(call, "SELECT "+fmt.Sprintf(expr, quoteIdent(col))+" FROM ", "")
	if err != nil {
		return err
	}
	t.user = span{len("SELECT "), len("SELECT ") + len(fmt.Sprintf(expr, quoteIdent(col)))}
	count := 0
	return l.query(t, func(r Rows) error {
		for r.Next() {
			if count++; count > l.opts.MaxCollectRows {
				return tooMany(t, l.opts.MaxCollectRows)
			}
			if err := scan(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// Stats summarises a numeric column: count of non-NULL values, mean, sample
// standard deviation, min and max. Mean, Stdev, Min and Max are NaN when
// there are too few values.
type Stats struct {
	Column string
	Count  int64
	Mean   float64
	Stdev  float64
	Min    float64
	Max    float64
}

// String formats the statistics on one line.
func (s Stats) String() string {
	return fmt.Sprintf("%s: count=%d mean=%g stdev=%g min=%g max=%g", s.Column, s.Count, s.Mean, s.Stdev, s.Min, s.Max)
}

// Stats computes Stats of column col in the engine (one pass, no rows
// leave it).
func (f *Frame) Stats(col string) (Stats, error) {
	q := quoteIdent(col)
	d := "CAST(" + q + " AS DOUBLE)"
	sel := fmt.Sprintf("count(%s), avg(%s), stddev_samp(%s), min(%s), max(%s)", q, d, d, d, d)
	t, l, err := f.terminal(callString(".Stats", col), "SELECT "+sel+" FROM ", "")
	if err != nil {
		return Stats{}, err
	}
	t.user = span{len("SELECT "), len("SELECT ") + len(sel)}
	s := Stats{Column: col}
	err = l.query(t, func(r Rows) error {
		if !r.Next() {
			return r.Err()
		}
		var vals [5]any
		if err := r.Scan(&vals[0], &vals[1], &vals[2], &vals[3], &vals[4]); err != nil {
			return err
		}
		s.Count = toInt64(vals[0])
		s.Mean, s.Stdev, s.Min, s.Max = toFloat(vals[1]), toFloat(vals[2]), toFloat(vals[3]), toFloat(vals[4])
		return nil
	})
	return s, err
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint64:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	}
	return math.NaN()
}

// Column describes one column of a frame: its name and the engine's type
// name (VARCHAR, BIGINT, INTEGER, DOUBLE, BOOLEAN, TIMESTAMP WITH TIME ZONE,
// DATE, ...).
type Column struct {
	Name string
	Type string
}

// fits reports whether a FillNull value of v's type suits the column.
func (c Column) fits(v any) bool {
	t := strings.ToUpper(c.Type)
	numeric := strings.Contains(t, "INT") || t == "DOUBLE" || t == "FLOAT" || t == "REAL" || strings.HasPrefix(t, "DECIMAL")
	switch v.(type) {
	case string:
		return t == "VARCHAR" || strings.HasPrefix(t, "VARCHAR")
	case bool:
		return t == "BOOLEAN"
	case float32, float64, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		return numeric
	}
	return false
}

// Schema lists a frame's columns in order.
type Schema []Column

// String formats the schema one column per line, like Spark's printSchema.
func (s Schema) String() string {
	var b strings.Builder
	b.WriteString("root\n")
	for _, c := range s {
		fmt.Fprintf(&b, " |-- %s: %s\n", c.Name, c.Type)
	}
	return b.String()
}

// Schema returns the frame's columns and types. The engine binds the query
// without reading its rows.
func (f *Frame) Schema() (Schema, error) {
	n, l, err := f.snapshot()
	if err != nil {
		return nil, err
	}
	return l.schemaOf(nil, n)
}

// Columns returns the frame's column names, in order.
func (f *Frame) Columns() ([]string, error) {
	s, err := f.Schema()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(s))
	for i, c := range s {
		out[i] = c.Name
	}
	return out, nil
}

// schemaOf returns the columns of frame node n; ctx as for Lake.queryCtx.
func (l *Lake) schemaOf(ctx context.Context, n *node) (Schema, error) {
	t := newBuilder().text("SELECT * FROM ").sub(n).text(" AS t LIMIT 0").node(".Schema()", n.desc+".Schema()")
	var s Schema
	err := l.queryCtx(ctx, t, func(r Rows) error {
		s = append(Schema(nil), r.Columns()...)
		return nil
	})
	return s, err
}

const persistPrefix = "__flowlab_persist_"

// Persist computes the frame once into a table of the engine (compressed
// in memory with DuckDB, see Materializer; a temporary table with engines
// that are not Materializers) and makes the frame (and frames built from it
// afterwards) read that table, as Spark's persist. It returns f. The rows
// are computed now; an error is kept in the frame. Persisting a persisted
// frame does nothing.
func (f *Frame) Persist() *Frame {
	n, l, err := f.snapshot()
	if err != nil {
		return f
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.persisted != "" || f.n != n {
		return f
	}
	name := fmt.Sprintf("%s%d", persistPrefix, l.seq.Add(1))
	table, err := l.materialize(n, name)
	if err != nil {
		f.n = &node{call: ".Persist()", desc: n.desc + ".Persist()", err: err, user: noSpan}
		f.base = n
		return f
	}
	f.base, f.persisted = n, table
	f.n = &node{call: n.desc + ".Persist()", desc: n.desc + ".Persist()", sql: "SELECT * FROM " + table, user: noSpan}
	return f
}

// Unpersist drops the table Persist made and makes the frame compute its
// rows from its sources again. Frames built from the persisted frame stop
// working. It returns f; a frame that is not persisted is returned as is.
func (f *Frame) Unpersist() *Frame {
	if f == nil {
		return f
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.base == nil {
		return f
	}
	if f.persisted != "" {
		if eng, ctx, err := f.lake.engine(); err == nil {
			if err := eng.Exec(ctx, "DROP TABLE IF EXISTS "+f.persisted); err != nil {
				f.lake.log.Warn("datalake unpersist", "table", f.persisted, "err", err)
			}
		}
	}
	f.n, f.base, f.persisted = f.base, nil, ""
	return f
}

// RegisterTempTable makes the frame available to SQL under name, as a view
// of the engine (Spark's registerTempTable): SQL("SELECT ... FROM flows").
// Registering a name again replaces it. The view is resolved when queries
// use it. It returns the frame's error, or an error wrapping ErrBadArgument
// for a name that is not a plain identifier, or ErrQuery when the engine
// rejects the frame; a later SQL that uses the name then explains why the
// name is missing.
func (f *Frame) RegisterTempTable(name string) error {
	call := callString(".RegisterTempTable", name)
	n, l, err := f.snapshot()
	if err != nil {
		if l != nil {
			l.noteRegistration(name, err)
		}
		return err
	}
	if !isSimpleName(name) || strings.HasPrefix(strings.ToLower(name), persistPrefix) {
		err := wrapf(ErrBadArgument, "%s: a table name is letters, digits and underscores, not starting with a digit", call)
		l.noteRegistration(name, err)
		return err
	}
	stmt := newBuilder().text("CREATE OR REPLACE TEMP VIEW "+quoteIdent(name)+" AS SELECT * FROM ").sub(n).text(" AS t").node(call, n.desc+call)
	if err := l.execInline(stmt); err != nil {
		l.noteRegistration(name, err)
		return err
	}
	l.mu.Lock()
	delete(l.failedReg, strings.ToLower(name))
	l.views[name] = n.desc
	l.mu.Unlock()
	return nil
}

func (l *Lake) noteRegistration(name string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failedReg[strings.ToLower(name)] = err
}
