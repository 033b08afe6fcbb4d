package yaegi

import (
	"fmt"
	"image"
	"reflect"
	"sync"
	"time"

	"github.com/flowlab/flowlab/kernel/display"
	"github.com/traefik/yaegi/interp"
)

// rtPath is the import path of the executor's runtime helpers; cells never
// import it themselves (it is imported as __flowlab when the interpreter
// starts) and it is not listed by Packages.
const rtPath = "_flowlab/kernel"

// cellRuntime is the state the runtime helpers share with the executor.
type cellRuntime struct {
	e *Executor

	mu       sync.Mutex
	captured []any
	hasValue bool
	deferred []func()
	stash    any
	// interrupted is closed when the running cell is interrupted.
	interrupted chan struct{}
}

func (rt *cellRuntime) reset() {
	rt.mu.Lock()
	rt.captured, rt.hasValue, rt.deferred = nil, false, nil
	rt.interrupted = make(chan struct{})
	rt.mu.Unlock()
}

// interrupt wakes the sleeps of the running cell.
func (rt *cellRuntime) interrupt() {
	rt.mu.Lock()
	if rt.interrupted != nil {
		close(rt.interrupted)
		rt.interrupted = nil
	}
	rt.mu.Unlock()
}

// sleep is time.Sleep, cut short when the cell is interrupted so that the
// interpreter can stop at once.
func (rt *cellRuntime) sleep(d time.Duration) {
	rt.mu.Lock()
	ch := rt.interrupted
	rt.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ch:
	}
}

// capture receives the values of the cell's final expression.
func (rt *cellRuntime) capture(vs ...any) {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = bundleOf(unwrapValue(v))
	}
	rt.mu.Lock()
	rt.captured, rt.hasValue = out, true
	rt.mu.Unlock()
}

func (rt *cellRuntime) values() ([]any, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.captured, rt.hasValue
}

// deferCall registers a top-level defer of the running cell.
func (rt *cellRuntime) deferCall(f func()) {
	rt.mu.Lock()
	rt.deferred = append(rt.deferred, f)
	rt.mu.Unlock()
}

func (rt *cellRuntime) takeDeferred() []func() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	d := rt.deferred
	rt.deferred = nil
	return d
}

// goPanic reports the panic of a goroutine a cell started; where is the
// position of its go statement.
func (rt *cellRuntime) goPanic(r any, where string) {
	e := rt.e
	frames := e.plog.claim(goroutineID())
	seq := int(e.seq.Load())
	ce := e.cellError(r, frames, seq, false)
	msg := fmt.Sprintf("panic in a goroutine started at %s (recovered; the kernel keeps running):\n", e.where(where, seq))
	for _, l := range ce.Traceback {
		msg += l + "\n"
	}
	_, _ = e.stderr().Write([]byte(msg))
	e.log.Warn("goroutine panic recovered", "where", where, "name", ce.Name, "value", ce.Value)
}

// afterFunc is time.AfterFunc with the callback's panic recovered and
// reported: compiled code calls it on a goroutine of its own.
func (rt *cellRuntime) afterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() {
		defer func() {
			if r := recover(); r != nil {
				rt.goPanic(r, "a time.AfterFunc callback")
			}
		}()
		f()
	})
}

// exports returns the runtime helpers, imported as __flowlab.
func (rt *cellRuntime) exports() interp.Exports {
	capture := reflect.ValueOf(rt.capture)
	return interp.Exports{
		rtPath + "/" + rtName: {
			"Capture": capture,
			"GoPanic": reflect.ValueOf(rt.goPanic),
			"Defer":   reflect.ValueOf(rt.deferCall),
			"Return":  reflect.ValueOf(func() { panic(returnSignal{}) }),
			"Unstash": reflect.ValueOf(rt.unstash),
			"Block":   reflect.ValueOf(rt.e.watch.block),
		},
		// Values of interpreted types that implement these interfaces reach
		// Capture wrapped, so that display.Render sees their methods.
		".": {
			"MapTypes": reflect.ValueOf(map[reflect.Value][]reflect.Type{
				capture: {
					reflect.TypeOf((*display.MIMEBundler)(nil)).Elem(),
					reflect.TypeOf((*image.Image)(nil)).Elem(),
					reflect.TypeOf((*error)(nil)).Elem(),
					reflect.TypeOf((*fmt.Stringer)(nil)).Elem(),
				},
			}),
		},
	}
}

// symbols returns the overrides of standard library members that need the
// executor: time.AfterFunc recovers its callback's panics, time.Sleep ends
// early when the cell is interrupted.
func (rt *cellRuntime) symbols() map[string]map[string]reflect.Value {
	return map[string]map[string]reflect.Value{
		"time/time": {
			"AfterFunc": reflect.ValueOf(rt.afterFunc),
			"Sleep":     reflect.ValueOf(rt.sleep),
		},
	}
}

// bundleOf turns the wrapper yaegi builds around an interpreted value that
// implements display.MIMEBundler into its bundle, with a text/plain entry
// showing the value rather than the wrapper.
func bundleOf(v any) any {
	b, ok := v.(display.MIMEBundler)
	if !ok {
		return v
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return v
	}
	iv := rv.FieldByName("IValue")
	if !iv.IsValid() || !iv.CanInterface() {
		return v
	}
	out := display.Bundle{}
	for k, x := range b.MIMEBundle() {
		out[k] = x
	}
	if _, ok := out[display.MIMEText]; !ok {
		out[display.MIMEText] = display.Plain(unwrapValue(iv.Interface()))
	}
	return out
}

// stash holds a value the executor wants to call an interpreted method on.
func (rt *cellRuntime) setStash(v any) {
	rt.mu.Lock()
	rt.stash = v
	rt.mu.Unlock()
}

// unstash stores the stashed value into *dst, a variable of its type.
func (rt *cellRuntime) unstash(dst any) {
	rt.mu.Lock()
	v := rt.stash
	rt.mu.Unlock()
	d := reflect.ValueOf(dst)
	if d.Kind() != reflect.Pointer || v == nil {
		return
	}
	if sv := reflect.ValueOf(v); sv.Type().AssignableTo(d.Elem().Type()) {
		d.Elem().Set(sv)
	}
}
