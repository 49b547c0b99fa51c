package topo

import (
	"fmt"
	"slices"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

var (
	n0 = wire.NodeAddress{Host: "127.0.0.1", Port: 25560}
	n1 = wire.NodeAddress{Host: "127.0.0.1", Port: 25561}
	n2 = wire.NodeAddress{Host: "127.0.0.1", Port: 25562}
	// A node that only appears in an allocation (stale, no longer a member);
	// "10.x" sorts before "127.x" as Python compares strings.
	stale = wire.NodeAddress{Host: "10.0.0.9", Port: 9}
)

// goldenLike is the shape of the captured 3-node snapshot
// (capture_json.jsonl): three up members, leader node-0, the node-stats
// service on every node, counter shard 3 on node-0; plus an unreachable
// node-2, a second shard type with replicas and a stale owner.
func goldenLike() *wire.TopologySnapshot {
	leader := n0
	return &wire.TopologySnapshot{
		Members: []wire.Member{
			{Address: n2, Status: wire.StatusUp, ID: "node-2"},
			{Address: n1, Status: wire.StatusUp, Roles: []string{"b", "a"}, ID: "node-1"},
			{Address: n0, Status: wire.StatusUp, Roles: []string{}, ID: "node-0"},
		},
		Leader: &leader,
		ShardAllocations: map[string]map[int]wire.ShardAllocation{
			"counter": {
				3:  {Primary: n0, Replicas: []wire.NodeAddress{}},
				0:  {Primary: n1},
				10: {Primary: stale},
			},
			"cart": {
				1: {Primary: n2, Replicas: []wire.NodeAddress{n1, n0}},
			},
		},
		AllocationEpoch: 10,
		Unreachable:     []wire.NodeAddress{n2},
		Registry: []wire.ServiceEntry{
			{Key: "node-stats", Node: n2, Path: "/stats"},
			{Key: "node-stats", Node: n1, Path: "/stats"},
			{Key: "node-stats", Node: n0, Path: "/stats"},
			{Key: "alpha", Node: n1, Path: "/a"},
		},
	}
}

func TestCompile(t *testing.T) {
	s := Compile(goldenLike())

	if got := s.Epoch(); got != 10 {
		t.Errorf("Epoch() = %d, want 10", got)
	}
	if got, ok := s.Leader(); !ok || got != n0 {
		t.Errorf("Leader() = %v, %v; want %v, true", got, ok, n0)
	}
	wantNodes := []wire.NodeAddress{stale, n0, n1, n2}
	if got := s.Nodes(); !slices.Equal(got, wantNodes) {
		t.Errorf("Nodes() = %v, want %v", got, wantNodes)
	}
	for i, a := range wantNodes {
		if got, ok := s.NodeIndex(a); !ok || got != i {
			t.Errorf("NodeIndex(%v) = %d, %v; want %d, true", a, got, ok, i)
		}
		if got := s.Node(int32(i)); got != a {
			t.Errorf("Node(%d) = %v, want %v", i, got, a)
		}
	}
	if _, ok := s.NodeIndex(wire.NodeAddress{Host: "nowhere", Port: 1}); ok {
		t.Error("NodeIndex(unknown) ok = true, want false")
	}
	if li, ok := s.LeaderIndex(); !ok || li != 1 {
		t.Errorf("LeaderIndex() = %d, %v; want 1, true", li, ok)
	}

	members := s.Members()
	if len(members) != 3 {
		t.Fatalf("len(Members()) = %d, want 3", len(members))
	}
	for i, want := range []wire.NodeAddress{n0, n1, n2} {
		if members[i].Address != want {
			t.Errorf("Members()[%d].Address = %v, want %v", i, members[i].Address, want)
		}
	}
	if got := members[1].Roles; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("node-1 roles = %v, want [a b]", got)
	}
	if got := s.MembersAt(n1); len(got) != 1 || got[0].ID != "node-1" {
		t.Errorf("MembersAt(n1) = %v, want node-1", got)
	}
	if got := s.MembersAt(stale); got != nil {
		t.Errorf("MembersAt(stale) = %v, want nil", got)
	}
	if !s.IsUp(n0) || s.IsUp(stale) {
		t.Errorf("IsUp(n0), IsUp(stale) = %v, %v; want true, false", s.IsUp(n0), s.IsUp(stale))
	}

	if got := s.Unreachable(); !slices.Equal(got, []wire.NodeAddress{n2}) {
		t.Errorf("Unreachable() = %v, want [%v]", got, n2)
	}
	for _, tc := range []struct {
		a    wire.NodeAddress
		want bool
	}{{n0, false}, {n2, true}, {stale, false}, {wire.NodeAddress{Host: "x", Port: 1}, false}} {
		if got := s.IsUnreachable(tc.a); got != tc.want {
			t.Errorf("IsUnreachable(%v) = %v, want %v", tc.a, got, tc.want)
		}
	}
	if !s.IsUnreachableIndex(3) || s.IsUnreachableIndex(0) || s.IsUnreachableIndex(-1) || s.IsUnreachableIndex(4) {
		t.Error("IsUnreachableIndex: want only index 3 unreachable")
	}

	if got := s.ServiceKeys(); !slices.Equal(got, []string{"alpha", "node-stats"}) {
		t.Errorf("ServiceKeys() = %v, want [alpha node-stats]", got)
	}
	stats := s.Services("node-stats")
	if len(stats) != 3 || stats[0].Node != n0 || stats[1].Node != n1 || stats[2].Node != n2 {
		t.Errorf("Services(node-stats) = %v, want n0, n1, n2 in order", stats)
	}
	if got := s.Services("missing"); got != nil {
		t.Errorf("Services(missing) = %v, want nil", got)
	}
	if got := len(s.Registry()); got != 4 {
		t.Errorf("len(Registry()) = %d, want 4", got)
	}

	if got := s.ShardTypes(); !slices.Equal(got, []string{"cart", "counter"}) {
		t.Errorf("ShardTypes() = %v, want [cart counter]", got)
	}
	counter := s.Table("counter")
	if counter.Len() != 11 || counter.Allocated() != 3 {
		t.Errorf("counter Len, Allocated = %d, %d; want 11, 3", counter.Len(), counter.Allocated())
	}
	for _, tc := range []struct {
		shard int
		want  int32
		ok    bool
	}{{0, 2, true}, {3, 1, true}, {10, 0, true}, {1, -1, false}, {11, -1, false}, {-1, -1, false}, {1 << 40, -1, false}} {
		if got, ok := counter.Owner(tc.shard); got != tc.want || ok != tc.ok {
			t.Errorf("counter.Owner(%d) = %d, %v; want %d, %v", tc.shard, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := s.Owner("counter", 10); !ok || got != stale {
		t.Errorf("Owner(counter, 10) = %v, %v; want %v, true", got, ok, stale)
	}
	if got := counter.Replicas(3); got != nil {
		t.Errorf("counter.Replicas(3) = %v, want nil", got)
	}
	cart := s.Table("cart")
	if got := cart.Replicas(1); !slices.Equal(got, []int32{2, 1}) {
		t.Errorf("cart.Replicas(1) = %v, want [2 1] (tuple order kept)", got)
	}
	if got := cart.Replicas(0); got != nil {
		t.Errorf("cart.Replicas(0) = %v, want nil", got)
	}
	if s.Ignored() != 0 {
		t.Errorf("Ignored() = %d, want 0", s.Ignored())
	}
}

func TestCompileUnknownTypeAndEmpty(t *testing.T) {
	for name, s := range map[string]*Snapshot{
		"golden": Compile(goldenLike()),
		"nil":    Compile(nil),
		"empty":  Compile(&wire.TopologySnapshot{}),
	} {
		t.Run(name, func(t *testing.T) {
			tab := s.Table("no-such-type")
			if tab != nil {
				t.Fatalf("Table(no-such-type) = %v, want nil", tab)
			}
			if got, ok := tab.Owner(0); ok || got != -1 {
				t.Errorf("nil Table Owner(0) = %d, %v; want -1, false", got, ok)
			}
			if tab.Len() != 0 || tab.Allocated() != 0 || tab.Replicas(0) != nil {
				t.Error("nil Table is not empty")
			}
			if _, ok := s.Owner("no-such-type", 0); ok {
				t.Error("Owner(no-such-type, 0) ok = true")
			}
		})
	}
	s := Compile(nil)
	if _, ok := s.Leader(); ok {
		t.Error("Compile(nil).Leader() ok = true")
	}
	if s.Epoch() != 0 || len(s.Nodes()) != 0 || len(s.Members()) != 0 || s.IsUnreachable(n0) {
		t.Error("Compile(nil) is not empty")
	}
}

func TestCompileIgnoresOutOfRangeShards(t *testing.T) {
	ts := &wire.TopologySnapshot{ShardAllocations: map[string]map[int]wire.ShardAllocation{
		"t": {-1: {Primary: n0}, MaxShards: {Primary: stale}, 1 << 40: {Primary: n1}, 5: {Primary: n2}},
	}}
	s := Compile(ts)
	if got := s.Ignored(); got != 3 {
		t.Errorf("Ignored() = %d, want 3", got)
	}
	if got := s.Table("t").Len(); got != 6 {
		t.Errorf("Len() = %d, want 6", got)
	}
	// Nodes that appear only in ignored allocations are not indexed.
	if got := s.Nodes(); !slices.Equal(got, []wire.NodeAddress{n2}) {
		t.Errorf("Nodes() = %v, want [%v]", got, n2)
	}
}

func TestCompileCopiesInput(t *testing.T) {
	ts := goldenLike()
	s := Compile(ts)
	want := Compile(goldenLike())
	ts.Members[1].Roles[0] = "zzz"
	ts.Members[0].ID = "changed"
	ts.Unreachable[0] = n0
	ts.Registry[0].Path = "/changed"
	ts.ShardAllocations["counter"][3] = wire.ShardAllocation{Primary: n2}
	ts.ShardAllocations["cart"][1].Replicas[0] = n2
	*ts.Leader = n2
	if !s.Equal(want) {
		t.Error("modifying the input changed the compiled Snapshot")
	}
}

// shuffled returns a copy of goldenLike with every set in another order and
// duplicated entries.
func shuffled() *wire.TopologySnapshot {
	ts := goldenLike()
	slices.Reverse(ts.Members)
	ts.Members = append(ts.Members, wire.Member{Address: n1, Status: wire.StatusUp, Roles: []string{"a", "b", "a"}, ID: "node-1"})
	slices.Reverse(ts.Registry)
	ts.Registry = append(ts.Registry, ts.Registry[0])
	ts.Unreachable = append(ts.Unreachable, n2)
	return ts
}

func TestEqual(t *testing.T) {
	base := Compile(goldenLike())
	if !base.Equal(Compile(shuffled())) {
		t.Error("Equal: order or duplicates in sets made snapshots differ")
	}
	if !base.Equal(base) {
		t.Error("Equal(self) = false")
	}
	var nilSnap *Snapshot
	if !nilSnap.Equal(nil) || base.Equal(nil) || nilSnap.Equal(base) {
		t.Error("Equal with nil: want nil==nil only")
	}
	for name, mutate := range map[string]func(*wire.TopologySnapshot){
		"epoch":       func(ts *wire.TopologySnapshot) { ts.AllocationEpoch++ },
		"no leader":   func(ts *wire.TopologySnapshot) { ts.Leader = nil },
		"leader":      func(ts *wire.TopologySnapshot) { l := n1; ts.Leader = &l },
		"status":      func(ts *wire.TopologySnapshot) { ts.Members[0].Status = wire.StatusDown },
		"roles":       func(ts *wire.TopologySnapshot) { ts.Members[1].Roles = []string{"a"} },
		"member id":   func(ts *wire.TopologySnapshot) { ts.Members[2].ID = "node-0b" },
		"member gone": func(ts *wire.TopologySnapshot) { ts.Members = ts.Members[1:] },
		"unreachable": func(ts *wire.TopologySnapshot) { ts.Unreachable = nil },
		"registry":    func(ts *wire.TopologySnapshot) { ts.Registry[3].Path = "/b" },
		"owner": func(ts *wire.TopologySnapshot) {
			ts.ShardAllocations["counter"][3] = wire.ShardAllocation{Primary: n1}
		},
		"new shard": func(ts *wire.TopologySnapshot) {
			ts.ShardAllocations["counter"][4] = wire.ShardAllocation{Primary: n1}
		},
		"moved shard": func(ts *wire.TopologySnapshot) {
			delete(ts.ShardAllocations["counter"], 0)
			ts.ShardAllocations["counter"][1] = wire.ShardAllocation{Primary: n1}
		},
		"replicas": func(ts *wire.TopologySnapshot) {
			ts.ShardAllocations["cart"][1] = wire.ShardAllocation{Primary: n2, Replicas: []wire.NodeAddress{n0, n1}}
		},
		"type gone": func(ts *wire.TopologySnapshot) { delete(ts.ShardAllocations, "cart") },
		"new type": func(ts *wire.TopologySnapshot) {
			ts.ShardAllocations["z"] = map[int]wire.ShardAllocation{0: {Primary: n0}}
		},
	} {
		ts := goldenLike()
		mutate(ts)
		if base.Equal(Compile(ts)) || Compile(ts).Equal(base) {
			t.Errorf("%s: Equal = true, want false", name)
		}
	}
}

func TestHolderPublishesOnlyOnChange(t *testing.T) {
	var h Holder
	if h.Load() != nil {
		t.Fatal("zero Holder Load() != nil")
	}
	first := Compile(goldenLike())
	if !h.Store(first) {
		t.Error("first Store changed = false, want true")
	}
	if h.Store(Compile(shuffled())) {
		t.Error("Store of an equal snapshot changed = true, want false")
	}
	if h.Load() != first {
		t.Error("an equal snapshot replaced the published pointer")
	}
	ts := goldenLike()
	ts.AllocationEpoch = 11
	next := Compile(ts)
	if !h.Store(next) || h.Load() != next {
		t.Error("Store of a changed snapshot was not published")
	}
	if !h.Store(nil) || h.Load() != nil {
		t.Error("Store(nil) did not clear the holder")
	}
	if h.Store(nil) {
		t.Error("second Store(nil) changed = true")
	}
}

func TestHolderConcurrentReadersAndWriter(t *testing.T) {
	// Run under -race: readers Load once per operation and look up through
	// the snapshot while a writer publishes new ones.
	const pushes = 200
	var h Holder
	h.Store(Compile(epochSnapshot(0)))
	done := make(chan struct{})
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		go func() {
			var last int64
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				s := h.Load()
				e := s.Epoch()
				if e < last {
					errs <- fmt.Errorf("epoch went back from %d to %d", last, e)
					return
				}
				last = e
				// Shard e%64 is owned by node index e%3 in snapshot e.
				idx, ok := s.Table("counter").Owner(int(e % 64))
				if !ok || idx != int32(e%3) {
					errs <- fmt.Errorf("snapshot %d: Owner(%d) = %d, %v; want %d", e, e%64, idx, ok, e%3)
					return
				}
			}
		}()
	}
	for e := int64(1); e <= pushes; e++ {
		if !h.Store(Compile(epochSnapshot(e))) {
			t.Errorf("push %d not published", e)
		}
		h.Store(Compile(epochSnapshot(e))) // an unchanged push
	}
	close(done)
	for r := 0; r < 4; r++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// epochSnapshot returns a snapshot with epoch e where every one of 64 shards
// of "counter" is owned by n0, except shard e%64, owned by node e%3.
func epochSnapshot(e int64) *wire.TopologySnapshot {
	nodes := []wire.NodeAddress{n0, n1, n2}
	shards := make(map[int]wire.ShardAllocation, 64)
	for i := range 64 {
		shards[i] = wire.ShardAllocation{Primary: n0}
	}
	shards[int(e%64)] = wire.ShardAllocation{Primary: nodes[e%3]}
	return &wire.TopologySnapshot{
		Members:          []wire.Member{{Address: n0, Status: wire.StatusUp}, {Address: n1, Status: wire.StatusUp}, {Address: n2, Status: wire.StatusUp}},
		Leader:           &nodes[0],
		ShardAllocations: map[string]map[int]wire.ShardAllocation{"counter": shards},
		AllocationEpoch:  e,
	}
}
