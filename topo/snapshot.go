package topo

import (
	"cmp"
	"slices"

	"github.com/zerohop/zerohop/wire"
)

// MaxShards bounds the shard ids Compile accepts: ids outside [0, MaxShards)
// cannot be routed, are left out of the tables and counted by
// (*Snapshot).Ignored. Tables are sized by the largest accepted id + 1, so the
// bound also caps what one hostile or corrupt snapshot can make Compile
// allocate (4 bytes per shard id and type).
const MaxShards = 1 << 20

// Snapshot is a compiled, immutable TopologySnapshot: the canonical (sorted,
// deduplicated) form of every set in it, a node index space, and per shard
// type a dense shard -> node table.
//
// A Snapshot is immutable once Compile returns it and is safe for concurrent
// use; it must not be copied by value (use the pointer). Slices it returns are
// shared, read-only views: callers must not modify them. The zero value is not
// usable; a nil *Snapshot is accepted by Equal only.
type Snapshot struct {
	epoch    int64
	leader   int32              // index into nodes, -1 when there is no leader
	nodes    []wire.NodeAddress // every address the snapshot mentions, sorted, unique
	index    map[wire.NodeAddress]int32
	members  []wire.Member      // sorted by address, id, status, roles; unique; roles sorted
	unreach  []wire.NodeAddress // sorted, unique
	unreachB []bool             // by node index
	registry []wire.ServiceEntry
	services map[string][]wire.ServiceEntry // sub-slices of registry
	keys     []string                       // service keys, sorted
	types    []string                       // shard types, sorted
	tables   map[string]*Table
	ignored  int
}

// Table is the dense shard -> node table of one shard type in a Snapshot.
// owners[shard] is an index into the Snapshot's Nodes, or -1 when the shard
// is not allocated in the snapshot.
//
// A Table is immutable and safe for concurrent use. Its methods accept a nil
// *Table, which behaves as an empty table, so that
// s.Table(typ).Owner(shard) needs no nil check.
type Table struct {
	owners    []int32
	replicas  map[int32][]int32 // shard -> replica node indexes; nil when none has replicas
	allocated int
}

// Len returns the size of the table: the largest allocated shard id + 1.
// Shards in [0, Len()) may or may not be allocated; shards outside are not.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.owners)
}

// Allocated returns the number of allocated shards.
func (t *Table) Allocated() int {
	if t == nil {
		return 0
	}
	return t.allocated
}

// Owner returns the index (into the Snapshot's Nodes) of the primary owner of
// shard, and whether the shard is allocated. Out-of-range and negative shards
// are unallocated. It allocates nothing.
func (t *Table) Owner(shard int) (nodeIdx int32, ok bool) {
	if t == nil || uint(shard) >= uint(len(t.owners)) {
		return -1, false
	}
	i := t.owners[shard]
	return i, i >= 0
}

// Replicas returns the node indexes of the shard's replicas, in the order of
// the allocation's tuple; nil when it has none. The slice is shared.
func (t *Table) Replicas(shard int) []int32 {
	if t == nil || t.replicas == nil || uint(shard) >= uint(len(t.owners)) {
		return nil
	}
	return t.replicas[int32(shard)]
}

func compareMember(a, b wire.Member) int {
	if c := wire.NodeAddress.Compare(a.Address, b.Address); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Status, b.Status); c != 0 {
		return c
	}
	return slices.Compare(a.Roles, b.Roles)
}

func equalMember(a, b wire.Member) bool { return compareMember(a, b) == 0 }

func compareService(a, b wire.ServiceEntry) int {
	if c := cmp.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	if c := wire.NodeAddress.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return cmp.Compare(a.Path, b.Path)
}

// nodeSet collects the addresses a snapshot mentions. Allocations name few
// distinct nodes, many times over, so add checks the last address seen, then
// scans the short list, and hashes only once there are more than
// linearLookupMax nodes.
type nodeSet struct {
	list  []wire.NodeAddress
	index map[wire.NodeAddress]int32 // nil while len(list) <= linearLookupMax
	last  wire.NodeAddress
	has   bool
}

func (ns *nodeSet) add(a wire.NodeAddress) {
	if ns.has && a == ns.last {
		return
	}
	ns.last, ns.has = a, true
	if ns.index == nil {
		for i := range ns.list {
			if ns.list[i] == a {
				return
			}
		}
		ns.list = append(ns.list, a)
		if len(ns.list) > linearLookupMax {
			ns.index = make(map[wire.NodeAddress]int32, 2*len(ns.list))
			for _, x := range ns.list {
				ns.index[x] = -1
			}
		}
		return
	}
	if _, ok := ns.index[a]; !ok {
		ns.index[a] = -1
		ns.list = append(ns.list, a)
	}
}

// lookup returns the index of a in nodes (sorted, indexed), which must have
// been added. Clusters are small, so a linear scan usually beats hashing the
// host string.
func (ns *nodeSet) lookup(nodes []wire.NodeAddress, a wire.NodeAddress) int32 {
	if len(nodes) <= linearLookupMax {
		for i := range nodes {
			if nodes[i] == a {
				return int32(i)
			}
		}
	}
	return ns.index[a]
}

// linearLookupMax is the largest node count for which nodeSet scans instead
// of hashing the host string.
const linearLookupMax = 8

// Compile builds the immutable Snapshot of ts. It copies everything it keeps,
// so ts may be reused or modified afterwards; a nil ts compiles to an empty
// snapshot (no members, no leader, epoch 0). Sets (members, roles,
// unreachable, registry) are sorted and deduplicated, so two snapshots that
// differ only in order compile to equal Snapshots. Allocations whose shard id
// is outside [0, MaxShards) are ignored and counted (see Ignored).
//
// Compile is safe to call concurrently with anything; it is not on the
// per-message path (see BenchmarkCompile for its cost).
func Compile(ts *wire.TopologySnapshot) *Snapshot {
	s := &Snapshot{leader: -1}
	if ts == nil {
		ts = &wire.TopologySnapshot{}
	}
	s.epoch = ts.AllocationEpoch

	// 1. The node index space: every address mentioned anywhere, so that
	// stale allocations and registry entries on non-members are indexable.
	ns := nodeSet{list: make([]wire.NodeAddress, 0, len(ts.Members)+1)}
	for i := range ts.Members {
		ns.add(ts.Members[i].Address)
	}
	if ts.Leader != nil {
		ns.add(*ts.Leader)
	}
	for _, a := range ts.Unreachable {
		ns.add(a)
	}
	for i := range ts.Registry {
		ns.add(ts.Registry[i].Node)
	}
	// Also the size of each table (largest accepted shard id + 1), so that
	// each type's map is walked twice in all.
	var sizes map[string]int
	if len(ts.ShardAllocations) > 0 {
		sizes = make(map[string]int, len(ts.ShardAllocations))
	}
	for typ, shards := range ts.ShardAllocations {
		maxID := -1
		for sid, a := range shards {
			if sid < 0 || sid >= MaxShards {
				s.ignored++
				continue
			}
			maxID = max(maxID, sid)
			ns.add(a.Primary)
			for _, r := range a.Replicas {
				ns.add(r)
			}
		}
		sizes[typ] = maxID + 1
	}
	s.nodes = ns.list
	slices.SortFunc(s.nodes, wire.NodeAddress.Compare)
	if ns.index == nil {
		ns.index = make(map[wire.NodeAddress]int32, len(s.nodes))
	}
	for i, a := range s.nodes {
		ns.index[a] = int32(i)
	}
	s.index = ns.index
	if ts.Leader != nil {
		s.leader = s.index[*ts.Leader]
	}

	// 2. Members, with their roles copied and sorted.
	s.members = compileMembers(ts.Members)

	// 3. Unreachable set.
	s.unreachB = make([]bool, len(s.nodes))
	if len(ts.Unreachable) > 0 {
		s.unreach = slices.Clone(ts.Unreachable)
		slices.SortFunc(s.unreach, wire.NodeAddress.Compare)
		s.unreach = slices.Compact(s.unreach)
		for _, a := range s.unreach {
			s.unreachB[s.index[a]] = true
		}
	}

	// 4. Registry, grouped by key.
	s.compileRegistry(ts.Registry)

	// 5. Shard tables.
	if len(ts.ShardAllocations) > 0 {
		s.tables = make(map[string]*Table, len(ts.ShardAllocations))
		s.types = make([]string, 0, len(ts.ShardAllocations))
		for typ, shards := range ts.ShardAllocations {
			s.types = append(s.types, typ)
			s.tables[typ] = s.compileTable(shards, sizes[typ], &ns)
		}
		slices.Sort(s.types)
	}
	return s
}

// compileMembers returns a sorted, deduplicated copy of in, each member's
// roles copied (into one shared backing array), sorted and deduplicated;
// nil for no members.
func compileMembers(in []wire.Member) []wire.Member {
	if len(in) == 0 {
		return nil
	}
	nroles := 0
	for i := range in {
		nroles += len(in[i].Roles)
	}
	roles := make([]string, 0, nroles)
	out := make([]wire.Member, len(in))
	for i, m := range in {
		start := len(roles)
		roles = append(roles, m.Roles...)
		r := roles[start:len(roles):len(roles)]
		slices.Sort(r)
		r = slices.Compact(r)
		if len(r) == 0 {
			r = nil
		}
		m.Roles = r
		out[i] = m
	}
	slices.SortFunc(out, compareMember)
	out = slices.CompactFunc(out, equalMember)
	return out
}

// compileRegistry sets s.registry (a sorted, deduplicated copy of reg) and
// the per-key views over it (s.keys, s.services).
func (s *Snapshot) compileRegistry(reg []wire.ServiceEntry) {
	if len(reg) == 0 {
		return
	}
	s.registry = slices.Clone(reg)
	slices.SortFunc(s.registry, compareService)
	s.registry = slices.Compact(s.registry)
	s.services = make(map[string][]wire.ServiceEntry)
	for i := 0; i < len(s.registry); {
		j := i + 1
		for j < len(s.registry) && s.registry[j].Key == s.registry[i].Key {
			j++
		}
		key := s.registry[i].Key
		s.keys = append(s.keys, key)
		s.services[key] = s.registry[i:j:j]
		i = j
	}
}

func (s *Snapshot) compileTable(shards map[int]wire.ShardAllocation, size int, ns *nodeSet) *Table {
	t := &Table{owners: make([]int32, size)}
	for i := range t.owners {
		t.owners[i] = -1
	}
	var last wire.NodeAddress
	lastIdx := int32(-1)
	for sid, a := range shards {
		if sid < 0 || sid >= MaxShards {
			continue
		}
		if lastIdx < 0 || a.Primary != last {
			last, lastIdx = a.Primary, ns.lookup(s.nodes, a.Primary)
		}
		t.owners[sid] = lastIdx
		t.allocated++
		if len(a.Replicas) > 0 {
			if t.replicas == nil {
				t.replicas = make(map[int32][]int32)
			}
			rs := make([]int32, len(a.Replicas))
			for i, r := range a.Replicas {
				rs[i] = ns.lookup(s.nodes, r)
			}
			t.replicas[int32(sid)] = rs
		}
	}
	return t
}

// Epoch returns the snapshot's allocation_epoch.
func (s *Snapshot) Epoch() int64 { return s.epoch }

// Leader returns the leader's address, and false when the snapshot has none.
func (s *Snapshot) Leader() (wire.NodeAddress, bool) {
	if s.leader < 0 {
		return wire.NodeAddress{}, false
	}
	return s.nodes[s.leader], true
}

// LeaderIndex returns the leader's node index, and false when there is none.
func (s *Snapshot) LeaderIndex() (int32, bool) { return s.leader, s.leader >= 0 }

// Members returns the members, sorted by address, id, status and roles
// (each member's roles sorted), without duplicates. Shared; read-only.
func (s *Snapshot) Members() []wire.Member { return s.members }

// MembersAt returns the members whose address is addr (usually one; a node
// restarted under a new id may appear twice). Shared; read-only.
func (s *Snapshot) MembersAt(addr wire.NodeAddress) []wire.Member {
	i, found := slices.BinarySearchFunc(s.members, addr, func(m wire.Member, a wire.NodeAddress) int {
		return wire.NodeAddress.Compare(m.Address, a)
	})
	if !found {
		return nil
	}
	j := i + 1
	for j < len(s.members) && s.members[j].Address == addr {
		j++
	}
	return s.members[i:j:j]
}

// IsUp reports whether a member at addr has status up.
func (s *Snapshot) IsUp(addr wire.NodeAddress) bool {
	for _, m := range s.MembersAt(addr) {
		if m.Status == wire.StatusUp {
			return true
		}
	}
	return false
}

// Nodes returns the node index space: every address the snapshot mentions
// (members, leader, unreachable, registry, allocation primaries and
// replicas), sorted in wire.NodeAddress.Less order, without duplicates. Node
// indexes returned by Table.Owner, Table.Replicas, LeaderIndex and NodeIndex
// index this slice. Shared; read-only.
func (s *Snapshot) Nodes() []wire.NodeAddress { return s.nodes }

// Node returns Nodes()[idx]. idx must be a valid index.
func (s *Snapshot) Node(idx int32) wire.NodeAddress { return s.nodes[idx] }

// NodeIndex returns the index of addr in Nodes, and false if the snapshot
// does not mention addr.
func (s *Snapshot) NodeIndex(addr wire.NodeAddress) (int, bool) {
	i, ok := s.index[addr]
	return int(i), ok
}

// Unreachable returns the unreachable set, sorted. Shared; read-only.
func (s *Snapshot) Unreachable() []wire.NodeAddress { return s.unreach }

// IsUnreachable reports whether addr is in the unreachable set.
func (s *Snapshot) IsUnreachable(addr wire.NodeAddress) bool {
	i, ok := s.index[addr]
	return ok && s.unreachB[i]
}

// IsUnreachableIndex reports whether the node with index idx is unreachable.
// Out-of-range indexes are not.
func (s *Snapshot) IsUnreachableIndex(idx int32) bool {
	return uint(idx) < uint(len(s.unreachB)) && s.unreachB[idx]
}

// Registry returns every service entry, sorted by key, node and path.
// Shared; read-only.
func (s *Snapshot) Registry() []wire.ServiceEntry { return s.registry }

// ServiceKeys returns the service keys of the registry, sorted. Shared;
// read-only.
func (s *Snapshot) ServiceKeys() []string { return s.keys }

// Services returns the entries registered under key, sorted by node and
// path; nil if none. Shared; read-only. It allocates nothing.
func (s *Snapshot) Services(key string) []wire.ServiceEntry { return s.services[key] }

// ShardTypes returns the shard types that have allocations, sorted. Shared;
// read-only.
func (s *Snapshot) ShardTypes() []string { return s.types }

// Table returns the table of shardType, or nil when the snapshot has no
// allocation for it (a nil *Table is usable: every shard is unallocated).
func (s *Snapshot) Table(shardType string) *Table { return s.tables[shardType] }

// Owner returns the address of the primary owner of shard of shardType, and
// false when it is not allocated in this snapshot. It allocates nothing.
func (s *Snapshot) Owner(shardType string, shard int) (wire.NodeAddress, bool) {
	i, ok := s.tables[shardType].Owner(shard)
	if !ok {
		return wire.NodeAddress{}, false
	}
	return s.nodes[i], true
}

// Ignored returns how many allocations Compile left out because their shard
// id was outside [0, MaxShards).
func (s *Snapshot) Ignored() int { return s.ignored }

// Equal reports whether s and o hold the same topology: epoch, leader,
// members, unreachable set, registry and allocations (primaries and
// replicas). Order in the decoded sets never matters, since Compile made
// them canonical. Ignored counts are not compared. Two nil snapshots are
// equal; nil and non-nil are not.
func (s *Snapshot) Equal(o *Snapshot) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil {
		return false
	}
	if s.epoch != o.epoch || s.leader != o.leader ||
		!slices.Equal(s.nodes, o.nodes) ||
		!slices.EqualFunc(s.members, o.members, equalMember) ||
		!slices.Equal(s.unreach, o.unreach) ||
		!slices.Equal(s.registry, o.registry) ||
		!slices.Equal(s.types, o.types) {
		return false
	}
	// Equal node lists mean equal index spaces, so tables compare by index.
	for _, typ := range s.types {
		if !s.tables[typ].equal(o.tables[typ]) {
			return false
		}
	}
	return true
}

func (t *Table) equal(o *Table) bool {
	if t.allocated != o.allocated || !slices.Equal(t.owners, o.owners) || len(t.replicas) != len(o.replicas) {
		return false
	}
	for sid, rs := range t.replicas {
		ors, ok := o.replicas[sid]
		if !ok || !slices.Equal(rs, ors) {
			return false
		}
	}
	return true
}
