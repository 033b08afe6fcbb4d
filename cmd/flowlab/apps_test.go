//go:build !kernelonly

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/internal/flowlabtest"
	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/metrics"
	"github.com/flowlab/flowlab/userapps/metrics/metricstest"
	"github.com/flowlab/flowlab/userapps/sqlite"
)

func TestResolveApp(t *testing.T) {
	apps := []remoteApp{
		{ID: "id-1", Name: "portscan", Owner: "admin"},
		{ID: "id-2", Name: "portscan", Owner: "alice"},
		{ID: "id-3", Name: "basics", Owner: "alice"},
		{ID: "basics", Name: "named-like-an-id", Owner: "bob"},
	}
	tests := []struct {
		ref     string
		wantID  string
		wantErr []string // substrings of the error
	}{
		{ref: "id-2", wantID: "id-2"},
		{ref: "alice/portscan", wantID: "id-2"},
		{ref: "admin/portscan", wantID: "id-1"},
		{ref: "basics", wantID: "basics"}, // an id wins over a name
		{ref: "named-like-an-id", wantID: "basics"},
		{ref: "portscan", wantErr: []string{"ambiguous", "admin/portscan (id id-1)", "alice/portscan (id id-2)", "OWNER/NAME"}},
		{ref: "nope", wantErr: []string{`no app "nope"`, "4 apps", "flowlab apps list"}},
		{ref: "bob/portscan", wantErr: []string{`no app "bob/portscan"`}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := resolveApp(apps, tt.ref, "http://server")
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("resolved to %+v, want an error", got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil || got.ID != tt.wantID {
				t.Fatalf("resolveApp(%q) = %+v, %v; want id %s", tt.ref, got, err, tt.wantID)
			}
		})
	}
}

// appsServer runs `flowlab serve --demo` on a port of 127.0.0.1 it picks
// (printed on stdout) with a fresh data dir whose store already has a
// developer alice, and stops it with SIGTERM at the end of the test. It
// returns the URL and the server's process id.
func appsServer(t *testing.T, bin, token string) (string, int) {
	t.Helper()
	dataDir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "flowlab.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.CreateUser(ctx, userapps.User{Name: "alice", Role: userapps.RoleDeveloper, TokenHash: userapps.HashToken("alice-token"), Created: time.Now().UTC()})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--demo", "--addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0",
		"--data-dir", dataDir, "--token", token, "--log-format", "json")
	cmd.Env = flowlabtest.Env("FLOWLAB_TOKEN=", "FLOWLAB_LAKE=", "FLOWLAB_TAPS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), " serving on "); ok {
				urls <- strings.TrimSpace(u)
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("flowlab serve: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("flowlab serve still running 30s after SIGTERM")
		}
		// Every log line is a JSON object naming its component.
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("--log-format json wrote a line that is not JSON: %q", line)
				continue
			}
			if c, _ := rec["component"].(string); c == "" {
				t.Errorf("log line without a component: %s", line)
			}
		}
	})
	select {
	case u := <-urls:
		return u, cmd.Process.Pid
	case err := <-exited:
		t.Fatalf("flowlab serve exited before serving: %v\n%s", err, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("flowlab serve does not serve after 2 minutes\n%s", stderr.String())
	}
	return "", 0
}

// cli runs the flowlab binary with args and the environment extra, and
// returns stdout, stderr and the exit status.
func cli(t *testing.T, bin string, extra []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = flowlabtest.Env(append([]string{"FLOWLAB_TOKEN=", "FLOWLAB_SERVER="}, extra...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// tableRows parses `apps list` output into NAME → the row's fields.
func tableRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "NAME OWNER STATE KERNEL UPDATED" {
		t.Fatalf("apps list header: %q", out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 6 { // the time is two fields
			t.Fatalf("apps list row %q", l)
		}
		rows[f[1]+"/"+f[0]] = f
	}
	return rows
}

func TestAppsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts flowlab serve and a kernel")
	}
	bin := flowlabtest.Binary(t)
	const token = "apps-cli-token"
	url, pid := appsServer(t, bin, token)
	env := []string{"FLOWLAB_TOKEN=" + token}
	labs := []string{"lab1-jupyter-basics", "lab2-datalake-queries", "lab3-portscan-detector", "lab4-kafka-contest", "lab5-combine-data",
		"lab6-connection-outliers", "lab7-communication-graph", "lab8-suspicious-connects", "lab9-scheduled-detection"}

	out, errOut, code := cli(t, bin, env, "apps", "list", "--server", url)
	if code != 0 {
		t.Fatalf("apps list: exit %d: %s", code, errOut)
	}
	rows := tableRows(t, out)
	for _, lab := range labs {
		r, ok := rows["admin/"+lab]
		if !ok {
			t.Fatalf("apps list lacks %s:\n%s", lab, out)
		}
		if r[2] != "stopped" || r[3] != "-" {
			t.Errorf("%s: state %s kernel %s, want stopped and none", lab, r[2], r[3])
		}
	}

	// The scheduled-detection example comes with its hourly schedule.
	var all []remoteApp
	out, errOut, code = cli(t, bin, env, "apps", "list", "--json", "--server", url)
	if err := json.Unmarshal([]byte(out), &all); code != 0 || err != nil {
		t.Fatalf("apps list --json: exit %d %v: %s", code, err, errOut)
	}
	scheduled := false
	for _, a := range all {
		if a.Name != demoScheduledApp {
			continue
		}
		scheduled = true
		var scheds []struct {
			Cron       string         `json:"cron"`
			Enabled    bool           `json:"enabled"`
			Parameters map[string]any `json:"parameters"`
			AlertTap   string         `json:"alert_tap"`
		}
		api(t, url, token, "GET", "/api/apps/"+a.ID+"/schedules", nil, &scheds)
		if len(scheds) != 1 || scheds[0].Cron != "5 * * * *" || !scheds[0].Enabled || scheds[0].Parameters["threshold"] != float64(demo.Threshold) || scheds[0].AlertTap != "Alerts" {
			t.Errorf("%s schedules: %+v, want one enabled hourly (5 * * * *) with threshold %d, notifying Alerts", a.Name, scheds, demo.Threshold)
		}
	}
	if !scheduled {
		t.Errorf("apps list --json has no %s: %s", demoScheduledApp, out)
	}

	// Open by name: a kernel starts, the table and the metrics show it.
	out, errOut, code = cli(t, bin, env, "apps", "open", labs[0], "--server", url)
	if code != 0 {
		t.Fatalf("apps open: exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "opened "+labs[0]+" (owner admin, id ") || !strings.Contains(out, "): running, kernel ") {
		t.Fatalf("apps open said %q", out)
	}
	kernelID := strings.TrimSpace(out[strings.LastIndex(out, "kernel ")+len("kernel "):])
	out, _, _ = cli(t, bin, env, "apps", "list", "--server", url)
	if r := tableRows(t, out)["admin/"+labs[0]]; r[2] != "running" || !strings.HasPrefix(kernelID, r[3]) {
		t.Errorf("after open: %v, want running with kernel %s", r, kernelID)
	}
	m := metricstest.Scrape(t, url+"/metrics", token)
	if v := m.Value(t, "flowlab_kernel_starts_total"); v != 1 {
		t.Errorf("flowlab_kernel_starts_total = %v, want 1", v)
	}
	if v := m.Value(t, "flowlab_kernels", "status", "idle") + m.Value(t, "flowlab_kernels", "status", "busy"); v != 1 {
		t.Errorf("kernels idle or busy = %v, want 1", v)
	}
	if v := m.Value(t, "flowlab_http_requests_total", "method", "POST", "route", "/api/apps/{id}/open", "code", "200"); v != 1 {
		t.Errorf("open requests = %v, want 1", v)
	}

	// Stop by id, with --json and the flags before the argument.
	var listed []remoteApp
	out, _, _ = cli(t, bin, env, "apps", "list", "--json", "--server", url)
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("apps list --json: %v\n%s", err, out)
	}
	var id string
	for _, a := range listed {
		if a.Name == labs[0] {
			id = a.ID
		}
	}
	out, errOut, code = cli(t, bin, env, "apps", "stop", "--server", url, "--json", id)
	if code != 0 {
		t.Fatalf("apps stop: exit %d: %s", code, errOut)
	}
	var stopped remoteApp
	if err := json.Unmarshal([]byte(out), &stopped); err != nil || stopped.ID != id || stopped.State != "stopped" || stopped.KernelID != "" {
		t.Fatalf("apps stop --json: %+v, %v\n%s", stopped, err, out)
	}
	m = metricstest.Scrape(t, url+"/metrics", token)
	for _, s := range metrics.KernelStatusesReported {
		if v := m.Value(t, "flowlab_kernels", "status", s); v != 0 {
			t.Errorf("after stop: flowlab_kernels{status=%q} = %v, want 0", s, v)
		}
	}

	// A kernel killed behind the server's back: a death and a restart,
	// not a start.
	if _, errOut, code := cli(t, bin, env, "apps", "open", labs[1], "--server", url); code != 0 {
		t.Fatalf("apps open %s: exit %d: %s", labs[1], code, errOut)
	}
	kids, err := childProcesses(pid)
	if err != nil || len(kids) != 1 {
		t.Fatalf("the server's child processes: %v, %v; want one kernel", kids, err)
	}
	if err := syscall.Kill(kids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		m = metricstest.Scrape(t, url+"/metrics", token)
		restarted := m.Value(t, "flowlab_kernel_restarts_total") == 1 && m.Value(t, "flowlab_kernels", "status", "idle") == 1
		if restarted || time.Now().After(deadline) {
			break
		}
	}
	for name, want := range map[string]float64{"flowlab_kernel_starts_total": 2, "flowlab_kernel_restarts_total": 1, "flowlab_kernel_deaths_total": 1, "flowlab_kernel_culls_total": 0} {
		if got := m.Value(t, name); got != want {
			t.Errorf("after a kernel was killed: %s = %v, want %v", name, got, want)
		}
	}
	if got := m.Value(t, "flowlab_kernels", "status", "idle"); got != 1 {
		t.Errorf("after the restart: idle kernels = %v, want 1\n%s", got, m)
	}
	if _, errOut, code := cli(t, bin, env, "apps", "stop", labs[1], "--server", url); code != 0 {
		t.Fatalf("apps stop %s: exit %d: %s", labs[1], code, errOut)
	}

	// The same name for two owners: a name is ambiguous, OWNER/NAME is not.
	for _, owner := range []string{"admin", "alice"} {
		body := fmt.Sprintf(`{"name":"shared","owner":%q}`, owner)
		req, _ := http.NewRequest(http.MethodPost, url+"/api/apps", strings.NewReader(body))
		req.Header.Set("Authorization", "token "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s/shared: %s", owner, resp.Status)
		}
	}
	_, errOut, code = cli(t, bin, env, "apps", "open", "shared", "--server", url)
	if code != 1 || !strings.Contains(errOut, `app name "shared" is ambiguous`) || !strings.Contains(errOut, "admin/shared") || !strings.Contains(errOut, "alice/shared") {
		t.Errorf("open an ambiguous name: exit %d: %s", code, errOut)
	}
	// alice's own token sees one "shared" only.
	out, errOut, code = cli(t, bin, []string{"FLOWLAB_TOKEN=alice-token"}, "apps", "stop", "shared", "--server", url)
	if code != 0 || !strings.HasPrefix(out, "stopped shared (owner alice,") {
		t.Errorf("alice stops her shared app: exit %d: %s%s", code, out, errOut)
	}

	// Errors say what to do.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + closed.Addr().String()
	closed.Close()
	for _, tt := range []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     string
	}{
		{"wrong token", []string{"FLOWLAB_TOKEN=wrong"}, []string{"list", "--server", url}, 1, "refused the token (401"},
		{"no token", nil, []string{"list", "--server", url}, 2, "pass --token T or set FLOWLAB_TOKEN"},
		{"no server", env, []string{"list", "--server", deadURL}, 1, "is 'flowlab serve' running there?"},
		{"server from the environment", []string{"FLOWLAB_TOKEN=" + token, "FLOWLAB_SERVER=" + deadURL}, []string{"list"}, 1, "nothing listens at " + deadURL},
		{"unknown app", env, []string{"open", "no-such-app", "--server", url}, 1, `no app "no-such-app"`},
		{"open without an app", env, []string{"open", "--server", url}, 2, "takes one APP"},
		{"unknown subcommand", env, []string{"delete", "x"}, 2, `unknown subcommand "delete"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := cli(t, bin, tt.env, append([]string{"apps"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", code, errOut, tt.wantCode, tt.want)
			}
		})
	}
}
