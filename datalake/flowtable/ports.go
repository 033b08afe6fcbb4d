package flowtable

// Likely server ports decide the originator when the first packet of a flow
// does not (see Options.ServerPorts and the package documentation).
//
// Zeek fills its likely_server_ports set from the ports its default
// analyzers register with Analyzer::register_for_ports (each
// scripts/base/protocols/<proto>/main.zeek declares a `const ports`). The
// defaults below are that set for the analyzers Zeek 7 loads by default,
// per transport:
//
//	TCP: 21 2811 (FTP); 22 (SSH); 23 (Telnet); 25 587 (SMTP); 53 (DNS);
//	     80 81 631 1080 3128 8000 8080 8888 (HTTP, SOCKS on 1080); 88 (Kerberos);
//	     110 (POP3); 135 (DCE-RPC); 139 445 (SMB); 143 (IMAP); 389 3268 (LDAP);
//	     443 563 585 614 636 989 990 992 993 995 5223 (SSL/TLS); 502 (Modbus);
//	     1883 (MQTT); 3306 (MySQL); 3389 (RDP); 5222 5269 (XMPP);
//	     5432 (PostgreSQL); 6379 (Redis); 6666-6669 (IRC); 20000 (DNP3)
//	UDP: 53 137 5353 5355 (DNS, NetBIOS-NS, mDNS, LLMNR); 67 68 (DHCP);
//	     88 (Kerberos); 123 (NTP); 161 162 (SNMP); 389 (CLDAP); 443 (QUIC);
//	     514 (syslog); 1812 (RADIUS); 2123 2152 (GTPv1); 3544 (Teredo);
//	     4789 (VXLAN); 5060 (SIP); 5072 (AYIYA); 6081 (Geneve); 20000 (DNP3)
var (
	defaultTCPServerPorts = []uint16{
		21, 2811, 22, 23, 25, 587, 53, 80, 81, 631, 1080, 3128, 8000, 8080, 8888, 88,
		110, 135, 139, 445, 143, 389, 3268, 443, 563, 585, 614, 636, 989, 990, 992,
		993, 995, 5223, 502, 1883, 3306, 3389, 5222, 5269, 5432, 6379,
		6666, 6667, 6668, 6669, 20000,
	}
	defaultUDPServerPorts = []uint16{
		53, 137, 5353, 5355, 67, 68, 88, 123, 161, 162, 389, 443, 514, 1812,
		2123, 2152, 3544, 4789, 5060, 5072, 6081, 20000,
	}
)

// DefaultServerPorts returns a new copy of the default likely server ports
// of TCP and UDP (see the list above).
func DefaultServerPorts() (tcp, udp []uint16) {
	return append([]uint16(nil), defaultTCPServerPorts...), append([]uint16(nil), defaultUDPServerPorts...)
}

// portSet is a bitmap of the 65536 ports.
type portSet [65536 / 64]uint64

func (s *portSet) add(p uint16)      { s[p>>6] |= 1 << (p & 63) }
func (s *portSet) has(p uint16) bool { return s[p>>6]&(1<<(p&63)) != 0 }
func newPortSet(ports []uint16) *portSet {
	s := new(portSet)
	for _, p := range ports {
		s.add(p)
	}
	return s
}
