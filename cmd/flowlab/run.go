//go:build !kernelonly

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/userapps/files"
	"github.com/flowlab/flowlab/userapps/kernels"
	"github.com/flowlab/flowlab/userapps/runner"
)

func init() {
	register(command{name: "run", summary: "run a notebook headless with parameters and write the executed notebook", run: runNotebook})
}

// paramFlag collects -p (typed) or -r (raw string) parameters; the last
// value given for a name wins.
type paramFlag struct {
	params map[string]any
	raw    bool
}

func (p paramFlag) String() string { return "" }

func (p paramFlag) Set(arg string) error {
	name, value, err := runner.ParseParameter(arg)
	if err != nil {
		return err
	}
	if p.raw {
		p.params[name] = string(value)
	} else {
		p.params[name] = value
	}
	return nil
}

func runNotebook(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "run", "run [--demo [--broker-addr A]] NOTEBOOK.ipynb [-p NAME=VALUE]... [-r NAME=VALUE]... -o OUT.ipynb [--cell-timeout D] [--timeout D] [--lake DIR]", `
Run every code cell of NOTEBOOK in a fresh kernel, in order, as nbclient and
papermill do, and write the executed notebook, with its outputs, to OUT:
while the run goes on (a few times a second, atomically) and at its end,
also when a cell fails. The run stops at the first cell that raises an
error, unless the cell is tagged raises-exception.

Parameters (papermill's convention) go into a new cell, tagged
injected-parameters, after the cell tagged parameters (first, when no cell
is). -p NAME=VALUE types VALUE as the parameters cell declares NAME (an int,
float, bool or string), else as an int, a float, true/false, or a string,
in that order; -r NAME=VALUE always gives a string.

Exit status: 0 when the run succeeded; 1 when it failed, timed out or was
interrupted (the error, naming the cell, on stderr; OUT still written); 2
for a usage error (a bad flag or parameter).

Examples:
  flowlab run --demo examples/lab3-portscan-detector.ipynb -o /tmp/lab3.ipynb
  flowlab run --demo detector.ipynb -p threshold=5 -o scans.ipynb
  flowlab run report.ipynb -r hour=202611230800 --timeout 10m -o report-0800.ipynb`)
	params := map[string]any{}
	fs.Var(paramFlag{params: params}, "p", "parameter `NAME=VALUE`, typed (repeatable)")
	fs.Var(paramFlag{params: params, raw: true}, "r", "parameter `NAME=VALUE`, always a string (repeatable)")
	out := fs.String("o", "", "`OUT.ipynb`, the executed notebook to write (required)")
	cellTimeout := fs.Duration("cell-timeout", 0, "interrupt a cell running longer than `D` and fail the run as timed out (0: no limit)")
	timeout := fs.Duration("timeout", 0, "stop the run after `D`, kernel start included (0: no limit)")
	demoMode := fs.Bool("demo", false, "read the demo lake (DATA_DIR/lake unless --lake), generated if absent, as serve --demo does; without $FLOWLAB_TAPS, the Alerts tap goes to an embedded broker")
	brokerAddr := fs.String("broker-addr", "127.0.0.1:0", "with --demo and no $FLOWLAB_TAPS, the embedded broker's `address` (port 0 picks one)")
	dataDir := fs.String("data-dir", "flowlab-data", "with --demo, the `dir` whose lake folder holds the demo lake")
	lake := fs.String("lake", os.Getenv("FLOWLAB_LAKE"), "datalake root `DIR` the kernel reads (default $FLOWLAB_LAKE)")
	kernelBin := fs.String("kernel-binary", "", "`program` that runs the kernel (default: "+kernelBinaryName+" beside this binary when from the same build, else this binary)")
	positional, err := parseInterleaved(fs, std, args)
	if err != nil {
		return err
	}
	switch {
	case len(positional) != 1:
		return usagef("run takes one notebook, got %d arguments %q", len(positional), positional)
	case *out == "":
		return usagef("run needs -o OUT.ipynb, where to write the executed notebook")
	case *cellTimeout < 0 || *timeout < 0:
		return usagef("--cell-timeout and --timeout cannot be negative")
	}
	src := positional[0]
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read the notebook: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := newLogger(std.err, "text", slog.LevelWarn)
	// The kernels' connection notices at shutdown are noise on a terminal.
	kernelLog := newLogger(std.err, "text", slog.LevelError)
	if *demoMode {
		if *lake == "" {
			*lake = filepath.Join(*dataDir, "lake")
		}
		if err := ensureDemoLake(ctx, *lake, log.With("component", "demo")); err != nil {
			return err
		}
	}
	if *lake != "" {
		if *lake, err = filepath.Abs(*lake); err != nil {
			return err
		}
	}
	// A demo run sends its alerts somewhere, as serve --demo does: to an
	// in-process broker that lives as long as the run, unless the
	// environment names real taps.
	var kernelEnv []string
	if *demoMode && os.Getenv("FLOWLAB_TAPS") == "" {
		b, err := broker.New(broker.Options{Addr: *brokerAddr, Topics: []string{"alerts"}, Logger: log.With("component", "broker")})
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		bctx, stopBroker := context.WithCancel(context.WithoutCancel(ctx))
		brokerDone := make(chan error, 1)
		go func() { brokerDone <- b.Run(bctx) }()
		defer func() { stopBroker(); <-brokerDone }()
		kernelEnv = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "FLOWLAB_TAPS=") })
		kernelEnv = append(kernelEnv, fmt.Sprintf(`FLOWLAB_TAPS={"taps":{"Alerts":{"brokers":[%q],"topic":"alerts"}}}`, b.Addr()))
		fmt.Fprintf(std.err, "flowlab run: demo: the Alerts tap goes to an embedded broker at %s (topic alerts), which stops with the run\n", b.Addr())
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return err
	}
	kbin, err := findKernelBinary(exe, *kernelBin)
	if err != nil {
		return usagef("--kernel-binary: %v", err)
	}
	runtimeDir, err := os.MkdirTemp("", "flowlab-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runtimeDir)
	// A run's kernel that dies fails the run: restarting it would only
	// delay the shutdown.
	mgr, err := kernels.New(kernels.Options{Binary: kbin.path, RuntimeDir: runtimeDir, Lake: *lake, Env: kernelEnv, MaxRestarts: -1, Logger: kernelLog.With("component", "kernels")})
	if err != nil {
		return err
	}
	defer mgr.Close()
	r, err := runner.New(runner.Options{Kernels: mgr, Logger: log.With("component", "runner")})
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		return err
	}
	outPath := *out
	res, err := r.Run(ctx, runner.Job{
		Dir:            dir,
		Notebook:       data,
		Parameters:     params,
		ParametersFrom: "the command line (flowlab run -p/-r)",
		CellTimeout:    *cellTimeout,
		Timeout:        *timeout,
		Save:           func(_ context.Context, nb []byte) error { return files.WriteFile(outPath, nb) },
	})
	for _, n := range res.Notices {
		fmt.Fprintf(std.err, "flowlab run: note: %s\n", n)
	}
	var re *runner.RunError
	if errors.As(err, &re) && re.EName == "InvalidParameter" {
		return usagef("%v", re.EValue)
	}
	if err != nil {
		if res.Notebook != nil && !errors.Is(err, runner.ErrSave) {
			fmt.Fprintf(std.err, "flowlab run: %s %s after %s; the executed notebook is in %s\n", src, res.Status, res.Duration().Round(time.Millisecond), outPath)
		}
		return fmt.Errorf("run %s: %s: %w", src, res.Status, err)
	}
	fmt.Fprintf(std.out, "%s %s in %s; wrote %s\n", src, res.Status, res.Duration().Round(time.Millisecond), outPath)
	return nil
}
