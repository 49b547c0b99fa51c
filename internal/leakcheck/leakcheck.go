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

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs m's tests, then fails if a goroutine leaked.
func VerifyTestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreTopFunction("github.com/hashicorp/go-metrics.(*InmemSignal).run"),
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*Memberlist).probeNode"),
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*Memberlist).sendPingAndWaitForAck"),
	)
}
