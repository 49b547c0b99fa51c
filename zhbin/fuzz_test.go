package zhbin

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// FuzzDecode: arbitrary payloads decode to a value or a *DecodeError (or
// the JSON registry's error for a JSON payload), never a panic; a value
// that decodes re-encodes to a payload that decodes to the same value.
func FuzzDecode(f *testing.F) {
	c := newCodec(f)
	for _, v := range []any{incr{Amount: 1}, sampleAll(), wire.ShardEnvelope{EntityID: "e", Message: incr{Amount: 2}},
		wire.ShardEnvelope{EntityID: "e", Message: onlyJSON{Names: []string{"a"}}}} {
		b, _ := c.AppendValue(nil, v)
		f.Add(b)
	}
	f.Add([]byte{tagValue, 0, 2, '{', '}'})
	f.Add([]byte(`{"_type": "t.Incr", "amount": 1}`))
	f.Add([]byte{tagValue, 0, 4, 'n', 'u', 'l', 'l'}) // JSON null as a value: DecodeInto once panicked on it
	f.Fuzz(func(t *testing.T, payload []byte) {
		// DecodeInto, as the engine calls it on a reply, into an any, a
		// registered type and nothing: an error or a value, never a panic.
		var anyv any
		var typed incr
		_ = c.DecodeInto(payload, &anyv)
		_ = c.DecodeInto(payload, &typed)
		_ = c.DecodeInto(payload, nil)
		v, err := c.Decode(payload)
		var memo wire.MessageMemo
		_, _, eerr := c.DecodeShardEnvelopeMemo(payload, &memo)
		if isBinary(payload) {
			var de *DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Fatalf("binary payload: error %T %v, want *DecodeError", err, err)
			}
			if eerr != nil && !errors.As(eerr, &de) {
				t.Fatalf("binary envelope: error %T %v, want *DecodeError", eerr, eerr)
			}
		}
		if err != nil {
			return
		}
		b, err := c.AppendValue(nil, v)
		if err != nil {
			return // a JSON value the JSON side does not re-encode (Unknown, ...)
		}
		v2, err := c.Decode(b)
		if err != nil {
			t.Fatalf("re-encoded %#v does not decode: %v", v, err)
		}
		if registered(c, v) && !hasNaN(v) && !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip: got %#v, want %#v", v2, v)
		}
	})
}

// FuzzRoundTrip: decode(encode(x)) == x for registered values built from
// arbitrary field values.
func FuzzRoundTrip(f *testing.F) {
	c := newCodec(f)
	f.Add(true, int64(-1), uint64(1), 1.5, "s", "e", int8(3))
	f.Fuzz(func(t *testing.T, bo bool, i int64, u uint64, fl float64, s, id string, i8 int8) {
		v := all{B: bo, I: int(i), I8: i8, I16: int16(i), I32: int32(i), I64: i, U: uint(u), U8: uint8(u),
			U32: uint32(u), U64: u, F32: float32(fl), F64: fl, S: s,
			Ref: wire.Ref{Address: wire.Address{System: s, Host: id, Port: int(i), Path: s}}, In: inner{A: uint16(u), B: id}}
		env := wire.ShardEnvelope{EntityID: id, Message: v}
		b, err := c.AppendValue(nil, env)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatalf("decode: %v (payload % x)", err, b)
		}
		if !hasNaN(v) && !reflect.DeepEqual(got, any(env)) {
			t.Fatalf("got %#v, want %#v", got, env)
		}
	})
}

// hasNaN reports whether v holds a NaN float (never equal to itself).
func hasNaN(v any) bool {
	switch x := v.(type) {
	case all:
		return math.IsNaN(x.F64) || math.IsNaN(float64(x.F32))
	case wire.ShardEnvelope:
		return hasNaN(x.Message)
	}
	return false
}

// registered reports whether v is a value of a type registered in c, or a
// ShardEnvelope of one: values that round-trip exactly (castyjson's
// documented exceptions, such as maps re-read as map[any]any, do not).
func registered(c *Codec, v any) bool {
	if env, ok := v.(wire.ShardEnvelope); ok {
		v = env.Message
	}
	return c.state.Load().plan(v) != nil
}
