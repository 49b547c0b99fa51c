package zhbin

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/zerohop/zerohop/wire"
)

// DecodeError reports a payload the codec cannot decode: bad binary (a
// truncated field, a length past the end, an unknown type id, an integer
// out of its field's range, bytes left over) at Offset, or the JSON
// registry's error (Err) for a JSON payload or message.
type DecodeError struct {
	Offset int
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Err != nil {
		return "zhbin: " + e.Reason + ": " + e.Err.Error()
	}
	return "zhbin: bad payload at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

func (e *DecodeError) Unwrap() error { return e.Err }

func decErr(off int, reason string) *DecodeError { return &DecodeError{Offset: off, Reason: reason} }

// isBinary reports whether payload starts with one of this codec's tags
// (anything else is Casty JSON).
func isBinary(payload []byte) bool {
	return len(payload) > 0 && (payload[0] == tagValue || payload[0] == tagEnvelope)
}

// Decode decodes a payload into a new value: a ShardEnvelope, a value of a
// type registered here, or (a JSON payload, or a message sent as JSON
// inside a binary one) what the JSON registry decodes.
func (c *Codec) Decode(payload []byte) (any, error) {
	if !isBinary(payload) {
		return c.json.Decode(payload)
	}
	st := c.state.Load()
	if payload[0] == tagEnvelope {
		id, msg, err := c.decodeEnvelope(st, payload, nil)
		if err != nil {
			return nil, err
		}
		return wire.ShardEnvelope{EntityID: string(id), Message: msg}, nil
	}
	msg, end, err := c.decodeMessage(st, payload, 1)
	if err != nil {
		return nil, err
	}
	if end != len(payload) {
		return nil, decErr(end, "bytes after the value")
	}
	return msg, nil
}

// DecodeInto decodes a payload into *dst (a non-nil pointer): a binary
// value of dst's type, a binary ShardEnvelope into *wire.ShardEnvelope, or
// a JSON payload as the JSON registry does.
func (c *Codec) DecodeInto(payload []byte, dst any) error {
	if !isBinary(payload) {
		return c.json.DecodeInto(payload, dst)
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &DecodeError{Reason: fmt.Sprintf("DecodeInto needs a non-nil pointer, not %T", dst)}
	}
	v, err := c.Decode(payload)
	if err != nil {
		return err
	}
	e := rv.Elem()
	if v == nil { // JSON null carried as a value (id 0)
		if e.Kind() == reflect.Interface {
			e.SetZero()
			return nil
		}
		return decErr(0, "payload holds null, not a "+e.Type().String())
	}
	if e.Kind() == reflect.Interface {
		if !reflect.TypeOf(v).AssignableTo(e.Type()) {
			return decErr(0, "payload holds a "+reflect.TypeOf(v).String()+", not a "+e.Type().String())
		}
		e.Set(reflect.ValueOf(v))
		return nil
	}
	if reflect.TypeOf(v) != e.Type() {
		return decErr(0, "payload holds a "+reflect.TypeOf(v).String()+", not a "+e.Type().String())
	}
	e.Set(reflect.ValueOf(v))
	return nil
}

// DecodeShardEnvelope decodes a ShardEnvelope payload; entityID aliases
// payload when it is binary.
func (c *Codec) DecodeShardEnvelope(payload []byte) (entityID []byte, msg any, err error) {
	return c.DecodeShardEnvelopeMemo(payload, nil)
}

// DecodeShardEnvelopeMemo is DecodeShardEnvelope returning the message
// remembered in memo when the message's bytes repeat (wire.MessageMemo:
// only immutable values, which every type registered here is).
func (c *Codec) DecodeShardEnvelopeMemo(payload []byte, memo *wire.MessageMemo) (entityID []byte, msg any, err error) {
	if len(payload) == 0 || payload[0] != tagEnvelope {
		if isBinary(payload) {
			return nil, nil, decErr(0, "not a ShardEnvelope")
		}
		return c.json.DecodeShardEnvelopeMemo(payload, memo)
	}
	return c.decodeEnvelope(c.state.Load(), payload, memo)
}

// decodeEnvelope decodes a tagEnvelope payload.
func (c *Codec) decodeEnvelope(st *state, payload []byte, memo *wire.MessageMemo) ([]byte, any, error) {
	n, i, err := uvarint(payload, 1)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(payload)-i) {
		return nil, nil, decErr(i, "entity id longer than the payload")
	}
	id := payload[i : i+int(n)]
	ms := i + int(n)
	if memo != nil {
		if msg, ok := memo.Recall(st, payload[ms:]); ok {
			return id, msg, nil
		}
	}
	msg, end, err := c.decodeMessage(st, payload, ms)
	if err != nil {
		return nil, nil, err
	}
	if end != len(payload) {
		return nil, nil, decErr(end, "bytes after the message")
	}
	if memo != nil {
		memo.Remember(st, payload[ms:], msg)
	}
	return id, msg, nil
}

// decodeMessage decodes the message at b[i:] (type id, then fields or
// JSON) and returns its end.
func (c *Codec) decodeMessage(st *state, b []byte, i int) (any, int, error) {
	tid, j, err := uvarint(b, i)
	if err != nil {
		return nil, 0, err
	}
	if tid == 0 {
		n, k, err := uvarint(b, j)
		if err != nil {
			return nil, 0, err
		}
		if n > uint64(len(b)-k) {
			return nil, 0, decErr(k, "JSON message longer than the payload")
		}
		v, err := c.json.Decode(b[k : k+int(n)])
		if err != nil {
			return nil, 0, &DecodeError{Offset: k, Reason: "JSON message", Err: err}
		}
		return v, k + int(n), nil
	}
	if tid >= uint64(len(st.byID)) || st.byID[tid] == nil {
		return nil, 0, decErr(i, "unknown type id "+strconv.FormatUint(tid, 10))
	}
	p := st.byID[tid]
	pv := reflect.New(p.typ)
	end, err := p.decodeFields(pv.Elem(), b, j)
	if err != nil {
		return nil, 0, err
	}
	return pv.Elem().Interface(), end, nil
}

// decodeFields fills v (addressable, of p.typ) from b[i:].
func (p *typePlan) decodeFields(v reflect.Value, b []byte, i int) (int, error) {
	for fi := range p.fields {
		f := &p.fields[fi]
		fv := fieldOf(v, f.index)
		switch f.kind {
		case reflect.Bool:
			if i >= len(b) {
				return 0, decErr(i, "truncated bool")
			}
			if b[i] > 1 {
				return 0, decErr(i, "bool byte "+strconv.Itoa(int(b[i])))
			}
			fv.SetBool(b[i] == 1)
			i++
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			x, n := binary.Varint(b[i:])
			if n <= 0 {
				return 0, decErr(i, "bad varint")
			}
			if fv.OverflowInt(x) {
				return 0, decErr(i, strconv.FormatInt(x, 10)+" overflows "+fv.Type().String())
			}
			fv.SetInt(x)
			i += n
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			x, n, err := uvarint(b, i)
			if err != nil {
				return 0, err
			}
			if fv.OverflowUint(x) {
				return 0, decErr(i, strconv.FormatUint(x, 10)+" overflows "+fv.Type().String())
			}
			fv.SetUint(x)
			i = n
		case reflect.Float32:
			if len(b)-i < 4 {
				return 0, decErr(i, "truncated float32")
			}
			fv.SetFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
			i += 4
		case reflect.Float64:
			if len(b)-i < 8 {
				return 0, decErr(i, "truncated float64")
			}
			fv.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
			i += 8
		case reflect.String:
			n, j, err := uvarint(b, i)
			if err != nil {
				return 0, err
			}
			if n > uint64(len(b)-j) {
				return 0, decErr(i, "string longer than the payload")
			}
			fv.SetString(string(b[j : j+int(n)]))
			i = j + int(n)
		}
	}
	return i, nil
}

// uvarint reads an unsigned varint at b[i:] and returns it with the offset
// after it.
func uvarint(b []byte, i int) (uint64, int, error) {
	if i > len(b) {
		return 0, 0, decErr(i, "truncated varint")
	}
	x, n := binary.Uvarint(b[i:])
	if n <= 0 {
		if n == 0 {
			return 0, 0, decErr(i, "truncated varint")
		}
		return 0, 0, decErr(i, "varint overflows 64 bits")
	}
	return x, i + n, nil
}
