package engine

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Ask latency buckets: fixed and exponential, bucket i counts round trips
// of at most askLatencyBase<<i, the last one everything longer.
const (
	askLatencyBase    = 10 * time.Microsecond
	askLatencyBuckets = 23 // bounds 10 us .. 41.9 s (10 us * 2^22)
)

// latencyHistogram counts durations in fixed exponential buckets: one
// atomic add per bucket hit and one for the sum, no lock, no allocation.
// Readers load each bucket once; a read concurrent with observations may
// see a sum a few observations ahead of or behind the buckets (each count
// only grows). Safe for concurrent use; the zero value is ready.
type latencyHistogram struct {
	counts [askLatencyBuckets + 1]atomic.Uint64 // the last: above the largest bound
	sumNs  atomic.Int64
}

// latencyBucket returns the index of the bucket d falls in: the smallest
// i with d <= askLatencyBase<<i, or askLatencyBuckets above them all.
func latencyBucket(d time.Duration) int {
	if d <= askLatencyBase {
		return 0
	}
	i := bits.Len64(uint64((d - 1) / askLatencyBase))
	return min(i, askLatencyBuckets)
}

func (h *latencyHistogram) observe(d time.Duration) {
	h.counts[latencyBucket(d)].Add(1)
	h.sumNs.Add(int64(d))
}

// LatencyHistogram is a point-in-time copy of a latency histogram with
// fixed exponential buckets. A plain value: it may be copied and kept.
type LatencyHistogram struct {
	// Bounds are the buckets' inclusive upper bounds, ascending: 10 us,
	// 20 us, 40 us, ... 41.9 s (10 us times powers of two). Fixed: the
	// same for every client and every release.
	Bounds []time.Duration
	// Counts[i] is the number of observations in bucket i (not
	// cumulative): above Bounds[i-1] and at most Bounds[i]. It has one
	// more element than Bounds: the observations above the largest bound.
	Counts []uint64
	Count  uint64        // the sum of Counts
	Sum    time.Duration // the sum of the observations
}

func (h *latencyHistogram) snapshot() LatencyHistogram {
	s := LatencyHistogram{
		Bounds: make([]time.Duration, askLatencyBuckets),
		Counts: make([]uint64, askLatencyBuckets+1),
		Sum:    time.Duration(h.sumNs.Load()),
	}
	for i := range s.Bounds {
		s.Bounds[i] = askLatencyBase << i
	}
	for i := range s.Counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	return s
}

// AskLatency returns the histogram of the round trips of the asks that
// got a reply (Stats.AsksOK), from the call to Ask until its reply was
// taken. Asks that timed out or failed are counted in Stats, not here.
// Recording it costs each Ask two clock reads and two atomic adds, no
// lock. Safe for concurrent use.
func (c *Client) AskLatency() LatencyHistogram { return c.askLat.snapshot() }
