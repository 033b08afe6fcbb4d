package monitor

import (
	"encoding/json"
	"net/http"

	"github.com/flowlab/flowlab/datalake/taps"
)

// Targets names the taps and where they send; *taps.Set implements it.
type Targets interface {
	// Names lists the tap names, sorted.
	Names() []string
	// Tap returns the named tap's configuration.
	Tap(name string) (taps.TapConfig, bool)
}

var _ Targets = (*taps.Set)(nil)

// TapInfo is a tap as List shows it: its target, without credentials.
type TapInfo struct {
	Name    string   `json:"name"`
	Topic   string   `json:"topic"`
	Brokers []string `json:"brokers"`
	TLS     bool     `json:"tls"`
	// SASL is the SASL mechanism, "" without SASL.
	SASL string `json:"sasl"`
}

// List answers GET with the taps as a JSON array of TapInfo, sorted by
// name (the UI's Data Taps page and the schedule editor's tap choice). The
// server mounts it behind its authentication. Safe for concurrent use.
type List struct {
	// Taps are the configured taps; nil lists none.
	Taps Targets
}

// ServeHTTP writes the list.
func (l *List) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := []TapInfo{}
	var names []string
	if l.Taps != nil {
		names = l.Taps.Names()
	}
	for _, name := range names {
		c, ok := l.Taps.Tap(name)
		if !ok {
			continue
		}
		info := TapInfo{Name: name, Topic: c.Topic, Brokers: c.Brokers, TLS: c.TLS != nil}
		if c.SASL != nil {
			info.SASL = c.SASL.Mechanism
		}
		out = append(out, info)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}
