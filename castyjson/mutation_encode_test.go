package castyjson

// Tests written for survivors of gremlins in the files castyjson's partial
// run did not reach (encode.go, plan.go, registry.go, values.go, text.go,
// decode_typed.go; TESTING.md, "castyjson: the files the partial run did
// not reach"): each pins a behaviour the rest of the suite let a
// one-operator change break.

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// TestRefURIEscapes: a Ref's URI is written as json.dumps writes the
// string (ensure_ascii): a quote, a backslash, a control character, DEL
// (0x7f, outside Python's plain range ' '..'~') and a non-ASCII rune are
// escaped; a space is not.
func TestRefURIEscapes(t *testing.T) {
	r := NewRegistry()
	base := wire.Address{System: "sys", Host: "h", Port: 1}
	for _, tc := range []struct{ path, want string }{
		{"a b", `casty://sys@h:1/a b`},
		{`a"b`, `casty://sys@h:1/a\"b`},
		{`a\b`, `casty://sys@h:1/a\\b`},
		{"a\x01b", `casty://sys@h:1/a\u0001b`},
		{"a\x1fb", `casty://sys@h:1/a\u001fb`},
		{"a\x7fb", `casty://sys@h:1/a\u007fb`},
		{"a\u00e9b", `casty://sys@h:1/a\u00e9b`},
		{"a~b", `casty://sys@h:1/a~b`},
	} {
		a := base
		a.Path = tc.path
		want := `{"__ref__": "` + tc.want + `"}`
		got, err := r.AppendValue([]byte("pre"), wire.Ref{Address: a})
		if err != nil || string(got) != "pre"+want {
			t.Errorf("AppendValue(Ref path %q) = %q, %v, want %q", tc.path, got, err, "pre"+want)
		}
		// The same bytes as a field of a registered struct (encRef).
		type holder struct{ R wire.Ref }
		hr := NewRegistry()
		if err := hr.Register("m.Holder", holder{}); err != nil {
			t.Fatal(err)
		}
		got, err = hr.AppendValue(nil, holder{R: wire.Ref{Address: a}})
		if w := `{"_type": "m.Holder", "r": ` + want + `}`; err != nil || string(got) != w {
			t.Errorf("AppendValue(holder{Ref path %q}) = %q, %v, want %q", tc.path, got, err, w)
		}
	}
}

// depthChain is a registered struct that nests itself, one JSON object
// per level.
type depthChain struct {
	Next *depthChain
}

func newDepthChain(levels int) *depthChain {
	var c *depthChain
	for range levels {
		c = &depthChain{Next: c}
	}
	return c
}

// TestEncodeDepthLimit: every container encoder allows exactly
// Limits.MaxDepth levels of Go nesting (encFn's depth) and refuses one more
// with an *EncodeError "nesting deeper than N levels". Where one Go level
// is one JSON level (envelopes, Unknown, lists, structs), that is the depth
// the decoder accepts: what is sent can be received. A chain of n pointers
// counts n levels (a pointer to a pointer is a level, and the last pointer
// is checked as a container is), so a cycle of pointers alone ends too.
func TestEncodeDepthLimit(t *testing.T) {
	const max = 4
	r := NewRegistry()
	if err := r.Register("m.Chain", depthChain{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("m.AnyHolder", anyHolder{}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetLimits(Limits{MaxDepth: max}); err != nil {
		t.Fatal(err)
	}
	envs := func(levels int) any {
		var v any = 1
		for range levels {
			v = wire.ShardEnvelope{EntityID: "e", Message: v}
		}
		return v
	}
	unknowns := func(levels int) any {
		var v any = 1
		for range levels {
			v = Unknown{Type: "m.U", Fields: map[string]any{"f": v}}
		}
		return v
	}
	lists := func(levels int) any {
		var v any = 1
		for range levels {
			v = []any{v}
		}
		return v
	}
	maps := func(levels int) any { // one Go level each (3 JSON levels: the encoder counts Go nesting)
		var v any = 1
		for range levels {
			v = map[string]any{"k": v}
		}
		return v
	}
	pointers := func(levels int) any { // a chain of pointers ending in an int: the JSON is the int
		n := 7
		p1 := &n
		p2 := &p1
		p3 := &p2
		p4 := &p3
		p5 := &p4
		return map[int]any{4: p4, 5: p5}[levels]
	}
	mapKeys := func(levels int) any { // a key of levels-1 structs: the key is one Go level below the map
		return map[any]int{depthChainMsg{levels - 1, 1}.value(): 2}
	}
	structs := func(levels int) any { return depthChainMsg{levels, 1}.value() }
	structPtrs := func(levels int) any { return newDepthChain(levels) }
	envInStructs := func(levels int) any { // the envelope fast path below a struct
		return depthChainMsg{levels - 1, envs(1)}.value()
	}
	for _, tc := range []struct {
		name   string
		build  func(levels int) any
		goOnly bool // MaxDepth Go levels are more JSON levels: not decodable with the same Limits
	}{
		{"envelope", envs, false},
		{"unknown", unknowns, false},
		{"list", lists, false},
		{"map", maps, true},
		{"map key", mapKeys, true},
		{"struct", structs, false},
		{"struct through pointers", structPtrs, false},
		{"pointer chain", pointers, false},
		{"envelope in structs", envInStructs, false},
	} {
		ok, err := r.AppendValue(nil, tc.build(max))
		if err != nil {
			t.Errorf("%s: AppendValue(%d levels) with MaxDepth %d: %v", tc.name, max, max, err)
		} else if _, err := r.Decode(ok); err != nil && !tc.goOnly {
			t.Errorf("%s: Decode(%s) with MaxDepth %d: %v (encoded but not decodable)", tc.name, ok, max, err)
		}
		out, err := r.AppendValue(nil, tc.build(max+1))
		var ee *EncodeError
		if !errors.As(err, &ee) || !strings.Contains(ee.Reason, "nesting deeper than 4 levels") {
			t.Errorf("%s: AppendValue(%d levels) with MaxDepth %d = %s, %v, want a nesting *EncodeError", tc.name, max+1, max, out, err)
		}
	}
}

// depthChainMsg builds levels of anyHolder (a struct field of interface
// type: no pointer's own depth check) around inner.
type depthChainMsg struct {
	levels int
	inner  any
}

type anyHolder struct {
	M any
}

func (d depthChainMsg) value() any {
	v := d.inner
	for range d.levels {
		v = anyHolder{M: v}
	}
	return v
}

// TestEncodeErrorKeepsInnerType: an *EncodeError from a nested value keeps
// the type that failed (the innermost); the outer types only add to the
// field path.
func TestEncodeErrorKeepsInnerType(t *testing.T) {
	type holder struct{ U Unknown }
	r := NewRegistry()
	if err := r.Register("m.Holder", holder{}); err != nil {
		t.Fatal(err)
	}
	_, err := r.AppendValue(nil, holder{U: Unknown{Fields: map[string]any{"x": 1}}})
	var ee *EncodeError
	if !errors.As(err, &ee) || ee.Type != "castyjson.Unknown" || ee.Field != "u" || ee.Reason != "empty Type" {
		t.Fatalf("AppendValue(holder{Unknown without Type}) = %#v, want Type castyjson.Unknown, Field u, Reason \"empty Type\"", err)
	}
}

// selfPoint encodes itself in a form its reflection plan would not write
// (both coordinates in one list).
type selfPoint struct{ X, Y int }

func (p selfPoint) AppendCastyJSON(dst []byte) []byte {
	dst = append(dst, `{"_type": "t.SelfPoint", "xy": [`...)
	dst = strconv.AppendInt(dst, int64(p.X), 10)
	dst = append(dst, ", "...)
	dst = strconv.AppendInt(dst, int64(p.Y), 10)
	return append(dst, "]}"...)
}

// TestJSONAppenderNested: a JSONAppender's own bytes are used wherever
// its value is encoded (a struct field, a slice element, behind a pointer,
// in an interface field), not only as the top-level message.
func TestJSONAppenderNested(t *testing.T) {
	type pointHolder struct {
		P  selfPoint
		Ps []selfPoint
		PP *selfPoint
		A  any
	}
	r := NewRegistry()
	r.MustRegister("t.SelfPoint", selfPoint{})
	r.MustRegister("t.PointHolder", pointHolder{})
	got, err := r.AppendValue(nil, pointHolder{P: selfPoint{1, 2}, Ps: []selfPoint{{3, 4}}, PP: &selfPoint{5, 6}, A: selfPoint{7, 8}})
	const want = `{"_type": "t.PointHolder", "p": {"_type": "t.SelfPoint", "xy": [1, 2]}, ` +
		`"ps": [{"_type": "t.SelfPoint", "xy": [3, 4]}], "pp": {"_type": "t.SelfPoint", "xy": [5, 6]}, ` +
		`"a": {"_type": "t.SelfPoint", "xy": [7, 8]}}`
	if err != nil || string(got) != want {
		t.Fatalf("AppendValue(pointHolder) = %s, %v, want %s", got, err, want)
	}
}

type (
	// embedSpecial embeds the codec's own struct kinds without tags: they
	// are fields named by their type (ref, unknown, enum), not flattened.
	embedSpecial struct {
		wire.Ref
		Unknown
		Enum
	}
	// embedPtrTagged embeds a pointer under a tag: a field like any other.
	embedPtrTagged struct {
		*EmbedInner `casty:"inner"`
		A           int
	}
	embedPtrUntagged struct {
		*EmbedInner
	}
	// embedNonStruct embeds a named non-struct type: a field named after
	// its type.
	embedNonStruct struct {
		EmbedCount
	}
	// withUnexported has an unexported field between two exported ones
	// (it does not travel).
	withUnexported struct {
		A int
		b int
		C int
	}
)

// EmbedInner and EmbedCount are exported: an embedded field of an
// unexported type is unexported, and skipped.
type (
	EmbedInner struct{ V int }
	EmbedCount int
)

// TestEmbeddedAndUnexportedFields: Register's field walk. Unexported
// fields are skipped and the walk goes on; an embedded Ref, Unknown or
// Enum is one field named after its type (not flattened); an embedded
// pointer needs a tag name and is then an ordinary field; an embedded
// named non-struct is a field named after its type.
func TestEmbeddedAndUnexportedFields(t *testing.T) {
	r := NewRegistry()
	r.MustRegister("t.Inner", EmbedInner{})
	for _, tc := range []struct {
		name    string
		v       any
		want    string
		decoded any // what want decodes to, if not v
	}{
		{"t.WithUnexported", withUnexported{A: 1, b: 2, C: 3}, `{"_type": "t.WithUnexported", "a": 1, "c": 3}`, withUnexported{A: 1, C: 3}},
		{"t.EmbedSpecial", embedSpecial{
			Ref:     wire.Ref{Address: wire.Address{System: "s", Host: "h", Port: 1, Path: "/p"}},
			Unknown: Unknown{Type: "m.U", Fields: map[string]any{"x": int64(1)}},
			Enum:    Enum{Type: "m.E", Name: "A"},
		}, `{"_type": "t.EmbedSpecial", "ref": {"__ref__": "casty://s@h:1/p"}, "unknown": {"_type": "m.U", "x": 1}, ` +
			`"enum": {"__enum__": "m.E", "value": "A"}}`, nil},
		{"t.EmbedPtrTagged", embedPtrTagged{EmbedInner: &EmbedInner{V: 4}, A: 5},
			`{"_type": "t.EmbedPtrTagged", "inner": {"_type": "t.Inner", "v": 4}, "a": 5}`, nil},
		{"t.EmbedNonStruct", embedNonStruct{EmbedCount: 6}, `{"_type": "t.EmbedNonStruct", "embed_count": 6}`, nil},
	} {
		if err := r.Register(tc.name, tc.v); err != nil {
			t.Errorf("Register(%s): %v", tc.name, err)
			continue
		}
		got, err := r.AppendValue(nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("AppendValue(%T) = %s, %v, want %s", tc.v, got, err, tc.want)
			continue
		}
		// And it decodes back to the same value.
		want := tc.decoded
		if want == nil {
			want = tc.v
		}
		back, err := r.Decode(got)
		if err != nil || !reflect.DeepEqual(back, want) {
			t.Errorf("Decode(%s) = %#v, %v, want %#v", got, back, err, want)
		}
	}
	err := r.Register("t.EmbedPtrUntagged", embedPtrUntagged{})
	if err == nil || !strings.Contains(err.Error(), "embedded pointer") {
		t.Errorf("Register(embedPtrUntagged) = %v, want an \"embedded pointer ... needs a casty tag name\" error", err)
	}
}

// halfEnum has SetEnumName but no EnumName: not an enum (it could be
// decoded but not encoded as one), so a plain dataclass.
type halfEnum struct{ V int }

func (h *halfEnum) SetEnumName(name string) error { h.V = len(name); return nil }

// TestEnumNeedsBothMethods: a type is an enum only with EnumName on the
// value and SetEnumName on the pointer; with SetEnumName alone it
// registers, encodes and decodes as a dataclass.
func TestEnumNeedsBothMethods(t *testing.T) {
	r := NewRegistry()
	if err := r.Register("t.Half", halfEnum{}); err != nil {
		t.Fatal(err)
	}
	got, err := r.AppendValue(nil, halfEnum{V: 3})
	if want := `{"_type": "t.Half", "v": 3}`; err != nil || string(got) != want {
		t.Fatalf("AppendValue(halfEnum{3}) = %s, %v, want %s", got, err, want)
	}
	if back, err := r.Decode(got); err != nil || back != (halfEnum{V: 3}) {
		t.Fatalf("Decode(%s) = %#v, %v, want halfEnum{V: 3}", got, back, err)
	}
}

// TestCodecErrorMessages: Error() is "castyjson: <op>[ <type>][ field
// <path>][ at offset N]: <reason>[: <cause>]", each optional part left out
// when empty; an encode error has no offset, a decode error's offset 0 is
// written.
func TestCodecErrorMessages(t *testing.T) {
	type holder struct{ U Unknown }
	r := NewRegistry()
	r.MustRegister("m.Holder", holder{})
	_, encErr := r.AppendValue(nil, holder{U: Unknown{Fields: map[string]any{"x": 1}}})
	_, decAt0 := r.Decode([]byte("x"))
	_, decAt5 := r.Decode([]byte("[1, 2"))
	for _, tc := range []struct {
		err  error
		want string
	}{
		{encErr, "castyjson: encode castyjson.Unknown field u: empty Type"},
		{decAt0, "castyjson: decode at offset 0: invalid JSON value"},
		{decAt5, "castyjson: decode at offset 5: unexpected end of JSON"},
		{&EncodeError{Reason: "r"}, "castyjson: encode: r"},
		{&EncodeError{Type: "t.X", Field: "a[1].b", Reason: "r", Err: errors.New("cause")}, "castyjson: encode t.X field a[1].b: r: cause"},
		{&DecodeError{Type: "t.X", Field: "f", Offset: 7, Reason: "r", Err: errors.New("cause")}, "castyjson: decode t.X field f at offset 7: r: cause"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("Error() = %v, want %q", tc.err, tc.want)
		}
	}
}

// textDataclass implements encoding.TextMarshaler and TextUnmarshaler.
type textDataclass struct{ A int }

func (x textDataclass) MarshalText() ([]byte, error) { return []byte("a=" + strconv.Itoa(x.A)), nil }

func (x *textDataclass) UnmarshalText(b []byte) error {
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "a="))
	x.A = n
	return err
}

// TestRegisteredStructIsNotText: a registered struct is a dataclass even
// when it implements MarshalText and UnmarshalText; the same type
// unregistered, as a field, travels as its text.
func TestRegisteredStructIsNotText(t *testing.T) {
	type holder struct{ T textDataclass }
	plain := NewRegistry()
	plain.MustRegister("t.Holder", holder{})
	got, err := plain.AppendValue(nil, holder{T: textDataclass{A: 4}})
	if want := `{"_type": "t.Holder", "t": "a=4"}`; err != nil || string(got) != want {
		t.Fatalf("unregistered: AppendValue = %s, %v, want %s", got, err, want)
	}
	r := NewRegistry()
	r.MustRegister("t.TextDC", textDataclass{})
	r.MustRegister("t.Holder", holder{})
	got, err = r.AppendValue(nil, holder{T: textDataclass{A: 4}})
	if want := `{"_type": "t.Holder", "t": {"_type": "t.TextDC", "a": 4}}`; err != nil || string(got) != want {
		t.Fatalf("registered: AppendValue = %s, %v, want %s", got, err, want)
	}
	if back, err := r.Decode(got); err != nil || back != (holder{T: textDataclass{A: 4}}) {
		t.Fatalf("registered: Decode(%s) = %#v, %v", got, back, err)
	}
}

// TestTypedIntegerFields: an integer field takes an int literal or an
// integral float (Python may send 5.0) inside the field's range, null as
// zero, and refuses everything else with a DecodeError "does not fit" (a
// syntax error keeps its own reason), never wrapping or truncating.
func TestTypedIntegerFields(t *testing.T) {
	type nums struct {
		I  int64
		U  uint64
		U8 uint8
	}
	r := NewRegistry()
	r.MustRegister("t.Nums", nums{})
	for _, tc := range []struct {
		field, lit string
		want       nums
		err        string // substring of the error, "" for success
	}{
		{"i", "-5.0", nums{I: -5}, ""},
		{"i", "-9.223372036854775808e18", nums{I: math.MinInt64}, ""},
		{"i", "9.223372036854775807e18", nums{}, "does not fit int64"},  // the float is 2^63
		{"i", "-9.223372036854777856e18", nums{}, "does not fit int64"}, // the float below -2^63
		{"u", "5.0", nums{U: 5}, ""},
		{"u", "1.8446744073709549568e19", nums{U: 1<<64 - 2048}, ""}, // the largest float below 2^64
		{"u", "1.8446744073709551616e19", nums{}, "does not fit uint64"},
		{"u", "18446744073709551615", nums{U: math.MaxUint64}, ""},
		{"u", "-1", nums{}, "does not fit uint64"},
		{"u", "-1.0", nums{}, "does not fit uint64"},
		{"u", "0.5", nums{}, "does not fit uint64"},
		{"u", "null", nums{}, ""},
		{"u", "-", nums{}, "invalid number"},
		{"u8", "255", nums{U8: 255}, ""},
		{"u8", "256", nums{}, "does not fit uint8"},
		{"u8", "300.0", nums{}, "does not fit uint8"},
	} {
		p := `{"_type": "t.Nums", "` + tc.field + `": ` + tc.lit + `}`
		got, err := r.Decode([]byte(p))
		var de *DecodeError
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("Decode(%s) = %#v, %v, want %#v", p, got, err, tc.want)
		case tc.err != "" && (!errors.As(err, &de) || !strings.Contains(de.Reason, tc.err)):
			t.Errorf("Decode(%s) = %#v, %v, want a DecodeError %q", p, got, err, tc.err)
		case tc.err != "" && tc.lit != "-" && de.Offset != strings.Index(p, tc.lit):
			t.Errorf("Decode(%s): error at offset %d, want %d (the number's first byte)", p, de.Offset, strings.Index(p, tc.lit))
		}
	}
}

// TestTypedSequenceForms: a typed slice reads the array of a
// {"__tuple__": [...]} object among other members, separated by commas as
// any object's; an array longer than a Go array is refused by name, not
// by a recovered panic.
func TestTypedSequenceForms(t *testing.T) {
	r := NewRegistry()
	var s []int
	if err := r.DecodeInto([]byte(`{"x": 1, "__tuple__": [1, 2]}`), &s); err != nil || len(s) != 2 || s[1] != 2 {
		t.Errorf("DecodeInto(tuple object, *[]int) = %v, %v, want [1 2]", s, err)
	}
	s = nil
	if err := r.DecodeInto([]byte(`{"x": 1 "__tuple__": [1, 2]}`), &s); err == nil {
		t.Errorf("a tuple object without a comma between members decoded: %v", s)
	}
	var a [2]int
	err := r.DecodeInto([]byte(`[1, 2, 3]`), &a)
	var de *DecodeError
	if !errors.As(err, &de) || de.Reason != "more than 2 elements for [2]int" {
		t.Errorf("DecodeInto([1, 2, 3], *[2]int) = %v, %v, want \"more than 2 elements for [2]int\"", a, err)
	}
	if err := r.DecodeInto([]byte(`{"__frozenset__": [3, 4]}`), &a); err != nil || a != [2]int{3, 4} {
		t.Errorf("DecodeInto(frozenset object, *[2]int) = %v, %v, want [3 4]", a, err)
	}
}

// TestTypedMapMembers: a typed map with string keys reads a plain JSON
// object too, whose members need commas as any object's.
func TestTypedMapMembers(t *testing.T) {
	r := NewRegistry()
	var m map[string]int
	if err := r.DecodeInto([]byte(`{"a": 1, "b": 2}`), &m); err != nil || len(m) != 2 || m["b"] != 2 {
		t.Errorf("DecodeInto(object, *map[string]int) = %v, %v, want map[a:1 b:2]", m, err)
	}
	m = nil
	if err := r.DecodeInto([]byte(`{"a": 1 "b": 2}`), &m); err == nil {
		t.Errorf("an object without a comma between members decoded: %v", m)
	}
}

// TestStructDictKeyUnhashable: a dict key decoded into a struct with an
// interface field may hold an unhashable value (a list); the decoder
// refuses it by name instead of panicking in the map assignment.
func TestStructDictKeyUnhashable(t *testing.T) {
	type key struct{ K any }
	r := NewRegistry()
	r.MustRegister("t.Key", key{})
	var m map[key]int
	if err := r.DecodeInto([]byte(`{"__dict__": [[{"_type": "t.Key", "k": 5}, 1]]}`), &m); err != nil || m[key{K: int64(5)}] != 1 {
		t.Errorf("DecodeInto(hashable key) = %v, %v, want map[{5}:1]", m, err)
	}
	err := r.DecodeInto([]byte(`{"__dict__": [[{"_type": "t.Key", "k": [1]}, 1]]}`), &m)
	var de *DecodeError
	if !errors.As(err, &de) || de.Reason != "dict key cannot be a Go map key" || de.Field != "__dict__[0]" {
		t.Errorf("DecodeInto(key holding a list) = %#v, want a DecodeError \"dict key cannot be a Go map key\" at __dict__[0]", err)
	}
}
