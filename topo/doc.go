// Package topo turns Casty topology pushes into routing state: an immutable,
// compiled Snapshot of one TopologySnapshot, a Holder that publishes the
// current one atomically, and Routes, an immutable per-type shard -> owner
// table for clients that merge several sources of truth.
//
// # API
//
//	s := topo.Compile(ts)                // ts *wire.TopologySnapshot, decoded by package wire
//	changed := holder.Store(s)           // publishes only if !s.Equal(current)
//
//	s := holder.Load()                   // once per operation
//	s.Epoch()                            // allocation_epoch
//	s.Leader()                           // (wire.NodeAddress, ok); LeaderIndex() (int32, ok)
//	s.Members(), s.MembersAt(a), s.IsUp(a)
//	s.Nodes()                            // node index space, sorted; Node(i), NodeIndex(a)
//	s.Unreachable(), s.IsUnreachable(a), s.IsUnreachableIndex(i)
//	s.Services(key), s.ServiceKeys(), s.Registry()
//	s.ShardTypes(), s.Table(typ)         // *Table, nil if the type has no allocation
//	t.Owner(shard)                       // (nodeIdx int32, ok); Len(), Allocated(), Replicas(shard)
//	s.Owner(typ, shard)                  // (wire.NodeAddress, ok), for convenience
//
//	r := topo.NewRoutes[*peer](numShards) // client-side table, owner type chosen by the caller
//	r.Owner(shard)                        // (owner, ok): bounds check + index
//	r = r.WithOwner(shard, p)             // ShardLocation reply
//	r = r.WithoutNode(p)                  // drop every shard of p (the engine keeps them, failing fast, until the cluster moves them)
//	e := r.Edit(); e.Set(...); e.ClearOwner(...); r = e.Routes() // batches
//
// # Model
//
// A TopologySnapshot (PROTOCOL.md 6.1) carries members, leader, unreachable
// set, registry, allocation_epoch and per shard type the allocated shards.
// It never carries num_shards, so a Table is sized by the largest allocated
// shard id + 1 and every shard outside it is unallocated; Routes, on the
// other hand, is sized by the client's configured number of shards.
//
// Node indexes: a Snapshot numbers every address it mentions (members,
// leader, unreachable, registry, allocation primaries and replicas) in
// wire.NodeAddress.Less order; tables store those int32 indexes, -1 for an
// unallocated shard. Indexes are meaningful only within one Snapshot.
//
// # Invariants
//
//   - Compile copies its input; a Snapshot shares nothing with the decoded
//     value.
//   - A Snapshot, a Table and a Routes never change once created. Slices they
//     return are shared and must not be modified by callers.
//   - Sets are canonical (sorted, deduplicated), so Equal is order-insensitive
//     and Compile is deterministic.
//   - Shard ids outside [0, MaxShards) are never stored; Compile counts them
//     (Snapshot.Ignored).
//   - Table.Owner, Routes.Owner, Holder.Load and Snapshot.Owner allocate
//     nothing (asserted by TestLookupAllocs).
//
// # Concurrency
//
// A Snapshot is immutable once published; readers Load once per operation
// and use that one pointer throughout, so an operation never mixes two
// topologies. Holder is safe for any number of concurrent readers and
// writers. Routes values are immutable and safe for concurrent readers; the
// goroutine that derives new ones (With*, Edit) publishes them through its
// own atomic.Pointer. A RoutesEditor belongs to one goroutine.
//
// The package starts no goroutines.
package topo
