//go:build !kernelonly

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/taps"
)

// TestTapsTail runs `flowlab taps tail` in-process against the broker after
// sending through a tap.
func TestTapsTail(t *testing.T) {
	b := startTapBroker(t, "alerts")
	conf := filepath.Join(t.TempDir(), "taps.json")
	if err := os.WriteFile(conf, []byte(tapsJSON(t, b.Addr(), "alerts", "5s")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := taps.LoadConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	set, err := taps.New(cfg, taps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if _, err := set.Send(context.Background(), "Alerts", []string{"first", "second", "third"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"from oldest", []string{"taps", "tail", "--taps", conf, "--from", "oldest", "-n", "3", "Alerts"}, "first\nsecond\nthird\n"},
		{"flags after the name", []string{"taps", "tail", "Alerts", "--taps", conf, "--from", "1", "-n", "2"}, "second\nthird\n"},
		{"list", []string{"taps", "list", "--taps", conf}, "Alerts\ttopic alerts on [" + b.Addr() + "]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run(ctx, streams{out: &out, err: &errb}, tc.args); err != nil {
				t.Fatalf("%v\n%s", err, errb.String())
			}
			if out.String() != tc.want {
				t.Errorf("output %q, want %q", out.String(), tc.want)
			}
		})
	}

	var out bytes.Buffer
	if err := run(ctx, streams{out: &out, err: &out}, []string{"taps", "tail", "--taps", conf, "--from", "oldest", "-n", "1", "--json", "Alerts"}); err != nil {
		t.Fatal(err)
	}
	var m taps.Message
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m.Value != "first" || m.Offset != 0 || m.Topic != "alerts" {
		t.Errorf("--json: %q (%v)", out.String(), err)
	}

	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"taps", "tail", "--taps", conf}, "needs the tap's name"},
		{[]string{"taps", "tail", "--taps", conf, "--from", "first", "Alerts"}, "use oldest, newest or an offset"},
		{[]string{"taps", "tail", "--taps", conf, "--from", "oldest", "Alarms"}, `unknown tap "Alarms"`},
		{[]string{"taps", "tail", "--taps", "", "Alerts"}, "FLOWLAB_TAPS"},
	} {
		var out bytes.Buffer
		err := run(ctx, streams{out: &out, err: &out}, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.say) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.say)
		}
	}
}
