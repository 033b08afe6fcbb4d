package datalake

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPrepareSQL(t *testing.T) {
	type port int
	tests := []struct {
		name     string
		text     string
		args     []any
		wantSQL  string
		wantArgs []any
	}{
		{"no placeholders", "SELECT 1", nil, "SELECT 1", []any{}},
		{"trailing semicolons and comment", "SELECT 1;; -- done\n", nil, "SELECT 1", []any{}},
		{"question marks", "x > ? AND y = ?", []any{1, "a"}, "x > ? AND y = ?", []any{1, "a"}},
		{"in strings, identifiers and comments", `'?' || "a?b" || ? -- ?` + "\n/* ? /* ? */ */ = ?", []any{1, 2}, `'?' || "a?b" || ? -- ?` + "\n/* ? /* ? */ */ = ?", []any{1, 2}},
		{"escaped quote", `'it''s ?' = ?`, []any{1}, `'it''s ?' = ?`, []any{1}},
		{"E string", `E'\'?' = ?`, []any{1}, `E'\'?' = ?`, []any{1}},
		{"dollar quoted", `$$ ? $$ = ? AND $t$ ? $t$ = ?`, []any{1, 2}, `$$ ? $$ = ? AND $t$ ? $t$ = ?`, []any{1, 2}},
		{"numbered", "y = $2 AND x = $1 AND z = $2", []any{"x", "y"}, "y = ? AND x = ? AND z = ?", []any{"y", "x", "y"}},
		{"slice for IN", "port IN ?", []any{[]int{22, 80}}, "port IN (?, ?)", []any{22, 80}},
		{"slice already in parentheses", "port IN ( ? )", []any{[]string{"a", "b", "c"}}, "port IN ( ?, ?, ? )", []any{"a", "b", "c"}},
		{"empty slice", "port NOT IN ?", []any{[]int{}}, "port NOT IN (SELECT NULL WHERE false)", []any{}},
		{"named type", "port = ?", []any{port(22)}, "port = ?", []any{int64(22)}},
		{"address", "ip = ?", []any{netip.MustParseAddr("10.0.0.1")}, "ip = ?", []any{"10.0.0.1"}},
		{"bytes stay a value", "b = ?", []any{[]byte("x")}, "b = ?", []any{[]byte("x")}},
		{"nil pointer", "x = ?", []any{(*int)(nil)}, "x = ?", []any{nil}},
		{"semicolon in a string", "SELECT ';'", nil, "SELECT ';'", []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sql, args, err := prepareSQL(tt.text, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if sql != tt.wantSQL || !reflect.DeepEqual(args, tt.wantArgs) {
				t.Fatalf("prepareSQL = %q %#v, want %q %#v", sql, args, tt.wantSQL, tt.wantArgs)
			}
		})
	}
}

func TestPrepareSQLErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		args []any
		why  string
	}{
		{"two statements", "SELECT 1; SELECT 2", nil, "one statement"},
		{"empty", "  -- nothing\n", nil, "empty"},
		{"too few args", "x = ? AND y = ?", []any{1}, "2 placeholder(s) (?) but 1 argument(s)"},
		{"too many args", "x = 1", []any{1}, "0 placeholder(s)"},
		{"mixed styles", "x = ? AND y = $1", []any{1}, "mixes"},
		{"numbered out of range", "x = $3", []any{1}, "$3"},
		{"unused numbered", "x = $2", []any{1, 2}, "argument 1 is not used"},
		{"unsupported type", "x = ?", []any{struct{}{}}, "cannot be an SQL value"},
		{"nested slice", "x IN ?", []any{[][]int{{1}}}, "slice of slices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := prepareSQL(tt.text, tt.args)
			if !errors.Is(err, ErrBadArgument) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("prepareSQL(%q) = %v, want ErrBadArgument saying %q", tt.text, err, tt.why)
			}
		})
	}
}

func TestSQLLiteral(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "NULL"}, {true, "TRUE"}, {int64(-5), "-5"}, {uint64(7), "7"}, {1.5, "1.5::DOUBLE"},
		{math.NaN(), "'NaN'::DOUBLE"}, {math.Inf(-1), "'-Infinity'::DOUBLE"},
		{"it's", "'it''s'"}, {`back\slash`, `'back\slash'`}, {[]byte{0xde, 0xad}, `'\xDE\xAD'::BLOB`},
		{time.Date(2026, 1, 2, 13, 0, 0, 500000000, time.UTC), "TIMESTAMPTZ '2026-01-02 13:00:00.5+00'"},
		{90 * time.Second, "to_microseconds(90000000)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T %v", tt.in, tt.in), func(t *testing.T) {
			got, err := sqlLiteral(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("sqlLiteral = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := sqlLiteral("a\x00b"); !errors.Is(err, ErrBadArgument) {
		t.Errorf("NUL string: %v", err)
	}
}

func TestInlineArgs(t *testing.T) {
	sql, args, err := prepareSQL("a = ? AND b IN ? AND c = '?'", []any{"x'y", []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := inlineArgs(sql, args)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a = 'x''y' AND b IN (1, 2) AND c = '?'"; got != want {
		t.Fatalf("inlineArgs = %q, want %q", got, want)
	}
}

func FuzzPrepareSQL(f *testing.F) {
	for _, s := range []string{"x = ?", "'?' = $1", "$$?$$", "/* ? */ ?", "a IN ?;", `E'\'' ?`, "-- ?\n?"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, text string, nargs int) {
		nargs = min(max(nargs, 0), 8)
		args := make([]any, nargs)
		for i := range args {
			if i%2 == 0 {
				args[i] = []int{i, i + 1}
			} else {
				args[i] = fmt.Sprint(i)
			}
		}
		sql, bound, err := prepareSQL(text, args)
		if err != nil {
			if !errors.Is(err, ErrBadArgument) {
				t.Fatalf("error %v does not wrap ErrBadArgument", err)
			}
			return
		}
		// The output's placeholders match its arguments one to one, and it
		// can be inlined.
		if n := len(scanSQL(sql).marks); n != len(bound) {
			t.Fatalf("%q -> %q has %d placeholders for %d args", text, sql, n, len(bound))
		}
		if _, err := inlineArgs(sql, bound); err != nil {
			t.Fatalf("inlineArgs(%q): %v", sql, err)
		}
	})
}
