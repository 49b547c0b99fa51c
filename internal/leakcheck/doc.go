// Package leakcheck runs a test binary under goleak with the process-wide
// goroutines of our dependencies ignored: the housekeeping goroutines of the
// ants pool that gnet v2 starts when its package is initialised, and the
// package-level metrics sink of hashicorp/go-metrics that memberlist uses.
// They live as long as the process and are not ours to stop. Also ignored:
// a memberlist probe still waiting for its ack timer (up to ProbeInterval
// times its health factor, over a second on a starved machine) when the
// run ends: memberlist's Shutdown does not wait for its probes (see
// node's doc, "Concurrency and lifecycle"), and the probe ends by itself.
// Any other goroutine left when the tests end fails the run.
package leakcheck
