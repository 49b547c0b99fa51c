// Package zhbin is zerohop's binary payload codec, negotiated between two
// zerohop peers in the handshake's "zerohop" extension (issue 12): a Codec
// implements wire.Codec on top of a castyjson.Registry, and carries the
// message types registered with it (Register, by a small id) as
// length-prefixed fields and varints, with no escaping and no names.
// Casty peers never see it: a connection uses it only when both ends
// announced it (Negotiated); every other connection stays Casty JSON byte
// for byte.
//
// # Frame layout
//
// Frames and the message header are Casty's, unchanged ([u32 length][0x01]
// [u32 header length][header JSON {"target", "sender", "type_hint"}]
// [payload]); only the payload differs. Its first byte says what it is:
//
//	0x01 value:     [uvarint type id][fields]
//	0x02 envelope:  [uvarint n][n bytes: entity id][uvarint type id][fields]
//	anything else:  Casty JSON (castyjson), as on a JSON connection
//
// A message of a type not registered here is written as type id 0 and
// [uvarint n][n bytes of its Casty JSON]; a value that is neither a
// ShardEnvelope nor a registered type is written as plain Casty JSON. So
// every message castyjson can carry travels on a binary connection, and a
// JSON payload (a held envelope encoded before the connection was
// negotiated, a reply written by JSON-only code) is read by both codecs.
//
// Fields, in declaration order, after castyjson's rules (casty:"-" and
// unexported fields skipped, untagged embedded structs flattened, nested
// structs inlined): bool one byte (0 or 1), signed integers zigzag
// varints, unsigned integers uvarints, float32/float64 4/8 bytes little
// endian, strings [uvarint n][n bytes] (verbatim: invalid UTF-8 is kept,
// where JSON would write U+FFFD). wire.Ref is a struct: System, Host,
// Port, Path.
//
// # Negotiation
//
// A connecting zerohop peer that has binary types offers "codecs":
// ["json", "zhbin"] and announces its table in "binary" ({"name":
// "id:schema"}, wire.BinaryType; schema is a digest of the type's name and
// field layout). The accepting node chooses "codec": "zhbin" in its reply,
// with its own table, when the client offered it and the two tables agree
// (Agree: same names, ids and layouts); the client uses zhbin when the
// reply chose it and the tables agree. Everything else stays JSON: a
// Casty peer (no extension), an older zerohop peer (no "zhbin" offered or
// chosen), a peer without binary types, a table mismatch, a refusal.
//
// The engine writes a route entry's frame head once (AppendEnvelopeHead:
// Casty's bytes, the JSON registry's too) and per tell only the envelope
// after it (AppendHeadedEnvelopeFrame), as with JSON.
//
// # Compact heads
//
// The head (frame type, header_len, and the header with its two URIs) is
// about 160 of a zhbin tell's 190 bytes. A node that chooses zhbin also
// announces "heads": N (node.Config.BinaryHeads, by default
// wire.MaxHeads = 64), and its client may then send a head once as a
// definition frame under an id below N, and each envelope after it as a
// headed frame: [u32 length][0x21][uvarint id][zhbin envelope], 11 bytes
// for Increment{1000} to "user-0" (wire/heads.go has the layout and the
// rules). The engine gives each route entry an id in its connection's
// table; the connection's writer sends the definition on each link before
// the first frame that uses it, and writes a frame encoded for an id the
// current link does not take (a reconnect to a node that announces fewer
// or none) as the whole frame it stands for. A node without heads, and
// every JSON connection, never see these frames (to them they are unknown
// frame types, which Casty ignores).
//
// # Window
//
// Socket buffers are sized in bytes: at 25 bytes a tell, the buffers that
// held 1,400 whole frames hold 10,000 headed ones, and an ask sent behind
// a flood waits behind them all. A node with node.Config.BinaryWindow (off
// by default; cmd/node -binary-window) announces "window": W with zhbin,
// and acknowledges the frames it has handled with credit frames
// (wire.FrameCredit), W/4 at a time; the client's writer keeps the frames
// it wrote on the link and the node has not credited below W, so the
// rest wait in its queue, where the sojourn bound sees them.
//
// PERFORMANCE.md, "Binary codec (issue 12)", has the measurements: a tell's
// frame 307 bytes in JSON, 182 in zhbin; the node's envelope decode about
// 2.9x faster; the same client encode cost after the head.
//
// # Invariants
//
//   - A connection without mutual announcement and agreeing tables stays
//     JSON (Negotiated; TestNegotiatedFallbacks).
//   - decode(encode(x)) == x for every registered type (FuzzRoundTrip),
//     strings kept byte for byte.
//   - Bad input of any kind is a *DecodeError, never a panic: every length
//     is checked against the bytes left before it is used, integers
//     against their field's range, type ids against the table, and no
//     byte may follow the value (FuzzDecode; DecodeInto too). What a
//     payload makes the decoder allocate is bounded by the registered
//     type's size plus the lengths of its strings, which are bytes of the
//     payload.
//   - Headed frames mean the message frames they stand for: a link gets
//     an id's definition before the first headed frame that uses it;
//     a link that does not take an id gets the whole frame; a node reads
//     them only on a link where it announced heads, and closes a link
//     whose definition or headed frame breaks the rules (an id at or
//     above its announcement, or without a definition, a header that a
//     message frame could not carry), counted as a framing error
//     (engine TestHeadWriter, TestClusterHeads; node TestHeadedFrames,
//     TestHeadsAnnounced; wire TestHeadFramesRefused, FuzzHeadFrames).
//   - A link with a window has at most W frames written and not credited
//     (plus its head definitions, at most wire.MaxHeads); the node credits
//     each frame it handled once (a frame its full mailbox made it keep
//     is credited when handled); a credit that does not parse or
//     acknowledges more than was written closes the link (engine
//     TestClusterWindow, FuzzOnCredit; node TestCreditWindow,
//     TestCreditPausedFrames; wire TestCreditFrames).
//   - Encoding a ShardEnvelope of a registered type into a buffer with
//     room allocates nothing, whole frame or after a route entry's head
//     (TestAppendEnvelopeZeroAlloc; the engine's Tell on a zhbin
//     connection: TestTellZeroAllocsBinary).
//
// # Buffer ownership
//
// Encoders append to a caller-owned dst and never keep it; on error they
// return dst unchanged. Decoded values never alias the payload except
// DecodeShardEnvelope's entity id.
//
// # Concurrency
//
// A Codec is safe for concurrent use: Register is serialized and publishes
// a new immutable state through an atomic pointer; encoders and decoders
// load it once per call and take no lock. Register at start-up, before
// the codec is handed to a client or a node: the table is announced in
// handshakes.
package zhbin
