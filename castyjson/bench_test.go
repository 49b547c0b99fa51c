package castyjson

import (
	"strconv"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// benchSnapshot builds a TopologySnapshot like Casty's: 3 members, 3
// registry entries (one service per node) and shards allocations of the
// "counter" type spread over the members.
func benchSnapshot(shards int) wire.TopologySnapshot {
	nodes := []wire.NodeAddress{{Host: "127.0.0.1", Port: 25560}, {Host: "127.0.0.1", Port: 25561}, {Host: "127.0.0.1", Port: 25562}}
	ts := wire.TopologySnapshot{Leader: &nodes[0], AllocationEpoch: int64(shards) + 3}
	for i, n := range nodes {
		ts.Members = append(ts.Members, wire.Member{Address: n, Status: wire.StatusUp, ID: "node-" + strconv.Itoa(i)})
		ts.Registry = append(ts.Registry, wire.ServiceEntry{Key: "node-stats", Node: n, Path: "/stats"})
	}
	if shards > 0 {
		allocs := make(map[int]wire.ShardAllocation, shards)
		for s := 0; s < shards; s++ {
			allocs[s] = wire.ShardAllocation{Primary: nodes[s%len(nodes)]}
		}
		ts.ShardAllocations = map[string]map[int]wire.ShardAllocation{"counter": allocs}
	}
	return ts
}

func benchSnapshotPayload(b *testing.B, r *Registry, shards int) []byte {
	b.Helper()
	payload, err := r.AppendValue(nil, benchSnapshot(shards))
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

const (
	codecBenchTarget = "casty://live@127.0.0.1:25560/_region-counter"
	codecBenchSender = "casty://live-client@127.0.0.1:0/"
)

// BenchmarkEncodeEnvelopeFrame: the routing hot path, a whole message frame
// of ShardEnvelope(Increment) into a reused buffer.
func BenchmarkEncodeEnvelopeFrame(b *testing.B) {
	r := testRegistry(b)
	var msg any = Increment{Amount: 5}
	b.Run("AppendMessageFrame", func(b *testing.B) {
		var env any = wire.ShardEnvelope{EntityID: "user-42", Message: msg}
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = r.AppendMessageFrame(buf[:0], codecBenchTarget, codecBenchSender, env, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("AppendEnvelopeFrame", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = r.AppendEnvelopeFrame(buf[:0], codecBenchTarget, codecBenchSender, "user-42", msg, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("AppendHeadedEnvelopeFrame", func(b *testing.B) {
		head := r.AppendEnvelopeHead(nil, codecBenchTarget, codecBenchSender)
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = r.AppendHeadedEnvelopeFrame(buf[:0], head, "user-42", msg, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("JSONAppender", func(b *testing.B) {
		var self any = selfEncoded{V: 5}
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = r.AppendEnvelopeFrame(buf[:0], codecBenchTarget, codecBenchSender, "user-42", self, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
}

// BenchmarkDecodeEnvelope: a node receiving ShardEnvelope(Increment).
func BenchmarkDecodeEnvelope(b *testing.B) {
	r := testRegistry(b)
	payload, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "user-42", Message: Increment{Amount: 5}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Decode", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Decode(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeInto", func(b *testing.B) {
		var env wire.ShardEnvelope
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if err := r.DecodeInto(payload, &env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeShardEnvelope", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := r.DecodeShardEnvelope(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeShardEnvelopeMemo", func(b *testing.B) {
		// The same message each time, as a client telling Increment to
		// many entities sends it.
		var memo wire.MessageMemo
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := r.DecodeShardEnvelopeMemo(payload, &memo); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeShardEnvelopeMemoMiss", func(b *testing.B) {
		// A different message each time: the memo's cost when it never
		// hits (compare, copy, type check) on top of DecodeShardEnvelope.
		other, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "user-42", Message: Increment{Amount: 6}})
		if err != nil {
			b.Fatal(err)
		}
		ps := [2][]byte{payload, other}
		var memo wire.MessageMemo
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, err := r.DecodeShardEnvelopeMemo(ps[i&1], &memo); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkDecodeSnapshot sweeps the number of allocated shards (100 is
// Casty's default num_shards, about 20 KB). The comparison with fastjson
// and encoding/json documented in doc.go is in bench/fastjson, a module of
// its own so that fastjson is not a requirement of this one.
func BenchmarkDecodeSnapshot(b *testing.B) {
	r := testRegistry(b)
	for _, shards := range []int{0, 32, 100, 1000} {
		payload := benchSnapshotPayload(b, r, shards)
		b.Run("shards="+strconv.Itoa(shards)+"/zerohop-Decode", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Decode(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	payload := benchSnapshotPayload(b, r, 100)
	b.Run("shards=100/zerohop-DecodeInto", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			var ts wire.TopologySnapshot
			if err := r.DecodeInto(payload, &ts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeSnapshot: a node pushing a snapshot to its subscribers.
func BenchmarkEncodeSnapshot(b *testing.B) {
	r := testRegistry(b)
	for _, shards := range []int{0, 100, 1000} {
		ts := benchSnapshot(shards)
		b.Run("shards="+strconv.Itoa(shards), func(b *testing.B) {
			buf := make([]byte, 0, 256<<10)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = r.AppendValue(buf[:0], ts); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}
