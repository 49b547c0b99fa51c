package main

import (
	"math"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: nanoseconds from 1 ns to 5 minutes, 3 significant
// digits (about 220 KiB of counters per histogram).
const (
	histLowest  = 1
	histHighest = int64(5 * time.Minute)
	histDigits  = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// recorder collects latencies from many goroutines into a few lock-sharded
// HDR histograms, so that recording stays cheap next to an ask round trip
// (one uncontended mutex per record) while the progress reporter can take the
// last second's values out once per tick.
//
// Safe for concurrent use; not copyable; use newRecorder.
type recorder struct {
	shards []recShard
	total  *hdrhistogram.Histogram // owned by the goroutine that calls tick/final
}

type recShard struct {
	mu   sync.Mutex
	hist *hdrhistogram.Histogram // guarded by mu; values since the last tick
	_    [40]byte                // keep shards on separate cache lines
}

func newRecorder(shards int) *recorder {
	if shards < 1 {
		shards = 1
	}
	r := &recorder{shards: make([]recShard, shards), total: newHist()}
	for i := range r.shards {
		r.shards[i].hist = newHist()
	}
	return r
}

// record adds one latency, using shard slot (any int; callers pass a stable
// per-goroutine index). Values past the histogram's range are clamped to it,
// so no sample is dropped.
func (r *recorder) record(slot int, d time.Duration) {
	v := int64(d)
	if v < histLowest {
		v = histLowest
	} else if v > histHighest {
		v = histHighest
	}
	s := &r.shards[slot%len(r.shards)]
	s.mu.Lock()
	_ = s.hist.RecordValue(v) // cannot fail: v is within range
	s.mu.Unlock()
}

// tick moves every shard's values into the running total and returns a
// histogram of just those values (the last interval). Only one goroutine
// calls tick at a time.
func (r *recorder) tick() *hdrhistogram.Histogram {
	interval := newHist()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		interval.Merge(s.hist)
		s.hist.Reset()
		s.mu.Unlock()
	}
	r.total.Merge(interval)
	return interval
}

// final returns the histogram of everything recorded. Call it after every
// recording goroutine has stopped.
func (r *recorder) final() *hdrhistogram.Histogram {
	r.tick()
	return r.total
}

// quantileUS returns the q-th percentile (0-100) of h in microseconds, or 0
// for an empty histogram: the smallest recorded value (to the histogram's
// precision) with at least ceil(q/100 * count) values at or below it.
//
// hdrhistogram-go rounds that rank to the nearest instead
// (int(q/100*n + 0.5)), which on a few dozen samples can put the p99 of
// two histograms merged above the p99 of both. With the ceiling rank a
// merged percentile always lies between the inputs' (loadgen merge relies
// on it): counts at or below the larger input percentile add up to at
// least ceil(q/100*n1) + ceil(q/100*n2) >= ceil(q/100*(n1+n2)).
func quantileUS(h *hdrhistogram.Histogram, q float64) float64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	n := h.TotalCount()
	rank := math.Ceil(q/100*float64(n) - 1e-9) // 1e-9: 0.99*100 is 99.00000000000001 in floating point
	rank = min(max(rank, 1), float64(n))
	// ValueAtPercentile takes int(p/100*n + 0.5) as the rank: p below
	// gives exactly rank.
	return float64(h.ValueAtPercentile(100*(rank-0.25)/float64(n))) / 1e3
}
