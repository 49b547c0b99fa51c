package mutant

// Invariant bullets of castyjson/doc.go, as they start.
const (
	jWrite    = "What we write is what Casty writes"
	jRead     = "What we read is what Casty reads"
	jBounded  = "Bad input of any kind is a typed error"
	jRound    = "decode(encode(x)) == x for every encodable value"
	jAllocs   = "The routing hot path allocates nothing"
	jRegistry = "A Registry names every type one way"
)

// castyjsonMutations returns the mutations of castyjson/doc.go, grouped as
// its Invariants bullets. The string primitives (escaping, scanning,
// unescaping) live in internal/pyjson; their mutations are killed by
// castyjson's tests, which say what Casty writes and reads.
//
// Long: table data, one literal per mutation.
func castyjsonMutations() []Mutation {
	cj := inPackage("castyjson")
	return []Mutation{
		// What we write.
		cj(Mutation{
			Name: "castyjson/newline-escaped-as-u", Invariant: jWrite,
			What: "AppendString: a newline is written \\u000a, not \\n as json.dumps does",
			File: "internal/pyjson/pyjson.go",
			Orig: "\t\tcase '\\n':\n\t\t\tdst = append(dst, '\\\\', 'n')",
			Repl: "\t\tcase '\\n':\n\t\t\tdst = appendU(dst, '\\n')",
			Run:  "^TestEncodeExamples$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/non-ascii-unescaped", Invariant: jWrite,
			What: "AppendString: a non-ASCII rune below U+10000 is written raw (no ensure_ascii)",
			File: "internal/pyjson/pyjson.go",
			Orig: "\t\t\t} else {\n\t\t\t\tdst = appendU(dst, r)\n\t\t\t}",
			Repl: "\t\t\t} else {\n\t\t\t\tdst = utf8.AppendRune(dst, r)\n\t\t\t}",
			Run:  "^(TestEncodeExamples|TestGoldenMessages)$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/compact-key-separator", Invariant: jWrite,
			What: "plan: a field's key is followed by \":\", not json.dumps' \": \"",
			File: "castyjson/plan.go",
			Orig: `prefix = append(prefix, ": "...)`,
			Repl: `prefix = append(prefix, ":"...)`,
			Run:  "^TestGoldenMessages$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/flat-enum-as-int", Invariant: jWrite,
			What: "flatFields: an enum field (an int with EnumName) is written flat, as its number",
			File: "castyjson/flat.go",
			Orig: "if text, err := textCodec(t, false); err != nil || text || isEnumType(t) {",
			Repl: "if text, err := textCodec(t, false); err != nil || text {",
			Run:  "^TestFlatEncoding$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/flat-embedded-offset", Invariant: jWrite,
			What: "flatFields: a field of an embedded struct is read at its offset in that struct, not in the outer one",
			File: "castyjson/flat.go",
			Orig: "t, off = sf.Type, off+sf.Offset",
			Repl: "t, off = sf.Type, sf.Offset",
			Run:  "^TestFlatEncoding$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/flat-past-max-depth", Invariant: jBounded,
			What: "appendValue: a flat struct is written at any depth, past Limits.MaxDepth",
			File: "castyjson/encode.go",
			Orig: "if p.flat != nil && depth < st.limits.MaxDepth {",
			Repl: "if p.flat != nil {",
			Run:  "^TestFlatEncoding$", Fast: true,
		}),
		// What we read.
		cj(Mutation{
			Name: "castyjson/control-char-in-string", Invariant: jRead,
			What: "ScanString: a raw control character in a string is accepted (json.loads refuses it)",
			File: "internal/pyjson/pyjson.go",
			Orig: "\t\tcase c < 0x20:\n\t\t\treturn 0, false, &SyntaxError{\"control character in string\", j}",
			Repl: "\t\tcase c < 0x20 && false:\n\t\t\treturn 0, false, &SyntaxError{\"control character in string\", j}",
			Run:  "^TestDecodeErrors$", Fast: true,
		}),
		// Bounded decoding.
		cj(Mutation{
			Name: "castyjson/depth-unbounded", Invariant: jBounded,
			What: "enter: no MaxDepth",
			File: "castyjson/decode.go",
			Orig: "\tif d.depth > d.maxDepth {",
			Repl: "\tif d.depth > d.maxDepth && false {",
			Run:  "^TestLimits$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/string-unbounded", Invariant: jBounded,
			What: "scanString: no MaxString",
			File: "castyjson/decode.go",
			Orig: "\tif end-d.i-2 > d.maxStr {\n\t\treturn nil,",
			Repl: "\tif end-d.i-2 > d.maxStr && false {\n\t\treturn nil,",
			Run:  "^TestLimits$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/collection-unbounded", Invariant: jBounded,
			What: "more: no MaxCollection",
			File: "castyjson/decode.go",
			Orig: "\tif n >= d.maxColl {",
			Repl: "\tif n >= d.maxColl && false {",
			Run:  "^TestLimits$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/rescan-unbounded", Invariant: jBounded,
			What: "the rescanning budget is never exhausted",
			File: "castyjson/decode_any.go",
			Orig: "d.rescan -= d.i - from; d.rescan < 0 {",
			Repl: "d.rescan -= d.i - from; d.rescan < 0 && false {",
			Run:  "^TestRescanBudget$", Fast: true,
		}),
		// Round trip.
		cj(Mutation{
			Name: "castyjson/surrogate-pair-lost", Invariant: jRound,
			What: "Unescape: a surrogate pair (what AppendString writes for U+10000 and above) decodes as U+FFFD",
			File: "internal/pyjson/pyjson.go",
			Orig: "r = utf16.DecodeRune(r, r2)",
			Repl: "r = utf8.RuneError",
			Run:  "^(TestRoundTrip|FuzzRoundTrip)$", Fast: true,
		}),
		// Allocation-free hot path.
		cj(Mutation{
			Name: "castyjson/envelope-encode-allocates", Invariant: jAllocs,
			What: "appendEnvelope: the entity id goes through fmt.Sprint (an allocation)",
			File: "castyjson/encode.go",
			Orig: "\tdst = pyjson.AppendString(dst, entityID)\n\tdst = append(dst, `, \"message\": `...)",
			Repl: "\tdst = pyjson.AppendString(dst, fmt.Sprint(entityID))\n\tdst = append(dst, `, \"message\": `...)",
			Run:  "^TestEncodeEnvelopeZeroAlloc$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/memo-never-recalled", Invariant: jAllocs,
			What: "decodeShardEnvelope: a repeated message is decoded again, not recalled",
			File: "castyjson/decode_envelope.go",
			Orig: "if msg, ok := memo.Recall(st, payload[ms:]); ok {",
			Repl: "if msg, ok := memo.Recall(st, payload[ms:]); ok && false {",
			Run:  "^TestDecodeShardEnvelopeMemoAllocs$", Fast: true,
		}),
		// The registry.
		cj(Mutation{
			Name: "castyjson/name-registered-twice", Invariant: jRegistry,
			What: "Register: a Python name already registered is given to a second Go type",
			File: "castyjson/registry.go",
			Orig: "\t\tcase reg.name == pythonName:\n",
			Repl: "\t\tcase reg.name == pythonName && false:\n",
			Run:  "^TestRegister$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/type-registered-twice", Invariant: jRegistry,
			What: "Register: a Go type already registered gets a second Python name",
			File: "castyjson/registry.go",
			Orig: "\t\tcase reg.typ == t:\n",
			Repl: "\t\tcase reg.typ == t && false:\n",
			Run:  "^TestRegister$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/unregistered-struct-encoded", Invariant: jRegistry,
			What: "encStruct: a struct that is not registered is encoded (with an empty _type)",
			File: "castyjson/encode.go",
			Orig: "\tif p.name == \"\" {\n\t\treturn dst, &EncodeError{Type: p.typ.String(), Reason: \"struct type is not registered\"}",
			Repl: "\tif p.name == \"\" && false {\n\t\treturn dst, &EncodeError{Type: p.typ.String(), Reason: \"struct type is not registered\"}",
			Run:  "^TestEncodeErrors$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/unregistered-decode-into", Invariant: jRegistry,
			What: "DecodeInto: an unregistered struct is decoded into",
			File: "castyjson/decode.go",
			Orig: "!text && (t.Kind() == reflect.Struct || isEnumType(t)) {",
			Repl: "!text && (t.Kind() == reflect.Struct || isEnumType(t)) && false {",
			Run:  "^TestDecodeInto$", Fast: true,
		}),
		cj(Mutation{
			Name: "castyjson/other-type-accepted", Invariant: jRegistry,
			What: "structMembers: a typed decode accepts a _type naming another type",
			File: "castyjson/decode_typed.go",
			Orig: "if p.name != \"\" && string(name) != p.name {\n\t\t\t\t\treturn &DecodeError{Type: p.label(), Offset: off, Reason: \"got _type \"",
			Repl: "if p.name != \"\" && string(name) != p.name && off < 0 {\n\t\t\t\t\treturn &DecodeError{Type: p.label(), Offset: off, Reason: \"got _type \"",
			Run:  "^(TestDecodeErrors|TestDecodeInto)$", Fast: true,
		}),
	}
}
