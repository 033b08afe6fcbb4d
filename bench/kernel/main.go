// Command kernel benchmarks the flowlab Go kernel against Debian's python3
// ipykernel in one invocation, driving both through flowlab's own Jupyter
// client so the client costs the same on each side. The kernel is measured
// as deployed, the kernel-only build (flowlab-kernel, -tags kernelonly, which
// `flowlab serve` and `flowlab kernel install` use when it is beside
// flowlab), and, for comparison, as the full flowlab binary:
//
//   - start: process start to the first kernel_info_reply (median of -starts)
//   - trivial cell round trip: execute_request to execute_reply and idle,
//     p50 and p99 over -cells cells
//   - a 10M-iteration loop cell
//   - resident memory (VmRSS) right after start
//
// Usage: go run ./bench/kernel [-kernel BIN] [-flowlab BIN|none] [-starts 30] [-cells 2000]
// Results go to stdout as a Markdown table for BENCHMARKS.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowlab/flowlab/bench/internal/build"
	"github.com/flowlab/flowlab/kernel/jupyter"
)

type kernelSpec struct {
	name     string
	argv     func(connFile string) []string
	trivial  string
	loop     string
	loopWant string
}

func main() {
	kernelBin := flag.String("kernel", "", "kernel-only flowlab binary (default: build ./cmd/flowlab with -tags kernelonly)")
	bin := flag.String("flowlab", "", "full flowlab binary, measured for comparison (default: build ./cmd/flowlab; none: skip)")
	starts := flag.Int("starts", 30, "kernel starts to time")
	cells := flag.Int("cells", 2000, "trivial cells to time")
	loops := flag.Int("loops", 3, "runs of the 10M-iteration loop cell")
	flag.Parse()
	if err := run(*kernelBin, *bin, *starts, *cells, *loops); err != nil {
		fmt.Fprintln(os.Stderr, "bench/kernel:", err)
		os.Exit(1)
	}
}

type result struct {
	start     []time.Duration
	rss       []int64 // kB
	cell      []time.Duration
	loop      []time.Duration
	loopValue string
}

func run(kernelBin, bin string, starts, cells, loops int) error {
	dir, err := os.MkdirTemp("", "bench-kernel-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if kernelBin == "" {
		kernelBin = filepath.Join(dir, "flowlab-kernel")
		if err := build.Binary(kernelBin, "kernelonly"); err != nil {
			return err
		}
	}
	if bin == "" {
		bin = filepath.Join(dir, "flowlab")
		if err := build.Binary(bin); err != nil {
			return err
		}
	}
	specs := []kernelSpec{
		{
			name:     "flowlab-kernel (Go, yaegi)",
			argv:     func(f string) []string { return []string{kernelBin, "kernel", "-f", f} },
			trivial:  "1",
			loop:     "s := 0\nfor i := 0; i < 10000000; i++ { s += i }\ns",
			loopWant: "49999995000000",
		},
		{
			name:     "ipykernel (python3)",
			argv:     func(f string) []string { return []string{"/usr/bin/python3", "-m", "ipykernel_launcher", "-f", f} },
			trivial:  "1",
			loop:     "s = 0\nfor i in range(10_000_000):\n    s += i\ns",
			loopWant: "49999995000000",
		},
	}
	if bin != "none" {
		full := specs[0]
		full.name = "flowlab, full binary"
		full.argv = func(f string) []string { return []string{bin, "kernel", "-f", f} }
		specs = append(specs, full)
	}
	results := make([]result, len(specs))
	for i, spec := range specs {
		fmt.Fprintf(os.Stderr, "== %s\n", spec.name)
		r, err := measure(spec, starts, cells, loops)
		if err != nil {
			return fmt.Errorf("%s: %w", spec.name, err)
		}
		results[i] = r
	}
	report(specs, results, starts, cells)
	return nil
}

// kernelProc is one running kernel and a client connected to it.
type kernelProc struct {
	cmd    *exec.Cmd
	client *jupyter.Client
	dir    string
	exited chan struct{} // closed when the process has exited
}

func launch(ctx context.Context, spec kernelSpec) (*kernelProc, time.Duration, error) {
	dir, err := os.MkdirTemp("", "bench-kernel-conn-")
	if err != nil {
		return nil, 0, err
	}
	info, err := jupyter.NewConnectionInfo(jupyter.ConnectionOptions{})
	if err != nil {
		return nil, 0, err
	}
	connFile := filepath.Join(dir, "kernel.json")
	if err := jupyter.WriteConnectionFile(connFile, info); err != nil {
		return nil, 0, err
	}
	argv := spec.argv(connFile)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JUPYTER_RUNTIME_DIR="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// Dial waits for the kernel's sockets, so the kernel starts first.
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	// A kernel that dies or never answers fails the benchmark with its
	// stderr instead of hanging it.
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-startCtx.Done():
		}
	}()
	kp := &kernelProc{cmd: cmd, dir: dir, exited: exited}
	client, err := jupyter.Dial(startCtx, info, jupyter.ClientOptions{})
	if err != nil {
		kp.stop()
		return nil, 0, fmt.Errorf("connect: %w; kernel stderr: %s", err, stderr.String())
	}
	kp.client = client
	if _, err := client.KernelInfo(startCtx); err != nil {
		kp.stop()
		return nil, 0, fmt.Errorf("first kernel_info: %w; kernel stderr: %s", err, stderr.String())
	}
	took := time.Since(t0)
	if err := client.WaitReady(ctx); err != nil {
		kp.stop()
		return nil, 0, err
	}
	return kp, took, nil
}

func (k *kernelProc) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if k.client != nil {
		_ = k.client.Shutdown(ctx, false)
	}
	select {
	case <-k.exited:
	case <-time.After(3 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.exited
	}
	if k.client != nil {
		k.client.Close()
	}
	os.RemoveAll(k.dir)
}

func measure(spec kernelSpec, starts, cells, loops int) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var r result
	for i := 0; i < starts; i++ {
		kp, took, err := launch(ctx, spec)
		if err != nil {
			return r, err
		}
		r.start = append(r.start, took)
		if rss, err := vmRSS(kp.cmd.Process.Pid); err == nil {
			r.rss = append(r.rss, rss)
		}
		kp.stop()
	}
	kp, _, err := launch(ctx, spec)
	if err != nil {
		return r, err
	}
	defer kp.stop()
	for i := 0; i < 100+cells; i++ {
		t0 := time.Now()
		ex, err := kp.client.Execute(ctx, spec.trivial, jupyter.ExecuteOptions{})
		if err != nil {
			return r, err
		}
		if i >= 100 { // the first 100 warm both kernels up
			r.cell = append(r.cell, time.Since(t0))
		}
		if rep, err := ex.ReplyContent(); err != nil || rep.Status != "ok" {
			return r, fmt.Errorf("trivial cell: %v %+v", err, rep)
		}
	}
	for i := 0; i < loops; i++ {
		t0 := time.Now()
		ex, err := kp.client.Execute(ctx, spec.loop, jupyter.ExecuteOptions{})
		if err != nil {
			return r, err
		}
		r.loop = append(r.loop, time.Since(t0))
		r.loopValue = resultText(ex)
		if r.loopValue != spec.loopWant {
			return r, fmt.Errorf("loop cell printed %q, want %s", r.loopValue, spec.loopWant)
		}
	}
	return r, nil
}

func resultText(ex *jupyter.Execution) string {
	for _, m := range ex.Outputs {
		if m.Header.MsgType != "execute_result" {
			continue
		}
		var c jupyter.ExecuteResult
		if m.DecodeContent(&c) == nil {
			s, _ := c.Data["text/plain"].(string)
			return s
		}
	}
	return ""
}

func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

func medianInt(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

func report(specs []kernelSpec, rs []result, starts, cells int) {
	host, _ := os.Hostname()
	fmt.Printf("bench/kernel — %s, %d CPUs, %s, %s\n\n", runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), runtime.Version(), host)
	// Columns: ours, the peer, their ratio, then any further builds of ours.
	fmt.Printf("| measure | %s | %s | ratio (ipykernel / flowlab) |", specs[0].name, specs[1].name)
	for _, s := range specs[2:] {
		fmt.Printf(" %s |", s.name)
	}
	fmt.Printf("\n|---|---|---|---|%s\n", strings.Repeat("---|", len(specs)-2))
	row := func(name string, f func(result) time.Duration) {
		a, b := f(rs[0]), f(rs[1])
		fmt.Printf("| %s | %s | %s | %.1f× |", name, ms(a), ms(b), float64(b)/float64(a))
		for _, r := range rs[2:] {
			fmt.Printf(" %s |", ms(f(r)))
		}
		fmt.Println()
	}
	row(fmt.Sprintf("start → first kernel_info_reply, p50 of %d", starts), func(r result) time.Duration { return pct(r.start, 0.5) })
	row("start, min", func(r result) time.Duration { return pct(r.start, 0) })
	row("start, max", func(r result) time.Duration { return pct(r.start, 1) })
	row(fmt.Sprintf("trivial cell round trip, p50 of %d", cells), func(r result) time.Duration { return pct(r.cell, 0.5) })
	row("trivial cell round trip, p99", func(r result) time.Duration { return pct(r.cell, 0.99) })
	row("10M-iteration loop cell, median", func(r result) time.Duration { return pct(r.loop, 0.5) })
	mb := func(r result) float64 { return float64(medianInt(r.rss)) / 1024 }
	fmt.Printf("| RSS after start (VmRSS, median) | %.1f MB | %.1f MB | %.1f× |", mb(rs[0]), mb(rs[1]), mb(rs[1])/mb(rs[0]))
	for _, r := range rs[2:] {
		fmt.Printf(" %.1f MB |", mb(r))
	}
	fmt.Println()
}
