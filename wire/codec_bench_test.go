package wire

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/valyala/fastjson"
)

// benchSnapshot builds a TopologySnapshot like Casty's: 3 members, 3
// registry entries (one service per node) and shards allocations of the
// "counter" type spread over the members.
func benchSnapshot(shards int) TopologySnapshot {
	nodes := []NodeAddress{{"127.0.0.1", 25560}, {"127.0.0.1", 25561}, {"127.0.0.1", 25562}}
	ts := TopologySnapshot{Leader: &nodes[0], AllocationEpoch: int64(shards) + 3}
	for i, n := range nodes {
		ts.Members = append(ts.Members, Member{Address: n, Status: StatusUp, ID: "node-" + strconv.Itoa(i)})
		ts.Registry = append(ts.Registry, ServiceEntry{Key: "node-stats", Node: n, Path: "/stats"})
	}
	if shards > 0 {
		allocs := make(map[int]ShardAllocation, shards)
		for s := 0; s < shards; s++ {
			allocs[s] = ShardAllocation{Primary: nodes[s%len(nodes)]}
		}
		ts.ShardAllocations = map[string]map[int]ShardAllocation{"counter": allocs}
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
		var env any = ShardEnvelope{EntityID: "user-42", Message: msg}
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
	payload, err := r.AppendValue(nil, ShardEnvelope{EntityID: "user-42", Message: Increment{Amount: 5}})
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
		var env ShardEnvelope
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
		var memo MessageMemo
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
		other, err := r.AppendValue(nil, ShardEnvelope{EntityID: "user-42", Message: Increment{Amount: 6}})
		if err != nil {
			b.Fatal(err)
		}
		ps := [2][]byte{payload, other}
		var memo MessageMemo
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
// Casty's default num_shards, about 20 KB) and compares, at 100 shards,
// the JSON machinery choices documented in doc.go.
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
			var ts TopologySnapshot
			if err := r.DecodeInto(payload, &ts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("shards=100/fastjson-parse-only", func(b *testing.B) {
		var p fastjson.Parser
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.ParseBytes(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("shards=100/fastjson-handwritten-typed", func(b *testing.B) {
		var p fastjson.Parser
		want, _ := r.Decode(payload)
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			v, err := p.ParseBytes(payload)
			if err != nil {
				b.Fatal(err)
			}
			ts, err := fjSnapshot(v)
			if err != nil {
				b.Fatal(err)
			}
			if ts.AllocationEpoch != want.(TopologySnapshot).AllocationEpoch {
				b.Fatal("wrong decode")
			}
		}
	})
	b.Run("shards=100/encoding-json-generic", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(payload, &v); err != nil {
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

// fjSnapshot is a hand-written (no reflection) fastjson tree walk into a
// TopologySnapshot: the best case for a fastjson-based decoder, used only
// as a benchmark baseline.
func fjSnapshot(v *fastjson.Value) (TopologySnapshot, error) {
	var ts TopologySnapshot
	o, err := v.Object()
	if err != nil {
		return ts, err
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "members":
			var arr []*fastjson.Value
			if arr, err = fjMarked(v, "__frozenset__"); err == nil {
				for _, e := range arr {
					var m Member
					if m, err = fjMember(e); err != nil {
						return
					}
					ts.Members = append(ts.Members, m)
				}
			}
		case "leader":
			if v.Type() != fastjson.TypeNull {
				var n NodeAddress
				if n, err = fjNode(v); err == nil {
					ts.Leader = &n
				}
			}
		case "shard_allocations":
			var pairs []*fastjson.Value
			if pairs, err = fjMarked(v, "__dict__"); err != nil {
				return
			}
			ts.ShardAllocations = make(map[string]map[int]ShardAllocation, len(pairs))
			for _, p := range pairs {
				kv, e := p.Array()
				if e != nil || len(kv) != 2 {
					err = errors.New("bad pair")
					return
				}
				typ := string(kv[0].GetStringBytes())
				inner, e := fjMarked(kv[1], "__dict__")
				if e != nil {
					err = e
					return
				}
				m := make(map[int]ShardAllocation, len(inner))
				for _, ip := range inner {
					ikv, e := ip.Array()
					if e != nil || len(ikv) != 2 {
						err = errors.New("bad pair")
						return
					}
					id, e := ikv[0].Int()
					if e != nil {
						err = e
						return
					}
					var a ShardAllocation
					if a.Primary, err = fjNode(ikv[1].Get("primary")); err != nil {
						return
					}
					reps, e := fjMarked(ikv[1].Get("replicas"), "__tuple__")
					if e != nil {
						err = e
						return
					}
					for _, r := range reps {
						var n NodeAddress
						if n, err = fjNode(r); err != nil {
							return
						}
						a.Replicas = append(a.Replicas, n)
					}
					m[id] = a
				}
				ts.ShardAllocations[typ] = m
			}
		case "allocation_epoch":
			ts.AllocationEpoch, err = v.Int64()
		case "unreachable":
			var arr []*fastjson.Value
			if arr, err = fjMarked(v, "__frozenset__"); err == nil {
				for _, e := range arr {
					var n NodeAddress
					if n, err = fjNode(e); err != nil {
						return
					}
					ts.Unreachable = append(ts.Unreachable, n)
				}
			}
		case "registry":
			var arr []*fastjson.Value
			if arr, err = fjMarked(v, "__frozenset__"); err == nil {
				for _, e := range arr {
					se := ServiceEntry{Key: string(e.GetStringBytes("key")), Path: string(e.GetStringBytes("path"))}
					if se.Node, err = fjNode(e.Get("node")); err != nil {
						return
					}
					ts.Registry = append(ts.Registry, se)
				}
			}
		}
	})
	return ts, err
}

func fjMarked(v *fastjson.Value, marker string) ([]*fastjson.Value, error) {
	if v == nil {
		return nil, errors.New("missing")
	}
	return v.Get(marker).Array()
}

func fjNode(v *fastjson.Value) (NodeAddress, error) {
	if v == nil {
		return NodeAddress{}, errors.New("missing node")
	}
	port, err := v.Get("port").Int()
	return NodeAddress{Host: string(v.GetStringBytes("host")), Port: port}, err
}

func fjMember(v *fastjson.Value) (Member, error) {
	var m Member
	var err error
	if m.Address, err = fjNode(v.Get("address")); err != nil {
		return m, err
	}
	if err = m.Status.SetEnumName(string(v.GetStringBytes("status", "value"))); err != nil {
		return m, err
	}
	roles, err := fjMarked(v.Get("roles"), "__frozenset__")
	if err != nil {
		return m, err
	}
	for _, r := range roles {
		m.Roles = append(m.Roles, string(r.GetStringBytes()))
	}
	m.ID = string(v.GetStringBytes("id"))
	return m, nil
}
