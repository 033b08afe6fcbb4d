//go:build !kernelonly

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// serveProcess is a `flowlab serve` child process listening on a port of
// 127.0.0.1 it picked itself (--addr 127.0.0.1:0); the URL comes from the
// line it prints once it listens.
type serveProcess struct {
	cmd  *exec.Cmd
	url  chan string   // the served URL, once
	done chan struct{} // closed when the process has exited
	err  error         // its exit, valid after done

	mu     sync.Mutex
	stderr tailBuffer
}

// launchServe starts `flowlab serve` on dataDir with the admin token and
// returns at once: the crash test kills it at any moment, starting or not.
func launchServe(bin, dataDir, token string, extra ...string) (*serveProcess, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--token", token}, extra...)
	return launchServeEnv(bin, flowlabtest.Env("FLOWLAB_TOKEN=", "FLOWLAB_LAKE=", "FLOWLAB_TAPS="), args...)
}

// launchServeEnv starts `flowlab args...` with env.
func launchServeEnv(bin string, env []string, args ...string) (*serveProcess, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	p := &serveProcess{cmd: cmd, url: make(chan string, 1), done: make(chan struct{})}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			// "flowlab VERSION serving on http://127.0.0.1:PORT"
			if _, u, ok := strings.Cut(sc.Text(), " serving on "); ok {
				select {
				case p.url <- strings.TrimSpace(u):
				default:
				}
			}
		}
	}()
	go func() {
		<-scanned
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// startServe launches `flowlab serve`, waits until it listens and stops it
// (SIGTERM, then SIGKILL) when the test ends.
func startServe(t testing.TB, bin, dataDir, token string, extra ...string) *serveProcess {
	t.Helper()
	p, err := launchServe(bin, dataDir, token, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(20 * time.Second); err != nil {
			t.Errorf("flowlab serve did not stop cleanly: %v\n%s", err, p.logTail())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := p.waitURL(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitURL returns the URL the server serves on, once it listens.
func (p *serveProcess) waitURL(ctx context.Context) (string, error) {
	select {
	case u := <-p.url:
		p.url <- u // keep it for the next caller
		return u, nil
	case <-p.done:
		return "", fmt.Errorf("flowlab serve exited before listening: %v\n%s", p.err, p.logTail())
	case <-ctx.Done():
		return "", fmt.Errorf("flowlab serve does not listen: %w\n%s", ctx.Err(), p.logTail())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop shuts the server down as an operator does (SIGTERM) and returns its
// exit error; after grace it is killed and that is an error too.
func (p *serveProcess) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.exitError()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitError()
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("still running %v after SIGTERM; killed", grace)
	}
}

func (p *serveProcess) exitError() error {
	if p.err != nil {
		return fmt.Errorf("flowlab serve: %w", p.err)
	}
	return nil
}

// pid is the server's process id.
func (p *serveProcess) pid() int { return p.cmd.Process.Pid }

// logTail is the end of the server's log, for failure messages.
func (p *serveProcess) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// childProcesses returns the ids of pid's child processes (Linux /proc).
func childProcesses(pid int) ([]int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		return nil, err
	}
	if len(tasks) == 0 {
		return nil, errors.New("no /proc/PID/task/*/children: not Linux, or the process is gone")
	}
	var out []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended meanwhile
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	const max = 64 << 10
	t.b = append(t.b, p...)
	if len(t.b) > max {
		t.b = append(t.b[:0], t.b[len(t.b)-max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
