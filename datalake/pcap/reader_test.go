package pcap_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/pcap"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// corpus is the shared capture set copied into the repository.
const corpus = "../../testdata/pcaps"

// captures lists the capture files of the given corpus folders.
func captures(tb testing.TB, dirs ...string) []string {
	tb.Helper()
	var out []string
	for _, d := range dirs {
		m, err := filepath.Glob(filepath.Join(corpus, d, "*.pcap*"))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		tb.Fatalf("no captures in %v under %s", dirs, corpus)
	}
	return out
}

// readAll reads and decodes a whole capture, returning a one-line summary
// of what it saw and the error that stopped it (nil at a clean end).
func readAll(tb testing.TB, path string) (string, error) {
	tb.Helper()
	r, c, err := pcap.Open(path)
	if err != nil {
		return "open failed", err
	}
	defer c.Close()
	var d pcap.Decoder
	var fr flowtable.Frame
	layers := 0
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return summary(r, &d, layers), err
		}
		if d.Decode(f.LinkType, f.Data, f.WireLen, f.Time, &fr) {
			layers += fr.N
		}
	}
	if _, err := r.Next(); err != io.EOF {
		tb.Errorf("%s: Next after the end = %v, want io.EOF again", path, err)
	}
	return summary(r, &d, layers), nil
}

func summary(r *pcap.Reader, d *pcap.Decoder, layers int) string {
	s := d.Stats
	return fmt.Sprintf("%s packets=%d offset=%d ip=%d layers=%d nonip=%d arp=%d unknownlink=%d truncated=%d malformed=%d tunnels=%d tso=%d jumbo=%d",
		r.Format(), r.Packets(), r.Offset(), s.IP, layers, s.NonIP, s.ARP, s.UnknownLink, s.Truncated, s.Malformed, s.Tunnels, s.TSO, s.Jumbo)
}

// TestCorpusGolden reads every capture of the corpus and compares what the
// reader and decoder counted, and every error, with a golden file.
func TestCorpusGolden(t *testing.T) {
	var b strings.Builder
	for _, p := range captures(t, "good", "tcpstate", "communityid", "bad", "derived") {
		rel, _ := filepath.Rel(corpus, p)
		sum, err := readAll(t, p)
		fmt.Fprintf(&b, "%s: %s", rel, sum)
		if err != nil {
			var fe *pcap.FileError
			if !errors.As(err, &fe) {
				t.Errorf("%s: error %v is not a *pcap.FileError", rel, err)
			}
			fmt.Fprintf(&b, " error=%q", strings.ReplaceAll(err.Error(), corpus+"/", ""))
		}
		b.WriteString("\n")
	}
	golden(t, "testdata/corpus.golden", b.String())
}

// golden compares got with the golden file at path (go test -update
// rewrites it).
func golden(t *testing.T, path, got string) {
	t.Helper()
	flowlabtest.Golden(t, path, got)
}

// TestDamagedFiles checks the errors for each kind of damage: the sentinel,
// the file name, the offset where reading stopped, and that the packets
// before it were all returned.
func TestDamagedFiles(t *testing.T) {
	tests := []struct {
		file        string
		sentinel    error
		packets     uint64
		offset      int64
		errContains string
	}{
		{"derived/nmap-vsn.cut-mid-packet.pcap", pcap.ErrTruncated, 164, 9964, "byte offset 9964"},
		{"derived/tcp-handshake-nano.cut-mid-record-header.pcap", pcap.ErrTruncated, 0, 24, "byte offset 24"},
		{"derived/test301.cut-mid-block.pcapng", pcap.ErrTruncated, 143, 389484, "byte offset 389484"},
		{"derived/test_ethernet.cut-mid-file-header.pcap", pcap.ErrTruncated, 0, 0, "byte offset 0"},
		{"bad/gopacket__pcapgo_tests_le_test901.pcapng", pcap.ErrMalformed, 1, 480, "Unknown pcapng Version"},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			path := filepath.Join(corpus, tc.file)
			_, err := readAll(t, path)
			var fe *pcap.FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want a *pcap.FileError", err)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tc.sentinel)
			}
			if fe.File != path || fe.Packets != tc.packets || fe.Offset != tc.offset {
				t.Errorf("FileError{File:%q Packets:%d Offset:%d}, want {%q %d %d}", fe.File, fe.Packets, fe.Offset, path, tc.packets, tc.offset)
			}
			if !strings.Contains(err.Error(), tc.errContains) || !strings.Contains(err.Error(), path) {
				t.Errorf("message %q should name %q and contain %q", err, path, tc.errContains)
			}
		})
	}
}

// TestOffsetsMatchRecordBoundaries cuts a pcap file at every byte of its
// last two records and checks that the reader returns exactly the complete
// records and reports the boundary after the last of them.
func TestOffsetsMatchRecordBoundaries(t *testing.T) {
	full, err := os.ReadFile(filepath.Join(corpus, "good/gopacket__pcap_test_ethernet.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	// Record boundaries from the pcap layout: 24-byte header, then 16-byte
	// record headers followed by caplen bytes.
	bounds := []int64{24}
	for off := int64(24); off < int64(len(full)); {
		caplen := int64(full[off+8]) | int64(full[off+9])<<8 | int64(full[off+10])<<16 | int64(full[off+11])<<24
		off += 16 + caplen
		bounds = append(bounds, off)
	}
	for cut := bounds[len(bounds)-3]; cut <= int64(len(full)); cut++ {
		r, err := pcap.NewReader(bytes.NewReader(full[:cut]), "cut")
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for {
			if _, err = r.Next(); err != nil {
				break
			}
			n++
		}
		// The number of complete records in the cut file.
		var want uint64
		for _, b := range bounds[1:] {
			if b <= cut {
				want++
			}
		}
		if n != want || r.Offset() != bounds[want] {
			t.Errorf("cut at %d: %d packets, offset %d; want %d, %d", cut, n, r.Offset(), want, bounds[want])
		}
		atEnd := cut == bounds[want]
		if atEnd != (err == io.EOF) {
			t.Errorf("cut at %d: err = %v (clean end %v)", cut, err, atEnd)
		}
		if !atEnd && !errors.Is(err, pcap.ErrTruncated) {
			t.Errorf("cut at %d: err = %v, want ErrTruncated", cut, err)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	_, err := pcap.NewReader(strings.NewReader("this is not a capture file"), "notes.txt")
	if !errors.Is(err, pcap.ErrUnknownFormat) || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("err = %v, want ErrUnknownFormat naming the file", err)
	}
}
