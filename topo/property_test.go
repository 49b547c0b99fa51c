package topo

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// randomSnapshot returns a snapshot over nodes nodes (more than
// linearLookupMax exercises the hashed node set) with a few shard types.
func randomSnapshot(rng *rand.Rand, nodes int) *wire.TopologySnapshot {
	addrs := make([]wire.NodeAddress, nodes)
	for i := range addrs {
		addrs[i] = wire.NodeAddress{Host: fmt.Sprintf("10.0.%d.%d", rng.IntN(3), rng.IntN(200)), Port: 25520 + rng.IntN(4)}
	}
	ts := &wire.TopologySnapshot{AllocationEpoch: rng.Int64N(1000), ShardAllocations: map[string]map[int]wire.ShardAllocation{}}
	for _, a := range addrs {
		ts.Members = append(ts.Members, wire.Member{Address: a, Status: wire.MemberStatus(1 + rng.IntN(5)), ID: a.String()})
		if rng.IntN(4) == 0 {
			ts.Unreachable = append(ts.Unreachable, a)
		}
		ts.Registry = append(ts.Registry, wire.ServiceEntry{Key: fmt.Sprintf("svc-%d", rng.IntN(3)), Node: a, Path: "/s"})
	}
	ts.Leader = &addrs[rng.IntN(nodes)]
	for typ := range rng.IntN(4) {
		shards := map[int]wire.ShardAllocation{}
		for range rng.IntN(300) {
			a := wire.ShardAllocation{Primary: addrs[rng.IntN(nodes)]}
			if rng.IntN(5) == 0 {
				a.Replicas = []wire.NodeAddress{addrs[rng.IntN(nodes)]}
			}
			shards[rng.IntN(500)] = a
		}
		ts.ShardAllocations[fmt.Sprintf("type-%d", typ)] = shards
	}
	return ts
}

func TestCompileProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 200 {
		nodes := 1 + rng.IntN(3*linearLookupMax)
		ts := randomSnapshot(rng, nodes)
		s := Compile(ts)
		for i := 1; i < len(s.Nodes()); i++ {
			if !s.Nodes()[i-1].Less(s.Nodes()[i]) {
				t.Fatalf("iter %d: Nodes not strictly sorted at %d: %v", iter, i, s.Nodes())
			}
		}
		if l, ok := s.Leader(); !ok || l != *ts.Leader {
			t.Fatalf("iter %d: Leader = %v, %v; want %v", iter, l, ok, *ts.Leader)
		}
		for _, a := range ts.Unreachable {
			if !s.IsUnreachable(a) {
				t.Fatalf("iter %d: IsUnreachable(%v) = false", iter, a)
			}
		}
		for typ, shards := range ts.ShardAllocations {
			tab := s.Table(typ)
			if tab.Allocated() != len(shards) {
				t.Fatalf("iter %d: %s Allocated = %d, want %d", iter, typ, tab.Allocated(), len(shards))
			}
			for sid := range tab.Len() + 2 {
				a, want := shards[sid]
				idx, ok := tab.Owner(sid)
				if ok != want || (ok && s.Node(idx) != a.Primary) {
					t.Fatalf("iter %d: %s Owner(%d) = %d, %v; want %v, %v", iter, typ, sid, idx, ok, a.Primary, want)
				}
				if ok && len(a.Replicas) > 0 && s.Node(tab.Replicas(sid)[0]) != a.Replicas[0] {
					t.Fatalf("iter %d: %s Replicas(%d) wrong", iter, typ, sid)
				}
			}
		}
		// Reordering every set does not change the result.
		rng.Shuffle(len(ts.Members), func(i, j int) { ts.Members[i], ts.Members[j] = ts.Members[j], ts.Members[i] })
		rng.Shuffle(len(ts.Registry), func(i, j int) { ts.Registry[i], ts.Registry[j] = ts.Registry[j], ts.Registry[i] })
		rng.Shuffle(len(ts.Unreachable), func(i, j int) { ts.Unreachable[i], ts.Unreachable[j] = ts.Unreachable[j], ts.Unreachable[i] })
		if !s.Equal(Compile(ts)) {
			t.Fatalf("iter %d: shuffled sets compile to a different snapshot", iter)
		}
	}
}
