package main

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
)

// kernelBinaryName is the kernel-only build of flowlab, installed beside
// the flowlab binary:
//
//	go build -tags kernelonly -o bin/flowlab-kernel ./cmd/flowlab
//
// It runs the same kernel without the server, ingest and broker code, so a
// kernel process starts faster and maps half the memory (BENCHMARKS.md).
const kernelBinaryName = "flowlab-kernel"

// errKernelBinary reports a kernel binary that cannot be used.
var errKernelBinary = errors.New("kernel binary")

// kernelBinary is the program that runs kernels, and why it was chosen.
type kernelBinary struct {
	path   string
	reason string
}

// findKernelBinary picks the program kernels run. An explicit path must be
// an executable file. Otherwise flowlab-kernel beside self (this binary,
// symlinks resolved) is used when it is from the same build (module
// version, VCS revision and modified flag, Go version), so a stale kernel
// binary left in bin/ is never paired with a newer server; else self, which
// runs kernels as well.
func findKernelBinary(self, explicit string) (kernelBinary, error) {
	if explicit != "" {
		p, err := filepath.Abs(explicit)
		if err != nil {
			return kernelBinary{}, fmt.Errorf("%w %s: %w", errKernelBinary, explicit, err)
		}
		if err := checkExecutable(p); err != nil {
			return kernelBinary{}, err
		}
		return kernelBinary{path: p, reason: "given"}, nil
	}
	sibling := filepath.Join(filepath.Dir(self), kernelBinaryName)
	if _, err := os.Stat(sibling); errors.Is(err, fs.ErrNotExist) {
		return kernelBinary{path: self, reason: "no " + kernelBinaryName + " beside this binary"}, nil
	}
	if err := checkExecutable(sibling); err != nil {
		return kernelBinary{path: self, reason: err.Error()}, nil
	}
	if err := sameBuild(self, sibling); err != nil {
		return kernelBinary{path: self, reason: err.Error()}, nil
	}
	return kernelBinary{path: sibling, reason: "kernel-only build beside this binary"}, nil
}

// checkExecutable reports whether p is a regular file someone may execute.
func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%w: %w", errKernelBinary, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w %s: not an executable file", errKernelBinary, p)
	}
	return nil
}

// sameBuild compares the build information of two flowlab binaries: the
// same module version, VCS revision and modified flag, and Go version.
func sameBuild(a, b string) error {
	ia, err := readBuildInfo(a)
	if err != nil {
		return err
	}
	ib, err := readBuildInfo(b)
	if err != nil {
		return err
	}
	ka, kb := buildKey(ia), buildKey(ib)
	if ka != kb {
		return fmt.Errorf("%w %s is from another build (%s, not %s); rebuild it: go build -tags kernelonly -o %s ./cmd/flowlab", errKernelBinary, b, kb, ka, b)
	}
	return nil
}

// readBuildInfo reads a binary's build information.
func readBuildInfo(p string) (*debug.BuildInfo, error) {
	bi, err := buildinfo.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w %s: no Go build information: %w", errKernelBinary, p, err)
	}
	return bi, nil
}

// buildKey is what must agree between the server and its kernel binary.
func buildKey(bi *debug.BuildInfo) string {
	key := bi.GoVersion + " " + bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.modified":
			key += " " + s.Key + "=" + s.Value
		}
	}
	return key
}
