package yaegi

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flowlab/flowlab/kernel"
	"github.com/flowlab/flowlab/kernel/yaegi/symbols"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
	"github.com/traefik/yaegi/stdlib/syscall"
	"github.com/traefik/yaegi/stdlib/unrestricted"
	"github.com/traefik/yaegi/stdlib/unsafe"
)

// Options configure an Executor. The zero value gives a sandboxed executor
// with the standard library and flowlab's cell packages, whose cells may not
// open any file.
type Options struct {
	// Symbols are extra binary packages cells may import, in yaegi's
	// extract format (for example the datalake's cell API). The kernel's own
	// cell packages (kernel/display) are always available.
	Symbols interp.Exports
	// Prelude is Go source run, as cells are, when the executor starts and
	// after Reset; typically imports, such as a dot-import that puts IO and
	// SQL in scope. Values are discarded; an error fails New and Reset.
	Prelude []string
	// ReadWrite lists the directories sandboxed cells may read and write.
	ReadWrite []string
	// ReadOnly lists the directories sandboxed cells may read.
	ReadOnly []string
	// Unrestricted lifts the sandbox: os/exec, syscall, unsafe, os.Exit, the
	// process environment and every path become available. For personal use.
	Unrestricted bool
	// Env is the environment sandboxed cells see through os.Getenv and
	// friends, as "KEY=value" entries; setting a variable changes only this
	// copy. Unrestricted cells see the process environment.
	Env []string
	// Stdout and Stderr receive what the print and println builtins,
	// fmt.Print* and the reports of goroutine panics write. nil means the
	// process's os.Stdout and os.Stderr at the time of the write (the session
	// captures file descriptors 1 and 2).
	Stdout, Stderr io.Writer
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Executor runs cells in a yaegi interpreter. It implements kernel.Executor;
// like the interface, it is not safe for concurrent use, except that
// goroutines started by cells may run at any time.
type Executor struct {
	opts Options
	log  *slog.Logger
	sb   *sandbox

	tables    interp.Exports                      // binary packages, without overrides
	syms      map[string]map[string]reflect.Value // import path → members
	pkgNames  map[string]string                   // import path → package name
	overrides map[string]map[string]reflect.Value // import path → replaced members
	loaded    map[string]bool                     // packages the interpreter has

	in    *interp.Interpreter
	st    *cellState
	rt    *cellRuntime
	stdin *cellStdin
	plog  *panicLog
	seq   atomic.Int64

	wrapped       wrappedSpans
	running       []*parsedItem // the items of the cell being executed
	watch         watch
	watcherProg   *interp.Program
	genericLoaded bool // yaegi's generic sources (cmp, maps, slices)
	slicesLoaded  bool // slicesSupplement
}

var _ kernel.Executor = (*Executor)(nil)

// errReturn ends a cell early at a top-level return; it is not an error.
var errReturn = errors.New("cell returned")

// New starts an executor: it builds the symbol tables, starts the
// interpreter and runs the prelude.
func New(opts Options) (*Executor, error) {
	e := &Executor{opts: opts, log: opts.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if !opts.Unrestricted {
		sb, err := newSandbox(opts.ReadWrite, opts.ReadOnly)
		if err != nil {
			return nil, fmt.Errorf("yaegi executor: sandbox: %w", err)
		}
		e.sb = sb
	}
	e.stdin = &cellStdin{}
	e.plog = newPanicLog(e.stderr)
	e.rt = &cellRuntime{e: e}
	e.tables = baseTables(opts.Unrestricted)
	e.indexTables()
	e.overrides = map[string]map[string]reflect.Value{}
	for _, o := range []map[string]map[string]reflect.Value{e.rt.symbols(), e.stdin.symbols(), e.sandboxSymbols()} {
		for k, syms := range o {
			p := path.Dir(k)
			if e.overrides[p] == nil {
				e.overrides[p] = map[string]reflect.Value{}
			}
			for n, v := range syms {
				e.overrides[p][n] = v
			}
		}
	}
	if err := e.start(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Executor) stdout() io.Writer {
	if e.opts.Stdout != nil {
		return e.opts.Stdout
	}
	return os.Stdout
}

func (e *Executor) stderr() io.Writer {
	if e.opts.Stderr != nil {
		return e.opts.Stderr
	}
	return os.Stderr
}

// writerFunc adapts a function resolving the destination at each write.
type writerFunc func() io.Writer

func (w writerFunc) Write(b []byte) (int, error) { return w().Write(b) }

// emptyFS is the interpreter's source file system: cells import binary
// packages only, never source from disk.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

var (
	sandboxedTables    = sync.OnceValue(func() interp.Exports { return buildTables(false) })
	unrestrictedTables = sync.OnceValue(func() interp.Exports { return buildTables(true) })
)

func baseTables(unrestricted bool) interp.Exports {
	if unrestricted {
		return unrestrictedTables()
	}
	return sandboxedTables()
}

// buildTables assembles the binary packages cells may import: the standard
// library and flowlab's cell packages, minus what the sandbox denies, or
// plus the unrestricted tables. The result is shared and never modified.
func buildTables(unrestrictedMode bool) interp.Exports {
	out := interp.Exports{}
	add := func(src interp.Exports) {
		for k, syms := range src {
			if old, ok := out[k]; ok {
				merged := make(map[string]reflect.Value, len(old)+len(syms))
				for n, v := range old {
					merged[n] = v
				}
				for n, v := range syms {
					merged[n] = v
				}
				out[k] = merged
				continue
			}
			out[k] = syms
		}
	}
	if unrestrictedMode {
		add(stdlib.Symbols)
		add(unrestricted.Symbols)
		add(unsafe.Symbols)
		add(syscall.Symbols)
		add(symbols.Symbols)
		return out
	}
	for k, syms := range stdlib.Symbols {
		p := path.Dir(k)
		if _, denied := deniedPackages[p]; denied {
			continue
		}
		if names, ok := deniedSymbols[p]; ok {
			cp := make(map[string]reflect.Value, len(syms))
			for n, v := range syms {
				cp[n] = v
			}
			for _, n := range names {
				delete(cp, n)
			}
			syms = cp
		}
		out[k] = syms
	}
	add(symbols.Symbols)
	return out
}

// indexTables builds the per-path views used for imports, completion and
// inspection.
func (e *Executor) indexTables() {
	e.syms = map[string]map[string]reflect.Value{}
	e.pkgNames = map[string]string{}
	index := func(t interp.Exports) {
		for k, syms := range t {
			if k == "." || strings.HasPrefix(k, rtPath+"/") {
				continue
			}
			p, name := path.Dir(k), path.Base(k)
			if old, ok := e.syms[p]; ok {
				merged := make(map[string]reflect.Value, len(old)+len(syms))
				for n, v := range old {
					merged[n] = v
				}
				for n, v := range syms {
					merged[n] = v
				}
				syms = merged
			}
			e.syms[p] = syms
			e.pkgNames[p] = name
		}
	}
	index(e.tables)
	index(e.opts.Symbols)
}

// start creates a fresh interpreter with the tables, the overrides, the
// runtime helpers and the prelude.
func (e *Executor) start() error {
	in := interp.New(interp.Options{
		Stdin:                e.stdin,
		Stdout:               writerFunc(e.stdout),
		Stderr:               e.plog,
		Args:                 []string{"cell"},
		Env:                  e.opts.Env,
		Unrestricted:         e.opts.Unrestricted,
		SourcecodeFilesystem: emptyFS{},
	})
	if mt, ok := e.tables["."]; ok {
		if err := in.Use(interp.Exports{".": mt}); err != nil {
			return fmt.Errorf("yaegi executor: load interface maps: %w", err)
		}
	}
	if err := in.Use(e.rt.exports()); err != nil {
		return fmt.Errorf("yaegi executor: load runtime: %w", err)
	}
	e.watch.abandon()
	e.watcherProg = nil
	e.in = in
	e.st = newCellState()
	e.loaded = map[string]bool{}
	e.genericLoaded, e.slicesLoaded = false, false
	f, err := parser.ParseFile(in.FileSet(), physName, "package main; import "+rtName+" "+strconv.Quote(rtPath), 0)
	if err != nil {
		return fmt.Errorf("yaegi executor: runtime import: %w", err)
	}
	prog, err := e.compile(f)
	if err == nil {
		_, err = in.Execute(prog)
	}
	if err != nil {
		return fmt.Errorf("yaegi executor: runtime import: %w", err)
	}
	for _, p := range e.opts.Prelude {
		if _, err := e.Execute(context.Background(), kernel.Cell{Source: p}); err != nil {
			return fmt.Errorf("yaegi executor: prelude %q: %w", p, err)
		}
	}
	return nil
}

// Reset implements kernel.Executor: it discards the interpreter and every
// name cells defined, and starts again with the prelude.
func (e *Executor) Reset() error {
	e.rt.reset()
	return e.start()
}

// Execute implements kernel.Executor. Cell output goes to the process's
// standard output and error; the result holds the values of the final
// expression. A cell that fails returns a *kernel.CellError (compile error,
// panic, interrupt); the interpreter keeps its state in every case.
func (e *Executor) Execute(ctx context.Context, cell kernel.Cell) (kernel.Result, error) {
	seq := int(e.seq.Add(1))
	src := newSource(seq, cell.Source)
	sp := splitCell(cell.Source)
	items, errs := parseItems(e.in.FileSet(), src, sp)
	if len(errs) > 0 {
		return kernel.Result{}, kernel.CompileError(errs...)
	}
	if e.sb != nil {
		if errs := e.deniedSelectors(items); len(errs) > 0 {
			return kernel.Result{}, kernel.CompileError(errs...)
		}
	}
	chunks := planChunks(items)
	e.running = items
	defer func() { e.running = nil }()

	e.stdin.begin(ctx, cell.Input)
	defer e.stdin.end()
	e.rt.reset()

	var res kernel.Result
	err := e.runChunks(ctx, src, sp, chunks, &res)
	if derr := e.runDeferred(seq); err == nil && derr != nil {
		err = derr
	}
	if errors.Is(err, errReturn) {
		err = nil
	}
	if err != nil {
		var ce *kernel.CellError
		if errors.As(err, &ce) {
			return kernel.Result{}, ce
		}
		return kernel.Result{}, err
	}
	return res, nil
}

func (e *Executor) runChunks(ctx context.Context, src *source, sp cellSplit, chunks []chunk, res *kernel.Result) error {
	for _, c := range chunks {
		if ctx.Err() != nil {
			return kernel.Interrupted()
		}
		var err error
		switch c.kind {
		case chunkImports:
			err = e.runImports(ctx, src, c)
		case chunkDecls:
			err = e.runDecls(ctx, src, c)
		case chunkStmts:
			err = e.runStmts(ctx, src, c)
		case chunkFinal:
			err = e.runFinal(ctx, src, sp, c, res)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// compile compiles n, turning a panic of yaegi's compiler into an error.
func (e *Executor) compile(n ast.Node) (prog *interp.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &compilerPanic{value: r}
		}
	}()
	return e.in.CompileAST(n)
}

// compilerPanic is a panic inside yaegi's compiler.
type compilerPanic struct{ value any }

func (p *compilerPanic) Error() string { return fmt.Sprint(p.value) }

// compileError turns an error of compile into the cell's CompileError.
func (e *Executor) compileError(err error, src *source, at int) *kernel.CellError {
	var cp *compilerPanic
	if errors.As(err, &cp) {
		l, c := src.lineCol(at)
		msg := e.message(cp.Error(), src.seq)
		hint := ""
		if msg == "nil type" {
			hint = " (yaegi cannot compile this construct; ranging over an integer whose type is not known is a common cause: write for i := 0; i < n; i++)"
		}
		return kernel.CompileError(fmt.Sprintf("%d:%d: the interpreter failed to compile this code: %s%s", l, c, msg, hint))
	}
	if strings.Contains(err.Error(), "constant definition loop") {
		// yaegi's words for a top-level := of an undefined name.
		if msg := e.firstUndefined(src); msg != "" {
			return kernel.CompileError(msg)
		}
	}
	return kernel.CompileError(e.message(err.Error(), src.seq))
}

// firstUndefined finds, in the items of the running cell, the first name
// that nothing declares, and reports it as the compiler would.
func (e *Executor) firstUndefined(src *source) string {
	defined := map[string]bool{rtName: true, "_": true}
	for _, it := range e.running {
		for _, d := range it.defs {
			defined[d] = true
		}
	}
	fset := e.in.FileSet()
	for _, it := range e.running {
		var root ast.Node = it.body
		if it.file != nil {
			root = it.file
		}
		msg := ""
		walkGlobalRefs(root, nil, func(id *ast.Ident) {
			if msg != "" || defined[id.Name] || e.st.names[id.Name] != nil || e.st.imports[id.Name] != "" || isInternalName(e.st, id.Name) {
				return
			}
			if _, ok := goBuiltins[id.Name]; ok {
				return
			}
			for _, p := range e.st.dots {
				if _, ok := e.syms[p][id.Name]; ok {
					return
				}
			}
			if id.Obj != nil {
				return
			}
			p := fset.Position(id.Pos())
			if n, _ := cellSeq(p.Filename); n == src.seq {
				msg = fmt.Sprintf("%d:%d: undefined: %s", p.Line, p.Column, id.Name)
			}
		})
		if msg != "" {
			return msg
		}
	}
	return ""
}

// isInternalName reports whether name is the internal name of a redefined
// type or import.
func isInternalName(st *cellState, name string) bool {
	for _, to := range st.renames {
		if to == name {
			return true
		}
	}
	return false
}

// exec runs a compiled chunk under ctx.
func (e *Executor) exec(ctx context.Context, prog *interp.Program, seq int) error {
	if ctx.Done() == nil {
		_, err := e.in.Execute(prog)
		return e.execError(err, seq)
	}
	if ctx.Err() != nil {
		return kernel.Interrupted()
	}
	return e.execInterruptible(ctx, prog, seq)
}

// execError maps the error of running a chunk to what Execute returns.
func (e *Executor) execError(err error, seq int) error {
	if err == nil {
		return nil
	}
	var p interp.Panic
	if errors.As(err, &p) {
		frames := e.plog.claim(stackGoroutineID(p.Stack))
		if _, ok := unwrapValue(p.Value).(returnSignal); ok {
			return errReturn
		}
		return e.cellError(p.Value, frames, seq, true)
	}
	return kernel.CompileError(e.message(err.Error(), seq))
}

// runDeferred runs the cell's top-level defers, last first. The first panic
// among them is returned.
func (e *Executor) runDeferred(seq int) error {
	ds := e.rt.takeDeferred()
	var first error
	for i := len(ds) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					frames := e.plog.claim(goroutineID())
					if _, ok := unwrapValue(r).(returnSignal); ok {
						return
					}
					if first == nil {
						first = e.cellError(r, frames, seq, true)
					}
				}
			}()
			ds[i]()
		}()
	}
	return first
}

var cellPos = regexp.MustCompile(`(\d+)/` + physName + `:(\d+):(\d+)`)

// message rewrites an interpreter message for the user: positions become
// cell line:column ("cell #N line:column" for code of an earlier cell) and
// internal names become the names the user wrote.
func (e *Executor) message(msg string, seq int) string {
	msg = cellPos.ReplaceAllStringFunc(msg, func(m string) string {
		sm := cellPos.FindStringSubmatch(m)
		if n, _ := strconv.Atoi(sm[1]); n != seq {
			return "cell #" + sm[1] + " " + sm[2] + ":" + sm[3]
		}
		return sm[2] + ":" + sm[3]
	})
	msg = strings.ReplaceAll(msg, rtName+".", "")
	return e.unversion(msg)
}

// unversion replaces internal names of redefined types and imports by the
// names the user wrote.
func (e *Executor) unversion(s string) string {
	if e.st == nil || e.st.reverse == nil || !strings.Contains(s, "__v") {
		return s
	}
	return e.st.reverse.Replace(s)
}

// newRewriter returns a rewriter bound to the executor's knowledge.
func (e *Executor) newRewriter(renames map[string]string) *rewriter {
	return &rewriter{
		fset:    e.in.FileSet(),
		renames: renames,
		isConst: func(name string) bool {
			d := e.st.names[name]
			return d != nil && d.kind == itemConst
		},
		isPkg: func(name string) bool {
			_, ok := e.st.imports[name]
			return ok
		},
		pkgConst: func(pkg, name string) bool {
			v, ok := e.symbol(e.st.imports[pkg], name)
			return ok && isConstant(v)
		},
		pkgInt: func(pkg, name string) bool {
			v, ok := e.symbol(e.st.imports[pkg], name)
			return ok && symIsInt(v)
		},
		globalInt: e.globalInt,
		funcInt: func(fun ast.Expr) bool {
			switch f := fun.(type) {
			case *ast.Ident:
				d := e.st.names[f.Name]
				return f.Obj == nil && d != nil && d.kind == itemFunc && d.isInt
			case *ast.SelectorExpr:
				id, ok := f.X.(*ast.Ident)
				if !ok || id.Obj != nil {
					return false
				}
				p, ok := e.st.imports[id.Name]
				if !ok {
					return false
				}
				v, ok := e.symbol(p, f.Sel.Name)
				return ok && v.Kind() == reflect.Func && v.Type().NumOut() == 1 && isIntKind(v.Type().Out(0).Kind())
			}
			return false
		},
	}
}

// symbol looks up a member of a binary package.
func (e *Executor) symbol(path, name string) (reflect.Value, bool) {
	v, ok := e.syms[path][name]
	return v, ok
}

// globalInt reports whether a package-level name holds an integer, from its
// declaration or, for variables, by reading its value.
func (e *Executor) globalInt(name string) bool {
	if d := e.st.names[name]; d != nil {
		if d.isInt {
			return true
		}
		switch d.kind {
		case itemVar, itemStmt, itemConst:
			v, ok := e.valueOf(e.st.internal(name))
			return ok && isIntKind(v.Kind())
		}
		return false
	}
	for _, p := range e.st.dots {
		if v, ok := e.symbol(p, name); ok {
			return symIsInt(v)
		}
	}
	return false
}

// valueOf reads the value of expr, an identifier or a selector chain of
// identifiers (side-effect free), in the interpreter.
func (e *Executor) valueOf(expr string) (v reflect.Value, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	f, err := parser.ParseFile(e.in.FileSet(), physName, "package main; func main() {"+expr+"\n}", 0)
	if err != nil || len(f.Decls) != 1 {
		return reflect.Value{}, false
	}
	prog, err := e.compile(f.Decls[0].(*ast.FuncDecl).Body)
	if err != nil {
		return reflect.Value{}, false
	}
	v, err = e.in.Execute(prog)
	if err != nil || !v.IsValid() {
		return reflect.Value{}, false
	}
	return v, true
}

// deniedSelectors reports uses of methods a sandboxed cell may not call.
func (e *Executor) deniedSelectors(items []*parsedItem) []string {
	var errs []string
	fset := e.in.FileSet()
	for _, it := range items {
		var root ast.Node = it.body
		if it.file != nil {
			root = it.file
		}
		ast.Inspect(root, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			why, denied := deniedMethods[sel.Sel.Name]
			if !denied {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Obj == nil {
				if _, isPkg := e.st.imports[id.Name]; isPkg {
					return true // the wrapped package-level function
				}
			}
			p := fset.Position(sel.Sel.Pos())
			errs = append(errs, fmt.Sprintf("%d:%d: method %s is not available in a sandboxed cell: %s", p.Line, p.Column, sel.Sel.Name, why))
			return true
		})
	}
	return errs
}

// runImports evaluates the cell's imports. A package already imported under
// the same name is skipped; a name bound to another package before gets a
// new internal name, so that the latest import wins.
func (e *Executor) runImports(ctx context.Context, src *source, c chunk) error {
	fset := e.in.FileSet()
	file := &ast.File{Name: c.items[0].file.Name, Package: c.items[0].file.Package}
	var errs []string
	type bound struct{ name, path, internal string }
	var binds []bound
	var dots []string
	for _, it := range c.items {
		for _, d := range it.file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.IMPORT {
				continue
			}
			var keep []ast.Spec
			for _, sp := range g.Specs {
				is := sp.(*ast.ImportSpec)
				p, _ := strconv.Unquote(is.Path.Value)
				pos := fset.Position(is.Path.Pos())
				if why := e.importDenied(p); why != "" {
					errs = append(errs, fmt.Sprintf("%d:%d: import %q is not allowed in a sandboxed cell: %s", pos.Line, pos.Column, p, why))
					continue
				}
				name, ok := e.pkgNames[p]
				if !ok {
					errs = append(errs, fmt.Sprintf("%d:%d: package %q is not available in cells (%%packages lists the packages a cell can import)", pos.Line, pos.Column, p))
					continue
				}
				if is.Name != nil {
					name = is.Name.Name
				}
				switch name {
				case "_":
					continue
				case ".":
					dots = append(dots, p)
					keep = append(keep, is)
					continue
				}
				old, seen := e.st.imports[name]
				if seen && old == p {
					continue // already imported
				}
				b := bound{name: name, path: p}
				if seen {
					e.st.versions[name]++
					b.internal = versionedName(name, e.st.versions[name])
					is.Name = &ast.Ident{NamePos: is.Path.Pos(), Name: b.internal}
				}
				binds = append(binds, b)
				keep = append(keep, is)
			}
			if len(keep) > 0 {
				g.Specs = keep
				file.Decls = append(file.Decls, g)
			}
		}
	}
	if len(errs) > 0 {
		return kernel.CompileError(errs...)
	}
	if len(file.Decls) == 0 {
		return nil
	}
	for _, b := range binds {
		if err := e.ensurePackage(b.path); err != nil {
			return err
		}
	}
	for _, p := range dots {
		if err := e.ensurePackage(p); err != nil {
			return err
		}
	}
	prog, err := e.compile(file)
	if err != nil {
		return e.compileError(err, src, c.items[0].start)
	}
	for _, b := range binds {
		e.st.imports[b.name] = b.path
		if b.internal != "" {
			e.st.setRename(b.name, b.internal)
		} else if _, ok := e.st.renames[b.name]; ok {
			delete(e.st.renames, b.name)
		}
	}
	for _, p := range dots {
		if !contains(e.st.dots, p) {
			e.st.dots = append(e.st.dots, p)
		}
	}
	return e.exec(ctx, prog, src.seq)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// importDenied returns why a sandboxed cell may not import p, or "".
func (e *Executor) importDenied(p string) string {
	if e.sb == nil {
		return ""
	}
	if _, ok := e.syms[p]; ok {
		if _, ok := e.opts.Symbols[p+"/"+e.pkgNames[p]]; ok {
			return "" // the host asked for it
		}
	}
	return deniedPackages[p]
}

// runStmts evaluates a run of top-level statements.
func (e *Executor) runStmts(ctx context.Context, src *source, c chunk) error {
	fset := e.in.FileSet()
	cellInts := map[string]bool{}
	for _, group := range dependentGroups(c.items) {
		// A rewriter per group: it sees what the previous groups recorded,
		// as the next cell would.
		r := e.newRewriter(e.st.renames)
		r.wrapped = func(start, end token.Pos) {
			p1, p2 := fset.Position(start), fset.Position(end)
			e.wrapped.add(src.seq, span{p1.Line, p1.Column, p2.Line, p2.Column})
		}
		r.globalInt = func(name string) bool {
			if v, ok := cellInts[name]; ok {
				return v
			}
			return e.globalInt(name)
		}
		first, last := group[0], group[len(group)-1]
		body := &ast.BlockStmt{Lbrace: first.body.Lbrace, Rbrace: last.body.Rbrace}
		for _, it := range group {
			e.typeIndexes(it.stmts)
			stmts := r.cellStmts(it.stmts)
			for _, s := range stmts {
				r.rename(s, nil)
			}
			body.List = append(body.List, stmts...)
			for _, name := range it.defs {
				cellInts[name] = e.stmtDefIsInt(r, it, name)
			}
		}
		prog, err := e.compile(body)
		if err != nil {
			return e.compileError(err, src, first.start)
		}
		for _, it := range group {
			e.recordStmt(it, r)
		}
		if err := e.exec(ctx, prog, src.seq); err != nil {
			return err
		}
	}
	return nil
}

// dependentGroups cuts a run of statements before each statement that
// indexes a name an earlier statement of its group defines. Top-level
// definitions become package-level variables, and yaegi's global type
// analysis cannot type an index of a variable defined by a call into a
// compiled package in the same program (h := IO.List(p); last :=
// h[len(h)-1]); compiled after it ran, typeIndexes can. Other statements
// stay together: each extra program is an extra Execute, which resizes the
// interpreter's globals under any goroutine a cell started.
func dependentGroups(items []*parsedItem) [][]*parsedItem {
	var groups [][]*parsedItem
	var cur []*parsedItem
	defined := map[string]bool{}
	for _, it := range items {
		if len(cur) > 0 && indexesAny(it.stmts, defined) {
			groups = append(groups, cur)
			cur, defined = nil, map[string]bool{}
		}
		cur = append(cur, it)
		for _, d := range it.defs {
			defined[d] = true
		}
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// indexesAny reports whether the statements index (x[i]) one of names,
// outside function literals.
func indexesAny(stmts []ast.Stmt, names map[string]bool) bool {
	if len(names) == 0 {
		return false
	}
	found := false
	for _, st := range stmts {
		ast.Inspect(st, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.IndexExpr:
				if id, ok := n.X.(*ast.Ident); ok && names[id.Name] {
					found = true
				}
			}
			return !found
		})
	}
	return found
}

// stmtDefIsInt tells whether name, defined by := in item it, is an integer.
func (e *Executor) stmtDefIsInt(r *rewriter, it *parsedItem, name string) bool {
	for _, s := range it.stmts {
		as, ok := s.(*ast.AssignStmt)
		if !ok || as.Tok != token.DEFINE || len(as.Lhs) != len(as.Rhs) {
			continue
		}
		for i, l := range as.Lhs {
			if id, ok := l.(*ast.Ident); ok && id.Name == name {
				return r.isIntExpr(as.Rhs[i])
			}
		}
	}
	return false
}

// recordStmt notes the variables a statement item defined.
func (e *Executor) recordStmt(it *parsedItem, r *rewriter) {
	fset := e.in.FileSet()
	for _, name := range it.defs {
		decl := ""
		for _, s := range it.stmts {
			if as, ok := s.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
				for _, l := range as.Lhs {
					if id, ok := l.(*ast.Ident); ok && (id.Name == name || id.Name == e.st.internal(name)) {
						decl = nodeString(fset, as)
					}
				}
			}
		}
		e.st.names[name] = &declInfo{
			name: name, kind: itemStmt, seq: it.seqOf(fset),
			text: it.text, decl: decl, isInt: e.stmtDefIsInt(r, it, name),
		}
		if _, ok := e.st.renames[name]; ok && e.st.versions[name] > 0 {
			// A variable now owns the name: stop renaming it.
			delete(e.st.renames, name)
		}
	}
}

// seqOf returns the cell an item came from.
func (it *parsedItem) seqOf(fset *token.FileSet) int {
	var pos token.Pos
	if it.file != nil {
		pos = it.file.Name.End() + 1
	} else {
		pos = it.body.Lbrace + 1
	}
	n, _ := cellSeq(fset.Position(pos).Filename)
	return n
}

// runFinal evaluates the cell's final expression statement and captures its
// values unless the cell ends in a semicolon or the expression is a call of
// fmt.Print*, fmt.Fprint* or log.Print*.
func (e *Executor) runFinal(ctx context.Context, src *source, sp cellSplit, c chunk, res *kernel.Result) error {
	it := c.items[0]
	es := it.stmts[0].(*ast.ExprStmt)
	r := e.newRewriter(e.st.renames)
	r.expr(es.X)
	r.rename(es, nil)
	show := !sp.suppressed && !e.isPrintCall(es.X)
	var prog *interp.Program
	var err error
	if show {
		// Capture wraps values of interpreted types in the interfaces of
		// these packages, which must be loaded for it to compile.
		for _, p := range capturePkgs {
			if err := e.ensurePackage(p); err != nil {
				return err
			}
		}
		prog, err = e.compile(&ast.BlockStmt{Lbrace: it.body.Lbrace, List: []ast.Stmt{capture(es)}, Rbrace: it.body.Rbrace})
		if err != nil {
			// A call with no value cannot be an argument: run it plainly.
			if _, isCall := es.X.(*ast.CallExpr); !isCall {
				e.log.Debug("capture failed", "err", err)
			}
			show, prog = false, nil
		}
	}
	if prog == nil {
		prog, err = e.compile(&ast.BlockStmt{Lbrace: it.body.Lbrace, List: []ast.Stmt{es}, Rbrace: it.body.Rbrace})
		if err != nil {
			return e.compileError(err, src, it.start)
		}
	}
	if err := e.exec(ctx, prog, src.seq); err != nil {
		return err
	}
	if show {
		if vs, ok := e.rt.values(); ok {
			res.Values = vs
		}
	}
	return nil
}

// capturePkgs declare the interfaces Capture's arguments are wrapped in.
var capturePkgs = []string{"github.com/flowlab/flowlab/kernel/display", "image", "fmt"}

// isPrintCall reports whether x calls fmt.Print*, fmt.Fprint* or
// log.Print*, whose (n, err) results are noise.
func (e *Executor) isPrintCall(x ast.Expr) bool {
	call, ok := x.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	switch e.st.imports[id.Name] {
	case "fmt":
		return strings.HasPrefix(sel.Sel.Name, "Print") || strings.HasPrefix(sel.Sel.Name, "Fprint")
	case "log":
		return strings.HasPrefix(sel.Sel.Name, "Print")
	}
	return false
}

// Packages implements kernel.Executor: every package a cell may import, with
// its synopsis, sorted by path.
func (e *Executor) Packages() []kernel.Package {
	out := make([]kernel.Package, 0, len(e.syms))
	for p := range e.syms {
		if e.importDenied(p) != "" {
			continue
		}
		out = append(out, kernel.Package{Path: p, Synopsis: synopses[p]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Environ returns the environment cells see: the sandbox's copy, with the
// changes cells made through os.Setenv, or the process environment when
// the executor is unrestricted.
func (e *Executor) Environ() []string {
	if e.opts.Unrestricted {
		return os.Environ()
	}
	if e.loaded["os"] {
		if f, ok := e.in.Symbols("os")["os"]["Environ"]; ok {
			if env, ok := f.Call(nil)[0].Interface().([]string); ok {
				return env
			}
		}
	}
	return append([]string(nil), e.opts.Env...)
}

// Setenv sets name to value in the environment cells see, as %env does: in
// the sandbox's copy (kept across Reset) or, when the executor is
// unrestricted, in the process environment.
func (e *Executor) Setenv(name, value string) error {
	if e.opts.Unrestricted {
		return os.Setenv(name, value)
	}
	env := make([]string, 0, len(e.opts.Env)+1)
	for _, kv := range e.opts.Env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			env = append(env, kv)
		}
	}
	e.opts.Env = append(env, name+"="+value)
	// The interpreter copied the environment when it started; package os
	// reads that copy, so change it through os itself.
	if err := e.ensurePackage("os"); err != nil {
		return err
	}
	f, ok := e.in.Symbols("os")["os"]["Setenv"]
	if !ok {
		return fmt.Errorf("yaegi executor: setenv %s: package os has no Setenv", name)
	}
	if err, _ := f.Call([]reflect.Value{reflect.ValueOf(name), reflect.ValueOf(value)})[0].Interface().(error); err != nil {
		return fmt.Errorf("yaegi executor: setenv %s: %w", name, err)
	}
	return nil
}
