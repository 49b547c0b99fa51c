// Package wire reads and writes Casty v1's wire protocol
// (shared/casty-v1/PROTOCOL.md sections 2 to 4): frames
// ([u32 BE length][u8 type][body]), the handshake and its zerohop
// extension, the message envelope ([u32 header_len][header JSON][payload]),
// actor addresses (casty://system@host:port/path), and the Go types of the
// protocol messages a client and a node exchange (types.go, zerohop.go). It
// does no I/O of its own except FrameReader, which reads from an io.Reader
// it is given.
//
// The payload inside a message frame is not this package's: wire defines
// Codec, the operations the engine and the node need from a payload codec,
// and castyjson implements it with Casty's JsonSerializer (a binary codec
// negotiated between zerohop peers would implement it too). MessageMemo,
// the per-stream memory behind Codec.DecodeShardEnvelopeMemo, is here so
// that any codec can use it. The JSON text of the header and the handshake
// is read and written by internal/pyjson, the layer wire and castyjson
// share (wire cannot import castyjson, which imports wire).
//
// # Invariants
//
//   - What we write is what Casty writes: the header as
//     {"target": ..., "sender": ..., "type_hint": ...} and the handshake
//     as {"host": ..., "port": ...} with Python's json.dumps defaults
//     (", " and ": " separators, ensure_ascii). TestGoldenWireFrames and
//     TestGoldenWireStream re-read every frame captured from a live Casty
//     cluster (testdata/frames_wire.jsonl) and re-encode the handshakes
//     byte for byte.
//   - What we read is what Casty reads: json.loads grammar in the header
//     and handshake (unknown header keys skipped, last duplicate key wins),
//     a frame's length checked against maxFrame as soon as its 4 bytes are
//     present, before its body is buffered.
//   - Bad input of any kind is a typed error (*FrameError, *HandshakeError,
//     *EnvelopeError, *AddressError), never a panic; the fuzz targets
//     (FuzzParseFrame, FuzzFrameReader, FuzzParseMessage,
//     FuzzParseHandshake, FuzzParseAddress) hold it.
//   - A MessageMemo shares only values no receiver can change (booleans,
//     numbers, strings and structs of those), and only with the codec
//     state (owner) that decoded them.
//
// # Buffer ownership
//
// Encoders append to a caller-owned dst and never keep it
// (AppendX(dst, ...) []byte); on error they return dst truncated to its
// original length. Parsers that return slices (ParseFrame's body,
// ParseMessage's payload, ParseTargetPath, FrameReader.Next) alias their
// input and are valid as long as it is (for FrameReader, until the next
// Next). A Codec follows the same rules (see Codec).
//
// # Concurrency
//
// Functions are safe for concurrent use. A FrameReader and a MessageMemo
// each belong to one goroutine. Codec implementations are safe for
// concurrent use.
package wire
