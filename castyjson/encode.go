package castyjson

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"

	"github.com/zerohop/zerohop/internal/pyjson"
	"github.com/zerohop/zerohop/wire"
)

// This file is the encoding half of the JSON codec: Casty's
// JsonSerializer.to_dict followed by Python's json.dumps with default
// arguments (", " and ": " separators, ensure_ascii, NaN/Infinity tokens).

// AppendValue appends the JSON encoding of v to dst: a registered struct
// ({"_type": ..., fields...}), a registered enum, a Ref ({"__ref__": uri}),
// Unknown, Enum, nil, bool, integers, floats, strings, slices and arrays
// (JSON arrays), maps ({"__dict__": [[k, v], ...]}, entries sorted by key
// when the key type is ordered), and pointers to any of these (nil is
// null). The zero Ref, the zero value of an enum, the zero Unknown and the
// zero Enum encode as null, which is also what a missing or null field
// decodes to. Strings that are not valid UTF-8 are written with U+FFFD for
// each bad byte. A type implementing JSONAppender appends itself. On error
// dst is returned unchanged (truncated to its original length) with an
// *EncodeError.
//
// Encoding a ShardEnvelope whose Message is a registered struct into a dst
// with enough capacity does not allocate.
func (r *Registry) AppendValue(dst []byte, v any) ([]byte, error) {
	st := r.load()
	n := len(dst)
	out, err := st.appendValueSafe(dst, v)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// AppendMessageFrame appends a whole message frame to dst (PROTOCOL.md
// sections 2.1 and 3): frame length and type 0x01, the header {"target":
// target, "sender": sender, "type_hint": TypeName(msg)} and the JSON of msg
// as AppendValue writes it. target and sender are full URIs (sender is the
// sending system's casty://system@host:port/). maxFrame <= 0 means
// DefaultMaxFrameSize. On error (an *EncodeError, or a *FrameError when the
// frame would exceed maxFrame) dst is returned truncated to its original
// length. It does not allocate for a ShardEnvelope of a registered struct
// into a dst with enough capacity.
func (r *Registry) AppendMessageFrame(dst []byte, target, sender string, msg any, maxFrame int) ([]byte, error) {
	return r.appendMessageFrame(dst, target, nil, sender, msg, maxFrame)
}

// AppendMessageFrameTo is AppendMessageFrame to the actor at to, without
// building to's URI as a string: a reply to a Ref (to.Address) allocates
// nothing for a registered struct into a dst with enough capacity.
func (r *Registry) AppendMessageFrameTo(dst []byte, to wire.Address, sender string, msg any, maxFrame int) ([]byte, error) {
	return r.appendMessageFrame(dst, "", &to, sender, msg, maxFrame)
}

// appendMessageFrame writes the target from to when it is set, from
// target otherwise.
func (r *Registry) appendMessageFrame(dst []byte, target string, to *wire.Address, sender string, msg any, maxFrame int) ([]byte, error) {
	st := r.load()
	n := len(dst)
	name, ok := st.typeName(msg)
	if !ok {
		return dst[:n], &EncodeError{Type: reflect.TypeOf(msg).String(), Reason: "type is not registered"}
	}
	dst, start := wire.BeginFrame(dst, wire.FrameMessage)
	if to != nil {
		dst = wire.AppendHeaderTo(dst, *to, sender, name)
	} else {
		dst = wire.AppendHeader(dst, wire.Header{Target: target, Sender: sender, TypeHint: name})
	}
	dst, err := st.appendValueSafe(dst, msg)
	if err != nil {
		return dst[:n], err
	}
	return wire.EndFrame(dst, start, maxFrame)
}

// AppendEnvelopeFrame is AppendMessageFrame for ShardEnvelope{EntityID:
// entityID, Message: msg} without building (and boxing) the envelope: the
// routing hot path. It requires ShardEnvelope to be registered as
// TypeShardEnvelope (NewRegistry does). It does not allocate when msg is a
// registered struct and dst has enough capacity.
func (r *Registry) AppendEnvelopeFrame(dst []byte, target, sender, entityID string, msg any, maxFrame int) ([]byte, error) {
	st := r.load()
	n := len(dst)
	if !st.envFast {
		return dst[:n], &EncodeError{Type: wire.TypeShardEnvelope, Reason: "ShardEnvelope is not registered as " + wire.TypeShardEnvelope}
	}
	dst, start := wire.BeginFrame(dst, wire.FrameMessage)
	dst = wire.AppendHeader(dst, wire.Header{Target: target, Sender: sender, TypeHint: wire.TypeShardEnvelope})
	dst, err := st.appendEnvelopeSafe(dst, entityID, msg)
	if err != nil {
		return dst[:n], err
	}
	return wire.EndFrame(dst, start, maxFrame)
}

// AppendEnvelopeHead appends the constant part of an envelope frame to
// target from sender: the frame type, header_len and the header {"target":
// target, "sender": sender, "type_hint": "casty.sharding.ShardEnvelope"}
// (wire.AppendMessageHead), for AppendHeadedEnvelopeFrame.
func (r *Registry) AppendEnvelopeHead(dst []byte, target, sender string) []byte {
	return wire.AppendMessageHead(dst, wire.Header{Target: target, Sender: sender, TypeHint: wire.TypeShardEnvelope})
}

// AppendHeadedEnvelopeFrame is AppendEnvelopeFrame with the frame's
// constant part (type, header_len, header) given as head, as
// AppendEnvelopeHead wrote it: the frame's length, a copy of head, then
// the envelope. Byte for byte AppendEnvelopeFrame's frame for head's
// target and sender, without escaping the two URIs per frame (the
// engine's Tell path; TestHeadedEnvelopeFrameIsEnvelopeFrame). head is
// not checked. It does not allocate when msg is a registered struct and
// dst has enough capacity.
func (r *Registry) AppendHeadedEnvelopeFrame(dst, head []byte, entityID string, msg any, maxFrame int) ([]byte, error) {
	st := r.load()
	n := len(dst)
	if !st.envFast {
		return dst[:n], &EncodeError{Type: wire.TypeShardEnvelope, Reason: "ShardEnvelope is not registered as " + wire.TypeShardEnvelope}
	}
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, head...)
	dst, err := st.appendEnvelopeSafe(dst, entityID, msg)
	if err != nil {
		return dst[:n], err
	}
	return wire.EndFrame(dst, n, maxFrame)
}

// appendValueSafe is appendValue with a last line of defence: a panic in
// the reflection code (a bug, never expected) becomes an *EncodeError
// instead of taking the process down. Tests assert that it never fires.
func (st *codecState) appendValueSafe(dst []byte, v any) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = dst, &EncodeError{Reason: internalErrorReason, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	return st.appendValue(dst, v, 0)
}

func (st *codecState) appendEnvelopeSafe(dst []byte, entityID string, msg any) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = dst, &EncodeError{Reason: internalErrorReason, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	return st.appendEnvelope(dst, entityID, msg, 0)
}

// internalErrorReason marks an error converted from a recovered panic.
const internalErrorReason = "internal error"

// appendValue encodes a dynamic value: fast paths for the hot and common
// types, then the compiled plan of its type.
func (st *codecState) appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case wire.ShardEnvelope:
		if st.envFast {
			return st.appendEnvelope(dst, x.EntityID, x.Message, depth)
		}
	case *wire.ShardEnvelope:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if st.envFast {
			return st.appendEnvelope(dst, x.EntityID, x.Message, depth)
		}
	case JSONAppender:
		return x.AppendCastyJSON(dst), nil
	case string:
		return pyjson.AppendString(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case float64:
		return appendPyFloat(dst, x, 64), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case wire.Ref:
		return appendRef(dst, &x), nil
	}
	if p := st.byWord[typeWord(v)]; p != nil {
		if p.flat != nil && depth < st.limits.MaxDepth {
			return p.appendFlat(dst, dataWord(v)), nil
		}
		return p.enc(st, dst, reflect.ValueOf(v), depth)
	}
	return st.appendDyn(dst, reflect.ValueOf(v), depth) // a plan compiled on demand
}

// appendDyn encodes v by the plan of its (concrete) type.
func (st *codecState) appendDyn(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	t := v.Type()
	p := st.byType[t]
	if p == nil {
		var err error
		if p, err = st.dynPlan(t); err != nil {
			return dst, &EncodeError{Type: t.String(), Reason: "cannot encode", Err: err}
		}
	}
	return p.enc(st, dst, v, depth)
}

// appendEnvelope writes a ShardEnvelope with the field order and names of
// its plan (types.go: entity_id, message) without reflection on the
// envelope itself.
func (st *codecState) appendEnvelope(dst []byte, entityID string, msg any, depth int) ([]byte, error) {
	if depth >= st.limits.MaxDepth {
		return dst, errEncodeDepth(wire.TypeShardEnvelope, st.limits.MaxDepth)
	}
	dst = append(dst, `{"_type": "`+wire.TypeShardEnvelope+`", "entity_id": `...)
	dst = pyjson.AppendString(dst, entityID)
	dst = append(dst, `, "message": `...)
	dst, err := st.appendValue(dst, msg, depth+1)
	if err != nil {
		return dst, encErrAt(err, "message", wire.TypeShardEnvelope)
	}
	return append(dst, '}'), nil
}

func errEncodeDepth(typ string, max int) *EncodeError {
	return &EncodeError{Type: typ, Reason: "nesting deeper than " + strconv.Itoa(max) + " levels (cyclic value?)"}
}

// encErrAt prefixes the field path of an *EncodeError with elem (a field
// name or "[i]") and fills its Type if still empty.
func encErrAt(err error, elem, typ string) error {
	if e, ok := err.(*EncodeError); ok {
		e.Field = joinPath(elem, e.Field)
		if e.Type == "" {
			e.Type = typ
		}
		return e
	}
	return &EncodeError{Type: typ, Field: elem, Reason: "cannot encode", Err: err}
}

// encStruct writes {"_type": name, "field": value, ...} in declaration
// order.
func (p *typePlan) encStruct(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if p.name == "" {
		return dst, &EncodeError{Type: p.typ.String(), Reason: "struct type is not registered"}
	}
	if depth >= st.limits.MaxDepth {
		return dst, errEncodeDepth(p.name, st.limits.MaxDepth)
	}
	dst = append(dst, p.head...)
	for i := range p.fields {
		f := &p.fields[i]
		dst = append(dst, f.prefix...)
		var err error
		if dst, err = f.enc(st, dst, f.field(v), depth+1); err != nil {
			return dst, encErrAt(err, f.name, p.name)
		}
	}
	return append(dst, '}'), nil
}

// encEnum writes {"__enum__": name, "value": member}.
func (p *typePlan) encEnum(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if p.name == "" {
		return dst, &EncodeError{Type: p.typ.String(), Reason: "enum type is not registered"}
	}
	if v.IsZero() {
		return append(dst, "null"...), nil // the zero value means "no member", as a missing field decodes
	}
	namer, ok := reflect.TypeAssert[enumNamer](v)
	if !ok {
		return dst, &EncodeError{Type: p.name, Reason: "value does not implement EnumName"}
	}
	member := namer.EnumName()
	if member == "" {
		return dst, &EncodeError{Type: p.name, Reason: "invalid enum value " + fmt.Sprint(v)}
	}
	dst = append(dst, p.head...)
	dst = pyjson.AppendString(dst, member)
	return append(dst, '}'), nil
}

func encAppender(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
	a, ok := reflect.TypeAssert[JSONAppender](v)
	if !ok {
		return dst, &EncodeError{Type: v.Type().String(), Reason: "value does not implement JSONAppender"}
	}
	return a.AppendCastyJSON(dst), nil
}

func encBool(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	return strconv.AppendBool(dst, v.Bool()), nil
}

func encInt(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	return strconv.AppendInt(dst, v.Int(), 10), nil
}

func encUint(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	return strconv.AppendUint(dst, v.Uint(), 10), nil
}

func encFloat32(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	return appendPyFloat(dst, v.Float(), 32), nil
}

func encFloat64(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	return appendPyFloat(dst, v.Float(), 64), nil
}

func encString(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	return pyjson.AppendString(dst, v.String()), nil
}

func encInterface(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if v.IsNil() {
		return append(dst, "null"...), nil
	}
	e := v.Elem()
	if e.Type() == shardEnvelopeType && st.envFast {
		env, _ := reflect.TypeAssert[wire.ShardEnvelope](e)
		return st.appendEnvelope(dst, env.EntityID, env.Message, depth)
	}
	return st.appendDyn(dst, e, depth)
}

func encRef(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	r, _ := reflect.TypeAssert[wire.Ref](v)
	return appendRef(dst, &r), nil
}

// appendRef writes {"__ref__": uri}, or null for the zero Ref.
func appendRef(dst []byte, r *wire.Ref) []byte {
	if r.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"__ref__": "`...)
	start := len(dst)
	dst = r.AppendURI(dst)
	for _, c := range dst[start:] {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			// Rare: the URI needs JSON escapes. Re-append it escaped.
			uri := string(dst[start:])
			dst = pyjson.AppendString(dst[:start-1], uri)
			return append(dst, '}')
		}
	}
	return append(dst, `"}`...)
}

func encUnknownValue(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
	u, _ := reflect.TypeAssert[Unknown](v)
	return st.appendUnknown(dst, &u, depth)
}

// appendUnknown writes {"_type": Type, fields sorted by name...}.
func (st *codecState) appendUnknown(dst []byte, u *Unknown, depth int) ([]byte, error) {
	if u.Type == "" && len(u.Fields) == 0 {
		return append(dst, "null"...), nil // the zero Unknown, as a missing field decodes
	}
	if u.Type == "" {
		return dst, &EncodeError{Type: "castyjson.Unknown", Reason: "empty Type"}
	}
	if depth >= st.limits.MaxDepth {
		return dst, errEncodeDepth(u.Type, st.limits.MaxDepth)
	}
	dst = append(dst, `{"_type": `...)
	dst = pyjson.AppendString(dst, u.Type)
	keys := make([]string, 0, len(u.Fields))
	for k := range u.Fields {
		if isMarkerKey(k) {
			return dst, &EncodeError{Type: u.Type, Field: k, Reason: "field name is reserved by the serializer"}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = append(dst, ", "...)
		dst = pyjson.AppendString(dst, k)
		dst = append(dst, ": "...)
		var err error
		if dst, err = st.appendValue(dst, u.Fields[k], depth+1); err != nil {
			return dst, encErrAt(err, k, u.Type)
		}
	}
	return append(dst, '}'), nil
}

func encEnumValue(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	e, _ := reflect.TypeAssert[Enum](v)
	if e == (Enum{}) {
		return append(dst, "null"...), nil // the zero Enum, as a missing field decodes
	}
	if e.Type == "" || e.Name == "" {
		return dst, &EncodeError{Type: "castyjson.Enum", Reason: "empty Type or Name"}
	}
	dst = append(dst, `{"__enum__": `...)
	dst = pyjson.AppendString(dst, e.Type)
	dst = append(dst, `, "value": `...)
	dst = pyjson.AppendString(dst, e.Name)
	return append(dst, '}'), nil
}

// ptrCodec: nil is null, otherwise the pointee. A pointer adds no JSON
// nesting, so it counts towards the depth limit only when it points to
// another pointer (the only way to build a cycle of pointers alone).
func ptrCodec(t reflect.Type, ee encFn, ed decFn) (encFn, decFn, error) {
	elem := t.Elem()
	step := 0
	if elem.Kind() == reflect.Pointer {
		step = 1
	}
	enc := func(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		if depth >= st.limits.MaxDepth {
			return dst, errEncodeDepth(t.String(), st.limits.MaxDepth)
		}
		return ee(st, dst, v.Elem(), depth+step)
	}
	dec := func(d *decoder, v reflect.Value) error {
		if d.null() {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(elem))
		}
		return ed(d, v.Elem())
	}
	return enc, dec, nil
}

// seqCodec: slices and arrays as JSON arrays, or wrapped in a
// frozenset/tuple marker. A nil slice encodes as an empty collection.
func seqCodec(t reflect.Type, coll collKind, ee encFn, ed decFn) (encFn, decFn, error) {
	var open, close string
	switch coll {
	case collList:
		open, close = "[", "]"
	case collFrozenset:
		open, close = `{"__frozenset__": [`, "]}"
	case collTuple:
		open, close = `{"__tuple__": [`, "]}"
	}
	label := t.String()
	enc := func(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
		if depth >= st.limits.MaxDepth {
			return dst, errEncodeDepth(label, st.limits.MaxDepth)
		}
		dst = append(dst, open...)
		for i, n := 0, v.Len(); i < n; i++ {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			var err error
			if dst, err = ee(st, dst, v.Index(i), depth+1); err != nil {
				return dst, encErrAt(err, "["+strconv.Itoa(i)+"]", label)
			}
		}
		return append(dst, close...), nil
	}
	var dec decFn
	if t.Kind() == reflect.Slice {
		dec = sliceDecoder(t, ed)
	} else {
		dec = arrayDecoder(t, ed)
	}
	return enc, dec, nil
}

// mapCodec: {"__dict__": [[key, value], ...]}. Entries are sorted by key
// when the key type is ordered (numbers, strings, bools, and interface
// keys holding those) so that the output is deterministic.
func mapCodec(t reflect.Type, ke encFn, kd decFn, ee encFn, ed decFn) (encFn, decFn, error) {
	kt, et := t.Key(), t.Elem()
	keysType, valsType := reflect.SliceOf(kt), reflect.SliceOf(et)
	order := keyOrder(kt)
	label := t.String()
	enc := func(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
		n := v.Len()
		if n == 0 {
			return append(dst, `{"__dict__": []}`...), nil
		}
		if depth >= st.limits.MaxDepth {
			return dst, errEncodeDepth(label, st.limits.MaxDepth)
		}
		keys := reflect.MakeSlice(keysType, n, n)
		vals := reflect.MakeSlice(valsType, n, n)
		it := v.MapRange()
		i := 0
		for it.Next() && i < n {
			keys.Index(i).SetIterKey(it)
			vals.Index(i).SetIterValue(it)
			i++
		}
		n = i
		perm := make([]int, n)
		for i := range perm {
			perm[i] = i
		}
		if order != nil {
			slices.SortStableFunc(perm, func(a, b int) int { return order(keys.Index(a), keys.Index(b)) })
		}
		dst = append(dst, `{"__dict__": [`...)
		for j, i := range perm {
			if j > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, '[')
			var err error
			if dst, err = ke(st, dst, keys.Index(i), depth+1); err != nil {
				return dst, encErrAt(err, "[key]", label)
			}
			dst = append(dst, ", "...)
			if dst, err = ee(st, dst, vals.Index(i), depth+1); err != nil {
				return dst, encErrAt(err, "["+fmt.Sprint(keys.Index(i))+"]", label)
			}
			dst = append(dst, ']')
		}
		return append(dst, "]}"...), nil
	}
	return enc, mapDecoder(t, kd, ed), nil
}

// keyOrder returns a comparison for map keys of type t, or nil when t has
// no natural order (entries are then written in map iteration order).
func keyOrder(t reflect.Type) func(a, b reflect.Value) int {
	switch t.Kind() {
	case reflect.String:
		return func(a, b reflect.Value) int { return cmp.Compare(a.String(), b.String()) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(a, b reflect.Value) int { return cmp.Compare(a.Int(), b.Int()) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(a, b reflect.Value) int { return cmp.Compare(a.Uint(), b.Uint()) }
	case reflect.Float32, reflect.Float64:
		return func(a, b reflect.Value) int { return cmp.Compare(a.Float(), b.Float()) }
	case reflect.Bool:
		return func(a, b reflect.Value) int { return cmp.Compare(b2i(a.Bool()), b2i(b.Bool())) }
	case reflect.Interface:
		return func(a, b reflect.Value) int { return compareAny(a, b) }
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compareAny orders interface values: nil < bool < numbers < strings <
// everything else (left in place by the stable sort).
func compareAny(a, b reflect.Value) int {
	ra, rb := anyRank(a), anyRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	ea, eb := a.Elem(), b.Elem()
	switch ra {
	case 1:
		return cmp.Compare(b2i(ea.Bool()), b2i(eb.Bool()))
	case 2:
		return cmp.Compare(numValue(ea), numValue(eb))
	case 3:
		return cmp.Compare(ea.String(), eb.String())
	}
	return 0
}

func anyRank(v reflect.Value) int {
	if v.IsNil() {
		return 0
	}
	switch v.Elem().Kind() {
	case reflect.Bool:
		return 1
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return 2
	case reflect.String:
		return 3
	}
	return 4
}

func numValue(v reflect.Value) float64 {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(v.Uint())
	}
	return v.Float()
}

// appendPyFloat appends f as Python's repr(float) writes it (which is what
// json.dumps uses): the shortest digits that round-trip, in positional
// notation with at least one fractional digit ("5.0", "0.0001",
// "1795734459.9617984") when the decimal exponent is in [-4, 16), else in
// exponent notation ("1e-05", "1e+16", "1.5e+300"); NaN, Infinity and
// -Infinity as the non-standard tokens Python emits. bits is 32 or 64 (the
// shortest digits of a float32 are used for 32).
func appendPyFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [40]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bits) // [-]d[.ddd]e±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	ei := 0
	for ei < len(e) && e[ei] != 'e' {
		ei++
	}
	exp := 0
	for _, c := range e[ei+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[ei+1] == '-' {
		exp = -exp
	}
	if neg {
		dst = append(dst, '-')
	}
	if exp < -4 || exp >= 16 {
		return append(dst, e...) // Go's 'e' format matches Python's: 1e+16, 1.5e-05
	}
	// Positional: collect the digits without the '.'.
	var digs [24]byte
	nd := 0
	for _, c := range e[:ei] {
		if c != '.' {
			digs[nd] = c
			nd++
		}
	}
	decpt := exp + 1 // digits before the decimal point
	switch {
	case decpt <= 0:
		dst = append(dst, '0', '.')
		for i := 0; i < -decpt; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digs[:nd]...)
	case decpt >= nd:
		dst = append(dst, digs[:nd]...)
		for i := nd; i < decpt; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, '.', '0')
	default:
		dst = append(dst, digs[:decpt]...)
		dst = append(dst, '.')
		dst = append(dst, digs[decpt:nd]...)
	}
	return dst
}
