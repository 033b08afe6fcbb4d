package taps

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
)

// DataTaps is what cells use to send messages out through the configured
// taps (the kernel sets them from --taps or FLOWLAB_TAPS):
//
//	err := DataTaps.SendMessage(message, "Alerts")
//	err = DataTaps.SendJSON(map[string]any{"source": src, "ports": n}, "Alerts")
//	names := DataTaps.List()
var DataTaps = &Taps{}

// defaultSet is the Set DataTaps and every zero Taps use.
var defaultSet atomic.Pointer[Set]

// Configure makes s the taps of DataTaps and returns the previous Set (nil
// if none), which the caller closes. A nil s unconfigures. Safe for
// concurrent use.
func Configure(s *Set) (previous *Set) {
	return defaultSet.Swap(s)
}

// Interrupt cancels the sends of DataTaps in progress (a kernel interrupt).
// Safe for concurrent use.
func Interrupt() {
	if s := defaultSet.Load(); s != nil {
		s.Interrupt()
	}
}

// Taps sends messages through named taps: the cell-facing handle on a Set.
// The zero value uses the Set installed by Configure. Its methods are safe
// for concurrent use.
type Taps struct {
	set *Set // nil: the default set
}

// Bind returns a handle on s.
func Bind(s *Set) *Taps { return &Taps{set: s} }

func (t *Taps) target(call string) (*Set, error) {
	if t != nil && t.set != nil {
		return t.set, nil
	}
	if s := defaultSet.Load(); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%s: %w: start the kernel with --taps FILE or set FLOWLAB_TAPS to the taps configuration (see docs/taps.md)", call, ErrTapsNotConfigured)
}

// SendMessage sends message through the named tap and returns nil once the
// broker acknowledged it (from every in-sync replica). Otherwise, within the
// tap's timeout (10 s by default), it returns an error naming the tap, the
// topic and the broker, wrapping ErrUnknownTap, ErrTapSend, ErrTapTimeout,
// ErrTapMessage or ErrTapsNotConfigured.
func (t *Taps) SendMessage(message string, tap string) error {
	return t.send("DataTaps.SendMessage", []string{message}, tap)
}

// SendMessages sends messages through the named tap as one batch, in order,
// and returns nil once the broker acknowledged every one. On error some may
// have been acknowledged and stored: the error says how many. Errors as for
// SendMessage.
func (t *Taps) SendMessages(messages []string, tap string) error {
	return t.send("DataTaps.SendMessages", messages, tap)
}

// SendJSON encodes v with encoding/json and sends it as one message, like
// SendMessage. A value encoding/json cannot encode gives an error wrapping
// ErrTapMessage.
func (t *Taps) SendJSON(v any, tap string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("DataTaps.SendJSON: %w: %v", ErrTapMessage, err)
	}
	return t.send("DataTaps.SendJSON", []string{string(b)}, tap)
}

// List returns the configured tap names, sorted; none when no taps are
// configured.
func (t *Taps) List() []string {
	s, err := t.target("DataTaps.List")
	if err != nil {
		return []string{}
	}
	return s.Names()
}

func (t *Taps) send(call string, msgs []string, tap string) error {
	s, err := t.target(call)
	if err != nil {
		return err
	}
	d, err := s.Send(context.Background(), tap, msgs)
	if err != nil {
		if len(msgs) > 1 {
			acked := 0
			for _, x := range d {
				if x.Offset >= 0 {
					acked++
				}
			}
			return fmt.Errorf("%s: %d of %d messages acknowledged: %w", call, acked, len(msgs), err)
		}
		return fmt.Errorf("%s: %w", call, err)
	}
	return nil
}
