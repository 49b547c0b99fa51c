package castyjson

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/zerohop/zerohop/wire"
)

// fuzzRegistries returns the registry under test (protocol types, the
// demo's app messages and the reflection test types) and a twin with a
// larger MaxDepth for re-decoding: a plain JSON object decodes to a map,
// which re-encodes as {"__dict__": [[k, v]]}, three levels instead of one
// (Casty's JsonSerializer behaves the same way).
func fuzzRegistries(tb testing.TB) (*Registry, *Registry) {
	tb.Helper()
	mk := func() *Registry {
		r := testRegistry(tb)
		for name, sample := range map[string]any{
			"t.Tree": treeNode{}, "t.Outer": outer{}, "t.Inner": inner{}, "t.Embedded": embedded{},
			"t.AllKinds": allKinds{}, "t.Self": selfEncoded{},
		} {
			r.MustRegister(name, sample)
		}
		return r
	}
	r, r2 := mk(), mk()
	if err := r2.SetLimits(Limits{MaxDepth: 4 * DefaultMaxDepth}); err != nil {
		tb.Fatal(err)
	}
	return r, r2
}

var fuzzDecodeSeeds = []string{
	`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "user-0", "message": {"_type": "app_messages.Increment", "amount": 5}}`,
	`{"_type": "casty.cluster.topology.TopologySnapshot", "members": {"__frozenset__": [{"_type": "casty.cluster.state.Member", "address": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25562}, "status": {"__enum__": "casty.cluster.state.MemberStatus", "value": "up"}, "roles": {"__frozenset__": []}, "id": "node-2"}]}, "leader": null, "shard_allocations": {"__dict__": [["counter", {"__dict__": [[3, {"_type": "casty.cluster.state.ShardAllocation", "primary": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "replicas": {"__tuple__": []}}]]}]]}, "allocation_epoch": 10, "unreachable": {"__frozenset__": []}, "registry": {"__frozenset__": []}}`,
	`{"_type": "app_messages.NodeStats", "node": "n", "increments": 2, "amount_total": 8, "entities": 1, "first_at": 1795734459.9617984, "last_at": NaN}`,
	`{"_type": "app.Unknown", "a": [1, 2.5, "x", null, true], "b": {"plain": {"__ref__": 1}}, "c": {"__dict__": [[{"__tuple__": [1]}, 2]]}}`,
	`{"__ref__": "casty://live@127.0.0.1:25561/stats"}`,
	`{"__enum__": "casty.cluster.state.MemberStatus", "value": "down"}`,
	`{"__dict__": [[1, "a"], ["b", {"__frozenset__": [Infinity, -Infinity]}]]}`,
	`{"value": "x", "__enum__": "m.E"}`,
	`{"_type": "t.AllKinds", "mk": {"__dict__": [[{"_type": "t.Inner", "x": 1}, true]]}, "ma": {"__dict__": [[null, 1]]}, "arr": [1, 2, 3], "p_ptr": "s", "unk": {"_type": "u.U"}, "en": {"__enum__": "e.E", "value": "A"}}`,
	`{"_type": "t.Tree", "name": "r", "children": {"__tuple__": [{"_type": "t.Tree", "name": "c", "parent": {"_type": "t.Tree"}}]}}`,
	`"\ud83d\ude00\u00e9\n"`, `-0.0`, `1e400`, `[[[]]]`, `{}`, `123456789012345678901234567890`,
}

// FuzzDecode: arbitrary payloads never panic and fail only with a
// *DecodeError; whatever decodes re-encodes, and decoding that again gives
// an equal value.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzDecodeSeeds {
		f.Add([]byte(s))
	}
	seen := map[string]bool{}
	for _, m := range loadGoldenMessages(f) {
		if seen[m.TypeHint] {
			continue
		}
		seen[m.TypeHint] = true
		_, payload := goldenPayload(f, m)
		f.Add(payload)
	}
	r, r2 := fuzzRegistries(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := r.Decode(data)
		checkDecodeErr(t, err)
		for _, dst := range []any{new(wire.TopologySnapshot), new(wire.ShardEnvelope), new(allKinds), new(treeNode), new(any), new(map[int][]string)} {
			checkDecodeErr(t, r.DecodeInto(data, dst))
		}
		if err != nil {
			return
		}
		enc, err := r.AppendValue(nil, v)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", v, err)
		}
		v2, err := r2.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v\n in %q\nenc %q", err, data, enc)
		}
		if !valuesEqual(v, v2) {
			t.Fatalf("decode(encode(x)) != x\n   x %#v\n got %#v\n enc %q", v, v2, enc)
		}
	})
}

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v, want *DecodeError", err, err)
	}
	if de.Reason == internalErrorReason {
		t.Fatalf("decoder panicked: %v", err)
	}
}

// FuzzRoundTrip builds protocol and application values from fuzzed fields
// and checks decode(encode(x)) == x, through AppendValue and through whole
// message frames.
func FuzzRoundTrip(f *testing.F) {
	f.Add("user-0", int64(5), "127.0.0.1", uint16(25560), "_proxy-counter", 1795734459.9617984, 3, uint8(1), "counter")
	f.Add("", int64(-1), "::1", uint16(0), "a/b", math.Inf(-1), -7, uint8(200), "")
	f.Add("é😀\x00\"\\", int64(math.MinInt64), "h", uint16(65535), "_ask/a18c220c594c49e1bedd87f497db1657", 1e-300, 1<<40, uint8(4), "__ref__")
	r, r2 := fuzzRegistries(f)
	f.Fuzz(func(t *testing.T, s string, n int64, host string, port uint16, path string, fl float64, shard int, status uint8, role string) {
		for _, x := range []string{s, host, path, role} {
			if !utf8.ValidString(x) {
				return // the encoder writes invalid UTF-8 as U+FFFD: not an identity
			}
		}
		node := wire.NodeAddress{Host: host, Port: int(port)}
		var ref wire.Ref
		if a, err := wire.ParseAddress("casty://live-client@" + host + ":" + strconv.Itoa(int(port)) + "/" + path); err == nil {
			ref = wire.Ref{Address: a}
		} else if a, err := wire.ParseAddress("casty://live/" + path); err == nil {
			ref = wire.Ref{Address: a}
		}
		st := wire.MemberStatus(status%5 + 1)
		values := []any{
			wire.ShardEnvelope{EntityID: s, Message: Increment{Amount: int(n)}},
			wire.ShardEnvelope{EntityID: s, Message: GetCount{ReplyTo: ref}},
			wire.ShardEnvelope{EntityID: s, Message: s},
			wire.GetShardLocation{ShardID: shard, ReplyTo: ref},
			wire.ShardLocation{ShardID: shard, Node: node, Replicas: []wire.NodeAddress{node}},
			wire.SubscribeTopology{ReplyTo: ref},
			wire.UnsubscribeTopology{Subscriber: ref},
			CountReply{EntityID: s, Value: int(n)},
			NodeStats{Node: s, Increments: int(n), FirstAt: fl, LastAt: -fl},
			wire.TopologySnapshot{
				Members:          []wire.Member{{Address: node, Status: st, Roles: []string{role, s}, ID: s}},
				Leader:           &node,
				ShardAllocations: map[string]map[int]wire.ShardAllocation{role: {shard: {Primary: node}, shard ^ 1: {Primary: node, Replicas: []wire.NodeAddress{node}}}},
				AllocationEpoch:  n,
				Unreachable:      []wire.NodeAddress{node},
				Registry:         []wire.ServiceEntry{{Key: role, Node: node, Path: path}},
			},
			allKinds{I: int(n), U8: status, F32: float32(fl), F64: fl, S: s, Any: []any{s, n, fl}, MI: map[int]string{shard: s},
				MS: map[string][]int{role: {shard}}, MA: map[any]any{s: n, n: fl}, Ref: ref, St: st, Tup: [2]string{s, role}},
			treeNode{Name: s, Children: []treeNode{{Name: role}}, Parent: &treeNode{Name: path}},
			s, n, fl, []any{s, fl},
		}
		if !isMarkerKey(role) && role != "" {
			values = append(values, Unknown{Type: "app." + role, Fields: map[string]any{role: s, "n": n}})
			values = append(values, Enum{Type: "app." + role, Name: s + "x"})
		}
		buf := make([]byte, 0, 1024)
		for _, v := range values {
			enc, err := r.AppendValue(buf[:0], v)
			if err != nil {
				t.Fatalf("AppendValue(%#v): %v", v, err)
			}
			got, err := r2.Decode(enc)
			if err != nil || !valuesEqual(got, v) {
				t.Fatalf("round trip: %v\n  in %#v\n enc %q\n out %#v", err, v, enc, got)
			}
			frame, err := r.AppendMessageFrame(buf[:0], "casty://live@127.0.0.1:25560/_region-"+role, "casty://live-client@127.0.0.1:0/", v, 0)
			if err != nil {
				t.Fatalf("AppendMessageFrame(%#v): %v", v, err)
			}
			_, body, _, err := wire.ParseFrame(frame, 0)
			if err != nil {
				t.Fatal(err)
			}
			h, payload, err := wire.ParseMessage(body)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := r.TypeName(v); h.TypeHint != want {
				t.Fatalf("type_hint %q, want %q", h.TypeHint, want)
			}
			if got, err := r2.Decode(payload); err != nil || !valuesEqual(got, v) {
				t.Fatalf("frame round trip: %v\n  in %#v\n out %#v", err, v, got)
			}
		}
	})
}
