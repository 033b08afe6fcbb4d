//go:build linux

package pcap

import (
	"fmt"
	"net"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// Live captures frames from a network interface through an AF_PACKET
// socket (pcapgo's pure-Go EthernetHandle; no libpcap). Opening one needs
// CAP_NET_RAW. Next and Close may be called from different goroutines;
// Close makes a blocked Next return.
//
// On a loopback interface an AF_PACKET socket receives every packet twice,
// as it leaves and as it arrives; Live drops the outgoing copy in the
// kernel with a BPF prefix (as libpcap does on lo), so each packet counts
// once.
type Live struct {
	h        *pcapgo.EthernetHandle
	iface    string
	snaplen  int
	loopback bool
	packets  uint64
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
	l := &Live{h: h, iface: iface, snaplen: snaplen}
	if ifc, err := net.InterfaceByName(iface); err == nil && ifc.Flags&net.FlagLoopback != 0 {
		l.loopback = true
		if err := l.SetFilter(nil); err != nil {
			h.Close()
			return nil, err
		}
	}
	return l, nil
}

// SetFilter attaches a BPF program (from CompileFilter) to the socket: the
// kernel then passes only the frames it accepts. Nil removes the filter.
func (l *Live) SetFilter(prog []bpf.RawInstruction) error {
	if l.loopback {
		prog = dropOutgoing(prog, l.snaplen)
	}
	if err := l.h.SetBPF(prog); err != nil {
		return fmt.Errorf("capture on %s: attach filter: %w", l.iface, err)
	}
	return nil
}

// dropOutgoing prefixes prog with a test of the packet type that rejects
// outgoing packets; without prog, everything else is accepted.
func dropOutgoing(prog []bpf.RawInstruction, snaplen int) []bpf.RawInstruction {
	if snaplen <= 0 {
		snaplen = 262144
	}
	if len(prog) == 0 {
		prog = []bpf.RawInstruction{mustAssemble(bpf.RetConstant{Val: uint32(snaplen)})}
	}
	const packetOutgoing = 4 // PACKET_OUTGOING, linux/if_packet.h
	head := []bpf.RawInstruction{
		mustAssemble(bpf.LoadExtension{Num: bpf.ExtType}),
		mustAssemble(bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 0, SkipFalse: 1}),
		mustAssemble(bpf.RetConstant{Val: 0}),
	}
	return append(head, prog...)
}

func mustAssemble(i bpf.Instruction) bpf.RawInstruction {
	r, err := i.Assemble()
	if err != nil {
		panic(err)
	}
	return r
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
