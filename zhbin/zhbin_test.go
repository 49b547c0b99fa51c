package zhbin

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

type incr struct {
	Amount int `casty:"amount"`
}

type inner struct {
	A uint16
	B string
}

type all struct {
	B    bool
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U32  uint32
	U64  uint64
	F32  float32
	F64  float64
	S    string
	Ref  wire.Ref `casty:"reply_to"`
	In   inner
	Skip int `casty:"-"`
}

type withSlice struct {
	Xs []int
}

type onlyJSON struct {
	Names []string `casty:"names"`
}

func newCodec(t testing.TB) *Codec {
	t.Helper()
	reg := castyjson.NewRegistry()
	reg.MustRegister("t.Incr", incr{})
	reg.MustRegister("t.All", all{})
	reg.MustRegister("t.Inner", inner{})
	reg.MustRegister("t.WithSlice", withSlice{})
	reg.MustRegister("t.OnlyJSON", onlyJSON{})
	c := New(reg)
	c.MustRegister(1, incr{})
	c.MustRegister(2, all{})
	return c
}

func sampleAll() all {
	return all{B: true, I: -5, I8: -128, I16: 32767, I32: -1 << 31, I64: math.MinInt64, U: 7, U8: 255,
		U32: 1 << 31, U64: math.MaxUint64, F32: 1.5, F64: -math.Pi, S: "héllo \"x\"\n\xff",
		Ref: wire.Ref{Address: wire.Address{System: "live", Host: "10.0.0.1", Port: 25520, Path: "/user/a"}},
		In:  inner{A: 9, B: "in"}}
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t)
	for _, v := range []any{
		incr{Amount: 1}, incr{}, incr{Amount: -1 << 40}, sampleAll(), all{},
		wire.ShardEnvelope{EntityID: "e-1", Message: incr{Amount: 3}},
		wire.ShardEnvelope{EntityID: "", Message: sampleAll()},
		wire.ShardEnvelope{EntityID: "x", Message: onlyJSON{Names: []string{"a", "b"}}},
		onlyJSON{Names: []string{"q"}},
		wire.GetShardLocation{ShardID: 3, ReplyTo: wire.Ref{Address: wire.Address{System: "s", Host: "h", Port: 1, Path: "/p"}}},
	} {
		b, err := c.AppendValue(nil, v)
		if err != nil {
			t.Fatalf("AppendValue(%#v): %v", v, err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatalf("Decode(AppendValue(%#v)) = %v (payload % x)", v, err, b)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip: got %#v, want %#v", got, v)
		}
		if env, ok := v.(wire.ShardEnvelope); ok {
			id, msg, err := c.DecodeShardEnvelope(b)
			if err != nil || string(id) != env.EntityID || !reflect.DeepEqual(msg, env.Message) {
				t.Errorf("DecodeShardEnvelope: got %q %#v %v, want %q %#v", id, msg, err, env.EntityID, env.Message)
			}
		}
	}
}

func TestLayoutOfRegisteredTypes(t *testing.T) {
	c := newCodec(t)
	b, _ := c.AppendValue(nil, wire.ShardEnvelope{EntityID: "e1", Message: incr{Amount: 1}})
	if want := []byte{tagEnvelope, 2, 'e', '1', 1, 2}; !bytes.Equal(b, want) {
		t.Errorf("envelope of incr{1}: got % x, want % x", b, want)
	}
	b, _ = c.AppendValue(nil, onlyJSON{})
	if b[0] != '{' {
		t.Errorf("unregistered value: got % x, want Casty JSON", b)
	}
}

func TestJSONPayloadsAreRead(t *testing.T) {
	c := newCodec(t)
	env := wire.ShardEnvelope{EntityID: "e", Message: incr{Amount: 4}}
	js, err := c.JSON().AppendValue(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(js)
	if err != nil || !reflect.DeepEqual(got, env) {
		t.Fatalf("Decode(JSON): got %#v, %v; want %#v", got, err, env)
	}
	var memo wire.MessageMemo
	id, msg, err := c.DecodeShardEnvelopeMemo(js, &memo)
	if err != nil || string(id) != "e" || msg != any(incr{Amount: 4}) {
		t.Fatalf("DecodeShardEnvelopeMemo(JSON): got %q %#v %v", id, msg, err)
	}
	var into wire.ShardEnvelope
	if err := c.DecodeInto(js, &into); err != nil || !reflect.DeepEqual(into, env) {
		t.Fatalf("DecodeInto(JSON): got %#v %v", into, err)
	}
}

func TestLongJSONMessageLength(t *testing.T) {
	c := newCodec(t)
	for _, n := range []int{0, 100, 120, 200, 20000} {
		v := wire.ShardEnvelope{EntityID: "e", Message: onlyJSON{Names: []string{strings.Repeat("x", n)}}}
		b, err := c.AppendValue(make([]byte, 3, 8), v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b[3:])
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Fatalf("n=%d: got %v, want the value back", n, err)
		}
	}
}

func TestDecodeInto(t *testing.T) {
	c := newCodec(t)
	b, _ := c.AppendValue(nil, sampleAll())
	var a all
	if err := c.DecodeInto(b, &a); err != nil || !reflect.DeepEqual(a, sampleAll()) {
		t.Fatalf("DecodeInto: got %#v %v", a, err)
	}
	var x incr
	if err := c.DecodeInto(b, &x); err == nil {
		t.Fatal("DecodeInto of an all into *incr: got no error")
	}
	var anyv any
	if err := c.DecodeInto(b, &anyv); err != nil || !reflect.DeepEqual(anyv, sampleAll()) {
		t.Fatalf("DecodeInto(*any): got %#v %v", anyv, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	c := newCodec(t)
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"empty value", []byte{tagValue}, "truncated varint"},
		{"unknown id", []byte{tagValue, 9}, "unknown type id 9"},
		{"huge id", []byte{tagValue, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "unknown type id"},
		{"varint overflow", []byte{tagValue, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "overflows 64 bits"},
		{"truncated field", []byte{tagValue, 1}, "bad varint"},
		{"trailing bytes", []byte{tagValue, 1, 2, 0}, "bytes after the value"},
		{"entity id too long", []byte{tagEnvelope, 5, 'a'}, "entity id longer than the payload"},
		{"envelope trailing", []byte{tagEnvelope, 0, 1, 2, 2}, "bytes after the message"},
		{"json too long", []byte{tagValue, 0, 9, '{'}, "JSON message longer than the payload"},
		{"bad json", []byte{tagValue, 0, 1, '{'}, "JSON message"},
		{"bad bool", append([]byte{tagValue, 2}, 7), "bool byte 7"},
		{"int8 overflow", []byte{tagValue, 2, 1, 0, 0x80, 0x04}, "overflows int8"},
		{"string too long", append(append([]byte{tagValue, 2}, make([]byte, 22)...), 0x7f), "string longer than the payload"},
		{"not an envelope", []byte{tagValue, 1, 2}, "not a ShardEnvelope"},
	} {
		var err error
		if tc.name == "not an envelope" {
			_, _, err = c.DecodeShardEnvelope(tc.payload)
		} else {
			_, err = c.Decode(tc.payload)
		}
		var de *DecodeError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a *DecodeError containing %q", tc.name, err, tc.want)
		}
	}
}

func TestRegisterRefuses(t *testing.T) {
	c := newCodec(t)
	for _, tc := range []struct {
		id     int
		sample any
		want   string
	}{
		{0, incr{}, "out of range"},
		{MaxTypeID + 1, incr{}, "out of range"},
		{3, withSlice{}, "field Xs: kind slice"},
		{3, struct{ X int }{}, "not registered in the JSON registry"},
		{1, inner{}, "id 1 already taken"},
		{5, incr{}, "already registered with id 1"},
		{3, 7, "not a struct"},
		{3, nil, "nil sample"},
	} {
		err := c.Register(tc.id, tc.sample)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register(%d, %T): got %v, want an error containing %q", tc.id, tc.sample, err, tc.want)
		}
	}
	if err := c.Register(1, incr{}); err != nil {
		t.Errorf("registering the same id and type again: got %v, want nil", err)
	}
}

func TestTypesAnnounced(t *testing.T) {
	c := newCodec(t)
	got := c.Types()
	if len(got) != 2 || got[0].Name != "t.Incr" || got[0].ID != 1 || got[1].Name != "t.All" || got[1].ID != 2 || got[0].Schema == "" {
		t.Fatalf("Types: got %+v", got)
	}
	// The schema digest follows the layout: a type with another field
	// under the same name and id announces another schema.
	type incr2 struct {
		Amount int64 `casty:"amount"`
		By     string
	}
	reg := castyjson.NewRegistry()
	reg.MustRegister("t.Incr", incr2{})
	c2 := New(reg)
	c2.MustRegister(1, incr2{})
	if c2.Types()[0].Schema == got[0].Schema {
		t.Errorf("a different layout announced the same schema %q", got[0].Schema)
	}
}

func TestHeadedEnvelopeFrame(t *testing.T) {
	c := newCodec(t)
	const target = "casty://live@127.0.0.1:25520/_region-counter"
	const sender = "casty://live-client@127.0.0.1:0/"
	head := c.AppendEnvelopeHead(nil, target, sender)
	for _, msg := range []any{incr{Amount: 5}, sampleAll(), onlyJSON{Names: []string{"x"}}} {
		want, err := c.AppendEnvelopeFrame([]byte{7}, target, sender, "e-1", msg, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.AppendHeadedEnvelopeFrame([]byte{7}, head, "e-1", msg, 0)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%T: got % x (%v), want % x", msg, got, err, want)
		}
	}
	if got, err := c.AppendHeadedEnvelopeFrame([]byte{7}, head, "e-1", incr{}, 10); err == nil || !bytes.Equal(got, []byte{7}) {
		t.Errorf("over maxFrame: got % x, %v; want the input back and an error", got, err)
	}
}
