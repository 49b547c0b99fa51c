package castyjson

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

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
		{"registered enum", `{"__enum__": "casty.cluster.state.MemberStatus", "value": "leaving"}`, wire.StatusLeaving},
		{"enum value first", `{"value": "up", "__enum__": "casty.cluster.state.MemberStatus"}`, wire.StatusUp},
		{"unregistered enum", `{"__enum__": "m.Color", "value": "RED"}`, Enum{Type: "m.Color", Name: "RED"}},
		{"frozenset", `{"__frozenset__": [1, "a"]}`, []any{int64(1), "a"}},
		{"tuple", `{"__tuple__": []}`, []any{}},
		{"dict", `{"__dict__": [[1, "a"], ["k", {"__tuple__": [true]}], [null, 2.5], [{"_type": "casty.cluster.state.NodeAddress", "host": "h", "port": 1}, 0]]}`,
			map[any]any{int64(1): "a", "k": []any{true}, nil: 2.5, wire.NodeAddress{Host: "h", Port: 1}: int64(0)}},
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
			wire.ShardEnvelope{EntityID: "user-0", Message: Increment{Amount: 5}}},
		{"envelope of unknown", `{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "u", "message": {"_type": "app.M", "v": [1]}}`,
			wire.ShardEnvelope{EntityID: "u", Message: Unknown{Type: "app.M", Fields: map[string]any{"v": []any{int64(1)}}}}},
		{"envelope of primitive", `{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "u", "message": "ping"}`,
			wire.ShardEnvelope{EntityID: "u", Message: "ping"}},
		{"tolerant forms", `{"_type": "casty.cluster.state.Member", "roles": ["a"], "status": "down", "address": null}`,
			wire.Member{Roles: []string{"a"}, Status: wire.StatusDown}},
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
		{"bad enum member", `{"_type": "casty.cluster.state.Member", "status": {"__enum__": "casty.cluster.state.MemberStatus", "value": "dead"}}`, wire.TypeMember, "status"},
		{"wrong enum type", `{"_type": "casty.cluster.state.Member", "status": {"__enum__": "x.Other", "value": "up"}}`, wire.TypeMember, "status"},
		{"bad ref", `{"_type": "casty.cluster.topology.SubscribeTopology", "reply_to": {"__ref__": "http://x"}}`, wire.TypeSubscribeTopology, "reply_to.__ref__"},
		{"ref not object", `{"_type": "casty.cluster.topology.SubscribeTopology", "reply_to": 5}`, wire.TypeSubscribeTopology, "reply_to"},
		{"nested error path", `{"_type": "casty.cluster.topology.TopologySnapshot", "members": {"__frozenset__": [{"_type": "casty.cluster.state.Member"}, {"_type": "casty.cluster.state.Member", "address": {"_type": "casty.cluster.state.NodeAddress", "port": "x"}}]}}`,
			wire.TypeTopologySnapshot, "members.__frozenset__[1].address.port"},
		{"wrong nested _type", `{"_type": "casty.cluster.coordinator.ShardLocation", "node": {"_type": "casty.cluster.state.Member"}}`, wire.TypeShardLocation, "node"},
		{"marker in dataclass field", `{"_type": "casty.cluster.coordinator.ShardLocation", "node": {"__ref__": "casty://a@b:1/c"}}`, wire.TypeShardLocation, "node"},
		{"dict without __dict__", `{"_type": "casty.cluster.topology.TopologySnapshot", "shard_allocations": {"__dict__": [["counter", {"1": {}}]]}}`, wire.TypeTopologySnapshot, "shard_allocations.__dict__[0][1]"},
		{"bad pair", `{"__dict__": [[1]]}`, "", "__dict__[0]"},
		{"pair of three", `{"__dict__": [[1, 2, 3]]}`, "", "__dict__[0]"},
		{"unhashable dict key", `{"__dict__": [[[1], 2]]}`, "", "__dict__[0]"},
		{"unhashable unknown key", `{"__dict__": [[{"_type": "a.B", "x": 1}, 2]]}`, "", "__dict__[0]"},
		{"unhashable tuple key", `{"__dict__": [[{"__tuple__": [1]}, 2]]}`, "", "__dict__[0]"},
		{"_type names enum", `{"_type": "casty.cluster.state.MemberStatus"}`, wire.TypeMemberStatus, ""},
		{"__enum__ names dataclass", `{"__enum__": "app_messages.Increment", "value": "x"}`, pyIncrement, ""},
		{"empty _type", `{"_type": ""}`, "", "_type"},
		{"empty _type, slow path", `{"a": 1, "_type": ""}`, "", "_type"},
		{"empty enum", `{"__enum__": "", "value": "x"}`, "", "__enum__"},
		{"_type not string", `{"_type": 5, "a": 1}`, "", "_type"},
		{"frozenset not array", `{"__frozenset__": 1}`, "", "__frozenset__"},
		{"slice from scalar", `{"_type": "casty.cluster.state.Member", "roles": "admin"}`, wire.TypeMember, "roles"},
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
			if !strings.HasPrefix(err.Error(), "castyjson: decode") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestDecodeErrorUnwrap(t *testing.T) {
	r := testRegistry(t)
	_, err := r.Decode([]byte(`{"_type": "casty.cluster.topology.SubscribeTopology", "reply_to": {"__ref__": "nope"}}`))
	var ae *wire.AddressError
	if !errors.As(err, &ae) {
		t.Errorf("err = %v, want it to wrap *AddressError", err)
	}
	_, err = r.Decode([]byte(`{"__enum__": "casty.cluster.state.MemberStatus", "value": "dead"}`))
	var ee *wire.EnumError
	if !errors.As(err, &ee) {
		t.Errorf("err = %v, want it to wrap *EnumError", err)
	}
}

func TestDecodeInto(t *testing.T) {
	r := testRegistry(t)
	var env wire.ShardEnvelope
	env.EntityID = "stale"
	if err := r.DecodeInto([]byte(`{"_type": "casty.cluster.envelope.ShardEnvelope", "message": {"_type": "app_messages.Increment", "amount": 5}}`), &env); err != nil {
		t.Fatal(err)
	}
	if want := (wire.ShardEnvelope{Message: Increment{Amount: 5}}); !valuesEqual(env, want) {
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
	var st wire.MemberStatus
	if err := r.DecodeInto([]byte(`{"__enum__": "casty.cluster.state.MemberStatus", "value": "removed"}`), &st); err != nil || st != wire.StatusRemoved {
		t.Errorf("DecodeInto(MemberStatus) = %v, %v", st, err)
	}
	type unregistered struct{}
	for _, dst := range []any{nil, env, (*wire.ShardEnvelope)(nil), &unregistered{}} {
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
