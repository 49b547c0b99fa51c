package bench

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/topo"
	"github.com/zerohop/zerohop/wire"
)

// Routing sweep: the cost of entity id -> shard -> owning node must not grow
// with the number of shards or nodes (a hash, one atomic load, one index).
var (
	sweepShards = []int{100, 1000, 10000}
	sweepNodes  = []int{3, 30}
)

// clusterSnapshot is a warmed-up topology: nodes members on loopback ports,
// every shard of "counter" allocated round-robin, one node-stats service per
// node.
func clusterSnapshot(nodes, shards int) *wire.TopologySnapshot {
	addrs := make([]wire.NodeAddress, nodes)
	members := make([]wire.Member, nodes)
	registry := make([]wire.ServiceEntry, nodes)
	for i := range addrs {
		addrs[i] = wire.NodeAddress{Host: "127.0.0.1", Port: 25520 + i}
		members[i] = wire.Member{Address: addrs[i], Status: wire.StatusUp, Roles: []string{}, ID: "node-" + strconv.Itoa(i)}
		registry[i] = wire.ServiceEntry{Key: "node-stats", Node: addrs[i], Path: "/stats"}
	}
	allocs := make(map[int]wire.ShardAllocation, shards)
	for s := range shards {
		allocs[s] = wire.ShardAllocation{Primary: addrs[s%nodes], Replicas: []wire.NodeAddress{}}
	}
	leader := addrs[0]
	return &wire.TopologySnapshot{
		Members:          members,
		Leader:           &leader,
		ShardAllocations: map[string]map[int]wire.ShardAllocation{"counter": allocs},
		AllocationEpoch:  int64(nodes),
		Registry:         registry,
	}
}

// entityIDs returns n ids shaped like the load generator's.
func entityIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "lg-0a1b2c3d-" + strconv.Itoa(i)
	}
	return ids
}

var sinkIdx int32

// BenchmarkRoute is the routing step of Tell on the snapshot path: ring.Shard
// (MD5, Casty's entity_shard), one Holder.Load, the type's dense table, one
// index. Reported per entity routed.
func BenchmarkRoute(b *testing.B) {
	ids := entityIDs(1024)
	for _, nodes := range sweepNodes {
		for _, shards := range sweepShards {
			var h topo.Holder
			h.Store(topo.Compile(clusterSnapshot(nodes, shards)))
			b.Run(fmt.Sprintf("nodes=%d/shards=%d", nodes, shards), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					id := ids[i&1023]
					idx, ok := h.Load().Table("counter").Owner(ring.Shard(id, shards))
					if !ok {
						b.Fatal("unallocated shard")
					}
					sinkIdx += idx
					i++
				}
			})
		}
	}
}

// benchPeer stands for a client's per-node connection state, the owner type
// a ClusterClient keeps in its topo.Routes.
type benchPeer struct{ idx int32 }

// BenchmarkRouteClientTable is the same step through topo.Routes, the
// client-side table a ClusterClient merges ShardLocation replies into, with
// the xxh64 hash for comparison with MD5.
func BenchmarkRouteClientTable(b *testing.B) {
	ids := entityIDs(1024)
	for _, nodes := range sweepNodes {
		for _, shards := range sweepShards {
			peers := make([]*benchPeer, nodes)
			for i := range peers {
				peers[i] = &benchPeer{idx: int32(i)}
			}
			r := topo.NewRoutes[*benchPeer](shards)
			e := r.Edit()
			for s := range shards {
				e.Set(s, peers[s%nodes])
			}
			r = e.Routes()
			for _, h := range []ring.Hash{ring.HashMD5, ring.HashXXH64} {
				b.Run(fmt.Sprintf("hash=%s/nodes=%d/shards=%d", h.Name(), nodes, shards), func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						owner, ok := r.Owner(h.Shard(ids[i&1023], shards))
						if !ok {
							b.Fatal("unallocated shard")
						}
						sinkIdx += owner.idx
						i++
					}
				})
			}
		}
	}
}

// BenchmarkSnapshotCompile is the cost of turning one decoded
// TopologySnapshot into routing state; it runs on every push (about once a
// second per subscribed client), never per message. Reported per shard too.
func BenchmarkSnapshotCompile(b *testing.B) {
	for _, nodes := range sweepNodes {
		for _, shards := range sweepShards {
			ts := clusterSnapshot(nodes, shards)
			b.Run(fmt.Sprintf("nodes=%d/shards=%d", nodes, shards), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					topo.Compile(ts)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(shards), "ns/shard")
			})
		}
	}
}
