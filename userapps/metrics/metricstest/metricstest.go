// Package metricstest scrapes a Prometheus endpoint in tests and looks
// series up by name and labels.
package metricstest

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples are the series of one scrape, keyed by Key. Histograms are
// flattened as in the text format: NAME_bucket{le=...}, NAME_sum and
// NAME_count.
type Samples map[string]float64

// Key is a series' name with its labels in name order, as in the text
// format: flowlab_kernels{status="idle"}. labels are name, value pairs.
func Key(name string, labels ...string) string {
	if len(labels)%2 != 0 {
		panic("metricstest.Key: labels must be name, value pairs")
	}
	var pairs []string
	for i := 0; i < len(labels); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	if len(pairs) == 0 {
		return name
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// Get returns the value of a series and whether the scrape had it.
func (s Samples) Get(name string, labels ...string) (float64, bool) {
	v, ok := s[Key(name, labels...)]
	return v, ok
}

// Value returns the value of a series, failing tb when the scrape lacks it.
func (s Samples) Value(tb testing.TB, name string, labels ...string) float64 {
	tb.Helper()
	v, ok := s.Get(name, labels...)
	if !ok {
		tb.Fatalf("no series %s in the scrape; it has:\n%s", Key(name, labels...), s)
	}
	return v
}

// String lists the series, one a line, sorted.
func (s Samples) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %g\n", k, s[k])
	}
	return b.String()
}

// Scrape GETs url (with "Authorization: Bearer token" unless token is
// empty), as Prometheus does, and parses the text exposition.
func Scrape(tb testing.TB, url, token string) Samples {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("scrape %s: %s: %s", url, resp.Status, b)
	}
	s, err := Parse(resp.Body)
	if err != nil {
		tb.Fatalf("scrape %s: %v", url, err)
	}
	return s
}

// Parse reads the Prometheus text format.
func Parse(r io.Reader) (Samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	s := Samples{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName(), l.GetValue())
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				s[Key(name, labels...)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				s[Key(name, labels...)] = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				s[Key(name, labels...)] = m.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				s[Key(name+"_count", labels...)] = float64(h.GetSampleCount())
				s[Key(name+"_sum", labels...)] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					s[Key(name+"_bucket", append(labels, "le", formatLE(b.GetUpperBound()))...)] = float64(b.GetCumulativeCount())
				}
				s[Key(name+"_bucket", append(labels, "le", "+Inf")...)] = float64(h.GetSampleCount())
			case dto.MetricType_SUMMARY:
				sm := m.GetSummary()
				s[Key(name+"_count", labels...)] = float64(sm.GetSampleCount())
				s[Key(name+"_sum", labels...)] = sm.GetSampleSum()
			}
		}
	}
	return s, nil
}

func formatLE(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return fmt.Sprint(v)
}
