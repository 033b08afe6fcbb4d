package userapps

import "testing"

func TestRunStatus(t *testing.T) {
	for _, tc := range []struct {
		s            RunStatus
		valid, final bool
	}{
		{RunQueued, true, false},
		{RunRunning, true, false},
		{RunSucceeded, true, true},
		{RunFailed, true, true},
		{RunTimedOut, true, true},
		{RunCancelled, true, true},
		{RunSkipped, true, true},
		{"timed_out", false, false},
		{"", false, false},
	} {
		t.Run(string(tc.s), func(t *testing.T) {
			if tc.s.Valid() != tc.valid || tc.s.Final() != tc.final {
				t.Errorf("Valid %v Final %v, want %v %v", tc.s.Valid(), tc.s.Final(), tc.valid, tc.final)
			}
		})
	}
}
