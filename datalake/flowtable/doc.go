// Package flowtable turns decoded packets into Zeek-compatible
// bidirectional flow records (datalake.Flow), and optionally one
// datalake.Packet per packet. It knows nothing of capture formats or
// decoding libraries: a decoder (datalake/pcap for files, a live capture
// later) fills Packet values, and a pipeline is a thin loop:
//
//	table := flowtable.New(flowtable.Options{EmitFlow: writeFlow})
//	for {
//		frame, err := reader.Next()          // datalake/pcap
//		if err == io.EOF { break }
//		if err != nil { ... }                // names the file and offset
//		decoder.Decode(frame, &decoded)      // fills a flowtable.Frame
//		if err := table.Add(&decoded); err != nil { ... }
//	}
//	err := table.Flush()                     // flow_end_reason 4
//
// # Direction
//
// The originator is the sender of the first packet, with Zeek's exceptions
// (see ports.go for the likely server ports and their source):
//
//   - TCP, when the first packet is not a pure SYN (mid-stream, SYN-ACK,
//     ...): roles are flipped if the source port is a likely server port
//     and the destination port is not; if both are, only if the packet has
//     no SYN and the source port is below the destination port. A SYN-ACK
//     alone never flips when both ports are likely server ports (Zeek:
//     that "doesn't work for stealth scans").
//   - TCP, later: a pure SYN from the responder while the originator has
//     only sent a SYN-ACK (a SYN/SYN-ACK reversal, e.g. two interfaces
//     merged out of order) flips the roles and establishes the connection.
//   - UDP: flipped if the source port is a likely server port and the
//     destination port is not.
//
// A flip adds '^' to the history where it happened and sets
// direction_flipped; letters written before a later flip keep their case,
// as in Zeek.
//
// # State and history
//
// conn_state (S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH) and
// history (S h A a D d F f R r T t W w I i Q q ^) follow Zeek's TCP
// endpoint state machine (TCPSessionAdapter) and conn.zeek's conn_state:
// upper case for the originator, lower case for the responder; a, d, i, q
// at most once per side; s, h, f, r again when their sequence number
// differs from the last one of that kind; t and w at the 1st, 10th,
// 100th, ... occurrence. UDP history is D/d (a packet from that side);
// UDP conn_state is SF, S0, SHR or OTH; ICMP and other protocols are OTH
// with an empty history. Letters Zeek derives from reassembly and checksum
// checks (C c G g) are not produced: the table neither reassembles nor
// verifies checksums (see docs/ingest.md).
//
// # Lifetimes and records
//
// A flow ends after its idle timeout (TCP 5 min, UDP and ICMP 1 min), 5 s
// after an unanswered SYN (Zeek's tcp_attempt_delay), 5 s after a complete
// close or a RST (tcp_close_delay, tcp_reset_delay; late packets in those
// 5 s still count), when a new SYN starts a new connection on the same
// 5-tuple, on Flush, or on eviction when MaxFlows is reached. Time comes
// only from packet timestamps. A flow crossing a UTC hour boundary is cut
// into hour slices sharing flow_id: each slice has its own counters, the
// history and state so far, flow_end_reason 2 and timestamp = the boundary;
// the last slice has the real end reason and timestamp = its last packet.
// An optional active timeout cuts slices the same way.
//
// IPv4 and IPv6 fragments are attributed to the flow of their datagram's
// first fragment; see fragment.go for the rule.
//
// A Table is not safe for concurrent use; Stats, Len and the package
// functions are pure reads of it.
package flowtable
