// Package poll is how tests wait: for a condition to become true (Until,
// UntilWithin), or check that one stays false (Never, NeverUntil). It
// replaces sleep-then-assert in tests that must pass on a loaded box.
//
//	poll.Until(t, "entity started", func() bool { return n.Stats().EntitiesStarted > 0 })
//	poll.UntilWithin(t, 5*time.Minute, "restart", cond)
//	poll.NeverUntil(t, "no second query", done, func() bool { return queries() > 1 })
//	poll.Never(t, "no reconnect", 300*time.Millisecond, func() bool { return reconnects() > 0 })
//
// Invariants:
//
//   - Until fails only after Deadline (30 s; UntilWithin's d) of cond
//     staying false: a slow box makes a test slower, never red. It checks
//     cond first, so a condition already true costs no sleep.
//   - Never and NeverUntil cannot prove that nothing ever happens: they
//     observe cond for a bounded window, Never's stated by the caller,
//     NeverUntil's ended by an event (a channel the code under test
//     closes). On a slow box the window may see less than intended: such a
//     test may miss a bug (pass when it should fail), never fail when the
//     code is right. Prefer NeverUntil with an event that implies the
//     thing would have happened by then.
//
// Concurrency: the functions run cond on the calling goroutine, every
// Interval; cond must be safe to call concurrently with the code under test.
// No goroutines are started.
package poll
