package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// copyFile copies src to dst with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFindKernelBinary(t *testing.T) {
	// The test binary is a Go binary with build information; two copies
	// of it are "the same build".
	testBinary, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type setup func(t *testing.T, dir string) (self string)
	serverOnly := func(t *testing.T, dir string) string {
		self := filepath.Join(dir, "flowlab")
		copyFile(t, testBinary, self, 0o755)
		return self
	}
	withSibling := func(content string, mode os.FileMode) setup {
		return func(t *testing.T, dir string) string {
			self := serverOnly(t, dir)
			sibling := filepath.Join(dir, kernelBinaryName)
			if content == "" {
				copyFile(t, testBinary, sibling, mode)
			} else if err := os.WriteFile(sibling, []byte(content), mode); err != nil {
				t.Fatal(err)
			}
			return self
		}
	}
	tests := []struct {
		name       string
		setup      setup
		wantKernel bool   // flowlab-kernel chosen, not self
		wantReason string // part of the reason
	}{
		{"no kernel binary beside", serverOnly, false, "no flowlab-kernel beside"},
		{"same build beside", withSibling("", 0o755), true, "kernel-only build"},
		{"not executable", withSibling("", 0o644), false, "not an executable file"},
		{"not a Go binary", withSibling("#!/bin/sh\nexit 0\n", 0o755), false, "no Go build information"},
		{"a directory", func(t *testing.T, dir string) string {
			self := serverOnly(t, dir)
			if err := os.Mkdir(filepath.Join(dir, kernelBinaryName), 0o755); err != nil {
				t.Fatal(err)
			}
			return self
		}, false, "not an executable file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			self := tt.setup(t, dir)
			got, err := findKernelBinary(self, "")
			if err != nil {
				t.Fatalf("findKernelBinary: %v", err)
			}
			want := self
			if tt.wantKernel {
				want = filepath.Join(dir, kernelBinaryName)
			}
			if got.path != want {
				t.Errorf("path = %s, want %s (reason %q)", got.path, want, got.reason)
			}
			if !strings.Contains(got.reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", got.reason, tt.wantReason)
			}
		})
	}
}

func TestFindKernelBinaryExplicit(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "flowlab")
	script := filepath.Join(dir, "my-kernel")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := findKernelBinary(self, script)
	if err != nil || got.path != script {
		t.Errorf("explicit executable: got %+v, %v; want %s", got, err, script)
	}
	for _, bad := range []string{filepath.Join(dir, "missing"), dir} {
		if _, err := findKernelBinary(self, bad); !errors.Is(err, errKernelBinary) {
			t.Errorf("findKernelBinary(%s) error = %v, want errKernelBinary", bad, err)
		}
	}
}

func TestBuildKey(t *testing.T) {
	info := func(goVersion, version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: goVersion, Main: debug.Module{Path: "github.com/flowlab/flowlab", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	base := info("go1.26.0", "(devel)", "vcs.revision", "abc", "vcs.modified", "false", "-tags", "")
	tests := []struct {
		name  string
		other *debug.BuildInfo
		same  bool
	}{
		{"kernel-only tags differ only", info("go1.26.0", "(devel)", "vcs.revision", "abc", "vcs.modified", "false", "-tags", "kernelonly"), true},
		{"another revision", info("go1.26.0", "(devel)", "vcs.revision", "abd", "vcs.modified", "false"), false},
		{"modified tree", info("go1.26.0", "(devel)", "vcs.revision", "abc", "vcs.modified", "true"), false},
		{"another Go", info("go1.26.1", "(devel)", "vcs.revision", "abc", "vcs.modified", "false"), false},
		{"another version", info("go1.26.0", "v0.2.0", "vcs.revision", "abc", "vcs.modified", "false"), false},
		{"no VCS information", info("go1.26.0", "(devel)"), false},
	}
	for _, tt := range tests {
		if got := buildKey(base) == buildKey(tt.other); got != tt.same {
			t.Errorf("%s: same = %v, want %v (%q vs %q)", tt.name, got, tt.same, buildKey(base), buildKey(tt.other))
		}
	}
}
