package castyjson

import (
	"encoding"
	"fmt"
	"reflect"

	"github.com/zerohop/zerohop/internal/pyjson"
)

// This file maps Go types that are not dataclasses to what Casty's
// JsonSerializer can carry, and refuses at registration what it cannot
// (see Register and "Type mapping" in doc.go).

var (
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// textCodec reports whether values of t travel as the JSON string of
// their encoding.TextMarshaler (time.Time, net.IP, netip.Addr, big.Int,
// ...): t has MarshalText on its value and UnmarshalText on its pointer,
// and is none of the codec's own kinds (Ref, Unknown, Enum, an enum type)
// nor a type registered under a Python name (a registered struct is a
// dataclass, whatever else it implements). A t with only one of the two
// methods is an error: it could be sent but not received, or the other
// way round.
func textCodec(t reflect.Type, registered bool) (bool, error) {
	if registered || t.Kind() == reflect.Interface || t.Kind() == reflect.Pointer ||
		t == refType || t == unknownType || t == enumValueType || isEnumType(t) {
		return false, nil
	}
	m, u := t.Implements(textMarshalerType), reflect.PointerTo(t).Implements(textUnmarshalerType)
	switch {
	case m && u:
		return true, nil
	case m:
		return false, fmt.Errorf("%v implements encoding.TextMarshaler but *%v not encoding.TextUnmarshaler: it could be sent but not decoded", t, t)
	case u && reflect.PointerTo(t).Implements(textMarshalerType):
		return false, fmt.Errorf("%v has MarshalText on its pointer only: declare it on the value receiver so that values encode as text", t)
	case u:
		return false, fmt.Errorf("*%v implements encoding.TextUnmarshaler but %v not encoding.TextMarshaler: it could be decoded but not sent", t, t)
	}
	return false, nil
}

// encText writes MarshalText's output as a JSON string.
func encText(_ *codecState, dst []byte, v reflect.Value, _ int) ([]byte, error) {
	b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		return dst, &EncodeError{Type: v.Type().String(), Reason: "MarshalText failed", Err: err}
	}
	return pyjson.AppendString(dst, string(b)), nil
}

// decText reads a JSON string into v by UnmarshalText; null is the zero
// value.
func decText(d *decoder, v reflect.Value) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	if c != '"' {
		if d.null() {
			v.SetZero()
			return nil
		}
		return d.errf("expected string (" + v.Type().String() + " travels as its MarshalText)")
	}
	at := d.i
	s, err := d.stringValue()
	if err != nil {
		return err
	}
	if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		return &DecodeError{Offset: at, Reason: "UnmarshalText of " + v.Type().String() + " failed", Err: err}
	}
	return nil
}

// isBytes reports []byte and [N]byte (of any byte-named type): Python's
// bytes, which Casty's JsonSerializer cannot represent (to_dict raises on
// them), so there is nothing faithful to map them to.
func isBytes(t reflect.Type) bool {
	return (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.Uint8
}

// errBytes is Register's reason for refusing a bytes field.
func errBytes(t reflect.Type) error {
	return fmt.Errorf("%v is bytes, which Casty's JsonSerializer cannot represent (Python's to_dict raises on bytes): "+
		"use a string (UTF-8 text), []int (a Python list of ints) or a type implementing encoding.TextMarshaler (e.g. base64)", t)
}
