// Package pcap reads capture files and decodes their frames for the flow
// table: the datalake's adapter for github.com/gopacket/gopacket.
//
// Reader reads pcap (microsecond and nanosecond, either byte order) and
// pcapng (several sections, several interfaces with mixed link types) with
// gopacket's pure-Go pcapgo readers, which read about 2.5 times faster than
// libpcap through cgo and need no C library. It knows the byte offset of
// every record, so a truncated or damaged file yields every packet before
// the damage and then a *FileError naming the file, the offset and the
// number of packets read.
//
// Decoder turns a frame into flowtable.Frame values without allocating:
// Ethernet (with 802.1Q/802.1ad tags), Linux cooked captures v1 and v2,
// BSD loopback (DLT_NULL, DLT_LOOP), raw IP (link types 101, 228, 229),
// IPv4 with fragments, IPv6 with extension headers and jumbograms, TCP,
// UDP, SCTP ports, ICMP, ICMPv6, and tunnels (GRE version 0 with IP or
// Ethernet inside, IP in IP) as inner layers. It is hand-written rather
// than built on gopacket's layer decoders for two reasons: speed (it is
// the inner loop of ingest) and rules gopacket does not have (an IP length
// field of 0 from TSO, LRO or BIG TCP takes the captured length; a TCP
// data offset below 5 is no TCP header). The tests decode every frame of
// the test corpus with gopacket's layers as well and compare.
package pcap
