// Package kernels runs one `flowlab kernel` child process per app and keeps
// it healthy: it writes a 0600 connection file in a private runtime folder,
// starts the process under memory and CPU limits (rlimits, and a cgroup v2
// where one can be used), connects to it as a Jupyter client, watches its
// heartbeat and its exit, restarts a dead kernel within a restart budget,
// interrupts, restarts and shuts kernels down on request, and culls idle
// ones.
//
// A kernel can never take the server down: each process is its own process
// group and is killed with the server (PR_SET_PDEATHSIG), every process is
// waited for (no zombies), a hung kernel (no heartbeat) is killed, and no
// kernel failure reaches the Manager's caller other than as an error or a
// status event.
package kernels

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
)

// ErrCulled is wrapped by Kernel.Err for a kernel the idle culler shut down.
var ErrCulled = errors.New("kernel culled after being idle")

// ErrDead is wrapped by Kernel.Err for a kernel that died more often than
// the restart policy allows, and by calls on it.
var ErrDead = errors.New("kernel dead")

// Status is a kernel's state as Jupyter front ends know it.
type Status string

// The statuses. Starting, Idle and Busy are the kernel's own; Restarting,
// Dead and Stopped are the manager's (the websocket layer sends
// "restarting" and "dead" to its clients as jupyter_server does).
const (
	StatusStarting   Status = "starting"
	StatusIdle       Status = "idle"
	StatusBusy       Status = "busy"
	StatusRestarting Status = "restarting"
	StatusDead       Status = "dead"
	StatusStopped    Status = "stopped"
)

// Event reports a kernel status change to Options.OnEvent and to
// Kernel.Subscribe subscribers.
type Event struct {
	KernelID string
	AppID    string
	Status   Status
	// Err says why, for StatusDead and a StatusStopped after a failure or a
	// cull.
	Err error
	// NewPorts is set on the event after a restart that had to move the
	// kernel to new ports: clients must dial Kernel.ConnectionInfo again
	// (clients of the old ports reconnect by themselves otherwise).
	NewPorts bool
}

// Options configures a Manager. The zero value works, with the running
// executable as the flowlab binary.
type Options struct {
	// Binary is the flowlab executable; default the running one.
	Binary string
	// RuntimeDir holds the connection files, in a folder of its own (0700);
	// default a new folder in os.TempDir().
	RuntimeDir string
	// Lake is the datalake root given to kernels (--lake); empty gives none
	// (kernels then read FLOWLAB_LAKE from Env, if set).
	Lake string
	// Env is the kernels' environment; nil means the server's.
	Env []string
	// Args are added to every kernel's command line (for example
	// "--engine-threads", "1").
	Args []string
	// Limits apply to every kernel unless StartOptions.Limits replaces them.
	Limits Limits
	// CgroupParent is the cgroup v2 folder to create kernels' cgroups in; ""
	// tries the server's own cgroup, "-" disables cgroups. Without a usable
	// cgroup, only rlimits apply (Manager.CgroupError says why).
	CgroupParent string
	// StartTimeout bounds a kernel's start until it answers; default 30s.
	StartTimeout time.Duration
	// ShutdownTimeout is how long a kernel has to exit after a
	// shutdown_request before it is killed; default 5s.
	ShutdownTimeout time.Duration
	// HeartbeatInterval is the time between heartbeats; default 3s. A kernel
	// that misses HeartbeatMisses in a row (default 3) is killed as hung.
	HeartbeatInterval time.Duration
	HeartbeatMisses   int
	// MaxRestarts is how many times a dying kernel is restarted within
	// RestartWindow before it is left dead; default 5 in 5 minutes. A
	// negative MaxRestarts never restarts.
	MaxRestarts   int
	RestartWindow time.Duration
	// IdleTimeout shuts down kernels idle for that long (no execution, no
	// iopub traffic, no Touch); 0 never culls. Busy kernels and kernels
	// marked SetScheduled are never culled. CullInterval is how often Run
	// looks; default a quarter of IdleTimeout, at most a minute.
	IdleTimeout  time.Duration
	CullInterval time.Duration
	// OnEvent, if set, sees every kernel's status changes, in order per
	// kernel; it must not block.
	OnEvent func(Event)
	// Now is the clock of activity times, restart windows and culling; nil
	// means time.Now.
	Now func() time.Time
	// Logger receives starts, deaths, restarts, culls and kernels' stderr;
	// nil discards.
	Logger *slog.Logger
}

// StartOptions configures one kernel. The zero value works.
type StartOptions struct {
	// AppID and Owner tag the kernel (events, logs, lookups).
	AppID string
	Owner string
	// Dir is the kernel's working directory (the notebook's folder);
	// default the runtime folder.
	Dir string
	// Lake overrides Options.Lake.
	Lake string
	// Env is added to Options.Env (KEY=VALUE, replacing equal keys).
	Env []string
	// Limits, if set, replaces Options.Limits.
	Limits *Limits
}

// Manager runs kernels. Call Run to get heartbeats, restarts' budget
// accounting and culling going, and to shut every kernel down when it ends.
// Safe for concurrent use.
type Manager struct {
	opts       Options
	log        *slog.Logger
	runtimeDir string
	cgParent   string
	cgErr      error

	mu      sync.Mutex
	kernels map[string]*Kernel
	closed  bool
	wg      sync.WaitGroup
	// life ends the kernels' supervisors when the manager stops.
	life   context.Context
	cancel context.CancelFunc
}

var _ userapps.KernelManager = (*Manager)(nil)

// New returns a Manager. It creates the runtime folder and detects cgroup
// v2; it starts no process.
func New(opts Options) (*Manager, error) {
	if opts.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("kernel manager: find the flowlab binary: %w", err)
		}
		opts.Binary = exe
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 3 * time.Second
	}
	if opts.HeartbeatMisses <= 0 {
		opts.HeartbeatMisses = 3
	}
	if opts.MaxRestarts == 0 {
		opts.MaxRestarts = 5
	}
	if opts.RestartWindow <= 0 {
		opts.RestartWindow = 5 * time.Minute
	}
	if opts.CullInterval <= 0 {
		opts.CullInterval = min(max(opts.IdleTimeout/4, time.Second), time.Minute)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	m := &Manager{opts: opts, log: opts.Logger, kernels: make(map[string]*Kernel)}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if opts.RuntimeDir == "" {
		m.runtimeDir, err = os.MkdirTemp("", "flowlab-runtime-")
	} else {
		m.runtimeDir = opts.RuntimeDir
		err = os.MkdirAll(m.runtimeDir, 0o700)
	}
	if err == nil {
		err = os.Chmod(m.runtimeDir, 0o700)
	}
	if err != nil {
		return nil, fmt.Errorf("kernel manager: runtime folder: %w", err)
	}
	if opts.CgroupParent == "-" {
		m.cgErr = errors.New("cgroups disabled by configuration")
	} else if m.cgParent, m.cgErr = cgroupParent(opts.CgroupParent); m.cgErr != nil {
		m.log.Info("kernel cgroups unavailable; rlimits only", "reason", m.cgErr)
	}
	m.life, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// RuntimeDir returns the folder of the connection files.
func (m *Manager) RuntimeDir() string { return m.runtimeDir }

// CgroupError says why kernels get no cgroup (nil when they do).
func (m *Manager) CgroupError() error { return m.cgErr }

// Run culls idle kernels every CullInterval (if IdleTimeout is set) until
// ctx ends, then shuts every kernel down (each gets ShutdownTimeout) and
// returns nil once all processes have exited.
func (m *Manager) Run(ctx context.Context) error {
	var tick <-chan time.Time
	if m.opts.IdleTimeout > 0 {
		t := time.NewTicker(m.opts.CullInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			m.CullIdle(ctx)
		case <-ctx.Done():
			m.Close()
			return nil
		}
	}
}

// Close shuts every kernel down, in parallel, and waits for their
// processes and supervisors. Starts after Close fail with ErrClosed.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	ks := make([]*Kernel, 0, len(m.kernels))
	for _, k := range m.kernels {
		ks = append(ks, k)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, k := range ks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*m.opts.ShutdownTimeout)
			defer cancel()
			k.Shutdown(ctx)
		})
	}
	wg.Wait()
	m.cancel()
	m.wg.Wait()
}

// Start launches a kernel and returns once it answers a kernel_info_request
// with its iopub subscription in place. Errors wrap userapps.ErrKernel
// (with the kernel's stderr tail when it died while starting), ctx's error,
// or jupyter.ErrClosed after Close.
func (m *Manager) Start(ctx context.Context, so StartOptions) (*Kernel, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("start kernel: the manager is shut down: %w", jupyter.ErrClosed)
	}
	m.mu.Unlock()
	k := newKernel(m, so)
	err := k.launch(ctx, false)
	if err != nil && portTaken(err) {
		// The connection file's ports were free when picked and taken by
		// another process before the kernel bound them (many kernels
		// starting at once): pick new ones, as Jupyter launchers do.
		m.log.Info("kernel ports taken before it could bind them; retrying on new ports", "app", so.AppID, "err", err)
		err = k.launch(ctx, true)
	}
	if err != nil {
		k.cleanupFiles()
		return nil, fmt.Errorf("start kernel for app %s: %w: %w", so.AppID, userapps.ErrKernel, err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		k.Shutdown(context.Background())
		return nil, fmt.Errorf("start kernel: the manager is shut down: %w", jupyter.ErrClosed)
	}
	m.kernels[k.id] = k
	m.mu.Unlock()
	m.wg.Go(k.supervise)
	m.log.Info("kernel started", "kernel", k.id, "app", so.AppID, "pid", k.PID())
	return k, nil
}

// Get returns the running kernel with this id, or an error wrapping
// userapps.ErrNotFound.
func (m *Manager) Get(id string) (*Kernel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.kernels[id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("kernel %s: %w", id, userapps.ErrNotFound)
}

// Kernels returns the running kernels, by id.
func (m *Manager) Kernels() []*Kernel {
	m.mu.Lock()
	ks := make([]*Kernel, 0, len(m.kernels))
	for _, k := range m.kernels {
		ks = append(ks, k)
	}
	m.mu.Unlock()
	sort.Slice(ks, func(i, j int) bool { return ks[i].id < ks[j].id })
	return ks
}

// StartKernel starts a kernel for app in dir: userapps.KernelManager. The
// kernel's environment names the app and its owner (FLOWLAB_APP,
// FLOWLAB_OWNER), which taps record as the sender of what it sends.
func (m *Manager) StartKernel(ctx context.Context, app userapps.App, dir string) (userapps.Kernel, error) {
	return m.StartRunKernel(ctx, app, "", dir)
}

// StartRunKernel is StartKernel for the headless run runID of app (the
// runner's kernels): FLOWLAB_RUN names the run too.
func (m *Manager) StartRunKernel(ctx context.Context, app userapps.App, runID, dir string) (userapps.Kernel, error) {
	env := []string{"FLOWLAB_APP=" + app.Name, "FLOWLAB_OWNER=" + app.Owner}
	if runID != "" {
		env = append(env, "FLOWLAB_RUN="+runID)
	}
	k, err := m.Start(ctx, StartOptions{AppID: app.ID, Owner: app.Owner, Dir: dir, Env: env})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// LookupKernel is Get for userapps.KernelManager.
func (m *Manager) LookupKernel(id string) (userapps.Kernel, error) {
	k, err := m.Get(id)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// CullIdle shuts down every kernel idle for IdleTimeout or longer that is
// neither busy nor marked scheduled, and returns how many it culled. Run
// calls it; tests call it with an injected clock. A no-op when IdleTimeout
// is 0.
func (m *Manager) CullIdle(ctx context.Context) int {
	if m.opts.IdleTimeout <= 0 {
		return 0
	}
	now := m.opts.Now()
	n := 0
	for _, k := range m.Kernels() {
		if !k.cullable(now, m.opts.IdleTimeout) {
			continue
		}
		idle := now.Sub(k.LastActivity())
		m.log.Info("culling idle kernel", "kernel", k.id, "app", k.appID, "idle", idle)
		k.shutdown(ctx, fmt.Errorf("%w for %s (limit %s)", ErrCulled, idle.Round(time.Second), m.opts.IdleTimeout))
		n++
	}
	return n
}

func (m *Manager) forget(k *Kernel) {
	m.mu.Lock()
	if m.kernels[k.id] == k {
		delete(m.kernels, k.id)
	}
	m.mu.Unlock()
}

func (m *Manager) connFile(id string) string {
	return filepath.Join(m.runtimeDir, "kernel-"+id+".json")
}

// portTaken reports whether a kernel failed to start because one of its
// ports was already in use.
func portTaken(err error) bool {
	return err != nil && strings.Contains(err.Error(), "address already in use")
}
