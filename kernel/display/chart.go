package display

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Chart sizes, in SVG user units (pixels at 100% zoom).
const (
	DefaultChartWidth  = 720
	DefaultChartHeight = 360
	maxBarLabel        = 18 // characters of a category shown under its bar
)

// Chart is a bar chart or a line (timeline) chart, rendered on the kernel
// side as a self-contained SVG document: no script, no stylesheet and no
// font or library fetched from a CDN, so it shows the same in JupyterLab, in
// flowlab's notebook page, in a saved notebook opened offline and in a
// headless run's output. Its text/plain form is the data itself, one line
// per point, so terminals and tests read what the picture shows.
//
// Build one with BarChart or LineChart, set the optional fields, and make it
// a cell's last value or pass it to Show. A Chart is a plain value: it is
// not safe to modify while another goroutine renders it.
type Chart struct {
	// Title is drawn above the plot.
	Title string
	// XLabel and YLabel name the axes; empty draws no axis title.
	XLabel, YLabel string
	// Width and Height are the SVG's size; zero means DefaultChartWidth and
	// DefaultChartHeight.
	Width, Height int
	// Highlight names bars (by label) drawn in the accent colour, such as
	// the hosts a detector flagged.
	Highlight []string
	// Threshold, when not NaN, draws a dashed horizontal line at that value
	// (a 3-sigma limit, an alert threshold); ThresholdLabel names it.
	Threshold      float64
	ThresholdLabel string

	kind   string // "bar" or "line"
	labels []string
	times  []time.Time
	values []float64
	err    string
}

// BarChart returns a bar chart with one bar per label. labels and values
// must have the same length; a mismatch renders as an error message instead
// of a chart, so a cell shows what went wrong.
func BarChart(title string, labels []string, values []float64) *Chart {
	c := &Chart{Title: title, Threshold: math.NaN(), kind: "bar", labels: append([]string(nil), labels...), values: append([]float64(nil), values...)}
	if len(labels) != len(values) {
		c.err = fmt.Sprintf("BarChart: %d labels but %d values: pass one value per label", len(labels), len(values))
	}
	return c
}

// LineChart returns a line chart of values over times (a timeline), the
// points joined in time order. times and values must have the same length;
// a mismatch renders as an error message instead of a chart.
func LineChart(title string, times []time.Time, values []float64) *Chart {
	c := &Chart{Title: title, Threshold: math.NaN(), kind: "line", times: append([]time.Time(nil), times...), values: append([]float64(nil), values...)}
	if len(times) != len(values) {
		c.err = fmt.Sprintf("LineChart: %d times but %d values: pass one value per time", len(times), len(values))
	}
	// Order by time, keeping each value with its time.
	if c.err == "" {
		idx := make([]int, len(c.times))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return c.times[idx[a]].Before(c.times[idx[b]]) })
		ts, vs := make([]time.Time, len(idx)), make([]float64, len(idx))
		for i, j := range idx {
			ts[i], vs[i] = c.times[j], c.values[j]
		}
		c.times, c.values = ts, vs
	}
	return c
}

// MIMEBundle implements MIMEBundler: image/svg+xml and the data as text.
func (c *Chart) MIMEBundle() map[string]any {
	return map[string]any{MIMESVG: c.SVG(), MIMEText: c.Text()}
}

var _ MIMEBundler = (*Chart)(nil)

// Text is the chart's data as text: the title, then one line per bar
// ("label  value", flagged with " *" when highlighted) or per point ("time
// value"), then the threshold if any.
func (c *Chart) Text() string {
	var b strings.Builder
	kind := "bar chart"
	if c.kind == "line" {
		kind = "line chart"
	}
	fmt.Fprintf(&b, "%s %q", kind, c.Title)
	if c.err != "" {
		b.WriteString(": " + c.err)
		return b.String()
	}
	fmt.Fprintf(&b, ", %d points\n", len(c.values))
	hl := c.highlighted()
	for i, v := range c.values {
		if c.kind == "bar" {
			mark := ""
			if hl[c.labels[i]] {
				mark = " *"
			}
			fmt.Fprintf(&b, "%s  %s%s\n", c.labels[i], formatNumber(v), mark)
		} else {
			fmt.Fprintf(&b, "%s  %s\n", c.times[i].UTC().Format(time.RFC3339), formatNumber(v))
		}
	}
	if !math.IsNaN(c.Threshold) {
		fmt.Fprintf(&b, "threshold %s %s\n", c.ThresholdLabel, formatNumber(c.Threshold))
	}
	return strings.TrimRight(b.String(), "\n")
}

func (c *Chart) highlighted() map[string]bool {
	hl := make(map[string]bool, len(c.Highlight))
	for _, h := range c.Highlight {
		hl[h] = true
	}
	return hl
}

// Colours: one blue for data, one orange for highlights and thresholds
// (distinguishable with the common colour-vision deficiencies).
const (
	colData   = "#3b6ea8"
	colAccent = "#d9730d"
	colAxis   = "#555"
	colGrid   = "#e3e3e3"
)

// SVG renders the chart as a standalone SVG document. Output depends only on
// the chart's fields, so it is stable for golden tests.
func (c *Chart) SVG() string {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = DefaultChartWidth
	}
	if h <= 0 {
		h = DefaultChartHeight
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", w/2, esc(c.Title))
	if c.err != "" || len(c.values) == 0 {
		msg := c.err
		if msg == "" {
			msg = "no data"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n</svg>\n", w/2, h/2, colAccent, esc(msg))
		return b.String()
	}
	// The plot area, leaving room for tick labels and axis titles.
	left, right, top, bottom := 64.0, float64(w)-16, 32.0, float64(h)-40
	if c.kind == "bar" {
		bottom = float64(h) - 70 // rotated category labels
	}
	lo, hi := 0.0, 0.0
	for _, v := range c.values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if !math.IsNaN(c.Threshold) {
		lo, hi = math.Min(lo, c.Threshold), math.Max(hi, c.Threshold)
	}
	ticks := niceTicks(lo, hi, 5)
	lo, hi = ticks[0], ticks[len(ticks)-1]
	y := func(v float64) float64 { return bottom - (v-lo)/(hi-lo)*(bottom-top) }
	// Grid and y ticks.
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", f1(left), f1(y(t)), f1(right), f1(y(t)), colGrid)
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" fill="%s">%s</text>`+"\n", f1(left-6), f1(y(t)+4), colAxis, esc(formatNumber(t)))
	}
	if c.YLabel != "" {
		fmt.Fprintf(&b, `<text x="14" y="%s" text-anchor="middle" transform="rotate(-90 14 %s)" fill="%s">%s</text>`+"\n", f1((top+bottom)/2), f1((top+bottom)/2), colAxis, esc(c.YLabel))
	}
	if c.XLabel != "" {
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", f1((left+right)/2), h-6, colAxis, esc(c.XLabel))
	}
	switch c.kind {
	case "bar":
		c.bars(&b, left, right, bottom, y)
	case "line":
		c.line(&b, left, right, bottom, y)
	}
	// Axes on top of the data.
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", f1(left), f1(top), f1(left), f1(bottom), colAxis)
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", f1(left), f1(y(math.Max(lo, 0))), f1(right), f1(y(math.Max(lo, 0))), colAxis)
	if !math.IsNaN(c.Threshold) {
		ty := y(c.Threshold)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="6 4"/>`+"\n", f1(left), f1(ty), f1(right), f1(ty), colAccent)
		label := strings.TrimSpace(c.ThresholdLabel + " " + formatNumber(c.Threshold))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" fill="%s">%s</text>`+"\n", f1(right), f1(ty-4), colAccent, esc(label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func (c *Chart) bars(b *strings.Builder, left, right, bottom float64, y func(float64) float64) {
	hl := c.highlighted()
	slot := (right - left) / float64(len(c.values))
	bw := math.Max(1, slot*0.8)
	base := y(0)
	for i, v := range c.values {
		x := left + float64(i)*slot + (slot-bw)/2
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		top, height := y(v), base-y(v)
		if height < 0 {
			top, height = base, -height
		}
		fill := colData
		if hl[c.labels[i]] {
			fill = colAccent
		}
		fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>`+"\n",
			f1(x), f1(top), f1(bw), f1(height), fill, esc(c.labels[i]), esc(formatNumber(v)))
	}
	// Category labels, rotated, every label when they fit, else spaced out.
	step := max(1, int(math.Ceil(12/slot)))
	for i := 0; i < len(c.labels); i += step {
		x := left + (float64(i)+0.5)*slot
		label := c.labels[i]
		if r := []rune(label); len(r) > maxBarLabel {
			label = string(r[:maxBarLabel-1]) + "…"
		}
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end" transform="rotate(-45 %s %s)">%s</text>`+"\n",
			f1(x), f1(bottom+12), f1(x), f1(bottom+12), esc(label))
	}
}

func (c *Chart) line(b *strings.Builder, left, right, bottom float64, y func(float64) float64) {
	t0, t1 := c.times[0], c.times[len(c.times)-1]
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span == 0 {
			return (left + right) / 2
		}
		return left + t.Sub(t0).Seconds()/span*(right-left)
	}
	var pts []string
	for i, v := range c.values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		pts = append(pts, f1(x(c.times[i]))+","+f1(y(v)))
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), colData)
	if len(c.values) <= 100 {
		for i, v := range c.values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"><title>%s: %s</title></circle>`+"\n",
				f1(x(c.times[i])), f1(y(v)), colData, c.times[i].UTC().Format(time.RFC3339), esc(formatNumber(v)))
		}
	}
	// Time ticks: the first, the last and up to four between, labelled in
	// UTC with the shortest layout that tells them apart.
	layout := "15:04"
	if span > 36*3600 {
		layout = "01-02 15:04"
	}
	n := 5
	if span == 0 {
		n = 0
	}
	for i := 0; i <= n; i++ {
		t := t0.Add(time.Duration(float64(i) / float64(max(n, 1)) * span * float64(time.Second)))
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`+"\n", f1(x(t)), f1(bottom+16), colAxis, t.UTC().Format(layout))
	}
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	start := math.Floor(lo/step) * step
	out := []float64{start}
	for i := 1; len(out) < 2 || out[len(out)-1] < hi-step*1e-9; i++ {
		out = append(out, math.Round(start/step+float64(i))*step)
	}
	return out
}

// formatNumber writes v compactly: integers without a fraction, others with
// up to three significant decimals.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func esc(s string) string { return html.EscapeString(s) }
