package castyjson

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/zerohop/zerohop/wire"
)

// This file is the generic half of decoding: from_dict on an untyped
// value (Decode's result, `any` fields, Unknown fields), with Casty's
// marker rules and the speculative decode by first key (see doc.go).

// anyValue decodes the next value with Casty's marker rules.
func (d *decoder) anyValue() (any, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	switch c {
	case '{':
		return d.anyObject()
	case '[':
		return d.anyArray()
	case '"':
		return d.stringValue()
	}
	return d.scalar()
}

// anyObject decodes an object. Casty writes a dataclass with "_type"
// first and a marker object with the marker as its only key (plus "value"
// after "__enum__"), so those shapes are decoded in one pass: a dataclass
// as the named type directly, a marker by its value. Should the object
// turn out to have a different shape (a marker key after "_type", or keys
// after a marker's value), which from_dict would resolve by its own order
// of precedence, the object is decoded again by anyObjectSlow.
func (d *decoder) anyObject() (any, error) {
	start, depth0 := d.i, d.depth
	if err := d.enter(); err != nil {
		return nil, err
	}
	done, err := d.more(0, '}')
	if err != nil {
		return nil, err
	}
	if done {
		d.leave()
		return map[string]any{}, nil
	}
	k, err := d.key()
	if err != nil {
		return nil, err
	}
	var v any
	switch string(k) {
	case "_type":
		if c, err := d.peek(); err != nil {
			return nil, err
		} else if c != '"' {
			break // from_dict would fail on it; anyObjectSlow reports it
		}
		if v, err = d.dataclassMembers(); err == nil {
			d.leave()
			return v, nil
		}
		if err != errMarker {
			return nil, err
		}
	case "__ref__":
		if c, err := d.peek(); err != nil {
			return nil, err
		} else if c == '"' {
			if v, err = d.refValue(); err != nil {
				return nil, decErrAt(err, "__ref__", "")
			}
		}
	case "__enum__":
		if c, err := d.peek(); err != nil {
			return nil, err
		} else if c != '"' {
			break
		}
		typePos := d.i
		if err := d.skip(); err != nil {
			return nil, err
		}
		if done, err := d.more(1, '}'); err != nil || done {
			break
		}
		if k, err := d.key(); err != nil || string(k) != "value" {
			break
		}
		valuePos := d.i
		if err := d.skip(); err != nil {
			return nil, err
		}
		end := d.i
		if v, err = d.enumValue(typePos, valuePos); err != nil {
			return nil, err
		}
		d.i = end
		if done, err := d.more(2, '}'); err == nil && done {
			d.leave()
			return v, nil
		}
		v = nil
	case "__frozenset__", "__tuple__":
		name := "__frozenset__"
		if string(k) == "__tuple__" {
			name = "__tuple__"
		}
		if v, err = d.anyArray(); err != nil {
			return nil, decErrAt(err, name, "")
		}
	case "__dict__":
		if v, err = d.anyDict(); err != nil {
			return nil, decErrAt(err, "__dict__", "")
		}
	}
	if v != nil {
		// A marker's value: done if it was the object's only member.
		if done, err := d.more(1, '}'); err == nil && done {
			d.leave()
			return v, nil
		}
	}
	d.i, d.depth = start, depth0
	return d.anyObjectSlow()
}

// dataclassMembers decodes the rest of an object whose first member was
// "_type" (d.i at its string value) as that dataclass: a registered type
// or Unknown. It returns errMarker if a marker key follows.
func (d *decoder) dataclassMembers() (any, error) {
	nameRaw, err := d.scanString(&d.str)
	if err != nil {
		return nil, err
	}
	if len(nameRaw) == 0 {
		return nil, &DecodeError{Field: "_type", Offset: d.i, Reason: "empty _type"}
	}
	if p := d.st.byName[string(nameRaw)]; p != nil {
		if p.kind != planStruct {
			return nil, &DecodeError{Type: p.name, Offset: d.i, Reason: "_type names an enum, not a dataclass"}
		}
		nv := d.takeScratch(p)
		if err := d.structMembers(p, nv, 1, true); err != nil {
			return nil, err
		}
		v := nv.Interface() // copies: the one allocation of the value
		nv.SetZero()
		d.scratchPlan, d.scratch = p, nv
		return v, nil
	}
	name := d.makeString(nameRaw)
	fields, err := d.unknownMembers(name, 1, true)
	if err != nil {
		return nil, err
	}
	return Unknown{Type: name, Fields: fields}, nil
}

// Marker keys, in from_dict's order of precedence.
const (
	mRef = iota
	mEnum
	mValue
	mFrozenset
	mDict
	mTuple
	mType
	nMarkers
)

func markerIndex(k []byte) int {
	switch string(k) {
	case "__ref__":
		return mRef
	case "__enum__":
		return mEnum
	case "value":
		return mValue
	case "__frozenset__":
		return mFrozenset
	case "__dict__":
		return mDict
	case "__tuple__":
		return mTuple
	case "_type":
		return mType
	}
	return -1
}

// anyObjectSlow finds the object's marker keys first, then decodes it by
// from_dict's precedence: __ref__, __enum__ + value, __frozenset__,
// __dict__, __tuple__, _type, else a plain map. Finding the keys skips
// every member once and decoding reads the chosen ones again; nested, that
// would cost O(size x depth), so the bytes skipped here are charged to a
// per-payload budget (rescanBudget) and an input that exhausts it fails.
// Payloads written by Casty or zerohop never come here.
func (d *decoder) anyObjectSlow() (any, error) {
	start := d.i
	if err := d.enter(); err != nil {
		return nil, err
	}
	var pos [nMarkers]int
	for i := range pos {
		pos[i] = -1
	}
	for n := 0; ; n++ {
		done, err := d.more(n, '}')
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		d.ws()
		if m := markerIndex(k); m >= 0 {
			pos[m] = d.i
		}
		from := d.i
		if err := d.skip(); err != nil {
			return nil, err
		}
		if d.rescan -= d.i - from; d.rescan < 0 {
			return nil, d.errf("object members in an order Casty never writes, nested too often: rescanning budget exhausted")
		}
	}
	end := d.i
	var v any
	var err error
	switch {
	case pos[mRef] >= 0:
		d.i = pos[mRef]
		v, err = d.refValue()
		err = decErrAt(err, "__ref__", "")
	case pos[mEnum] >= 0 && pos[mValue] >= 0:
		v, err = d.enumValue(pos[mEnum], pos[mValue])
	case pos[mFrozenset] >= 0:
		d.i = pos[mFrozenset]
		v, err = d.anyArray()
		err = decErrAt(err, "__frozenset__", "")
	case pos[mDict] >= 0:
		d.i = pos[mDict]
		v, err = d.anyDict()
		err = decErrAt(err, "__dict__", "")
	case pos[mTuple] >= 0:
		d.i = pos[mTuple]
		v, err = d.anyArray()
		err = decErrAt(err, "__tuple__", "")
	case pos[mType] >= 0:
		d.i = pos[mType]
		var name string
		if name, err = d.stringValue(); err != nil {
			return nil, decErrAt(err, "_type", "")
		}
		if name == "" {
			return nil, &DecodeError{Field: "_type", Offset: pos[mType], Reason: "empty _type"}
		}
		d.i = start + 1
		if p := d.st.byName[name]; p != nil {
			if p.kind != planStruct {
				return nil, &DecodeError{Type: p.name, Offset: start, Reason: "_type names an enum, not a dataclass"}
			}
			nv := reflect.New(p.typ).Elem()
			if err = d.structMembers(p, nv, 0, false); err != nil {
				return nil, err
			}
			v = nv.Interface()
		} else {
			var fields map[string]any
			if fields, err = d.unknownMembers(name, 0, false); err != nil {
				return nil, err
			}
			v = Unknown{Type: name, Fields: fields}
		}
	default:
		d.i = start
		d.leave()
		return d.rawValue()
	}
	if err != nil {
		return nil, err
	}
	d.i = end
	d.leave()
	return v, nil
}

// refValue decodes the URI string of a __ref__ into a Ref.
func (d *decoder) refValue() (wire.Ref, error) {
	off := d.i
	uri, err := d.stringValue()
	if err != nil {
		return wire.Ref{}, err
	}
	a, err := wire.ParseAddress(uri)
	if err != nil {
		return wire.Ref{}, &DecodeError{Offset: off, Reason: "bad actor ref", Err: err}
	}
	return wire.Ref{Address: a}, nil
}

// enumValue decodes {"__enum__": type, "value": member} from the offsets of
// the two strings: a value of the registered enum type, else an Enum.
func (d *decoder) enumValue(typePos, valuePos int) (any, error) {
	d.i = typePos
	typ, err := d.stringValue()
	if err != nil {
		return nil, decErrAt(err, "__enum__", "")
	}
	d.i = valuePos
	member, err := d.stringValue()
	if err != nil {
		return nil, decErrAt(err, "value", typ)
	}
	if typ == "" || member == "" {
		return nil, &DecodeError{Type: typ, Field: "__enum__", Offset: typePos, Reason: "empty enum type or member name"}
	}
	p := d.st.byName[typ]
	if p == nil {
		return Enum{Type: typ, Name: member}, nil
	}
	if p.kind != planEnum {
		return nil, &DecodeError{Type: typ, Offset: typePos, Reason: "__enum__ names a dataclass, not an enum"}
	}
	nv := reflect.New(p.typ)
	setter, _ := reflect.TypeAssert[enumSetter](nv)
	if err := setter.SetEnumName(member); err != nil {
		return nil, &DecodeError{Type: typ, Field: "value", Offset: valuePos, Reason: "unknown enum member", Err: err}
	}
	return nv.Elem().Interface(), nil
}

// anyArray decodes a JSON array generically into []any (never nil).
func (d *decoder) anyArray() ([]any, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	if c != '[' {
		return nil, d.errf("expected array")
	}
	return d.arrayWith((*decoder).anyValue)
}

// arrayWith decodes the elements of a JSON array whose '[' is next, each
// with elem, into []any (never nil).
func (d *decoder) arrayWith(elem func(*decoder) (any, error)) ([]any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	out := []any{}
	for n := 0; ; n++ {
		done, err := d.more(n, ']')
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		v, err := elem(d)
		if err != nil {
			return nil, decErrAt(err, indexElem(n), "")
		}
		out = append(out, v)
	}
	d.leave()
	return out, nil
}

// anyDict decodes the pair list of a __dict__ into map[any]any. A key that
// Go cannot hash (a list or a dict; Python cannot either, except tuples,
// which decode to []any here) is an error.
func (d *decoder) anyDict() (map[any]any, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	if c != '[' {
		return nil, d.errf("expected array of [key, value] pairs")
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	out := map[any]any{}
	for n := 0; ; n++ {
		done, err := d.more(n, ']')
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		keyOff := d.i
		k, v, err := d.anyPair()
		if err != nil {
			return nil, decErrAt(err, indexElem(n), "")
		}
		if !hashable(k) {
			return nil, &DecodeError{Field: indexElem(n), Offset: keyOff, Reason: fmt.Sprintf("dict key of type %T cannot be a Go map key", k)}
		}
		out[k] = v
	}
	d.leave()
	return out, nil
}

// anyPair decodes a [key, value] pair generically.
func (d *decoder) anyPair() (k, v any, err error) {
	if c, err := d.peek(); err != nil {
		return nil, nil, err
	} else if c != '[' {
		return nil, nil, d.errf("expected [key, value] pair")
	}
	if err := d.enter(); err != nil {
		return nil, nil, err
	}
	if k, err = d.anyValue(); err != nil {
		return nil, nil, err
	}
	if err := d.expect(','); err != nil {
		return nil, nil, err
	}
	if v, err = d.anyValue(); err != nil {
		return nil, nil, err
	}
	if err := d.expect(']'); err != nil {
		return nil, nil, err
	}
	d.leave()
	return k, v, nil
}

// hashable reports whether k can be a Go map key at run time.
func hashable(k any) bool {
	switch k.(type) {
	case nil, string, int64, float64, bool, wire.Ref, Enum:
		return true
	case []any, map[string]any, map[any]any, Unknown:
		return false
	}
	return reflect.ValueOf(k).Comparable()
}

// unknownMembers decodes the members of an unregistered dataclass object
// (after '{', n members consumed) generically; "_type" is skipped.
func (d *decoder) unknownMembers(name string, n int, speculative bool) (map[string]any, error) {
	var fields map[string]any
	for ; ; n++ {
		done, err := d.more(n, '}')
		if err != nil {
			return nil, err
		}
		if done {
			return fields, nil
		}
		kb, err := d.key()
		if err != nil {
			return nil, err
		}
		if isMarkerKeyBytes(kb) {
			if string(kb) == "_type" {
				if err := d.skip(); err != nil {
					return nil, err
				}
				continue
			}
			if speculative {
				return nil, errMarker
			}
			return nil, &DecodeError{Type: name, Offset: d.i, Reason: "marker key " + strconv.Quote(string(kb)) + " in a dataclass object"}
		}
		k := d.makeString(kb)
		v, err := d.anyValue()
		if err != nil {
			return nil, decErrAt(err, k, name)
		}
		if fields == nil {
			fields = make(map[string]any)
		}
		fields[k] = v
	}
}

func isMarkerKeyBytes(k []byte) bool { return isMarkerKey(string(k)) }

// rawValue decodes a value of a plain object: JSON as-is, objects as
// map[string]any, no markers interpreted (from_dict does not recurse into
// plain dicts).
func (d *decoder) rawValue() (any, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	switch c {
	case '{':
		if err := d.enter(); err != nil {
			return nil, err
		}
		out := map[string]any{}
		for n := 0; ; n++ {
			done, err := d.more(n, '}')
			if err != nil {
				return nil, err
			}
			if done {
				break
			}
			kb, err := d.key()
			if err != nil {
				return nil, err
			}
			k := d.makeString(kb)
			v, err := d.rawValue()
			if err != nil {
				return nil, decErrAt(err, k, "")
			}
			out[k] = v
		}
		d.leave()
		return out, nil
	case '[':
		out, err := d.arrayWith((*decoder).rawValue)
		if err != nil {
			return nil, err // an untyped nil, not a nil []any in an interface
		}
		return out, nil
	case '"':
		return d.stringValue()
	}
	return d.scalar()
}
