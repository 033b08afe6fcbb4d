package datalake

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTimeRange(t *testing.T) {
	h := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006010215", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name   string
		in     string
		kind   rangeKind
		n      int
		from   string
		to     string
		prefix string
	}{
		{"lasthour", "LASTHOUR", rangeLast, 1, "", "", ""},
		{"lasthour lower case", "lasthour", rangeLast, 1, "", "", ""},
		{"last hour spaced", " last  hour ", rangeLast, 1, "", "", ""},
		{"lastday", "LASTDAY", rangeLast, 24, "", "", ""},
		{"last n hours", "LAST 6 HOURS", rangeLast, 6, "", "", ""},
		{"last 1 hour", "LAST 1 HOUR", rangeLast, 1, "", "", ""},
		{"last n days", "LAST 2 DAYS", rangeLast, 48, "", "", ""},
		{"all", "ALL", rangeAll, 0, "", "", ""},
		{"one hour", "202601021300", rangeSpan, 0, "2026010213", "2026010213", ""},
		{"one hour short", "2026010213", rangeSpan, 0, "2026010213", "2026010213", ""},
		{"span", "202601020800-202601021300", rangeSpan, 0, "2026010208", "2026010213", ""},
		{"span spaced", "202601020800 - 202601021300", rangeSpan, 0, "2026010208", "2026010213", ""},
		{"hour parts", "2026010213*", rangePrefix, 0, "", "", "2026010213"},
		{"day", "20260102*", rangePrefix, 0, "", "", "20260102"},
		{"month", "202601*", rangePrefix, 0, "", "", "202601"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseTimeRange(tt.in, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if r.kind != tt.kind || r.n != tt.n || r.prefix != tt.prefix {
				t.Fatalf("got %+v", r)
			}
			if tt.from != "" && (!r.from.Equal(h(tt.from)) || !r.to.Equal(h(tt.to))) {
				t.Fatalf("got %v..%v, want %s..%s", r.from, r.to, tt.from, tt.to)
			}
		})
	}
}

func TestParseTimeRangeErrors(t *testing.T) {
	tests := []struct{ name, in, why string }{
		{"empty", "", "empty"},
		{"word", "YESTERDAY", "not an hour stamp"},
		{"minutes", "202601021330", "end in 00"},
		{"bad month", "202613021300", "not a valid date"},
		{"bad hour", "202601022500", "not a valid date"},
		{"last zero", "LAST 0 HOURS", "between 1 and"},
		{"last unit", "LAST 3 WEEKS", "not HOURS or DAYS"},
		{"last missing unit", "LAST 3", "LAST n HOURS"},
		{"reversed span", "202601021300-202601020800", "END is before START"},
		{"bad span end", "202601021300-2026", "END"},
		{"bad prefix", "2026011*", "YYYY, YYYYMM, YYYYMMDD or YYYYMMDDHH"},
		{"bad prefix month", "202699*", "not a valid partial stamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTimeRange(tt.in, testNow)
			if !errors.Is(err, ErrBadTimeRange) {
				t.Fatalf("parseTimeRange(%q) = %v, want ErrBadTimeRange", tt.in, err)
			}
			msg := err.Error()
			for _, want := range []string{tt.why, "LASTHOUR", "LAST n HOURS", "YYYYMMDDHH00", "START-END", "YYYYMMDDHH*", "ALL", "202601021300"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not say %q:\n%s", want, msg)
				}
			}
		})
	}
}

func TestRangeContains(t *testing.T) {
	r, _ := parseTimeRange("20260102*", testNow)
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if !r.contains(day.Add(23*time.Hour)) || r.contains(day.Add(24*time.Hour)) || !r.dayMayContain(day) || r.dayMayContain(day.Add(24*time.Hour)) {
		t.Error("day prefix")
	}
	r, _ = parseTimeRange("2026010223*", testNow)
	if !r.dayMayContain(day) || r.dayMayContain(day.Add(-24*time.Hour)) || r.contains(day.Add(22*time.Hour)) {
		t.Error("hour prefix")
	}
	r, _ = parseTimeRange("202601012300-202601020100", testNow)
	if !r.dayMayContain(day.Add(-24*time.Hour)) || !r.dayMayContain(day) || r.dayMayContain(day.Add(24*time.Hour)) || !r.contains(day) || r.contains(day.Add(2*time.Hour)) {
		t.Error("span")
	}
}

func FuzzParseTimeRange(f *testing.F) {
	for _, s := range []string{"LASTHOUR", "LAST 5 HOURS", "202601021300", "202601021300-202601031300", "2026010213*", "ALL", "last -1 hours", "--", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseTimeRange(s, testNow)
		if err != nil {
			if !errors.Is(err, ErrBadTimeRange) {
				t.Fatalf("error %v does not wrap ErrBadTimeRange", err)
			}
			return
		}
		switch r.kind {
		case rangeLast:
			if r.n < 1 {
				t.Fatalf("%q: last %d hours", s, r.n)
			}
		case rangeSpan:
			if r.to.Before(r.from) || r.from.Minute() != 0 || r.from.Location() != time.UTC {
				t.Fatalf("%q: span %v..%v", s, r.from, r.to)
			}
		case rangePrefix:
			if !allDigits(r.prefix) {
				t.Fatalf("%q: prefix %q", s, r.prefix)
			}
		case rangeAll:
		default:
			t.Fatalf("%q: kind %d", s, r.kind)
		}
	})
}
