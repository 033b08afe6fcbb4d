package kernels

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
)

// Kernel is one kernel: a `flowlab kernel` process, replaced on restart,
// under one id. Safe for concurrent use.
type Kernel struct {
	m        *Manager
	id       string
	appID    string
	owner    string
	so       StartOptions
	limits   Limits
	connPath string

	// opMu serializes what replaces or ends the process: launch, Restart,
	// Shutdown, and the supervisor's restart of a dead kernel.
	opMu sync.Mutex
	// emitMu orders status changes with their events.
	emitMu sync.Mutex

	mu           sync.Mutex
	info         jupyter.ConnectionInfo
	proc         *process
	client       *jupyter.Client
	status       Status
	stopping     bool // exits are expected, no restart
	restarting   bool // a Restart is replacing the process
	busy         bool // the kernel's last iopub status
	inflight     int  // Execute calls through this Kernel
	scheduled    bool
	lastActivity time.Time
	restarts     []time.Time // automatic restarts within the window
	nRestarts    int
	subs         map[int]func(Event)
	nextSub      int
	err          error
	done         chan struct{}
	finishOnce   sync.Once
	wake         chan struct{} // the process was replaced
}

var _ userapps.Kernel = (*Kernel)(nil)

// process is one run of the kernel program.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, valid once exited is closed
	stderr *tail
	cg     *cgroup
}

func (p *process) kill() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	// The whole process group: anything an unrestricted cell started too.
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Process.Kill()
}

func (p *process) describe() string {
	msg := "exited"
	if p.err != nil {
		msg = p.err.Error()
	}
	if s := strings.TrimSpace(p.stderr.String()); s != "" {
		msg += "; stderr: " + s
	}
	return msg
}

func newKernel(m *Manager, so StartOptions) *Kernel {
	id := userapps.NewID()
	k := &Kernel{
		m: m, id: id, appID: so.AppID, owner: so.Owner, so: so, limits: m.opts.Limits,
		connPath: m.connFile(id), status: StatusStarting, subs: map[int]func(Event){},
		done: make(chan struct{}), wake: make(chan struct{}, 1), lastActivity: m.opts.Now(),
	}
	if so.Limits != nil {
		k.limits = *so.Limits
	}
	return k
}

// ID returns the kernel's id (stable across restarts).
func (k *Kernel) ID() string { return k.id }

// AppID returns the id of the app the kernel was started for.
func (k *Kernel) AppID() string { return k.appID }

// Owner returns the owner given at start.
func (k *Kernel) Owner() string { return k.owner }

// Limits returns the limits the kernel runs under.
func (k *Kernel) Limits() Limits { return k.limits }

// ConnectionInfo returns where the kernel listens now (it changes only after
// a restart event with NewPorts).
func (k *Kernel) ConnectionInfo() jupyter.ConnectionInfo {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.info
}

// Status returns the kernel's current status.
func (k *Kernel) Status() Status {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.status
}

// PID returns the current process's id (0 when none).
func (k *Kernel) PID() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc == nil || k.proc.cmd.Process == nil {
		return 0
	}
	return k.proc.cmd.Process.Pid
}

// Restarts returns how many times the manager restarted the kernel after it
// died (requested restarts are not counted).
func (k *Kernel) Restarts() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nRestarts
}

// Cgroup returns the kernel's cgroup folder, or "" when it has none.
func (k *Kernel) Cgroup() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc == nil || k.proc.cg == nil {
		return ""
	}
	return k.proc.cg.dir
}

// Client returns the manager's connected client. Use it for request/reply
// calls (Execute, KernelInfo, Request...); its Recv belongs to the manager,
// which reads iopub there to track busy/idle. A websocket bridge dials its
// own client with Dial. After a restart with NewPorts, call Client again.
func (k *Kernel) Client() *jupyter.Client {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.client
}

// Dial connects a new client to the kernel (for a websocket bridge, which
// needs Recv for itself). The caller closes it.
func (k *Kernel) Dial(ctx context.Context, opts jupyter.ClientOptions) (*jupyter.Client, error) {
	return jupyter.Dial(ctx, k.ConnectionInfo(), opts)
}

// Done is closed when the kernel has stopped for good.
func (k *Kernel) Done() <-chan struct{} { return k.done }

// Err says why the kernel stopped: nil while it runs and after Shutdown,
// wrapping ErrCulled after an idle cull, ErrDead when it died beyond its
// restart budget.
func (k *Kernel) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// SetScheduled marks the kernel as running a scheduled run (or not): a
// marked kernel is never culled.
func (k *Kernel) SetScheduled(on bool) {
	k.mu.Lock()
	k.scheduled = on
	k.mu.Unlock()
}

// Touch records activity (a websocket message, an API call), postponing the
// idle cull.
func (k *Kernel) Touch() {
	now := k.m.opts.Now()
	k.mu.Lock()
	k.lastActivity = now
	k.mu.Unlock()
}

// LastActivity returns when the kernel was last active.
func (k *Kernel) LastActivity() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastActivity
}

// Subscribe calls fn with each later status event of this kernel, in order,
// until the returned cancel is called; fn must not block.
func (k *Kernel) Subscribe(fn func(Event)) (cancel func()) {
	k.mu.Lock()
	id := k.nextSub
	k.nextSub++
	k.subs[id] = fn
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		delete(k.subs, id)
		k.mu.Unlock()
	}
}

func (k *Kernel) cullable(now time.Time, timeout time.Duration) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.stopping || k.restarting || k.scheduled || k.busy || k.inflight > 0:
		return false
	case k.status != StatusIdle:
		return false
	}
	return now.Sub(k.lastActivity) >= timeout
}

// setStatus changes the status and tells the subscribers.
func (k *Kernel) setStatus(s Status, err error, newPorts bool) {
	k.emitMu.Lock()
	defer k.emitMu.Unlock()
	k.mu.Lock()
	changed := k.status != s
	k.status = s
	subs := make([]func(Event), 0, len(k.subs))
	for _, fn := range k.subs {
		subs = append(subs, fn)
	}
	k.mu.Unlock()
	if !changed && err == nil && !newPorts {
		return
	}
	ev := Event{KernelID: k.id, AppID: k.appID, Status: s, Err: err, NewPorts: newPorts}
	if k.m.opts.OnEvent != nil {
		k.m.opts.OnEvent(ev)
	}
	for _, fn := range subs {
		fn(ev)
	}
}

// env builds the kernel's environment.
func (k *Kernel) env() []string {
	env := append([]string(nil), k.m.opts.Env...)
	set := func(kv string) {
		key := kv[:strings.IndexByte(kv, '=')+1]
		out := env[:0]
		for _, e := range env {
			if !strings.HasPrefix(e, key) {
				out = append(out, e)
			}
		}
		env = append(out, kv)
	}
	// The sandbox lets cells write the temporary directory: each kernel
	// gets its own, so users' kernels share no files through /tmp.
	set("TMPDIR=" + k.tmpDir())
	for _, kv := range k.so.Env {
		if strings.Contains(kv, "=") {
			set(kv)
		}
	}
	if k.limits.MemoryBytes > 0 {
		has := false
		for _, e := range env {
			has = has || strings.HasPrefix(e, "GOMEMLIMIT=")
		}
		if !has {
			set("GOMEMLIMIT=" + strconv.FormatInt(k.limits.MemoryBytes/10*8, 10))
		}
	}
	return env
}

func (k *Kernel) args() []string {
	args := []string{"kernel", "-f", k.connPath}
	lake := k.m.opts.Lake
	if k.so.Lake != "" {
		lake = k.so.Lake
	}
	if lake != "" {
		args = append(args, "--lake", lake)
	}
	if mib := k.limits.MemoryBytes / 2 >> 20; mib >= 64 {
		args = append(args, "--engine-memory", strconv.FormatInt(mib, 10)+"MiB")
	}
	return append(args, k.m.opts.Args...)
}

// launch starts a process (new connection info the first time or when
// newPorts is set), connects the manager's client and waits until the kernel
// is ready. On failure nothing is left running.
func (k *Kernel) launch(ctx context.Context, newPorts bool) error {
	k.mu.Lock()
	info := k.info
	k.mu.Unlock()
	if newPorts || info.Transport == "" {
		var err error
		info, err = jupyter.NewConnectionInfo(jupyter.ConnectionOptions{KernelName: "flowlab-go"})
		if err != nil {
			return err
		}
		if err := jupyter.WriteConnectionFile(k.connPath, info); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(k.tmpDir(), 0o700); err != nil {
		return fmt.Errorf("kernel temporary directory: %w", err)
	}
	dir := k.so.Dir
	if dir == "" {
		dir = k.m.runtimeDir
	}
	cmd := exec.Command(k.m.opts.Binary, k.args()...)
	cmd.Dir = dir
	cmd.Env = k.env()
	p := &process{cmd: cmd, exited: make(chan struct{}), stderr: &tail{max: 8 << 10}}
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if k.m.cgParent != "" && (k.limits.MemoryBytes > 0 || k.limits.CPUQuota > 0) {
		cg, err := newCgroup(k.m.cgParent, "flowlab-kernel-"+k.id+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), k.limits)
		if err != nil {
			k.m.log.Warn("kernel cgroup not created; rlimits only", "kernel", k.id, "err", err)
		} else {
			p.cg = cg
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = int(cg.fd.Fd())
		}
	}
	if err := cmd.Start(); err != nil {
		p.cg.remove()
		return fmt.Errorf("run %s: %w", k.m.opts.Binary, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.cg.remove()
		close(p.exited)
	}()
	fail := func(err error) error {
		p.kill()
		<-p.exited
		return err
	}
	if err := applyRlimits(cmd.Process.Pid, k.limits); err != nil {
		return fail(fmt.Errorf("limits: %w", err))
	}

	sctx, cancel := context.WithTimeout(ctx, k.m.opts.StartTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-sctx.Done():
		}
	}()
	client, err := jupyter.Dial(sctx, info, jupyter.ClientOptions{Logger: k.m.log.With("kernel", k.id)})
	if err == nil {
		if err = client.WaitReady(sctx); err != nil {
			client.Close()
		}
	}
	if err != nil {
		select {
		case <-p.exited:
			return fmt.Errorf("the kernel process %s", p.describe())
		default:
		}
		return fail(fmt.Errorf("the kernel did not answer within %s: %w", k.m.opts.StartTimeout, err))
	}

	k.mu.Lock()
	old := k.client
	k.info, k.proc, k.client = info, p, client
	k.busy, k.lastActivity = false, k.m.opts.Now()
	k.mu.Unlock()
	if old != nil {
		old.Close()
	}
	go k.watchIOPub(client)
	select {
	case k.wake <- struct{}{}:
	default:
	}
	k.setStatus(StatusIdle, nil, newPorts)
	return nil
}

// watchIOPub reads what no call took from the manager's client: iopub
// traffic from every front end's requests, which tells busy from idle.
func (k *Kernel) watchIOPub(c *jupyter.Client) {
	for {
		msg, err := c.Recv(k.m.life)
		if err != nil {
			return
		}
		if msg.Channel != jupyter.IOPub {
			continue
		}
		k.Touch()
		if msg.Type() != "status" {
			continue
		}
		var st jupyter.Status
		if msg.DecodeContent(&st) != nil {
			continue
		}
		k.mu.Lock()
		stale := k.client != c || k.stopping || k.restarting
		if !stale {
			k.busy = st.ExecutionState == "busy"
		}
		busy := k.busy || k.inflight > 0
		k.mu.Unlock()
		if !stale && (st.ExecutionState == "busy" || st.ExecutionState == "idle") {
			if busy {
				k.setStatus(StatusBusy, nil, false)
			} else {
				k.setStatus(StatusIdle, nil, false)
			}
		}
	}
}

// supervise watches the process and the heartbeat until the kernel is done.
func (k *Kernel) supervise() {
	hb := time.NewTicker(k.m.opts.HeartbeatInterval)
	defer hb.Stop()
	misses := 0
	for {
		k.mu.Lock()
		p, expected := k.proc, k.stopping || k.restarting
		k.mu.Unlock()
		exited := p.exited
		if expected {
			exited = nil // a Restart or Shutdown handles this exit
		}
		select {
		case <-k.done:
			return
		case <-k.m.life.Done():
			return
		case <-k.wake:
			misses = 0
		case <-exited:
			k.died(p)
		case <-hb.C:
			if expected {
				continue
			}
			ctx, cancel := context.WithTimeout(k.m.life, k.m.opts.HeartbeatInterval)
			err := k.Client().Heartbeat(ctx)
			cancel()
			if err == nil {
				misses = 0
				continue
			}
			misses++
			k.m.log.Warn("kernel missed a heartbeat", "kernel", k.id, "misses", misses, "err", err)
			if misses >= k.m.opts.HeartbeatMisses {
				k.m.log.Warn("killing a hung kernel", "kernel", k.id, "pid", p.cmd.Process.Pid)
				misses = 0
				p.kill() // the exit comes next
			}
		}
	}
}

// died handles an unexpected exit of p: dead, then restarted within the
// budget, or left dead.
func (k *Kernel) died(p *process) {
	k.opMu.Lock()
	defer k.opMu.Unlock()
	k.mu.Lock()
	if k.proc != p || k.stopping {
		k.mu.Unlock()
		return
	}
	now := k.m.opts.Now()
	recent := k.restarts[:0]
	for _, t := range k.restarts {
		if now.Sub(t) < k.m.opts.RestartWindow {
			recent = append(recent, t)
		}
	}
	k.restarts = recent
	allowed := k.m.opts.MaxRestarts > 0 && len(recent) < k.m.opts.MaxRestarts
	if allowed {
		k.restarts = append(k.restarts, now)
		k.nRestarts++
	}
	k.mu.Unlock()
	cause := fmt.Errorf("the kernel process %s", p.describe())
	k.m.log.Warn("kernel died", "kernel", k.id, "app", k.appID, "cause", cause, "restart", allowed)
	k.setStatus(StatusDead, cause, false)
	if !allowed {
		k.finish(fmt.Errorf("%w: %w; no restart left (%d within %s)", ErrDead, cause, k.m.opts.MaxRestarts, k.m.opts.RestartWindow))
		return
	}
	k.mu.Lock()
	k.restarting = true // the old client reconnects to the new process: ignore its iopub
	k.mu.Unlock()
	k.setStatus(StatusRestarting, nil, false)
	err := k.relaunch(k.m.life)
	k.mu.Lock()
	k.restarting = false
	k.mu.Unlock()
	if err != nil {
		k.finish(fmt.Errorf("%w: restart after %w failed: %w", ErrDead, cause, err))
	}
}

// relaunch starts a new process on the same ports, or on new ones when the
// old ports are taken. Callers hold opMu.
func (k *Kernel) relaunch(ctx context.Context) error {
	err := k.launch(ctx, false)
	if err == nil || ctx.Err() != nil {
		return err
	}
	k.m.log.Info("kernel restart on the same ports failed; trying new ports", "kernel", k.id, "err", err)
	return k.launch(ctx, true)
}

// Interrupt interrupts the running cell: an interrupt_request on control,
// or SIGINT when the kernel does not answer it within 5 seconds.
func (k *Kernel) Interrupt(ctx context.Context) error {
	k.Touch()
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := k.Client().Interrupt(ictx)
	cancel()
	if err == nil {
		return nil
	}
	k.mu.Lock()
	p := k.proc
	k.mu.Unlock()
	if serr := p.cmd.Process.Signal(syscall.SIGINT); serr != nil {
		return fmt.Errorf("interrupt kernel %s: %w (and SIGINT: %v): %w", k.id, err, serr, userapps.ErrKernel)
	}
	return nil
}

// Execute runs code on the manager's client; the call counts as activity
// and keeps the kernel busy (never culled) until it returns. If the process
// dies meanwhile, Execute returns with an error wrapping userapps.ErrKernel.
func (k *Kernel) Execute(ctx context.Context, code string, opts jupyter.ExecuteOptions) (*jupyter.Execution, error) {
	k.mu.Lock()
	if k.stopping {
		k.mu.Unlock()
		return nil, fmt.Errorf("execute on kernel %s: shut down: %w", k.id, userapps.ErrKernel)
	}
	k.inflight++
	p, c := k.proc, k.client
	k.mu.Unlock()
	k.Touch()
	k.setStatus(StatusBusy, nil, false)
	defer func() {
		k.mu.Lock()
		k.inflight--
		idle := k.inflight == 0 && !k.busy && !k.stopping && !k.restarting && k.proc == p
		k.mu.Unlock()
		k.Touch()
		if idle {
			k.setStatus(StatusIdle, nil, false)
		}
	}()
	ectx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-p.exited:
			cancel(fmt.Errorf("the kernel process %s: %w", p.describe(), userapps.ErrKernel))
		case <-ectx.Done():
		}
	}()
	ex, err := c.Execute(ectx, code, opts)
	if err != nil && ctx.Err() == nil {
		if cause := context.Cause(ectx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
	}
	return ex, err
}

// Restart replaces the process with a fresh one under the same id: a
// shutdown_request with restart=true, a kill if the process has not exited
// within ShutdownTimeout, and a new process on the same ports (new ones if
// they were taken: the event then has NewPorts). Subscribers see
// restarting, then idle. Errors wrap ErrDead (the kernel is then done) or
// jupyter.ErrClosed after a Shutdown.
func (k *Kernel) Restart(ctx context.Context) error {
	k.opMu.Lock()
	defer k.opMu.Unlock()
	k.mu.Lock()
	if k.stopping {
		k.mu.Unlock()
		return fmt.Errorf("restart kernel %s: shut down: %w", k.id, jupyter.ErrClosed)
	}
	k.restarting = true
	p, c := k.proc, k.client
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.restarting = false
		k.mu.Unlock()
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}()
	k.setStatus(StatusRestarting, nil, false)
	k.stopProcess(ctx, p, c, true)
	if err := k.relaunch(k.m.life); err != nil {
		err = fmt.Errorf("%w: restart failed: %w", ErrDead, err)
		k.finish(err)
		return fmt.Errorf("restart kernel %s: %w", k.id, err)
	}
	k.m.log.Info("kernel restarted", "kernel", k.id, "pid", k.PID())
	return nil
}

// stopProcess asks p to exit and kills it after ShutdownTimeout.
func (k *Kernel) stopProcess(ctx context.Context, p *process, c *jupyter.Client, restart bool) {
	sctx, cancel := context.WithTimeout(ctx, k.m.opts.ShutdownTimeout)
	defer cancel()
	select {
	case <-p.exited:
		return
	default:
	}
	if c != nil {
		c.Shutdown(sctx, restart)
	}
	select {
	case <-p.exited:
	case <-sctx.Done():
		k.m.log.Warn("kernel did not exit after shutdown_request; killing it", "kernel", k.id)
		p.kill()
		<-p.exited
	}
}

// Shutdown stops the kernel for good: a shutdown_request, a kill after
// ShutdownTimeout (or when ctx ends), then Done is closed. Shutting down a
// kernel that is already done is not an error.
func (k *Kernel) Shutdown(ctx context.Context) error {
	k.shutdown(ctx, nil)
	return nil
}

func (k *Kernel) shutdown(ctx context.Context, reason error) {
	k.mu.Lock()
	k.stopping = true
	k.mu.Unlock()
	k.opMu.Lock()
	defer k.opMu.Unlock()
	select {
	case <-k.done:
		return
	default:
	}
	k.mu.Lock()
	p, c := k.proc, k.client
	k.mu.Unlock()
	if p != nil {
		k.stopProcess(ctx, p, c, false)
	}
	k.finish(reason)
}

// finish ends the kernel: the process killed if still there, the client
// closed, the connection file removed, Done closed. Callers hold opMu.
func (k *Kernel) finish(reason error) {
	k.finishOnce.Do(func() {
		k.mu.Lock()
		k.stopping = true
		p, c := k.proc, k.client
		k.err = reason
		k.mu.Unlock()
		if p != nil {
			p.kill()
			<-p.exited
		}
		if c != nil {
			c.Close()
		}
		k.cleanupFiles()
		k.m.forget(k)
		status := StatusStopped
		if errors.Is(reason, ErrDead) {
			status = StatusDead
		}
		k.setStatus(status, reason, false)
		close(k.done)
		k.m.log.Info("kernel stopped", "kernel", k.id, "app", k.appID, "reason", reason)
	})
}

func (k *Kernel) cleanupFiles() {
	os.Remove(k.connPath)
	os.RemoveAll(k.tmpDir())
}

// tmpDir is the kernel's private temporary directory, beside its
// connection file.
func (k *Kernel) tmpDir() string {
	return strings.TrimSuffix(k.connPath, ".json") + ".tmp"
}

// tail keeps the last max bytes written to it (a kernel's stderr).
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
