package poll

import (
	"testing"
	"time"
)

const (
	// Deadline is how long Until waits before failing.
	Deadline = 30 * time.Second
	// Interval is the time between two calls of cond.
	Interval = 10 * time.Millisecond
)

// Until calls cond every Interval until it returns true; it fails tb
// (Fatalf, naming what) if cond is still false after Deadline.
func Until(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	UntilWithin(tb, Deadline, what, cond)
}

// UntilWithin is Until with a deadline d, for conditions that take
// longer than Deadline on a loaded box (a cluster restart).
func UntilWithin(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(Interval)
	}
}

// Never calls cond every Interval for window and fails tb (Fatalf) as
// soon as it returns true. It observes a bounded window only (see the
// package doc): window is the caller's statement of how long the thing
// would take to happen if the code were wrong.
func Never(tb testing.TB, what string, window time.Duration, cond func() bool) {
	tb.Helper()
	end := time.NewTimer(window)
	defer end.Stop()
	observe(tb, what, end.C, nil, cond)
}

// NeverUntil calls cond every Interval until done is closed (or receives)
// and fails tb (Fatalf) as soon as cond returns true; cond is checked once
// more after done. If done does not come within Deadline it fails too: the
// event that ends the observation never happened.
func NeverUntil[T any](tb testing.TB, what string, done <-chan T, cond func() bool) {
	tb.Helper()
	limit := time.NewTimer(Deadline)
	defer limit.Stop()
	observe(tb, what, done, limit.C, cond)
}

// observe checks cond every Interval until end; it fails tb if cond is
// true at any check (the last one after end) or if limit fires first.
func observe[T any](tb testing.TB, what string, end <-chan T, limit <-chan time.Time, cond func() bool) {
	tb.Helper()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		if cond() {
			tb.Fatalf("%s: happened", what)
		}
		select {
		case <-end:
			if cond() {
				tb.Fatalf("%s: happened", what)
			}
			return
		case <-limit:
			tb.Fatalf("%s: the event that ends the observation did not come within %v", what, Deadline)
		case <-tick.C:
		}
	}
}
