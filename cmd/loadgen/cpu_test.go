package main

import (
	"runtime/metrics"
	"testing"
)

// TestSchedQuantiles: the quantiles are those of the events between the two
// readings (the counts before are subtracted), each the upper bound of its
// bucket; no event, or readings that do not match, give zeros.
func TestSchedQuantiles(t *testing.T) {
	buckets := []float64{0, 1e-6, 1e-5, 1e-4, 1e-3}
	before := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{500, 0, 0, 7}}
	// Since before: 900 events under 1 µs, 95 under 10 µs, 4 under 100 µs, 1 under 1 ms.
	after := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{1400, 95, 4, 8}}
	p50, p99, p999, n := schedQuantiles(before, after)
	if n != 1000 || p50 != 1e-6 || p99 != 1e-5 || p999 != 1e-4 {
		t.Errorf("got p50 %g p99 %g p99.9 %g n %d, want 1e-06 1e-05 0.0001 1000", p50, p99, p999, n)
	}
	if _, _, _, n := schedQuantiles(after, after); n != 0 {
		t.Errorf("no event between the readings: n %d", n)
	}
	if _, _, _, n := schedQuantiles(nil, after); n != 0 {
		t.Errorf("no reading before: n %d", n)
	}
	if h := schedLatencies(); h == nil || len(h.Buckets) != len(h.Counts)+1 {
		t.Errorf("schedLatencies: %v", h)
	}
}
