package datalake

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StampLayout is the layout of an hour stamp, "YYYYMMDDHH00", as IO.List
// returns them and time ranges accept them.
const StampLayout = "200601021504"

// Stamp returns the hour stamp of the UTC hour holding t.
func Stamp(t time.Time) string { return t.UTC().Truncate(time.Hour).Format(StampLayout) }

// rangeKind says how a time range picks hours.
type rangeKind int

const (
	rangeLast   rangeKind = iota + 1 // the newest n hours with data, anchored at the newest hour not after now
	rangeSpan                        // hours from..to inclusive
	rangePrefix                      // hours whose stamp starts with prefix
	rangeAll                         // every hour
)

// timeRange is a parsed time range.
type timeRange struct {
	kind     rangeKind
	n        int       // rangeLast: number of hours
	from, to time.Time // rangeSpan: inclusive UTC hours
	prefix   string    // rangePrefix: digits of the stamp
	text     string    // as written
}

// contains reports whether hour h (UTC, truncated) is in a span or prefix
// range; rangeLast is resolved to a span before use.
func (r timeRange) contains(h time.Time) bool {
	switch r.kind {
	case rangeAll:
		return true
	case rangeSpan:
		return !h.Before(r.from) && !h.After(r.to)
	case rangePrefix:
		return strings.HasPrefix(h.Format(StampLayout), r.prefix)
	}
	return false
}

// dayMayContain reports whether any hour of day d (UTC midnight) can be in
// the range, so whole days are skipped without listing them.
func (r timeRange) dayMayContain(d time.Time) bool {
	switch r.kind {
	case rangeAll:
		return true
	case rangeSpan:
		return !d.Add(23*time.Hour).Before(r.from) && !d.After(r.to)
	case rangePrefix:
		ds := d.Format("20060102")
		if len(r.prefix) <= len(ds) {
			return strings.HasPrefix(ds, r.prefix)
		}
		return strings.HasPrefix(r.prefix, ds)
	}
	return false
}

// parseTimeRange parses the forms cells write. now is used for the examples
// in the error message only; "last" ranges are anchored when the dataset is
// listed. The error wraps ErrBadTimeRange and lists every accepted form.
func parseTimeRange(s string, now time.Time) (timeRange, error) {
	t := strings.Join(strings.Fields(strings.ToUpper(s)), " ")
	r := timeRange{text: s}
	bad := func(why string) (timeRange, error) {
		return timeRange{}, fmt.Errorf("%w %q: %s\n%s", ErrBadTimeRange, s, why, acceptedRanges(now))
	}
	switch t {
	case "LASTHOUR", "LAST HOUR":
		r.kind, r.n = rangeLast, 1
		return r, nil
	case "LASTDAY", "LAST DAY":
		r.kind, r.n = rangeLast, 24
		return r, nil
	case "ALL":
		r.kind = rangeAll
		return r, nil
	case "":
		return bad("the time range is empty")
	}
	if rest, ok := strings.CutPrefix(t, "LAST "); ok {
		f := strings.Fields(rest)
		if len(f) != 2 {
			return bad(`write "LAST n HOURS", for example "LAST 6 HOURS"`)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 || n > 24*366*20 {
			return bad(fmt.Sprintf("%q is not a number of hours between 1 and %d", f[0], 24*366*20))
		}
		switch f[1] {
		case "HOUR", "HOURS":
		case "DAY", "DAYS":
			n *= 24
		default:
			return bad(fmt.Sprintf("%q is not HOURS or DAYS", f[1]))
		}
		r.kind, r.n = rangeLast, n
		return r, nil
	}
	if p, ok := strings.CutSuffix(t, "*"); ok {
		if !allDigits(p) || (len(p) != 4 && len(p) != 6 && len(p) != 8 && len(p) != 10) {
			return bad("a partial stamp before '*' is YYYY, YYYYMM, YYYYMMDD or YYYYMMDDHH")
		}
		if _, err := parsePrefix(p); err != nil {
			return bad(err.Error())
		}
		r.kind, r.prefix = rangePrefix, p
		return r, nil
	}
	if a, b, ok := strings.Cut(t, "-"); ok {
		from, err := parseStamp(strings.TrimSpace(a))
		if err != nil {
			return bad("START: " + err.Error())
		}
		to, err := parseStamp(strings.TrimSpace(b))
		if err != nil {
			return bad("END: " + err.Error())
		}
		if to.Before(from) {
			return bad("END is before START")
		}
		r.kind, r.from, r.to = rangeSpan, from, to
		return r, nil
	}
	h, err := parseStamp(t)
	if err != nil {
		return bad(err.Error())
	}
	r.kind, r.from, r.to = rangeSpan, h, h
	return r, nil
}

// parseStamp parses YYYYMMDDHH00 (or YYYYMMDDHH) as a UTC hour.
func parseStamp(s string) (time.Time, error) {
	if !allDigits(s) || (len(s) != 12 && len(s) != 10) {
		return time.Time{}, fmt.Errorf("%q is not an hour stamp YYYYMMDDHH00", s)
	}
	if len(s) == 12 && s[10:] != "00" {
		return time.Time{}, fmt.Errorf("%q: hour stamps end in 00 (partitions are whole hours), so use %s00", s, s[:10])
	}
	t, err := time.Parse("2006010215", s[:10])
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a valid date and hour", s)
	}
	return t.UTC(), nil
}

// parsePrefix checks that a partial stamp is a real year, month, day or hour.
func parsePrefix(p string) (time.Time, error) {
	layouts := map[int]string{4: "2006", 6: "200601", 8: "20060102", 10: "2006010215"}
	t, err := time.Parse(layouts[len(p)], p)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a valid partial stamp", p)
	}
	return t, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// acceptedRanges lists the accepted forms with examples around now.
func acceptedRanges(now time.Time) string {
	h := now.UTC().Truncate(time.Hour)
	cur := h.Format(StampLayout)
	start := h.Add(-5 * time.Hour).Format(StampLayout)
	return "accepted time ranges:\n" +
		"  LASTHOUR      the newest hour that has data, not after the current hour (UTC)\n" +
		"  LASTDAY       the 24 hours ending with that hour\n" +
		"  LAST n HOURS  the n hours ending with that hour, e.g. LAST 6 HOURS (also LAST n DAYS)\n" +
		"  YYYYMMDDHH00  one hour, e.g. " + cur + "\n" +
		"  START-END     hours from START to END inclusive, e.g. " + start + "-" + cur + "\n" +
		"  YYYYMMDDHH*   every part file of one hour, e.g. " + cur[:10] + "* (also YYYYMMDD* for a day)\n" +
		"  ALL           every hour"
}
