package node_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
)

// sortedIdx returns node indexes ordered by address (leader first).
func sortedIdx(c *nodetest.LocalCluster) []int {
	idx := []int{0, 1, 2}
	slices.SortFunc(idx, func(a, b int) int {
		if c.Addr(a).Less(c.Addr(b)) {
			return -1
		}
		return 1
	})
	return idx
}

var clientID = wire.NodeAddress{Host: "127.77.0.1", Port: 0}

func TestLeaderIsLowestAndAllocatesOnFirstRequest(t *testing.T) {
	c := nodetest.Start(t, 3, nodetest.Options{})
	order := sortedIdx(c)
	leader, follower := c.Addr(order[0]), c.Addr(order[2])
	w := watch(t, follower, clientID)
	ts := w.waitFor(t, "first snapshot", 10*time.Second, func(wire.TopologySnapshot) bool { return true })
	if ts.Leader == nil || *ts.Leader != leader {
		t.Fatalf("leader %v, want lowest address %v", ts.Leader, leader)
	}
	if len(ts.ShardAllocations["counter"]) != 0 {
		t.Fatalf("allocations before any request: %v", ts.ShardAllocations)
	}
	before := ts.AllocationEpoch
	// A follower that does not know the shard asks the leader and answers
	// the client itself (the client has no connection to the leader).
	fc := dialClient(t, follower, wire.NodeAddress{Host: "127.77.0.9", Port: 0}, nil)
	loc := fc.locate(7)
	if loc.ShardID != 7 || loc.Node.IsZero() {
		t.Fatalf("location %+v", loc)
	}
	ts = w.waitFor(t, "allocation pushed", 10*time.Second, func(ts wire.TopologySnapshot) bool {
		_, ok := ts.ShardAllocations["counter"][7]
		return ok
	})
	if got := ts.ShardAllocations["counter"][7].Primary; got != loc.Node || ts.AllocationEpoch <= before {
		t.Fatalf("snapshot shard 7 -> %v at epoch %d, want %v after epoch %d", got, ts.AllocationEpoch, loc.Node, before)
	}
	// The leader spreads first allocations: 3 shards land on 3 nodes.
	lc := dialClient(t, leader, clientID, nil)
	owners := map[wire.NodeAddress]bool{loc.Node: true}
	for s := range 2 {
		owners[lc.locate(s).Node] = true
	}
	if len(owners) != 3 {
		t.Fatalf("3 first allocations on %d nodes, want 3", len(owners))
	}
	// Asking again returns the same owner (no re-allocation).
	if again := lc.locate(7); again.Node != loc.Node {
		t.Fatalf("shard 7 re-located to %v, was %v", again.Node, loc.Node)
	}
	checkUniqueOwners(t, w)
}

func TestTopologyPushOnChangeAndPeriodic(t *testing.T) {
	c := nodetest.Start(t, 3, nodetest.Options{})
	w := watch(t, c.Addr(1), clientID)
	w.waitFor(t, "first snapshot", 10*time.Second, func(wire.TopologySnapshot) bool { return true })
	// Periodic: with nothing changing, pushes keep coming (default 1 s).
	n0 := len(w.snapshots())
	deadline := time.Now().Add(15 * time.Second)
	for len(w.snapshots()) < n0+2 {
		if time.Now().After(deadline) {
			t.Fatalf("no periodic pushes: %d snapshots", len(w.snapshots()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// On change: an allocation is pushed to the subscriber.
	lc := dialClient(t, c.Addr(sortedIdx(c)[0]), clientID, nil)
	loc := lc.locate(3)
	w.waitFor(t, "pushed allocation", 10*time.Second, func(ts wire.TopologySnapshot) bool {
		a, ok := ts.ShardAllocations["counter"][3]
		return ok && a.Primary == loc.Node
	})
	// Unsubscribe stops the pushes to that ref.
	w.rc.send(wire.PathTopology, wire.UnsubscribeTopology{Subscriber: w.rc.ref(wire.PathTopologySub)})
	waitStat(t, "subscriber removed", func() bool { return c.Node(1).Stats().Subscribers == 0 })
}

func waitStat(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFollowerThenLeaderAbruptStop kills a follower, then the leader, and
// checks detection (unreachable, then down), re-allocation under newer
// epochs, a new leader that keeps allocating, and unique owners per epoch
// over every snapshot seen.
func TestFollowerThenLeaderAbruptStop(t *testing.T) {
	c := nodetest.Start(t, 3, nodetest.Options{})
	order := sortedIdx(c)
	L, F1, F2 := order[0], order[1], order[2]
	aL, aF1, aF2 := c.Addr(L), c.Addr(F1), c.Addr(F2)
	wF1 := watch(t, aF1, clientID)
	wL := watch(t, aL, wire.NodeAddress{Host: "127.77.0.2", Port: 0})
	lc := dialClient(t, aL, wire.NodeAddress{Host: "127.77.0.3", Port: 0}, nil)
	for s := range 16 {
		lc.locate(s)
	}
	ts := wF1.waitFor(t, "16 allocations", 10*time.Second, func(ts wire.TopologySnapshot) bool {
		return len(ts.ShardAllocations["counter"]) == 16 && ownsAny(ts, aF2)
	})
	epoch1 := ts.AllocationEpoch

	c.Kill(F2)
	wF1.waitFor(t, "follower unreachable", 20*time.Second, func(ts wire.TopologySnapshot) bool { return isUnreachable(ts, aF2) })
	ts = wF1.waitFor(t, "follower down and its shards moved", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return hasStatus(ts, aF2, wire.StatusDown) && !ownsAny(ts, aF2) && len(ts.ShardAllocations["counter"]) == 16
	})
	if ts.AllocationEpoch <= epoch1 {
		t.Fatalf("re-allocation at epoch %d, not above %d", ts.AllocationEpoch, epoch1)
	}
	epoch2 := ts.AllocationEpoch

	c.Kill(L)
	wF1.waitFor(t, "leader unreachable", 20*time.Second, func(ts wire.TopologySnapshot) bool { return isUnreachable(ts, aL) })
	ts = wF1.waitFor(t, "new leader with the old leader's shards", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return ts.Leader != nil && *ts.Leader == aF1 && hasStatus(ts, aL, wire.StatusDown) &&
			!ownsAny(ts, aL) && len(ts.ShardAllocations["counter"]) == 16
	})
	if ts.AllocationEpoch <= epoch2 {
		t.Fatalf("epoch %d after the leader died, not above %d", ts.AllocationEpoch, epoch2)
	}
	// The new leader keeps allocating.
	fc := dialClient(t, aF1, wire.NodeAddress{Host: "127.77.0.4", Port: 0}, nil)
	if loc := fc.locate(20); loc.Node != aF1 {
		t.Fatalf("shard 20 -> %v, want the survivor %v", loc.Node, aF1)
	}
	wF1.waitFor(t, "shard 20 allocated", 10*time.Second, func(ts wire.TopologySnapshot) bool {
		_, ok := ts.ShardAllocations["counter"][20]
		return ok
	})
	checkUniqueOwners(t, wF1, wL)
}

// TestRestartOnSameAddress kills the leader (lowest address), lets the
// others re-allocate, restarts it on the same addresses and checks that it
// answers from the cluster's table, not from an empty one.
func TestRestartOnSameAddress(t *testing.T) {
	c := nodetest.Start(t, 3, nodetest.Options{})
	order := sortedIdx(c)
	L, F1 := order[0], order[1]
	aL, aF1 := c.Addr(L), c.Addr(F1)
	wF1 := watch(t, aF1, clientID)
	lc := dialClient(t, aL, wire.NodeAddress{Host: "127.77.1.1", Port: 0}, nil)
	for s := range 12 {
		lc.locate(s)
	}
	c.Kill(L)
	ts := wF1.waitFor(t, "old leader's shards moved", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return hasStatus(ts, aL, wire.StatusDown) && !ownsAny(ts, aL) && len(ts.ShardAllocations["counter"]) == 12
	})
	want := ts.ShardAllocations["counter"]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Restart(ctx, L); err != nil {
		t.Fatal(err)
	}
	if c.Addr(L) != aL {
		t.Fatalf("restarted on %v, want %v", c.Addr(L), aL)
	}
	// Ask the restarted node at once: it must answer from the merged table.
	rc := dialClient(t, aL, wire.NodeAddress{Host: "127.77.1.2", Port: 0}, nil)
	for s := range 12 {
		loc := rc.locate(s)
		if loc.Node != want[s].Primary {
			// Allowed only if the cluster re-allocated since (a newer epoch).
			cur, _ := wF1.last()
			if cur.ShardAllocations["counter"][s].Primary != loc.Node {
				t.Fatalf("restarted node says shard %d -> %v, cluster table says %v", s, loc.Node, want[s].Primary)
			}
		}
	}
	wR := watch(t, aL, wire.NodeAddress{Host: "127.77.1.3", Port: 0})
	ts = wR.waitFor(t, "restarted node leads again", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return ts.Leader != nil && *ts.Leader == aL && len(ts.ShardAllocations["counter"]) == 12
	})
	if ts.AllocationEpoch < want2epoch(wF1) {
		t.Fatalf("restarted leader at epoch %d below the cluster's %d", ts.AllocationEpoch, want2epoch(wF1))
	}
	checkUniqueOwners(t, wF1, wR)
}

func want2epoch(w *watcher) int64 {
	var e int64
	for _, ts := range w.snapshots() {
		e = max(e, ts.AllocationEpoch)
	}
	return e
}

// TestPauseResumeDoesNotRollBack freezes the leader until the others have
// moved on, resumes it and checks that no node's table goes back.
func TestPauseResumeDoesNotRollBack(t *testing.T) {
	c := nodetest.Start(t, 3, nodetest.Options{})
	order := sortedIdx(c)
	L, F1 := order[0], order[1]
	aL, aF1 := c.Addr(L), c.Addr(F1)
	wF1 := watch(t, aF1, clientID)
	wL := watch(t, aL, wire.NodeAddress{Host: "127.77.2.1", Port: 0})
	lc := dialClient(t, aL, wire.NodeAddress{Host: "127.77.2.2", Port: 0}, nil)
	for s := range 12 {
		lc.locate(s)
	}
	wF1.waitFor(t, "12 allocations", 10*time.Second, func(ts wire.TopologySnapshot) bool {
		return len(ts.ShardAllocations["counter"]) == 12
	})
	c.Pause(L)
	ts := wF1.waitFor(t, "paused leader down, shards moved", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return hasStatus(ts, aL, wire.StatusDown) && !ownsAny(ts, aL) && ts.Leader != nil && *ts.Leader == aF1
	})
	moved := ts.AllocationEpoch
	c.Resume(L)
	ts = wF1.waitFor(t, "resumed node back up and leading", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return hasStatus(ts, aL, wire.StatusUp) && ts.Leader != nil && *ts.Leader == aL
	})
	if ts.AllocationEpoch < moved {
		t.Fatalf("epoch rolled back from %d to %d", moved, ts.AllocationEpoch)
	}
	// The resumed node's own view catches up with the cluster's epoch.
	wL2 := watch(t, aL, wire.NodeAddress{Host: "127.77.2.3", Port: 0})
	wL2.waitFor(t, "resumed node has the cluster's table", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		cur, _ := wF1.last()
		return ts.AllocationEpoch >= moved && ts.AllocationEpoch == cur.AllocationEpoch &&
			len(ts.ShardAllocations["counter"]) == len(cur.ShardAllocations["counter"])
	})
	// New allocations still work and owners stay unique per epoch.
	rc := dialClient(t, aL, wire.NodeAddress{Host: "127.77.2.4", Port: 0}, nil)
	rc.locate(25)
	if got := c.Node(L).Stats().Stalls; got == 0 {
		t.Errorf("resumed node reported no stall")
	}
	checkUniqueOwners(t, wF1, wL, wL2)
}

// TestLiveLeaderChangesKeepTheTerm: leader changes between live members (a
// lower address joining while the cluster forms, the leader leaving
// gracefully, then coming back) hand the allocation term over instead of
// starting new terms, without moving any shard that did not have to move.
// HandoverTimeout is long so that only a missing hand-over could start a
// new term.
func TestLiveLeaderChangesKeepTheTerm(t *testing.T) {
	c := nodetest.Start(t, 3, nodetest.Options{Configure: func(_ int, cfg *node.Config) {
		cfg.Membership.HandoverTimeout = time.Minute
	}})
	order := sortedIdx(c)
	L, F1, F2 := order[0], order[1], order[2]
	aL, aF1, aF2 := c.Addr(L), c.Addr(F1), c.Addr(F2)
	wF1 := watch(t, aF1, clientID)
	lc := dialClient(t, aL, wire.NodeAddress{Host: "127.77.3.1", Port: 0}, nil)
	for s := range 12 {
		lc.locate(s)
	}
	ts := wF1.waitFor(t, "12 allocations", 10*time.Second, func(ts wire.TopologySnapshot) bool {
		return len(ts.ShardAllocations["counter"]) == 12
	})
	if term := ts.AllocationEpoch >> 20; term != 1 {
		t.Fatalf("term %d after the cluster formed (epoch %d), want 1", term, ts.AllocationEpoch)
	}
	before := ts.ShardAllocations["counter"]

	// The leader leaves: F1 takes over in the same term and moves only the
	// leaver's shards.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Leave(ctx, L); err != nil {
		t.Fatal(err)
	}
	ts = wF1.waitFor(t, "F1 leads with the leaver's shards", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return ts.Leader != nil && *ts.Leader == aF1 && !ownsAny(ts, aL) && len(ts.ShardAllocations["counter"]) == 12
	})
	if term := ts.AllocationEpoch >> 20; term != 1 {
		t.Fatalf("term %d after the leader left (epoch %d), want 1", term, ts.AllocationEpoch)
	}
	for s, a := range before {
		if a.Primary != aL && ts.ShardAllocations["counter"][s].Primary != a.Primary {
			t.Errorf("shard %d moved from %v to %v; only the leaver's shards should move", s, a.Primary, ts.ShardAllocations["counter"][s].Primary)
		}
	}
	fc := dialClient(t, aF2, wire.NodeAddress{Host: "127.77.3.2", Port: 0}, nil)
	fc.locate(20) // the new leader allocates (asked through a follower)

	// The old leader comes back (lowest address again): F1 hands the term
	// back to the new incarnation.
	if err := c.Restart(ctx, L); err != nil {
		t.Fatal(err)
	}
	ts = wF1.waitFor(t, "the restarted node leads", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return ts.Leader != nil && *ts.Leader == aL && len(ts.ShardAllocations["counter"]) == 13
	})
	rc := dialClient(t, aL, wire.NodeAddress{Host: "127.77.3.3", Port: 0}, nil)
	rc.locate(21)
	ts = wF1.waitFor(t, "shard 21 allocated", 10*time.Second, func(ts wire.TopologySnapshot) bool {
		_, ok := ts.ShardAllocations["counter"][21]
		return ok
	})
	if term := ts.AllocationEpoch >> 20; term != 1 {
		t.Fatalf("term %d after the old leader came back (epoch %d), want 1", term, ts.AllocationEpoch)
	}
	var started, continued int64
	for _, nd := range c.Nodes() {
		s := nd.Stats()
		started += s.TermsStarted
		continued += s.TermsContinued
	}
	if started > 1 || continued == 0 {
		t.Errorf("running nodes started %d terms and continued %d, want at most 1 (the first) and at least 1", started, continued)
	}
	checkUniqueOwners(t, wF1)
}
