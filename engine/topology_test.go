package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// Behaviour 2 and 7 (b), step by step on a client without connections: a
// push equal to the current snapshot rebuilds nothing; a changed push of
// the same epoch merges over the table (ShardLocations included); a newer
// epoch replaces it; lower epochs are fenced, snapshots and locations
// alike, until a long silence abandons the fenced epoch.
//
// Long: one client's snapshot history, step by step; each step starts from
// the table and counters the steps before it left.
func TestSnapshotApply(t *testing.T) {
	c, nc := fuzzClient(t)
	et := c.types["counter"]
	a := wire.NodeAddress{Host: "127.0.0.1", Port: 2}
	b := wire.NodeAddress{Host: "127.0.0.1", Port: 3}
	svcA := wire.ServiceEntry{Key: "svc", Node: a, Path: "/s"}
	svcB := wire.ServiceEntry{Key: "svc", Node: b, Path: "/s"}
	snap := func(epoch int64, allocs map[int]wire.NodeAddress, reg ...wire.ServiceEntry) *wire.TopologySnapshot {
		ts := &wire.TopologySnapshot{
			AllocationEpoch:  epoch,
			Leader:           &a,
			Members:          []wire.Member{{Address: b, Status: wire.StatusUp, ID: "b"}, {Address: a, Status: wire.StatusUp, ID: "a"}},
			ShardAllocations: map[string]map[int]wire.ShardAllocation{"counter": {}},
			Registry:         reg,
		}
		for s, n := range allocs {
			ts.ShardAllocations["counter"][s] = wire.ShardAllocation{Primary: n}
		}
		return ts
	}
	check := func(step string, want map[int]wire.NodeAddress) {
		t.Helper()
		r := et.table.Load()
		for s := range et.numShards {
			var got wire.NodeAddress
			if e, ok := r.Owner(s); ok {
				got = e.nc.addr
			}
			if got != want[s] {
				t.Errorf("%s: shard %d owner %v, want %v", step, s, got, want[s])
			}
		}
	}
	stats := func(step string, applied, unchanged, fenced, locFenced uint64, epoch int64) {
		t.Helper()
		st := c.Stats()
		if st.SnapshotsApplied != applied || st.SnapshotsUnchanged != unchanged || st.SnapshotsFenced != fenced ||
			st.LocationsFenced != locFenced || st.Epoch != epoch {
			t.Errorf("%s: applied %d unchanged %d fenced %d locations fenced %d epoch %d, want %d %d %d %d %d", step,
				st.SnapshotsApplied, st.SnapshotsUnchanged, st.SnapshotsFenced, st.LocationsFenced, st.Epoch,
				applied, unchanged, fenced, locFenced, epoch)
		}
	}

	c.onSnapshot(nc, snap(5, map[int]wire.NodeAddress{1: a}, svcB, svcA))
	select {
	case <-c.topo.first:
	default:
		t.Fatal("first snapshot not signalled")
	}
	check("first", map[int]wire.NodeAddress{1: a})
	stats("first", 1, 0, 0, 0, 5)
	if l := c.Lookup("svc"); len(l.Instances) != 2 || l.Instances[0].Node != a || l.Instances[1].Node != b ||
		l.Instances[0].Ref.String() != "casty://"+testSystem+"@127.0.0.1:2/s" {
		t.Fatalf("listing %+v", l)
	}
	if l := c.leaderConnLocked(); l == nil || l.addr != a {
		t.Fatalf("leader connection %v", l)
	}

	c.onLocation(nc, "counter", &wire.ShardLocation{ShardID: 2, Node: b})
	check("location", map[int]wire.NodeAddress{1: a, 2: b})

	tbl, cur, listings := et.table.Load(), c.snap.Load(), c.listings.Load()
	c.onSnapshot(nc, snap(5, map[int]wire.NodeAddress{1: a}, svcA, svcB))
	stats("equal push", 2, 1, 0, 0, 5)
	if et.table.Load() != tbl || c.snap.Load() != cur || c.listings.Load() != listings {
		t.Fatal("an equal push replaced the table, the snapshot or the listings")
	}
	check("equal push", map[int]wire.NodeAddress{1: a, 2: b})

	c.onSnapshot(nc, snap(5, map[int]wire.NodeAddress{1: a, 3: b}, svcA, svcB))
	check("same epoch, changed", map[int]wire.NodeAddress{1: a, 2: b, 3: b})
	if c.listings.Load() != listings {
		t.Fatal("listings rebuilt although the registry did not change")
	}

	c.onSnapshot(nc, snap(6, map[int]wire.NodeAddress{1: b}, svcA))
	check("newer epoch", map[int]wire.NodeAddress{1: b})
	stats("newer epoch", 4, 1, 0, 0, 6)
	if l := c.Lookup("svc"); len(l.Instances) != 1 || l.Instances[0].Node != a {
		t.Fatalf("listing after the registry changed: %+v", l)
	}

	// A member that is neither the primary nor the leader: its pushes
	// are liveness signals, never applied (its epoch is recorded).
	member := c.connLocked(b)
	c.onSnapshot(member, snap(6, map[int]wire.NodeAddress{1: a, 7: a}))
	check("member push", map[int]wire.NodeAddress{1: b})
	stats("member push", 4, 1, 0, 0, 6)
	if st := c.Stats(); st.SnapshotsReceived != 5 || member.epoch.Load() != 6 {
		t.Fatalf("member push: received %d, member epoch %d; want 5, 6", st.SnapshotsReceived, member.epoch.Load())
	}

	// A restarted node at epoch 4 (here the primary): its snapshot and
	// its locations are fenced.
	stale := nc
	c.onSnapshot(stale, snap(4, map[int]wire.NodeAddress{1: a, 7: a}))
	c.onLocation(stale, "counter", &wire.ShardLocation{ShardID: 9, Node: b})
	check("fenced", map[int]wire.NodeAddress{1: b})
	stats("fenced", 4, 1, 1, 1, 6)

	// Still fenced after 2*LivenessWindow without an applicable snapshot:
	// only a silence of 3*LivenessWindow abandons the fenced epoch.
	c.mu.Lock()
	c.topo.lastApplied = time.Now().Add(-2 * c.cfg.LivenessWindow)
	c.mu.Unlock()
	c.onSnapshot(stale, snap(4, map[int]wire.NodeAddress{1: a, 7: a}))
	check("fenced within 3*LivenessWindow", map[int]wire.NodeAddress{1: b})
	stats("fenced within 3*LivenessWindow", 4, 1, 2, 1, 6)

	// After 3*LivenessWindow without an applicable snapshot the fenced
	// epoch is abandoned (the whole cluster restarted).
	c.mu.Lock()
	c.topo.lastApplied = time.Now().Add(-3*c.cfg.LivenessWindow - time.Second)
	c.mu.Unlock()
	reset := snap(0, map[int]wire.NodeAddress{7: a})
	reset.ShardAllocations["other"] = map[int]wire.ShardAllocation{3: {Primary: b}, 20: {Primary: a}}
	c.onSnapshot(stale, reset)
	check("epoch reset", map[int]wire.NodeAddress{7: a})
	stats("epoch reset", 5, 1, 2, 1, 0)
	if st := c.Stats(); st.EpochResets != 1 {
		t.Fatalf("epoch resets %d, want 1", st.EpochResets)
	}

	// A type created later starts from the current snapshot; one whose
	// numShards the snapshot contradicts (it allocates shard 20) is
	// refused. The client is closing (no goroutines): open it just for
	// EntityRef, which dials nothing new here.
	c.closing.Store(false)
	_, err := c.EntityRef("other", 16)
	var sm *ShardsMismatchError
	if !errors.As(err, &sm) || sm.Have != 21 || !sm.AtLeast {
		c.closing.Store(true)
		t.Fatalf("EntityRef with 16 shards against a table allocating shard 20: %v", err)
	}
	ref, err := c.EntityRef("other", 32)
	c.closing.Store(true)
	if err != nil {
		t.Fatal(err)
	}
	et = ref.et
	check("new type", map[int]wire.NodeAddress{3: b, 20: a})
}
