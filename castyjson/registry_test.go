package castyjson

import (
	"strings"
	"sync"
	"testing"

	"github.com/zerohop/zerohop/wire"
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
		{"builtin Ref", "t.Ref", wire.Ref{}},
		{"builtin Unknown", "t.Unknown", Unknown{}},
	} {
		if err := r.Register(tc.py, tc.sample); err == nil {
			t.Errorf("%s: Register(%q, %T) = nil, want an error", tc.name, tc.py, tc.sample)
		} else if !strings.HasPrefix(err.Error(), "castyjson: ") {
			t.Errorf("%s: error %q lacks the castyjson: prefix", tc.name, err)
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
		{wire.ShardEnvelope{}, wire.TypeShardEnvelope, true},
		{&wire.ShardEnvelope{}, wire.TypeShardEnvelope, true},
		{wire.TopologySnapshot{}, wire.TypeTopologySnapshot, true},
		{Increment{}, pyIncrement, true},
		{&Increment{}, pyIncrement, true},
		{wire.StatusUp, wire.TypeMemberStatus, true},
		{Unknown{Type: "m.X"}, "m.X", true},
		{Enum{Type: "m.E", Name: "A"}, "m.E", true},
		{wire.Ref{}, "casty.remote.ref.RemoteActorRef", true},
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
				if buf, err = r.AppendMessageFrame(buf[:0], "casty://live@127.0.0.1:1/_region-counter", "casty://c@127.0.0.1:0/", wire.ShardEnvelope{EntityID: "e", Message: []any{int64(i)}}, 0); err != nil {
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
