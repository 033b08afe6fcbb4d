package examples

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// notebook is an executed notebook, as much of it as the assertions read.
type notebook struct {
	Cells []struct {
		CellType string   `json:"cell_type"`
		Source   any      `json:"source"`
		Outputs  []output `json:"outputs"`
	} `json:"cells"`
}

type output struct {
	OutputType string         `json:"output_type"`
	Name       string         `json:"name"`
	Text       any            `json:"text"`
	Data       map[string]any `json:"data"`
	EName      string         `json:"ename"`
	EValue     string         `json:"evalue"`
}

// joined returns nbformat's multiline strings (a string or a list of lines)
// as one string.
func joined(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, l := range x {
			b.WriteString(l.(string))
		}
		return b.String()
	}
	return ""
}

// cellText is everything a code cell showed: streams, results and displays as
// text/plain, errors as ename: evalue.
func (nb notebook) cellText(i int) string {
	var b strings.Builder
	for _, o := range nb.Cells[i].Outputs {
		switch o.OutputType {
		case "stream":
			b.WriteString(joined(o.Text))
		case "execute_result", "display_data":
			b.WriteString(joined(o.Data["text/plain"]))
			b.WriteString("\n")
		case "error":
			b.WriteString(o.EName + ": " + o.EValue + "\n")
		}
	}
	return b.String()
}

// codeCell finds the code cell whose whole source is marker, else the first
// code cell whose source contains marker.
func (nb notebook) codeCell(t *testing.T, marker string) int {
	t.Helper()
	for i, c := range nb.Cells {
		if c.CellType == "code" && strings.TrimSpace(joined(c.Source)) == marker {
			return i
		}
	}
	for i, c := range nb.Cells {
		if c.CellType == "code" && strings.Contains(joined(c.Source), marker) {
			return i
		}
	}
	t.Fatalf("no code cell contains %q", marker)
	return -1
}

// labEnv is what the notebooks ran against: the demo lake's ground truth and
// the Kafka broker behind the Alerts tap.
type labEnv struct {
	gt demo.GroundTruth
	// alerts returns the messages of the Alerts tap's topic, read with kcat.
	alerts func(t *testing.T) []string
}

// checks holds, per notebook file, the assertions on its executed form, made
// against the ground truth of the demo lake the notebooks ran on and what
// reached the broker. Every notebook in this folder must have an entry.
var checks = map[string]func(t *testing.T, nb notebook, env labEnv){
	"lab1-jupyter-basics.ipynb": func(t *testing.T, nb notebook, _ labEnv) {
		expect(t, nb, "strings.ToUpper(greeting)", `"HELLO, ANALYSTS"`)
		expect(t, nb, "describe(sensors)", `"edge-fw-1, dc-core-2, branch-7"`)
		expect(t, nb, `fmt.Printf("%d: %s\n"`, "1: edge-fw-1\n2: dc-core-2\n3: branch-7\n")
		expect(t, nb, `safeLookup("x")`, "lookup failed: assignment to entry in nil map")
		expect(t, nb, "display.Update(id", "step 5 of 5")
		expect(t, nb, "%help", "IO.Read")
	},
	"lab2-datalake-queries.ipynb": func(t *testing.T, nb notebook, env labEnv) {
		gt := env.gt
		expect(t, nb, "hours[len(hours)-1]", fmt.Sprintf("%q", gt.LastHour))
		// The frame renders with its total row count.
		expect(t, nb, "flows", fmt.Sprintf("%s rows", groupDigits(gt.FlowsPerHour)))
		expect(t, nb, "flows.Count()", fmt.Sprintf("flows in the last hour: %d error: <nil>", gt.FlowsPerHour))
		expect(t, nb, "flows.Columns()", "84") // FLOWS_SCHEMA.md's columns and the dt, hr partition columns
		expect(t, nb, "GROUP BY proto", "TCP")
		expect(t, nb, `IO.Read("/tetration/flow"`, "did you mean /tetration/flows")
	},
	"lab3-portscan-detector.ipynb": func(t *testing.T, nb notebook, env labEnv) {
		gt := env.gt
		// The notebook's threshold is the one the incidents were planted for.
		nb.codeCell(t, fmt.Sprintf("threshold := %d\n", gt.Threshold))
		if len(gt.ExpectedPortscan) == 0 || len(gt.ExpectedHorizontal) == 0 {
			t.Fatalf("the demo lake planted no vertical or no horizontal scan: %+v", gt.Scans)
		}
		var vertical, horizontal [][]string
		all := map[string]bool{}
		for _, r := range gt.ExpectedPortscan {
			vertical = append(vertical, []string{r.Source, r.Destination, fmt.Sprint(r.Count)})
			all[r.Source] = true
		}
		for _, r := range gt.ExpectedHorizontal {
			horizontal = append(horizontal, []string{r.Source, fmt.Sprint(r.Port), fmt.Sprint(r.Count)})
			all[r.Source] = true
		}
		expectRows(t, nb, "scans := perPair.Filter", vertical)
		expectRows(t, nb, "sweeps := unique.GroupBy", horizontal)
		scanners := slices.Sorted(maps.Keys(all))
		expect(t, nb, "scanners.Strings", fmt.Sprintf("(%v, <nil>)", scanners))
	},
	"lab4-kafka-contest.ipynb": func(t *testing.T, nb notebook, env labEnv) {
		expect(t, nb, "DataTaps.List()", `[Alerts]`)
		expect(t, nb, `DataTaps.SendMessage(message, "Alerts")`, "acknowledged")
		expect(t, nb, "DataTaps.SendJSON", "error: <nil>")
		expect(t, nb, `"Alert"))`, `"Alerts"`) // the error names the taps that exist
		// The broker has the personal message, then the JSON one, in order.
		msg := strings.Trim(nb.cellText(nb.codeCell(t, `name := "Ada"`)), "\"\n")
		var got []string
		for _, m := range env.alerts(t) {
			if strings.HasPrefix(m, "Ada was here") || strings.Contains(m, `"kind":"contest"`) {
				got = append(got, m)
			}
		}
		if want := []string{msg, `{"from":"Ada","kind":"contest","lab":4}`}; !slices.Equal(got, want) {
			t.Errorf("the Alerts topic holds %q, want %q", got, want)
		}
	},
	"lab5-combine-data.ipynb": func(t *testing.T, nb notebook, env labEnv) {
		gt := env.gt
		expect(t, nb, "newest := hours[len(hours)-1]", fmt.Sprintf("%q", gt.NonCompliant.Hour))
		expect(t, nb, "alert sent", "alert sent: true <nil>")
		var want []string
		for _, h := range gt.NonCompliant.Hosts {
			for _, p := range h.Peers {
				want = append(want, h.IP+" "+p)
			}
		}
		slices.Sort(want)
		var alerts []string
		for _, m := range env.alerts(t) {
			if strings.Contains(m, `"alert":"non-compliant hosts`) {
				alerts = append(alerts, m)
			}
		}
		if len(alerts) != 1 {
			t.Fatalf("%d non-compliance alerts on the topic, want 1: %q", len(alerts), alerts)
		}
		var alert struct {
			Count  int
			Report string
			Pairs  []struct{ Host, Peer, Hostname string }
		}
		if err := json.Unmarshal([]byte(alerts[0]), &alert); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range alert.Pairs {
			got = append(got, p.Host+" "+p.Peer)
			if p.Hostname == "" {
				t.Errorf("pair %v has no hostname from the datasink", p)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) || alert.Count != len(want) || !strings.HasSuffix(alert.Report, gt.NonCompliant.Hour) {
			t.Errorf("alert: count %d report %s pairs %v; want %d pairs %v from hour %s", alert.Count, alert.Report, got, len(want), want, gt.NonCompliant.Hour)
		}
	},
}

// groupDigits writes n with thousands separators, as frames show counts.
func groupDigits(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// expectRows checks that the table a cell shows (text/plain: a header line,
// a types line, one line per row) has exactly the wanted rows, in any order.
func expectRows(t *testing.T, nb notebook, marker string, want [][]string) {
	t.Helper()
	i := nb.codeCell(t, marker)
	text := nb.cellText(i)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var got []string
	for _, l := range lines[min(2, len(lines)):] {
		if !strings.HasPrefix(l, "[") { // the "[n rows × m columns]" footer
			got = append(got, strings.Join(strings.Fields(l), " "))
		}
	}
	var wantLines []string
	for _, r := range want {
		wantLines = append(wantLines, strings.Join(r, " "))
	}
	slices.Sort(got)
	slices.Sort(wantLines)
	if !slices.Equal(got, wantLines) {
		t.Errorf("cell %d (%q) rows:\n%s\nwant:\n%s\n(cell output:\n%s)", i, marker, strings.Join(got, "\n"), strings.Join(wantLines, "\n"), text)
	}
}

func expect(t *testing.T, nb notebook, marker, want string) {
	t.Helper()
	i := nb.codeCell(t, marker)
	if got := nb.cellText(i); !strings.Contains(got, want) {
		t.Errorf("cell %d (%q) shows:\n%s\nwant it to contain %q", i, marker, got, want)
	}
}

// TestNotebooksWithNbclient executes every notebook in this folder with
// Debian's nbclient and the installed flowlab kernel.
func TestNotebooksWithNbclient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernels; run without -short")
	}
	flowlabtest.RequirePython(t, "nbclient", "nbformat")
	bin := flowlabtest.Binary(t)
	files, err := filepath.Glob("*.ipynb")
	if err != nil || len(files) == 0 {
		t.Fatalf("no notebooks: %v", err)
	}
	jupyterPath, name := flowlabtest.Kernelspec(t, bin)
	outDir := t.TempDir()
	// The labs read a small demo lake; its ground truth says what they must find.
	lake := t.TempDir()
	gt, err := demo.Generate(context.Background(), demo.Options{Out: lake, Hours: 3, FlowsPerHour: 5000, Seed: 2612})
	if err != nil {
		t.Fatalf("demo lake: %v", err)
	}
	// The Alerts tap goes to an in-process broker; kcat reads it back.
	kcat := flowlabtest.RequireCommand(t, "kcat")
	b, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Topics: []string{"alerts"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	brokerDone := make(chan error, 1)
	go func() { brokerDone <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-brokerDone })
	taps := fmt.Sprintf(`{"taps":{"Alerts":{"brokers":[%q],"topic":"alerts","timeout":"20s"}}}`, b.Addr())
	env := labEnv{gt: gt, alerts: func(t *testing.T) []string {
		t.Helper()
		out, err := exec.Command(kcat, "-C", "-b", b.Addr(), "-t", "alerts", "-o", "beginning", "-e", "-q", "-D", "\x1e").Output()
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
		var msgs []string
		for _, m := range strings.Split(string(out), "\x1e") {
			if m != "" {
				msgs = append(msgs, m)
			}
		}
		return msgs
	}}
	for _, f := range files {
		t.Run(strings.TrimSuffix(f, ".ipynb"), func(t *testing.T) {
			check, ok := checks[f]
			if !ok {
				t.Fatalf("%s has no assertions in examples_test.go", f)
			}
			out := filepath.Join(outDir, f)
			cmd := exec.Command(flowlabtest.Python, "testdata/nbrun.py", f, out)
			cmd.Env = flowlabtest.Env("JUPYTER_PATH="+jupyterPath, "FLOWLAB_KERNEL_NAME="+name, "JUPYTER_RUNTIME_DIR="+t.TempDir(), "FLOWLAB_LAKE="+lake, "FLOWLAB_TAPS="+taps)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("nbclient: %v\n%s", err, msg)
			}
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var nb notebook
			if err := json.Unmarshal(raw, &nb); err != nil {
				t.Fatal(err)
			}
			check(t, nb, env)
		})
	}
}
