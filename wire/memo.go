package wire

import "reflect"

// MessageMemo is a codec's memory of the last message it decoded on one
// stream of payloads (one connection's inbound ShardEnvelopes), so that a
// message whose bytes repeat (a client telling Increment{1} to many
// entities) is returned again instead of decoded: see
// Codec.DecodeShardEnvelopeMemo. Only values no receiver can change are
// remembered (booleans, numbers, strings and structs of those): nothing
// mutable is ever shared between two deliveries.
//
// Callers hold one per stream and pass its address; codecs call Recall
// and Remember. Its zero value is empty and ready; it is not safe for
// concurrent use; it must not be copied once used (it owns its buffer).
type MessageMemo struct {
	owner     any    // the codec state msg was decoded under, compared by identity; nil: empty
	raw       []byte // the message's bytes (copied)
	msg       any
	typ       reflect.Type // last type checked for sharing
	shareable bool         // immutableType(typ)
}

// maxMemoMessage bounds the message bytes a MessageMemo keeps.
const maxMemoMessage = 256

// Recall returns the remembered message when it was remembered under
// owner (a pointer identifying the codec and its configuration, so that a
// memo passed to two codecs never mixes their values) from the same
// bytes as raw.
func (m *MessageMemo) Recall(owner any, raw []byte) (msg any, ok bool) {
	if m.owner == nil || m.owner != owner || string(raw) != string(m.raw) {
		return nil, false
	}
	return m.msg, true
}

// Remember records msg, decoded under owner from raw (copied), when its
// value is immutable and raw is at most 256 bytes; otherwise it empties
// the memo. owner must be a non-nil pointer.
func (m *MessageMemo) Remember(owner any, raw []byte, msg any) {
	if len(raw) > maxMemoMessage || msg == nil {
		m.owner = nil
		return
	}
	t := reflect.TypeOf(msg)
	if t != m.typ {
		m.typ, m.shareable = t, immutableType(t, 0)
	}
	if !m.shareable {
		m.owner = nil
		return
	}
	m.owner, m.raw, m.msg = owner, append(m.raw[:0], raw...), msg
}

// immutableType reports whether a value of t, once boxed in an interface,
// cannot be changed by its receivers: booleans, numbers, strings and
// structs of those.
func immutableType(t reflect.Type, depth int) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Struct:
		if depth > 8 {
			return false
		}
		for i := range t.NumField() {
			if !immutableType(t.Field(i).Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
