package datalake

import (
	"encoding/hex"
	"fmt"
	"html"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// preview is what a frame shows as a cell's value: the first rows, the
// total row count and the columns.
type preview struct {
	desc  string
	cols  []Column
	rows  [][]any
	total int64
}

// MIMEBundle renders the frame as a cell's value, like toPandas() in a
// notebook: an HTML table of the first rows (Options.PreviewRows) with the
// column names and types and the total row count, and the same as text/plain.
// An errored frame renders its error (the step and the position) instead.
// The kernel finds this method structurally. Safe for concurrent use.
func (f *Frame) MIMEBundle() map[string]any {
	p, err := f.preview()
	if err != nil {
		return map[string]any{
			"text/html":  renderErrorHTML(err),
			"text/plain": "Error: " + err.Error(),
		}
	}
	return map[string]any{
		"text/html":  p.html(),
		"text/plain": p.text(),
	}
}

// preview runs the frame with a LIMIT one past the preview size; only when
// the frame has more rows does it count them, so small results (the usual
// end of an analysis) cost one query.
func (f *Frame) preview() (preview, error) {
	n, l, err := f.snapshot()
	if err != nil {
		return preview{}, err
	}
	limit := l.opts.PreviewRows
	t := newBuilder().text("SELECT * FROM ").sub(n).text(" AS t LIMIT "+strconv.Itoa(limit+1)).node(".show()", n.desc)
	p := preview{desc: n.desc}
	err = l.query(t, func(r Rows) error {
		p.cols = r.Columns()
		for r.Next() {
			vals := make([]any, len(p.cols))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				return err
			}
			p.rows = append(p.rows, vals)
		}
		return nil
	})
	if err != nil {
		return preview{}, err
	}
	p.total = int64(len(p.rows))
	if len(p.rows) > limit {
		p.rows = p.rows[:limit]
		if p.total, err = f.Count(); err != nil {
			return preview{}, err
		}
	}
	return p, nil
}

// formatValue renders one value for a table cell.
func formatValue(v any) string {
	const maxLen = 120
	var s string
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		s = x
	case []byte:
		if len(x) > 32 {
			s = `\x` + hex.EncodeToString(x[:32]) + "…"
		} else {
			s = `\x` + hex.EncodeToString(x)
		}
	case time.Time:
		s = x.UTC().Format("2006-01-02 15:04:05.999999")
		if x.Location() == time.UTC || x.Location() == nil {
			s += " UTC"
		}
	case float64:
		s = formatFloat(x)
	case float32:
		s = formatFloat(float64(x))
	case bool:
		s = strconv.FormatBool(x)
	case *big.Int:
		s = x.String()
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + formatValue(x[k])
		}
		s = "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		s = "[" + strings.Join(parts, ", ") + "]"
	default:
		s = fmt.Sprint(x)
	}
	if utf8.RuneCountInString(s) > maxLen {
		s = string([]rune(s)[:maxLen]) + "…"
	}
	return s
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// numeric reports whether a column type is right-aligned.
func numeric(typ string) bool {
	t := strings.ToUpper(typ)
	return strings.Contains(t, "INT") || t == "DOUBLE" || t == "FLOAT" || t == "REAL" || strings.HasPrefix(t, "DECIMAL")
}

func (p preview) summary() string {
	return fmt.Sprintf("%s rows × %d columns", groupDigits(p.total), len(p.cols))
}

func (p preview) shownNote() string {
	if int64(len(p.rows)) < p.total {
		return fmt.Sprintf("showing the first %d of %s rows", len(p.rows), groupDigits(p.total))
	}
	return ""
}

func (p preview) html() string {
	var b strings.Builder
	b.WriteString(`<div class="flowlab-frame">` + "\n")
	b.WriteString(`<table border="1" class="dataframe">` + "\n<thead>\n<tr style=\"text-align: right;\">")
	for _, c := range p.cols {
		b.WriteString("<th>" + html.EscapeString(c.Name) + "</th>")
	}
	b.WriteString("</tr>\n<tr style=\"text-align: right;\">")
	for _, c := range p.cols {
		b.WriteString(`<th style="font-weight: normal; font-style: italic;">` + html.EscapeString(strings.ToLower(c.Type)) + "</th>")
	}
	b.WriteString("</tr>\n</thead>\n<tbody>\n")
	for _, r := range p.rows {
		b.WriteString("<tr>")
		for i, v := range r {
			style := ""
			if numeric(p.cols[i].Type) {
				style = ` style="text-align: right;"`
			}
			if v == nil {
				b.WriteString(`<td style="color: #999;">NULL</td>`)
				continue
			}
			b.WriteString("<td" + style + ">" + html.EscapeString(formatValue(v)) + "</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n<p>" + html.EscapeString(p.summary()))
	if note := p.shownNote(); note != "" {
		b.WriteString(" (" + html.EscapeString(note) + ")")
	}
	b.WriteString("</p>\n</div>")
	return b.String()
}

func (p preview) text() string {
	cells := make([][]string, 0, len(p.rows)+2)
	head := make([]string, len(p.cols))
	types := make([]string, len(p.cols))
	for i, c := range p.cols {
		head[i], types[i] = c.Name, strings.ToLower(c.Type)
	}
	cells = append(cells, head, types)
	for _, r := range p.rows {
		line := make([]string, len(r))
		for i, v := range r {
			line[i] = strings.NewReplacer("\n", `\n`, "\t", " ").Replace(formatValue(v))
		}
		cells = append(cells, line)
	}
	width := make([]int, len(p.cols))
	for _, line := range cells {
		for i, s := range line {
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	var b strings.Builder
	for li, line := range cells {
		for i, s := range line {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
			if li >= 2 && numeric(p.cols[i].Type) {
				b.WriteString(pad + s)
			} else if i < len(line)-1 {
				b.WriteString(s + pad)
			} else {
				b.WriteString(s)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("[" + p.summary())
	if note := p.shownNote(); note != "" {
		b.WriteString("; " + note)
	}
	b.WriteString("]")
	return b.String()
}

func renderErrorHTML(err error) string {
	return `<pre class="flowlab-error" style="color: #b00; white-space: pre-wrap;">` + html.EscapeString("Error: "+err.Error()) + "</pre>"
}

// groupDigits writes n with thousands separators: 1,234,567.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatPlain renders a value without truncation, for exports.
func formatPlain(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return fmt.Sprint(v)
}
