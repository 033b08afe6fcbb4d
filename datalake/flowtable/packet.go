package flowtable

import "net/netip"

// MaxLayers is the deepest encapsulation a Frame holds: the outer IP layer
// and up to three tunnels inside it (GRE in GRE in GRE, IP in IP, VXLAN).
// Deeper layers are not decoded; the decoder counts them.
const MaxLayers = 4

// IP protocol numbers the table treats specially.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoGRE    = 47
	ProtoICMPv6 = 58
)

// Packet is one IP layer of a captured frame, decoded: what the flow table
// needs and nothing that ties it to a decoding library. A decoder fills it
// without allocating; Payload points into the frame and is only valid
// during Table.Add.
//
// Lengths follow the IP header: IPLen is the IP header plus payload as the
// header says (total length, IPv6 payload length + 40, or the jumbo payload
// length), or the captured length from the IP header on when the length
// field is 0 (TSO, LRO, BIG TCP). PayloadLen is the L4 payload length
// derived from IPLen, so it is the length on the wire even when the capture
// was cut by a snap length.
type Packet struct {
	// Time is the capture timestamp in nanoseconds since the Unix epoch.
	Time int64
	// Src and Dst are the IP addresses (IPv4 addresses are 4-byte, never
	// IPv4-mapped IPv6).
	Src, Dst netip.Addr
	// Proto is the IP protocol of the transport (after IPv6 extension
	// headers).
	Proto uint8
	// TTL is the IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// SrcPort and DstPort are the TCP/UDP/SCTP ports; 0 otherwise and in
	// non-first fragments.
	SrcPort, DstPort uint16
	// ICMPType and ICMPCode are set for ICMP and ICMPv6 (HasICMP true).
	ICMPType, ICMPCode uint8
	// HasICMP says ICMPType and ICMPCode were decoded.
	HasICMP bool
	// HasPorts says SrcPort and DstPort were decoded (false for non-first
	// fragments and transport headers cut before the ports).
	HasPorts bool

	// TCPFlags are the 8 flag bits of the TCP header (datalake.FlagFIN ...).
	TCPFlags uint8
	// Seq, Ack and Window are the TCP header fields.
	Seq, Ack uint32
	// Window is the raw (unscaled) TCP window.
	Window uint16
	// HasTCP says the TCP fields above were decoded (the header fit in the
	// capture).
	HasTCP bool

	// IPLen is the IP-level length (header + payload), see above.
	IPLen uint32
	// PayloadLen is the L4 payload length.
	PayloadLen uint32
	// WireLen and CapLen are the frame's original and captured lengths.
	WireLen, CapLen uint32

	// Fragment fields: Fragment is true for any IP fragment (offset > 0 or
	// more-fragments set); FragOffset is in bytes; FragID is the IPv4
	// identification or IPv6 fragment identification.
	Fragment   bool
	MoreFrags  bool
	FragOffset uint32
	FragID     uint32
	// FragLen is the length of the fragment's data (the IP payload after
	// the fragment header), used to tell when a datagram is complete.
	FragLen uint32

	// VLANs counts the 802.1Q/802.1ad tags of the frame (outermost first
	// in VLANID, the next in InnerVLANID).
	VLANs       uint8
	VLANID      uint16
	InnerVLANID uint16
	// HasMAC says SrcMAC and DstMAC hold the Ethernet addresses of the
	// layer's own Ethernet header.
	HasMAC         bool
	SrcMAC, DstMAC [6]byte

	// Depth is the encapsulation depth: 0 for the outermost IP layer, 1
	// for an IP layer carried inside it (GRE, IP in IP, VXLAN), and so on.
	Depth uint8

	// Payload is the captured L4 payload (may be shorter than PayloadLen).
	Payload []byte
}

// Frame is one captured frame decoded into its IP layers, outermost first.
// The flow table attributes Layers[i] (i > 0) to a flow whose
// tunnel_parent is the flow of Layers[i-1]. A frame with N == 0 carried no
// IP (the decoder counted it); Table.Add ignores it.
type Frame struct {
	Layers [MaxLayers]Packet
	N      int
}

// Reset empties the frame for reuse.
func (f *Frame) Reset() { f.N = 0 }
