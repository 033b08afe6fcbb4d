package userapps

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseCronErrors(t *testing.T) {
	tests := []struct{ spec, tz, want string }{
		{"", "", "empty schedule"},
		{"* * * *", "", "five fields"},
		{"61 * * * *", "", "five fields"},
		{"* * * * * *", "", "five fields"},
		{"@every 5m", "", "@every is not a cron schedule"},
		{"CRON_TZ=Europe/Berlin 0 * * * *", "", "time_zone"},
		{"0 * * * *", "Mars/Olympus", "not an IANA zone"},
		{"0 * * * *", "Local", "not an IANA zone"},
	}
	for _, tt := range tests {
		_, err := ParseCron(tt.spec, tt.tz)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCron(%q, %q) = %v, want ErrInvalid saying %q", tt.spec, tt.tz, err, tt.want)
		}
	}
}

func TestCronNext(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	tests := []struct {
		name, spec, tz, after string
		want                  []string // UTC
	}{
		{"every minute", "* * * * *", "", "2026-11-23T10:00:30Z",
			[]string{"2026-11-23T10:01:00Z", "2026-11-23T10:02:00Z", "2026-11-23T10:03:00Z"}},
		{"strictly after", "* * * * *", "", "2026-11-23T10:01:00Z",
			[]string{"2026-11-23T10:02:00Z"}},
		{"hourly descriptor", "@hourly", "", "2026-11-23T10:59:59Z",
			[]string{"2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z"}},
		{"daily in Berlin, winter", "30 8 * * *", "Europe/Berlin", "2026-11-23T00:00:00Z",
			[]string{"2026-11-23T07:30:00Z", "2026-11-24T07:30:00Z"}},
		{"weekdays", "0 9 * * 1-5", "UTC", "2026-11-27T10:00:00Z", // a Friday
			[]string{"2026-11-30T09:00:00Z"}},
		// 29 March 2026: Berlin's clocks go from 02:00 CET to 03:00 CEST.
		{"spring gap runs once, after the change", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"}},
		{"half-hourly across the gap, no instant twice", "*/30 * * * *", "Europe/Berlin", "2026-03-29T00:15:00Z",
			[]string{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-29T02:00:00Z"}},
		// 25 October 2026: Berlin's clocks go from 03:00 CEST back to 02:00 CET.
		{"autumn repeat runs once, first occurrence", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"hourly across the repeat", "0 * * * *", "Europe/Berlin", "2026-10-24T23:30:00Z",
			// 02:00 CEST (the first 02:00), then 03:00 CET: the repeated 02:00 CET does not fire.
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"}},
		{"restart inside the repeated hour", "30 2 * * *", "Europe/Berlin", "2026-10-25T01:15:00Z",
			[]string{"2026-10-26T01:30:00Z"}},
		// West of UTC: 8 March 2026, New York goes from 02:00 EST to 03:00 EDT.
		{"New York spring gap runs once, after the change", "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
			[]string{"2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}}, // 03:30 EDT, then 02:30 EDT
		{"New York: both hours of 1,2 on the spring day", "0 1,2 * * *", "America/New_York", "2026-03-08T05:30:00Z",
			[]string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-09T05:00:00Z"}},
		// 1 November 2026: New York goes from 02:00 EDT back to 01:00 EST.
		{"New York autumn repeat, first occurrence", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		// Santiago skips midnight: 6 September 2026, 00:00 -04 → 01:00 -03.
		{"Santiago midnight gap stays on its day", "0 0 * * *", "America/Santiago", "2026-09-05T12:00:00Z",
			[]string{"2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"}},
		// Lord Howe moves by 30 minutes: 4 October 2026, 02:00 → 02:30.
		{"Lord Howe half-hour gap", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z",
			[]string{"2026-10-03T15:45:00Z", "2026-10-04T15:15:00Z"}}, // 02:45 +11 (15 minutes after the change), then 02:15 +11
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.spec, tt.tz)
			if err != nil {
				t.Fatal(err)
			}
			got := c.NextN(utc(tt.after), len(tt.want))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d times %v, want %v", len(got), got, tt.want)
			}
			for i := range got {
				if !got[i].Equal(utc(tt.want[i])) {
					t.Errorf("fire %d = %s (%s), want %s", i, got[i].UTC().Format(time.RFC3339), got[i].In(c.Location()), tt.want[i])
				}
			}
		})
	}
}

func TestCronNeverMatches(t *testing.T) {
	c, err := ParseCron("0 0 30 2 *", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("30 February fires at %s", got)
	}
}
