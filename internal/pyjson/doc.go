// Package pyjson reads and writes the text of Python's json module, the
// JSON dialect both ends of Casty v1's protocol speak: it is the layer
// below wire's message header and handshake and castyjson's payload codec.
//
//   - Writing (AppendString, PlainLen): json.dumps defaults, i.e.
//     ensure_ascii (every byte outside ' '..'~' escaped, \uXXXX in
//     lower-case hex, UTF-16 surrogate pairs above U+FFFF); invalid UTF-8
//     is written as U+FFFD. The ", " and ": " separators are the callers'.
//   - Reading (ScanString, ScanNumber, SkipValue, ObjectIter, KeyIs,
//     Unescape): json.loads defaults, i.e. whitespace " \t\n\r", strict
//     strings (no raw control characters, only JSON's escapes),
//     NaN/Infinity/-Infinity accepted by SkipValue, and for duplicate keys
//     the caller keeps the last one.
//
// It lives under internal because it is not an API: wire (the protocol)
// and castyjson (the payload codec, which imports wire) both need it, and
// wire must not import castyjson, so it sits below both.
//
// # Invariants
//
//   - The scanner works on byte offsets into the caller's input and never
//     allocates or panics, for any input; bad input is a *SyntaxError with
//     the offset of the offending byte. SkipValue's nesting is bounded (64
//     levels) so that a hostile header cannot recurse without limit.
//   - AppendString appends to a caller-owned dst and does not allocate when
//     dst has room; Unescape appends likewise. What AppendString writes is
//     ASCII, one string for ScanString and SkipValue, and reads back (by
//     Unescape and by encoding/json) as its input with each invalid UTF-8
//     byte as U+FFFD (FuzzStringRoundTrip; TestScanErrors for the
//     offsets). wire's FuzzParseMessage and FuzzParseHandshake and
//     castyjson's fuzz targets drive the reader further.
//
// # Concurrency
//
// Every function is safe for concurrent use: the package holds only
// read-only lookup tables. An ObjectIter belongs to one goroutine.
package pyjson
