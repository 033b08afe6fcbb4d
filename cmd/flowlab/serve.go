//go:build !kernelonly

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/catalog"
	"github.com/flowlab/flowlab/datalake/datasink"
	"github.com/flowlab/flowlab/datalake/demo"
	"github.com/flowlab/flowlab/datalake/duckdb"
	"github.com/flowlab/flowlab/datalake/taps"
	"github.com/flowlab/flowlab/datalake/taps/broker"
	"github.com/flowlab/flowlab/datalake/taps/monitor"
	"github.com/flowlab/flowlab/examples"
	"github.com/flowlab/flowlab/frontend"
	"github.com/flowlab/flowlab/kernel"
	"github.com/flowlab/flowlab/userapps"
	"github.com/flowlab/flowlab/userapps/files"
	"github.com/flowlab/flowlab/userapps/httpapi"
	"github.com/flowlab/flowlab/userapps/kernels"
	"github.com/flowlab/flowlab/userapps/metrics"
	"github.com/flowlab/flowlab/userapps/runner"
	"github.com/flowlab/flowlab/userapps/scheduler"
	"github.com/flowlab/flowlab/userapps/sqlite"
)

func init() {
	register(command{name: "serve", summary: "run the user-app server (Jupyter Server API, kernels, taps); --demo for a self-contained lab", run: runServe})
}

// serveConfig is what `flowlab serve` runs with.
type serveConfig struct {
	addr       string
	dataDir    string
	token      string
	lake       string
	demo       bool
	brokerAddr string
	tapsConfig string
	idle       time.Duration
	level      slog.Level
	logFormat  string
	origins    []string
	sinks      []string // datasink names; their topics are on the first tap's cluster
	kernelBin  string   // the program kernels run; "" picks one (findKernelBinary)
	maxRuns    int      // runs running at once
	keepRuns   int      // finished runs kept per app
	keepFor    time.Duration
	maxRunTime time.Duration // bound of every headless run
}

func runServe(ctx context.Context, std streams, args []string) error {
	fs := newFlags(std, "serve", "serve [--demo] [--addr A] [--data-dir D] [--token T] [--lake DIR] [--broker-addr B]", `
Run the user-app server: every app is a notebook with its own kernel process;
the Jupyter Server API (/api/contents, /api/kernels, /api/sessions,
/api/kernelspecs and the kernel websocket) lets JupyterLab, VS Code and
@jupyterlab/services attach. Every call needs the token (printed at start),
as 'Authorization: token T', ?token=T, or the cookie a ?token= URL sets.

Settings come from the command line, then the --config file (a JSON object
whose keys are these flags' names), then the environment, then the defaults.

--demo makes a self-contained lab: a demo lake in the data directory
(generated if absent), an in-process Kafka-protocol broker for the Alerts tap
on --broker-addr, and the example labs loaded as apps of the admin user.`)
	addr := fs.String("addr", "127.0.0.1:8888", "listen `address`")
	dataDir := fs.String("data-dir", "", "`dir` for the database, notebooks and (with --demo) the lake (default: ./flowlab-data)")
	token := fs.String("token", os.Getenv("FLOWLAB_TOKEN"), "the admin's API `token` (default $FLOWLAB_TOKEN, else a new random one)")
	lake := fs.String("lake", os.Getenv("FLOWLAB_LAKE"), "datalake root `DIR` kernels read (default $FLOWLAB_LAKE; --demo: DATA_DIR/lake)")
	demoMode := fs.Bool("demo", false, "demo lake, embedded broker and the example labs as apps")
	brokerAddr := fs.String("broker-addr", broker.DefaultAddr, "with --demo, the embedded broker's `address` (port 0 picks one)")
	tapsConfig := fs.String("taps", os.Getenv("FLOWLAB_TAPS"), "taps configuration `file` or JSON for kernels (default $FLOWLAB_TAPS; --demo: the embedded broker)")
	idle := fs.Duration("cull-idle", 0, "shut down kernels idle this long (0: never)")
	sinks := fs.String("datasinks", "", "comma-separated datasink `names` accepted at POST /api/datasink/NAME, written to the lake through Kafka topics datasink.NAME on the cluster of the first tap (--demo adds DEVWKS-2612)")
	origins := fs.String("allow-origin", "", "comma-separated `hosts` whose pages may open kernel websockets besides this server's")
	kernelBin := fs.String("kernel-binary", "", "`program` that runs kernels (default: "+kernelBinaryName+" beside this binary when from the same build, else this binary)")
	maxRuns := fs.Int("max-runs", 2, "at most `N` headless runs (schedules, Run now, backfills) at once; the others wait queued")
	keepRuns := fs.Int("keep-runs", 100, "finished runs kept per app, the newest `N` (records and executed notebooks)")
	keepFor := fs.Duration("keep-runs-for", 30*24*time.Hour, "finished runs older than this are deleted")
	maxRunTime := fs.Duration("max-run-time", 24*time.Hour, "no headless run lasts longer, whatever its schedule's run_timeout (a Run now has none of its own)")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log `format` on stderr: text (key=value) or json (one object a line)")
	fs.String("config", "", "JSON `file` of settings named like these flags, e.g. {\"addr\": \"0.0.0.0:8888\", \"data-dir\": \"/data\", \"taps\": {...}}; flags given on the command line win")
	if err := applyConfigFile(fs, args); err != nil {
		return err
	}
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	if *logFormat != "text" && *logFormat != "json" {
		return usagef("--log-format: %q is neither text nor json", *logFormat)
	}
	cfg := serveConfig{addr: *addr, dataDir: *dataDir, token: *token, lake: *lake, demo: *demoMode,
		brokerAddr: *brokerAddr, tapsConfig: *tapsConfig, idle: *idle, level: level, logFormat: *logFormat, kernelBin: *kernelBin,
		maxRuns: *maxRuns, keepRuns: *keepRuns, keepFor: *keepFor, maxRunTime: *maxRunTime}
	if cfg.maxRuns < 1 || cfg.keepRuns < 1 || cfg.keepFor <= 0 || cfg.maxRunTime <= 0 {
		return usagef("--max-runs and --keep-runs must be at least 1, --keep-runs-for and --max-run-time positive")
	}
	if *origins != "" {
		cfg.origins = strings.Split(*origins, ",")
	}
	for _, n := range strings.Split(*sinks, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if err := datasink.CheckName(n); err != nil {
				return usagef("--datasinks: %v", err)
			}
			cfg.sinks = append(cfg.sinks, n)
		}
	}
	if cfg.dataDir == "" {
		cfg.dataDir = "flowlab-data"
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve(ctx, std, cfg)
}

// serve assembles the server's components and runs them until ctx ends.
func serve(ctx context.Context, std streams, cfg serveConfig) error {
	log := newLogger(std.err, cfg.logFormat, cfg.level)
	dataDir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	token := cfg.token
	if token == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		token = hex.EncodeToString(b)
	}

	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "flowlab.db"), sqlite.Options{Logger: log.With("component", "store")})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := ensureAdmin(ctx, db, token); err != nil {
		return err
	}
	notebooks, err := files.Open(filepath.Join(dataDir, "notebooks"), files.Options{Logger: log.With("component", "notebooks")})
	if err != nil {
		return err
	}
	defer notebooks.Close()

	// The components outlive the signal: they stop after the HTTP server
	// has drained, so requests in flight still find kernels and the broker.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var background []func() error // waited for at shutdown

	lake := cfg.lake
	tapsJSON := cfg.tapsConfig
	var tapSet *taps.Set
	var sinkCluster *taps.Cluster // where datasink topics are, if any
	if cfg.demo {
		if lake == "" {
			lake = filepath.Join(dataDir, "lake")
		}
		if err := ensureDemoLake(ctx, lake, log.With("component", "demo")); err != nil {
			return err
		}
		if !slices.Contains(cfg.sinks, demoSink) {
			cfg.sinks = append(cfg.sinks, demoSink)
		}
		topics := []string{"alerts"}
		for _, n := range cfg.sinks {
			topics = append(topics, datasink.Topic(n))
		}
		b, err := broker.New(broker.Options{Addr: cfg.brokerAddr, Topics: topics, Logger: log.With("component", "broker")})
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		brokerDone := make(chan error, 1)
		go func() { brokerDone <- b.Run(runCtx) }()
		background = append(background, func() error { return <-brokerDone })
		if tapsJSON == "" {
			tapsJSON = fmt.Sprintf(`{"taps":{"Alerts":{"brokers":[%q],"topic":"alerts"}}}`, b.Addr())
		}
		log.With("component", "broker").Info("embedded Kafka-protocol broker", "addr", b.Addr(), "topics", "alerts")
		sinkCluster = &taps.Cluster{Brokers: []string{b.Addr()}}
	}
	// Kernels run users' code: the admin token must not be in their
	// environment.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "FLOWLAB_TOKEN=") })
	if lake != "" {
		env = append(env, "FLOWLAB_LAKE="+lake)
	}
	if tapsJSON != "" {
		tc, err := taps.LoadConfig(tapsJSON)
		if err != nil {
			return fmt.Errorf("--taps: %w", err)
		}
		if tapSet, err = taps.New(tc, taps.Options{Logger: log.With("component", "taps")}); err != nil {
			return fmt.Errorf("--taps: %w", err)
		}
		if sinkCluster == nil && len(tc.Names()) > 0 {
			first, _ := tapSet.Tap(tc.Names()[0])
			sinkCluster = &first.Cluster
		}
		defer tapSet.Close()
		raw, _ := json.Marshal(tc)
		env = append(env, "FLOWLAB_TAPS="+string(raw))
	}

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return err
	}
	kbin, err := findKernelBinary(exe, cfg.kernelBin)
	if err != nil {
		return fmt.Errorf("--kernel-binary: %w", err)
	}
	log.Info("kernel binary", "component", "server", "path", kbin.path, "why", kbin.reason)
	// The metrics read the manager's kernels at each scrape and count its
	// events; mgr is set before the first scrape or event.
	var mgr *kernels.Manager
	met := metrics.New(metrics.Options{KernelStatuses: func() []string { return kernelStatuses(mgr) }})
	mgr, err = kernels.New(kernels.Options{
		Binary:      kbin.path,
		RuntimeDir:  filepath.Join(dataDir, "runtime"),
		Lake:        lake,
		Env:         env,
		IdleTimeout: cfg.idle,
		OnEvent:     func(e kernels.Event) { met.ObserveKernel(kernelEvent(e)) },
		Logger:      log.With("component", "kernels"),
	})
	if err != nil {
		return err
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Run(runCtx) }()
	background = append(background, func() error { return <-mgrDone })

	svc, err := userapps.NewService(userapps.ServiceOptions{Apps: db, Notebooks: notebooks, Kernels: mgr, Logger: log.With("component", "apps")})
	if err != nil {
		return err
	}
	svcDone := make(chan error, 1)
	go func() { svcDone <- svc.Run(runCtx) }()
	background = append(background, func() error { return <-svcDone })
	if cfg.demo {
		if err := loadExamples(ctx, db, svc, log.With("component", "apps")); err != nil {
			return err
		}
	}

	// Headless runs: their own kernel manager (a run's dead kernel fails
	// the run instead of being restarted under it), the runner, the
	// scheduler.
	runsMgr, err := kernels.New(kernels.Options{
		Binary:      kbin.path,
		RuntimeDir:  filepath.Join(dataDir, "runtime", "runs"),
		Lake:        lake,
		Env:         env,
		MaxRestarts: -1,
		OnEvent:     func(e kernels.Event) { met.ObserveKernel(kernelEvent(e)) },
		Logger:      log.With("component", "run-kernels"),
	})
	if err != nil {
		return err
	}
	runsMgrDone := make(chan error, 1)
	go func() { runsMgrDone <- runsMgr.Run(runCtx) }()
	executor, err := runner.NewExecutor(runner.ExecutorOptions{Kernels: runsMgr, Notebooks: notebooks, Dir: filepath.Join(dataDir, "runs"),
		Runner: runner.Options{Logger: log.With("component", "runner")}})
	if err != nil {
		return err
	}
	var notifier scheduler.Notifier
	if tapSet != nil {
		notifier = tapNotifier{tapSet}
	}
	var baseURL atomic.Value // string, once listening: notices link executed notebooks
	sched, err := scheduler.New(scheduler.Options{
		Schedules: db, Runs: db, Apps: db, Executor: executor, Notifier: notifier,
		MaxConcurrent: cfg.maxRuns, KeepRuns: cfg.keepRuns, KeepFor: cfg.keepFor, Users: db, MaxRunTime: cfg.maxRunTime,
		Link: func(r userapps.Run) string {
			base, _ := baseURL.Load().(string)
			return base + "/api/apps/" + r.AppID + "/runs/" + r.ID + "/notebook"
		},
		Logger: log.With("component", "scheduler"),
	})
	if err != nil {
		return err
	}
	if cfg.demo {
		if err := ensureDemoSchedule(ctx, db, sched, tapSet != nil, log.With("component", "apps")); err != nil {
			return err
		}
	}
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(runCtx) }()
	// The scheduler first (it cancels its runs), then their kernels.
	background = append(background, func() error { return <-schedDone }, func() error { return <-runsMgrDone })

	// The tap list is answered without taps too (empty): the UI asks.
	handlers := map[string]http.Handler{"GET /api/taps": &monitor.List{}}
	if tapSet != nil {
		handlers["GET /api/taps"] = &monitor.List{Taps: tapSet}
		handlers["GET /api/taps/{tap}/events"] = &monitor.Handler{Source: tapSet, Logger: log.With("component", "tap-monitor")}
	}
	if len(cfg.sinks) > 0 && (sinkCluster == nil || lake == "") {
		return usagef("--datasinks needs a lake (--lake or FLOWLAB_LAKE) and a Kafka cluster (--taps)")
	}
	if len(cfg.sinks) > 0 {
		// Datasinks: POST /api/datasink/NAME produces to Kafka; the writer
		// moves the records into the lake's hour partitions.
		producer, err := datasink.NewKafkaProducer(*sinkCluster, 10*time.Second, nil)
		if err != nil {
			return err
		}
		defer producer.Close()
		handlers["POST /api/datasink/{name}"] = &datasink.Handler{Producer: producer, Known: func(n string) bool { return slices.Contains(cfg.sinks, n) }, Logger: log.With("component", "datasink")}
		sinkLake, err := datalake.Open(datalake.Options{Root: lake, AllowSystemWrites: false})
		if err != nil {
			return err
		}
		defer sinkLake.Close()
		w, err := datasink.NewWriter(datasink.WriterOptions{Cluster: *sinkCluster, Sinks: cfg.sinks, Lake: sinkLake, Logger: log.With("component", "datasink")})
		if err != nil {
			return err
		}
		writerDone := make(chan error, 1)
		go func() { writerDone <- w.Run(runCtx) }()
		background = append(background, func() error { return <-writerDone })
	}
	// The lake catalog (GET /api/lake/...): the Data Platform page and the
	// App Options panel browse the lake read-only, through a lake of the
	// server's own whose engine starts on the first footer or preview read.
	cat := &catalog.Handler{Datasinks: func() []string { return cfg.sinks }, Logger: log.With("component", "catalog")}
	if lake != "" {
		browseLake, err := datalake.Open(datalake.Options{Root: lake, Logger: log.With("component", "catalog"),
			NewEngine: duckdb.Factory(duckdb.Options{Root: lake, MemoryLimit: "512MiB", Threads: 2, Logger: log.With("component", "catalog")})})
		if err != nil {
			return err
		}
		defer browseLake.Close()
		cat.Lake = browseLake
	}
	maps.Copy(handlers, cat.Routes())
	ui, err := frontend.New()
	if err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	api, err := httpapi.New(httpapi.Options{
		Users:          db,
		Contents:       notebooks,
		Kernels:        &managerKernels{m: mgr, notebooks: notebooks},
		Apps:           svc,
		AppStore:       db,
		UserStore:      db,
		Schedules:      sched,
		ScheduleStore:  db,
		RunNotebooks:   executor,
		Examples:       exampleNotebooks(),
		Specs:          []httpapi.KernelSpec{kernelSpec(exe, lake)},
		OriginPatterns: cfg.origins,
		Handlers:       handlers,
		UI:             ui,
		Metrics:        met.Handler(),
		Requests:       met,
		Version:        version,
		Logger:         log.With("component", "http"),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	// Long-lived requests (tap streams, kernel websockets, which Shutdown
	// neither closes nor waits for) end when the drain starts.
	httpCtx, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequests()
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return httpCtx }}
	srv.RegisterOnShutdown(endRequests)
	url := "http://" + ln.Addr().String()
	baseURL.Store(url)
	fmt.Fprintf(std.out, "flowlab %s serving on %s\n", version, url)
	fmt.Fprintf(std.out, "    %s/api?token=%s\n", url, token)
	fmt.Fprintf(std.out, "Web UI and Jupyter clients (VS Code: \"Existing Jupyter Server\"): %s/?token=%s\n", url, token)
	fmt.Fprintf(std.out, "Prometheus metrics: %s/metrics (Authorization: Bearer <token>)\n", url)
	log.Info("serving", "component", "server", "addr", ln.Addr().String(), "data_dir", dataDir, "lake", lake)
	if cfg.demo {
		fmt.Fprintf(std.out, "demo: lake %s, Alerts tap on the embedded broker, labs loaded as apps of user admin\n", lake)
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()

	select {
	case err = <-httpDone:
	case <-ctx.Done():
	}
	log.Info("shutting down", "component", "server")
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer shutCancel()
	_ = srv.Shutdown(shutCtx)
	cancel()
	for _, wait := range background {
		if werr := wait(); werr != nil && !errors.Is(werr, context.Canceled) {
			log.Warn("component stopped", "component", "server", "err", werr)
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// applyConfigFile reads the --config file named in args, if any, and sets
// the flags it names; parsing the command line afterwards overrides them.
// Values are strings, numbers or booleans as on the command line; "taps"
// may also be the taps configuration object itself.
func applyConfigFile(fs *flag.FlagSet, args []string) error {
	path := ""
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasValue {
			path = value
		} else if i+1 < len(args) {
			path = args[i+1]
		}
	}
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var settings map[string]json.RawMessage
	if err := json.Unmarshal(data, &settings); err != nil {
		return fmt.Errorf("--config %s: not a JSON object of settings: %w", path, err)
	}
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		raw := settings[name]
		if name == "config" || fs.Lookup(name) == nil {
			var known []string
			fs.VisitAll(func(f *flag.Flag) {
				if f.Name != "config" {
					known = append(known, f.Name)
				}
			})
			return usagef("--config %s: unknown setting %q; settings are named like serve's flags: %s", path, name, strings.Join(known, ", "))
		}
		var value string
		switch trimmed := strings.TrimSpace(string(raw)); {
		case strings.HasPrefix(trimmed, `"`):
			if err := json.Unmarshal(raw, &value); err != nil {
				return fmt.Errorf("--config %s: %s: %w", path, name, err)
			}
		case strings.HasPrefix(trimmed, "{") && name == "taps":
			value = trimmed // the taps configuration itself
		case strings.HasPrefix(trimmed, "[") || strings.HasPrefix(trimmed, "{"):
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil {
				return usagef("--config %s: %s: give a string, a number, a boolean or a list of strings", path, name)
			}
			value = strings.Join(list, ",")
		default:
			value = trimmed // numbers and booleans as written
		}
		if err := fs.Set(name, value); err != nil {
			return usagef("--config %s: %s: %v", path, name, err)
		}
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 && settings["token"] != nil {
		fmt.Fprintf(os.Stderr, "flowlab: warning: %s holds the token and is readable by others (chmod 600 it)\n", path)
	}
	return nil
}

// demoSink is the datasink of the demo: the compliance scanner's reports
// that Lab 5 joins with flows.
const demoSink = "DEVWKS-2612"

// ensureAdmin makes the admin user hold the token.
func ensureAdmin(ctx context.Context, db *sqlite.DB, token string) error {
	hash := userapps.HashToken(token)
	_, err := db.User(ctx, "admin")
	if errors.Is(err, userapps.ErrNotFound) {
		return db.CreateUser(ctx, userapps.User{Name: "admin", Role: userapps.RoleAdmin, TokenHash: hash, Created: time.Now().UTC()})
	}
	if err != nil {
		return err
	}
	_, err = db.UpdateUser(ctx, "admin", func(u *userapps.User) error { u.TokenHash, u.Role = hash, userapps.RoleAdmin; return nil })
	return err
}

// ensureDemoLake writes the demo lake unless one is there.
func ensureDemoLake(ctx context.Context, lake string, log *slog.Logger) error {
	if _, err := demo.ReadGroundTruth(lake); err == nil {
		return nil
	}
	start := time.Now()
	gt, err := demo.Generate(ctx, demo.Options{Out: lake})
	if err != nil {
		return fmt.Errorf("demo lake: %w", err)
	}
	log.Info("demo lake written", "dir", lake, "flows", gt.TotalFlows, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// loadExamples creates an app of the admin for each example notebook that
// has none yet.
func loadExamples(ctx context.Context, db *sqlite.DB, svc *userapps.Service, log *slog.Logger) error {
	apps, err := db.Apps(ctx, userapps.AppFilter{Owner: "admin"})
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, a := range apps {
		have[a.Name] = true
	}
	entries, err := fs.ReadDir(examples.Notebooks, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".ipynb")
		if have[name] {
			continue
		}
		data, err := fs.ReadFile(examples.Notebooks, e.Name())
		if err != nil {
			return err
		}
		if _, err := svc.Create(ctx, userapps.CreateRequest{Owner: "admin", Name: name, Notebook: data}); err != nil {
			return fmt.Errorf("load example %s: %w", e.Name(), err)
		}
		log.Info("example loaded as an app", "app", name)
	}
	return nil
}

// demoScheduledApp is the example app --demo schedules hourly, and
// demoSchedule its schedule: five minutes past every hour (UTC), when the
// hour before has its flows, with the threshold the demo lake's scans were
// planted for.
const demoScheduledApp = "lab9-scheduled-detection"

var demoSchedule = userapps.Schedule{
	Spec:       "5 * * * *",
	TimeZone:   "UTC",
	Enabled:    true,
	Parameters: map[string]any{"threshold": demo.Threshold},
}

// ensureDemoSchedule gives the admin's scheduled-detection example its
// hourly schedule, unless it has one (a schedule the proctor changed or
// disabled is left alone). Failed runs notify the Alerts tap when taps are
// configured.
func ensureDemoSchedule(ctx context.Context, db *sqlite.DB, sched *scheduler.Scheduler, taps bool, log *slog.Logger) error {
	apps, err := db.Apps(ctx, userapps.AppFilter{Owner: "admin"})
	if err != nil {
		return err
	}
	for _, a := range apps {
		if a.Name != demoScheduledApp {
			continue
		}
		have, err := db.Schedules(ctx, a.ID)
		if err != nil || len(have) > 0 {
			return err
		}
		sc := demoSchedule
		sc.AppID = a.ID
		sc.Parameters = map[string]any{"threshold": demo.Threshold}
		if taps {
			sc.AlertTap = "Alerts"
		}
		if sc, err = sched.CreateSchedule(ctx, sc); err != nil {
			return fmt.Errorf("schedule example %s: %w", a.Name, err)
		}
		log.Info("example scheduled", "app", a.Name, "cron", sc.Spec, "next", sc.NextRun)
		return nil
	}
	return nil
}

// exampleNotebooks are the embedded example notebooks, for new apps.
func exampleNotebooks() []httpapi.Example {
	var out []httpapi.Example
	entries, _ := fs.ReadDir(examples.Notebooks, ".")
	for _, e := range entries {
		if data, err := fs.ReadFile(examples.Notebooks, e.Name()); err == nil {
			out = append(out, httpapi.Example{Name: strings.TrimSuffix(e.Name(), ".ipynb"), Notebook: data})
		}
	}
	return out
}

// kernelSpec is the kernelspec the server offers: this binary's kernel.
func kernelSpec(exe, lake string) httpapi.KernelSpec {
	spec := kernel.NewSpec(exe, lake)
	res := map[string][]byte{"logo-svg.svg": []byte(kernel.LogoSVG)}
	for _, size := range []int{32, 64} {
		if png, err := encodePNG(kernel.Logo(size)); err == nil {
			res[fmt.Sprintf("logo-%dx%d.png", size, size)] = png
		}
	}
	return httpapi.KernelSpec{Name: kernel.DefaultSpecName, Spec: spec, Resources: res}
}

// newLogger is the server's logger on w: text (key=value) or json.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// kernelStatuses is the status of each of mgr's kernels, for the metrics.
func kernelStatuses(mgr *kernels.Manager) []string {
	if mgr == nil {
		return nil
	}
	ks := mgr.Kernels()
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k.Status())
	}
	return out
}

// kernelEvent is a kernel manager event as the metrics count it.
func kernelEvent(e kernels.Event) metrics.KernelEvent {
	return metrics.KernelEvent{
		Kernel: e.KernelID,
		Status: string(e.Status),
		Culled: e.Status == kernels.StatusStopped && errors.Is(e.Err, kernels.ErrCulled),
		// A kernel ends stopped, or dead for good (its error wraps
		// ErrDead; a death it is restarted after does not).
		Final: e.Status == kernels.StatusStopped || (e.Status == kernels.StatusDead && errors.Is(e.Err, kernels.ErrDead)),
	}
}

// managerKernels adapts the kernel manager to the Jupyter API.
type managerKernels struct {
	m         *kernels.Manager
	notebooks *files.Notebooks
}

var _ httpapi.Kernels = (*managerKernels)(nil)

func (mk *managerKernels) Start(ctx context.Context, req httpapi.KernelRequest) (httpapi.Kernel, error) {
	if req.Dir == "" {
		// The notebooks root holds every user's folder: a kernel working
		// there could read and write them all.
		return nil, fmt.Errorf("start a kernel: no folder given: %w", userapps.ErrInvalid)
	}
	// LocalDir gives the folder holding a path: ask for one inside req.Dir.
	dir, err := mk.notebooks.LocalDir(path.Join(req.Dir, "notebook.ipynb"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k, err := mk.m.Start(ctx, kernels.StartOptions{Owner: req.Owner, Dir: dir})
	if err != nil {
		return nil, err
	}
	return managedKernel{k}, nil
}

func (mk *managerKernels) Get(id string) (httpapi.Kernel, error) {
	k, err := mk.m.Get(id)
	if err != nil {
		return nil, err
	}
	return managedKernel{k}, nil
}

func (mk *managerKernels) List() []httpapi.Kernel {
	var out []httpapi.Kernel
	for _, k := range mk.m.Kernels() {
		out = append(out, managedKernel{k})
	}
	return out
}

// managedKernel is a kernel of the manager as the Jupyter API sees it.
type managedKernel struct{ *kernels.Kernel }

func (k managedKernel) SpecName() string { return kernel.DefaultSpecName }
func (k managedKernel) Status() string   { return string(k.Kernel.Status()) }

func (k managedKernel) Subscribe() (<-chan string, func()) {
	states := make(chan string, 8)
	cancel := k.Kernel.Subscribe(func(e kernels.Event) {
		if e.Status == kernels.StatusRestarting || e.Status == kernels.StatusDead {
			select {
			case states <- string(e.Status):
			default: // a slow websocket misses a status rather than block the manager
			}
		}
	})
	return states, cancel
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// tapNotifier sends the scheduler's run notices to taps.
type tapNotifier struct{ set *taps.Set }

func (n tapNotifier) Notify(ctx context.Context, tap string, notice []byte) error {
	_, err := n.set.Send(ctx, tap, []string{string(notice)})
	return err
}
