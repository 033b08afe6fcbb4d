// Command server benchmarks `flowlab serve` against Debian's jupyter_server
// with python3 ipykernel, in one invocation, both driven by
// @jupyterlab/services (the client JupyterLab uses; bench/server/client.js
// under Node) so the client costs the same on each side:
//
//   - websocket execute round trip: a trivial cell's execute_request to its
//     execute_reply and idle status, p50 and p99 over -cells cells, run in
//     blocks of -block taking turns between the servers after -warmup cells;
//   - open app to kernel ready: session POST to the first
//     kernel_info_reply, -opens times each, taking turns;
//   - memory: the sum of VmRSS of the server and all its descendants with
//     -apps sessions running idle (each with its websocket connected),
//     minus the server alone before; apps per 24 GB projected from it.
//
// Usage: go run ./bench/server [-flowlab BIN] [-cells 500] [-apps 100] [-peer-apps 100]
// Results go to stdout as Markdown for BENCHMARKS.md; progress to stderr.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/bench/internal/build"
)

// config is the command line.
type config struct {
	flowlab  string
	python   string
	cells    int
	warmup   int
	block    int
	opens    int
	apps     int
	peerApps int
	noPeer   bool
}

func main() {
	var c config
	flag.StringVar(&c.flowlab, "flowlab", "", "flowlab `binary` (default: build ./cmd/flowlab, and flowlab-kernel with -tags kernelonly beside it, as deployed)")
	flag.StringVar(&c.python, "python", "/usr/bin/python3", "Debian's `python` with jupyter_server and ipykernel")
	flag.IntVar(&c.cells, "cells", 500, "timed trivial cells per server")
	flag.IntVar(&c.warmup, "warmup", 50, "untimed cells per server first")
	flag.IntVar(&c.block, "block", 100, "cells per turn")
	flag.IntVar(&c.opens, "opens", 10, "app opens timed per server")
	flag.IntVar(&c.apps, "apps", 100, "idle apps for flowlab's memory")
	flag.IntVar(&c.peerApps, "peer-apps", 100, "idle apps for jupyter_server's memory (0: skip)")
	flag.BoolVar(&c.noPeer, "no-peer", false, "flowlab only")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, c)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/server:", err)
		os.Exit(1)
	}
}

// server is one Jupyter server under test and the Node client driving it.
type server struct {
	name    string
	version string
	url     string
	cmd     *exec.Cmd
	client  *nodeClient

	roundTrip []float64 // ms
	blocks    []float64 // p50 of each block, ms
	opens     []float64 // ms
	appOpens  []float64 // ms, while opening the idle apps
	memBase   memory    // server tree without apps
	memApps   memory    // with the idle apps
	portRaces []string  // kernel starts that failed to bind their ports, retried
	apps      int
}

const token = "bench-server-token"

func run(ctx context.Context, c config) error {
	if c.cells < 1 || c.block < 1 || c.opens < 1 || c.apps < 1 {
		return errors.New("-cells, -block, -opens and -apps must be at least 1")
	}
	root, err := build.ModuleRoot()
	if err != nil {
		return err
	}
	nodeModules, err := npmDeps(root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if c.flowlab == "" {
		// The server runs its kernels with the kernel-only build when it
		// finds it beside itself (docs/deploy.md), as the image ships them.
		if c.flowlab, _, err = build.Both(tmp); err != nil {
			return err
		}
	}

	fl, err := startFlowlab(ctx, c.flowlab, filepath.Join(tmp, "flowlab-data"))
	if err != nil {
		return err
	}
	defer stopServer(fl)
	servers := []*server{fl}
	if !c.noPeer {
		js, err := startJupyter(ctx, c.python, tmp)
		if err != nil {
			return err
		}
		defer stopServer(js)
		servers = append(servers, js)
	}
	clientJS := filepath.Join(root, "bench", "server", "client.js")
	for _, s := range servers {
		kernel, code, want := "flowlab-go", "1 + 1", "2"
		if s.name != "flowlab" {
			kernel = "python3"
		}
		if s.client, err = startClient(ctx, clientJS, nodeModules, s.url, kernel, code, want); err != nil {
			return err
		}
		defer s.client.close()
	}

	// Round trips, taking turns so both see the same machine.
	for _, s := range servers {
		progress("%s: %d warm-up cells", s.name, c.warmup)
		if _, err := s.client.roundTrip(c.warmup); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	for done := 0; done < c.cells; done += c.block {
		n := min(c.block, c.cells-done)
		for _, s := range servers {
			ms, err := s.client.roundTrip(n)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			s.roundTrip = append(s.roundTrip, ms...)
			s.blocks = append(s.blocks, percentile(ms, 50))
		}
		progress("round trip: %d/%d cells each", done+n, c.cells)
	}
	for i := 0; i < c.opens; i++ {
		for _, s := range servers {
			var r struct{ MS float64 }
			if err := s.client.do(map[string]any{"cmd": "open", "path": fmt.Sprintf("open-%d.ipynb", i)}, &r); err != nil {
				return fmt.Errorf("%s: open: %w", s.name, err)
			}
			s.opens = append(s.opens, r.MS)
		}
		progress("opens: %d/%d each", i+1, c.opens)
	}

	// Memory, one server at a time: 100 kernels starting at once would
	// only measure the machine's contention.
	for _, s := range servers {
		n := c.apps
		if s.name != "flowlab" {
			n = c.peerApps
		}
		if n == 0 {
			continue
		}
		if err := s.client.do(map[string]any{"cmd": "closebench"}, nil); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := s.measureMemory(n); err != nil {
			return fmt.Errorf("%s: memory: %w", s.name, err)
		}
	}
	report(os.Stdout, c, servers)
	return nil
}

// measureMemory opens n idle apps and sums the VmRSS of the server's
// process tree before and with them.
func (s *server) measureMemory(n int) error {
	pid := s.cmd.Process.Pid
	if err := waitTree(pid, 1, 30*time.Second); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	base, err := treeMemory(pid)
	if err != nil {
		return err
	}
	progress("%s: server alone %.1f MB RSS; opening %d apps", s.name, float64(base.rss)/1024, n)
	var r struct {
		MS        []float64
		Running   int
		PortRaces []string
	}
	start := time.Now()
	if err := s.client.do(map[string]any{"cmd": "apps", "n": n, "prefix": "idle-"}, &r); err != nil {
		return err
	}
	if r.Running != n {
		return fmt.Errorf("%d apps running, want %d", r.Running, n)
	}
	progress("%s: %d apps ready in %v; letting them settle", s.name, n, time.Since(start).Round(time.Millisecond))
	time.Sleep(5 * time.Second)
	total, err := treeMemory(pid)
	if err != nil {
		return err
	}
	if total.procs < n+1 {
		return fmt.Errorf("%d processes in the server's tree with %d apps: the kernels are not its children", total.procs, n)
	}
	s.memBase, s.memApps, s.apps, s.appOpens, s.portRaces = base, total, n, r.MS, r.PortRaces
	for _, e := range r.PortRaces {
		progress("%s: a kernel start lost its ports and was retried: %s", s.name, e)
	}
	progress("%s: %d processes, %.1f MB RSS, %.1f MB PSS", s.name, total.procs, float64(total.rss)/1024, float64(total.pss)/1024)
	return s.client.do(map[string]any{"cmd": "closeapps"}, nil)
}

// waitTree waits until pid's tree has at most max processes (kernels shut
// down).
func waitTree(pid, max int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		m, err := treeMemory(pid)
		if err != nil {
			return err
		}
		if n := m.procs; n <= max {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes still in the server's tree", m.procs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startFlowlab starts `flowlab serve` on a port it picks.
func startFlowlab(ctx context.Context, bin, dataDir string) (*server, error) {
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--token", token, "--log-level", "error")
	cmd.Env = append(os.Environ(), "FLOWLAB_LAKE=", "FLOWLAB_TAPS=")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: "flowlab", cmd: cmd}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, u, ok := strings.Cut(sc.Text(), " serving on "); ok {
			s.url = strings.TrimSpace(u) + "/"
			s.version = v // "flowlab VERSION"
			break
		}
	}
	go io.Copy(io.Discard, out)
	if s.url == "" {
		stopServer(s)
		return nil, errors.New("flowlab serve exited before it listened")
	}
	if commit, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		s.version += " at commit " + strings.TrimSpace(string(commit))
	}
	progress("flowlab serve on %s", s.url)
	return s, nil
}

// startJupyter starts Debian's jupyter_server with its own Jupyter folders.
func startJupyter(ctx context.Context, python, tmp string) (*server, error) {
	ver, err := exec.Command(python, "-c", "import jupyter_server, ipykernel, sys; print(jupyter_server.__version__, ipykernel.__version__, sys.version.split()[0])").Output()
	if err != nil {
		return nil, fmt.Errorf("%s cannot import jupyter_server and ipykernel (Debian: python3-jupyter-server python3-ipykernel): %w", python, err)
	}
	vs := strings.Fields(string(ver))
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "jupyter")
	for _, d := range []string{"root", "runtime", "config", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, python, "-m", "jupyter_server", "--allow-root", "--ServerApp.token="+token,
		"--port", strconv.Itoa(port), "--no-browser", "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
		"--ServerApp.root_dir="+filepath.Join(dir, "root"))
	cmd.Env = append(os.Environ(), "JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"),
		"JUPYTER_CONFIG_DIR="+filepath.Join(dir, "config"), "JUPYTER_DATA_DIR="+filepath.Join(dir, "data"))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: "jupyter_server", cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/", port),
		version: fmt.Sprintf("jupyter_server %s, ipykernel %s, Python %s", vs[0], vs[1], vs[2])}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, s.url+"api/status", nil)
		req.Header.Set("Authorization", "token "+token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			stopServer(s)
			return nil, fmt.Errorf("jupyter_server does not answer on %s:\n%s", s.url, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	progress("%s on %s", s.version, s.url)
	return s, nil
}

// stopServer sends SIGTERM, then kills the process group it started.
func stopServer(s *server) {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// nodeClient is client.js running, one command at a time.
type nodeClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startClient(ctx context.Context, script, nodeModules, url, kernel, code, want string) (*nodeClient, error) {
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules, "JUPYTER_URL="+url, "JUPYTER_TOKEN="+token,
		"KERNEL_NAME="+kernel, "CELL_CODE="+code, "CELL_RESULT="+want)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 16<<20)
	return &nodeClient{cmd: cmd, in: in, out: sc}, nil
}

// do sends one command and decodes its answer into v (if not nil).
func (c *nodeClient) do(req map[string]any, v any) error {
	b, _ := json.Marshal(req)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("client.js: %w", err)
	}
	if !c.out.Scan() {
		return fmt.Errorf("client.js exited: %v", c.out.Err())
	}
	var status struct {
		OK    bool
		Error string
	}
	if err := json.Unmarshal(c.out.Bytes(), &status); err != nil {
		return fmt.Errorf("client.js answered %q: %w", c.out.Text(), err)
	}
	if !status.OK {
		return fmt.Errorf("%s: %s", req["cmd"], status.Error)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(c.out.Bytes(), v)
}

func (c *nodeClient) roundTrip(cells int) ([]float64, error) {
	var r struct{ MS []float64 }
	err := c.do(map[string]any{"cmd": "roundtrip", "cells": cells}, &r)
	if err == nil && len(r.MS) != cells {
		err = fmt.Errorf("%d timings for %d cells", len(r.MS), cells)
	}
	return r.MS, err
}

func (c *nodeClient) close() {
	c.in.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// memory is a process tree's resident memory, in kB: the sum of VmRSS
// (which counts pages shared between processes, such as the executable's
// text, once per process) and the sum of PSS (shared pages divided among
// the processes sharing them: the tree's physical footprint).
type memory struct {
	rss, pss int64
	procs    int
}

// treeMemory sums pid's and its descendants' memory.
func treeMemory(pid int) (memory, error) {
	var m memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	m.rss = kBField(string(status), "VmRSS:")
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	m.pss = kBField(string(rollup), "Pss:")
	m.procs = 1
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			child, _ := strconv.Atoi(f)
			if c, err := treeMemory(child); err == nil {
				m.rss += c.rss
				m.pss += c.pss
				m.procs += c.procs
			}
		}
	}
	return m, nil
}

// kBField parses a "Name:   123 kB" line of a /proc file.
func kBField(text, name string) int64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

func percentile(ms []float64, p float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

// npmDeps installs the pinned @jupyterlab/services (scripts/npm-deps.sh)
// and returns the node_modules folder.
func npmDeps(root string) (string, error) {
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "npm-deps.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/npm-deps.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/server: "+format+"\n", args...)
}

// report writes the Markdown for BENCHMARKS.md.
func report(w io.Writer, c config, servers []*server) {
	fl := servers[0]
	var peer *server
	if len(servers) > 1 {
		peer = servers[1]
	}
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	nodeV, _ := exec.Command("node", "--version").Output()
	fmt.Fprintf(w, "Machine: %d CPUs (%s), load average %s; Go %s, Node %s, @jupyterlab/services (userapps/httpapi/testdata/node/package-lock.json); %s; %s.\n\n",
		runtime.NumCPU(), cpu, strings.Join(strings.Fields(string(load))[:3], " "), runtime.Version(), strings.TrimSpace(string(nodeV)),
		fl.version, func() string {
			if peer == nil {
				return "no peer"
			}
			return "peer " + peer.version
		}())
	ms := func(v float64) string { return fmt.Sprintf("%.2f ms", v) }
	ratio := func(a, b float64) string {
		if b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f×", a/b)
	}
	fmt.Fprintln(w, "| measure | flowlab serve | jupyter_server + ipykernel | jupyter / flowlab |")
	fmt.Fprintln(w, "|---|---|---|---|")
	// row writes a measure of both servers; lower is better, so the ratio
	// says how many times flowlab's is lower.
	row := func(name string, f func(s *server) float64, format func(float64) string) {
		a := f(fl)
		b, bs, r := 0.0, "–", ""
		if peer != nil {
			b = f(peer)
			bs, r = format(b), ratio(b, a)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, format(a), bs, r)
	}
	// plain writes a measure without a ratio (counts, more-is-better).
	plain := func(name string, f func(s *server) float64, format func(float64) string) {
		bs := "–"
		if peer != nil {
			bs = format(f(peer))
		}
		fmt.Fprintf(w, "| %s | %s | %s | |\n", name, format(f(fl)), bs)
	}
	spread := func(name string, f func(s *server) []float64) {
		cell := func(s *server) string {
			v := f(s)
			return fmt.Sprintf("%.2f–%.2f ms", slices.Min(v), slices.Max(v))
		}
		ps := "–"
		if peer != nil {
			ps = cell(peer)
		}
		fmt.Fprintf(w, "| %s | %s | %s | |\n", name, cell(fl), ps)
	}
	row(fmt.Sprintf("execute round trip, p50 of %d", c.cells), func(s *server) float64 { return percentile(s.roundTrip, 50) }, ms)
	row("execute round trip, p99", func(s *server) float64 { return percentile(s.roundTrip, 99) }, ms)
	spread(fmt.Sprintf("round trip p50 of each block of %d (spread)", c.block), func(s *server) []float64 { return s.blocks })
	row(fmt.Sprintf("open app → kernel ready, median of %d", c.opens), func(s *server) float64 { return percentile(s.opens, 50) }, ms)
	spread("open app → kernel ready, min–max", func(s *server) []float64 { return s.opens })
	if fl.apps > 0 {
		mb := func(kb float64) string { return fmt.Sprintf("%.1f MB", kb/1024) }
		count := func(v float64) string { return fmt.Sprintf("%.0f", v) }
		plain("N idle apps (sessions, websocket connected)", func(s *server) float64 { return float64(s.apps) }, count)
		for _, kind := range []struct {
			name string
			of   func(memory) int64
		}{{"VmRSS sum", func(m memory) int64 { return m.rss }}, {"PSS sum", func(m memory) int64 { return m.pss }}} {
			row("server alone, "+kind.name, func(s *server) float64 { return float64(kind.of(s.memBase)) }, mb)
			row("server + kernels with N apps, "+kind.name, func(s *server) float64 { return float64(kind.of(s.memApps)) }, mb)
			row("per app, "+kind.name, func(s *server) float64 { return perApp(s, kind.of) }, mb)
			plain("apps per 24 GB, "+kind.name, func(s *server) float64 { return appsPer24GB(s, kind.of) }, count)
		}
		plain("kernel starts retried after losing their ports (address already in use)", func(s *server) float64 { return float64(len(s.portRaces)) }, count)
		row("open app → kernel ready while opening the N apps (8 at a time), median", func(s *server) float64 { return percentile(s.appOpens, 50) }, ms)
	}
	fmt.Fprintln(w)
	if peer != nil {
		r := percentile(peer.roundTrip, 50) / percentile(fl.roundTrip, 50)
		fmt.Fprintf(w, "Round trip target (≥ 10× lower than jupyter_server at p50): %s (%.1f×).\n", metOrNot(r >= 10), r)
	}
	if fl.apps > 0 {
		rss := appsPer24GB(fl, func(m memory) int64 { return m.rss })
		pss := appsPer24GB(fl, func(m memory) int64 { return m.pss })
		fmt.Fprintf(w, "Memory target (≥ 500 idle apps in 24 GB): by PSS %s (%.0f); by the VmRSS sum %s (%.0f).\n", metOrNot(pss >= 500), pss, metOrNot(rss >= 500), rss)
	}
}

// perApp is the memory an idle app adds, in kB: the tree with the apps
// minus the server alone, over the apps.
func perApp(s *server, of func(memory) int64) float64 {
	if s.apps == 0 {
		return 0
	}
	return float64(of(s.memApps)-of(s.memBase)) / float64(s.apps)
}

// appsPer24GB projects how many idle apps 24 GB holds beside the server.
func appsPer24GB(s *server, of func(memory) int64) float64 {
	p := perApp(s, of)
	if p <= 0 {
		return 0
	}
	return (24<<30/1024 - float64(of(s.memBase))) / p
}

func metOrNot(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}
