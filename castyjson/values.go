package castyjson

import (
	"strconv"
	"strings"
)

// Unknown is a dataclass whose "_type" is not registered: Type is the
// Python name and Fields its fields, decoded generically (registered types,
// Ref, Enum, Unknown, []any, map[any]any, map[string]any, string, int64,
// float64, bool, nil). It encodes back as {"_type": Type, fields...} with
// the fields sorted by name (the original order is not kept). Unknown is a
// plain value; it is not comparable (Fields is a map).
type Unknown struct {
	Type   string
	Fields map[string]any
}

// Enum is a member of an enum type that is not registered: it decodes
// from, and encodes to, {"__enum__": Type, "value": Name}. Enum is a
// comparable value.
type Enum struct {
	Type string // Python enum type name
	Name string // member name
}

// JSONAppender is implemented by message types that encode themselves,
// skipping reflection: AppendCastyJSON appends the whole JSON object of the
// value, "_type" included, exactly as Casty's JsonSerializer would write it
// (PROTOCOL.md section 5.2), and returns the extended slice. It must not
// keep dst. Decoding still uses the registered type's reflection plan.
type JSONAppender interface {
	AppendCastyJSON(dst []byte) []byte
}

// DecodeError reports a payload that is not valid JSON, breaks a Limit, or
// does not fit the registered Go type. The message is unusable; the
// connection's framing is intact.
type DecodeError struct {
	Type   string // python name (or Go type) being decoded where it failed, "" if untyped
	Field  string // path of the failing value inside Type's object or the payload, e.g. "members[1].status"
	Offset int    // byte offset in the payload
	Reason string
	Err    error // underlying cause (e.g. *AddressError, *EnumError), may be nil
}

func (e *DecodeError) Error() string {
	return codecError("decode", e.Type, e.Field, e.Offset, e.Reason, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError reports a value that cannot be encoded: an unregistered
// struct, an invalid enum value, a non-encodable type, nesting deeper than
// Limits.MaxDepth (a cyclic value), or an unhashable generic dict key.
type EncodeError struct {
	Type   string // Go type (or python name) that failed
	Field  string // path of the failing field, e.g. "message.amount"
	Reason string
	Err    error // underlying cause, may be nil
}

func (e *EncodeError) Error() string {
	return codecError("encode", e.Type, e.Field, -1, e.Reason, e.Err)
}

// codecError formats "castyjson: <op>[ <typ>][ field <field>][ at offset N]:
// <reason>[: <err>]"; a negative offset is left out.
func codecError(op, typ, field string, offset int, reason string, err error) string {
	var sb strings.Builder
	sb.WriteString("castyjson: ")
	sb.WriteString(op)
	if typ != "" {
		sb.WriteString(" ")
		sb.WriteString(typ)
	}
	if field != "" {
		sb.WriteString(" field ")
		sb.WriteString(field)
	}
	if offset >= 0 {
		sb.WriteString(" at offset ")
		sb.WriteString(strconv.Itoa(offset))
	}
	sb.WriteString(": ")
	sb.WriteString(reason)
	if err != nil {
		sb.WriteString(": ")
		sb.WriteString(err.Error())
	}
	return sb.String()
}

func (e *EncodeError) Unwrap() error { return e.Err }

// joinPath prefixes a field path with an outer element: "members" +
// "[1].status" -> "members[1].status", "message" + "amount" ->
// "message.amount".
func joinPath(outer, inner string) string {
	switch {
	case inner == "":
		return outer
	case inner[0] == '[':
		return outer + inner
	}
	return outer + "." + inner
}
