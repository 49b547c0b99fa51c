package castyjson

import (
	"math"
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

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
		U16s []uint16
		Set  []string  `casty:"set,frozenset"`
		Tup  [2]string `casty:"tup,tuple"`
		MI   map[int]string
		MS   map[string][]int
		MK   map[inner]bool
		MA   map[any]any
		Ref  wire.Ref
		Refs []wire.Ref
		St   wire.MemberStatus
		StP  *wire.MemberStatus
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
	status := wire.StatusJoining
	leader := wire.NodeAddress{Host: "10.0.0.1", Port: 1}
	values := []any{
		Increment{Amount: -3},
		GetCount{ReplyTo: mustRef(t, "casty://live-client@127.0.0.1:0/_ask/a18c220c594c49e1bedd87f497db1657")},
		CountReply{EntityID: "user-0", Value: 8},
		NodeStats{Node: "node-0@127.0.0.1:25560", Increments: 2, AmountTotal: 8, Entities: 1, FirstAt: 1795734459.9617984, LastAt: math.NaN()},
		ResetStats{},
		wire.ShardEnvelope{EntityID: "é\x00", Message: GetCount{ReplyTo: mustRef(t, "casty://sys/local/path")}},
		wire.ShardEnvelope{EntityID: "x", Message: nil},
		wire.ShardEnvelope{EntityID: "x", Message: wire.ShardEnvelope{EntityID: "y", Message: Increment{Amount: 1}}},
		wire.TopologySnapshot{
			Members: []wire.Member{
				{Address: leader, Status: wire.StatusUp, Roles: []string{"a", "b"}, ID: "n0"},
				{Address: wire.NodeAddress{Host: "::1", Port: 2}, Status: wire.StatusDown, ID: "n1"},
			},
			Leader:           &leader,
			ShardAllocations: map[string]map[int]wire.ShardAllocation{"counter": {0: {Primary: leader, Replicas: []wire.NodeAddress{leader}}}, "other": {}},
			AllocationEpoch:  1 << 40,
			Unreachable:      []wire.NodeAddress{leader},
			Registry:         []wire.ServiceEntry{{Key: "node-stats", Node: leader, Path: "/stats"}},
		},
		wire.ShardLocation{ShardID: 99, Node: leader, Replicas: []wire.NodeAddress{leader, leader}},
		wire.UnsubscribeTopology{Subscriber: mustRef(t, "casty://s@[::1]:9/_topology_sub")},
		treeNode{Name: "root", Children: []treeNode{{Name: "a"}, {Name: "b", Children: []treeNode{{Name: "c"}}}}, Parent: &treeNode{Name: "up"}},
		outer{In: inner{X: -8}, InPtr: &inner{X: 127}, Ins: []inner{{1}, {2}}},
		embedded{base: base{ID: "id", priv: 0}, Own: "own"},
		allKinds{
			B: true, I: -1, I8: -128, I16: 32767, I32: -5, I64: math.MinInt64, U: 1, U8: 255, U16: 65535, U32: 1 << 31, U64: math.MaxUint64,
			F32: 0.1, F64: math.Inf(1), S: "\u2028\t", Any: []any{int64(1), map[any]any{"k": Enum{Type: "e.E", Name: "A"}}},
			Ptr: &seven, PPtr: &pstr, Arr: [3]int{1, 2, 3}, U16s: []uint16{104, 105}, Set: []string{"z", "a"}, Tup: [2]string{"p", "q"},
			MI: map[int]string{3: "c", -1: "a"}, MS: map[string][]int{"k": {1}}, MK: map[inner]bool{{X: 1}: true},
			MA:  map[any]any{int64(1): "one", "two": 2.0, wire.NodeAddress{Host: "h"}: nil},
			Ref: mustRef(t, "casty://a@b:1/c"), Refs: []wire.Ref{mustRef(t, "casty://a/x/y")}, St: wire.StatusRemoved, StP: &status,
			Unk: Unknown{Type: "u.U", Fields: map[string]any{"f": "v"}}, En: Enum{Type: "e.E", Name: "B"}, Nest: [][]float64{{1.5}, {}},
		},
		selfEncoded{V: 4},
		Unknown{Type: "m.X", Fields: map[string]any{"a": []any{"b", nil}, "n": Unknown{Type: "m.Y"}}},
		Enum{Type: "m.E", Name: "X"},
		wire.StatusUp,
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
