package zhbin

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"

	"github.com/zerohop/zerohop/wire"
)

// EncodeError reports a value the codec cannot encode.
type EncodeError struct {
	Type   string
	Reason string
	Err    error // the JSON registry's error, when it is the cause
}

func (e *EncodeError) Error() string {
	s := "zhbin: cannot encode " + e.Type + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *EncodeError) Unwrap() error { return e.Err }

// TypeName returns the registered (Python) name of msg's type (the JSON
// registry's).
func (c *Codec) TypeName(msg any) (string, bool) { return c.json.TypeName(msg) }

// ReplyTo is the JSON registry's ReplyTo.
func (c *Codec) ReplyTo(msg any) (wire.Ref, bool) { return c.json.ReplyTo(msg) }

// AppendValue appends the payload of v: a ShardEnvelope as tagEnvelope, a
// type registered here as tagValue, anything else as the JSON registry
// writes it (Casty JSON, readable by both codecs). On error dst is
// returned unchanged.
func (c *Codec) AppendValue(dst []byte, v any) ([]byte, error) {
	st := c.state.Load()
	if env, ok := v.(wire.ShardEnvelope); ok {
		return c.appendEnvelope(st, dst, env.EntityID, env.Message)
	}
	if p := st.plan(v); p != nil {
		dst = append(dst, tagValue)
		return p.append(dst, v), nil
	}
	return c.json.AppendValue(dst, v)
}

// plan returns the plan of v's type, nil when it is not registered.
func (st *state) plan(v any) *typePlan {
	if len(st.byType) == 0 || v == nil {
		return nil
	}
	return st.byType[reflect.TypeOf(v)]
}

// appendEnvelope appends ShardEnvelope{entityID, msg} as tagEnvelope.
func (c *Codec) appendEnvelope(st *state, dst []byte, entityID string, msg any) ([]byte, error) {
	n := len(dst)
	dst = append(dst, tagEnvelope)
	dst = binary.AppendUvarint(dst, uint64(len(entityID)))
	dst = append(dst, entityID...)
	return c.appendMessage(st, dst, n, msg)
}

// appendMessage appends msg as after tagValue: its id and fields, or id 0
// and its JSON. On error dst is truncated to n.
func (c *Codec) appendMessage(st *state, dst []byte, n int, msg any) ([]byte, error) {
	if p := st.plan(msg); p != nil {
		return p.append(dst, msg), nil
	}
	dst = append(dst, 0)
	// The JSON is written after a one-byte length guess, moved when the
	// guess is wrong (messages under 128 bytes: no move).
	at := len(dst)
	dst = append(dst, 0)
	out, err := c.json.AppendValue(dst, msg)
	if err != nil {
		return dst[:n], err
	}
	l := len(out) - at - 1
	if l < 0x80 {
		out[at] = byte(l)
		return out, nil
	}
	var lb [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(lb[:], uint64(l))
	out = append(out, lb[:k-1]...) // room for the longer length
	copy(out[at+k:], out[at+1:at+1+l])
	copy(out[at:], lb[:k])
	return out, nil
}

// append appends p's id and the fields of v (a value of p.typ).
func (p *typePlan) append(dst []byte, v any) []byte {
	dst = binary.AppendUvarint(dst, p.id)
	rv := reflect.ValueOf(v)
	for i := range p.fields {
		f := &p.fields[i]
		fv := fieldOf(rv, f.index)
		switch f.kind {
		case reflect.Bool:
			b := byte(0)
			if fv.Bool() {
				b = 1
			}
			dst = append(dst, b)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			dst = binary.AppendVarint(dst, fv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			dst = binary.AppendUvarint(dst, fv.Uint())
		case reflect.Float32:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(fv.Float())))
		case reflect.Float64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(fv.Float()))
		case reflect.String:
			s := fv.String()
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		default:
			panic(fmt.Sprintf("zhbin: field kind %v in a plan", f.kind)) // Register admits none
		}
	}
	return dst
}

// fieldOf is v.FieldByIndex for the common one-level case without the
// loop.
func fieldOf(v reflect.Value, index []int) reflect.Value {
	if len(index) == 1 {
		return v.Field(index[0])
	}
	return v.FieldByIndex(index)
}

// AppendMessageFrame appends a whole message frame: Casty's frame and
// header (type_hint: the JSON registry's name of msg) and msg's payload
// as AppendValue writes it. On error dst is returned unchanged.
func (c *Codec) AppendMessageFrame(dst []byte, target, sender string, msg any, maxFrame int) ([]byte, error) {
	return c.appendMessageFrame(dst, target, nil, sender, msg, maxFrame)
}

// AppendMessageFrameTo is AppendMessageFrame to the actor at to.
func (c *Codec) AppendMessageFrameTo(dst []byte, to wire.Address, sender string, msg any, maxFrame int) ([]byte, error) {
	return c.appendMessageFrame(dst, "", &to, sender, msg, maxFrame)
}

func (c *Codec) appendMessageFrame(dst []byte, target string, to *wire.Address, sender string, msg any, maxFrame int) ([]byte, error) {
	n := len(dst)
	name, ok := c.json.TypeName(msg)
	if !ok {
		return dst, &EncodeError{Type: fmt.Sprintf("%T", msg), Reason: "type is not registered"}
	}
	dst, start := wire.BeginFrame(dst, wire.FrameMessage)
	if to != nil {
		dst = wire.AppendHeaderTo(dst, *to, sender, name)
	} else {
		dst = wire.AppendHeader(dst, wire.Header{Target: target, Sender: sender, TypeHint: name})
	}
	dst, err := c.AppendValue(dst, msg)
	if err != nil {
		return dst[:n], err
	}
	return wire.EndFrame(dst, start, maxFrame)
}

// AppendEnvelopeFrame appends the message frame of ShardEnvelope{EntityID:
// entityID, Message: msg} without boxing the envelope: the routing hot
// path. It does not allocate for a message of a registered type into a
// dst with room.
func (c *Codec) AppendEnvelopeFrame(dst []byte, target, sender, entityID string, msg any, maxFrame int) ([]byte, error) {
	n := len(dst)
	dst, start := wire.BeginFrame(dst, wire.FrameMessage)
	dst = wire.AppendHeader(dst, wire.Header{Target: target, Sender: sender, TypeHint: wire.TypeShardEnvelope})
	dst, err := c.AppendEnvelopePayload(dst, entityID, msg)
	if err != nil {
		return dst[:n], err
	}
	return wire.EndFrame(dst, start, maxFrame)
}

// AppendEnvelopePayload appends the payload of ShardEnvelope{entityID,
// msg}: for a caller that wrote the frame prefix and header itself (a
// precomputed per-route prefix). On error dst is returned unchanged.
func (c *Codec) AppendEnvelopePayload(dst []byte, entityID string, msg any) ([]byte, error) {
	return c.appendEnvelope(c.state.Load(), dst, entityID, msg)
}

// AppendEnvelopeHead appends the constant part of an envelope frame to
// target from sender: the frame type, header_len and the header (type
// hint ShardEnvelope), Casty's bytes, the same as the JSON registry's
// (zhbin changes only the payload). For AppendHeadedEnvelopeFrame.
func (c *Codec) AppendEnvelopeHead(dst []byte, target, sender string) []byte {
	return wire.AppendHeader(append(dst, wire.FrameMessage), wire.Header{Target: target, Sender: sender, TypeHint: wire.TypeShardEnvelope})
}

// AppendHeadedEnvelopeFrame is AppendEnvelopeFrame with the frame's
// constant part given as head (AppendEnvelopeHead): the frame's length, a
// copy of head, then the zhbin envelope. Byte for byte AppendEnvelopeFrame
// for head's target and sender (TestHeadedEnvelopeFrame); head is not
// checked. It does not allocate for a message of a registered type into a
// dst with room.
func (c *Codec) AppendHeadedEnvelopeFrame(dst, head []byte, entityID string, msg any, maxFrame int) ([]byte, error) {
	n := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, head...)
	dst, err := c.appendEnvelope(c.state.Load(), dst, entityID, msg)
	if err != nil {
		return dst[:n], err
	}
	return wire.EndFrame(dst, n, maxFrame)
}
