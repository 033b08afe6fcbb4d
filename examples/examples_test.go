package examples

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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

// codeCell finds the first code cell whose source contains marker.
func (nb notebook) codeCell(t *testing.T, marker string) int {
	t.Helper()
	for i, c := range nb.Cells {
		if c.CellType == "code" && strings.Contains(joined(c.Source), marker) {
			return i
		}
	}
	t.Fatalf("no code cell contains %q", marker)
	return -1
}

// checks holds, per notebook file, the assertions on its executed form.
// Every notebook in this folder must have an entry.
var checks = map[string]func(t *testing.T, nb notebook){
	"lab1-jupyter-basics.ipynb": func(t *testing.T, nb notebook) {
		expect(t, nb, "strings.ToUpper(greeting)", `"HELLO, ANALYSTS"`)
		expect(t, nb, "describe(sensors)", `"edge-fw-1, dc-core-2, branch-7"`)
		expect(t, nb, `fmt.Printf("%d: %s\n"`, "1: edge-fw-1\n2: dc-core-2\n3: branch-7\n")
		expect(t, nb, `safeLookup("x")`, "lookup failed: assignment to entry in nil map")
		expect(t, nb, "display.Update(id", "step 5 of 5")
		expect(t, nb, "%help", "IO.Read")
	},
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
	for _, f := range files {
		t.Run(strings.TrimSuffix(f, ".ipynb"), func(t *testing.T) {
			check, ok := checks[f]
			if !ok {
				t.Fatalf("%s has no assertions in examples_test.go", f)
			}
			out := filepath.Join(outDir, f)
			cmd := exec.Command(flowlabtest.Python, "testdata/nbrun.py", f, out)
			cmd.Env = flowlabtest.Env("JUPYTER_PATH="+jupyterPath, "FLOWLAB_KERNEL_NAME="+name, "JUPYTER_RUNTIME_DIR="+t.TempDir())
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
			check(t, nb)
		})
	}
}
