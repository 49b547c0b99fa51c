package engine

import (
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/internal/statsguard"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// statsFieldTests names, for every field of Stats, the tests that read it
// after running the scenario the field counts, and check it moved as that
// scenario says. A new field without a test here fails
// TestEveryStatsFieldHasATest.
var statsFieldTests = map[string][]string{
	"TellsQueued":        {"TestStats"},
	"FramesWritten":      {"TestStats", "TestStatsWritesAndInbound"},
	"BytesWritten":       {"TestStats"},
	"Writes":             {"TestStatsWritesAndInbound"},
	"Buffered":           {"TestCacheMissBounds", "TestOnDropHeldMessages"},
	"Queued":             {"TestFlush"},
	"Drops":              {"TestDropsCounted", "TestOnDropQueuedFrames"},
	"AsksOK":             {"TestStats", "TestAskBehaviour"},
	"AsksTimedOut":       {"TestAskBehaviour"},
	"AsksFailed":         {"TestAskUndeliverable"},
	"LateReplies":        {"TestAskBehaviour"},
	"Undeliverable":      {"TestAskUndeliverable", "TestAskUnknownMessageType"},
	"Connects":           {"TestStats"},
	"Reconnects":         {"TestReconnectAfterRestart"},
	"BinaryConnects":     {"TestClusterBinary"},
	"HeadConnects":       {"TestClusterHeads"},
	"ConnectFailures":    {"TestReconnectAfterRestart", "TestAttachFailureCounted"},
	"Suspects":           {"TestSuspectPausedOwner"},
	"SuspectsCleared":    {"TestSuspectPausedOwner"},
	"SnapshotsReceived":  {"TestSnapshotApply"},
	"SnapshotsApplied":   {"TestSnapshotApply"},
	"SnapshotsUnchanged": {"TestSnapshotApply"},
	"SnapshotsFenced":    {"TestSnapshotApply", "TestEpochFencing"},
	"EpochResets":        {"TestSnapshotApply"},
	"Resubscribes":       {"TestLivenessResubscribe", "TestPrimaryLossResubscribes"},
	"LocationQueries":    {"TestStats"},
	"LocationTimeouts":   {"TestCacheMissOrderAndSingleQuery"},
	"LocationsApplied":   {"TestStats"},
	"LocationsFenced":    {"TestEpochFencing"},
	"UnavailableAnswers": {"TestShardUnavailableNoQuorum"},
	"WatchCoalesced":     {"TestLookupWatch"},
	"DecodeErrors":       {"TestStatsWritesAndInbound"},
	"UnknownTargets":     {"TestStatsWritesAndInbound"},
	"Epoch":              {"TestSnapshotApply", "TestStats"},
	"ConnEventsDropped":  {"TestConnEventsSlowCallback", "TestNodesAndConnEvents"},
}

// TestEveryStatsFieldHasATest fails when a field of Stats has no entry in
// statsFieldTests, or a listed function is not in this package's test files
// or does not read the field (see internal/statsguard).
func TestEveryStatsFieldHasATest(t *testing.T) {
	statsguard.Check(t, ".", reflect.TypeFor[Stats](), statsFieldTests)
}

// TestStatsWritesAndInbound: tells make the writer write (Writes, at most
// one per frame); messages from a node to a path the client does not serve
// count as UnknownTargets, and payloads that do not decode at the paths it
// does serve as DecodeErrors; neither closes the connection.
func TestStatsWritesAndInbound(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			cl := newFakeCluster(t, 1)
			c := dialFake(t, cl, func(cfg *Config) { cfg.Transport = tr })
			ref, _ := c.EntityRef("counter", 32)
			before := c.Stats()
			for range 5 {
				if err := ref.Tell("w", workload.Increment{Amount: 1}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "five increments delivered", func() bool { return cl.nodes[0].count("w") == 5 })
			waitFor(t, "frames counted", func() bool { return c.Stats().FramesWritten >= before.FramesWritten+5 })
			st := c.Stats()
			if w := st.Writes - before.Writes; w < 1 || w > st.FramesWritten-before.FramesWritten {
				t.Fatalf("Writes %d -> %d for %d frames: want at least 1, at most one per frame",
					before.Writes, st.Writes, st.FramesWritten-before.FramesWritten)
			}

			nd := cl.nodes[0]
			nd.mu.Lock()
			fc := nd.conns[0]
			nd.mu.Unlock()
			client := "casty://" + testSystem + "-client@127.0.0.1:0"
			raw := func(path, payload string) {
				t.Helper()
				f, start := wire.BeginFrame(nil, wire.FrameMessage)
				f = wire.AppendHeader(f, wire.Header{Target: client + path, Sender: "casty://" + testSystem + "@" + nd.addr.String() + "/", TypeHint: "x"})
				f = append(f, payload...)
				f, err := wire.EndFrame(f, start, 0)
				if err != nil {
					t.Fatal(err)
				}
				fc.writeRaw(f)
			}
			in := c.Stats()
			raw("/nobody-here", `{"_type": "x"}`)
			waitFor(t, "unknown target counted", func() bool { return c.Stats().UnknownTargets == in.UnknownTargets+1 })
			raw(wire.PathTopologySub, `{"_type": `)
			raw(wire.PathProxyPrefix+"counter", `not json`)
			waitFor(t, "two decode errors counted", func() bool { return c.Stats().DecodeErrors == in.DecodeErrors+2 })
			// The connection goes on: another tell still arrives.
			if err := ref.Tell("w", workload.Increment{Amount: 1}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a tell after the bad frames delivered", func() bool { return nd.count("w") == 6 })
			if r := c.Stats().Reconnects; r != in.Reconnects {
				t.Fatalf("Reconnects %d -> %d after bad payloads: the connection was closed", in.Reconnects, r)
			}
		})
	}
}
