package display

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

func TestChartGolden(t *testing.T) {
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	bar := BarChart("Outgoing connections per host", []string{"10.1.1.7", "10.1.1.8", "10.1.2.200", "198.19.1.4 <ext>"}, []float64{41, 37, 160, 12.5})
	bar.YLabel, bar.XLabel = "connections", "host"
	bar.Highlight = []string{"10.1.2.200"}
	bar.Threshold, bar.ThresholdLabel = 92.25, "mean + 3σ"
	line := LineChart("Connections per hour", []time.Time{base.Add(2 * time.Hour), base, base.Add(time.Hour)}, []float64{30, 10, 20})
	line.YLabel = "flows"
	tests := []struct {
		name   string
		chart  *Chart
		golden string
		text   string
	}{
		{"bar", bar, "testdata/bar.svg", "bar chart \"Outgoing connections per host\", 4 points\n10.1.1.7  41\n10.1.1.8  37\n10.1.2.200  160 *\n198.19.1.4 <ext>  12.5\nthreshold mean + 3σ 92.25"},
		{"line sorted by time", line, "testdata/line.svg", "line chart \"Connections per hour\", 3 points\n2026-11-23T10:00:00Z  10\n2026-11-23T11:00:00Z  20\n2026-11-23T12:00:00Z  30"},
		{"mismatch", BarChart("x", []string{"a"}, nil), "testdata/bar-mismatch.svg", `bar chart "x": BarChart: 1 labels but 0 values: pass one value per label`},
		{"empty", LineChart("nothing", nil, nil), "testdata/line-empty.svg", "line chart \"nothing\", 0 points"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := tt.chart.SVG()
			wellFormed(t, svg)
			flowlabtest.Golden(t, tt.golden, svg)
			if got := tt.chart.Text(); got != tt.text {
				t.Errorf("Text() = %q, want %q", got, tt.text)
			}
			b := Render(tt.chart)
			if b[MIMESVG] != svg || b[MIMEText] != tt.text {
				t.Errorf("Render gives %v", b)
			}
		})
	}
}

// wellFormed checks the SVG parses as XML with an svg root.
func wellFormed(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string
	}{
		{0, 160, "0 50 100 150 200"},
		{0, 1, "0 0.2 0.4 0.6 0.8 1"},
		{-3, 7, "-4 -2 0 2 4 6 8"},
		{5, 5, "5 5.2 5.4 5.6 5.8 6"},
	}
	for _, tt := range tests {
		var parts []string
		for _, v := range niceTicks(tt.lo, tt.hi, 5) {
			parts = append(parts, formatNumber(v))
		}
		if got := strings.Join(parts, " "); got != tt.want {
			t.Errorf("niceTicks(%v, %v) = %s, want %s", tt.lo, tt.hi, got, tt.want)
		}
	}
}
