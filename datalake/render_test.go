package datalake

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestRenderPreview(t *testing.T) {
	p := preview{
		desc: "SQL(...)",
		cols: []Column{{"source", "VARCHAR"}, {"count", "BIGINT"}, {"ratio", "DOUBLE"}, {"first_seen", "TIMESTAMP WITH TIME ZONE"}, {"note", "VARCHAR"}},
		rows: [][]any{
			{"10.1.200.66", int64(22), 0.5, time.Date(2026, 1, 2, 13, 4, 5, 123000, time.UTC), `<script>alert("x")</script> & more`},
			{"198.51.100.23", int64(1234567), math.NaN(), time.Date(2026, 1, 2, 13, 0, 0, 0, time.UTC), nil},
			{"2001:db8::1", int64(-3), 1e-9, time.Date(2026, 1, 2, 13, 0, 0, 0, time.UTC), strings.Repeat("long ", 40)},
		},
		total: 1234567,
	}
	golden(t, "render.html.golden", p.html())
	golden(t, "render.txt.golden", p.text())
	if strings.Contains(p.html(), "<script>") {
		t.Fatal("HTML not escaped")
	}
}

func TestRenderError(t *testing.T) {
	err := &QueryError{Step: `.Filter("x < ?", 1)`, Query: "x <<< ?", Position: 2, Kind: "Parser", Message: `syntax error at or near "<"`}
	html := renderErrorHTML(err)
	golden(t, "render_error.html.golden", html)
	if !errors.Is(err, ErrQuery) || errors.Is(err, ErrCorruptFile) {
		t.Fatal("QueryError unwraps wrongly")
	}
	withFile := &QueryError{Message: "bad", Position: -1, File: "/tetration/flows/dt=2026-01-02/hr=13/x.parquet"}
	if !errors.Is(withFile, ErrCorruptFile) || !errors.Is(withFile, ErrQuery) {
		t.Fatal("QueryError with a file must wrap ErrCorruptFile and ErrQuery")
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, "NULL"},
		{"float whole", 3.0, "3.0"},
		{"float", 0.123456789, "0.123457"},
		{"bytes", []byte{1, 2}, `\x0102`},
		{"list", []any{int64(1), "a"}, "[1, a]"},
		{"struct", map[string]any{"b": 2, "a": 1}, "{a: 1, b: 2}"},
		{"duration", 90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatValue(tt.in); got != tt.want {
				t.Errorf("formatValue(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := groupDigits(-1234567); got != "-1,234,567" {
		t.Errorf("groupDigits = %s", got)
	}
}
