package demo

import (
	"net/netip"
	"testing"
)

// The expected values are Zeek's Community ID baselines
// (shared/testdata/pcaps/oracles/zeek_community_id_*.pcap.out).
func TestCommunityID(t *testing.T) {
	tests := []struct {
		name         string
		src, dst     string
		proto        uint8
		sport, dport uint16
		want         string
	}{
		{"tcp", "128.232.110.120", "66.35.250.204", 6, 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{"tcp reversed", "66.35.250.204", "128.232.110.120", 6, 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{"udp", "192.168.1.52", "8.8.8.8", 17, 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{"icmp echo", "192.168.0.89", "192.168.0.1", 1, 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		{"icmp echo reply", "192.168.0.1", "192.168.0.89", 1, 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := communityID(netip.MustParseAddr(tt.src), netip.MustParseAddr(tt.dst), tt.proto, tt.sport, tt.dport)
			if got != tt.want {
				t.Errorf("communityID = %s, want %s", got, tt.want)
			}
		})
	}
}
