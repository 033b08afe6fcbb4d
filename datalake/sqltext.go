package datalake

import (
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// token positions found by scanSQL.
type sqlScan struct {
	marks []placeholder // placeholders in order of appearance
	semis []int         // statement-ending semicolons outside strings/comments
	end   int           // end of the last non-blank, non-comment text
}

// placeholder is one "?" or "$n" in SQL text.
type placeholder struct {
	start, end int
	n          int // 0 for "?", else the n of "$n"
}

// scanSQL finds placeholders and semicolons in SQL text, skipping string
// literals ('...', E'...', $tag$...$tag$), quoted identifiers and comments
// (-- to end of line, nested /* */). Unterminated strings or comments run to
// the end of the text; the engine reports them.
func scanSQL(s string) sqlScan {
	var out sqlScan
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\'':
			escapes := i > 0 && (s[i-1] == 'e' || s[i-1] == 'E') && (i < 2 || !isIdentByte(s[i-2]))
			i = skipQuoted(s, i, '\'', escapes)
			out.end = i
		case c == '"':
			i = skipQuoted(s, i, '"', false)
			out.end = i
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			depth := 0
			for i < len(s) {
				if s[i] == '/' && i+1 < len(s) && s[i+1] == '*' {
					depth++
					i += 2
				} else if s[i] == '*' && i+1 < len(s) && s[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '$':
			// $n placeholder, or $tag$ ... $tag$ string.
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j > i+1 && (j == len(s) || !isIdentByte(s[j])) {
				n, _ := strconv.Atoi(s[i+1 : j])
				out.marks = append(out.marks, placeholder{i, j, max(n, 1)})
				i = j
				out.end = i
				continue
			}
			k := i + 1
			for k < len(s) && isIdentByte(s[k]) && !(k == i+1 && s[k] >= '0' && s[k] <= '9') {
				k++
			}
			if k < len(s) && s[k] == '$' && (i == 0 || !isIdentByte(s[i-1])) {
				tag := s[i : k+1]
				if e := strings.Index(s[k+1:], tag); e >= 0 {
					i = k + 1 + e + len(tag)
				} else {
					i = len(s)
				}
				out.end = i
				continue
			}
			i++
			out.end = i
		case c == '?':
			out.marks = append(out.marks, placeholder{i, i + 1, 0})
			i++
			out.end = i
		case c == ';':
			out.semis = append(out.semis, i)
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			i++
			out.end = i
		}
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// skipQuoted returns the index after the quoted text starting at s[i].
// A doubled quote is an escaped quote; with escapes, so is a backslash.
func skipQuoted(s string, i int, q byte, escapes bool) int {
	i++
	for i < len(s) {
		switch {
		case escapes && s[i] == '\\':
			i += 2
		case s[i] == q:
			if i+1 < len(s) && s[i+1] == q {
				i += 2
				continue
			}
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

// prepareSQL checks that text is one statement, removes trailing semicolons
// and comments, turns "$n" placeholders into "?" in order of appearance, and
// expands slice arguments: "x IN ?" with []string{"a","b"} becomes
// "x IN (?, ?)" (an empty slice becomes an empty subquery, so IN is false
// and NOT IN true). Errors wrap ErrBadArgument.
func prepareSQL(text string, args []any) (string, []any, error) {
	sc := scanSQL(text)
	for _, p := range sc.semis {
		if p < sc.end {
			return "", nil, wrapf(ErrBadArgument, "SQL takes one statement, and this text has a ';' before its end (at byte %d): run statements one call at a time", p)
		}
	}
	text = strings.TrimRightFunc(text[:sc.end], isSpace)
	sc.marks = trimMarks(sc.marks, len(text))
	if strings.TrimSpace(text) == "" {
		return "", nil, wrapf(ErrBadArgument, "the SQL text is empty")
	}
	var dollar, question int
	for _, m := range sc.marks {
		if m.n > 0 {
			dollar++
		} else {
			question++
		}
	}
	if dollar > 0 && question > 0 {
		return "", nil, wrapf(ErrBadArgument, "the SQL mixes ? and $n placeholders: use one style")
	}
	// Order the arguments as the placeholders appear.
	ordered := args
	if dollar > 0 {
		ordered = make([]any, 0, len(sc.marks))
		used := make([]bool, len(args))
		for _, m := range sc.marks {
			if m.n > len(args) {
				return "", nil, wrapf(ErrBadArgument, "the SQL uses $%d but %d argument(s) were given", m.n, len(args))
			}
			ordered = append(ordered, args[m.n-1])
			used[m.n-1] = true
		}
		for i, u := range used {
			if !u {
				return "", nil, wrapf(ErrBadArgument, "argument %d is not used by any $n placeholder", i+1)
			}
		}
	} else if len(sc.marks) != len(args) {
		return "", nil, wrapf(ErrBadArgument, "the SQL has %d placeholder(s) (?) but %d argument(s) were given", len(sc.marks), len(args))
	}
	var b strings.Builder
	out := make([]any, 0, len(ordered))
	last := 0
	for i, m := range sc.marks {
		b.WriteString(text[last:m.start])
		last = m.end
		v, err := normalizeArg(ordered[i])
		if err != nil {
			return "", nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		list, isList := v.([]any)
		if !isList {
			b.WriteByte('?')
			out = append(out, v)
			continue
		}
		if len(list) == 0 {
			b.WriteString("(SELECT NULL WHERE false)")
			continue
		}
		// "(?)" already has parentheses.
		enclosed := strings.HasSuffix(strings.TrimRightFunc(text[:m.start], isSpace), "(") &&
			strings.HasPrefix(strings.TrimLeftFunc(text[m.end:], isSpace), ")")
		if !enclosed {
			b.WriteByte('(')
		}
		for j, e := range list {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
			out = append(out, e)
		}
		if !enclosed {
			b.WriteByte(')')
		}
	}
	b.WriteString(text[last:])
	return b.String(), out, nil
}

func trimMarks(m []placeholder, n int) []placeholder {
	out := m[:0:0]
	for _, p := range m {
		if p.end <= n {
			out = append(out, p)
		}
	}
	return out
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// normalizeArg turns an argument into a value every engine binds: named
// basic types become their base type, IP addresses become text, slices
// (except []byte) become []any of normalised elements.
func normalizeArg(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, []byte, time.Time,
		int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64:
		return x, nil
	case uint:
		return uint64(x), nil
	case time.Duration:
		return x, nil
	case netip.Addr:
		return x.String(), nil
	case net.IP:
		return x.String(), nil
	case netip.Prefix:
		return x.String(), nil
	case fmt.Stringer:
		if rv := reflect.ValueOf(v); rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return x.String(), nil
		}
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			e, err := normalizeArg(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			if _, nested := e.([]any); nested {
				return nil, wrapf(ErrBadArgument, "a slice of slices cannot be an SQL value")
			}
			out[i] = e
		}
		return out, nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return normalizeArg(rv.Elem().Interface())
	}
	return nil, wrapf(ErrBadArgument, "a %T cannot be an SQL value: pass a number, string, bool, time.Time, []byte or a slice of them", v)
}

// inlineArgs replaces the "?" placeholders of prepared SQL with literals, for
// statements engines cannot prepare (CREATE VIEW, CREATE TABLE AS, COPY).
func inlineArgs(text string, args []any) (string, error) {
	if len(args) == 0 {
		return text, nil
	}
	sc := scanSQL(text)
	if len(sc.marks) != len(args) {
		return "", wrapf(ErrBadArgument, "internal: %d placeholders for %d arguments", len(sc.marks), len(args))
	}
	var b strings.Builder
	last := 0
	for i, m := range sc.marks {
		b.WriteString(text[last:m.start])
		lit, err := sqlLiteral(args[i])
		if err != nil {
			return "", err
		}
		b.WriteString(lit)
		last = m.end
	}
	b.WriteString(text[last:])
	return b.String(), nil
}

// sqlLiteral writes v as a DuckDB/standard SQL literal of the type binding
// would give it.
func sqlLiteral(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case bool:
		if x {
			return "TRUE", nil
		}
		return "FALSE", nil
	case string:
		return quoteString(x)
	case []byte:
		return "'\\x" + hexPairs(x) + "'::BLOB", nil
	case time.Time:
		return "TIMESTAMPTZ '" + x.UTC().Format("2006-01-02 15:04:05.999999") + "+00'", nil
	case time.Duration:
		return fmt.Sprintf("to_microseconds(%d)", x.Microseconds()), nil
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return floatLiteral(float64(x)), nil
	case float64:
		return floatLiteral(x), nil
	}
	return "", wrapf(ErrBadArgument, "a %T cannot be an SQL value", v)
}

func floatLiteral(f float64) string {
	switch {
	case math.IsNaN(f):
		return "'NaN'::DOUBLE"
	case math.IsInf(f, 1):
		return "'Infinity'::DOUBLE"
	case math.IsInf(f, -1):
		return "'-Infinity'::DOUBLE"
	}
	return strconv.FormatFloat(f, 'g', -1, 64) + "::DOUBLE"
}

func hexPairs(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var s strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			s.WriteString("\\x")
		}
		s.WriteString(h[i : i+2])
	}
	return s.String()
}

// quoteString quotes s as an SQL string literal. NUL cannot be represented.
func quoteString(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", wrapf(ErrBadArgument, "a string holding a NUL character cannot be an SQL value")
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}

// quoteIdent quotes a column or table name.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// isSimpleName reports whether s is a bare column name (letters, digits,
// underscores, not starting with a digit). Such names are quoted, so
// reserved words work as column names; anything else is an SQL expression.
func isSimpleName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// columnExpr renders a column argument: a bare name is quoted, anything else
// is used as an SQL expression.
func columnExpr(s string) string {
	s = strings.TrimSpace(s)
	if isSimpleName(s) {
		return quoteIdent(s)
	}
	return s
}
