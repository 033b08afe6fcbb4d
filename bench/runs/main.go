// Command runs benchmarks the overhead of one headless run of a 5-cell
// notebook, in one invocation:
//
//   - flowlab: a "Run now" of an app of `flowlab serve` (the scheduler's
//     path: queue, claim, a fresh kernel, the cells, the executed notebook
//     saved, the record finished), from the run record's creation to its
//     end as the server stamps them; and `flowlab run` (the command) as
//     a process, wall clock;
//   - the peers, on the equivalent Python notebook with Debian's python3
//     ipykernel: `python3 -m nbconvert --to notebook --execute` and an
//     nbclient script (NotebookClient.execute, then nbformat.write), each
//     as a process, wall clock.
//
// The cells do almost nothing (a few assignments and a final value), so
// each time is the overhead. The measurements take turns, -rounds times,
// after one warm-up of each.
//
// Usage: go run ./bench/runs [-rounds 15] [-python /usr/bin/python3]
// Results go to stdout as Markdown for BENCHMARKS.md; progress to stderr.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/bench/internal/build"
)

const token = "bench-runs-token"

// cells are the notebook's five code cells in Go and in Python.
var cells = [][2]string{
	{"a := 1", "a = 1"},
	{"b := a + 1", "b = a + 1"},
	{"c := b * 3", "c = b * 3"},
	{"d := []int{a, b, c}", "d = [a, b, c]"},
	{"len(d)", "len(d)"},
}

// notebook returns the notebook in language lang (0 Go, 1 Python).
func notebook(lang int) []byte {
	var cs []map[string]any
	for i, c := range cells {
		cs = append(cs, map[string]any{"cell_type": "code", "id": fmt.Sprintf("c%d", i), "metadata": map[string]any{},
			"source": c[lang], "outputs": []any{}, "execution_count": nil})
	}
	spec := map[string]any{"name": "flowlab-go", "display_name": "Go (flowlab)", "language": "go"}
	if lang == 1 {
		spec = map[string]any{"name": "python3", "display_name": "Python 3", "language": "python"}
	}
	b, _ := json.Marshal(map[string]any{"cells": cs, "metadata": map[string]any{"kernelspec": spec}, "nbformat": 4, "nbformat_minor": 5})
	return b
}

func main() {
	rounds := flag.Int("rounds", 15, "measured runs of each kind")
	python := flag.String("python", "/usr/bin/python3", "Debian's `python` with nbclient, nbconvert and ipykernel")
	flag.Parse()
	if err := run(*rounds, *python); err != nil {
		fmt.Fprintln(os.Stderr, "bench/runs:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/runs: "+format+"\n", args...)
}

func run(rounds int, python string) error {
	ver, err := exec.Command(python, "-c", "import nbclient, nbconvert, ipykernel, sys; print(nbclient.__version__, nbconvert.__version__, ipykernel.__version__, sys.version.split()[0])").Output()
	if err != nil {
		return fmt.Errorf("%s cannot import nbclient, nbconvert and ipykernel (Debian: python3-nbclient python3-nbconvert python3-ipykernel): %w", python, err)
	}
	tmp, err := os.MkdirTemp("", "bench-runs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, _, err := build.Both(tmp)
	if err != nil {
		return err
	}
	goNB, pyNB := filepath.Join(tmp, "five.ipynb"), filepath.Join(tmp, "five-py.ipynb")
	if err := os.WriteFile(goNB, notebook(0), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pyNB, notebook(1), 0o600); err != nil {
		return err
	}
	script := filepath.Join(tmp, "nbclient_run.py")
	if err := os.WriteFile(script, []byte(`import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="python3").execute()
nbformat.write(nb, sys.argv[2])
`), 0o600); err != nil {
		return err
	}

	srv, base, err := startServe(bin, filepath.Join(tmp, "data"))
	if err != nil {
		return err
	}
	defer stop(srv)
	c := &client{base: base}
	var app struct{ ID, Notebook string }
	if err := c.do("POST", "/api/apps", map[string]any{"name": "five-cells"}, &app); err != nil {
		return err
	}
	if err := c.do("PUT", "/api/contents/"+app.Notebook, map[string]any{"type": "notebook", "content": json.RawMessage(notebook(0))}, nil); err != nil {
		return err
	}

	kinds := []struct {
		name string
		once func() (time.Duration, error)
	}{
		{"flowlab, scheduled run (Run now: queue → fresh kernel → 5 cells → notebook saved → record finished)", func() (time.Duration, error) { return c.runNow(app.ID) }},
		{"flowlab run (process, wall clock)", wall(bin, "run", goNB, "-o", filepath.Join(tmp, "out-go.ipynb"))},
		{"nbclient script (python3 + ipykernel, process, wall clock)", wall(python, script, pyNB, filepath.Join(tmp, "out-nbclient.ipynb"))},
		{"jupyter nbconvert --execute (python3 + ipykernel, process, wall clock)", wall(python, "-m", "nbconvert", "--to", "notebook", "--execute", pyNB, "--output", filepath.Join(tmp, "out-nbconvert.ipynb"))},
	}
	times := make([][]time.Duration, len(kinds))
	for round := -1; round < rounds; round++ { // round -1 warms up
		for i, k := range kinds {
			d, err := k.once()
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			if round >= 0 {
				times[i] = append(times[i], d)
			}
		}
		if round >= 0 {
			progress("round %d/%d", round+1, rounds)
		}
	}

	host, _ := os.Hostname()
	vs := strings.Fields(string(ver))
	fmt.Printf("bench/runs — %s/%s, %d CPUs, %s, %s; nbclient %s, nbconvert %s, ipykernel %s, Python %s; %d rounds\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), host, vs[0], vs[1], vs[2], vs[3], rounds)
	fmt.Println("| run of a 5-cell notebook | median | min–max | ratio to flowlab's scheduled run |")
	fmt.Println("|---|---|---|---|")
	ref := median(times[0])
	for i, k := range kinds {
		m := median(times[i])
		fmt.Printf("| %s | %s | %s–%s | %.1f× |\n", k.name, ms(m), ms(slices.Min(times[i])), ms(slices.Max(times[i])), float64(m)/float64(ref))
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// wall returns a measurement of a command's wall time.
func wall(name string, args ...string) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "FLOWLAB_LAKE=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%v\n%s", err, out.String())
		}
		return time.Since(start), nil
	}
}

// startServe starts `flowlab serve` and returns its URL.
func startServe(bin, dataDir string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--token", token, "--log-level", "error")
	cmd.Env = append(os.Environ(), "FLOWLAB_LAKE=", "FLOWLAB_TAPS=")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), " serving on "); ok {
			go io.Copy(io.Discard, out)
			return cmd, strings.TrimSpace(u), nil
		}
	}
	stop(cmd)
	return nil, "", errors.New("flowlab serve exited before it listened")
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// client calls the server's REST API.
type client struct{ base string }

func (c *client) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// runNow queues a run, waits for its end and returns the time from its
// record's creation to its end, as the server stamped them.
func (c *client) runNow(appID string) (time.Duration, error) {
	var r struct {
		ID, Status        string
		Created, Finished time.Time
		Error             any
	}
	if err := c.do("POST", "/api/apps/"+appID+"/runs", map[string]any{}, &r); err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if err := c.do("GET", "/api/apps/"+appID+"/runs/"+r.ID, nil, &r); err != nil {
			return 0, err
		}
		switch r.Status {
		case "succeeded":
			return r.Finished.Sub(r.Created), nil
		case "queued", "running":
		default:
			return 0, fmt.Errorf("run %s: %s %v", r.ID, r.Status, r.Error)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("run %s still %s after a minute", r.ID, r.Status)
		}
	}
}
