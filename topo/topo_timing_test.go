package topo

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// benchSnapshot returns a 3-node snapshot with shards allocated shards of one
// type spread round-robin, like a warmed-up Casty cluster.
func benchSnapshot(shards int) *wire.TopologySnapshot {
	nodes := []wire.NodeAddress{n0, n1, n2}
	allocs := make(map[int]wire.ShardAllocation, shards)
	for i := range shards {
		allocs[i] = wire.ShardAllocation{Primary: nodes[i%3], Replicas: []wire.NodeAddress{}}
	}
	ts := goldenLike()
	ts.Unreachable = nil
	ts.ShardAllocations = map[string]map[int]wire.ShardAllocation{"counter": allocs}
	return ts
}

func BenchmarkCompile(b *testing.B) {
	for _, shards := range []int{100, 1000, 10000} {
		ts := benchSnapshot(shards)
		b.Run("shards="+strconv.Itoa(shards), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compile(ts)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(shards), "ns/shard")
		})
	}
}

// BenchmarkCompileAndStore is the whole cost of an unchanged push: compile,
// then Equal against the published snapshot.
func BenchmarkCompileAndStore(b *testing.B) {
	for _, shards := range []int{100, 1000, 10000} {
		ts := benchSnapshot(shards)
		var h Holder
		h.Store(Compile(ts))
		b.Run("shards="+strconv.Itoa(shards), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if h.Store(Compile(ts)) {
					b.Fatal("unchanged snapshot published")
				}
			}
		})
	}
}

var (
	benchIdx int32
	benchOK  bool
)

func BenchmarkOwner(b *testing.B) {
	var h Holder
	h.Store(Compile(benchSnapshot(1000)))
	b.Run("Holder.Load+Table", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			idx, ok := h.Load().Table("counter").Owner(i & 1023)
			benchIdx += idx
			benchOK = benchOK != ok
			i++
		}
	})
	tab := h.Load().Table("counter")
	b.Run("Table.Owner", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			idx, ok := tab.Owner(i & 1023)
			benchIdx += idx
			benchOK = benchOK != ok
			i++
		}
	})
	var routes atomic.Pointer[Routes[*peer]]
	r := NewRoutes[*peer](1000)
	for i := range 1000 {
		r = r.WithOwner(i, &peer{n0})
	}
	routes.Store(r)
	b.Run("Routes.Load+Owner", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p, ok := routes.Load().Owner(i & 1023)
			benchOK = benchOK != (ok && p != nil)
			i++
		}
	})
}

func BenchmarkEqual(b *testing.B) {
	for _, shards := range []int{100, 10000} {
		x, y := Compile(benchSnapshot(shards)), Compile(benchSnapshot(shards))
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !x.Equal(y) {
					b.Fatal("not equal")
				}
			}
		})
	}
}
