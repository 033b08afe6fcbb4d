// Package build builds the flowlab binaries the benchmarks measure, as
// they are deployed: flowlab, and beside it flowlab-kernel (the
// kernel-only build, -tags kernelonly), which flowlab serve and flowlab
// run use for their kernels when it is there.
package build

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleRoot returns the folder of the go.mod above the current directory:
// the benchmarks run from anywhere inside the module.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the flowlab module")
		}
		dir = parent
	}
}

// Binary builds the module's ./cmd/flowlab into out (an absolute path)
// with the build tags; go's output goes to stderr.
func Binary(out string, tags ...string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, "./cmd/flowlab")...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	fmt.Fprintf(os.Stderr, "building %s\n", filepath.Base(out))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(cmd.Args[1:], " "), err)
	}
	return nil
}

// Both builds flowlab and flowlab-kernel into dir and returns their paths.
func Both(dir string) (flowlab, kernel string, err error) {
	flowlab, kernel = filepath.Join(dir, "flowlab"), filepath.Join(dir, "flowlab-kernel")
	if err := Binary(flowlab); err != nil {
		return "", "", err
	}
	if err := Binary(kernel, "kernelonly"); err != nil {
		return "", "", err
	}
	return flowlab, kernel, nil
}
