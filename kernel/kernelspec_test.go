package kernel

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestSpecDir(t *testing.T) {
	t.Setenv("JUPYTER_DATA_DIR", "/data/jupyter")
	t.Setenv("VIRTUAL_ENV", "/venv")
	tests := []struct {
		name    string
		scope   InstallScope
		prefix  string
		kname   string
		want    string
		wantErr bool
	}{
		{"user", ScopeUser, "", "flowlab-go", "/data/jupyter/kernels/flowlab-go", false},
		{"sys-prefix from virtualenv", ScopeSysPrefix, "", "k", "/venv/share/jupyter/kernels/k", false},
		{"prefix", ScopePrefix, "/opt/p", "k", "/opt/p/share/jupyter/kernels/k", false},
		{"prefix missing", ScopePrefix, "", "k", "", true},
		{"name with slash", ScopeUser, "", "../x", "", true},
		{"empty name", ScopeUser, "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SpecDir(tt.scope, tt.prefix, tt.kname)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInstallSpec(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kernels", "flowlab-go")
	spec := NewSpec("/usr/bin/flowlab", "/lake")
	if err := InstallSpec(dir, spec); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := []any{"/usr/bin/flowlab", "kernel", "-f", "{connection_file}", "--lake", "/lake"}
	argv := got["argv"].([]any)
	if len(argv) != len(want) {
		t.Fatalf("argv = %v", argv)
	}
	for i := range want {
		if argv[i] != want[i] {
			t.Fatalf("argv = %v, want %v", argv, want)
		}
	}
	if got["interrupt_mode"] != "message" || got["language"] != "go" {
		t.Errorf("kernel.json = %s", raw)
	}
	for _, name := range []string{"logo-32x32.png", "logo-64x64.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != b.Dy() {
			t.Errorf("%s is %v", name, b)
		}
		// The centre-left of the logo is on a white bar, the corner is transparent.
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Errorf("%s corner is not transparent", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "logo-svg.svg")); err != nil {
		t.Error(err)
	}
}
