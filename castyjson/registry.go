package castyjson

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/zerohop/zerohop/internal/pyjson"
	"github.com/zerohop/zerohop/wire"
)

// Default decoding limits (see Limits).
const (
	DefaultMaxDepth      = 64
	DefaultMaxString     = 1 << 20
	DefaultMaxCollection = 1 << 20
)

// MaxDepthLimit caps Limits.MaxDepth: the codec recurses once per level,
// and a goroutine stack overflow cannot be recovered.
const MaxDepthLimit = 10000

// Limits bound what the JSON decoder accepts from the network. The zero
// value of each field means its default. Limits is a plain value.
type Limits struct {
	// MaxDepth is the deepest nesting of JSON arrays and objects
	// (default DefaultMaxDepth). A marker such as {"__frozenset__": [...]}
	// counts two levels.
	MaxDepth int
	// MaxString is the longest JSON string token, in raw (escaped) bytes
	// (default DefaultMaxString).
	MaxString int
	// MaxCollection is the largest number of elements of one JSON array or
	// members of one JSON object (default DefaultMaxCollection).
	MaxCollection int
}

// Validate reports every bad field at once: negative values, and MaxDepth
// above MaxDepthLimit.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxDepth < 0 || l.MaxDepth > MaxDepthLimit {
		errs = append(errs, fmt.Errorf("castyjson: Limits.MaxDepth %d not in 0..%d", l.MaxDepth, MaxDepthLimit))
	}
	if l.MaxString < 0 {
		errs = append(errs, fmt.Errorf("castyjson: Limits.MaxString %d < 0", l.MaxString))
	}
	if l.MaxCollection < 0 {
		errs = append(errs, fmt.Errorf("castyjson: Limits.MaxCollection %d < 0", l.MaxCollection))
	}
	return errors.Join(errs...)
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxString == 0 {
		l.MaxString = DefaultMaxString
	}
	if l.MaxCollection == 0 {
		l.MaxCollection = DefaultMaxCollection
	}
	return l
}

// Registry maps Python type names (module.QualName, as Casty writes them in
// "_type" and "__enum__") to Go types, and encodes and decodes Casty's JSON
// serializer format with them (PROTOCOL.md section 5.2).
//
// A Registry is safe for concurrent use. Register is meant for program
// start-up; it copies the registry's state (copy-on-write), so encoding and
// decoding never take a lock: they load the current state once per call
// through an atomic pointer. The zero value is an empty registry with the
// default Limits (NewRegistry adds the protocol types). A Registry must not
// be copied after first use.
type Registry struct {
	mu    sync.Mutex                 // serializes writers (Register, SetLimits)
	state atomic.Pointer[codecState] // immutable once published
}

// codecState is one immutable version of a registry: the registered types,
// a compiled plan for every type reachable from them, and the limits.
type codecState struct {
	limits     Limits
	registered []registration             // in registration order
	byType     map[reflect.Type]*typePlan // every compiled type
	byName     map[string]*typePlan       // registered types only
	dyn        sync.Map                   // reflect.Type -> *typePlan, plans compiled on demand for dynamic values
	names      map[reflect.Type]string    // registered type -> python name
	nameOf     func(reflect.Type) string  // names lookup (used by the plan builder)
	dynBuildMu sync.Mutex                 // serializes on-demand compilation into dyn
	envFast    bool                       // ShardEnvelope is registered as TypeShardEnvelope
}

type registration struct {
	name string
	typ  reflect.Type
}

var emptyState = newCodecState(Limits{}.withDefaults(), nil)

// NewRegistry returns a registry with Casty's protocol types of types.go
// and zerohop's own messages of zerohop.go registered under their names
// (the Type* constants).
func NewRegistry() *Registry {
	r := &Registry{}
	r.MustRegister(wire.TypeNodeAddress, wire.NodeAddress{})
	r.MustRegister(wire.TypeMemberStatus, wire.MemberStatus(0))
	r.MustRegister(wire.TypeMember, wire.Member{})
	r.MustRegister(wire.TypeShardAllocation, wire.ShardAllocation{})
	r.MustRegister(wire.TypeServiceEntry, wire.ServiceEntry{})
	r.MustRegister(wire.TypeSubscribeTopology, wire.SubscribeTopology{})
	r.MustRegister(wire.TypeUnsubscribeTopology, wire.UnsubscribeTopology{})
	r.MustRegister(wire.TypeTopologySnapshot, wire.TopologySnapshot{})
	r.MustRegister(wire.TypeShardEnvelope, wire.ShardEnvelope{})
	r.MustRegister(wire.TypeGetShardLocation, wire.GetShardLocation{})
	r.MustRegister(wire.TypeShardLocation, wire.ShardLocation{})
	r.MustRegister(wire.TypeShardUnavailable, wire.ShardUnavailable{})
	r.MustRegister(wire.TypeUndeliverable, wire.Undeliverable{})
	r.MustRegister(wire.TypeGetNodeState, wire.GetNodeState{})
	r.MustRegister(wire.TypeShardClaim, wire.ShardClaim{})
	r.MustRegister(wire.TypeNodeState, wire.NodeState{})
	return r
}

func (r *Registry) load() *codecState {
	if st := r.state.Load(); st != nil {
		return st
	}
	return emptyState
}

// Register maps pythonName to the Go type of sample, which must be a struct
// value (a Python dataclass; not a pointer) or an enum: a type with a
// method EnumName() string and a pointer method SetEnumName(string) error.
// Struct fields map to JSON keys by the tag `casty:"name[,frozenset|tuple]"`
// (default: the snake_case of the Go field name; "-" skips the field;
// unexported fields are skipped; embedded structs without a tag are
// flattened). Register compiles the type's plan at once and refuses, with
// an error naming the field and the reason, every field Casty's
// JsonSerializer cannot carry (see "Type mapping" in doc.go): channels,
// functions, complex numbers, bytes ([]byte, [N]byte), a type with only
// one of MarshalText and UnmarshalText, and a field with a `json` tag but
// no `casty` tag (json tags are not read; say the Python name with a
// casty tag). A nested struct must be registered too, before or after
// this one: that is checked when a value is encoded, naming the field.
// Registering the same name and type again is a no-op; reusing a name or
// a type with a different partner is an error.
func (r *Registry) Register(pythonName string, sample any) error {
	if pythonName == "" {
		return errors.New("castyjson: Register: empty python name")
	}
	if !utf8.ValidString(pythonName) {
		return fmt.Errorf("castyjson: Register: python name %q is not valid UTF-8", pythonName)
	}
	if sample == nil {
		return fmt.Errorf("castyjson: Register %s: nil sample", pythonName)
	}
	t := reflect.TypeOf(sample)
	switch {
	case t == refType || t == unknownType || t == enumValueType:
		return fmt.Errorf("castyjson: Register %s: %v is built in and cannot be registered", pythonName, t)
	case isEnumType(t):
	case t.Kind() == reflect.Pointer:
		return fmt.Errorf("castyjson: Register %s: sample is a pointer (%v); register the value type", pythonName, t)
	case t.Kind() != reflect.Struct:
		return fmt.Errorf("castyjson: Register %s: %v is neither a struct nor an enum (EnumName/SetEnumName)", pythonName, t)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	for _, reg := range old.registered {
		switch {
		case reg.name == pythonName && reg.typ == t:
			return nil
		case reg.name == pythonName:
			return fmt.Errorf("castyjson: Register %s: name already registered for %v, not %v", pythonName, reg.typ, t)
		case reg.typ == t:
			return fmt.Errorf("castyjson: Register %s: %v already registered as %s", pythonName, t, reg.name)
		}
	}
	regs := make([]registration, len(old.registered), len(old.registered)+1)
	copy(regs, old.registered)
	regs = append(regs, registration{name: pythonName, typ: t})
	st, err := buildState(old.limits, regs)
	if err != nil {
		return fmt.Errorf("castyjson: Register %s: %w", pythonName, err)
	}
	r.state.Store(st)
	return nil
}

// MustRegister is Register that panics on error, for start-up code whose
// types are fixed at compile time.
func (r *Registry) MustRegister(pythonName string, sample any) {
	if err := r.Register(pythonName, sample); err != nil {
		panic(err)
	}
}

// SetLimits replaces the decoding limits (zero fields mean defaults). It
// returns l.Validate()'s error and changes nothing if l is invalid.
func (r *Registry) SetLimits(l Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	st, err := buildState(l.withDefaults(), old.registered)
	if err != nil {
		return err // cannot happen: the same registrations built before
	}
	r.state.Store(st)
	return nil
}

// Limits returns the decoding limits in force, defaults applied.
func (r *Registry) Limits() Limits { return r.load().limits }

// TypeName returns the Python name of v's dynamic type (pointers are
// followed): the registered name of a struct or enum, Unknown.Type,
// Enum.Type, "casty.remote.ref.RemoteActorRef" for a Ref, and Python's
// builtins for other encodable values ("builtins.str", "builtins.int",
// "builtins.float", "builtins.bool", "builtins.NoneType", "builtins.list",
// "builtins.dict"). ok is false for an unregistered struct or a type that
// cannot be encoded.
func (r *Registry) TypeName(v any) (name string, ok bool) {
	return r.load().typeName(v)
}

func (st *codecState) typeName(v any) (string, bool) {
	switch x := v.(type) {
	case wire.ShardEnvelope, *wire.ShardEnvelope:
		// Fast path for the hot message type, when registered as usual.
		if st.envFast {
			return wire.TypeShardEnvelope, true
		}
	case nil:
		return "builtins.NoneType", true
	case Unknown:
		return x.Type, x.Type != ""
	case *Unknown:
		if x != nil {
			return x.Type, x.Type != ""
		}
		return "builtins.NoneType", true
	case Enum:
		return x.Type, x.Type != ""
	case wire.Ref:
		return pyRefType, true
	case string:
		return "builtins.str", true
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if name, ok := st.names[t]; ok {
		return name, true
	}
	switch t {
	case unknownType, enumValueType:
		return "", false // a nil *Unknown was handled above; **Unknown is not worth a name
	case refType:
		return pyRefType, true
	}
	switch t.Kind() {
	case reflect.String:
		return "builtins.str", true
	case reflect.Bool:
		return "builtins.bool", true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "builtins.int", true
	case reflect.Float32, reflect.Float64:
		return "builtins.float", true
	case reflect.Slice, reflect.Array:
		return "builtins.list", true
	case reflect.Map:
		return "builtins.dict", true
	}
	return "", false
}

// pyRefType is the type_hint of a message that is an actor ref.
const pyRefType = "casty.remote.ref.RemoteActorRef"

var (
	refType           = reflect.TypeFor[wire.Ref]()
	unknownType       = reflect.TypeFor[Unknown]()
	enumValueType     = reflect.TypeFor[Enum]()
	shardEnvelopeType = reflect.TypeFor[wire.ShardEnvelope]()
	appenderType      = reflect.TypeFor[JSONAppender]()
	enumNamerType     = reflect.TypeFor[enumNamer]()
	enumSetterType    = reflect.TypeFor[enumSetter]()
)

type enumNamer interface{ EnumName() string }
type enumSetter interface{ SetEnumName(string) error }

// isEnumType reports whether t is an enum: EnumName on the value, and
// SetEnumName on the pointer. Pointer and interface types are not enums.
func isEnumType(t reflect.Type) bool {
	return t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface &&
		t.Implements(enumNamerType) && reflect.PointerTo(t).Implements(enumSetterType)
}

// genericTypes are compiled into every state so that decoded generic values
// (and common primitives) re-encode without on-demand compilation.
var genericTypes = []reflect.Type{
	reflect.TypeFor[string](), reflect.TypeFor[bool](), reflect.TypeFor[int](),
	reflect.TypeFor[int64](), reflect.TypeFor[float64](), reflect.TypeFor[[]any](),
	reflect.TypeFor[map[string]any](), reflect.TypeFor[map[any]any](),
	refType, unknownType, enumValueType,
}

func newCodecState(l Limits, regs []registration) *codecState {
	st := &codecState{
		limits:     l,
		registered: regs,
		byType:     make(map[reflect.Type]*typePlan),
		byName:     make(map[string]*typePlan),
		names:      make(map[reflect.Type]string, len(regs)),
	}
	for _, reg := range regs {
		st.names[reg.typ] = reg.name
	}
	st.nameOf = func(t reflect.Type) string { return st.names[t] }
	st.envFast = st.names[shardEnvelopeType] == wire.TypeShardEnvelope
	return st
}

// buildState compiles a fresh state: plans for every registered type and
// everything reachable from them. Plans are rebuilt from scratch on every
// registration so that a struct referenced before its own registration
// picks up its name.
func buildState(l Limits, regs []registration) (*codecState, error) {
	st := newCodecState(l, regs)
	b := &planBuilder{plans: st.byType, nameOf: st.nameOf}
	for _, t := range genericTypes {
		if _, err := b.plan(t); err != nil {
			return nil, err
		}
	}
	for _, reg := range regs {
		p, err := b.plan(reg.typ)
		if err != nil {
			return nil, err
		}
		st.byName[reg.name] = p
	}
	return st, nil
}

// dynPlan returns the plan of a type met in a dynamic (interface) value
// that was not compiled with the state, compiling and caching it.
func (st *codecState) dynPlan(t reflect.Type) (*typePlan, error) {
	if p := st.byType[t]; p != nil {
		return p, nil
	}
	if p, ok := st.dyn.Load(t); ok {
		return p.(*typePlan), nil
	}
	st.dynBuildMu.Lock()
	defer st.dynBuildMu.Unlock()
	if p, ok := st.dyn.Load(t); ok {
		return p.(*typePlan), nil
	}
	plans := make(map[reflect.Type]*typePlan)
	b := &planBuilder{plans: plans, nameOf: st.nameOf, base: st.byType}
	p, err := b.plan(t)
	if err != nil {
		return nil, err
	}
	for typ, tp := range plans {
		st.dyn.LoadOrStore(typ, tp)
	}
	return p, nil
}

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
	enc    encFn
	dec    decFn
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

// ReplyTo returns the Ref in msg's "reply_to" field: msg is a struct (or a
// pointer to one) the registry can encode, whose field with the JSON key
// "reply_to" is a Ref. ok is false otherwise (no such field, a zero ref,
// or a type the registry cannot plan). Not for hot paths: the node calls
// it for dead letters only.
func (r *Registry) ReplyTo(msg any) (ref wire.Ref, ok bool) {
	v := reflect.ValueOf(msg)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return wire.Ref{}, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return wire.Ref{}, false
	}
	p, err := r.load().dynPlan(v.Type())
	if err != nil || p.kind != planStruct {
		return wire.Ref{}, false
	}
	for i := range p.fields {
		f := &p.fields[i]
		if f.name != "reply_to" {
			continue
		}
		fv := f.field(v)
		if fv.Type() != refType {
			return wire.Ref{}, false
		}
		ref = fv.Interface().(wire.Ref)
		return ref, !ref.IsZero()
	}
	return wire.Ref{}, false
}

// Registry is the Casty JSON implementation of wire.Codec.
var _ wire.Codec = (*Registry)(nil)
