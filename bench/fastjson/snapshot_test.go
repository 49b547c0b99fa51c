// Package fastjson holds one benchmark: castyjson's decoder against
// valyala/fastjson and encoding/json on a 100-shard TopologySnapshot, the
// measurement behind "Why not valyala/fastjson or encoding/json" in
// castyjson/doc.go. It is a module of its own (a replace points at the
// main module) so that fastjson is not a requirement of zerohop:
//
//	cd bench/fastjson && go test -run x -bench . -benchmem -count 5
package fastjson

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/valyala/fastjson"
	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

// snapshot builds a TopologySnapshot like Casty's (castyjson's
// benchSnapshot): 3 members, 3 registry entries (one service per node) and
// shards allocations of the "counter" type spread over the members.
func snapshot(shards int) wire.TopologySnapshot {
	nodes := []wire.NodeAddress{{Host: "127.0.0.1", Port: 25560}, {Host: "127.0.0.1", Port: 25561}, {Host: "127.0.0.1", Port: 25562}}
	ts := wire.TopologySnapshot{Leader: &nodes[0], AllocationEpoch: int64(shards) + 3}
	for i, n := range nodes {
		ts.Members = append(ts.Members, wire.Member{Address: n, Status: wire.StatusUp, ID: "node-" + strconv.Itoa(i)})
		ts.Registry = append(ts.Registry, wire.ServiceEntry{Key: "node-stats", Node: n, Path: "/stats"})
	}
	allocs := make(map[int]wire.ShardAllocation, shards)
	for s := 0; s < shards; s++ {
		allocs[s] = wire.ShardAllocation{Primary: nodes[s%len(nodes)]}
	}
	ts.ShardAllocations = map[string]map[int]wire.ShardAllocation{"counter": allocs}
	return ts
}

// BenchmarkDecodeSnapshot decodes the payload Casty would send for a
// 100-shard cluster (about 20 KB) four ways.
func BenchmarkDecodeSnapshot(b *testing.B) {
	r := castyjson.NewRegistry()
	payload, err := r.AppendValue(nil, snapshot(100))
	if err != nil {
		b.Fatal(err)
	}
	want, err := r.Decode(payload)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("shards=100/zerohop-Decode", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Decode(payload); err != nil {
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
			if ts.AllocationEpoch != want.(wire.TopologySnapshot).AllocationEpoch {
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

// TestHandwrittenWalk: the fastjson walk the benchmark times decodes the
// same snapshot castyjson does, so the comparison is like for like.
func TestHandwrittenWalk(t *testing.T) {
	r := castyjson.NewRegistry()
	payload, err := r.AppendValue(nil, snapshot(100))
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(payload)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fjSnapshot(v)
	if err != nil {
		t.Fatal(err)
	}
	w := want.(wire.TopologySnapshot)
	if got.AllocationEpoch != w.AllocationEpoch || len(got.Members) != len(w.Members) ||
		len(got.ShardAllocations["counter"]) != len(w.ShardAllocations["counter"]) || *got.Leader != *w.Leader {
		t.Fatalf("fastjson walk: got %+v, want %+v", got, w)
	}
}

// fjSnapshot is a hand-written (no reflection) fastjson tree walk into a
// TopologySnapshot: the best case for a fastjson-based decoder, used only
// as a benchmark baseline.
func fjSnapshot(v *fastjson.Value) (wire.TopologySnapshot, error) {
	var ts wire.TopologySnapshot
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
					var m wire.Member
					if m, err = fjMember(e); err != nil {
						return
					}
					ts.Members = append(ts.Members, m)
				}
			}
		case "leader":
			if v.Type() != fastjson.TypeNull {
				var n wire.NodeAddress
				if n, err = fjNode(v); err == nil {
					ts.Leader = &n
				}
			}
		case "shard_allocations":
			var pairs []*fastjson.Value
			if pairs, err = fjMarked(v, "__dict__"); err != nil {
				return
			}
			ts.ShardAllocations = make(map[string]map[int]wire.ShardAllocation, len(pairs))
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
				m := make(map[int]wire.ShardAllocation, len(inner))
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
					var a wire.ShardAllocation
					if a.Primary, err = fjNode(ikv[1].Get("primary")); err != nil {
						return
					}
					reps, e := fjMarked(ikv[1].Get("replicas"), "__tuple__")
					if e != nil {
						err = e
						return
					}
					for _, r := range reps {
						var n wire.NodeAddress
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
					var n wire.NodeAddress
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
					se := wire.ServiceEntry{Key: string(e.GetStringBytes("key")), Path: string(e.GetStringBytes("path"))}
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

func fjNode(v *fastjson.Value) (wire.NodeAddress, error) {
	if v == nil {
		return wire.NodeAddress{}, errors.New("missing node")
	}
	port, err := v.Get("port").Int()
	return wire.NodeAddress{Host: string(v.GetStringBytes("host")), Port: port}, err
}

func fjMember(v *fastjson.Value) (wire.Member, error) {
	var m wire.Member
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
