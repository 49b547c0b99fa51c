package castyjson

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

type flatAmount int

type flatInner struct {
	I8  int8   `casty:"i8"`
	S   string `casty:"s"`
	U16 uint16 `casty:"u16"`
}

// flatAll has a field of every kind appendFlat reads, and an embedded
// struct whose fields sit at offsets from its own start.
type flatAll struct {
	B   bool  `casty:"b"`
	I   int   `casty:"i"`
	I16 int16 `casty:"i16"`
	flatInner
	I32  int32         `casty:"i32"`
	I64  int64         `casty:"i64"`
	U    uint          `casty:"u"`
	U8   uint8         `casty:"u8"`
	U32  uint32        `casty:"u32"`
	U64  uint64        `casty:"u64"`
	UP   uintptr       `casty:"up"`
	F32  float32       `casty:"f32"`
	F64  float64       `casty:"f64"`
	Str  string        `casty:"str"`
	Amt  flatAmount    `casty:"amt"`
	Dur  time.Duration `casty:"dur"`
	skip int
}

// Structs the reflection plan encodes with something other than a bool,
// number or string: never flat.
type (
	flatEnum   struct{ S wire.MemberStatus }
	flatText   struct{ At time.Time }
	flatNested struct{ In flatInner }
	flatSlice  struct{ L []int }
	flatSelf   struct{ V int }
)

func (f flatSelf) AppendCastyJSON(dst []byte) []byte { return append(dst, `{"_type": "t.Self"}`...) }

func flatRegistry(t *testing.T) *Registry {
	t.Helper()
	r := NewRegistry()
	r.MustRegister("t.FlatAll", flatAll{})
	r.MustRegister("t.FlatEnum", flatEnum{})
	r.MustRegister("t.FlatText", flatText{})
	r.MustRegister("t.FlatNested", flatNested{})
	r.MustRegister("t.FlatSlice", flatSlice{})
	r.MustRegister("t.Self", flatSelf{})
	return r
}

// reflectEncode encodes v by its plan's reflection encoder, the path
// appendFlat replaces.
func reflectEncode(t *testing.T, r *Registry, v any) string {
	t.Helper()
	b, err := r.load().appendDyn(nil, reflect.ValueOf(v), 0)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFlatEncoding: a registered struct of booleans, numbers and strings
// (embedded structs included) is encoded without reflection, to exactly
// the bytes the reflection plan writes; every other struct keeps the
// reflection plan.
func TestFlatEncoding(t *testing.T) {
	r := flatRegistry(t)
	st := r.load()
	if p := st.byType[reflect.TypeFor[flatAll]()]; p == nil || len(p.flat) != 18 {
		t.Fatalf("flatAll: plan %v", p)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[flatEnum](), reflect.TypeFor[flatText](),
		reflect.TypeFor[flatNested](), reflect.TypeFor[flatSlice](), reflect.TypeFor[flatSelf]()} {
		if p := st.byType[typ]; p == nil || p.flat != nil {
			t.Errorf("%v: flat %v, want none", typ, p.flat)
		}
		if st.byWord[typeWord(reflect.Zero(typ).Interface())] != st.byType[typ] {
			t.Errorf("%v: byWord does not hold its plan", typ)
		}
	}
	values := []flatAll{
		{},
		{B: true, I: -7, I16: -300, flatInner: flatInner{I8: -128, S: "in\"ner\n\u00e9\U0001F600", U16: 65535},
			I32: math.MinInt32, I64: math.MaxInt64, U: 42, U8: 255, U32: math.MaxUint32, U64: math.MaxUint64, UP: 9,
			F32: 1.5, F64: -0.1, Str: "plain", Amt: 12, Dur: 1500 * time.Millisecond, skip: 3},
		{F32: float32(math.Inf(1)), F64: math.NaN(), Str: strings.Repeat("x", 300)},
		flatAll{F64: 1e21, F32: 3.4e38}.withInner(1, "", 2),
	}
	for i, v := range values {
		got, err := r.AppendValue(nil, v)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if want := reflectEncode(t, r, v); string(got) != want {
			t.Errorf("value %d:\n flat %s\n want %s", i, got, want)
		}
		// In a ShardEnvelope's message, the hot path's position.
		env, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "e", Message: v})
		if err != nil || !strings.Contains(string(env), `"message": `+string(got)+"}") {
			t.Errorf("value %d in an envelope: %s, %v", i, env, err)
		}
	}
	want := `{"_type": "t.FlatAll", "b": true, "i": -7, "i16": -300, "i8": -128, "s": "in\"ner\n\u00e9\ud83d\ude00", ` +
		`"u16": 65535, "i32": -2147483648, "i64": 9223372036854775807, "u": 42, "u8": 255, "u32": 4294967295, ` +
		`"u64": 18446744073709551615, "up": 9, "f32": 1.5, "f64": -0.1, "str": "plain", "amt": 12, "dur": 1500000000}`
	if got, _ := r.AppendValue(nil, values[1]); string(got) != want {
		t.Errorf("golden:\n got %s\nwant %s", got, want)
	}
	// MaxDepth holds as on the reflection path: a message at the limit is
	// refused, not written flat.
	if err := r.SetLimits(Limits{MaxDepth: 1}); err != nil {
		t.Fatal(err)
	}
	if b, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "e", Message: values[1]}); err == nil {
		t.Fatalf("a flat message past MaxDepth 1 encoded: %s", b)
	}
}

// withInner sets the embedded struct's fields (a value at other offsets).
func (f flatAll) withInner(i8 int8, s string, u16 uint16) flatAll {
	f.flatInner = flatInner{I8: i8, S: s, U16: u16}
	return f
}

// FuzzFlatEncode: for any field values, appendFlat writes what the
// reflection plan writes.
func FuzzFlatEncode(f *testing.F) {
	f.Add(true, int64(-1), uint64(7), 1.5, "x", "é\n")
	f.Add(false, int64(math.MinInt64), uint64(math.MaxUint64), math.Inf(-1), "", "\x00\xff")
	r := NewRegistry()
	r.MustRegister("t.FlatAll", flatAll{})
	f.Fuzz(func(t *testing.T, b bool, i int64, u uint64, fl float64, s1, s2 string) {
		v := flatAll{B: b, I: int(i), I16: int16(i), I32: int32(i), I64: i, U: uint(u), U8: uint8(u), U32: uint32(u),
			U64: u, UP: uintptr(u), F32: float32(fl), F64: fl, Str: s1, Amt: flatAmount(i), Dur: time.Duration(i)}
		v.flatInner = flatInner{I8: int8(i), S: s2, U16: uint16(u)}
		got, err := r.AppendValue(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if want := reflectEncode(t, r, v); string(got) != want {
			t.Fatalf("flat %s\nwant %s", got, want)
		}
	})
}
