package yaegi

import (
	"fmt"
	"go/parser"
	"reflect"

	"github.com/traefik/yaegi/interp"
	gen "github.com/traefik/yaegi/stdlib/generic"
)

// stdioGroup are the packages whose members yaegi redirects to the
// interpreter's stdin, stdout, stderr and environment when package fmt is
// loaded: they are always loaded together, so that the redirection covers
// all of them whichever a cell imports first.
var stdioGroup = []string{"fmt", "log", "os", "flag", "math/bits"}

// genericPkgs are interpreted from yaegi's generic sources.
var genericPkgs = map[string]bool{"cmp": true, "maps": true, "slices": true}

// ensurePackage gives the interpreter the binary package p, on its first
// import: copying every table into each new interpreter would make New
// slow, and most cells use a few packages.
func (e *Executor) ensurePackage(p string) error {
	if e.loaded[p] {
		return nil
	}
	group := []string{p}
	for _, g := range stdioGroup {
		if g == p {
			group = stdioGroup
			break
		}
	}
	x := interp.Exports{}
	for _, q := range group {
		if e.loaded[q] {
			continue
		}
		syms, ok := e.syms[q]
		if !ok {
			continue
		}
		x[q+"/"+e.pkgNames[q]] = syms
	}
	if len(x) == 0 {
		return nil
	}
	// Use copies the tables; when they hold fmt it also redirects the
	// standard streams and compiles the generic sources.
	if err := e.in.Use(x); err != nil {
		return fmt.Errorf("yaegi executor: load %s: %w", p, err)
	}
	if _, ok := x["fmt/fmt"]; ok {
		e.genericLoaded = true
	}
	o := interp.Exports{}
	for _, q := range group {
		e.loaded[q] = true
		if ov, ok := e.overrides[q]; ok {
			o[q+"/"+e.pkgNames[q]] = ov
		}
	}
	if len(o) > 0 {
		if err := e.in.Use(o); err != nil {
			return fmt.Errorf("yaegi executor: load %s overrides: %w", p, err)
		}
	}
	if genericPkgs[p] {
		if err := e.loadGeneric(); err != nil {
			return err
		}
		if p == "slices" {
			return e.loadSlicesSupplement()
		}
	}
	return nil
}

// loadGeneric compiles yaegi's generic sources, which Use compiles only with
// package fmt.
func (e *Executor) loadGeneric() error {
	if e.genericLoaded {
		return nil
	}
	for _, src := range gen.Sources {
		f, err := parser.ParseFile(e.in.FileSet(), "flowlab_generic.go", src, 0)
		if err != nil {
			return fmt.Errorf("yaegi executor: generic sources: %w", err)
		}
		if _, err := e.compile(f); err != nil {
			return fmt.Errorf("yaegi executor: generic sources: %w", err)
		}
	}
	e.genericLoaded = true
	return nil
}

// sandboxSymbols returns the sandbox's wrappers, or nothing when the
// executor is unrestricted.
func (e *Executor) sandboxSymbols() map[string]map[string]reflect.Value {
	if e.sb == nil {
		return nil
	}
	return e.sb.symbols()
}
