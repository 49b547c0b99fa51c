package main

import (
	"runtime/metrics"
	"syscall"
	"time"
)

// cpuTime returns this process's user and system CPU time so far.
func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// schedLatencies reads the Go scheduler's histogram of the time goroutines
// spent runnable before they ran (runtime/metrics /sched/latencies:seconds,
// cumulative since the process started).
func schedLatencies() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// schedQuantiles returns the p50, p99 and p99.9 (seconds, each the upper
// bound of its bucket) and the count of the scheduling events between two
// readings of schedLatencies: how long a goroutine made runnable (by a
// channel, a lock, the network poller) waited for a processor in that time.
func schedQuantiles(before, after *metrics.Float64Histogram) (p50, p99, p999 float64, n uint64) {
	if before == nil || after == nil || len(before.Counts) != len(after.Counts) {
		return 0, 0, 0, 0
	}
	d := make([]uint64, len(after.Counts))
	for i := range d {
		d[i] = after.Counts[i] - before.Counts[i]
		n += d[i]
	}
	if n == 0 {
		return 0, 0, 0, 0
	}
	q := func(p float64) float64 {
		var acc uint64
		for i, c := range d {
			if acc += c; float64(acc) >= p*float64(n) {
				return after.Buckets[i+1]
			}
		}
		return after.Buckets[len(d)]
	}
	return q(0.5), q(0.99), q(0.999), n
}
