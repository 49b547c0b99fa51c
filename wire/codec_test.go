package wire

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestSnakeCase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ShardID", "shard_id"},
		{"EntityID", "entity_id"},
		{"ReplyTo", "reply_to"},
		{"AllocationEpoch", "allocation_epoch"},
		{"ID", "id"},
		{"Amount", "amount"},
		{"AmountTotal", "amount_total"},
		{"FirstAt", "first_at"},
		{"HTTPServer", "http_server"},
		{"Value2", "value2"},
		{"X", "x"},
		{"already_snake", "already_snake"},
	} {
		if got := SnakeCase(tc.in); got != tc.want {
			t.Errorf("SnakeCase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

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
	leader := NodeAddress{Host: "127.0.0.1", Port: 25560}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"subscribe", SubscribeTopology{ReplyTo: mustRef(t, "casty://live-client@127.0.0.1:0/_topology_sub")},
			`{"_type": "casty.cluster.topology.SubscribeTopology", "reply_to": {"__ref__": "casty://live-client@127.0.0.1:0/_topology_sub"}}`},
		{"unsubscribe", UnsubscribeTopology{Subscriber: mustRef(t, "casty://live-client@127.0.0.1:0/_topology_sub")},
			`{"_type": "casty.cluster.topology.UnsubscribeTopology", "subscriber": {"__ref__": "casty://live-client@127.0.0.1:0/_topology_sub"}}`},
		{"envelope", ShardEnvelope{EntityID: "user-0", Message: Increment{Amount: 5}},
			`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "user-0", "message": {"_type": "app_messages.Increment", "amount": 5}}`},
		{"envelope pointer", &ShardEnvelope{EntityID: "user-0", Message: &Increment{Amount: 5}},
			`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "user-0", "message": {"_type": "app_messages.Increment", "amount": 5}}`},
		{"get shard location", GetShardLocation{ShardID: 3, ReplyTo: mustRef(t, "casty://live-client@127.0.0.1:0/_proxy-counter")},
			`{"_type": "casty.cluster.coordinator.GetShardLocation", "shard_id": 3, "reply_to": {"__ref__": "casty://live-client@127.0.0.1:0/_proxy-counter"}}`},
		{"shard location", ShardLocation{ShardID: 3, Node: leader},
			`{"_type": "casty.cluster.coordinator.ShardLocation", "shard_id": 3, "node": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "replicas": {"__tuple__": []}}`},
		{"member", Member{Address: leader, Status: StatusUp, ID: "node-0"},
			`{"_type": "casty.cluster.state.Member", "address": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "status": {"__enum__": "casty.cluster.state.MemberStatus", "value": "up"}, "roles": {"__frozenset__": []}, "id": "node-0"}`},
		{"snapshot", TopologySnapshot{
			Leader:           &leader,
			ShardAllocations: map[string]map[int]ShardAllocation{"counter": {3: {Primary: leader}, 1: {Primary: leader, Replicas: []NodeAddress{leader}}}},
			AllocationEpoch:  10,
		},
			`{"_type": "casty.cluster.topology.TopologySnapshot", "members": {"__frozenset__": []}, ` +
				`"leader": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, ` +
				`"shard_allocations": {"__dict__": [["counter", {"__dict__": [` +
				`[1, {"_type": "casty.cluster.state.ShardAllocation", "primary": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "replicas": {"__tuple__": [{"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}]}}], ` +
				`[3, {"_type": "casty.cluster.state.ShardAllocation", "primary": {"_type": "casty.cluster.state.NodeAddress", "host": "127.0.0.1", "port": 25560}, "replicas": {"__tuple__": []}}]]}]]}, ` +
				`"allocation_epoch": 10, "unreachable": {"__frozenset__": []}, "registry": {"__frozenset__": []}}`},
		{"nil leader", TopologySnapshot{}, `{"_type": "casty.cluster.topology.TopologySnapshot", "members": {"__frozenset__": []}, "leader": null, "shard_allocations": {"__dict__": []}, "allocation_epoch": 0, "unreachable": {"__frozenset__": []}, "registry": {"__frozenset__": []}}`},
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
		{"zero ref", Ref{}, "null"},
		{"unknown", Unknown{Type: "m.X", Fields: map[string]any{"b": int64(1), "a": []any{}}}, `{"_type": "m.X", "a": [], "b": 1}`},
		{"enum", Enum{Type: "m.Color", Name: "RED"}, `{"__enum__": "m.Color", "value": "RED"}`},
		{"status", StatusDown, `{"__enum__": "casty.cluster.state.MemberStatus", "value": "down"}`},
		{"zero enum", MemberStatus(0), "null"},
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
		{"unregistered in envelope", ShardEnvelope{EntityID: "e", Message: unregistered{}}, "message"},
		{"unregistered in field", holder{X: unregistered{}}, "x"},
		{"invalid enum", MemberStatus(9), ""},
		{"invalid enum in member", Member{Status: 6}, "status"},
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
			if !strings.HasPrefix(err.Error(), "wire: encode") {
				t.Errorf("Error() = %q, want wire: encode prefix", err)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	type ok struct{ A int }
	type other struct{ A int }
	type badOpt struct {
		A []int `casty:"a,set"`
	}
	type setOnInt struct {
		A int `casty:"a,frozenset"`
	}
	type chanField struct{ C chan int }
	type reserved struct {
		T string `casty:"_type"`
	}
	type dupName struct {
		A int `casty:"x"`
		B int `casty:"x"`
	}
	type funcInMap struct{ M map[string]func() }
	r := NewRegistry()
	if err := r.Register("t.Ok", ok{}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := r.Register("t.Ok", ok{}); err != nil {
		t.Errorf("re-Register same pair: %v, want nil", err)
	}
	for _, tc := range []struct {
		name   string
		py     string
		sample any
	}{
		{"empty name", "", ok{}},
		{"nil sample", "t.Nil", nil},
		{"pointer", "t.Ptr", &other{}},
		{"not a struct", "t.Int", 5},
		{"name taken", "t.Ok", other{}},
		{"type taken", "t.Ok2", ok{}},
		{"bad option", "t.BadOpt", badOpt{}},
		{"frozenset on int", "t.SetOnInt", setOnInt{}},
		{"channel field", "t.Chan", chanField{}},
		{"reserved name", "t.Reserved", reserved{}},
		{"duplicate json name", "t.Dup", dupName{}},
		{"func in map", "t.FuncInMap", funcInMap{}},
		{"builtin Ref", "t.Ref", Ref{}},
		{"builtin Unknown", "t.Unknown", Unknown{}},
	} {
		if err := r.Register(tc.py, tc.sample); err == nil {
			t.Errorf("%s: Register(%q, %T) = nil, want an error", tc.name, tc.py, tc.sample)
		} else if !strings.HasPrefix(err.Error(), "wire: ") {
			t.Errorf("%s: error %q lacks the wire: prefix", tc.name, err)
		}
	}
	// A failed registration leaves the registry usable and unchanged.
	if name, ok2 := r.TypeName(other{}); ok2 {
		t.Errorf("TypeName(other) = %q after failed Register", name)
	}
	if name, _ := r.TypeName(ok{}); name != "t.Ok" {
		t.Errorf("TypeName(ok) = %q, want t.Ok", name)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustRegister of a bad type did not panic")
		}
	}()
	r.MustRegister("t.Bad", 5)
}

func TestTypeName(t *testing.T) {
	r := testRegistry(t)
	type unregistered struct{}
	for _, tc := range []struct {
		v    any
		want string
		ok   bool
	}{
		{ShardEnvelope{}, TypeShardEnvelope, true},
		{&ShardEnvelope{}, TypeShardEnvelope, true},
		{TopologySnapshot{}, TypeTopologySnapshot, true},
		{Increment{}, pyIncrement, true},
		{&Increment{}, pyIncrement, true},
		{StatusUp, TypeMemberStatus, true},
		{Unknown{Type: "m.X"}, "m.X", true},
		{Enum{Type: "m.E", Name: "A"}, "m.E", true},
		{Ref{}, "casty.remote.ref.RemoteActorRef", true},
		{"s", "builtins.str", true},
		{42, "builtins.int", true},
		{uint8(4), "builtins.int", true},
		{1.5, "builtins.float", true},
		{true, "builtins.bool", true},
		{nil, "builtins.NoneType", true},
		{[]int{1}, "builtins.list", true},
		{map[string]int{}, "builtins.dict", true},
		{unregistered{}, "", false},
		{make(chan int), "", false},
	} {
		got, ok := r.TypeName(tc.v)
		if got != tc.want || ok != tc.ok {
			t.Errorf("TypeName(%T) = %q, %v; want %q, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDecodeGeneric(t *testing.T) {
	r := testRegistry(t)
	ref := mustRef(t, "casty://live-client@127.0.0.1:0/_topology_sub")
	for _, tc := range []struct {
		name string
		in   string
		want any
	}{
		{"registered", `{"_type": "app_messages.Increment", "amount": 5}`, Increment{Amount: 5}},
		{"registered, _type last", `{"amount": 5, "_type": "app_messages.Increment"}`, Increment{Amount: 5}},
		{"unknown fields ignored, missing zero", `{"_type": "app_messages.CountReply", "extra": [1, {"a": null}], "value": 3}`, CountReply{Value: 3}},
		{"duplicate key: last wins", `{"_type": "app_messages.Increment", "amount": 5, "amount": 6}`, Increment{Amount: 6}},
		{"integral float into int", `{"_type": "app_messages.Increment", "amount": 5.0}`, Increment{Amount: 5}},
		{"unregistered", `{"_type": "app.Other", "a": 1, "b": {"__ref__": "casty://live-client@127.0.0.1:0/_topology_sub"}, "c": {"__tuple__": [1.5, "x"]}}`,
			Unknown{Type: "app.Other", Fields: map[string]any{"a": int64(1), "b": ref, "c": []any{1.5, "x"}}}},
		{"unregistered empty", `{"_type": "app.Empty"}`, Unknown{Type: "app.Empty"}},
		{"ref", `{"__ref__": "casty://live-client@127.0.0.1:0/_topology_sub"}`, ref},
		{"registered enum", `{"__enum__": "casty.cluster.state.MemberStatus", "value": "leaving"}`, StatusLeaving},
		{"enum value first", `{"value": "up", "__enum__": "casty.cluster.state.MemberStatus"}`, StatusUp},
		{"unregistered enum", `{"__enum__": "m.Color", "value": "RED"}`, Enum{Type: "m.Color", Name: "RED"}},
		{"frozenset", `{"__frozenset__": [1, "a"]}`, []any{int64(1), "a"}},
		{"tuple", `{"__tuple__": []}`, []any{}},
		{"dict", `{"__dict__": [[1, "a"], ["k", {"__tuple__": [true]}], [null, 2.5], [{"_type": "casty.cluster.state.NodeAddress", "host": "h", "port": 1}, 0]]}`,
			map[any]any{int64(1): "a", "k": []any{true}, nil: 2.5, NodeAddress{Host: "h", Port: 1}: int64(0)}},
		{"plain object keeps markers raw", `{"a": {"__ref__": "x"}, "b": [{"__tuple__": [1]}], "_typ": 1}`,
			map[string]any{"a": map[string]any{"__ref__": "x"}, "b": []any{map[string]any{"__tuple__": []any{int64(1)}}}, "_typ": int64(1)}},
		{"empty object", `{}`, map[string]any{}},
		{"array", ` [1, -2.5e3, "s", null, true, false, NaN, Infinity, -Infinity] `,
			[]any{int64(1), -2500.0, "s", nil, true, false, math.NaN(), math.Inf(1), math.Inf(-1)}},
		{"big integer becomes float", `123456789012345678901234567890`, 1.2345678901234568e29},
		{"min int64", `-9223372036854775808`, int64(math.MinInt64)},
		{"escapes", `"a\u00e9\ud83d\ude00\n\/\ud800"`, "aé😀\n/\uFFFD"},
		{"null", `null`, nil},
		{"ref wins over _type", `{"_type": "app_messages.Increment", "amount": 1, "__ref__": "casty://live-client@127.0.0.1:0/_topology_sub"}`, ref},
		{"frozenset wins over _type", `{"_type": "app.Unknown", "x": 1, "__frozenset__": []}`, []any{}},
		{"ref wins over earlier tuple", `{"__tuple__": [1], "__ref__": "casty://live-client@127.0.0.1:0/_topology_sub"}`, ref},
		{"enum wins over later frozenset", `{"__enum__": "m.E", "value": "A", "__frozenset__": []}`, Enum{Type: "m.E", Name: "A"}},
		{"frozenset wins over earlier dict", `{"__dict__": [], "__frozenset__": [2]}`, []any{int64(2)}},
		{"enum without value is a plain object", `{"__enum__": "m.E", "x": 1}`, map[string]any{"__enum__": "m.E", "x": int64(1)}},
		{"marker with extra key", `{"__frozenset__": [1], "a": 2}`, []any{int64(1)}},
		{"envelope", `{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "user-0", "message": {"_type": "app_messages.Increment", "amount": 5}}`,
			ShardEnvelope{EntityID: "user-0", Message: Increment{Amount: 5}}},
		{"envelope of unknown", `{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "u", "message": {"_type": "app.M", "v": [1]}}`,
			ShardEnvelope{EntityID: "u", Message: Unknown{Type: "app.M", Fields: map[string]any{"v": []any{int64(1)}}}}},
		{"envelope of primitive", `{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "u", "message": "ping"}`,
			ShardEnvelope{EntityID: "u", Message: "ping"}},
		{"tolerant forms", `{"_type": "casty.cluster.state.Member", "roles": ["a"], "status": "down", "address": null}`,
			Member{Roles: []string{"a"}, Status: StatusDown}},
		{"whitespace", "\t{ \"_type\" :\"app_messages.Increment\" ,\n\"amount\" : 7 }\r\n", Increment{Amount: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Decode([]byte(tc.in))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tc.in, err)
			}
			if !valuesEqual(got, tc.want) || reflect.TypeOf(got) != reflect.TypeOf(tc.want) {
				t.Errorf("Decode(%s)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	r := testRegistry(t)
	for _, tc := range []struct {
		name  string
		in    string
		typ   string
		field string
	}{
		{"empty", ``, "", ""},
		{"garbage", `x`, "", ""},
		{"trailing", `1 2`, "", ""},
		{"unterminated object", `{"_type": "app_messages.Increment", "amount": 5`, "", ""},
		{"trailing comma", `[1, 2,]`, "", "[2]"},
		{"object trailing comma", `{"a": 1,}`, "", ""},
		{"leading zero", `01`, "", ""},
		{"plus sign", `+1`, "", ""},
		{"lowercase nan", `nan`, "", ""},
		{"bare Inf", `Inf`, "", ""},
		{"single quotes", `'a'`, "", ""},
		{"control char in string", "\"a\x01\"", "", ""},
		{"bad escape", `"\x"`, "", ""},
		{"invalid utf8", "\"\xff\"", "", ""},
		{"missing colon", `{"a" 1}`, "", ""},
		{"non-string key", `{1: 2}`, "", ""},
		{"wrong field type", `{"_type": "app_messages.Increment", "amount": "five"}`, pyIncrement, "amount"},
		{"fractional int", `{"_type": "app_messages.Increment", "amount": 5.5}`, pyIncrement, "amount"},
		{"int overflow", `{"_type": "app_messages.Increment", "amount": 99999999999999999999}`, pyIncrement, "amount"},
		{"bad enum member", `{"_type": "casty.cluster.state.Member", "status": {"__enum__": "casty.cluster.state.MemberStatus", "value": "dead"}}`, TypeMember, "status"},
		{"wrong enum type", `{"_type": "casty.cluster.state.Member", "status": {"__enum__": "x.Other", "value": "up"}}`, TypeMember, "status"},
		{"bad ref", `{"_type": "casty.cluster.topology.SubscribeTopology", "reply_to": {"__ref__": "http://x"}}`, TypeSubscribeTopology, "reply_to.__ref__"},
		{"ref not object", `{"_type": "casty.cluster.topology.SubscribeTopology", "reply_to": 5}`, TypeSubscribeTopology, "reply_to"},
		{"nested error path", `{"_type": "casty.cluster.topology.TopologySnapshot", "members": {"__frozenset__": [{"_type": "casty.cluster.state.Member"}, {"_type": "casty.cluster.state.Member", "address": {"_type": "casty.cluster.state.NodeAddress", "port": "x"}}]}}`,
			TypeTopologySnapshot, "members.__frozenset__[1].address.port"},
		{"wrong nested _type", `{"_type": "casty.cluster.coordinator.ShardLocation", "node": {"_type": "casty.cluster.state.Member"}}`, TypeShardLocation, "node"},
		{"marker in dataclass field", `{"_type": "casty.cluster.coordinator.ShardLocation", "node": {"__ref__": "casty://a@b:1/c"}}`, TypeShardLocation, "node"},
		{"dict without __dict__", `{"_type": "casty.cluster.topology.TopologySnapshot", "shard_allocations": {"__dict__": [["counter", {"1": {}}]]}}`, TypeTopologySnapshot, "shard_allocations.__dict__[0][1]"},
		{"bad pair", `{"__dict__": [[1]]}`, "", "__dict__[0]"},
		{"pair of three", `{"__dict__": [[1, 2, 3]]}`, "", "__dict__[0]"},
		{"unhashable dict key", `{"__dict__": [[[1], 2]]}`, "", "__dict__[0]"},
		{"unhashable unknown key", `{"__dict__": [[{"_type": "a.B", "x": 1}, 2]]}`, "", "__dict__[0]"},
		{"unhashable tuple key", `{"__dict__": [[{"__tuple__": [1]}, 2]]}`, "", "__dict__[0]"},
		{"_type names enum", `{"_type": "casty.cluster.state.MemberStatus"}`, TypeMemberStatus, ""},
		{"__enum__ names dataclass", `{"__enum__": "app_messages.Increment", "value": "x"}`, pyIncrement, ""},
		{"empty _type", `{"_type": ""}`, "", "_type"},
		{"empty _type, slow path", `{"a": 1, "_type": ""}`, "", "_type"},
		{"empty enum", `{"__enum__": "", "value": "x"}`, "", "__enum__"},
		{"_type not string", `{"_type": 5, "a": 1}`, "", "_type"},
		{"frozenset not array", `{"__frozenset__": 1}`, "", "__frozenset__"},
		{"slice from scalar", `{"_type": "casty.cluster.state.Member", "roles": "admin"}`, TypeMember, "roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := r.Decode([]byte(tc.in))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%q) = %#v, %v; want *DecodeError", tc.in, v, err)
			}
			if de.Reason == internalErrorReason {
				t.Fatalf("internal error: %v", err)
			}
			if de.Type != tc.typ {
				t.Errorf("Type = %q, want %q (%v)", de.Type, tc.typ, err)
			}
			if de.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", de.Field, tc.field, err)
			}
			if !strings.HasPrefix(err.Error(), "wire: decode") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestDecodeErrorUnwrap(t *testing.T) {
	r := testRegistry(t)
	_, err := r.Decode([]byte(`{"_type": "casty.cluster.topology.SubscribeTopology", "reply_to": {"__ref__": "nope"}}`))
	var ae *AddressError
	if !errors.As(err, &ae) {
		t.Errorf("err = %v, want it to wrap *AddressError", err)
	}
	_, err = r.Decode([]byte(`{"__enum__": "casty.cluster.state.MemberStatus", "value": "dead"}`))
	var ee *EnumError
	if !errors.As(err, &ee) {
		t.Errorf("err = %v, want it to wrap *EnumError", err)
	}
}

func TestLimits(t *testing.T) {
	r := testRegistry(t)
	if err := r.SetLimits(Limits{MaxDepth: -1, MaxString: -2}); err == nil || !strings.Contains(err.Error(), "MaxDepth") || !strings.Contains(err.Error(), "MaxString") {
		t.Errorf("SetLimits(negative) = %v, want an error naming both fields", err)
	}
	if err := r.SetLimits(Limits{MaxDepth: MaxDepthLimit + 1, MaxCollection: -1}); err == nil || !strings.Contains(err.Error(), "MaxDepth") || !strings.Contains(err.Error(), "MaxCollection") {
		t.Errorf("SetLimits(too deep) = %v, want an error naming both fields", err)
	}
	if got := r.Limits(); got != (Limits{DefaultMaxDepth, DefaultMaxString, DefaultMaxCollection}) {
		t.Errorf("Limits() = %+v, want the defaults", got)
	}
	if err := r.SetLimits(Limits{MaxDepth: 4, MaxString: 16, MaxCollection: 3}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`[[[[1]]]]`, true},
		{`[[[[[1]]]]]`, false},
		{`{"a": {"b": {"c": {"d": 1}}}}`, true},
		{`{"a": {"b": {"c": {"d": {}}}}}`, false},
		{`{"__frozenset__": [{"__tuple__": [1]}]}`, true},
		{`{"__frozenset__": [{"__tuple__": [[1]]}]}`, false},
		{`{"x": {"a": {"b": {"c": [1]}}}}`, false}, // skipped raw values count too
		{`"1234567812345678"`, true},
		{`"12345678123456789"`, false},
		{`"\u00e9\u00e9\u00e9"`, false}, // raw (escaped) length counts
		{`{"12345678123456789": 1}`, false},
		{`{"a": 1, "x": "12345678123456789"}`, false}, // skipped strings too
		{`[1, 2, 3]`, true},
		{`[1, 2, 3, 4]`, false},
		{`{"a": 1, "b": 2, "c": 3, "d": 4}`, false},
		{`{"__dict__": [[1, 1], [2, 2], [3, 3], [4, 4]]}`, false},
	} {
		_, err := r.Decode([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("Decode(%s) err = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	// Deep nesting with default limits: an error, not a stack overflow.
	r2 := NewRegistry()
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	if _, err := r2.Decode([]byte(deep)); err == nil {
		t.Error("Decode(100000 nested arrays) succeeded")
	}
	// The largest MaxDepth: no stack trouble at the limit.
	r3 := NewRegistry()
	if err := r3.SetLimits(Limits{MaxDepth: MaxDepthLimit}); err != nil {
		t.Fatal(err)
	}
	atLimit := strings.Repeat(`{"__tuple__": [`, MaxDepthLimit/2) + strings.Repeat("]}", MaxDepthLimit/2)
	if _, err := r3.Decode([]byte(atLimit)); err != nil {
		t.Errorf("Decode(%d levels) with MaxDepth %d: %v", MaxDepthLimit, MaxDepthLimit, err)
	}
	if _, err := r3.Decode([]byte("[" + atLimit + "]")); err == nil {
		t.Errorf("Decode(%d levels) with MaxDepth %d succeeded", MaxDepthLimit+1, MaxDepthLimit)
	}
	deepObj := strings.Repeat(`{"a": `, 100000) + "1" + strings.Repeat("}", 100000)
	if _, err := r2.Decode([]byte(deepObj)); err == nil {
		t.Error("Decode(100000 nested objects) succeeded")
	}
}

func TestDecodeInto(t *testing.T) {
	r := testRegistry(t)
	var env ShardEnvelope
	env.EntityID = "stale"
	if err := r.DecodeInto([]byte(`{"_type": "casty.cluster.envelope.ShardEnvelope", "message": {"_type": "app_messages.Increment", "amount": 5}}`), &env); err != nil {
		t.Fatal(err)
	}
	if want := (ShardEnvelope{Message: Increment{Amount: 5}}); !valuesEqual(env, want) {
		t.Errorf("got %#v, want %#v (missing fields must be reset)", env, want)
	}
	var n int
	if err := r.DecodeInto([]byte(`42`), &n); err != nil || n != 42 {
		t.Errorf("DecodeInto(int) = %d, %v", n, err)
	}
	var s []string
	if err := r.DecodeInto([]byte(`{"__frozenset__": ["a", "b"]}`), &s); err != nil || !reflect.DeepEqual(s, []string{"a", "b"}) {
		t.Errorf("DecodeInto([]string) = %v, %v", s, err)
	}
	var st MemberStatus
	if err := r.DecodeInto([]byte(`{"__enum__": "casty.cluster.state.MemberStatus", "value": "removed"}`), &st); err != nil || st != StatusRemoved {
		t.Errorf("DecodeInto(MemberStatus) = %v, %v", st, err)
	}
	type unregistered struct{}
	for _, dst := range []any{nil, env, (*ShardEnvelope)(nil), &unregistered{}} {
		if err := r.DecodeInto([]byte(`{}`), dst); err == nil {
			t.Errorf("DecodeInto(%T) = nil, want an error", dst)
		}
	}
	var inc Increment
	for _, in := range []string{`null`, `{"_type": "app_messages.GetCount"}`, `{"__ref__": "casty://a@b:1/c"}`, `{"_type": "app_messages.Increment"} x`} {
		var de *DecodeError
		if err := r.DecodeInto([]byte(in), &inc); !errors.As(err, &de) {
			t.Errorf("DecodeInto(%s) = %v, want *DecodeError", in, err)
		}
	}
}

// Types exercising the reflection plans beyond the protocol types.
type (
	treeNode struct {
		Name     string
		Children []treeNode `casty:"children,tuple"`
		Parent   *treeNode
	}
	outer struct {
		In    inner
		InPtr *inner
		Ins   []inner
	}
	inner struct {
		X int8
	}
	embedded struct {
		base
		Own string `casty:"own"`
	}
	base struct {
		ID   string
		Skip int `casty:"-"`
		priv int // unexported: not encoded
	}
	allKinds struct {
		B    bool
		I    int
		I8   int8
		I16  int16
		I32  int32
		I64  int64
		U    uint
		U8   uint8
		U16  uint16
		U32  uint32
		U64  uint64
		F32  float32
		F64  float64
		S    string
		Any  any
		Ptr  *int
		PPtr **string
		Arr  [3]int
		Bs   []byte
		Set  []string  `casty:"set,frozenset"`
		Tup  [2]string `casty:"tup,tuple"`
		MI   map[int]string
		MS   map[string][]int
		MK   map[inner]bool
		MA   map[any]any
		Ref  Ref
		Refs []Ref
		St   MemberStatus
		StP  *MemberStatus
		Unk  Unknown
		En   Enum
		Nest [][]float64
	}
	selfEncoded struct {
		V int
	}
)

func (s selfEncoded) AppendCastyJSON(dst []byte) []byte {
	dst = append(dst, `{"_type": "t.Self", "v": `...)
	dst = append(dst, byte('0'+s.V%10))
	return append(dst, '}')
}

func TestRoundTrip(t *testing.T) {
	r := testRegistry(t)
	// outer is registered before inner: nested plans pick up names
	// registered later.
	for name, sample := range map[string]any{
		"t.Tree": treeNode{}, "t.Outer": outer{}, "t.Embedded": embedded{}, "t.AllKinds": allKinds{}, "t.Self": selfEncoded{},
	} {
		if err := r.Register(name, sample); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.AppendValue(nil, outer{}); err == nil {
		t.Error("encoding outer before inner is registered succeeded")
	}
	r.MustRegister("t.Inner", inner{})
	seven, str := 7, "pp"
	pstr := &str
	status := StatusJoining
	leader := NodeAddress{Host: "10.0.0.1", Port: 1}
	values := []any{
		Increment{Amount: -3},
		GetCount{ReplyTo: mustRef(t, "casty://live-client@127.0.0.1:0/_ask/a18c220c594c49e1bedd87f497db1657")},
		CountReply{EntityID: "user-0", Value: 8},
		NodeStats{Node: "node-0@127.0.0.1:25560", Increments: 2, AmountTotal: 8, Entities: 1, FirstAt: 1795734459.9617984, LastAt: math.NaN()},
		ResetStats{},
		ShardEnvelope{EntityID: "é\x00", Message: GetCount{ReplyTo: mustRef(t, "casty://sys/local/path")}},
		ShardEnvelope{EntityID: "x", Message: nil},
		ShardEnvelope{EntityID: "x", Message: ShardEnvelope{EntityID: "y", Message: Increment{Amount: 1}}},
		TopologySnapshot{
			Members: []Member{
				{Address: leader, Status: StatusUp, Roles: []string{"a", "b"}, ID: "n0"},
				{Address: NodeAddress{Host: "::1", Port: 2}, Status: StatusDown, ID: "n1"},
			},
			Leader:           &leader,
			ShardAllocations: map[string]map[int]ShardAllocation{"counter": {0: {Primary: leader, Replicas: []NodeAddress{leader}}}, "other": {}},
			AllocationEpoch:  1 << 40,
			Unreachable:      []NodeAddress{leader},
			Registry:         []ServiceEntry{{Key: "node-stats", Node: leader, Path: "/stats"}},
		},
		ShardLocation{ShardID: 99, Node: leader, Replicas: []NodeAddress{leader, leader}},
		UnsubscribeTopology{Subscriber: mustRef(t, "casty://s@[::1]:9/_topology_sub")},
		treeNode{Name: "root", Children: []treeNode{{Name: "a"}, {Name: "b", Children: []treeNode{{Name: "c"}}}}, Parent: &treeNode{Name: "up"}},
		outer{In: inner{X: -8}, InPtr: &inner{X: 127}, Ins: []inner{{1}, {2}}},
		embedded{base: base{ID: "id", priv: 0}, Own: "own"},
		allKinds{
			B: true, I: -1, I8: -128, I16: 32767, I32: -5, I64: math.MinInt64, U: 1, U8: 255, U16: 65535, U32: 1 << 31, U64: math.MaxUint64,
			F32: 0.1, F64: math.Inf(1), S: "\u2028\t", Any: []any{int64(1), map[any]any{"k": Enum{Type: "e.E", Name: "A"}}},
			Ptr: &seven, PPtr: &pstr, Arr: [3]int{1, 2, 3}, Bs: []byte("hi"), Set: []string{"z", "a"}, Tup: [2]string{"p", "q"},
			MI: map[int]string{3: "c", -1: "a"}, MS: map[string][]int{"k": {1}}, MK: map[inner]bool{{X: 1}: true},
			MA:  map[any]any{int64(1): "one", "two": 2.0, NodeAddress{Host: "h"}: nil},
			Ref: mustRef(t, "casty://a@b:1/c"), Refs: []Ref{mustRef(t, "casty://a/x/y")}, St: StatusRemoved, StP: &status,
			Unk: Unknown{Type: "u.U", Fields: map[string]any{"f": "v"}}, En: Enum{Type: "e.E", Name: "B"}, Nest: [][]float64{{1.5}, {}},
		},
		selfEncoded{V: 4},
		Unknown{Type: "m.X", Fields: map[string]any{"a": []any{"b", nil}, "n": Unknown{Type: "m.Y"}}},
		Enum{Type: "m.E", Name: "X"},
		StatusUp,
		mustRef(t, "casty://live@127.0.0.1:25561/stats"),
		"plain", int64(-1), 0.25, true, nil,
		[]any{[]any{}, map[any]any{}},
	}
	for _, v := range values {
		enc, err := r.AppendValue(nil, v)
		if err != nil {
			t.Errorf("AppendValue(%#v): %v", v, err)
			continue
		}
		got, err := r.Decode(enc)
		if err != nil {
			t.Errorf("Decode(%s): %v", enc, err)
			continue
		}
		if !valuesEqual(got, v) {
			t.Errorf("round trip of %T\n  in %#v\n enc %s\n out %#v", v, v, enc, got)
		}
		// DecodeInto a value of the same type agrees.
		if v != nil {
			if _, ok := r.TypeName(v); ok && reflect.TypeOf(v).Kind() == reflect.Struct && reflect.TypeOf(v) != unknownType && reflect.TypeOf(v) != enumValueType && reflect.TypeOf(v) != refType {
				p := reflect.New(reflect.TypeOf(v))
				if err := r.DecodeInto(enc, p.Interface()); err != nil {
					t.Errorf("DecodeInto(%T): %v", v, err)
				} else if !valuesEqual(p.Elem().Interface(), v) {
					t.Errorf("DecodeInto(%T) = %#v, want %#v", v, p.Elem().Interface(), v)
				}
			}
		}
	}
}

// TestConcurrentRegister runs registrations, encodes and decodes at once
// (meaningful under -race).
func TestConcurrentRegister(t *testing.T) {
	r := testRegistry(t)
	type a struct{ N int }
	type b struct{ N int }
	type c struct{ N int }
	payload := []byte(`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "e", "message": {"_type": "app_messages.Increment", "amount": 5}}`)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 512)
			for i := 0; i < 200; i++ {
				if _, err := r.Decode(payload); err != nil {
					t.Error(err)
					return
				}
				var err error
				if buf, err = r.AppendMessageFrame(buf[:0], "casty://live@127.0.0.1:1/_region-counter", "casty://c@127.0.0.1:0/", ShardEnvelope{EntityID: "e", Message: []any{int64(i)}}, 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i, s := range []any{a{}, b{}, c{}} {
		if err := r.Register("t.T"+string(rune('a'+i)), s); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

func TestAppendMessageFrame(t *testing.T) {
	r := testRegistry(t)
	target := "casty://live@127.0.0.1:25560/_region-counter"
	sender := "casty://live-client@127.0.0.1:0/"
	msg := ShardEnvelope{EntityID: "user-0", Message: Increment{Amount: 5}}
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
	typ, body, n, err := ParseFrame(frame[2:], 0)
	if err != nil || n != len(frame)-2 || typ != FrameMessage {
		t.Fatalf("ParseFrame = %d, %d, %v", typ, n, err)
	}
	h, payload, err := ParseMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Header{Target: target, Sender: sender, TypeHint: TypeShardEnvelope}); h != want {
		t.Errorf("header = %+v, want %+v", h, want)
	}
	got, err := r.Decode(payload)
	if err != nil || !valuesEqual(got, msg) {
		t.Errorf("payload decodes to %#v, %v", got, err)
	}
	// Too large: FrameError, dst unchanged.
	out, err := r.AppendMessageFrame([]byte("xx"), target, sender, msg, 50)
	if !errors.Is(err, ErrFrameTooLarge) || string(out) != "xx" {
		t.Errorf("small maxFrame: %q, %v", out, err)
	}
	out, err = r.AppendEnvelopeFrame([]byte("xx"), target, sender, "e", Increment{}, 50)
	if !errors.Is(err, ErrFrameTooLarge) || string(out) != "xx" {
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
	_, body, _, _ = ParseFrame(frame, 0)
	h, payload, _ = ParseMessage(body)
	if h.TypeHint != "builtins.int" || string(payload) != "42" {
		t.Errorf("primitive: %+v %q", h, payload)
	}
	// The zero Registry has no ShardEnvelope.
	var zero Registry
	if _, err := zero.AppendEnvelopeFrame(nil, target, sender, "e", 1, 0); err == nil {
		t.Error("zero Registry AppendEnvelopeFrame succeeded")
	}
	if v, err := zero.Decode([]byte(`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "e"}`)); err != nil || !valuesEqual(v, Unknown{Type: TypeShardEnvelope, Fields: map[string]any{"entity_id": "e"}}) {
		t.Errorf("zero Registry Decode = %#v, %v", v, err)
	}
}

// TestRescanBudget: objects whose members come in an order Casty never
// writes are decoded with from_dict's precedence by a second scan; nested
// deeply, the rescanning is bounded by a budget linear in the payload.
func TestRescanBudget(t *testing.T) {
	r := NewRegistry()
	bulk := "[" + strings.Repeat("1, ", 30000) + "1]"
	nest := func(open, close string, n int) []byte {
		return []byte(strings.Repeat(open, n) + bulk + strings.Repeat(close, n))
	}
	// As Casty writes them: one pass, decodes.
	for _, p := range [][]byte{
		nest(`{"_type": "x.Y", "f": `, `}`, 60),
		nest(`{"__frozenset__": [`, `]}`, 31),
		nest(`{"__tuple__": [{"_type": "x.Y", "f": `, `}]}`, 20),
	} {
		if _, err := r.Decode(p); err != nil {
			t.Errorf("Decode(%.40s...): %v", p, err)
		}
	}
	// Unusual orders, a few levels deep: still decoded.
	for _, p := range [][]byte{
		nest(`{"a": 1, "_type": "x.Y", "f": `, `}`, 3),
		nest(`{"f": `, `}`, 60), // plain objects: one rescan in all
	} {
		if _, err := r.Decode(p); err != nil {
			t.Errorf("Decode(%.40s...): %v", p, err)
		}
	}
	// Unusual orders nested deeply: the budget runs out.
	for _, p := range [][]byte{
		nest(`{"a": 1, "_type": "x.Y", "f": `, `}`, 60),
		nest(`{"a": 1, "__frozenset__": [`, `]}`, 30),
		nest(`{"_type": "x.Y", "f": `, `, "__tuple__": []}`, 60),
	} {
		_, err := r.Decode(p)
		var de *DecodeError
		if !errors.As(err, &de) || !strings.Contains(de.Reason, "budget") {
			t.Errorf("Decode(%.40s...) = %v, want the rescanning budget error", p, err)
		}
	}
}
