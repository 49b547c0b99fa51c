package main

import (
	"math/rand/v2"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"testing"
)

// TestQuantileRank: the ceiling rank on 100 values 1..100 us (each the
// same as its recorded value, to the histogram's precision).
func TestQuantileRank(t *testing.T) {
	h := newHist()
	for v := int64(1); v <= 100; v++ {
		_ = h.RecordValue(v * 1000)
	}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {1, 1}, {50, 50}, {98.4, 99}, {99, 99}, {99.5, 100}, {100, 100}} {
		if got := quantileUS(h, tc.q); !h.ValuesAreEquivalent(int64(got*1e3), int64(tc.want*1e3)) {
			t.Errorf("p%v: got %v us, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantileUS(nil, 50); got != 0 {
		t.Errorf("nil histogram: got %v, want 0", got)
	}
}

// TestMergedQuantileBetween: for random small histograms, the percentile
// of the two merged lies between the two inputs' (what loadgen merge
// promises).
func TestMergedQuantileBetween(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		a, b, ab := newHist(), newHist(), newHist()
		for _, h := range []struct {
			h *hdrhistogram.Histogram
			n int
		}{{a, 1 + rnd.IntN(80)}, {b, 1 + rnd.IntN(80)}} {
			for range h.n {
				_ = h.h.RecordValue(1 + rnd.Int64N(int64(1e9)))
			}
		}
		ab.Merge(a)
		ab.Merge(b)
		for _, q := range []float64{50, 90, 99, 99.9} {
			qa, qb, qab := quantileUS(a, q), quantileUS(b, q), quantileUS(ab, q)
			if qab < min(qa, qb) || qab > max(qa, qb) {
				t.Fatalf("case %d p%v: merged %v not within [%v, %v] (counts %d, %d)", i, q, qab, min(qa, qb), max(qa, qb), a.TotalCount(), b.TotalCount())
			}
		}
	}
}
