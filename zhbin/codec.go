package zhbin

import (
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

// Name is the codec's name in the handshake extension's "codecs" and
// "codec" (wire.Extension).
const Name = "zhbin"

// MaxTypeID is the largest type id Register takes. Ids index a table, so
// they are meant to be small and dense, chosen once per message type and
// kept (like a protobuf field number).
const MaxTypeID = 4095

// Payload tags: the first byte of a payload. A payload whose first byte is
// neither is Casty JSON (a Casty JSON payload starts with '{', '[', '"',
// a digit, a letter or white space, never with a byte below 0x09).
const (
	tagValue    = 0x01 // [uvarint type id][fields], or id 0: [uvarint n][n bytes of Casty JSON]
	tagEnvelope = 0x02 // [uvarint n][n bytes of entity id][message as after tagValue]
)

// Codec is the zerohop binary payload codec. It implements wire.Codec on
// top of a castyjson.Registry: the types registered with Register (by id)
// travel in binary, every other value as the registry's Casty JSON (type
// names, ReplyTo and the header's type_hint are the registry's).
//
// A Codec is safe for concurrent use (Register is serialized and publishes
// an immutable state; encoders and decoders load it once per call). It
// must not be copied; its zero value is not usable: New.
type Codec struct {
	json  *castyjson.Registry
	mu    sync.Mutex // serializes Register
	state atomic.Pointer[state]
}

// state is the published, immutable registration state.
type state struct {
	byType map[reflect.Type]*typePlan
	byID   []*typePlan       // index: type id; nil where none
	table  []wire.BinaryType // announced, sorted by id
}

// typePlan is a registered type's binary layout: its fields in declaration
// order (embedded untagged structs and nested structs flattened).
type typePlan struct {
	id     uint64
	name   string // the Python name (castyjson)
	typ    reflect.Type
	fields []fieldPlan
	schema string // the layout digest announced in the handshake
}

type fieldPlan struct {
	index []int
	kind  reflect.Kind
}

// New returns a Codec whose JSON side (names, unregistered types) is reg.
func New(reg *castyjson.Registry) *Codec {
	c := &Codec{json: reg}
	c.state.Store(&state{byType: map[reflect.Type]*typePlan{}})
	return c
}

// JSON returns the registry the Codec was made with.
func (c *Codec) JSON() *castyjson.Registry { return c.json }

// Register makes values of sample's type travel in binary under id (1 to
// MaxTypeID). The type must be a struct already registered in the JSON
// registry (its Python name is the registry's), whose fields, after the
// castyjson rules (casty:"-" and unexported fields skipped, untagged
// embedded structs flattened), are bools, integers, floats, strings, or
// structs of those (wire.Ref is one: System, Host, Port, Path). Any other
// field (slices, maps, pointers, interfaces) is refused with an error
// naming it: such a type keeps travelling as JSON, inside the binary
// payload. Registering the same id and type again is a no-op; reusing an
// id or a type with a different partner is an error.
func (c *Codec) Register(id int, sample any) error {
	if sample == nil {
		return errors.New("zhbin: Register: nil sample")
	}
	t := reflect.TypeOf(sample)
	if id < 1 || id > MaxTypeID {
		return fmt.Errorf("zhbin: Register %v: id %d out of range 1..%d", t, id, MaxTypeID)
	}
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("zhbin: Register %v: not a struct", t)
	}
	name, ok := c.json.TypeName(reflect.Zero(t).Interface())
	if !ok {
		return fmt.Errorf("zhbin: Register %v: not registered in the JSON registry (register its Python name there first)", t)
	}
	p := &typePlan{id: uint64(id), name: name, typ: t}
	var schema strings.Builder
	if err := flatten(t, nil, &p.fields, &schema, 0); err != nil {
		return fmt.Errorf("zhbin: Register %s (%v): %w", name, t, err)
	}
	h := fnv.New64a()
	h.Write([]byte(name + "|" + schema.String()))
	p.schema = strconv.FormatUint(h.Sum64(), 16)

	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.state.Load()
	if q := old.byType[t]; q != nil {
		if q.id == p.id {
			return nil
		}
		return fmt.Errorf("zhbin: Register %s: type already registered with id %d", name, q.id)
	}
	if id < len(old.byID) && old.byID[id] != nil {
		return fmt.Errorf("zhbin: Register %s: id %d already taken by %s", name, id, old.byID[id].name)
	}
	st := &state{byType: make(map[reflect.Type]*typePlan, len(old.byType)+1)}
	for k, v := range old.byType {
		st.byType[k] = v
	}
	st.byType[t] = p
	st.byID = make([]*typePlan, max(len(old.byID), id+1))
	copy(st.byID, old.byID)
	st.byID[id] = p
	st.table = append(slices.Clone(old.table), wire.BinaryType{Name: name, ID: id, Schema: p.schema})
	slices.SortFunc(st.table, func(a, b wire.BinaryType) int { return a.ID - b.ID })
	c.state.Store(st)
	return nil
}

// MustRegister is Register that panics on error, for start-up code.
func (c *Codec) MustRegister(id int, sample any) {
	if err := c.Register(id, sample); err != nil {
		panic(err)
	}
}

// Types returns the registered types, sorted by id: what a zerohop peer
// announces in its handshake (wire.Extension.Binary). The slice is shared:
// do not modify it.
func (c *Codec) Types() []wire.BinaryType { return c.state.Load().table }

// maxNesting bounds the nesting of struct fields Register flattens.
const maxNesting = 8

// flatten appends the plans of t's fields (at index) to out and their
// layout to schema.
func flatten(t reflect.Type, index []int, out *[]fieldPlan, schema *strings.Builder, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("structs nested deeper than %d", maxNesting)
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, _ := sf.Tag.Lookup("casty")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		idx := append(slices.Clone(index), i)
		if !sf.IsExported() && !(sf.Anonymous && sf.Type.Kind() == reflect.Struct) {
			continue
		}
		if name == "" {
			name = castyjson.SnakeCase(sf.Name)
		}
		switch k := sf.Type.Kind(); k {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64, reflect.String:
			if !sf.IsExported() {
				continue
			}
			*out = append(*out, fieldPlan{index: idx, kind: k})
			schema.WriteString(name + ":" + k.String() + ";")
		case reflect.Struct:
			if sf.Type.Implements(textMarshaler) || reflect.PointerTo(sf.Type).Implements(textMarshaler) {
				return fmt.Errorf("field %s: %v is a TextMarshaler (travels as text in JSON); not supported", sf.Name, sf.Type)
			}
			schema.WriteString(name + ":{")
			if err := flatten(sf.Type, idx, out, schema, depth+1); err != nil {
				return fmt.Errorf("field %s: %w", sf.Name, err)
			}
			schema.WriteString("};")
		default:
			return fmt.Errorf("field %s: kind %v is not supported in binary (the type travels as JSON unless registered here)", sf.Name, k)
		}
	}
	return nil
}

var textMarshaler = reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()

// Agree reports whether two announced type tables let a connection use the
// binary codec: the same types under the same ids with the same layouts.
// When they do not, reason names the first difference.
func Agree(ours, theirs []wire.BinaryType) (ok bool, reason string) {
	if len(ours) != len(theirs) {
		return false, fmt.Sprintf("%d binary types here, %d announced by the peer", len(ours), len(theirs))
	}
	a := slices.Clone(ours)
	b := slices.Clone(theirs)
	byID := func(x, y wire.BinaryType) int { return x.ID - y.ID }
	slices.SortFunc(a, byID)
	slices.SortFunc(b, byID)
	for i := range a {
		if a[i] != b[i] {
			return false, fmt.Sprintf("binary type %d: %s (%s) here, %s (%s) at the peer", a[i].ID, a[i].Name, a[i].Schema, b[i].Name, b[i].Schema)
		}
	}
	return true, ""
}

// Negotiated reports whether a connection whose peer sent x (nil: no
// zerohop extension, a Casty peer) uses the binary codec, given our own
// announced types. The accepting side (a node) decides with the
// connecting side's offer (x.Codecs lists Name); the connecting side
// (a client) with the accepting side's choice (x.Codec is Name). Both
// sides also require the type tables to agree (Agree), so the two ends
// reach the same answer from the same two handshakes.
func Negotiated(x *wire.Extension, ours []wire.BinaryType, accepting bool) (ok bool, reason string) {
	switch {
	case x == nil:
		return false, "peer sent no zerohop extension"
	case x.Refused != "":
		return false, "peer refused the connection"
	case accepting && !slices.Contains(x.Codecs, Name):
		return false, "peer does not offer " + Name
	case !accepting && x.Codec != Name:
		return false, "peer did not choose " + Name
	case len(ours) == 0:
		return false, "no binary types registered here"
	}
	return Agree(ours, x.Binary)
}
