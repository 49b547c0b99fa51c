// Package castyjson is the payload codec of Casty v1's JsonSerializer
// (shared/casty-v1/PROTOCOL.md section 5): a Registry mapping Python class
// names to Go types, an encoder (JsonSerializer.to_dict followed by
// Python's json.dumps) and a decoder (json.loads followed by from_dict),
// byte-compatible with Casty. A Registry implements wire.Codec, which is
// all the engine and the node call.
//
// The name says what it is: Casty's JSON, not JSON in general (Python's
// grammar, Casty's markers "_type", "__ref__", "__enum__", "__dict__",
// "__frozenset__", "__tuple__"), so that a second codec (a binary one
// negotiated between zerohop peers) sits beside it as its own noun. The
// JSON text primitives it shares with wire's header and handshake are in
// internal/pyjson.
//
// Files: registry.go (Register, Limits, the published state), plan.go
// (compiling plans), encode.go, decode.go (entry points, decoder state,
// scanning primitives), decode_any.go (untyped values), decode_typed.go
// (by plan), decode_envelope.go (the node's ShardEnvelope fast path),
// text.go (encoding.TextMarshaler types, the refusal of bytes), values.go
// (Unknown, Enum, JSONAppender, errors).
//
// # Invariants
//
//   - What we write is what Casty writes: Python's json.dumps defaults
//     (", " and ": " separators, ensure_ascii, NaN/Infinity/-Infinity,
//     floats as repr), fields in declaration order, "_type" first. The
//     golden tests re-encode all 158 message frames captured from a live
//     Casty cluster and get them byte for byte, except the __dict__ entry
//     order of TopologySnapshot (Python keeps insertion order, we sort keys;
//     the structures are equal).
//   - What we read is what Casty reads: json.loads grammar (strict strings,
//     NaN and ±Infinity, last duplicate key wins) and from_dict's rules:
//     markers by key presence in from_dict's precedence, unknown fields
//     ignored, missing fields zero, plain objects kept as maps without
//     interpreting markers inside, unregistered "_type" as Unknown.
//   - Bad input of any kind is a typed error (*DecodeError, wrapping
//     wire's *AddressError or *EnumError where they are the cause), never a
//     panic. Decoding is bounded by Limits (nesting depth, string length,
//     collection size), checked while scanning, as the value is built
//     (nothing is parsed ahead of it), and by a rescanning budget linear in
//     the payload for key orders Casty never writes. A recover in Decode
//     and the encoders turns a panic (a bug) into an error with Reason
//     "internal error"; the fuzz targets (FuzzDecode, FuzzRoundTrip,
//     FuzzDecodeShardEnvelope) fail on it, so it is a last line of defence,
//     not a mechanism.
//   - decode(encode(x)) == x for every encodable value, with these
//     documented exceptions: nil and empty slices and maps are the same
//     value on the wire (typed decodes give nil), a plain map[string]any
//     re-encodes as a __dict__ (as in Casty), invalid UTF-8 in Go strings
//     is written as U+FFFD, and Unknown fields lose their order.
//   - The routing hot path allocates nothing: AppendMessageFrame,
//     AppendEnvelopeFrame and AppendHeadedEnvelopeFrame of a ShardEnvelope
//     of a registered struct into a reused buffer
//     (TestEncodeEnvelopeZeroAlloc), and
//     DecodeShardEnvelopeMemo of a repeated immutable message
//     (TestDecodeShardEnvelopeMemoAllocs).
//   - A Registry names every type one way, and refuses what it cannot
//     name: Register refuses a Python name already registered for another
//     Go type and a Go type already registered under another name
//     (registering the same pair again is a no-op); encoding a struct that
//     is not registered is an *EncodeError, DecodeInto an unregistered
//     struct or enum an error, and a typed decode refuses a "_type" naming
//     another type (TestRegister, TestEncodeErrors, TestDecodeInto,
//     TestDecodeErrors). Only the untyped decode of an unregistered "_type"
//     gives a value, Unknown.
//
// # Type mapping
//
// What Casty's JsonSerializer can represent (PROTOCOL.md section 5.2), and
// the Go types that map to it:
//
//	Python (to_dict)          JSON                               Go
//	dataclass                 {"_type": name, fields...}          a registered struct
//	enum.Enum member          {"__enum__": name, "value": NAME}   a registered enum (EnumName/SetEnumName), Enum
//	actor ref                 {"__ref__": uri}                    wire.Ref
//	str, int, float, bool     string, number, true/false          string, ints, uints, floats, bool
//	None                      null                                nil, the zero value of a missing field
//	list / tuple / frozenset  [..] / {"__tuple__": [..]} / ..     slices and arrays (casty tag ,tuple or ,frozenset)
//	dict                      {"__dict__": [[k, v], ...]}         maps, entries sorted by key when the key is ordered
//	str (your parsing)        "2026-12-05T12:30:00Z"              time.Time, netip.Addr, ...: encoding.TextMarshaler
//	int                       1500000000                          time.Duration (nanoseconds)
//
// Maps are always dicts (Casty's to_dict writes every dict as __dict__,
// also with string keys); their keys must be hashable in Python, so a key
// that is an interface holding a slice, map or unhashable value fails at
// encode. A type with MarshalText on its value and UnmarshalText on its
// pointer (and not registered as a dataclass) travels as the JSON string
// of its text: time.Time as RFC 3339 with nanoseconds, which Python's
// datetime.fromisoformat reads (3.11 or later, checked with 3.11.7; digits
// past the microsecond are dropped), and reads back what an aware
// datetime's isoformat() writes (a naive one has no offset: refused).
// Casty has no datetime, bytes or set (to_dict raises on them), so:
// there is no time mapping beyond text (or an int the two sides agree
// on), and Register refuses []byte and [N]byte fields rather than send a
// list of ints a Python bytes field would never receive (use a string,
// []int or a TextMarshaler such as base64). Struct tags: `casty` only;
// a `json` tag without a `casty` tag is refused at Register, because its
// options (omitempty, string) cannot hold for a dataclass, whose fields
// are always all present, and its name need not be the Python one.
//
// # Buffer ownership
//
// Encoders append to a caller-owned dst and never keep it
// (AppendX(dst, ...) []byte); on error they return dst truncated to its
// original length. Decode and DecodeInto copy everything they keep: a
// decoded value never aliases the payload, which may be reused as soon as
// they return. The node's fast paths are the exception:
// DecodeShardEnvelope's entity id aliases the payload, and
// DecodeShardEnvelopeMemo returns the same (immutable) message value for a
// repeated message.
//
// # Concurrency
//
// A Registry is safe for concurrent use: Register and SetLimits are
// serialized and publish a new immutable state (compiled plans, limits)
// through an atomic pointer; Decode, DecodeInto, AppendValue,
// AppendMessageFrame and TypeName load that pointer once per call and take
// no lock (plans of types met only inside `any` values are compiled once
// on first use behind a mutex). Registering at start-up is the norm; a
// value being encoded while its type is registered concurrently sees
// either state.
//
// # How it works
//
// Register compiles, once per Go type, a plan: per-field encoder and
// decoder functions, pre-rendered `{"_type": "name"` and `, "field": `
// bytes, and the JSON key of each field (tag `casty:"name[,frozenset|tuple]"`,
// default snake_case). Encoding walks the plan with reflect.Value field
// reads and strconv appends; ShardEnvelope is written without reflection
// on the envelope itself, and a type implementing JSONAppender skips
// reflection entirely. A registered struct whose fields are all booleans,
// numbers and strings (embedded structs by value included; no enum, no
// text marshaler) is written by a flat plan without reflection: field
// offsets read from the interface's data word (flat.go, the module's one
// use of unsafe), the same bytes as the reflection plan (TestFlatEncoding,
// FuzzFlatEncode). BenchmarkEncodeEnvelopeFrame/AppendHeadedEnvelopeFrame,
// ShardEnvelope(Increment) with a route's head: 55.1-55.3 -> 40.1-41.7 ns.
//
// Decoding is a hand-written single-pass scanner over the payload that
// decodes straight into the Go values of the plan (reflect.Value setters),
// with no intermediate tree. Objects in untyped positions (Decode's result,
// `any` fields such as ShardEnvelope.Message, Unknown fields) are decoded
// speculatively by their first key, which is how Casty writes them
// ("_type" first, markers alone), and re-decoded by from_dict's precedence
// only when a later key contradicts it. Short strings are interned per
// decoder, so a snapshot's repeated hosts and ids cost one allocation each.
//
// # Why not valyala/fastjson or encoding/json (measured)
//
// BenchmarkDecodeSnapshot, decoding a 100-shard TopologySnapshot (3
// members, 3 registry entries, 19.6 KB, Casty's default num_shards) into Go
// values; medians of 5 runs, go test -bench -count=5, Go 1.26.8, 2 shared
// vCPUs of an AMD EPYC (the box is noisy: runs spread by ±15%), measured
// when the decoder was written, in package wire. The benchmark is now in
// bench/fastjson, a module of its own, so that fastjson is not a
// requirement of zerohop (cd bench/fastjson && go test -run '^$' -bench .
// -benchmem -count 5). Re-run there on 2026-12-05 after the move (which
// changed no decoder code) under a load average of 20 on the 2 vCPUs, the
// medians kept the order and the allocations (zerohop 212 µs, 25 allocs;
// fastjson typed walk 171 µs, 133; fastjson parse 124 µs, 0;
// encoding/json 1.31 ms, 2931) but not the absolute times, so the table
// below stands:
//
//	zerohop Decode (this package, reflection)   72.6 µs   17.5 KB   26 allocs
//	fastjson parse only (no Go values yet)       27.8 µs   ~0 B       0 allocs
//	fastjson + hand-written typed walk           63.6 µs   11.3 KB  133 allocs
//	encoding/json into any (no markers applied) 286   µs  148.5 KB 2931 allocs
//
// fastjson with a walk written by hand for this one type (no reflection,
// the best case for fastjson) is within the noise of our general decoder;
// a reflection-driven walk over the fastjson tree would add the same plan
// dispatch we pay, on top of the 28 µs parse. encoding/json is 3.9x slower
// and cannot apply the markers. Speed therefore does not pick fastjson, and
// three things rule it out for a decoder facing the network:
//
//   - memory: fastjson builds its whole value tree before any limit can be
//     checked; parsing a 1 MiB array of zeros allocated 236 MB (225x the
//     input; a 16 MiB frame would take ~3.7 GB). Our scanner checks depth,
//     string and collection limits as it goes, and a typed decode rejects
//     such input at its first byte.
//   - grammar: fastjson rejects Python's Infinity and -Infinity (it stops
//     after "Inf"), so payloads would need a rewriting pre-pass, and it
//     accepts what Python rejects (nan, inf, +1, invalid escapes such as
//     "\x" kept as-is), so we would not fail where Casty fails.
//   - one pass: a tree means a parse pass plus a walk; the scanner decodes
//     while it parses.
//
// The encoding side is hand-written appenders for the same reasons of
// exactness (Python's float repr and ensure_ascii escaping) and because it
// must not allocate. Envelope numbers (BenchmarkEncodeEnvelopeFrame,
// BenchmarkDecodeEnvelope, same box): a whole ShardEnvelope(Increment)
// message frame encodes in ~160 ns with 0 allocations (~110 ns with a
// JSONAppender message); its payload decodes in ~500 ns (Decode, 4
// allocations), ~510 ns (DecodeInto a reused ShardEnvelope, 1 allocation:
// the boxed message), ~242 ns (DecodeShardEnvelope, the node's fast path
// for the layout Casty and zerohop write; any other layout falls back to
// DecodeInto with identical results) or ~36 ns with 0 allocations when
// DecodeShardEnvelopeMemo sees the previous message's bytes again and the
// value is immutable (numbers and strings only: nothing a receiver could
// change is ever shared).
package castyjson
