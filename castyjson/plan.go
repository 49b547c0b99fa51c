package castyjson

import (
	"fmt"
	"reflect"
	"strings"
	"unicode"

	"github.com/zerohop/zerohop/internal/pyjson"
)

// This file compiles plans: the per-type encoder and decoder functions
// Register builds once (see "How it works" in doc.go).

// planKind distinguishes the plans that carry a Python type name.
type planKind uint8

const (
	planOther  planKind = iota
	planStruct          // a dataclass: {"_type": name, fields...}
	planEnum            // {"__enum__": name, "value": member}
)

// collKind is the JSON form of a slice or array.
type collKind uint8

const (
	collList      collKind = iota // [...]
	collFrozenset                 // {"__frozenset__": [...]}
	collTuple                     // {"__tuple__": [...]}
)

// encFn appends the JSON of v (of the plan's Go type) to dst. depth is the
// Go nesting level, bounded by Limits.MaxDepth to stop cyclic values.
type encFn func(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error)

// decFn decodes the JSON value at the decoder's position into v, which is
// settable and addressable.
type decFn func(d *decoder, v reflect.Value) error

// typePlan is the compiled codec of one Go type. Plans are immutable once
// their state is published.
type typePlan struct {
	typ  reflect.Type
	name string // python name when registered, else ""
	kind planKind
	head []byte // structs: `{"_type": "name"`; enums: `{"__enum__": "name", "value": `
	// fields of a struct, in declaration order (embedded structs flattened)
	fields []fieldPlan
	// flat: the fields of a struct encodable without reflection
	// (appendFlat, flat.go); nil when one is not a boolean, number or
	// string.
	flat []flatField
	enc  encFn
	dec  decFn
}

type fieldPlan struct {
	name   string // JSON key
	prefix []byte // `, "key": `
	index  []int  // reflect field index path
	enc    encFn
	dec    decFn
}

// field returns the value of f in the struct v.
func (f *fieldPlan) field(v reflect.Value) reflect.Value {
	if len(f.index) == 1 {
		return v.Field(f.index[0])
	}
	return v.FieldByIndex(f.index)
}

// planBuilder compiles plans, memoized by type so that recursive types
// terminate.
type planBuilder struct {
	plans  map[reflect.Type]*typePlan // output (and memo)
	base   map[reflect.Type]*typePlan // read-only plans to reuse, may be nil
	nameOf func(reflect.Type) string
}

func (b *planBuilder) plan(t reflect.Type) (*typePlan, error) {
	if p := b.base[t]; p != nil {
		return p, nil
	}
	if p := b.plans[t]; p != nil {
		return p, nil
	}
	p := &typePlan{typ: t, name: b.nameOf(t)}
	text, err := textCodec(t, p.name != "")
	if err != nil {
		return nil, err
	}
	b.plans[t] = p
	switch {
	case text:
		p.enc, p.dec = encText, decText
	case t == refType:
		p.enc, p.dec = encRef, decRef
	case t == unknownType:
		p.enc, p.dec = encUnknownValue, decUnknownValue
	case t == enumValueType:
		p.enc, p.dec = encEnumValue, decEnumValue
	case isEnumType(t):
		p.kind = planEnum
		if p.name != "" {
			p.head = append(pyjson.AppendString(append([]byte(nil), `{"__enum__": `...), p.name), `, "value": `...)
		}
		p.enc, p.dec = p.encEnum, p.decEnum
	case t.Kind() == reflect.Struct:
		p.kind = planStruct
		if p.name != "" {
			p.head = pyjson.AppendString(append([]byte(nil), `{"_type": `...), p.name)
		}
		if err = b.structFields(p); err == nil {
			p.enc, p.dec = p.encStruct, p.decStruct
			p.flat = flatFields(p)
		}
	default:
		p.enc, p.dec, err = b.codec(t, collList)
	}
	if err != nil {
		delete(b.plans, t)
		return nil, err
	}
	if t.Implements(appenderType) && t.Kind() != reflect.Interface {
		p.enc = encAppender
	}
	return p, nil
}

// codec returns the encoder and decoder of a value of type t in a position
// where coll applies (slices and arrays only).
func (b *planBuilder) codec(t reflect.Type, coll collKind) (encFn, decFn, error) {
	if coll != collList && t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
		return nil, nil, fmt.Errorf("frozenset/tuple option on %v, which is not a slice or array", t)
	}
	if t.Kind() != reflect.Struct {
		text, err := textCodec(t, false)
		switch {
		case err != nil:
			return nil, nil, err
		case text:
			return encText, decText, nil
		case isBytes(t):
			return nil, nil, errBytes(t)
		}
	}
	switch {
	case t == refType, t == unknownType, t == enumValueType, isEnumType(t), t.Kind() == reflect.Struct && coll == collList:
		p, err := b.plan(t)
		if err != nil {
			return nil, nil, err
		}
		if p.enc != nil {
			return p.enc, p.dec, nil
		}
		// Indirect through the plan: its enc/dec are set once plan returns,
		// even for a recursive type whose plan is still being built.
		return func(st *codecState, dst []byte, v reflect.Value, depth int) ([]byte, error) {
				return p.enc(st, dst, v, depth)
			}, func(d *decoder, v reflect.Value) error {
				return p.dec(d, v)
			}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return encBool, decBool, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return encInt, decInt, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return encUint, decUint, nil
	case reflect.Float32:
		return encFloat32, decFloat, nil
	case reflect.Float64:
		return encFloat64, decFloat, nil
	case reflect.String:
		return encString, decString, nil
	case reflect.Interface:
		return encInterface, decInterface, nil
	case reflect.Pointer:
		ee, ed, err := b.codec(t.Elem(), collList)
		if err != nil {
			return nil, nil, err
		}
		return ptrCodec(t, ee, ed)
	case reflect.Slice, reflect.Array:
		ee, ed, err := b.codec(t.Elem(), collList)
		if err != nil {
			return nil, nil, err
		}
		return seqCodec(t, coll, ee, ed)
	case reflect.Map:
		ke, kd, err := b.codec(t.Key(), collList)
		if err != nil {
			return nil, nil, fmt.Errorf("map key: %w", err)
		}
		ee, ed, err := b.codec(t.Elem(), collList)
		if err != nil {
			return nil, nil, err
		}
		return mapCodec(t, ke, kd, ee, ed)
	}
	return nil, nil, fmt.Errorf("type %v cannot be encoded", t)
}

// structFields compiles the fields of the struct plan p.
func (b *planBuilder) structFields(p *typePlan) error {
	seen := make(map[string]string)
	var walk func(t reflect.Type, index []int) error
	walk = func(t reflect.Type, index []int) error {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag, tagged := sf.Tag.Lookup("casty")
			if tag == "-" {
				continue
			}
			if jt, ok := sf.Tag.Lookup("json"); ok && !tagged && (sf.IsExported() || sf.Anonymous) {
				return fmt.Errorf("field %s: json tag %q without a casty tag: castyjson does not read json tags "+
					"(their options, such as omitempty, mean nothing to a dataclass, whose fields are always all present); "+
					"name its Python field with a casty tag (`casty:\"name\"`, or `casty:\"-\"` to skip it)", sf.Name, jt)
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct && !isSpecialStruct(sf.Type) {
				if err := walk(sf.Type, idx); err != nil {
					return err
				}
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if sf.Anonymous && sf.Type.Kind() == reflect.Pointer && name == "" {
				return fmt.Errorf("field %s: embedded pointer %v needs a casty tag name", sf.Name, sf.Type)
			}
			if name == "" {
				name = SnakeCase(sf.Name)
			}
			coll := collList
			switch opts {
			case "":
			case "frozenset":
				coll = collFrozenset
			case "tuple":
				coll = collTuple
			default:
				return fmt.Errorf("field %s: unknown casty tag option %q (tag %q)", sf.Name, opts, tag)
			}
			if isMarkerKey(name) {
				return fmt.Errorf("field %s: JSON name %q is reserved by the serializer", sf.Name, name)
			}
			if prev, dup := seen[name]; dup {
				return fmt.Errorf("fields %s and %s both map to JSON key %q", prev, sf.Name, name)
			}
			seen[name] = sf.Name
			enc, dec, err := b.codec(sf.Type, coll)
			if err != nil {
				return fmt.Errorf("field %s: %w", sf.Name, err)
			}
			prefix := pyjson.AppendString(append([]byte(nil), ", "...), name)
			prefix = append(prefix, ": "...)
			p.fields = append(p.fields, fieldPlan{
				name: name, prefix: prefix, index: idx, enc: enc, dec: dec,
			})
		}
		return nil
	}
	return walk(p.typ, nil)
}

func isSpecialStruct(t reflect.Type) bool {
	return t == refType || t == unknownType || t == enumValueType || isEnumType(t)
}

// isMarkerKey reports whether key is one of the keys the serializer
// reserves: "_type" and the markers of from_dict.
func isMarkerKey(key string) bool {
	switch key {
	case "_type", "__ref__", "__enum__", "__frozenset__", "__dict__", "__tuple__":
		return true
	}
	return false
}

// SnakeCase returns the default JSON name of a Go field: ShardID ->
// shard_id, ReplyTo -> reply_to, AllocationEpoch -> allocation_epoch,
// HTTPServer -> http_server. A '_' goes before an upper-case letter that
// follows a lower-case letter or digit, or that starts a word after an
// acronym; everything is lower-cased.
func SnakeCase(name string) string {
	rs := []rune(name)
	var sb strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					sb.WriteByte('_')
				}
			}
			sb.WriteRune(unicode.ToLower(r))
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// label names the type in errors: its python name when registered.
func (p *typePlan) label() string {
	if p.name != "" {
		return p.name
	}
	return p.typ.String()
}
