package castyjson

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unicode/utf8"

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
	// byWord: every plan of byType, by the type word of its interface
	// values (flat.go): appendValue's one lookup, a pointer-keyed map
	// instead of byType's reflect.Type keys.
	byWord wordIndex
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
	st.byWord = indexByWord(st.byType)
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
