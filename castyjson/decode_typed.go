package castyjson

import (
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/zerohop/zerohop/internal/pyjson"
	"github.com/zerohop/zerohop/wire"
)

// This file is the typed half of decoding: the decoder functions a
// compiled plan (registry.go) calls to fill Go values of registered and
// plannable types.

// decStruct decodes a dataclass object into the struct v (null: zero).
func (p *typePlan) decStruct(d *decoder, v reflect.Value) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	if c != '{' {
		if d.null() {
			v.SetZero()
			return nil
		}
		return &DecodeError{Type: p.label(), Offset: d.i, Reason: "expected object"}
	}
	if err := d.enter(); err != nil {
		return err
	}
	v.SetZero()
	if err := d.structMembers(p, v, 0, false); err != nil {
		return err
	}
	d.leave()
	return nil
}

// structMembers decodes the members of a dataclass object (after '{', n
// members consumed, through the closing '}') into v. Speculative decodes
// return errMarker on a marker key; others fail on it.
func (d *decoder) structMembers(p *typePlan, v reflect.Value, n int, speculative bool) error {
	for ; ; n++ {
		done, err := d.more(n, '}')
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		kb, err := d.key()
		if err != nil {
			return err
		}
		if f := p.lookup(kb); f != nil {
			if err := f.dec(d, f.field(v)); err != nil {
				return decErrAt(err, f.name, p.label())
			}
			continue
		}
		if isMarkerKeyBytes(kb) {
			if string(kb) == "_type" {
				off := d.i
				name, err := d.scanTypeName()
				if err != nil {
					return decErrAt(err, "_type", p.label())
				}
				if p.name != "" && string(name) != p.name {
					return &DecodeError{Type: p.label(), Offset: off, Reason: "got _type " + strconv.Quote(string(name))}
				}
				continue
			}
			if speculative {
				return errMarker
			}
			return &DecodeError{Type: p.label(), Offset: d.i, Reason: "marker key " + strconv.Quote(string(kb)) + " where a dataclass was expected"}
		}
		if err := d.skip(); err != nil {
			return decErrAt(err, string(kb), p.label())
		}
	}
}

// scanTypeName reads a "_type" string value (bytes valid until the next
// string).
func (d *decoder) scanTypeName() ([]byte, error) {
	d.ws()
	return d.scanString(&d.str)
}

// lookup returns the field whose JSON key is k, or nil.
func (p *typePlan) lookup(k []byte) *fieldPlan {
	for i := range p.fields {
		if string(k) == p.fields[i].name {
			return &p.fields[i]
		}
	}
	return nil
}

// decEnum decodes {"__enum__": name, "value": member} (or, leniently, a
// bare member name string) into the enum v.
func (p *typePlan) decEnum(d *decoder, v reflect.Value) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	var member string
	off := d.i
	switch c {
	case '"':
		if member, err = d.stringValue(); err != nil {
			return err
		}
	case '{':
		if err := d.enter(); err != nil {
			return err
		}
		found := false
		for n := 0; ; n++ {
			done, err := d.more(n, '}')
			if err != nil {
				return err
			}
			if done {
				break
			}
			kb, err := d.key()
			if err != nil {
				return err
			}
			switch string(kb) {
			case "__enum__":
				d.ws()
				typOff := d.i
				name, err := d.scanString(&d.str)
				if err != nil {
					return decErrAt(err, "__enum__", p.label())
				}
				if p.name != "" && string(name) != p.name {
					return &DecodeError{Type: p.label(), Offset: typOff, Reason: "got enum " + strconv.Quote(string(name))}
				}
			case "value":
				off = d.i
				if member, err = d.stringValue(); err != nil {
					return decErrAt(err, "value", p.label())
				}
				found = true
			default:
				if err := d.skip(); err != nil {
					return err
				}
			}
		}
		d.leave()
		if !found {
			return &DecodeError{Type: p.label(), Offset: off, Reason: "enum object without value"}
		}
	default:
		if d.null() {
			v.SetZero()
			return nil
		}
		return &DecodeError{Type: p.label(), Offset: d.i, Reason: "expected enum"}
	}
	setter, ok := reflect.TypeAssert[enumSetter](v.Addr())
	if !ok {
		return &DecodeError{Type: p.label(), Offset: off, Reason: "type has no SetEnumName"}
	}
	if err := setter.SetEnumName(member); err != nil {
		return &DecodeError{Type: p.label(), Offset: off, Reason: "unknown enum member", Err: err}
	}
	return nil
}

func decRef(d *decoder, v reflect.Value) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	if c != '{' {
		if d.null() {
			v.SetZero()
			return nil
		}
		return d.errf("expected actor ref")
	}
	if err := d.enter(); err != nil {
		return err
	}
	var r wire.Ref
	found := false
	for n := 0; ; n++ {
		done, err := d.more(n, '}')
		if err != nil {
			return err
		}
		if done {
			break
		}
		kb, err := d.key()
		if err != nil {
			return err
		}
		if string(kb) == "__ref__" {
			if r, err = d.refValue(); err != nil {
				return decErrAt(err, "__ref__", "")
			}
			found = true
			continue
		}
		if err := d.skip(); err != nil {
			return err
		}
	}
	d.leave()
	if !found {
		return d.errf("expected actor ref, object has no __ref__")
	}
	p, _ := reflect.TypeAssert[*wire.Ref](v.Addr())
	*p = r
	return nil
}

func decUnknownValue(d *decoder, v reflect.Value) error {
	return decGenericAs[Unknown](d, v, "a dataclass of an unregistered type")
}

func decEnumValue(d *decoder, v reflect.Value) error {
	return decGenericAs[Enum](d, v, "a member of an unregistered enum")
}

// decGenericAs decodes a value only the generic decoder builds (an Unknown
// dataclass, an Enum member) into a field of that type; null zeroes it.
func decGenericAs[T any](d *decoder, v reflect.Value, want string) error {
	if d.null() {
		v.SetZero()
		return nil
	}
	off := d.i
	x, err := d.anyValue()
	if err != nil {
		return err
	}
	t, ok := x.(T)
	if !ok {
		return &DecodeError{Offset: off, Reason: fmt.Sprintf("expected %s, got %T", want, x)}
	}
	p, _ := reflect.TypeAssert[*T](v.Addr())
	*p = t
	return nil
}

func decInterface(d *decoder, v reflect.Value) error {
	off := d.i
	x, err := d.anyValue()
	if err != nil {
		return err
	}
	if x == nil {
		v.SetZero()
		return nil
	}
	xv := reflect.ValueOf(x)
	if !xv.Type().AssignableTo(v.Type()) {
		return &DecodeError{Offset: off, Reason: fmt.Sprintf("%T does not implement %v", x, v.Type())}
	}
	v.Set(xv)
	return nil
}

func decBool(d *decoder, v reflect.Value) error {
	d.ws()
	switch {
	case pyjson.HasPrefixAt(d.b, d.i, "true"):
		d.i += 4
		v.SetBool(true)
	case pyjson.HasPrefixAt(d.b, d.i, "false"):
		d.i += 5
		v.SetBool(false)
	case d.null():
		v.SetZero()
	default:
		return d.errf("expected bool")
	}
	return nil
}

func decString(d *decoder, v reflect.Value) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	if c != '"' {
		if d.null() {
			v.SetZero()
			return nil
		}
		return d.errf("expected string")
	}
	s, err := d.stringValue()
	if err != nil {
		return err
	}
	v.SetString(s)
	return nil
}

// numberValue reads a number for a typed field; null reports ok false.
func (d *decoder) numberValue() (raw []byte, isInt, isNull bool, err error) {
	if d.null() {
		return nil, false, true, nil
	}
	raw, isInt, err = d.number()
	return raw, isInt, false, err
}

func decInt(d *decoder, v reflect.Value) error {
	d.ws()
	off := d.i // the number's first byte, not the blank before it
	raw, isInt, isNull, err := d.numberValue()
	if err != nil || isNull {
		if isNull {
			v.SetZero()
		}
		return err
	}
	var n int64
	ok := false
	if isInt {
		n, ok = parseInt(raw)
	} else if f := parseFloat(raw); f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		n, ok = int64(f), true // an integral float, e.g. 5.0
	}
	if !ok || v.OverflowInt(n) {
		return &DecodeError{Offset: off, Reason: "number " + string(raw) + " does not fit " + v.Type().String()}
	}
	v.SetInt(n)
	return nil
}

func decUint(d *decoder, v reflect.Value) error {
	d.ws()
	off := d.i // the number's first byte, not the blank before it
	raw, isInt, isNull, err := d.numberValue()
	if err != nil || isNull {
		if isNull {
			v.SetZero()
		}
		return err
	}
	var n uint64
	ok := false
	if isInt && raw[0] != '-' {
		n, ok = parseUint(raw)
	} else if f := parseFloat(raw); f == math.Trunc(f) && f >= 0 && f < 1<<64 {
		n, ok = uint64(f), true
	}
	if !ok || v.OverflowUint(n) {
		return &DecodeError{Offset: off, Reason: "number " + string(raw) + " does not fit " + v.Type().String()}
	}
	v.SetUint(n)
	return nil
}

func decFloat(d *decoder, v reflect.Value) error {
	d.ws()
	off := d.i // the number's first byte, not the blank before it
	raw, _, isNull, err := d.numberValue()
	if err != nil || isNull {
		if isNull {
			v.SetZero()
		}
		return err
	}
	f := parseFloat(raw)
	if v.OverflowFloat(f) {
		return &DecodeError{Offset: off, Reason: "number " + string(raw) + " does not fit " + v.Type().String()}
	}
	v.SetFloat(f)
	return nil
}

// seqForm decodes a slice or array from a JSON array, or from the array in
// a {"__frozenset__": [...]} or {"__tuple__": [...]} object (either form is
// accepted whatever the field's tag says); null leaves it zero.
func seqForm(d *decoder, v reflect.Value, fill func(*decoder, reflect.Value) error) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	switch c {
	case '[':
		return fill(d, v)
	case '{':
		if err := d.enter(); err != nil {
			return err
		}
		found := false
		for n := 0; ; n++ {
			done, err := d.more(n, '}')
			if err != nil {
				return err
			}
			if done {
				break
			}
			kb, err := d.key()
			if err != nil {
				return err
			}
			switch string(kb) {
			case "__frozenset__", "__tuple__":
				name := "__frozenset__"
				if string(kb) == "__tuple__" {
					name = "__tuple__"
				}
				if c, err := d.peek(); err != nil {
					return err
				} else if c != '[' {
					return decErrAt(d.errf("expected array"), name, "")
				}
				if err := fill(d, v); err != nil {
					return decErrAt(err, name, "")
				}
				found = true
			case "__ref__", "__enum__", "__dict__", "_type":
				return d.errf("expected a list, frozenset or tuple, found " + strconv.Quote(string(kb)))
			default:
				if err := d.skip(); err != nil {
					return err
				}
			}
		}
		d.leave()
		if !found {
			return d.errf("expected a list, frozenset or tuple")
		}
		return nil
	}
	if d.null() {
		v.SetZero()
		return nil
	}
	return d.errf("expected a list, frozenset or tuple")
}

func sliceDecoder(t reflect.Type, ed decFn) decFn {
	fill := func(d *decoder, v reflect.Value) error {
		if err := d.enter(); err != nil {
			return err
		}
		v.SetZero()
		for n := 0; ; n++ {
			done, err := d.more(n, ']')
			if err != nil {
				return err
			}
			if done {
				break
			}
			if n == v.Cap() {
				v.Grow(1)
			}
			v.SetLen(n + 1)
			ev := v.Index(n)
			ev.SetZero()
			if err := ed(d, ev); err != nil {
				return decErrAt(err, indexElem(n), "")
			}
		}
		d.leave()
		return nil
	}
	return func(d *decoder, v reflect.Value) error { return seqForm(d, v, fill) }
}

func arrayDecoder(t reflect.Type, ed decFn) decFn {
	length := t.Len()
	fill := func(d *decoder, v reflect.Value) error {
		if err := d.enter(); err != nil {
			return err
		}
		v.SetZero()
		for n := 0; ; n++ {
			done, err := d.more(n, ']')
			if err != nil {
				return err
			}
			if done {
				break
			}
			if n >= length {
				return d.errf("more than " + strconv.Itoa(length) + " elements for " + t.String())
			}
			if err := ed(d, v.Index(n)); err != nil {
				return decErrAt(err, indexElem(n), "")
			}
		}
		d.leave()
		return nil
	}
	return func(d *decoder, v reflect.Value) error { return seqForm(d, v, fill) }
}

// mapDecoder decodes {"__dict__": [[k, v], ...]} into a map; for string
// keys a plain JSON object is accepted too. null and empty dicts leave a
// nil map.
func mapDecoder(t reflect.Type, kd, ed decFn) decFn {
	kt, et := t.Key(), t.Elem()
	stringKeys := kt.Kind() == reflect.String
	checkKeys := hasInterface(kt)
	return func(d *decoder, v reflect.Value) error {
		c, err := d.peek()
		if err != nil {
			return err
		}
		if c != '{' {
			if d.null() {
				v.SetZero()
				return nil
			}
			return d.errf(`expected {"__dict__": [...]}`)
		}
		if err := d.enter(); err != nil {
			return err
		}
		v.SetZero()
		found := false
		var kTmp, eTmp reflect.Value
		for n := 0; ; n++ {
			done, err := d.more(n, '}')
			if err != nil {
				return err
			}
			if done {
				break
			}
			kb, err := d.key()
			if err != nil {
				return err
			}
			if !kTmp.IsValid() {
				kTmp, eTmp = reflect.New(kt).Elem(), reflect.New(et).Elem()
			}
			switch {
			case string(kb) == "__dict__":
				if err := dictPairs(d, v, kTmp, eTmp, kd, ed, checkKeys); err != nil {
					return decErrAt(err, "__dict__", "")
				}
				found = true
			case stringKeys && !isMarkerKeyBytes(kb):
				kTmp.SetString(d.makeString(kb))
				eTmp.SetZero()
				if err := ed(d, eTmp); err != nil {
					return decErrAt(err, strconv.Quote(kTmp.String()), "")
				}
				if v.IsNil() {
					v.Set(reflect.MakeMap(t))
				}
				v.SetMapIndex(kTmp, eTmp)
				found = true
			default:
				if err := d.skip(); err != nil {
					return err
				}
			}
		}
		d.leave()
		if !found && !stringKeys {
			return d.errf(`expected {"__dict__": [...]}`)
		}
		return nil
	}
}

func dictPairs(d *decoder, v, kTmp, eTmp reflect.Value, kd, ed decFn, checkKeys bool) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	if c != '[' {
		return d.errf("expected array of [key, value] pairs")
	}
	if err := d.enter(); err != nil {
		return err
	}
	for n := 0; ; n++ {
		done, err := d.more(n, ']')
		if err != nil {
			return err
		}
		if done {
			break
		}
		if c, err := d.peek(); err != nil {
			return err
		} else if c != '[' {
			return decErrAt(d.errf("expected [key, value] pair"), indexElem(n), "")
		}
		if err := d.enter(); err != nil {
			return err
		}
		keyOff := d.i
		kTmp.SetZero()
		if err := kd(d, kTmp); err != nil {
			return decErrAt(err, indexElem(n)+"[0]", "")
		}
		if err := d.expect(','); err != nil {
			return decErrAt(err, indexElem(n), "")
		}
		eTmp.SetZero()
		if err := ed(d, eTmp); err != nil {
			return decErrAt(err, indexElem(n)+"[1]", "")
		}
		if err := d.expect(']'); err != nil {
			return decErrAt(err, indexElem(n), "")
		}
		d.leave()
		if checkKeys && !kTmp.Comparable() {
			return &DecodeError{Field: indexElem(n), Offset: keyOff, Reason: "dict key cannot be a Go map key"}
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		v.SetMapIndex(kTmp, eTmp)
	}
	d.leave()
	return nil
}

// hasInterface reports whether values of t can hold an interface (whose
// dynamic value may not be hashable).
func hasInterface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Array:
		return hasInterface(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if hasInterface(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
