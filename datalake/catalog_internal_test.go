package datalake

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDatasetsStatsNoDataFile: listing the datasets reads folders only;
// Describe stats every data file (the trace would catch a listing that
// went back to statting them).
func TestDatasetsStatsNoDataFile(t *testing.T) {
	l := newTestLake(t)
	hourFiles(t, l, "/tetration/flows", testNow.Truncate(3600e9), 3)
	touch(t, l, "appdata/lab/dt=2026-01-02/hr=11/part-0.json")
	touch(t, l, "appdata/lab/dt=2026-01-02/hr=12/part-0.json")
	var stats []string
	l.traceStat = func(rel string) { stats = append(stats, rel) }
	ds, err := l.Datasets()
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 0 {
		t.Errorf("Datasets statted %d data files, want none: %v", len(stats), stats)
	}
	if len(ds) != 2 || ds[0].Path != "/appdata/lab" || ds[0].Hours != 2 || ds[1].Hours != 3 ||
		ds[0].Oldest != "202601021100" || ds[0].Newest != "202601021200" || len(ds[0].Formats) != 1 || ds[0].Formats[0] != JSON {
		t.Errorf("Datasets = %+v", ds)
	}
	info, err := l.Describe(t.Context(), "/appdata/lab")
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 2 {
		t.Errorf("Describe statted %v, want the 2 data files", stats)
	}
	if info.Bytes != 2 || info.Files != 2 {
		t.Errorf("Describe: %d files, %d bytes, want 2 and 2", info.Files, info.Bytes)
	}
}

func TestCutCell(t *testing.T) {
	long := strings.Repeat("a", 1500)
	// "b" then 2-byte runes: byte MaxPreviewCell falls inside a rune.
	odd := "b" + strings.Repeat("é", 700)
	tests := []struct {
		name   string
		in     any
		prefix string // what the cut value starts with
		whole  bool   // returned unchanged
	}{
		{"short", "abc", "abc", true},
		{"exactly the limit", long[:MaxPreviewCell], long[:MaxPreviewCell], true},
		{"long", long, long[:MaxPreviewCell] + "… [cut: 500 more bytes]", false},
		{"rune boundary", odd, odd[:MaxPreviewCell-1] + "… [cut: 402 more bytes]", false},
		{"number", int64(7), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cutCell(tt.in)
			if tt.whole {
				if got != tt.in {
					t.Fatalf("cutCell changed %v to %v", tt.in, got)
				}
				return
			}
			s, ok := got.(string)
			if !ok || s != tt.prefix {
				t.Fatalf("cutCell = %.80q…, want %.80q…", got, tt.prefix)
			}
			if !utf8.ValidString(s) {
				t.Fatal("cut inside a character")
			}
		})
	}
	nested := cutCell([]any{long, map[string]any{"k": long}, make([]byte, 3000)}).([]any)
	if s := nested[0].(string); len(s) > MaxPreviewCell+40 {
		t.Errorf("list element not cut: %d bytes", len(s))
	}
	if s := nested[1].(map[string]any)["k"].(string); len(s) > MaxPreviewCell+40 {
		t.Errorf("map value not cut: %d bytes", len(s))
	}
	if b := nested[2].([]byte); len(b) != MaxPreviewCell {
		t.Errorf("bytes cut to %d, want %d", len(b), MaxPreviewCell)
	}
}
