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
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/datalake/duckdb"
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
	gt   demo.GroundTruth
	lake string // the demo lake's root
	// workDir is the kernel's working directory: the folder of the
	// notebook that ran.
	workDir string
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
	"lab6-connection-outliers.ipynb": func(t *testing.T, nb notebook, env labEnv) {
		o := env.gt.Outlier
		if o.Hour != env.gt.LastHour {
			t.Fatalf("the outlier is planted in %s, not in the last hour %s", o.Hour, env.gt.LastHour)
		}
		// The planted host, and only it, is beyond three sigma.
		expectRows(t, nb, "outliers := counts.Filter", [][]string{{o.Host, fmt.Sprint(o.Connections)}})
		// The chart shows it first, highlighted.
		expect(t, nb, "display.BarChart", fmt.Sprintf("points\n%s  %d *\n", o.Host, o.Connections))
	},
	"lab7-communication-graph.ipynb": func(t *testing.T, nb notebook, env labEnv) {
		want := graphCounts(t, env.lake)
		expect(t, nb, "GraphFromFrames", fmt.Sprintf("%d nodes, %d edges", want.Nodes, want.Edges))
		got := readGEXF(t, filepath.Join(env.workDir, "communication-graph.gexf"))
		if got != want {
			t.Errorf("networkx reads %+v from the GEXF file; the flows hold %+v", got, want)
		}
		// The hot spots include the DNS server, which every host asks.
		expect(t, nb, "hot := SQL", "10.0.0.53")
	},
	"lab8-suspicious-connects.ipynb": func(t *testing.T, nb notebook, env labEnv) {
		top := topConnections(t, nb)
		if len(top) != 15 {
			t.Fatalf("the top table has %d rows, want topN = 15", len(top))
		}
		// Context from the enrichment files reaches the table.
		expect(t, nb, "enriched := SQL", "office workstations")
		expect(t, nb, `geo.Lookup("203.0.113.77")`, "country:AU")
		expect(t, nb, "stored := 0", "stored 0 feedback rows")
		// The investigation view shows the top source's timeline.
		expect(t, nb, "investigating", "investigating "+strings.Fields(top[0])[0])
		expect(t, nb, "display.LineChart", "line chart \"Connections to and from "+strings.Fields(top[0])[0])
	},
	"lab9-scheduled-detection.ipynb": func(t *testing.T, nb notebook, env labEnv) {
		gt := env.gt
		nb.codeCell(t, fmt.Sprintf("threshold := %d ", gt.Threshold))
		want := map[string]bool{}
		for _, s := range gt.Scans {
			want[s.Scanner] = true
		}
		var alerts []string
		for _, m := range env.alerts(t) {
			if strings.Contains(m, `"detector":"lab9-scheduled-detection"`) {
				alerts = append(alerts, m)
			}
		}
		if len(alerts) != 1 {
			t.Fatalf("%d scan alerts on the topic, want 1: %q", len(alerts), alerts)
		}
		var alert struct {
			Threshold int
			Scanners  int
			Findings  []struct{ Source, Kind, Target string }
		}
		if err := json.Unmarshal([]byte(alerts[0]), &alert); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, f := range alert.Findings {
			got[f.Source] = true
		}
		if !maps.Equal(got, want) || alert.Scanners != len(want) || alert.Threshold != gt.Threshold ||
			len(alert.Findings) != len(gt.ExpectedPortscan)+len(gt.ExpectedHorizontal) {
			t.Errorf("alert: threshold %d, %d scanners %v, %d findings; want %d, planted %v, %d findings",
				alert.Threshold, alert.Scanners, slices.Sorted(maps.Keys(got)), len(alert.Findings), gt.Threshold,
				slices.Sorted(maps.Keys(want)), len(gt.ExpectedPortscan)+len(gt.ExpectedHorizontal))
		}
	},
}

// graph is what the GEXF export must hold.
type graph struct {
	Nodes, Edges, Internal int
	Mode                   string
}

// graphCounts counts, straight from the flows with DuckDB, the distinct
// addresses and (source, destination) pairs of the demo lake (all of its
// three hours, which Lab 7's "LAST 3 HOURS" reads), and the addresses in
// 10.0.0.0/8, the demo company's range.
func graphCounts(t *testing.T, root string) graph {
	t.Helper()
	l, err := datalake.Open(datalake.Options{Root: root, NewEngine: duckdb.Factory(duckdb.Options{Root: root})})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.IO().Read(datalake.FlowsPath, "PARQUET", "ALL").RegisterTempTable("f"); err != nil {
		t.Fatal(err)
	}
	rows, err := l.SQL(`WITH ips AS (SELECT src_address AS ip FROM f UNION SELECT dst_address FROM f)
		SELECT (SELECT count(*) FROM ips), (SELECT count(*) FROM (SELECT DISTINCT src_address, dst_address FROM f)),
		       (SELECT count(*) FROM ips WHERE ip LIKE '10.%'), (SELECT count(DISTINCT hr) FROM f)`).Rows()
	if err != nil {
		t.Fatal(err)
	}
	if h := fmt.Sprint(rows[0][3]); h != "3" {
		t.Fatalf("the demo lake holds %s hours, want 3", h)
	}
	n := func(v any) int { x, _ := strconv.Atoi(fmt.Sprint(v)); return x }
	return graph{Nodes: n(rows[0][0]), Edges: n(rows[0][1]), Internal: n(rows[0][2]), Mode: "dynamic"}
}

// readGEXF reads a GEXF 1.3 file with Debian's networkx (testdata/gexf.py).
func readGEXF(t *testing.T, path string) graph {
	t.Helper()
	flowlabtest.RequirePython(t, "networkx")
	out, err := exec.Command(flowlabtest.Python, "testdata/gexf.py", path).CombinedOutput()
	if err != nil {
		t.Fatalf("networkx: %v\n%s", err, out)
	}
	var g graph
	if err := json.Unmarshal(out, &g); err != nil {
		t.Fatalf("networkx output %s: %v", out, err)
	}
	return g
}

// topConnections returns the rows of Lab 8's top table as text, one line
// per connection: "source destination port ...".
func topConnections(t *testing.T, nb notebook) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(nb.cellText(nb.codeCell(t, "top.RegisterTempTable"))), "\n")
	var rows []string
	for _, l := range lines[min(2, len(lines)):] {
		if !strings.HasPrefix(l, "[") {
			rows = append(rows, strings.Join(strings.Fields(l), " "))
		}
	}
	return rows
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

// shared is what every notebook run of this package reads and writes: one
// small demo lake and one broker, made once (the lake takes a second or two,
// and CI runs every notebook through two runners).
var shared struct {
	once   sync.Once
	err    error
	dir    string // removed by TestMain
	lake   string
	gt     demo.GroundTruth
	broker *broker.Broker
	stop   func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup returns the shared lake and broker, making them on first use.
func setup(t *testing.T) (lake string, gt demo.GroundTruth, b *broker.Broker) {
	t.Helper()
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "flowlab-examples-"); shared.err != nil {
			return
		}
		// The labs read a small demo lake; its ground truth says what they
		// must find.
		shared.lake = filepath.Join(shared.dir, "lake")
		shared.gt, shared.err = demo.Generate(context.Background(), demo.Options{Out: shared.lake, Hours: 3, FlowsPerHour: 5000, Seed: 2612})
		if shared.err != nil {
			return
		}
		// The Alerts tap goes to an in-process broker, a topic per runner;
		// kcat reads them back.
		shared.broker, shared.err = broker.New(broker.Options{Addr: "127.0.0.1:0", Topics: []string{"alerts-nbclient", "alerts-run"}})
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- shared.broker.Run(ctx) }()
		shared.stop = func() { cancel(); <-done }
	})
	if shared.err != nil {
		t.Fatalf("demo lake and broker: %v", shared.err)
	}
	return shared.lake, shared.gt, shared.broker
}

// runNotebooks runs every notebook of this folder with run and checks it.
// topic is the Alerts tap's topic for this runner.
func runNotebooks(t *testing.T, topic string, run func(t *testing.T, env []string, dir, file string) string) {
	lake, gt, b := setup(t)
	kcat := flowlabtest.RequireCommand(t, "kcat")
	files, err := filepath.Glob("*.ipynb")
	if err != nil || len(files) == 0 {
		t.Fatalf("no notebooks: %v", err)
	}
	taps := fmt.Sprintf(`{"taps":{"Alerts":{"brokers":[%q],"topic":%q,"timeout":"20s"}}}`, b.Addr(), topic)
	env := labEnv{gt: gt, lake: lake, alerts: func(t *testing.T) []string {
		t.Helper()
		out, err := exec.Command(kcat, "-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-q", "-D", "\x1e").Output()
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
			// Each notebook runs in a folder of its own, so what it writes
			// (the GEXF file) stays out of the source tree.
			env.workDir = t.TempDir()
			out := run(t, flowlabtest.Env("FLOWLAB_LAKE="+lake, "FLOWLAB_TAPS="+taps), env.workDir, f)
			check(t, readNotebook(t, out), env)
		})
	}
}

// copyNotebook copies file into dir and returns the copy's path.
func copyNotebook(t *testing.T, dir, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readNotebook(t *testing.T, path string) notebook {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb notebook
	if err := json.Unmarshal(raw, &nb); err != nil {
		t.Fatal(err)
	}
	return nb
}

// TestNotebooksWithNbclient executes every notebook in this folder with
// Debian's nbclient and the installed flowlab kernel (nbrun.py validates
// the result with nbformat).
func TestNotebooksWithNbclient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernels; run without -short")
	}
	flowlabtest.RequirePython(t, "nbclient", "nbformat")
	bin := flowlabtest.Binary(t)
	jupyterPath, name := flowlabtest.Kernelspec(t, bin)
	nbrun, err := filepath.Abs("testdata/nbrun.py")
	if err != nil {
		t.Fatal(err)
	}
	runNotebooks(t, "alerts-nbclient", func(t *testing.T, env []string, dir, file string) string {
		in := copyNotebook(t, dir, file)
		out := filepath.Join(dir, "executed.ipynb")
		cmd := exec.Command(flowlabtest.Python, nbrun, in, out)
		cmd.Env = append(env, "JUPYTER_PATH="+jupyterPath, "FLOWLAB_KERNEL_NAME="+name, "JUPYTER_RUNTIME_DIR="+t.TempDir())
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nbclient: %v\n%s", err, msg)
		}
		return out
	})
}

// TestNotebooksWithFlowlabRun executes every notebook in this folder
// headless with `flowlab run --demo` on the same demo lake, as a scheduled
// run would, and validates each result with nbformat.
func TestNotebooksWithFlowlabRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernels; run without -short")
	}
	bin := flowlabtest.Binary(t)
	runNotebooks(t, "alerts-run", func(t *testing.T, env []string, dir, file string) string {
		return flowlabRun(t, bin, env, dir, file)
	})
}

// flowlabRun runs `flowlab run --demo` on a copy of file in dir, with the
// shared demo lake, and returns the executed notebook, validated.
func flowlabRun(t *testing.T, bin string, env []string, dir, file string, params ...string) string {
	t.Helper()
	in := copyNotebook(t, dir, file)
	out := filepath.Join(dir, "executed.ipynb")
	args := append([]string{"run", "--demo", "--lake", shared.lake, in, "-o", out}, params...)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flowlab %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	flowlabtest.ValidateNotebook(t, out)
	return out
}

// TestSuspiciousConnectsFeedback runs Lab 8 three times on one feedback
// dataset: a first ranking; a run that stores the analyst's score 3
// (benign) for the top connection and still ranks as the first did (its
// feedback is for the next run); and a run that honours it, where that
// connection has left the top table.
func TestSuspiciousConnectsFeedback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernels; run without -short")
	}
	bin := flowlabtest.Binary(t)
	lake, _, _ := setup(t)
	const nbFile = "lab8-suspicious-connects.ipynb"
	env := flowlabtest.Env("FLOWLAB_LAKE=" + lake)
	path := "-r=feedbackPath=/appdata/suspicious-connects-test/feedback"
	run := func(params ...string) []string {
		t.Helper()
		return topConnections(t, readNotebook(t, flowlabRun(t, bin, env, t.TempDir(), nbFile, append([]string{path}, params...)...)))
	}
	first := run()
	if len(first) == 0 {
		t.Fatal("the first run ranked nothing")
	}
	f := strings.Fields(first[0])
	conn := fmt.Sprintf("%s>%s:%s", f[0], f[1], f[2])
	key := strings.Join(f[:3], " ") + " "

	second := run("-r", "feedback="+conn+"=3")
	if !slices.Equal(second, first) {
		t.Errorf("the run that stored the feedback ranked differently:\n%s\nwant\n%s", strings.Join(second, "\n"), strings.Join(first, "\n"))
	}
	third := run()
	for _, r := range third {
		if strings.HasPrefix(r, key) {
			t.Errorf("%s, scored benign, is still in the top table:\n%s", conn, strings.Join(third, "\n"))
		}
	}
	if len(third) != len(first) || third[0] == first[0] {
		t.Errorf("the ranking after feedback:\n%s\nbefore:\n%s", strings.Join(third, "\n"), strings.Join(first, "\n"))
	}
}
