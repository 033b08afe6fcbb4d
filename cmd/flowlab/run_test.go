//go:build !kernelonly

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// runNotebookFile writes a notebook of code cells (source, tags) into a
// temporary folder and returns its path.
func runNotebookFile(t *testing.T, cells ...[2]string) string {
	t.Helper()
	var cs []map[string]any
	for i, c := range cells {
		md := map[string]any{}
		if c[1] != "" {
			md["tags"] = []string{c[1]}
		}
		cs = append(cs, map[string]any{"cell_type": "code", "id": "cell" + string(rune('a'+i)), "metadata": md,
			"source": c[0], "outputs": []any{}, "execution_count": nil})
	}
	data, err := json.MarshalIndent(map[string]any{"cells": cs, "nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]any{"name": "flowlab-go", "display_name": "Go (flowlab)", "language": "go"}}}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "in.ipynb")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flowlabRun runs the built binary's run command and returns its exit
// status, stdout and stderr.
func flowlabRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(flowlabtest.Binary(t), append([]string{"run"}, args...)...)
	cmd.Env = flowlabtest.Env("FLOWLAB_LAKE=", "FLOWLAB_TAPS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// runOutput is what the tests read of an executed notebook.
type runOutput struct {
	Cells []struct {
		ID       string `json:"id"`
		Source   string `json:"source"`
		Metadata struct {
			Tags []string `json:"tags"`
		} `json:"metadata"`
		ExecutionCount *int `json:"execution_count"`
		Outputs        []struct {
			OutputType string            `json:"output_type"`
			Text       string            `json:"text"`
			Data       map[string]string `json:"data"`
			EName      string            `json:"ename"`
		} `json:"outputs"`
	} `json:"cells"`
}

func readRunOutput(t *testing.T, path string) runOutput {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb runOutput
	if err := json.Unmarshal(data, &nb); err != nil {
		t.Fatal(err)
	}
	return nb
}

func TestRunCommandInjectsParameters(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a kernel")
	}
	flowlabtest.RequirePython(t, "nbformat")
	in := runNotebookFile(t,
		[2]string{`import "fmt"`, ""},
		[2]string{"// defaults\nthreshold := 10", "parameters"},
		[2]string{"fmt.Println(\"ports over\", threshold)\nthreshold * 3", ""},
	)
	out := filepath.Join(t.TempDir(), "out.ipynb")
	code, stdout, stderr := flowlabRun(t, in, "-p", "threshold=5", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "succeeded") || !strings.Contains(stdout, out) {
		t.Errorf("stdout %q", stdout)
	}
	flowlabtest.ValidateNotebook(t, out)
	nb := readRunOutput(t, out)
	if len(nb.Cells) != 4 {
		t.Fatalf("%d cells, want 3 and the injected one", len(nb.Cells))
	}
	inj := nb.Cells[2]
	if len(inj.Metadata.Tags) != 1 || inj.Metadata.Tags[0] != "injected-parameters" || inj.ExecutionCount == nil {
		t.Errorf("cell 2 is not an executed injected cell: %+v", inj)
	}
	if want := "// Parameters injected by flowlab from the command line (flowlab run -p/-r); they override the parameters cell above.\nthreshold = 5"; inj.Source != want {
		t.Errorf("injected source %q, want %q", inj.Source, want)
	}
	later := nb.Cells[3].Outputs
	if len(later) != 2 || later[0].Text != "ports over 5\n" || later[1].Data["text/plain"] != "15" {
		t.Errorf("the cell after the parameters shows %+v, want the injected threshold's effect", later)
	}
}

func TestRunCommandFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a kernel")
	}
	in := runNotebookFile(t, [2]string{`n := 1`, ""}, [2]string{`n + missing`, ""}, [2]string{`n`, ""})
	out := filepath.Join(t.TempDir(), "out.ipynb")
	code, _, stderr := flowlabRun(t, in, "-o", out)
	if code != 1 || !strings.Contains(stderr, "cell 1 (In [2]): CompileError") || !strings.Contains(stderr, "failed") {
		t.Fatalf("exit %d, stderr %q; want 1 and the failed cell named", code, stderr)
	}
	nb := readRunOutput(t, out)
	if o := nb.Cells[1].Outputs; len(o) != 1 || o[0].EName != "CompileError" {
		t.Errorf("the failed cell's outputs %+v, want its error", o)
	}
	if nb.Cells[2].ExecutionCount != nil {
		t.Error("the cell after the failure ran")
	}
}

func TestRunCommandUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	in := runNotebookFile(t, [2]string{"n := 1", "parameters"})
	out := filepath.Join(t.TempDir(), "out.ipynb")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{in}, "needs -o"},
		{"no notebook", []string{"-o", out}, "one notebook"},
		{"bad name", []string{in, "-o", out, "-p", "a-b=1"}, "not a Go identifier"},
		{"no equals", []string{in, "-o", out, "-r", "n"}, "NAME=VALUE"},
		{"type clash", []string{in, "-o", out, "-p", "n=many"}, `makes it an integer, and "many" is not one`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := flowlabRun(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a usage error wrote %s", out)
	}
}

func TestRunCommandDemoLake(t *testing.T) {
	if testing.Short() {
		t.Skip("writes the demo lake and runs a kernel")
	}
	in := runNotebookFile(t,
		[2]string{`since := "LASTHOUR"`, "parameters"},
		[2]string{"n, err := IO.Read(\"/tetration/flows\", \"PARQUET\", since).Count()\nn > 0 && err == nil", ""},
		// Without FLOWLAB_TAPS, the demo's Alerts tap is an embedded broker.
		[2]string{"DataTaps.SendMessage(\"from a demo run\", \"Alerts\") == nil", ""},
	)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.ipynb")
	code, stdout, stderr := flowlabRun(t, "--demo", "--data-dir", dir, in, "-r", "since=ALL", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "lake")); err != nil {
		t.Errorf("no demo lake in the data dir: %v", err)
	}
	if o := readRunOutput(t, out).Cells[2].Outputs; len(o) != 1 || o[0].Data["text/plain"] != "true" {
		t.Errorf("the lake cell shows %+v, want true", o)
	}
	if o := readRunOutput(t, out).Cells[3].Outputs; len(o) != 1 || o[0].Data["text/plain"] != "true" {
		t.Errorf("the tap cell shows %+v, want true (the message acknowledged)", o)
	}
	if !strings.Contains(stderr, "embedded broker at 127.0.0.1:") {
		t.Errorf("stderr does not name the embedded broker: %s", stderr)
	}
}

// run takes flags on both sides of the notebook, as papermill does.
func TestParseInterleavedForRun(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		positional []string
		out        string
	}{
		{[]string{"nb.ipynb", "-o", "x"}, []string{"nb.ipynb"}, "x"},
		{[]string{"-o", "x", "nb.ipynb"}, []string{"nb.ipynb"}, "x"},
		{[]string{"a", "-o", "x", "b"}, []string{"a", "b"}, "x"},
		{[]string{"-o", "x", "--", "-p", "b"}, []string{"-p", "b"}, "x"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			std := streams{out: &bytes.Buffer{}, err: &bytes.Buffer{}}
			fs := newFlags(std, "run", "", "")
			o := fs.String("o", "", "")
			got, err := parseInterleaved(fs, std, tc.args)
			if err != nil || strings.Join(got, " ") != strings.Join(tc.positional, " ") || *o != tc.out {
				t.Fatalf("= %q, -o %q, %v; want %q, -o %q", got, *o, err, tc.positional, tc.out)
			}
		})
	}
}
