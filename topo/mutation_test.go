package topo

import (
	"slices"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// Tests added for gremlins' survivors (TESTING.md, "Broad mutation score").

// TestRoutesEditorOwnerRange: the editor's Owner, like Routes.Owner, reports
// every shard outside [0, Len()) as unallocated, including Len() itself,
// before and after the editor copied the table.
func TestRoutesEditorOwnerRange(t *testing.T) {
	p := &peer{n0}
	base := NewRoutes[*peer](3).WithOwner(0, p).WithOwner(2, p)
	for _, write := range []bool{false, true} {
		e := base.Edit()
		if write {
			e.Set(1, p)
		}
		for _, tt := range []struct {
			shard int
			ok    bool
		}{{-1, false}, {0, true}, {1, write}, {2, true}, {3, false}, {4, false}} {
			if o, ok := e.Owner(tt.shard); ok != tt.ok || (ok && o != p) {
				t.Errorf("written %v: Owner(%d) = %v, %v; want ok %v", write, tt.shard, o, ok, tt.ok)
			}
		}
	}
}

// TestTableLenIsLargestShardPlusOne: a Table is sized by its largest
// accepted shard id + 1, also when that id is 0, and a type whose every
// allocation was out of range has a table of length 0.
func TestTableLenIsLargestShardPlusOne(t *testing.T) {
	s := Compile(&wire.TopologySnapshot{ShardAllocations: map[string]map[int]wire.ShardAllocation{
		"zero":    {0: {Primary: n0}},
		"three":   {3: {Primary: n1}, 1: {Primary: n0}},
		"ignored": {-1: {Primary: n0}, MaxShards: {Primary: n1}},
	}})
	for _, tt := range []struct {
		typ            string
		len, allocated int
	}{{"zero", 1, 1}, {"three", 4, 2}, {"ignored", 0, 0}} {
		tab := s.Table(tt.typ)
		if tab.Len() != tt.len || tab.Allocated() != tt.allocated {
			t.Errorf("Table(%q): Len %d, Allocated %d; want %d, %d", tt.typ, tab.Len(), tab.Allocated(), tt.len, tt.allocated)
		}
		if _, ok := tab.Owner(tt.len); ok {
			t.Errorf("Table(%q).Owner(%d) ok, want unallocated", tt.typ, tt.len)
		}
	}
}

// TestCompileZeroAddressPrimary: Compile indexes every address an
// allocation names, the zero NodeAddress included (a corrupt or hostile
// snapshot may carry it): its shard is allocated to that address, not to
// whichever node the table looked up before.
func TestCompileZeroAddressPrimary(t *testing.T) {
	var zero wire.NodeAddress
	s := Compile(&wire.TopologySnapshot{
		Members:          []wire.Member{{Address: n0, Status: wire.StatusUp}, {Address: n1, Status: wire.StatusUp}},
		ShardAllocations: map[string]map[int]wire.ShardAllocation{"t": {0: {Primary: zero}}},
	})
	if got, ok := s.Owner("t", 0); !ok || got != zero {
		t.Fatalf("Owner(t, 0) = %v, %v; want the zero address, true", got, ok)
	}
	if i, ok := s.Table("t").Owner(0); !ok || s.Node(i) != zero {
		t.Fatalf("Table(t).Owner(0) = %d, %v; want the index of the zero address", i, ok)
	}
}

// TestCompileOutOfRangeShardsSkipOnlyThemselves: an out-of-range shard id is
// left out and counted, and every in-range allocation of the same type is
// still in the table, whatever order the map yields them in (10 in range,
// 20 out: an out-of-range one comes before an in-range one in all but one
// order in C(30, 10) = 30,045,015).
func TestCompileOutOfRangeShardsSkipOnlyThemselves(t *testing.T) {
	shards := map[int]wire.ShardAllocation{}
	for i := range 10 {
		shards[i] = wire.ShardAllocation{Primary: n0}
		shards[-1-i] = wire.ShardAllocation{Primary: n1}
		shards[MaxShards+i] = wire.ShardAllocation{Primary: n1}
	}
	s := Compile(&wire.TopologySnapshot{ShardAllocations: map[string]map[int]wire.ShardAllocation{"t": shards}})
	if s.Ignored() != 20 {
		t.Errorf("Ignored() = %d, want 20", s.Ignored())
	}
	tab := s.Table("t")
	if tab.Len() != 10 || tab.Allocated() != 10 {
		t.Errorf("Len %d, Allocated %d; want 10, 10", tab.Len(), tab.Allocated())
	}
	for i := range 10 {
		if got, ok := s.Owner("t", i); !ok || got != n0 {
			t.Errorf("Owner(t, %d) = %v, %v; want %v, true", i, got, ok, n0)
		}
	}
}

// TestLeaderAndMembersAtTheEdges: the leader is reported when it is node 0
// (the smallest address), and MembersAt returns every member at an address,
// also when they are the last members of the sorted list.
func TestLeaderAndMembersAtTheEdges(t *testing.T) {
	leader := n0
	s := Compile(&wire.TopologySnapshot{
		Leader: &leader,
		Members: []wire.Member{
			{Address: n1, Status: wire.StatusDown, ID: "old"},
			{Address: n0, Status: wire.StatusUp, ID: "a"},
			{Address: n1, Status: wire.StatusUp, ID: "new"},
		},
	})
	if i, ok := s.LeaderIndex(); !ok || i != 0 {
		t.Errorf("LeaderIndex() = %d, %v; want 0, true", i, ok)
	}
	if got, ok := s.Leader(); !ok || got != n0 {
		t.Errorf("Leader() = %v, %v; want %v, true", got, ok, n0)
	}
	for _, tt := range []struct {
		addr wire.NodeAddress
		ids  []string
	}{{n0, []string{"a"}}, {n1, []string{"new", "old"}}, {n2, nil}} {
		got := s.MembersAt(tt.addr)
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, tt.ids) {
			t.Errorf("MembersAt(%v) ids = %v, want %v", tt.addr, ids, tt.ids)
		}
	}
	if !s.IsUp(n1) {
		t.Error("IsUp(n1) = false, want true (its newer member is up)")
	}
}
