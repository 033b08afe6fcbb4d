package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowlab/flowlab/kernel"
)

func runKernelInstall(_ context.Context, std streams, args []string) error {
	fs := newFlags(std, "kernel install", "kernel install [--user|--sys-prefix|--prefix DIR] [--name NAME] [--lake DIR]", `
Write a Jupyter kernelspec for this flowlab binary, so that JupyterLab,
Notebook, VS Code and nbclient can start the Go kernel. The kernelspec points
at this binary's absolute path: install from a built binary (go build or
go install), not from 'go run', whose binary is deleted when it exits.`)
	user := fs.Bool("user", false, "install for the current user (default): $JUPYTER_DATA_DIR or ~/.local/share/jupyter")
	sysPrefix := fs.Bool("sys-prefix", false, "install into the active Python environment ($VIRTUAL_ENV, $CONDA_PREFIX or python3's sys.prefix)")
	prefix := fs.String("prefix", "", "install under `DIR`/share/jupyter/kernels")
	name := fs.String("name", kernel.DefaultSpecName, "kernelspec `NAME`")
	display := fs.String("display-name", "", "name shown in launchers (default \"Go (flowlab)\")")
	lake := fs.String("lake", "", "datalake root `DIR` the kernel reads (else $FLOWLAB_LAKE at kernel start)")
	unrestricted := fs.Bool("unrestricted", false, "let cells start processes and open any file (personal machines only; see docs/sandbox.md)")
	if err := parseFlags(fs, std, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("kernel install takes no arguments, got %q", fs.Args())
	}
	scope := kernel.ScopeUser
	chosen := 0
	for _, set := range []bool{*user, *sysPrefix, *prefix != ""} {
		if set {
			chosen++
		}
	}
	if chosen > 1 {
		return usagef("choose one of --user, --sys-prefix and --prefix")
	}
	switch {
	case *sysPrefix:
		scope = kernel.ScopeSysPrefix
	case *prefix != "":
		scope = kernel.ScopePrefix
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return fmt.Errorf("this binary (%s) was built by 'go run' and is deleted when it exits; build it first: go build -o bin/flowlab ./cmd/flowlab && bin/flowlab kernel install", exe)
	}
	kbin, err := findKernelBinary(exe, "")
	if err != nil {
		return err
	}
	lakeDir := *lake
	if lakeDir != "" {
		if lakeDir, err = filepath.Abs(lakeDir); err != nil {
			return err
		}
	}
	var extra []string
	if *unrestricted {
		extra = append(extra, "--unrestricted")
	}
	spec := kernel.NewSpec(kbin.path, lakeDir, extra...)
	if *display != "" {
		spec.DisplayName = *display
	}
	dir, err := kernel.SpecDir(scope, *prefix, *name)
	if err != nil {
		return err
	}
	if err := kernel.InstallSpec(dir, spec); err != nil {
		return err
	}
	fmt.Fprintf(std.out, "Installed kernelspec %s in %s (runs %s: %s)\n", *name, dir, kbin.path, kbin.reason)
	return nil
}
