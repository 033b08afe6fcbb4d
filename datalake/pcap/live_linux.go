//go:build linux

package pcap

import (
	"fmt"

	"github.com/gopacket/gopacket/pcapgo"
)

// Live captures frames from a network interface through an AF_PACKET
// socket (pcapgo's pure-Go EthernetHandle; no libpcap). Opening one needs
// CAP_NET_RAW. Next and Close may be called from different goroutines;
// Close makes a blocked Next return.
type Live struct {
	h       *pcapgo.EthernetHandle
	iface   string
	packets uint64
}

// OpenLive opens a capture on iface with the given snap length (0: the
// handle's default, large enough for offloaded segments).
func OpenLive(iface string, snaplen int) (*Live, error) {
	h, err := pcapgo.NewEthernetHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w (live capture needs root or CAP_NET_RAW)", iface, err)
	}
	if snaplen > 0 {
		if err := h.SetCaptureLength(snaplen); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture on %s: %w", iface, err)
		}
	}
	return &Live{h: h, iface: iface}, nil
}

// Next returns the next frame (data valid until the next call). After
// Close it returns an error wrapping ErrClosed.
func (l *Live) Next() (Frame, error) {
	data, ci, err := l.h.ZeroCopyReadPacketData()
	if err != nil {
		return Frame{}, fmt.Errorf("capture on %s: %w: %v", l.iface, ErrClosed, err)
	}
	l.packets++
	return Frame{Data: data, Time: ci.Timestamp.UnixNano(), WireLen: ci.Length, LinkType: LinkEthernet}, nil
}

// Close ends the capture.
func (l *Live) Close() error { return l.h.Close() }
