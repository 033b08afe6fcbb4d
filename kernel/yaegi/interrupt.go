package yaegi

import (
	"context"
	"go/ast"
	"go/parser"
	"sync"
	"time"

	"github.com/flowlab/flowlab/kernel"
	"github.com/traefik/yaegi/interp"
)

// interruptGrace is how long an interrupted Execute waits for the chunk to
// stop before it returns anyway: interpreted code stops at its next step,
// but a call into compiled code (time.Sleep, a blocking read) runs on.
const interruptGrace = 500 * time.Millisecond

// watch lets the executor stop a running chunk. yaegi stops interpreted code
// only from its *WithContext methods, which return as soon as the context is
// done while their goroutine may still use the interpreter, and then race
// with whatever runs next. So the executor runs each chunk with Execute on a
// goroutine of its own, whose end it can wait for, and lets
// ExecuteWithContext run a watcher program beside it: __flowlab.Block(),
// which parks until the chunk ends. Cancelling the watcher's context makes
// yaegi stop every running interpreted frame; the chunk then returns.
type watch struct {
	mu      sync.Mutex
	entered chan struct{} // closed when the watcher is parked
	release chan struct{} // closed to let the watcher return
	parked  []chan struct{}
}

// block is __flowlab.Block: it parks the watcher program.
func (w *watch) block() {
	w.mu.Lock()
	entered, release := w.entered, w.release
	w.mu.Unlock()
	if entered == nil {
		return
	}
	close(entered)
	<-release
}

// abandon releases the watchers of interrupted chunks, once their
// interpreter is no longer used.
func (w *watch) abandon() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.parked {
		close(r)
	}
	w.parked = nil
}

// watcherProgram compiles __flowlab.Block() once per interpreter.
func (e *Executor) watcherProgram() (*interp.Program, error) {
	if e.watcherProg != nil {
		return e.watcherProg, nil
	}
	f, err := parser.ParseFile(e.in.FileSet(), physName, "package main; func main() {"+rtName+".Block()\n}", 0)
	if err != nil {
		return nil, err
	}
	prog, err := e.compile(f.Decls[0].(*ast.FuncDecl).Body)
	if err != nil {
		return nil, err
	}
	e.watcherProg = prog
	return prog, nil
}

// execInterruptible runs prog until it ends or ctx is done.
func (e *Executor) execInterruptible(ctx context.Context, prog *interp.Program, seq int) error {
	wprog, err := e.watcherProgram()
	if err != nil {
		return err
	}
	entered, release := make(chan struct{}), make(chan struct{})
	e.watch.mu.Lock()
	e.watch.entered, e.watch.release = entered, release
	e.watch.mu.Unlock()

	wctx, stop := context.WithCancel(context.Background())
	defer stop()
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		_, _ = e.in.ExecuteWithContext(wctx, wprog)
	}()
	select {
	case <-entered:
	case <-wdone:
		// The watcher could not park: run without interruption.
		_, err := e.in.Execute(prog)
		return e.execError(err, seq)
	}

	rdone := make(chan struct{})
	var rerr error
	go func() {
		defer close(rdone)
		_, rerr = e.in.Execute(prog)
	}()
	select {
	case <-rdone:
		close(release)
		<-wdone
		return e.execError(rerr, seq)
	case <-ctx.Done():
		e.rt.interrupt()
		stop() // yaegi stops every running interpreted frame
		<-wdone
		e.watch.mu.Lock()
		// The parked watcher stays parked until Reset: released now, its
		// end would race with the next chunk.
		e.watch.parked = append(e.watch.parked, release)
		e.watch.mu.Unlock()
		select {
		case <-rdone:
		case <-time.After(interruptGrace):
			e.log.Warn("interrupted cell still running in compiled code", "cell", seq)
		}
		return kernel.Interrupted()
	}
}
