package castyjson

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// Types of TestRegisterRefuses: each has one field Register must refuse.
type (
	withBytes      struct{ Data []byte }
	withByteArray  struct{ Hash [16]byte }
	withNestedByte struct {
		Blobs map[string][]byte `casty:"blobs"`
	}
	withJSONTag struct {
		Count int `json:"count"`
	}
	withJSONSkip struct {
		Secret string `json:"-"`
	}
	withEmbeddedJSON struct {
		inner `json:"in"`
	}
	marshalOnly   struct{ X int }
	unmarshalOnly struct{ X int }
	ptrMarshal    struct{ X int }
	withMarshal   struct{ V marshalOnly }
	withUnmarshal struct{ V []unmarshalOnly }
	withPtrMarsh  struct{ V *ptrMarshal }
	withChan      struct{ C chan int }
	withFunc      struct{ F func() }
	withComplex   struct{ Z complex128 }
)

func (marshalOnly) MarshalText() ([]byte, error)  { return []byte("m"), nil }
func (*unmarshalOnly) UnmarshalText([]byte) error { return nil }
func (*ptrMarshal) MarshalText() ([]byte, error)  { return []byte("p"), nil }
func (*ptrMarshal) UnmarshalText(b []byte) error  { return nil }

// TestRegisterRefuses: Register checks every field type when it compiles
// the plan and refuses what Casty's JsonSerializer cannot carry, naming
// the field and the reason, instead of failing at the first encode.
func TestRegisterRefuses(t *testing.T) {
	for _, c := range []struct {
		sample     any
		field, why string
	}{
		{withBytes{}, "field Data", "bytes"},
		{withByteArray{}, "field Hash", "bytes"},
		{withNestedByte{}, "field Blobs", "bytes"},
		{withJSONTag{}, "field Count", `json tag "count" without a casty tag`},
		{withJSONSkip{}, "field Secret", `json tag "-" without a casty tag`},
		{withEmbeddedJSON{}, "field inner", "json tag"},
		{withMarshal{}, "field V", "could be sent but not decoded"},
		{withUnmarshal{}, "field V", "could be decoded but not sent"},
		{withPtrMarsh{}, "field V", "MarshalText on its pointer only"},
		{withChan{}, "field C", "cannot be encoded"},
		{withFunc{}, "field F", "cannot be encoded"},
		{withComplex{}, "field Z", "cannot be encoded"},
	} {
		r := NewRegistry()
		err := r.Register("t.Sample", c.sample)
		if err == nil {
			t.Errorf("Register(%T) = nil, want an error naming %s", c.sample, c.field)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.field) || !strings.Contains(msg, c.why) {
			t.Errorf("Register(%T) = %q; want it to name %q and say %q", c.sample, msg, c.field, c.why)
		}
		if _, ok := r.TypeName(c.sample); ok {
			t.Errorf("Register(%T) failed but the type is registered", c.sample)
		}
	}
}

// TestJSONTagsWithCastyTags: a struct shared with encoding/json registers
// once every json-tagged field also says its Python name; the casty tag
// is the one used.
func TestJSONTagsWithCastyTags(t *testing.T) {
	type shared struct {
		Count  int    `json:"n" casty:"count"`
		Secret string `json:"-" casty:"-"`
		Plain  string
	}
	r := NewRegistry()
	r.MustRegister("t.Shared", shared{})
	b, err := r.AppendValue(nil, shared{Count: 2, Secret: "s", Plain: "p"})
	if want := `{"_type": "t.Shared", "count": 2, "plain": "p"}`; err != nil || string(b) != want {
		t.Fatalf("AppendValue = %s, %v; want %s", b, err, want)
	}
}

type stamped struct {
	At    time.Time         `casty:"at"`
	Opt   *time.Time        `casty:"opt"`
	Times []time.Time       `casty:"times"`
	Addr  netip.Addr        `casty:"addr"`
	Every time.Duration     `casty:"every"`
	Tags  map[string]string `casty:"tags"`
}

// TestTextMarshalerFields: a type with MarshalText and UnmarshalText
// (time.Time, netip.Addr, ...) travels as the JSON string of its text,
// which is what a Python dataclass can hold (a str field; Casty has no
// datetime); time.Duration is an int of nanoseconds; maps are __dict__.
func TestTextMarshalerFields(t *testing.T) {
	r := NewRegistry()
	r.MustRegister("t.Stamped", stamped{})
	at := time.Date(2026, 12, 5, 12, 30, 0, 123456789, time.UTC)
	later := at.Add(time.Hour)
	in := stamped{At: at, Opt: &later, Times: []time.Time{at, later}, Addr: netip.MustParseAddr("10.0.0.1"),
		Every: 1500 * time.Millisecond, Tags: map[string]string{"b": "2", "a": "1"}}
	b, err := r.AppendValue(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_type": "t.Stamped", "at": "2026-12-05T12:30:00.123456789Z", "opt": "2026-12-05T13:30:00.123456789Z", ` +
		`"times": ["2026-12-05T12:30:00.123456789Z", "2026-12-05T13:30:00.123456789Z"], "addr": "10.0.0.1", ` +
		`"every": 1500000000, "tags": {"__dict__": [["a", "1"], ["b", "2"]]}}`
	if string(b) != want {
		t.Fatalf("encode:\n got %s\nwant %s", b, want)
	}
	var out stamped
	if err := r.DecodeInto(b, &out); err != nil {
		t.Fatal(err)
	}
	if !out.At.Equal(at) || out.Opt == nil || !out.Opt.Equal(later) || len(out.Times) != 2 || !out.Times[1].Equal(later) ||
		out.Addr != in.Addr || out.Every != in.Every || out.Tags["a"] != "1" || out.Tags["b"] != "2" {
		t.Fatalf("decode: got %+v, want %+v", out, in)
	}
	// A zone offset written by Python's isoformat() decodes too; missing
	// fields are zero.
	if err := r.DecodeInto([]byte(`{"_type": "t.Stamped", "at": "2026-12-05T13:30:00.123456789+01:00", "opt": null}`), &out); err != nil ||
		!out.At.Equal(at) || out.Opt != nil || out.Addr.IsValid() {
		t.Fatalf("decode with offset: %+v, %v", out, err)
	}
	// In an untyped position (a ShardEnvelope's message) the value is
	// written by its text as well.
	if b, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "e", Message: at}); err != nil ||
		!strings.Contains(string(b), `"message": "2026-12-05T12:30:00.123456789Z"`) {
		t.Fatalf("envelope: %s, %v", b, err)
	}
}

// TestTextMarshalerErrors: text that UnmarshalText refuses, and a value
// that is not a string, are *DecodeError naming the field.
func TestTextMarshalerErrors(t *testing.T) {
	r := NewRegistry()
	r.MustRegister("t.Stamped", stamped{})
	for _, in := range []string{
		`{"_type": "t.Stamped", "at": "yesterday"}`,
		`{"_type": "t.Stamped", "at": 1733400000}`,
		`{"_type": "t.Stamped", "addr": "10.0.0.300"}`,
		`{"_type": "t.Stamped", "at": "2026-12-05T13:30:00.123456"}`, // a naive datetime: no offset
	} {
		var out stamped
		err := r.DecodeInto([]byte(in), &out)
		var de *DecodeError
		if !errors.As(err, &de) || (de.Field != "at" && de.Field != "addr") {
			t.Errorf("DecodeInto(%s) = %v, want a *DecodeError on field at or addr", in, err)
		}
	}
}
