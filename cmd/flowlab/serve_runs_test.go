//go:build !kernelonly

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// hourNotebook reads the flows of the hour its parameter names and prints
// the hours of what it read; with fail it panics before.
const hourNotebook = `{"cells": [
 {"cell_type": "code", "id": "params", "metadata": {"tags": ["parameters"]}, "source": "hour := \"LASTHOUR\"\nfail := false", "outputs": [], "execution_count": null},
 {"cell_type": "code", "id": "imports", "metadata": {}, "source": "import (\n\t\"fmt\"\n\t\"strings\"\n)", "outputs": [], "execution_count": null},
 {"cell_type": "code", "id": "fail", "metadata": {}, "source": "if fail {\n\tpanic(\"asked to fail\")\n}", "outputs": [], "execution_count": null},
 {"cell_type": "code", "id": "read", "metadata": {}, "source": "flows := IO.Read(\"/tetration/flows\", \"PARQUET\", hour)\nflows.RegisterTempTable(\"f\")", "outputs": [], "execution_count": null},
 {"cell_type": "code", "id": "hours", "metadata": {}, "source": "hours := SQL(` + "`" + `SELECT DISTINCT strftime(start_timestamp, '%Y%m%d%H00') AS h FROM f ORDER BY h` + "`" + `).Strings(\"h\")\nfmt.Println(\"HOURS\", strings.Join(hours, \",\"))", "outputs": [], "execution_count": null}
 ],
 "metadata": {"kernelspec": {"name": "flowlab-go", "display_name": "Go (flowlab)", "language": "go"}},
 "nbformat": 4, "nbformat_minor": 5}`

// api calls the server's REST API as the admin and decodes the answer.
func api(t *testing.T, base, token, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
}

// freeAddr returns a 127.0.0.1 address nothing listens on (now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lakeHours lists the hour partitions of a dataset as YYYYMMDDHH00.
func lakeHours(t *testing.T, dataset string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(dataset, "dt=*", "hr=*"))
	if err != nil {
		t.Fatal(err)
	}
	var hours []string
	for _, d := range dirs {
		day := strings.ReplaceAll(strings.TrimPrefix(filepath.Base(filepath.Dir(d)), "dt="), "-", "")
		var hr int
		fmt.Sscanf(filepath.Base(d), "hr=%d", &hr)
		hours = append(hours, fmt.Sprintf("%s%02d00", day, hr))
	}
	slices.Sort(hours)
	return hours
}

// TestScheduledRuns drives `flowlab serve --demo` with the apps CLI: a
// schedule every minute whose runs fail sends its notice to the Alerts
// tap, where kcat reads it; a backfill over the demo lake's 24 hours makes
// 24 runs, each reading only its own hour.
func TestScheduledRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs flowlab serve, kernels and kcat; waits for a minute tick")
	}
	kcat := flowlabtest.RequireCommand(t, "kcat")
	bin := flowlabtest.Binary(t)
	dataDir := t.TempDir()
	const token = "runs-token"
	broker := freeAddr(t)
	srv := startServe(t, bin, dataDir, token, "--demo", "--broker-addr", broker, "--max-runs", "3")
	base, _ := srv.waitURL(context.Background())
	env := []string{"FLOWLAB_SERVER=" + base, "FLOWLAB_TOKEN=" + token}

	// The app and its notebook.
	var app struct{ ID, Notebook string }
	api(t, base, token, "POST", "/api/apps", map[string]any{"name": "hourly"}, &app)
	api(t, base, token, "PUT", "/api/contents/"+app.Notebook, map[string]any{"type": "notebook", "content": json.RawMessage(hourNotebook)}, nil)

	// A failing schedule every minute that tells the Alerts tap.
	out, errOut, code := cli(t, bin, env, "apps", "schedule", "hourly", "--cron", "* * * * *", "-p", "fail=true", "--alert-tap", "Alerts", "--json")
	if code != 0 {
		t.Fatalf("apps schedule (create): %d %s %s", code, out, errOut)
	}
	var failing struct {
		ID       string   `json:"id"`
		NextRuns []string `json:"next_runs"`
	}
	if err := json.Unmarshal([]byte(out), &failing); err != nil || len(failing.NextRuns) != 5 {
		t.Fatalf("created schedule: %v %s", err, out)
	}

	// A schedule that will not fire during the test, to backfill.
	out, errOut, code = cli(t, bin, env, "apps", "schedule", "hourly", "--cron", "0 0 1 1 *", "--disable", "--json")
	if code != 0 {
		t.Fatalf("apps schedule (create disabled): %d %s %s", code, out, errOut)
	}
	var yearly struct{ ID string }
	json.Unmarshal([]byte(out), &yearly)
	hours := lakeHours(t, filepath.Join(dataDir, "lake", "tetration", "flows"))
	if len(hours) != 24 {
		t.Fatalf("demo lake hours: %v", hours)
	}
	out, errOut, code = cli(t, bin, env, "apps", "schedule", "hourly", "--id", yearly.ID, "--backfill", hours[0]+","+hours[23])
	if code != 0 || !strings.Contains(out, "queued 24 runs") {
		t.Fatalf("apps schedule --backfill: %d %s %s", code, out, errOut)
	}

	// The failing tick's notice reaches the tap.
	var notice struct {
		RunID   string `json:"run_id"`
		Status  string `json:"status"`
		Trigger string `json:"trigger"`
		App     string `json:"app"`
		Error   struct {
			Cell   int    `json:"cell"`
			EValue string `json:"evalue"`
		} `json:"error"`
		Notebook string `json:"notebook"`
	}
	deadline := time.Now().Add(150 * time.Second)
	for notice.RunID == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no run notice on the Alerts tap\n%s", srv.logTail())
		}
		time.Sleep(2 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		msgs, _ := exec.CommandContext(ctx, kcat, "-C", "-b", broker, "-t", "alerts", "-o", "beginning", "-e", "-q").Output()
		cancel()
		for _, line := range strings.Split(string(msgs), "\n") {
			if strings.Contains(line, `"type":"flowlab.run"`) {
				if err := json.Unmarshal([]byte(line), &notice); err != nil {
					t.Fatalf("notice %q: %v", line, err)
				}
				break
			}
		}
	}
	if notice.Status != "failed" || notice.Trigger != "schedule" || notice.App != "hourly" || notice.Error.Cell != 3 ||
		!strings.Contains(notice.Error.EValue, "asked to fail") || !strings.HasPrefix(notice.Notebook, base+"/api/apps/"+app.ID+"/runs/") {
		t.Errorf("notice = %+v", notice)
	}

	// Wait for the backfill to finish, then check each run's hour.
	var runs []struct {
		ID         string
		Status     string
		Trigger    string
		Parameters map[string]any
		Error      *struct{ EValue string }
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(time.Second) {
		api(t, base, token, "GET", "/api/apps/"+app.ID+"/runs?status=queued,running&limit=100", nil, &runs)
		if len(runs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs still queued or running", len(runs))
		}
	}
	api(t, base, token, "GET", "/api/apps/"+app.ID+"/runs?limit=1000", nil, &runs)
	var got []string
	for _, r := range runs {
		if r.Trigger != "backfill" {
			continue
		}
		hour, _ := r.Parameters["hour"].(string)
		if r.Status != "succeeded" {
			t.Errorf("backfill run %s for %s: %s %+v", r.ID, hour, r.Status, r.Error)
			continue
		}
		nbPath := filepath.Join(t.TempDir(), r.ID+".ipynb")
		if out, errOut, code := cli(t, bin, env, "apps", "runs", "hourly", "--notebook", r.ID, "-o", nbPath); code != 0 {
			t.Fatalf("apps runs --notebook: %d %s %s", code, out, errOut)
		}
		data, err := os.ReadFile(nbPath)
		if err != nil {
			t.Fatal(err)
		}
		if want := "HOURS " + hour + "\\n"; !strings.Contains(string(data), want) {
			t.Errorf("run %s for hour %s read other hours: its notebook lacks %q", r.ID, hour, want)
		}
		got = append(got, hour)
	}
	slices.Sort(got)
	if !slices.Equal(got, hours) {
		t.Errorf("backfill runs for hours %v, want %v", got, hours)
	}
	flowlabtest.ValidateNotebook(t, filepath.Join(dataDir, "runs", app.ID, runs[0].ID+".ipynb"))

	// The runs table of the CLI shows the failure.
	out, errOut, code = cli(t, bin, env, "apps", "runs", "hourly", "--status", "failed")
	if code != 0 || !strings.Contains(out, "RUN") || !strings.Contains(out, "cell 3: panic") && !strings.Contains(out, "asked to fail") {
		t.Errorf("apps runs --status failed: %d %s %s", code, out, errOut)
	}
}
