package duckdb

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultMemoryLimit is the memory_limit an engine gets when Options leaves
// it empty: an eighth of the memory available to the process (the lower of
// physical memory and the cgroup limit), at least 512 MiB and at most 4 GiB.
func DefaultMemoryLimit() string {
	const (
		mib = 1 << 20
		gib = 1 << 30
	)
	total := availableMemory()
	limit := int64(gib)
	if total > 0 {
		limit = min(max(total/8, 512*mib), 4*gib)
	}
	return fmt.Sprintf("%dMiB", limit/mib)
}

// availableMemory returns the bytes of memory the process may use, or 0 if
// unknown.
func availableMemory() int64 {
	var total int64
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				fields := strings.Fields(rest)
				if len(fields) > 0 {
					if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
						total = kb * 1024
					}
				}
			}
		}
		f.Close()
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err == nil && v > 0 && (total == 0 || v < total) {
			total = v
		}
	}
	return total
}
