package kernels

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Limits caps one kernel process. The zero value sets no limit.
type Limits struct {
	// MemoryBytes caps the kernel's memory: RLIMIT_DATA (private writable
	// memory: the Go heap, DuckDB's buffers; not the 1-2 GB of address
	// space a Go process reserves, which makes RLIMIT_AS unusable), and
	// memory.max in the kernel's cgroup when cgroup v2 is available. The
	// kernel also gets GOMEMLIMIT at 80% of it, so its garbage collector
	// works harder before an allocation fails, and its query engine a
	// memory limit of half of it. A kernel that exceeds it dies and is
	// reported dead (and restarted per policy).
	MemoryBytes int64
	// CPUSeconds caps the CPU time one kernel process may use over its
	// life (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL 5 s of CPU later.
	// A restart starts a new count.
	CPUSeconds int64
	// CPUQuota caps the kernel's CPU rate in cores (0.5 = half a core) via
	// cpu.max in its cgroup; it needs cgroup v2 and is ignored without.
	CPUQuota float64
}

// applyRlimits sets the process's resource limits with prlimit(2). It runs
// right after the process starts: a kernel allocates little before it has
// read its connection file, so the window without limits is harmless.
func applyRlimits(pid int, l Limits) error {
	if l.MemoryBytes > 0 {
		r := unix.Rlimit{Cur: uint64(l.MemoryBytes), Max: uint64(l.MemoryBytes)}
		if err := unix.Prlimit(pid, unix.RLIMIT_DATA, &r, nil); err != nil {
			return fmt.Errorf("RLIMIT_DATA: %w", err)
		}
	}
	if l.CPUSeconds > 0 {
		r := unix.Rlimit{Cur: uint64(l.CPUSeconds), Max: uint64(l.CPUSeconds) + 5}
		if err := unix.Prlimit(pid, unix.RLIMIT_CPU, &r, nil); err != nil {
			return fmt.Errorf("RLIMIT_CPU: %w", err)
		}
	}
	return nil
}

// cgroupParent finds the cgroup v2 folder kernels' cgroups are created in:
// want if set, else the server's own cgroup. It checks that the memory and
// cpu controllers can be enabled for children there (they cannot in a
// non-root cgroup that holds processes, the server's own included: give a
// delegated, empty cgroup as Options.CgroupParent then). It returns the
// reason when cgroups cannot be used.
func cgroupParent(want string) (string, error) {
	dir := want
	if dir == "" {
		mount, err := cgroup2Mount()
		if err != nil {
			return "", err
		}
		own, err := ownCgroup()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(mount, own)
	}
	controllers, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return "", fmt.Errorf("%s is not a cgroup v2 folder: %w", dir, err)
	}
	have := strings.Fields(string(controllers))
	for _, c := range []string{"memory", "cpu"} {
		if !contains(have, c) {
			return "", fmt.Errorf("cgroup %s does not offer the %s controller (it has %q)", dir, c, strings.TrimSpace(string(controllers)))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +cpu"), 0); err != nil {
		return "", fmt.Errorf("enable memory and cpu for children of %s (a cgroup holding processes cannot; use a delegated empty one): %w", dir, err)
	}
	return dir, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mountpoint ... - fstype source options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if ok && strings.HasPrefix(post, "cgroup2 ") && len(fields) >= 5 {
			return fields[4], nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted")
}

// ownCgroup returns the server's cgroup v2 path ("0::/path").
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("the server is in no cgroup v2 group")
}

// cgroup is one kernel's cgroup folder.
type cgroup struct {
	dir string
	fd  *os.File
}

// newCgroup creates parent/name with the limits written, and opens it so
// the kernel process is born inside it (clone3 CLONE_INTO_CGROUP).
func newCgroup(parent, name string, l Limits) (*cgroup, error) {
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	cg := &cgroup{dir: dir}
	fail := func(err error) (*cgroup, error) {
		cg.remove()
		return nil, err
	}
	if l.MemoryBytes > 0 {
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.FormatInt(l.MemoryBytes, 10)), 0); err != nil {
			return fail(err)
		}
		// No swap: a kernel over its limit dies instead of thrashing.
		if err := os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(err)
		}
	}
	if l.CPUQuota > 0 {
		const period = 100000
		quota := max(int64(l.CPUQuota*period), 1000)
		if err := os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(fmt.Sprintf("%d %d", quota, period)), 0); err != nil {
			return fail(err)
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		return fail(err)
	}
	cg.fd = f
	return cg, nil
}

// remove deletes the cgroup once its process has exited.
func (c *cgroup) remove() {
	if c == nil {
		return
	}
	if c.fd != nil {
		c.fd.Close()
	}
	os.Remove(c.dir)
}
