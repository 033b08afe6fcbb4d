package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/datalake/taps/broker/brokertest"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// startTapBroker runs the in-process broker on a free 127.0.0.1 port with
// the topics, stopped when the test ends.
func startTapBroker(t *testing.T, topics ...string) *broker.Broker {
	t.Helper()
	return brokertest.Start(t, broker.Options{Topics: topics})
}

func tapsJSON(t *testing.T, addr, topic, timeout string) string {
	t.Helper()
	c := map[string]any{"taps": map[string]any{"Alerts": map[string]any{"brokers": []string{addr}, "topic": topic, "timeout": timeout}}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kcatConsume reads every message of partition 0 of topic with kcat and
// returns them, one per line.
func kcatConsume(t *testing.T, addr, topic string) []string {
	t.Helper()
	kcat := flowlabtest.RequireCommand(t, "kcat")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", addr, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o %s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// TestKernelSendsThroughTaps runs cells in a real kernel that send through
// DataTaps to the in-process broker, and reads the topic back with kcat
// (librdkafka): the messages arrive in order and unchanged, and each one is
// in the audit file under the app's name.
func TestKernelSendsThroughTaps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process and kcat")
	}
	flowlabtest.RequireCommand(t, "kcat")
	b := startTapBroker(t, "alerts")
	dir := t.TempDir()
	conf := filepath.Join(dir, "taps.json")
	if err := os.WriteFile(conf, []byte(tapsJSON(t, b.Addr(), "alerts", "10s")), 0o600); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, "audit.jsonl")
	c := startKernel(t, flowlabtest.Env("FLOWLAB_APP=portscan-lab", "FLOWLAB_RUN=", "FLOWLAB_TAPS="), "--taps", conf, "--taps-audit", audit)

	rep, plain := runCell(t, c, `import "fmt"
var errs []error
for i := 0; i < 3; i++ {
	errs = append(errs, DataTaps.SendMessage(fmt.Sprintf("scan %d: 10.0.0.%d -> 10.0.1.1", i, i), "Alerts"))
}
errs = append(errs, DataTaps.SendMessages([]string{"batch a", "batch b", "batch ü"}, "Alerts"))
errs = append(errs, DataTaps.SendJSON(map[string]any{"source": "10.0.0.7", "ports": 1024}, "Alerts"))
[]any{errs, DataTaps.List()}`)
	if rep.Status != "ok" || plain != "[[<nil> <nil> <nil> <nil> <nil>] [Alerts]]" {
		t.Fatalf("cell: %s %s %q", rep.Status, rep.EValue, plain)
	}
	want := []string{
		"0 scan 0: 10.0.0.0 -> 10.0.1.1", "1 scan 1: 10.0.0.1 -> 10.0.1.1", "2 scan 2: 10.0.0.2 -> 10.0.1.1",
		"3 batch a", "4 batch b", "5 batch ü", `6 {"ports":1024,"source":"10.0.0.7"}`,
	}
	got := kcatConsume(t, b.Addr(), "alerts")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kcat read:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The audit file has one record per message, with the app's name.
	data, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d audit records, want %d:\n%s", len(lines), len(want), data)
	}
	for i, l := range lines {
		var r taps.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.App != "portscan-lab" || r.Tap != "Alerts" || r.Topic != "alerts" || r.Offset != int64(i) || r.Time.IsZero() {
			t.Errorf("audit record %d: %+v", i, r)
		}
	}

	// Errors a cell sees, and what it cannot reach.
	for _, tc := range []struct {
		code   string
		status string
		has    []string
	}{
		{`DataTaps.SendMessage("x", "Alarms").Error()`, "ok", []string{`unknown tap`, `Alarms`, `the configured taps are`, `Alerts`}},
		{`import "errors"
errors.Is(DataTaps.SendMessage("x", "Alarms"), ErrUnknownTap)`, "ok", []string{"true"}},
		{`Configure(nil)`, "error", []string{"Configure"}},
		{`import "github.com/flowlab/flowlab/datalake/taps"
taps.New`, "error", []string{"New"}},
	} {
		rep, plain := runCell(t, c, tc.code)
		text := plain + rep.EValue
		if rep.Status != tc.status {
			t.Errorf("%s: status %s (%s %q), want %s", tc.code, rep.Status, rep.EValue, plain, tc.status)
		}
		for _, h := range tc.has {
			if !strings.Contains(text, h) {
				t.Errorf("%s: %q does not hold %q", tc.code, text, h)
			}
		}
	}
}

// TestKernelTapBrokerDown: with no broker at the configured address the
// cell gets an error within the tap's timeout that names the tap, the topic
// and the broker; the taps come from FLOWLAB_TAPS holding the JSON.
func TestKernelTapBrokerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := startKernel(t, flowlabtest.Env("FLOWLAB_TAPS="+tapsJSON(t, addr, "alerts", "2s")))
	start := time.Now()
	rep, plain := runCell(t, c, `import "errors"
err := DataTaps.SendMessage("port scan from 10.0.0.9", "Alerts")
[]any{errors.Is(err, ErrTapSend), err.Error()}`)
	took := time.Since(start)
	if rep.Status != "ok" || !strings.HasPrefix(plain, "[true ") {
		t.Fatalf("cell: %s %s %q", rep.Status, rep.EValue, plain)
	}
	for _, m := range []string{`tap "Alerts"`, `topic "alerts"`, addr} {
		if !strings.Contains(plain, m) {
			t.Errorf("error %q does not name %s", plain, m)
		}
	}
	if took > 4*time.Second {
		t.Errorf("the cell took %v with a 2s timeout", took)
	}
	t.Logf("after %v: %s", took, plain)
}

// TestKernelWithoutTaps: a kernel started with no taps tells the cell how to
// configure them.
func TestKernelWithoutTaps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kernel process")
	}
	c := startKernel(t, flowlabtest.Env("FLOWLAB_TAPS="))
	rep, plain := runCell(t, c, `[]any{DataTaps.SendMessage("x", "Alerts").Error(), len(DataTaps.List())}`)
	if rep.Status != "ok" || !strings.Contains(plain, "--taps") || !strings.Contains(plain, "FLOWLAB_TAPS") || !strings.HasSuffix(plain, " 0]") {
		t.Fatalf("without taps: %s %s %q", rep.Status, rep.EValue, plain)
	}
}
