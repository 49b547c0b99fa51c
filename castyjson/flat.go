package castyjson

// This is the module's one file that uses unsafe (STYLE.md 15). Audit
// notes:
//
//   - eface mirrors the runtime's layout of an interface{} value: a type
//     word and a data word. It is read only from an `any` the caller
//     passed by value, never written.
//   - The data word points to the value for every type flatFields
//     accepts: a struct whose fields are all booleans, numbers and strings
//     is never stored directly in the interface word (only pointer-shaped
//     types are, and a struct is pointer-shaped only when its one field
//     is), so dataWord(v) is the address of a copy the interface owns,
//     which nothing mutates.
//   - Field addresses are that pointer plus offsets summed from
//     reflect.StructField.Offset along the field's index path (embedded
//     structs by value only, as structFields flattens them), and each is
//     read as the Go type of its reflect.Kind.
//   - typePlan.flat is built once per plan and never changed; the map from
//     type words to plans (codecState.byWord) belongs to one immutable
//     codecState, and a type word is the address of a type descriptor,
//     which never moves.

import (
	"reflect"
	"strconv"
	"unsafe"

	"github.com/zerohop/zerohop/internal/pyjson"
)

// flatField is a field of a flat struct plan: its JSON prefix, its offset
// from the struct's start, and its kind.
type flatField struct {
	prefix []byte
	off    uintptr
	kind   reflect.Kind
}

type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// typeWord returns the type word of v (nil for a nil interface).
func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// dataWord returns the data word of v; for a flat struct, its address.
func dataWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).data }

// flatFields returns the flat encoding of the struct plan p (its fields
// compiled): every field a boolean, a number or a string that the
// reflection plan encodes as such (no text marshaler, no enum), reached
// through embedded structs by value only. nil when p does not qualify.
func flatFields(p *typePlan) []flatField {
	if p.kind != planStruct || p.name == "" || p.typ.Implements(appenderType) {
		return nil
	}
	out := make([]flatField, 0, len(p.fields))
	for i := range p.fields {
		f := &p.fields[i]
		t, off := p.typ, uintptr(0)
		for _, x := range f.index {
			if t.Kind() != reflect.Struct {
				return nil
			}
			sf := t.Field(x)
			t, off = sf.Type, off+sf.Offset
		}
		if text, err := textCodec(t, false); err != nil || text || isEnumType(t) {
			return nil
		}
		switch k := t.Kind(); k {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.String:
			out = append(out, flatField{prefix: f.prefix, off: off, kind: k})
		default:
			return nil
		}
	}
	return out
}

// wordIndex maps the type word of a type's interface values to its plan
// (codecState.byWord).
type wordIndex map[unsafe.Pointer]*typePlan

// indexByWord indexes the plans of byType by type word. An interface type
// has no values of its own (its zero value is a nil interface) and is left
// out.
func indexByWord(byType map[reflect.Type]*typePlan) wordIndex {
	m := make(wordIndex, len(byType))
	for t, p := range byType {
		if w := typeWord(reflect.Zero(t).Interface()); w != nil {
			m[w] = p
		}
	}
	return m
}

// appendFlat appends the JSON object of the flat struct at ptr: what
// encStruct writes for it, without reflection.
func (p *typePlan) appendFlat(dst []byte, ptr unsafe.Pointer) []byte {
	dst = append(dst, p.head...)
	for i := range p.flat {
		f := &p.flat[i]
		dst = append(dst, f.prefix...)
		a := unsafe.Add(ptr, f.off)
		switch f.kind {
		case reflect.Bool:
			dst = strconv.AppendBool(dst, *(*bool)(a))
		case reflect.Int:
			dst = strconv.AppendInt(dst, int64(*(*int)(a)), 10)
		case reflect.Int8:
			dst = strconv.AppendInt(dst, int64(*(*int8)(a)), 10)
		case reflect.Int16:
			dst = strconv.AppendInt(dst, int64(*(*int16)(a)), 10)
		case reflect.Int32:
			dst = strconv.AppendInt(dst, int64(*(*int32)(a)), 10)
		case reflect.Int64:
			dst = strconv.AppendInt(dst, *(*int64)(a), 10)
		case reflect.Uint:
			dst = strconv.AppendUint(dst, uint64(*(*uint)(a)), 10)
		case reflect.Uint8:
			dst = strconv.AppendUint(dst, uint64(*(*uint8)(a)), 10)
		case reflect.Uint16:
			dst = strconv.AppendUint(dst, uint64(*(*uint16)(a)), 10)
		case reflect.Uint32:
			dst = strconv.AppendUint(dst, uint64(*(*uint32)(a)), 10)
		case reflect.Uint64:
			dst = strconv.AppendUint(dst, *(*uint64)(a), 10)
		case reflect.Uintptr:
			dst = strconv.AppendUint(dst, uint64(*(*uintptr)(a)), 10)
		case reflect.Float32:
			dst = appendPyFloat(dst, float64(*(*float32)(a)), 32)
		case reflect.Float64:
			dst = appendPyFloat(dst, *(*float64)(a), 64)
		case reflect.String:
			dst = pyjson.AppendString(dst, *(*string)(a))
		}
	}
	return append(dst, '}')
}
