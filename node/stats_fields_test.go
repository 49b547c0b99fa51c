package node_test

import (
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/internal/statsguard"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// statsFieldTests names, for every field of node.Stats, the tests (or the
// helpers a Test* function calls) that read it after running the scenario
// the field counts, and check it moved as that scenario says. A new field
// without a test here fails TestEveryStatsFieldHasATest.
var statsFieldTests = map[string][]string{
	"ConnectionsAccepted": {"TestStatsTrafficCounters"},
	"ConnectionsOpen":     {"testMaxConnections"},
	"PeerDials":           {"TestStatsTrafficCounters", "TestStatsPeerDialFailures"},
	"PeerDialFailures":    {"TestStatsPeerDialFailures"},
	"FramesIn":            {"TestStatsTrafficCounters"},
	"FramesOut":           {"TestStatsTrafficCounters"},
	"BytesIn":             {"TestStatsTrafficCounters"},
	"BytesOut":            {"TestStatsTrafficCounters"},
	"HandshakesRefused":   {"testBadInput"},
	"FramingErrors":       {"testBadInput"},
	"DecodeFailures":      {"testUndecodable"},
	"BinaryConnections":   {"testBinaryNegotiation"},
	"UnknownTargets":      {"testUndecodable"},
	"UnexpectedMessages":  {"testBadInput"},
	"Forwarded":           {"TestEnvelopeForwardedOnceToOwner", "TestStatsTrafficCounters"},
	"ForwardedReceived":   {"TestStatsTrafficCounters"},
	"Redirected":          {"testPausedOwnerRunsNothingStale"},
	"HopLimited":          {"TestForwardAddsOneHop"},
	"HeldForMove":         {"TestNoForwardToALapsedOwner"},
	"HeldForTable":        {"TestForwardFromANewerTableWaits"},
	"ForwardsUnsent":      {"TestUnsentForwardsAreDeadLetters"},
	"PeerFull":            {"TestPeerLinkBound"},
	"DroppedReplies":      {"TestStatsTrafficCounters"},
	"DroppedPeerBytes":    {"TestUnsentForwardsAreDeadLetters"},
	"DroppedClientBytes":  {"testSlowReaderCut"},
	"SlowConsumersCut":    {"testSlowReaderCut"},
	"MailboxFull":         {"testFullMailboxPausesTheConnection"},
	"MailboxDropped":      {"TestLocalTellToFullMailboxCounted"},
	"MailboxHighWater":    {"TestParkedEnvelopesReleasedInOrderBeyondMailbox"},
	"MailboxWaits":        {"TestStatsMailboxWaitsForTheLease"},
	"MessagesProcessed":   {"TestStatsEntityPanics", "TestNonOwnerNeverRunsAnEntity"},
	"EntitiesStarted":     {"TestEnvelopeForwardedOnceToOwner", "testMaxEntityIDLen"},
	"EntitiesStopped":     {"testPausedOwnerRunsNothingStale"},
	"EntitiesLive":        {"testMaxEntities"},
	"EntityPanics":        {"TestStatsEntityPanics"},
	"Subscribers":         {"TestTopologyPushOnChangeAndPeriodic", "testSubscriberBound"},
	"SnapshotsPushed":     {"TestTopologyPushOnChangeAndPeriodic"},
	"SnapshotEncodes":     {"TestTopologyPushOnChangeAndPeriodic"},
	"SnapshotsDropped":    {"TestStatsSnapshotsDropped"},
	"LocationsAnswered":   {"TestStatsTrafficCounters"},
	"UnavailableAnswers":  {"TestMinorityAllocatesNothing"},
	"Allocations":         {"TestKilledOwnersShardsMoveOnlyAfterTheirLease"},
	"Reallocations":       {"TestKilledOwnersShardsMoveOnlyAfterTheirLease"},
	"RequestsExpired":     {"TestPendingRequestsBound"},
	"RequestsRejected":    {"TestPendingRequestsBound", "testSubscriberBound"},
	"GossipRejected":      {"TestRogueNodeCannotJoin"},
	"ClusterRefused":      {"TestRogueNodeCannotJoin"},
	"Rejoins":             {"TestPartitionHeals"},
	"Renewals":            {"TestStatsTrafficCounters", "TestStatsMailboxWaitsForTheLease"},
	"RenewFailures":       {"TestMinorityAllocatesNothing"},
	"LeaseRegained":       {"TestStatsMailboxWaitsForTheLease", "TestMinorityAllocatesNothing"},
	"Stalls":              {"testPausedOwnerRunsNothingStale"},
	"Suspends":            {"TestStatsSuspendDetected"},
	"AllocationEpoch":     {"TestAllocatesOnFirstRequestAndSpreads"},
	"LeaderChanges":       {"TestStatsTrafficCounters"},
	"LeaderTerms":         {"TestStatsTrafficCounters"},
	"MaxTickGap":          {"TestStatsTrafficCounters", "testPausedOwnerRunsNothingStale"},
	"DeadLetters":         {"TestGracefulLeaveLosesNothing", "TestNoForwardToALapsedOwner"},
	"DeadLettersByReason": {"TestForwardAddsOneHop", "TestPendingRequestsBound", "testMaxEntityIDLen", "TestUndeliverableNamesTheReason"},
	"UndeliverableSent":   {"TestUndeliverableNamesTheReason"},
	"MaxHealthScore":      {"TestStatsHealthScoreRisesAlone"},
	"ConnectionsRefused":  {"testMaxConnections"},
	"FrameTimeouts":       {"testFrameTimeout"},
	"InboundBudgetCuts":   {"testInboundBudget"},
	"InboundBuffered":     {"testInboundBudget"},
}

// TestEveryStatsFieldHasATest fails when a field of node.Stats has no entry
// in statsFieldTests, or a listed function is not in this package's test
// files or does not read the field (see internal/statsguard).
func TestEveryStatsFieldHasATest(t *testing.T) {
	statsguard.Check(t, ".", reflect.TypeFor[node.Stats](), statsFieldTests)
}

// TestStatsTrafficCounters runs a client's traffic through a 3-node
// cluster and checks the counters of connections, frames, bytes,
// locations, forwards, leadership and renewals moved by what it did.
func TestStatsTrafficCounters(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	c := nodetest.Start(t, 3, nodetest.Options{})
	order := sortedIdx(c)
	leader := c.Node(order[0])
	// Start-up: every node saw a leader (followers too: raft's leader
	// observations), renewed its lease and ran housekeeping ticks; the
	// leader began a term.
	for _, i := range order {
		n := c.Node(i)
		poll.Until(t, "a leader change, a renewal and a tick gap counted", func() bool {
			st := n.Stats()
			return st.LeaderChanges >= 1 && st.Renewals >= 1 && st.MaxTickGap > 0
		})
	}
	poll.Until(t, "the leader's term counted", func() bool { return leader.Stats().LeaderTerms >= 1 })

	l0 := leader.Stats()
	lc := dialClient(t, c.Addr(order[0]), wire.NodeAddress{Host: "127.66.9.1", Port: 0}, nil)
	poll.Until(t, "connection accepted", func() bool { return leader.Stats().ConnectionsAccepted == l0.ConnectionsAccepted+1 })
	// The handshake and one location query in, their answers out.
	const id = "stats-1"
	loc := lc.locate(ring.Shard(id, workload.DefaultShards))
	poll.Until(t, "location answered", func() bool { return leader.Stats().LocationsAnswered == l0.LocationsAnswered+1 })
	l1 := leader.Stats()
	if l1.FramesIn < l0.FramesIn+2 || l1.FramesOut < l0.FramesOut+2 {
		t.Fatalf("frames in %d -> %d, out %d -> %d; want both up by the handshake and the query at least",
			l0.FramesIn, l1.FramesIn, l0.FramesOut, l1.FramesOut)
	}
	if l1.BytesIn <= l0.BytesIn || l1.BytesOut <= l0.BytesOut {
		t.Fatalf("bytes in %d -> %d, out %d -> %d; want both up", l0.BytesIn, l1.BytesIn, l0.BytesOut, l1.BytesOut)
	}
	// What a link queued stays counted once the link is closed (its counts
	// move to the node's when it goes).
	_ = lc.c.Close()
	poll.Until(t, "connection closed", func() bool { return leader.Stats().ConnectionsOpen == l1.ConnectionsOpen-1 })
	if l2 := leader.Stats(); l2.FramesOut < l1.FramesOut || l2.BytesOut < l1.BytesOut {
		t.Fatalf("after the connection closed: frames out %d -> %d, bytes out %d -> %d; want neither down",
			l1.FramesOut, l2.FramesOut, l1.BytesOut, l2.BytesOut)
	}

	// Four envelopes sent to a node that does not own the shard: it dials
	// the owner and forwards them; the owner counts them received.
	var other int
	for _, i := range order {
		if c.Addr(i) != loc.Node {
			other = i
			break
		}
	}
	owner := nodeAt(c, loc.Node)
	o0, r0 := c.Node(other).Stats(), owner.Stats()
	oc := dialClient(t, c.Addr(other), wire.NodeAddress{Host: "127.66.9.2", Port: 0}, nil)
	for range 4 {
		oc.send(wire.PathRegionPrefix+"counter", wire.ShardEnvelope{EntityID: id, Message: workload.Increment{Amount: 1}})
	}
	poll.Until(t, "four forwarded", func() bool { return c.Node(other).Stats().Forwarded == o0.Forwarded+4 })
	poll.Until(t, "four received as forwards", func() bool { return owner.Stats().ForwardedReceived == r0.ForwardedReceived+4 })
	var dials int64
	for _, i := range order {
		dials += c.Node(i).Stats().PeerDials
	}
	if dials < 1 {
		t.Fatal("PeerDials 0 in the cluster after a forward between nodes")
	}

	// A message to a client with no connection to this node is dropped.
	d0 := leader.Stats().DroppedReplies
	gone := wire.Ref{Address: wire.Address{System: "live-client", Host: "127.66.9.3", Port: 1, Path: "/nobody"}}
	if err := leader.Tell(gone, workload.Increment{Amount: 1}); err == nil {
		t.Fatal("Tell to an unconnected client succeeded")
	}
	if d := leader.Stats().DroppedReplies; d != d0+1 {
		t.Fatalf("DroppedReplies %d -> %d, want +1", d0, d)
	}
}

// TestStatsSnapshotsDropped: a snapshot larger than MaxFrameSize is not
// sent; each attempt is counted in SnapshotsDropped.
func TestStatsSnapshotsDropped(t *testing.T) {
	c := nodetest.Start(t, 1, nodetest.Options{Configure: func(_ int, cfg *node.Config) { cfg.MaxFrameSize = 1024 }})
	n := c.Node(0)
	rc := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.66.9.4", Port: 0}, nil)
	// Every shard allocated: the snapshot lists them all, over 1 KiB.
	for s := range workload.DefaultShards {
		rc.locate(s)
	}
	if st := n.Stats(); st.SnapshotsDropped != 0 {
		t.Fatalf("SnapshotsDropped %d before any subscriber", st.SnapshotsDropped)
	}
	rc.send(wire.PathTopology, wire.SubscribeTopology{ReplyTo: rc.ref(wire.PathTopologySub)})
	poll.Until(t, "snapshot dropped", func() bool { return n.Stats().SnapshotsDropped > 0 })
	if st := n.Stats(); st.SnapshotsPushed != 0 {
		t.Fatalf("SnapshotsPushed %d with every snapshot over MaxFrameSize", st.SnapshotsPushed)
	}
}

// TestStatsHealthScoreRisesAlone: in a 2-node cluster whose other node was
// killed, this node's probes fail with no third member to vouch for it
// (no nacks expected), so Lifeguard raises its own health score
// (memberlist's awareness): MaxHealthScore moves up.
func TestStatsHealthScoreRisesAlone(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	c := nodetest.Start(t, 2, nodetest.Options{})
	n := c.Node(0)
	// Usually 0 here; a starved box may have raised it already, but not to
	// memberlist's ceiling (8), so failed probes raise it further.
	before := n.Stats().MaxHealthScore
	c.Kill(1)
	poll.Until(t, "health score raised by failed probes", func() bool { return n.Stats().MaxHealthScore > before })
}
