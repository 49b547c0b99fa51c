package castyjson

// Tests written for survivors of gremlins (TESTING.md, "Broad mutation
// score"): each pins a behaviour the rest of the suite let a one-operator
// change break.

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// TestRescanBudgetFloor: the rescanning budget has a floor (64 KiB) on top
// of its linear part, so that a small payload with a few levels of unusual
// member order, which costs more than 4x its size to rescan, still decodes.
func TestRescanBudgetFloor(t *testing.T) {
	r := NewRegistry()
	const levels = 20
	p := []byte(strings.Repeat(`{"a": 1, "_type": "x.Y", "f": `, levels) + "[1, 2, 3]" + strings.Repeat("}", levels))
	if _, err := r.Decode(p); err != nil {
		t.Fatalf("Decode of %d bytes, %d levels of unusual order: %v, want it decoded (the budget's floor)", len(p), levels, err)
	}
}

// TestDecodeIntoNestedUnregistered: a struct that is compiled because a
// registered struct holds it, but is not registered itself, is still
// refused by DecodeInto (it has no Python name to check "_type" against).
func TestDecodeIntoNestedUnregistered(t *testing.T) {
	type inner struct{ A int }
	type outer struct{ In inner }
	r := NewRegistry()
	if err := r.Register("t.Outer", outer{}); err != nil {
		t.Fatal(err)
	}
	var in inner
	err := r.DecodeInto([]byte(`{"_type": "t.Inner", "a": 1}`), &in)
	if err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("DecodeInto(*inner) = %v, want a \"not registered\" error", err)
	}
	var ints []int
	if err := r.DecodeInto([]byte(`[1, 2]`), &ints); err != nil || len(ints) != 2 {
		t.Fatalf("DecodeInto(*[]int) = %v, %v, want [1 2]", ints, err)
	}
}

// TestReleaseBoundsPooledScratch: a pooled decoder keeps scratch buffers up
// to maxPooledScratch bytes and drops larger ones (one huge string must not
// pin its buffer in the pool).
func TestReleaseBoundsPooledScratch(t *testing.T) {
	for _, tc := range []struct {
		capacity int
		kept     bool
	}{
		{maxPooledScratch, true},
		{maxPooledScratch + 1, false},
	} {
		d := &decoder{keyBuf: make([]byte, 0, tc.capacity), str: make([]byte, 0, tc.capacity)}
		d.release()
		if got := d.keyBuf != nil; got != tc.kept {
			t.Errorf("keyBuf of cap %d kept = %v, want %v", tc.capacity, got, tc.kept)
		}
		if got := d.str != nil; got != tc.kept {
			t.Errorf("str of cap %d kept = %v, want %v", tc.capacity, got, tc.kept)
		}
	}
}

// TestTruncatedInputIsASyntaxError: a payload cut anywhere (at the end of
// a key, before a value, inside a number) is a *DecodeError with a syntax
// reason, never the "internal error" of a recovered panic: every read of
// the next byte checks the end of the input first.
func TestTruncatedInputIsASyntaxError(t *testing.T) {
	r := testRegistry(t)
	whole := []string{
		`{"_type": "app_messages.Increment", "amount": -12}`,
		`{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "e", "message": {"_type": "app_messages.Increment", "amount": 5}}`,
		`{"a": [1, -2.5, "s", {"__tuple__": [true, null]}]}`,
	}
	for _, w := range whole {
		for n := range len(w) {
			for _, into := range []bool{false, true} {
				var err error
				if into {
					var inc Increment
					err = r.DecodeInto([]byte(w[:n]), &inc)
				} else {
					_, err = r.Decode([]byte(w[:n]))
				}
				var de *DecodeError
				if !errors.As(err, &de) || de.Reason == internalErrorReason {
					t.Fatalf("Decode%s(%q) = %v, want a *DecodeError with a syntax reason", map[bool]string{true: "Into"}[into], w[:n], err)
				}
			}
		}
	}
}

// TestNumberErrors: where a typed decode wants a number, anything else is
// "expected number" (not a later, vaguer scanning error), and a number
// token may be 4096 bytes long, not one more.
func TestNumberErrors(t *testing.T) {
	r := testRegistry(t)
	for _, in := range []string{`x`, `"1"`, `+1`, `.5`, `{}`} {
		var f float64
		err := r.DecodeInto([]byte(in), &f)
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason != "expected number" {
			t.Errorf("DecodeInto(%s, *float64) = %v, want the reason \"expected number\"", in, err)
		}
	}
	long := "0." + strings.Repeat("1", 4094)
	var f float64
	if err := r.DecodeInto([]byte(long), &f); err != nil || f < 0.11 || f > 0.12 {
		t.Errorf("a 4096-byte number: %v, %v; want it decoded", f, err)
	}
	var de *DecodeError
	if err := r.DecodeInto([]byte(long+"1"), &f); !errors.As(err, &de) || !strings.Contains(de.Reason, "4096") {
		t.Errorf("a 4097-byte number: %v, want the length error", err)
	}
}

// TestParseIntOverflow: integer literals at and past the int64 bounds, and
// past uint64 (where a careless accumulator wraps to a small value).
func TestParseIntOverflow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"-0", 0, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775808", math.MinInt64, true},
		{"-9223372036854775809", 0, false},
		{"18446744073709551615", 0, false},
		{"18446744073709551616", 0, false},
		{"184467440737095516199", 0, false},  // wraps to 3 in a uint64 that checked nothing
		{"-184467440737095516199", 0, false}, // the same, negative
		{"1844674407370955161999", 0, false},
		{"99999999999999999999999999", 0, false},
	} {
		got, ok := parseInt([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseInt(%s) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestParseUintOverflow: unsigned literals at and past the uint64 bound.
func TestParseUintOverflow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"1844674407370955161", math.MaxUint64 / 10, true},
		{"18446744073709551610", math.MaxUint64 - 5, true},
		{"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false},
		{"18446744073709551619", 0, false},
		{"18446744073709551620", 0, false},
		{"184467440737095516150", 0, false},
	} {
		got, ok := parseUint([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseUint(%s) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestSkippedStringBounded: a string in a field the typed decode skips (an
// unknown field) is bounded by MaxString like any other: exactly MaxString
// bytes pass, one more is refused, wherever it sits in the payload.
func TestSkippedStringBounded(t *testing.T) {
	r := testRegistry(t)
	const max = 32 // more than the "_type" string's 22 bytes
	if err := r.SetLimits(Limits{MaxString: max}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s  string
		ok bool
	}{{strings.Repeat("s", max), true}, {strings.Repeat("s", max+1), false}, {"", true}} {
		p := `{"_type": "app_messages.Increment", "unknown": "` + tc.s + `", "amount": 1}`
		var inc Increment
		err := r.DecodeInto([]byte(p), &inc)
		if (err == nil) != tc.ok || (tc.ok && inc.Amount != 1) {
			t.Errorf("skipped string of %d bytes, MaxString %d: %+v, %v; want ok %v", len(tc.s), max, inc, err, tc.ok)
		}
	}
}

// TestEnumNeedsItsValueKey: an "__enum__" object whose second key is not
// "value" is a plain object (from_dict reads the member from "value"), even
// when that key holds a string a member name could be.
func TestEnumNeedsItsValueKey(t *testing.T) {
	r := NewRegistry()
	v, err := r.Decode([]byte(`{"__enum__": "m.E", "x": "A"}`))
	want := map[string]any{"__enum__": "m.E", "x": "A"}
	if err != nil || !valuesEqual(v, want) {
		t.Errorf("Decode = %#v, %v; want the plain object %#v", v, err, want)
	}
}

// TestPlainKeysAreNotMarkers: in an object decoded by from_dict's
// precedence (its first key is not a marker), keys that are not markers
// are only members: {"x": "m.E", "value": "A"} is a plain object, not an
// enum whose "__enum__" is x.
func TestPlainKeysAreNotMarkers(t *testing.T) {
	r := NewRegistry()
	for _, in := range []string{`{"x": "m.E", "value": "A"}`, `{"x": [1], "y": "casty://a@b:1/c"}`} {
		v, err := r.Decode([]byte(in))
		if _, isMap := v.(map[string]any); err != nil || !isMap {
			t.Errorf("Decode(%s) = %#v, %v; want a plain object", in, v, err)
		}
	}
}

// TestSlowPathDecodes: objects whose members come in an order Casty never
// writes take the slow path (from_dict's precedence), which decodes them
// like the fast one: an unregistered dataclass with "_type" last is an
// Unknown; and the rescanning budget charges the bytes rescanned, not the
// offsets they sit at, so such an object at the end of a large payload
// still decodes.
func TestSlowPathDecodes(t *testing.T) {
	r := NewRegistry()
	v, err := r.Decode([]byte(`{"a": 1, "_type": "app.Other"}`))
	if want := (Unknown{Type: "app.Other", Fields: map[string]any{"a": int64(1)}}); err != nil || !valuesEqual(v, want) {
		t.Errorf("unusual order, unregistered: %#v, %v; want %#v", v, err, want)
	}
	bulk := strings.Repeat("1, ", 400000) + "1"
	p := []byte(`[` + bulk + `, {"a": 1, "b": 2, "c": 3, "_type": "app.Other"}]`)
	v, err = r.Decode(p)
	if l, ok := v.([]any); err != nil || !ok || len(l) != 400002 {
		t.Fatalf("an unusual-order object after %d bytes: %v (%T)", len(bulk), err, v)
	}
}

// TestShardEnvelopeFastPathGate: DecodeShardEnvelope's fast path is taken
// only when it can decide as DecodeInto would: not under a MaxCollection
// below the envelope's three members (the message itself fits), and not
// when ShardEnvelope is registered under another name (DecodeInto refuses
// Casty's "_type" then).
func TestShardEnvelopeFastPathGate(t *testing.T) {
	canonical := testRegistry(t)
	p, err := canonical.AppendValue(nil, wire.ShardEnvelope{EntityID: "user-42", Message: Increment{Amount: 5}})
	if err != nil {
		t.Fatal(err)
	}
	narrow := testRegistry(t)
	if err := narrow.SetLimits(Limits{MaxCollection: 2}); err != nil {
		t.Fatal(err)
	}
	renamed := &Registry{}
	renamed.MustRegister("other.Envelope", wire.ShardEnvelope{})
	renamed.MustRegister(pyIncrement, Increment{})
	for name, r := range map[string]*Registry{"MaxCollection 2": narrow, "renamed ShardEnvelope": renamed} {
		var env wire.ShardEnvelope
		if err := r.DecodeInto(p, &env); err == nil {
			t.Fatalf("%s: DecodeInto accepted the envelope; the test needs a registry that refuses it", name)
		}
		if id, msg, err := r.DecodeShardEnvelope(p); err == nil {
			t.Errorf("%s: DecodeShardEnvelope = %q, %v, nil; want DecodeInto's refusal", name, id, msg)
		}
	}
}

// TestShardEnvelopeFastPathMaxString: the fast path refuses an entity id
// longer than MaxString as DecodeInto does (its bound is checked with the
// id's closing quote, not instead of it: gremlins' decode_envelope.go :63
// "&&" made "||" of the id's bound, re-run with the AST's grouping).
func TestShardEnvelopeFastPathMaxString(t *testing.T) {
	r := testRegistry(t)
	if err := r.SetLimits(Limits{MaxString: 40}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{40, 41} {
		id := strings.Repeat("i", n)
		p, err := testRegistry(t).AppendValue(nil, wire.ShardEnvelope{EntityID: id, Message: Increment{Amount: 5}})
		if err != nil {
			t.Fatal(err)
		}
		var env wire.ShardEnvelope
		intoErr := r.DecodeInto(p, &env)
		got, _, err := r.DecodeShardEnvelope(p)
		if (err == nil) != (intoErr == nil) {
			t.Errorf("id of %d bytes under MaxString 40: DecodeShardEnvelope = %q, %v; DecodeInto's error %v", n, got, err, intoErr)
		}
		if want := n <= 40; (err == nil) != want {
			t.Errorf("id of %d bytes under MaxString 40: DecodeShardEnvelope error %v, want accepted %v", n, err, want)
		}
	}
}

// TestRefObjectMembers: a typed Ref reads "__ref__" among other members
// (from_dict ignores the rest), separated by commas as any object's.
func TestRefObjectMembers(t *testing.T) {
	r := NewRegistry()
	for _, in := range []string{`{"x": 1, "__ref__": "casty://a@b:1/c"}`, `{"__ref__": "casty://a@b:1/c", "x": 1}`} {
		var ref wire.Ref
		if err := r.DecodeInto([]byte(in), &ref); err != nil || ref.Address.Host != "b" {
			t.Errorf("DecodeInto(%s, *Ref) = %+v, %v; want the ref", in, ref, err)
		}
	}
	var ref wire.Ref
	if err := r.DecodeInto([]byte(`{"x": 1 "__ref__": "casty://a@b:1/c"}`), &ref); err == nil {
		t.Errorf("a ref object without a comma between members decoded: %+v", ref)
	}
}

// TestTruncatedEnvelope: DecodeShardEnvelope of every proper prefix of an
// envelope is an error (its fast path checks the end of the payload before
// each byte it reads), never a panic.
func TestTruncatedEnvelope(t *testing.T) {
	r := testRegistry(t)
	p, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "user-42", Message: Increment{Amount: 5}})
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(p) {
		if _, _, err := r.DecodeShardEnvelope(p[:n]); err == nil {
			t.Fatalf("DecodeShardEnvelope(%q) = nil error, want one", p[:n])
		}
	}
	// Closed by another bracket: an error too.
	bad := append(p[:len(p)-1:len(p)-1], ']')
	if _, _, err := r.DecodeShardEnvelope(bad); err == nil {
		t.Errorf("DecodeShardEnvelope(%q) = nil error, want one", bad)
	}
}
