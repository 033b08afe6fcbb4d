package kernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultSpecName is the kernelspec name `flowlab kernel install` uses.
const DefaultSpecName = "flowlab-go"

// Spec is the content of a kernelspec's kernel.json.
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// NewSpec returns the kernelspec that runs exe as a flowlab kernel. lake, when
// not empty, is passed as --lake; extra arguments follow.
func NewSpec(exe, lake string, extra ...string) Spec {
	argv := []string{exe, "kernel", "-f", "{connection_file}"}
	if lake != "" {
		argv = append(argv, "--lake", lake)
	}
	argv = append(argv, extra...)
	return Spec{
		Argv:        argv,
		DisplayName: "Go (flowlab)",
		Language:    "go",
		// The kernel handles interrupt_request on the control channel, so
		// clients never need to signal the process.
		InterruptMode: "message",
		Metadata:      map[string]any{"debugger": false},
	}
}

// InstallScope says where a kernelspec is installed, as jupyter kernelspec
// install does.
type InstallScope int

// Install scopes.
const (
	// ScopeUser installs under the user's Jupyter data directory.
	ScopeUser InstallScope = iota
	// ScopeSysPrefix installs into the active Python environment's prefix.
	ScopeSysPrefix
	// ScopePrefix installs under an explicit prefix.
	ScopePrefix
)

// ErrNoPythonPrefix is returned for ScopeSysPrefix when no Python environment
// can be found.
var ErrNoPythonPrefix = errors.New("no Python environment found for --sys-prefix: activate a virtualenv or conda environment, or use --user or --prefix")

// SpecDir is the directory a kernelspec called name is installed to.
func SpecDir(scope InstallScope, prefix, name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("kernelspec name %q: use letters, digits, '-', '_' or '.'", name)
	}
	var base string
	switch scope {
	case ScopeUser:
		base = userDataDir()
	case ScopeSysPrefix:
		p, err := pythonPrefix()
		if err != nil {
			return "", err
		}
		base = filepath.Join(p, "share", "jupyter")
	case ScopePrefix:
		if prefix == "" {
			return "", errors.New("--prefix needs a directory")
		}
		abs, err := filepath.Abs(prefix)
		if err != nil {
			return "", err
		}
		base = filepath.Join(abs, "share", "jupyter")
	default:
		return "", fmt.Errorf("unknown install scope %d", scope)
	}
	return filepath.Join(base, "kernels", name), nil
}

// userDataDir follows jupyter_core on Linux: $JUPYTER_DATA_DIR, else
// $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter.
func userDataDir() string {
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "jupyter")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".local", "share", "jupyter")
}

func pythonPrefix() (string, error) {
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if d := os.Getenv(env); d != "" {
			return d, nil
		}
	}
	out, err := exec.Command("python3", "-c", "import sys; print(sys.prefix)").Output()
	if err != nil {
		return "", ErrNoPythonPrefix
	}
	return strings.TrimSpace(string(out)), nil
}

// InstallSpec writes kernel.json and the logos into dir, creating it.
func InstallSpec(dir string, spec Spec) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("install kernelspec: %w", err)
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("install kernelspec: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("install kernelspec: %w", err)
	}
	for _, size := range []int{32, 64} {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("logo-%dx%d.png", size, size)))
		if err != nil {
			return fmt.Errorf("install kernelspec logo: %w", err)
		}
		err = png.Encode(f, Logo(size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("install kernelspec logo: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "logo-svg.svg"), []byte(LogoSVG), 0o644); err != nil {
		return fmt.Errorf("install kernelspec logo: %w", err)
	}
	return nil
}

// Logo colours: a teal tile with three white flow bars of different lengths.
var (
	logoTile = color.RGBA{0x0b, 0x7a, 0x75, 0xff}
	logoBar  = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

// LogoSVG is the vector form of the kernel logo.
const LogoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<rect x="0" y="0" width="64" height="64" rx="12" fill="#0b7a75"/>
<rect x="12" y="16" width="40" height="6" rx="3" fill="#fff"/>
<rect x="12" y="29" width="28" height="6" rx="3" fill="#fff"/>
<rect x="12" y="42" width="34" height="6" rx="3" fill="#fff"/>
</svg>
`

// Logo draws the kernel logo at size×size pixels, matching LogoSVG.
func Logo(size int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	scale := float64(size) / 64
	radius := 12 * scale
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			if insideRounded(float64(x)+0.5, float64(y)+0.5, 0, 0, float64(size), float64(size), radius) {
				img.Set(x, y, logoTile)
			}
		}
	}
	bars := [][4]float64{{12, 16, 40, 6}, {12, 29, 28, 6}, {12, 42, 34, 6}}
	for _, b := range bars {
		x0, y0, w, h := b[0]*scale, b[1]*scale, b[2]*scale, b[3]*scale
		for y := int(y0); y < int(y0+h+1) && y < size; y++ {
			for x := int(x0); x < int(x0+w+1) && x < size; x++ {
				if insideRounded(float64(x)+0.5, float64(y)+0.5, x0, y0, w, h, h/2) {
					img.Set(x, y, logoBar)
				}
			}
		}
	}
	return img
}

func insideRounded(px, py, x, y, w, h, r float64) bool {
	if px < x || py < y || px > x+w || py > y+h {
		return false
	}
	cx := min(max(px, x+r), x+w-r)
	cy := min(max(py, y+r), y+h-r)
	dx, dy := px-cx, py-cy
	return dx*dx+dy*dy <= r*r
}
