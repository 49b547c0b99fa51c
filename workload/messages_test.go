package workload

import (
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

func TestRegisterRoundTrip(t *testing.T) {
	reg := castyjson.NewRegistry()
	if err := Register(reg, ""); err != nil {
		t.Fatal(err)
	}
	in := NodeStats{Node: "127.0.0.1:1", Increments: 5, AmountTotal: 9, Entities: 2, FirstAt: 1.5, LastAt: 2.25}
	b, err := reg.AppendValue(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := reg.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip %#v, want %#v", out, in)
	}
}

func TestShardTallyRoundTrip(t *testing.T) {
	reg := castyjson.NewRegistry()
	if err := Register(reg, "m"); err != nil {
		t.Fatal(err)
	}
	for _, in := range []any{
		ShardTally{Node: "127.0.0.1:1", Incarnation: 1<<53 - 1, Applied: []int64{1, 0, -2}, Retired: []int64{0, 5, 0}, Dead: []int64{7, 0, 0}, Final: true},
		GetShardTally{ReplyTo: wire.Ref{Address: wire.Address{System: "live", Host: "127.0.0.1", Port: 9, Path: "/temp/1"}}},
	} {
		name, ok := reg.TypeName(in)
		if !ok || name[:2] != "m." {
			t.Fatalf("%T registered as %q, %v; want m.*", in, name, ok)
		}
		b, err := reg.AppendValue(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := reg.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out, in) {
			t.Fatalf("round trip of %s: got %#v, want %#v", b, out, in)
		}
	}
}
