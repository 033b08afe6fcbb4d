package kernels

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
)

// events records a kernel's events.
type events struct {
	mu  sync.Mutex
	got []Event
	ch  chan Event
}

func newEvents() *events { return &events{ch: make(chan Event, 100)} }

func (e *events) record(ev Event) {
	e.mu.Lock()
	e.got = append(e.got, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

// waitFor waits for an event with status s.
func (e *events) waitFor(t *testing.T, s Status) Event {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.Status == s {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event; got %+v", s, e.got)
		}
	}
}

func newManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kernel processes")
	}
	opts.Binary = flowlabtest.Binary(t)
	if opts.RuntimeDir == "" {
		opts.RuntimeDir = filepath.Join(t.TempDir(), "runtime")
	}
	opts.Args = append(opts.Args, "--engine-threads", "1")
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return m
}

func start(t *testing.T, m *Manager, so StartOptions) *Kernel {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	k, err := m.Start(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// run executes code and returns the reply status and text/plain result.
func run(t *testing.T, k *Kernel, code string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ex, err := k.Execute(ctx, code, jupyter.ExecuteOptions{})
	if err != nil {
		t.Fatalf("execute %q: %v", code, err)
	}
	rep, err := ex.ReplyContent()
	if err != nil {
		t.Fatal(err)
	}
	var plain string
	for _, msg := range ex.Outputs {
		if msg.Type() == "execute_result" {
			var r jupyter.ExecuteResult
			msg.DecodeContent(&r)
			plain, _ = r.Data["text/plain"].(string)
		}
	}
	return rep.Status, plain
}

func alive(pid int) bool {
	// A reaped process is gone from /proc; a zombie would still be there.
	_, err := os.Stat("/proc/" + itoa(pid))
	return err == nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLifecycle(t *testing.T) {
	ev := newEvents()
	m := newManager(t, Options{OnEvent: ev.record})
	if fi, err := os.Stat(m.RuntimeDir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("runtime dir: %v %v", fi.Mode(), err)
	}
	work := t.TempDir()
	k := start(t, m, StartOptions{AppID: "app1", Owner: "alice", Dir: work})
	if fi, err := os.Stat(k.connPath); err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(k.connPath) != m.RuntimeDir() {
		t.Fatalf("connection file %s: %v %v", k.connPath, fi.Mode(), err)
	}
	if got, err := m.Get(k.ID()); err != nil || got != k || k.Status() != StatusIdle || k.AppID() != "app1" {
		t.Fatalf("Get = %v, %v; status %s", got, err, k.Status())
	}
	if st, out := run(t, k, "x := 40\nx + 2"); st != "ok" || out != "42" {
		t.Fatalf("execute: %s %q", st, out)
	}
	// The kernel works in the notebook's folder.
	if st, out := run(t, k, `import "os"`+"\nwd, _ := os.Getwd()\nwd"); st != "ok" || !strings.Contains(out, work) {
		t.Fatalf("working dir: %s %q, want %s", st, out, work)
	}

	t.Run("interrupt", func(t *testing.T) {
		done := make(chan string, 1)
		started := make(chan struct{})
		go func() {
			ex, err := k.Execute(context.Background(), `import "time"`+"\ntime.Sleep(60 * time.Second)", jupyter.ExecuteOptions{
				Output: func(m *jupyter.Message) {
					if m.Type() == "execute_input" {
						close(started)
					}
				},
			})
			if err != nil {
				done <- err.Error()
				return
			}
			rep, _ := ex.ReplyContent()
			done <- rep.Status
		}()
		<-started
		if k.Status() != StatusBusy {
			t.Fatalf("status %s while a cell runs", k.Status())
		}
		begin := time.Now()
		if err := k.Interrupt(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case st := <-done:
			if st != "error" {
				t.Fatalf("interrupted cell: %s", st)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("interrupt did not stop the cell")
		}
		t.Logf("interrupted in %s", time.Since(begin))
	})

	t.Run("restart", func(t *testing.T) {
		pid, info := k.PID(), k.ConnectionInfo()
		if err := k.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
		if k.PID() == pid || alive(pid) {
			t.Fatalf("old process %d still there (new %d)", pid, k.PID())
		}
		if k.ConnectionInfo() != info {
			t.Errorf("ports changed: %v → %v", info, k.ConnectionInfo())
		}
		if st, _ := run(t, k, "x"); st != "error" {
			t.Fatalf("state survived the restart: %s", st)
		}
		if st, out := run(t, k, "1 + 1"); st != "ok" || out != "2" {
			t.Fatalf("after restart: %s %q", st, out)
		}
		if k.Restarts() != 0 {
			t.Errorf("a requested restart counted as automatic: %d", k.Restarts())
		}
		ev.waitFor(t, StatusRestarting)
	})

	t.Run("dial", func(t *testing.T) {
		c, err := k.Dial(context.Background(), jupyter.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if info, err := c.KernelInfo(ctx); err != nil || info.LanguageInfo.Name != "go" {
			t.Fatalf("KernelInfo = %+v, %v", info, err)
		}
	})

	pid := k.PID()
	if err := k.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-k.Done():
	default:
		t.Fatal("Done not closed after Shutdown")
	}
	if k.Err() != nil || k.Status() != StatusStopped || alive(pid) {
		t.Fatalf("after shutdown: err %v, status %s, alive %v", k.Err(), k.Status(), alive(pid))
	}
	if _, err := os.Stat(k.connPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("connection file left: %v", err)
	}
	if _, err := m.Get(k.ID()); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("Get after shutdown: %v", err)
	}
	if err := k.Restart(context.Background()); err == nil {
		t.Fatal("restarted a shut-down kernel")
	}
}

func TestDeadKernelRestarted(t *testing.T) {
	ev := newEvents()
	m := newManager(t, Options{OnEvent: ev.record, HeartbeatInterval: 200 * time.Millisecond, HeartbeatMisses: 2, MaxRestarts: 2, RestartWindow: time.Hour})
	k := start(t, m, StartOptions{AppID: "app"})
	sub := newEvents()
	defer k.Subscribe(sub.record)()

	for i, how := range []struct {
		name string
		sig  syscall.Signal
	}{{"kill -9", syscall.SIGKILL}, {"hung (SIGSTOP)", syscall.SIGSTOP}} {
		pid := k.PID()
		if err := syscall.Kill(pid, how.sig); err != nil {
			t.Fatal(err)
		}
		dead := sub.waitFor(t, StatusDead)
		if dead.Err == nil || dead.KernelID != k.ID() || dead.AppID != "app" {
			t.Fatalf("%s: dead event %+v", how.name, dead)
		}
		sub.waitFor(t, StatusRestarting)
		sub.waitFor(t, StatusIdle)
		if k.PID() == pid || alive(pid) || k.Restarts() != i+1 {
			t.Fatalf("%s: pid %d → %d (old alive %v), restarts %d", how.name, pid, k.PID(), alive(pid), k.Restarts())
		}
		if st, out := run(t, k, "6 * 7"); st != "ok" || out != "42" {
			t.Fatalf("%s: after restart %s %q", how.name, st, out)
		}
	}
	// The budget is spent: the next death is final.
	pid := k.PID()
	syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-k.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("kernel not given up")
	}
	if !errors.Is(k.Err(), ErrDead) || k.Status() != StatusDead || alive(pid) {
		t.Fatalf("after the last death: %v, %s, alive %v", k.Err(), k.Status(), alive(pid))
	}
	if _, err := m.Get(k.ID()); !errors.Is(err, userapps.ErrNotFound) {
		t.Fatalf("a dead kernel is still listed: %v", err)
	}
	// The manager still starts kernels.
	k2 := start(t, m, StartOptions{})
	if st, _ := run(t, k2, "1"); st != "ok" {
		t.Fatal(st)
	}
}

func TestCullIdle(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := newManager(t, Options{Now: clock, IdleTimeout: 10 * time.Minute, CullInterval: time.Hour})
	idle := start(t, m, StartOptions{AppID: "idle"})
	scheduled := start(t, m, StartOptions{AppID: "scheduled"})
	scheduled.SetScheduled(true)
	busy := start(t, m, StartOptions{AppID: "busy"})
	touched := start(t, m, StartOptions{AppID: "touched"})

	advance(9 * time.Minute)
	if n := m.CullIdle(context.Background()); n != 0 {
		t.Fatalf("culled %d before the timeout", n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(t, busy, `import "time"`+"\ntime.Sleep(3 * time.Second)")
	}()
	time.Sleep(500 * time.Millisecond)
	touched.Touch()
	advance(2 * time.Minute)
	if n := m.CullIdle(context.Background()); n != 1 {
		t.Fatalf("culled %d kernels, want 1", n)
	}
	<-idle.Done()
	if !errors.Is(idle.Err(), ErrCulled) {
		t.Fatalf("culled kernel's Err = %v", idle.Err())
	}
	for _, k := range []*Kernel{scheduled, busy, touched} {
		select {
		case <-k.Done():
			t.Fatalf("kernel of %s culled", k.AppID())
		default:
		}
	}
	<-done
	// Once the busy cell is over and time passes, it goes too; the
	// scheduled one stays until unmarked.
	advance(11 * time.Minute)
	if n := m.CullIdle(context.Background()); n != 2 {
		t.Fatalf("second cull: %d, want 2 (busy and touched)", n)
	}
	scheduled.SetScheduled(false)
	if n := m.CullIdle(context.Background()); n != 1 {
		t.Fatalf("third cull: %d, want 1", n)
	}
	if len(m.Kernels()) != 0 {
		t.Fatalf("kernels left: %d", len(m.Kernels()))
	}
}

func TestLimits(t *testing.T) {
	m := newManager(t, Options{Limits: Limits{MemoryBytes: 1 << 30, CPUSeconds: 3600}})
	t.Logf("cgroup: %v", m.CgroupError())
	k := start(t, m, StartOptions{})
	limits, err := os.ReadFile("/proc/" + itoa(k.PID()) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{{"Max data size", "1073741824", "1073741824", "bytes"}, {"Max cpu time", "3600", "3605", "seconds"}} {
		found := false
		for _, line := range strings.Split(string(limits), "\n") {
			if strings.HasPrefix(line, want[0]) {
				found = strings.Join(strings.Fields(line[len(want[0]):]), " ") == strings.Join(want[1:], " ")
				if !found {
					t.Errorf("%s", line)
				}
			}
		}
		if !found {
			t.Errorf("%s: not %v in\n%s", want[0], want[1:], limits)
		}
	}
	environ, _ := os.ReadFile("/proc/" + itoa(k.PID()) + "/environ")
	if !strings.Contains(string(environ), "GOMEMLIMIT=858993456\x00") {
		t.Errorf("GOMEMLIMIT not set: %q", environ)
	}
	if m.CgroupError() == nil && k.Cgroup() == "" {
		t.Error("cgroups available but the kernel has none")
	}

	// A kernel over its memory limit dies and is reported dead.
	small := Limits{MemoryBytes: 300 << 20}
	ev := newEvents()
	k2 := start(t, m, StartOptions{Limits: &small})
	defer k2.Subscribe(ev.record)()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = k2.Execute(ctx, "b := make([]byte, 1<<30)\nfor i := range b { b[i] = 1 }\nlen(b)", jupyter.ExecuteOptions{})
	if !errors.Is(err, userapps.ErrKernel) {
		t.Fatalf("allocating past the limit: %v", err)
	}
	dead := ev.waitFor(t, StatusDead)
	t.Logf("dead: %v", dead.Err)
}

func TestStartFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "fake-kernel")
	os.WriteFile(script, []byte("#!/bin/sh\necho 'no such lake' >&2\nexit 3\n"), 0o755)
	hang := filepath.Join(dir, "hung-kernel")
	os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755)
	for _, tc := range []struct {
		bin, want string
	}{{script, "no such lake"}, {hang, "did not answer"}, {filepath.Join(dir, "missing"), "no such file"}} {
		t.Run(filepath.Base(tc.bin), func(t *testing.T) {
			m, err := New(Options{Binary: tc.bin, RuntimeDir: filepath.Join(dir, "rt"), StartTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			_, err = m.Start(context.Background(), StartOptions{AppID: "a"})
			if !errors.Is(err, userapps.ErrKernel) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start = %v, want ErrKernel mentioning %q", err, tc.want)
			}
			if left, _ := os.ReadDir(filepath.Join(dir, "rt")); len(left) != 0 {
				t.Fatalf("files left in the runtime dir: %v", left)
			}
		})
	}
}

// TestStartRetriesTakenPorts starts a kernel whose first process fails as a
// kernel does when another process took one of its ports in the meantime:
// the manager picks new ports and the second process runs.
func TestStartRetriesTakenPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernel processes")
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "first-attempt-done")
	script := filepath.Join(dir, "flaky-kernel")
	body := "#!/bin/sh\nif [ ! -e " + marker + " ]; then\n  touch " + marker + "\n  echo 'listen tcp 127.0.0.1:40001: bind: address already in use' >&2\n  exit 1\nfi\nexec " + flowlabtest.Binary(t) + " \"$@\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Binary: script, RuntimeDir: filepath.Join(dir, "rt")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	k := start(t, m, StartOptions{AppID: "a"})
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the first attempt did not run: %v", err)
	}
	if status, plain := run(t, k, "40 + 2"); status != "ok" || plain != "42" {
		t.Fatalf("the retried kernel answers %s %q", status, plain)
	}
	if err := k.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
