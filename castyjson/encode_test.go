package castyjson

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

func TestAppendPyFloat(t *testing.T) {
	// Expected strings from CPython's json.dumps (repr of float).
	for _, tc := range []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0.0"},
		{0x8000000000000000, "-0.0"},
		{0x3ff0000000000000, "1.0"},
		{0xbff8000000000000, "-1.5"},
		{0x3fb999999999999a, "0.1"},
		{0x3fd3333333333334, "0.30000000000000004"},
		{0x4341c37937e08000, "1e+16"},
		{0x430c6bf526340000, "1000000000000000.0"},
		{0x437b69b4ba630f35, "1.2345678901234568e+17"},
		{0x3f1a36e2eb1c432d, "0.0001"},
		{0x3ee4f8b588e368f1, "1e-05"},
		{0x3f202e4b6ce5dc68, "0.00012345"},
		{0x3e8421f5f40d8376, "1.5e-07"},
		{0x41dac22eeefd8e1b, "1795734459.9617984"},
		{0x0000000000000001, "5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0x4480f0cf064dd592, "1e+22"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3efa36e2eb1c432d, "2.5e-05"},
		{0x4059000000000000, "100.0"},
		{0x40934a456d5cfaad, "1234.5678"},
		{0xc341c37937e08000, "-1e+16"},
		{0x4341c37937e07fff, "9999999999999998.0"},
		{0x7ff8000000000000, "NaN"},
		{0x7ff0000000000000, "Infinity"},
		{0xfff0000000000000, "-Infinity"},
		{0x400921f9f01b866e, "3.14159"},
		{0x54b249ad2594c37d, "1e+100"},
		{0x43e56a95319d63e1, "1.2345678901234567e+19"},
		{0x3fe0000000000000, "0.5"},
		{0x01a56e1fc2f8f359, "1e-300"},
		{0x4011666666666666, "4.35"},
	} {
		f := math.Float64frombits(tc.bits)
		if got := string(appendPyFloat(nil, f, 64)); got != tc.want {
			t.Errorf("appendPyFloat(%v) = %q, want %q", f, got, tc.want)
		}
		if math.IsNaN(f) {
			continue
		}
		// And it parses back to the same float.
		r := NewRegistry()
		v, err := r.Decode([]byte(tc.want))
		if err != nil {
			t.Errorf("Decode(%q): %v", tc.want, err)
			continue
		}
		if g, ok := v.(float64); !ok || math.Float64bits(g) != tc.bits {
			t.Errorf("Decode(%q) = %#v, want float64 bits %#x", tc.want, v, tc.bits)
		}
	}
	if got := string(appendPyFloat(nil, float64(float32(0.1)), 32)); got != "0.1" {
		t.Errorf("float32 0.1 = %q, want 0.1", got)
	}
}

func TestEncodeExamples(t *testing.T) {
	r := testRegistry(t)
	leader := wire.NodeAddress{Host: "127.0.0.1", Port: 25560}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"subscribe", wire.SubscribeTopology{ReplyTo: mustRef(t, "casty://live-client@127.0.0.1:0/_topology_sub")},
			`{"_type": "casty.cluster.topology.SubscribeTopology", "reply_to": {"__ref__": "casty://live-client@127.0.0.1:0/_topology_sub"}}`},
		{"unsubscribe", wire.UnsubscribeTopology{Subscriber: mustRef(t, "casty://live-client@127.0.0.1:0/_topology_sub")},
			`{"_type": "casty.cluster.topology.UnsubscribeTopology", "subscriber": {"__ref__": "casty://live-client@127.0.0.1:0/_topology_sub"}}`},
		{"envelope", wire.ShardEnvelope{EntityID: "user-0", Message: Increment{Amount: 5}},
			`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "user-0", "message": {"_type": "app_messages.Increment", "amount": 5}}`},
		{"envelope pointer", &wire.ShardEnvelope{EntityID: "user-0", Message: &Increment{Amount: 5}},
			`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "user-0", "message": {"_type": "app_messages.Increment", "amount": 5}}`},
		{"get shard location", wire.GetShardLocation{ShardID: 3, ReplyTo: mustRef(t, "casty://live-client@127.0.0.1:0/_proxy-counter")},
			`{"_type": "casty.cluster.coordinator.GetShardLocation", "shard_id": 3, "reply_to": {"__ref__": "casty://live-client@127.0.0.1:0/_proxy-counter"}}`},
		{"shard location", wire.ShardLocation{ShardID: 3, Node: leader},
			`{"_type": "casty.cluster.coordinator.ShardLocation", "shard_id": 3, "node": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "replicas": {"__tuple__": []}}`},
		{"member", wire.Member{Address: leader, Status: wire.StatusUp, ID: "node-0"},
			`{"_type": "casty.cluster.state.Member", "address": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "status": {"__enum__": "casty.cluster.state.MemberStatus", "value": "up"}, "roles": {"__frozenset__": []}, "id": "node-0"}`},
		{"snapshot", wire.TopologySnapshot{
			Leader:           &leader,
			ShardAllocations: map[string]map[int]wire.ShardAllocation{"counter": {3: {Primary: leader}, 1: {Primary: leader, Replicas: []wire.NodeAddress{leader}}}},
			AllocationEpoch:  10,
		},
			`{"_type": "casty.cluster.topology.TopologySnapshot", "members": {"__frozenset__": []}, ` +
				`"leader": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, ` +
				`"shard_allocations": {"__dict__": [["counter", {"__dict__": [` +
				`[1, {"_type": "casty.cluster.state.ShardAllocation", "primary": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "replicas": {"__tuple__": [{"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}]}}], ` +
				`[3, {"_type": "casty.cluster.state.ShardAllocation", "primary": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "replicas": {"__tuple__": []}}]]}]]}, ` +
				`"allocation_epoch": 10, "unreachable": {"__frozenset__": []}, "registry": {"__frozenset__": []}}`},
		{"nil leader", wire.TopologySnapshot{}, `{"_type": "casty.cluster.topology.TopologySnapshot", "members": {"__frozenset__": []}, "leader": null, "shard_allocations": {"__dict__": []}, "allocation_epoch": 0, "unreachable": {"__frozenset__": []}, "registry": {"__frozenset__": []}}`},
		{"empty dataclass", ResetStats{}, `{"_type": "app_messages.ResetStats"}`},
		{"node stats", NodeStats{Node: "n", FirstAt: 1795734459.9617984, LastAt: math.Inf(-1)},
			`{"_type": "app_messages.NodeStats", "node": "n", "increments": 0, "amount_total": 0, "entities": 0, "first_at": 1795734459.9617984, "last_at": -Infinity}`},
		{"string escapes", "é\"\\\n\x7f😀", `"\u00e9\"\\\n\u007f\ud83d\ude00"`},
		{"nil", nil, "null"},
		{"int", 42, "42"},
		{"float", 2.0, "2.0"},
		{"nan", math.NaN(), "NaN"},
		{"bool", true, "true"},
		{"list", []any{int64(1), "a", nil, []string{"x"}}, `[1, "a", null, ["x"]]`},
		{"map", map[string]int{"b": 2, "a": 1}, `{"__dict__": [["a", 1], ["b", 2]]}`},
		{"map any keys", map[any]any{"s": 1, int64(2): true, nil: 0.5, false: "f"}, `{"__dict__": [[null, 0.5], [false, "f"], [2, true], ["s", 1]]}`},
		{"ref", mustRef(t, "casty://live@127.0.0.1:25561/stats"), `{"__ref__": "casty://live@127.0.0.1:25561/stats"}`},
		{"zero ref", wire.Ref{}, "null"},
		{"unknown", Unknown{Type: "m.X", Fields: map[string]any{"b": int64(1), "a": []any{}}}, `{"_type": "m.X", "a": [], "b": 1}`},
		{"enum", Enum{Type: "m.Color", Name: "RED"}, `{"__enum__": "m.Color", "value": "RED"}`},
		{"status", wire.StatusDown, `{"__enum__": "casty.cluster.state.MemberStatus", "value": "down"}`},
		{"zero enum", wire.MemberStatus(0), "null"},
		{"zero Unknown", Unknown{}, "null"},
		{"zero Enum", Enum{}, "null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.AppendValue([]byte("prefix"), tc.v)
			if err != nil {
				t.Fatalf("AppendValue: %v", err)
			}
			if string(got) != "prefix"+tc.want {
				t.Errorf("AppendValue\n got %s\nwant prefix%s", got, tc.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	type unregistered struct{ A int }
	type holder struct{ X any }
	r := testRegistry(t)
	if err := r.Register("t.Holder", holder{}); err != nil {
		t.Fatal(err)
	}
	type cyc struct {
		Next *cyc
	}
	if err := r.Register("t.Cyc", cyc{}); err != nil {
		t.Fatal(err)
	}
	loop := &cyc{}
	loop.Next = loop
	for _, tc := range []struct {
		name  string
		v     any
		field string
	}{
		{"unregistered struct", unregistered{}, ""},
		{"unregistered in envelope", wire.ShardEnvelope{EntityID: "e", Message: unregistered{}}, "message"},
		{"unregistered in field", holder{X: unregistered{}}, "x"},
		{"invalid enum", wire.MemberStatus(9), ""},
		{"invalid enum in member", wire.Member{Status: 6}, "status"},
		{"channel", make(chan int), ""},
		{"cycle", *loop, "next.next.next.next"},
		{"unknown without type", Unknown{Fields: map[string]any{"a": 1}}, ""},
		{"unknown with marker field", Unknown{Type: "x.Y", Fields: map[string]any{"__ref__": "x"}}, "__ref__"},
		{"enum value without name", Enum{Type: "x"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := r.AppendValue(dst, tc.v)
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("AppendValue(%#v) err = %v, want *EncodeError", tc.v, err)
			}
			if ee.Reason == internalErrorReason {
				t.Fatalf("internal error: %v", err)
			}
			if string(out) != "keep" {
				t.Errorf("dst = %q after error, want it unchanged", out)
			}
			if tc.field != "" && !strings.HasPrefix(ee.Field, tc.field) {
				t.Errorf("Field = %q, want prefix %q (%v)", ee.Field, tc.field, err)
			}
			if !strings.HasPrefix(err.Error(), "castyjson: encode") {
				t.Errorf("Error() = %q, want castyjson: encode prefix", err)
			}
		})
	}
}

func TestAppendMessageFrame(t *testing.T) {
	r := testRegistry(t)
	target := "casty://live@127.0.0.1:25560/_region-counter"
	sender := "casty://live-client@127.0.0.1:0/"
	msg := wire.ShardEnvelope{EntityID: "user-0", Message: Increment{Amount: 5}}
	frame, err := r.AppendMessageFrame([]byte("xx"), target, sender, msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	frame2, err := r.AppendEnvelopeFrame([]byte("xx"), target, sender, "user-0", Increment{Amount: 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(frame) != string(frame2) {
		t.Errorf("AppendEnvelopeFrame\n got %q\nwant %q", frame2, frame)
	}
	typ, body, n, err := wire.ParseFrame(frame[2:], 0)
	if err != nil || n != len(frame)-2 || typ != wire.FrameMessage {
		t.Fatalf("ParseFrame = %d, %d, %v", typ, n, err)
	}
	h, payload, err := wire.ParseMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := (wire.Header{Target: target, Sender: sender, TypeHint: wire.TypeShardEnvelope}); h != want {
		t.Errorf("header = %+v, want %+v", h, want)
	}
	got, err := r.Decode(payload)
	if err != nil || !valuesEqual(got, msg) {
		t.Errorf("payload decodes to %#v, %v", got, err)
	}
	// Too large: FrameError, dst unchanged.
	out, err := r.AppendMessageFrame([]byte("xx"), target, sender, msg, 50)
	if !errors.Is(err, wire.ErrFrameTooLarge) || string(out) != "xx" {
		t.Errorf("small maxFrame: %q, %v", out, err)
	}
	out, err = r.AppendEnvelopeFrame([]byte("xx"), target, sender, "e", Increment{}, 50)
	if !errors.Is(err, wire.ErrFrameTooLarge) || string(out) != "xx" {
		t.Errorf("AppendEnvelopeFrame small maxFrame: %q, %v", out, err)
	}
	// Unregistered message: EncodeError, dst unchanged.
	type unregistered struct{}
	out, err = r.AppendMessageFrame([]byte("xx"), target, sender, unregistered{}, 0)
	var ee *EncodeError
	if !errors.As(err, &ee) || string(out) != "xx" {
		t.Errorf("unregistered: %q, %v", out, err)
	}
	out, err = r.AppendEnvelopeFrame([]byte("xx"), target, sender, "e", unregistered{}, 0)
	if !errors.As(err, &ee) || string(out) != "xx" {
		t.Errorf("AppendEnvelopeFrame unregistered: %q, %v", out, err)
	}
	// Primitive reply: builtins type hint.
	frame, err = r.AppendMessageFrame(nil, target, sender, 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _, _ = wire.ParseFrame(frame, 0)
	h, payload, _ = wire.ParseMessage(body)
	if h.TypeHint != "builtins.int" || string(payload) != "42" {
		t.Errorf("primitive: %+v %q", h, payload)
	}
	// The zero Registry has no ShardEnvelope.
	var zero Registry
	if _, err := zero.AppendEnvelopeFrame(nil, target, sender, "e", 1, 0); err == nil {
		t.Error("zero Registry AppendEnvelopeFrame succeeded")
	}
	if v, err := zero.Decode([]byte(`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "e"}`)); err != nil || !valuesEqual(v, Unknown{Type: wire.TypeShardEnvelope, Fields: map[string]any{"entity_id": "e"}}) {
		t.Errorf("zero Registry Decode = %#v, %v", v, err)
	}
}
