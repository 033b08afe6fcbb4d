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
	"sync"
	"syscall"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/duckdb"
	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/flowlab/flowlab/kernel"
	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/kernel/stdio"
	"github.com/flowlab/flowlab/kernel/yaegi"
)

func init() {
	register(command{name: "kernel", summary: "run the Go Jupyter kernel (kernel.json runs this), or 'kernel install'", run: runKernel})
}

// version is the build's version, set with -ldflags "-X main.version=...".
var version = "dev"

// cellPrelude is what every fresh interpreter runs: the packages cells use
// without importing them.
var cellPrelude = []string{
	`import "github.com/flowlab/flowlab/kernel/display"`,
	`import . "github.com/flowlab/flowlab/datalake"`,
	`import . "github.com/flowlab/flowlab/datalake/taps"`,
}

func runKernel(ctx context.Context, std streams, args []string) error {
	if len(args) > 0 && args[0] == "install" {
		return runKernelInstall(ctx, std, args[1:])
	}
	fs := newFlags(std, "kernel", "kernel -f CONNECTION_FILE [--lake DIR] [--unrestricted]", `
Run one Jupyter kernel process for Go cells. Jupyter front ends start it from
the kernelspec ('flowlab kernel install' writes one); it speaks the Jupyter
messaging protocol on the ports of the connection file.

By default cells are sandboxed (docs/sandbox.md): they cannot start processes,
use unsafe or syscall, or open files outside the working directory, the
temporary directory and the lake (read-only).

Cells find IO, SQL and the Frame types in scope (docs/datalake.md); the lake
is --lake or $FLOWLAB_LAKE. They send alerts with DataTaps.SendMessage
(docs/taps.md); the taps are --taps or $FLOWLAB_TAPS, audited as the app
$FLOWLAB_APP (run $FLOWLAB_RUN) into --taps-audit.`)
	connFile := fs.String("f", "", "Jupyter connection `file` (required)")
	lake := fs.String("lake", os.Getenv("FLOWLAB_LAKE"), "datalake root `DIR` cells read (default $FLOWLAB_LAKE)")
	unrestricted := fs.Bool("unrestricted", false, "lift the sandbox: processes, unsafe, syscall and every file")
	maxOutput := fs.Int64("max-output", kernel.DefaultMaxOutputBytes, "largest output in `bytes` one cell may print; the rest is discarded with a notice")
	logLevel := fs.String("log-level", "warn", "kernel log `level` on stderr: debug, info, warn or error")
	memory := fs.String("engine-memory", "", "query engine memory `limit`, for example 2GiB (default: a share of the machine's memory, see docs/datalake.md)")
	threads := fs.Int("engine-threads", 0, "query engine `threads` (default: every core)")
	spill := fs.String("engine-spill-dir", "", "`dir` the query engine spills to (default: a new folder in the temporary directory)")
	tapsConf := fs.String("taps", os.Getenv("FLOWLAB_TAPS"), "taps configuration: a JSON `file`, or the JSON itself (default $FLOWLAB_TAPS)")
	tapsAudit := fs.String("taps-audit", os.Getenv("FLOWLAB_TAPS_AUDIT"), "JSON-lines `file` the audit record of every sent message is appended to (default $FLOWLAB_TAPS_AUDIT; none: the kernel log)")
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	if *connFile == "" {
		return usagef("kernel needs -f CONNECTION_FILE (Jupyter passes it from kernel.json)")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	info, err := jupyter.ReadConnectionFile(*connFile)
	if err != nil {
		return err
	}
	var tapsCfg *taps.Config
	if *tapsConf != "" {
		c, err := taps.LoadConfig(*tapsConf)
		if err != nil {
			return usagef("--taps: %v", err)
		}
		tapsCfg = &c
	}
	return serveKernel(ctx, kernelConfig{
		info:         info,
		lake:         *lake,
		unrestricted: *unrestricted,
		maxOutput:    *maxOutput,
		level:        level,
		engine:       duckdb.Options{MemoryLimit: *memory, Threads: *threads, TempDir: *spill},
		taps:         tapsCfg,
		tapsAudit:    *tapsAudit,
	})
}

type kernelConfig struct {
	info         jupyter.ConnectionInfo
	lake         string
	unrestricted bool
	maxOutput    int64
	level        slog.Level
	engine       duckdb.Options
	taps         *taps.Config // nil: cells get an error saying how to configure taps
	tapsAudit    string
}

// serveKernel wires the kernel's components and runs them until a
// shutdown_request, SIGTERM or SIGHUP. SIGINT interrupts the running cell and
// nothing else, so a kernel started with interrupt_mode "signal" survives
// interrupts too.
func serveKernel(ctx context.Context, cfg kernelConfig) error {
	ctx, cancel := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, syscall.SIGINT)
	defer signal.Stop(interrupts)

	server, err := jupyter.NewServer(cfg.info, jupyter.ServerOptions{})
	if err != nil {
		return err
	}

	// The session and the capture need each other: the capture delivers to
	// the session, the session flushes the capture.
	var sess *kernel.Session
	var sessMu sync.Mutex
	capture, err := stdio.Start(stdio.Options{Sink: func(stream, text string) {
		sessMu.Lock()
		s := sess
		sessMu.Unlock()
		if s != nil {
			s.WriteStream(stream, text)
		}
	}})
	if err != nil {
		return err
	}
	defer capture.Close()
	logger := slog.New(slog.NewTextHandler(capture.OriginalStderr(), &slog.HandlerOptions{Level: cfg.level}))
	slog.SetDefault(logger)

	// Cells reach the lake through the datalake package's IO and SQL; the
	// engine starts on the first query. Without a lake they get an error
	// saying how to configure one.
	if cfg.lake != "" {
		eng := cfg.engine
		eng.Root = cfg.lake
		eng.Logger = logger.With("component", "engine")
		if err := datalake.Configure(datalake.Options{
			Root:      cfg.lake,
			NewEngine: duckdb.Factory(eng),
			Logger:    logger.With("component", "datalake"),
		}); err != nil {
			return fmt.Errorf("open the lake: %w", err)
		}
		defer func() {
			if err := datalake.Shutdown(); err != nil {
				logger.Warn("close the lake", "err", err)
			}
		}()
	}

	if cfg.taps != nil {
		stop, err := configureTaps(*cfg.taps, cfg.tapsAudit, logger.With("component", "taps"))
		if err != nil {
			return err
		}
		defer stop()
	}

	exec, err := yaegi.New(yaegi.Options{
		Prelude:      cellPrelude,
		Unrestricted: cfg.unrestricted,
		ReadWrite:    cellWriteDirs(),
		ReadOnly:     nonEmpty(cfg.lake),
		Env:          slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "FLOWLAB_TOKEN=") }),
		Logger:       logger.With("component", "executor"),
	})
	if err != nil {
		return fmt.Errorf("start the interpreter: %w", err)
	}
	s, err := kernel.New(kernel.Options{
		Wire:           server,
		Executor:       exec,
		Flush:          capture.Flush,
		MaxOutputBytes: cfg.maxOutput,
		Version:        version,
		Logger:         logger.With("component", "session"),
		OnInterrupt:    func() { datalake.Interrupt(); taps.Interrupt() },
	})
	if err != nil {
		return err
	}
	sessMu.Lock()
	sess = s
	sessMu.Unlock()

	go func() {
		for range interrupts {
			s.Interrupt()
		}
	}()

	serverErr := make(chan error, 1)
	serverCtx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	go func() { serverErr <- server.Run(serverCtx) }()

	runErr := s.Run(ctx)
	stopServer()
	if err := <-serverErr; err != nil && !errors.Is(err, context.Canceled) {
		logger.Warn("wire server stopped", "err", err)
	}
	return runErr
}

// cellWriteDirs are the directories sandboxed cells may write: the working
// directory (where the notebook is) and the temporary directory.
func cellWriteDirs() []string {
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if tmp, err := filepath.EvalSymlinks(os.TempDir()); err == nil {
		dirs = append(dirs, tmp)
	}
	return dirs
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// configureTaps makes the taps of cfg those of DataTaps, recording every sent
// message as the app $FLOWLAB_APP (run $FLOWLAB_RUN) into the audit file, or
// the kernel log without one. stop closes the producers and the file.
func configureTaps(cfg taps.Config, audit string, logger *slog.Logger) (stop func(), err error) {
	opts := taps.Options{App: os.Getenv("FLOWLAB_APP"), Run: os.Getenv("FLOWLAB_RUN"), Logger: logger}
	var file *taps.JSONLRecorder
	if audit != "" {
		if file, err = taps.OpenJSONL(audit); err != nil {
			return nil, err
		}
		opts.Recorder = file
	}
	set, err := taps.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	taps.Configure(set)
	return func() {
		taps.Configure(nil)
		_ = set.Close()
		if file != nil {
			_ = file.Close()
		}
	}, nil
}
