package datalake

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const testRanges = `# the networks of the demo company
network, name, site
10.0.0.0/8, corporate, any
10.0.0.0/24, servers, dc-1
10.1.0.0/16,workstations,hq
2001:db8::/32, lab v6, dc-1
198.18.1.7, a single host, "far, away"
`

func TestParseRanges(t *testing.T) {
	r, err := ParseRanges(strings.NewReader(testRanges))
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 5 || strings.Join(r.Columns(), ",") != "name,site" {
		t.Fatalf("%d networks, columns %v", r.Len(), r.Columns())
	}
	tests := []struct {
		ip, network, name, site string
	}{
		{"10.0.0.53", "10.0.0.0/24", "servers", "dc-1"}, // most specific wins
		{"10.1.2.3", "10.1.0.0/16", "workstations", "hq"},
		{"10.200.0.1", "10.0.0.0/8", "corporate", "any"},
		{"::ffff:10.1.0.9", "10.1.0.0/16", "workstations", "hq"}, // v4-mapped
		{"2001:db8::1", "2001:db8::/32", "lab v6", "dc-1"},
		{"198.18.1.7", "198.18.1.7/32", "a single host", "far, away"},
		{"198.18.1.8", "", "", ""},
		{"not an ip", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			row := r.Lookup(tt.ip)
			if tt.network == "" {
				if row != nil || r.Contains(tt.ip) || r.Get(tt.ip, "name") != "" {
					t.Fatalf("Lookup(%s) = %v, want nothing", tt.ip, row)
				}
				return
			}
			if row["network"] != tt.network || row["name"] != tt.name || row["site"] != tt.site || !r.Contains(tt.ip) || r.Get(tt.ip, "site") != tt.site {
				t.Errorf("Lookup(%s) = %v, want %s %s %s", tt.ip, row, tt.network, tt.name, tt.site)
			}
		})
	}
}

func TestParseRangesPlainList(t *testing.T) {
	r, err := ParseRanges(strings.NewReader("# our ranges\n10.0.0.0/8\n172.16.0.0/12\n\n192.168.0.0/16\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 || len(r.Columns()) != 0 || !r.Contains("172.20.1.1") || r.Contains("172.32.0.1") || r.Lookup("192.168.1.1")["network"] != "192.168.0.0/16" {
		t.Errorf("plain list: %d networks, columns %v, lookups wrong", r.Len(), r.Columns())
	}
	// A header-less list with attribute columns is refused: which is which?
	if _, err := ParseRanges(strings.NewReader("10.0.0.0/8,corp\n")); !errors.Is(err, ErrBadArgument) {
		t.Errorf("a list with columns but no header: %v", err)
	}
	// A plain list whose later line has two columns is refused.
	if _, err := ParseRanges(strings.NewReader("10.0.0.0/8\n10.1.0.0/16,x\n")); !errors.Is(err, ErrBadArgument) {
		t.Errorf("a ragged list: %v", err)
	}
}

func TestParseRangesErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"only comments", "# nothing\n", "empty"},
		{"no header", "10.0.0.0/8,corp\n", "not a header"},
		{"bad plain list", "10.0.0.0/8\nnope\n", `line 2: "nope" is neither`},
		{"bad network", "network,name\n10.0.0.0/33,x\n", `line 2: "10.0.0.0/33" is not a network`},
		{"bad address", "network,name\n# c\nfoo,x\n", `line 3: "foo" is neither`},
		{"short row", "network,name\n10.0.0.0/8\n", "wrong number of fields"},
		{"bad header", "network,my name\n", "not a plain name"},
		{"reserved header", "network,first_ip\n", "reserved"},
		{"control char", "network,name\n10.0.0.0/8,\"a\x01b\"\n", "control character"},
		{"zone", "network,name\nfe80::1%eth0,x\n", "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRanges(strings.NewReader(tt.in))
			if !errors.Is(err, ErrBadArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrBadArgument with %q", err, tt.want)
			}
		})
	}
	big := strings.NewReader("network,name\n" + strings.Repeat("10.0.0.0/8,"+strings.Repeat("x", 1000)+"\n", MaxRangesBytes/1000))
	if _, err := ParseRanges(big); !errors.Is(err, ErrBadArgument) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a huge file: %v", err)
	}
}

func TestIPNumberExpression(t *testing.T) {
	got := IPNumber("f.src_address")
	for _, want := range []string{"split_part(f.src_address, '.', 4)", "16777216", "regexp_full_match(f.src_address"} {
		if !strings.Contains(got, want) {
			t.Errorf("IPNumber = %s, want it to contain %s", got, want)
		}
	}
}

// FuzzParseRanges feeds arbitrary files to the parser: it must return a
// table or an ErrBadArgument, never panic, and every network it accepts
// must be found by Lookup of its own address.
func FuzzParseRanges(f *testing.F) {
	f.Add(testRanges)
	f.Add("network\n10.0.0.0/8\n")
	f.Add("network,a\n\"10.0.0.0/8\",\"x\"\"y\"\n")
	f.Add("\ufeffnetwork,country\n::/0,ZZ\n0.0.0.0/0,ZZ\n")
	if b, err := os.ReadFile("demo/context/networks.csv"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseRanges(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrBadArgument) {
				t.Fatalf("error %v does not wrap ErrBadArgument", err)
			}
			return
		}
		for _, e := range r.entries {
			if !r.Contains(e.prefix.Addr().String()) {
				t.Fatalf("network %s does not contain its own address", e.prefix)
			}
			if len(e.values) != len(r.columns) {
				t.Fatalf("entry %v has %d values for %d columns", e.prefix, len(e.values), len(r.columns))
			}
		}
	})
}
