package mutant

// Invariant bullets of zhbin/doc.go, as they start.
const (
	zStaysJSON = "A connection without mutual announcement"
	zRoundTrip = "decode(encode(x)) == x for every registered type"
	zBadInput  = "Bad input of any kind is a *DecodeError"
	zZeroAlloc = "Encoding a ShardEnvelope of a registered type"
	zHeads     = "Headed frames mean the message frames they stand for"
	zWindow    = "A link with a window has at most W frames written"
)

// zhbinMutations returns the mutations of zhbin/doc.go: the codec's own,
// and the node's use of the negotiation (a link's codec).
func zhbinMutations() []Mutation {
	z := inPackage("zhbin")
	return []Mutation{
		z(Mutation{
			Name: "zhbin/accept-without-offer", Invariant: zStaysJSON,
			What: "Negotiated: the accepting side takes zhbin from a peer that did not offer it",
			File: "zhbin/codec.go",
			Orig: "case accepting && !slices.Contains(x.Codecs, Name):",
			Repl: "case accepting && false:",
			Run:  "^TestNegotiatedFallbacks$", Fast: true,
		}),
		z(Mutation{
			Name: "zhbin/tables-not-compared", Invariant: zStaysJSON,
			What: "Agree: two tables of the same size agree whatever their ids and layouts",
			File: "zhbin/codec.go",
			Orig: "\t\tif a[i] != b[i] {",
			Repl: "\t\tif a[i] != b[i] && false {",
			Run:  "^TestNegotiatedFallbacks$", Fast: true,
		}),
		{
			Name: "zhbin/node-link-ignores-offer", Invariant: zStaysJSON, Doc: "zhbin", Package: "./node",
			What: "node onHandshake: every zerohop-or-Casty link gets the zhbin codec",
			File: "node/link.go",
			Orig: "if ok, why := zhbin.Negotiated(hs.Zerohop, n.binTypes, true); ok {",
			Repl: "if ok, why := zhbin.Negotiated(hs.Zerohop, n.binTypes, true); ok || true {",
			Run:  "^TestBinaryNegotiation$",
		},
		{
			Name: "zhbin/client-conn-ignores-choice", Invariant: zStaysJSON, Doc: "zhbin", Package: "./engine",
			What: "engine handshake: every connection of a client with Binary encodes zhbin",
			File: "engine/conn.go",
			Orig: "\t\tnc.binary.Store(ok)\n",
			Repl: "\t\tnc.binary.Store(true)\n",
			Run:  "^TestClusterBinary$",
		},
		z(Mutation{
			Name: "zhbin/uint-halved", Invariant: zRoundTrip,
			What: "encode: an unsigned field loses its low bit",
			File: "zhbin/encode.go",
			Orig: "dst = binary.AppendUvarint(dst, fv.Uint())",
			Repl: "dst = binary.AppendUvarint(dst, fv.Uint()>>1)",
			Run:  "^TestRoundTrip$", Fast: true,
		}),
		z(Mutation{
			Name: "zhbin/string-length-unchecked", Invariant: zBadInput,
			What: "decode: a string's length is not checked against the bytes left",
			File: "zhbin/decode.go",
			Orig: "\t\t\tif n > uint64(len(b)-j) {\n\t\t\t\treturn 0, decErr(i, \"string longer than the payload\")",
			Repl: "\t\t\tif false {\n\t\t\t\treturn 0, decErr(i, \"string longer than the payload\")",
			Run:  "^TestDecodeErrors$", Fast: true,
		}),
		z(Mutation{
			Name: "zhbin/trailing-bytes-accepted", Invariant: zBadInput,
			What: "Decode: bytes after a value are accepted",
			File: "zhbin/decode.go",
			Orig: "\tif end != len(payload) {\n\t\treturn nil, decErr(end, \"bytes after the value\")",
			Repl: "\tif false {\n\t\treturn nil, decErr(end, \"bytes after the value\")",
			Run:  "^TestDecodeErrors$", Fast: true,
		}),
		z(Mutation{
			Name: "zhbin/envelope-allocates", Invariant: zZeroAlloc,
			What: "appendEnvelope: the entity id is copied to the heap first",
			File: "zhbin/encode.go",
			Orig: "\tdst = append(dst, entityID...)\n",
			Repl: "\tdst = append(dst, fmt.Sprint(entityID)...)\n",
			Run:  "^TestAppendEnvelopeZeroAlloc$", Fast: true,
		}),
	}
}

// zhbinLinkMutations returns the mutations of zhbin/doc.go's link
// bullets: compact heads and the window, at both ends.
func zhbinLinkMutations() []Mutation {
	return []Mutation{
		{
			Name: "zhbin/heads-kept-across-links", Invariant: zHeads, Doc: "zhbin", Package: "./engine",
			What: "headWriter.reset: a new link keeps the ids the last one had defined, so it gets no definition before their frames",
			File: "engine/heads.go",
			Orig: "func (w *headWriter) reset(limit int) { w.limit, w.defined, w.defs = limit, 0, 0 }",
			Repl: "func (w *headWriter) reset(limit int) { w.limit, w.defs = limit, 0 }",
			Run:  "^TestClusterHeads$",
		},
		{
			Name: "zhbin/headed-frame-never-expanded", Invariant: zHeads, Doc: "zhbin", Package: "./engine",
			What: "headWriter.appendFrame: a headed frame goes out headed on a link that does not take its id",
			File: "engine/heads.go",
			Orig: "\tif id < w.limit {\n",
			Repl: "\tif true {\n",
			Run:  "^TestHeadWriter$", Fast: true,
		},
		{
			Name: "zhbin/undefined-head-read", Invariant: zHeads, Doc: "zhbin", Package: "./node",
			What: "handleHeaded: a headed frame whose id has no definition is read as a message with an empty header",
			File: "node/heads.go",
			Orig: "if err == nil && (id >= len(l.in.heads) || !l.in.heads[id].set) {",
			Repl: "if err == nil && (id >= len(l.in.heads)) {",
			Run:  "^TestHeadedFrames$",
		},
		{
			Name: "zhbin/heads-on-json-links", Invariant: zHeads, Doc: "zhbin", Package: "./node",
			What: "handleFrame: headed frames are read on a link that announced no heads",
			File: "node/dispatch.go",
			Orig: "case typ == wire.FrameDefineHead && l.in.maxHeads > 0:",
			Repl: "case typ == wire.FrameDefineHead:",
			Run:  "^(TestHeadedFrames|TestHeadsAnnounced)$",
		},
		{
			Name: "zhbin/window-not-kept", Invariant: zWindow, Doc: "zhbin", Package: "./engine",
			What: "writeLoop: the writer drains past the window while the node credits nothing",
			File: "engine/conn.go",
			Orig: "\t\t\tif out >= win {\n",
			Repl: "\t\t\tif false && out >= win {\n",
			Run:  "^TestClusterWindow$",
		},
		{
			Name: "zhbin/credit-beyond-written", Invariant: zWindow, Doc: "zhbin", Package: "./engine",
			What: "onCredit: a credit for more frames than were written is taken",
			File: "engine/heads.go",
			Orig: "if c := nc.credited.Add(uint64(n)); c > nc.written.Load() {",
			Repl: "if c := nc.credited.Add(uint64(n)); c > nc.written.Load()+1<<32 {",
			Run:  "^TestOnCredit$", Fast: true,
		},
		{
			Name: "zhbin/credit-late", Invariant: zWindow, Doc: "zhbin", Package: "./node",
			What: "handleFrame: the node credits a frame more than a quarter of the window late",
			File: "node/dispatch.go",
			Orig: "l.in.uncredited >= max(l.in.window/4, 1) {",
			Repl: "l.in.uncredited > max(l.in.window/4, 1) {",
			Run:  "^TestCreditWindow$",
		},
		{
			Name: "zhbin/kept-frame-credited", Invariant: zWindow, Doc: "zhbin", Package: "./node",
			What: "handleFrame: a frame the node keeps for its full mailbox is credited when kept, and again when handled",
			File: "node/dispatch.go",
			Orig: "if l.in.window > 0 && r != resPaused {",
			Repl: "if l.in.window > 0 {",
			Run:  "^TestCreditPausedFrames$",
		},
		{
			Name: "zhbin/head-length-unbounded", Invariant: zHeads, Doc: "zhbin", Package: "./wire",
			What: "ParseHeadDefinition: a header above MaxHeadLen is taken",
			File: "wire/heads.go",
			Orig: "if hl := binary.BigEndian.Uint32(head); hl > MaxHeadLen {",
			Repl: "if hl := binary.BigEndian.Uint32(head); hl > 1<<30 {",
			Run:  "^TestHeadFramesRefused$", Fast: true,
		},
	}
}
