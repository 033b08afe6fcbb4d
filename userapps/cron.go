package userapps

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Cron is a parsed schedule expression in a time zone: five fields (minute,
// hour, day of month, month, day of week) or a descriptor (@yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly), read by
// robfig/cron/v3's standard parser.
//
// Fire times follow the local wall clock of the zone, and each matching
// wall-clock time fires at most once:
//   - a local time skipped by a daylight-saving change (02:30 on the spring
//     day in Europe/Berlin) fires once, at the same distance after the
//     change (03:30 CEST), unless that instant has already fired;
//   - a local time that happens twice (02:30 on the autumn day) fires once,
//     at its first occurrence (02:30 CEST), not again an hour later.
type Cron struct {
	spec string
	loc  *time.Location
	wall *cron.SpecSchedule // the fields, evaluated on wall-clock times in UTC
}

// cronParser is the 5-field parser with descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses spec in the IANA time zone tz ("" is UTC). Errors wrap
// ErrInvalid and say what was wrong.
func ParseCron(spec, tz string) (Cron, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return Cron{}, fmt.Errorf("empty schedule: give five cron fields (\"0 * * * *\") or a descriptor such as @hourly: %w", ErrInvalid)
	case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
		return Cron{}, fmt.Errorf("schedule %q: put the time zone in time_zone, not in the expression: %w", spec, ErrInvalid)
	case strings.HasPrefix(spec, "@every"):
		return Cron{}, fmt.Errorf("schedule %q: @every is not a cron schedule; use five fields, e.g. \"*/5 * * * *\" for every 5 minutes: %w", spec, ErrInvalid)
	}
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return Cron{}, fmt.Errorf("time zone %q: not an IANA zone name such as UTC or Europe/Berlin: %w", tz, ErrInvalid)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return Cron{}, fmt.Errorf("schedule %q: %v (five fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly, @yearly): %w", spec, err, ErrInvalid)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return Cron{}, fmt.Errorf("schedule %q: unsupported form: %w", spec, ErrInvalid)
	}
	wall := *ss
	wall.Location = time.UTC
	return Cron{spec: spec, loc: loc, wall: &wall}, nil
}

// String returns the expression as parsed.
func (c Cron) String() string { return c.spec }

// Location returns the schedule's time zone.
func (c Cron) Location() *time.Location { return c.loc }

// Next returns the first fire time strictly after t, or the zero time if
// the expression never matches (such as 30 February).
func (c Cron) Next(t time.Time) time.Time {
	if c.wall == nil {
		return time.Time{}
	}
	w := wallClock(t.In(c.loc))
	for range 10000 { // far more than any real gap between instants
		w = c.wall.Next(w)
		if w.IsZero() {
			return time.Time{}
		}
		if at := c.instant(w); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// NextN returns the next n fire times after t.
func (c Cron) NextN(t time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		t = c.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

// wallClock returns t's local date and time as the same numbers in UTC.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant returns when the wall-clock time w happens in the zone: for a
// time in a spring-forward gap, the instant as far after the change as w
// is after the gap's start (02:30 in a 02:00→03:00 gap is 03:30); for a
// time that happens twice, the first.
func (c Cron) instant(w time.Time) time.Time {
	at := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), c.loc)
	// The zone's offset some hours before w: before any change near w
	// (zones change their offset at most a few times a year).
	_, offBefore := w.Add(-12 * time.Hour).In(c.loc).Zone()
	if !wallClock(at).Equal(w) {
		// w does not exist (Go picks an instant on either side of the gap
		// depending on the zone): read w with the offset before the gap.
		return w.Add(-time.Duration(offBefore) * time.Second).In(c.loc)
	}
	if _, offAt := at.Zone(); offBefore > offAt { // the clocks went back
		if earlier := at.Add(-time.Duration(offBefore-offAt) * time.Second); wallClock(earlier).Equal(w) {
			return earlier
		}
	}
	return at
}
