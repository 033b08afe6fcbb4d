//go:build !linux

package pcap

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Live is a live capture; see the Linux implementation.
type Live struct{}

// OpenLive returns an error wrapping ErrUnsupported: live capture uses
// AF_PACKET sockets, which only Linux has.
func OpenLive(iface string, snaplen int) (*Live, error) {
	return nil, fmt.Errorf("capture on %s: %w", iface, ErrUnsupported)
}

// Next returns ErrClosed.
func (l *Live) Next() (Frame, error) { return Frame{}, ErrClosed }

// Close does nothing.
func (l *Live) Close() error { return nil }

// SetFilter returns an error wrapping ErrUnsupported.
func (l *Live) SetFilter(prog []bpf.RawInstruction) error { return ErrUnsupported }
