//go:build !kernelonly

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeConfigFile(t *testing.T) {
	newSet := func() (*flag.FlagSet, *string, *time.Duration, *string, *bool, *string) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		addr := fs.String("addr", "127.0.0.1:8888", "")
		idle := fs.Duration("cull-idle", 0, "")
		sinks := fs.String("datasinks", "", "")
		demo := fs.Bool("demo", false, "")
		taps := fs.String("taps", "", "")
		fs.String("config", "", "")
		return fs, addr, idle, sinks, demo, taps
	}
	write := func(content string) string {
		p := filepath.Join(t.TempDir(), "flowlab.json")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write(`{"addr": "0.0.0.0:9999", "cull-idle": "30m", "datasinks": ["a", "b"], "demo": true,
		"taps": {"taps": {"Alerts": {"brokers": ["kafka:9092"], "topic": "alerts"}}}}`)
	fs, addr, idle, sinks, demo, taps := newSet()
	args := []string{"--config", cfg, "--addr", "127.0.0.1:7000"}
	if err := applyConfigFile(fs, args); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if *addr != "127.0.0.1:7000" || *idle != 30*time.Minute || *sinks != "a,b" || !*demo || !strings.Contains(*taps, `"kafka:9092"`) {
		t.Errorf("addr %q (the command line wins), cull-idle %v, datasinks %q, demo %v, taps %q", *addr, *idle, *sinks, *demo, *taps)
	}
	for _, tc := range []struct{ content, want string }{
		{`{"adress": "x"}`, `unknown setting "adress"`},
		{`{"cull-idle": "soon"}`, "cull-idle"},
		{`[1, 2]`, "not a JSON object"},
		{`{"datasinks": [1]}`, "list of strings"},
	} {
		fs, _, _, _, _, _ := newSet()
		p := write(tc.content)
		if err := applyConfigFile(fs, []string{"--config=" + p}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.content, err, tc.want)
		}
	}
	fs2, _, _, _, _, _ := newSet()
	if err := applyConfigFile(fs2, []string{"--config", filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Error("a missing config file was accepted")
	}
}
