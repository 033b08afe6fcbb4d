package flowlabtest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowlab/flowlab/kernel/jupyter"
)

// Kernel is a `flowlab kernel` process started by StartKernel.
type Kernel struct {
	// Connection is the kernel's connection file content.
	Connection jupyter.ConnectionInfo
	// Cmd is the running process.
	Cmd *exec.Cmd

	exited chan struct{}
	mu     sync.Mutex
	stderr strings.Builder
}

// Stderr returns what the kernel wrote to its standard error so far.
func (k *Kernel) Stderr() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stderr.String()
}

func (k *Kernel) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stderr.Write(p)
}

// Exited is closed when the process has exited.
func (k *Kernel) Exited() <-chan struct{} { return k.exited }

// StartKernel runs `flowlab kernel -f CONN args...` with env (nil: the
// test's environment) in a temporary directory and waits until it answers
// kernel_info. When the test ends a kernel still running gets SIGTERM, and
// is killed if it has not exited 5 s later.
func StartKernel(tb testing.TB, env []string, args ...string) *Kernel {
	tb.Helper()
	bin := Binary(tb)
	dir := tb.TempDir()
	info, err := jupyter.NewConnectionInfo(jupyter.ConnectionOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	conn := filepath.Join(dir, "kernel.json")
	if err := jupyter.WriteConnectionFile(conn, info); err != nil {
		tb.Fatal(err)
	}
	k := &Kernel{Connection: info, exited: make(chan struct{})}
	k.Cmd = exec.Command(bin, append([]string{"kernel", "-f", conn}, args...)...)
	k.Cmd.Dir = dir
	k.Cmd.Env = env
	k.Cmd.Stderr = k
	if err := k.Cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { _ = k.Cmd.Wait(); close(k.exited) }()
	tb.Cleanup(func() {
		_ = k.Cmd.Process.Signal(syscall.SIGTERM) // the kernel stops on SIGTERM
		select {
		case <-k.exited:
		case <-time.After(5 * time.Second):
			_ = k.Cmd.Process.Kill()
			<-k.exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-k.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := jupyter.Dial(ctx, info, jupyter.ClientOptions{})
	if err == nil {
		_, err = c.KernelInfo(ctx)
		c.Close()
	}
	if err != nil {
		_ = k.Cmd.Process.Kill()
		<-k.exited
		tb.Fatalf("flowlab kernel did not start: %v\nstderr:\n%s", err, k.Stderr())
	}
	return k
}

// Shutdown asks the kernel to shut down and waits for the process to exit.
func (k *Kernel) Shutdown(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := jupyter.Dial(ctx, k.Connection, jupyter.ClientOptions{})
	if err == nil {
		err = c.Shutdown(ctx, false)
		c.Close()
	}
	if err != nil {
		tb.Errorf("shutdown: %v", err)
	}
	select {
	case <-k.exited:
	case <-ctx.Done():
		tb.Errorf("kernel did not exit after shutdown_request")
	}
}
