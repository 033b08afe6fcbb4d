package datalake

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLakePath(t *testing.T) {
	const host = "/srv/lake"
	tests := []struct {
		name string
		in   string
		want string // cleaned path; empty when refused
		why  string // part of the refusal
	}{
		{"flows", "/tetration/flows", "/tetration/flows", ""},
		{"datasink", "/appdata/datasink/DEVWKS-2612", "/appdata/datasink/DEVWKS-2612", ""},
		{"app subfolder", "/appdata/portscan/scans/v1", "/appdata/portscan/scans/v1", ""},
		{"trailing slash and spaces", "  /tetration/flows/ ", "/tetration/flows", ""},
		{"double slashes", "/tetration//flows", "/tetration/flows", ""},
		{"empty", "", "", "empty path"},
		{"relative", "tetration/flows", "", `did you mean "/tetration/flows"`},
		{"dot dot", "/appdata/../../etc/passwd", "", `".." segments are not allowed`},
		{"dot dot at end", "/appdata/x/..", "", `".." segments are not allowed`},
		{"dot", "/appdata/./x", "", `"." segments are not allowed`},
		{"NUL", "/appdata/x\x00y", "", "NUL"},
		{"newline", "/appdata/x\ny", "", "control character"},
		{"backslash", `/appdata\x`, "", "backslash"},
		{"host path of the lake", "/srv/lake/tetration/flows", "", `use "/tetration/flows"`},
		{"host path elsewhere", "/etc/passwd", "", "not the host file system"},
		{"root", "/", "", "lake root is not a dataset"},
		{"hidden", "/appdata/.secret", "", "hidden"},
		{"internal", "/appdata/_demo", "", "hidden"},
		{"partition folder", "/tetration/flows/dt=2026-01-02", "", "partition folder"},
		{"too long", "/appdata/" + strings.Repeat("a", 2000), "", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLakePath(tt.in, host)
			if tt.want != "" {
				if err != nil || string(got) != tt.want {
					t.Fatalf("parseLakePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrPathRefused) {
				t.Fatalf("parseLakePath(%q) = %q, %v; want ErrPathRefused", tt.in, got, err)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q does not say %q", err, tt.why)
			}
		})
	}
}

func TestSymlinkOutOfLakeIsRefused(t *testing.T) {
	l := newTestLake(t)
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(l.Root(), "appdata"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(l.Root(), "appdata", "escape")); err != nil {
		t.Fatal(err)
	}
	err := l.checkDataset("/appdata/escape")
	if !errors.Is(err, ErrPathRefused) || !strings.Contains(err.Error(), "outside the lake") {
		t.Fatalf("checkDataset through a link out of the lake = %v, want ErrPathRefused naming the link", err)
	}
	_, err = l.Publish("/appdata/escape/x", testNow, "JSON", func(w io.Writer) error { return nil })
	if !errors.Is(err, ErrPathRefused) {
		t.Fatalf("Publish through a link out of the lake = %v, want ErrPathRefused", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("Publish wrote outside the lake: %v", entries)
	}
}

func TestUnknownPathSuggestsNearest(t *testing.T) {
	l := newTestLake(t)
	for _, ds := range []string{"/tetration/flows", "/tetration/packets", "/appdata/datasink/DEVWKS-2612", "/appdata/portscan/scans"} {
		hourFiles(t, l, ds, testNow, 1)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"typo", "/tetration/flow", []string{"did you mean /tetration/flows"}},
		{"swapped digits", "/appdata/datasink/DEVWKS-2162", []string{"did you mean /appdata/datasink/DEVWKS-2612"}},
		{"folder of datasets", "/tetration", []string{"folder of datasets", "/tetration/flows", "/tetration/packets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseLakePath(tt.path, l.Root())
			if err != nil {
				t.Fatal(err)
			}
			err = l.checkDataset(p)
			if !errors.Is(err, ErrUnknownPath) {
				t.Fatalf("checkDataset(%s) = %v, want ErrUnknownPath", tt.path, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("empty lake", func(t *testing.T) {
		err := newTestLake(t).checkDataset("/tetration/flows")
		if !errors.Is(err, ErrUnknownPath) || !strings.Contains(err.Error(), "no datasets yet") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"flows", "flow", 1}, {"2612", "2162", 2}, {"é", "e", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_"+tt.b, func(t *testing.T) {
			if got := editDistance(tt.a, tt.b); got != tt.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func FuzzParseLakePath(f *testing.F) {
	for _, s := range []string{"/tetration/flows", "/appdata/../x", "/appdata/a//b/", "\x00", "/appdata/dt=1", "/srv/lake/appdata/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseLakePath(s, "/srv/lake")
		if err != nil {
			if !errors.Is(err, ErrPathRefused) {
				t.Fatalf("error %v does not wrap ErrPathRefused", err)
			}
			return
		}
		// An accepted path is clean and stays under a namespace.
		str := string(p)
		if str != "/tetration" && str != "/appdata" && !strings.HasPrefix(str, "/tetration/") && !strings.HasPrefix(str, "/appdata/") {
			t.Fatalf("accepted %q outside the namespaces", str)
		}
		for _, seg := range strings.Split(str[1:], "/") {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\x00\\=") {
				t.Fatalf("accepted %q with segment %q", str, seg)
			}
		}
		if again, err := parseLakePath(str, "/srv/lake"); err != nil || again != p {
			t.Fatalf("not idempotent: %q -> %q, %v", str, again, err)
		}
	})
}
