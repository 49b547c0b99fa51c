package wire

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"

	"github.com/zerohop/zerohop/internal/pyjson"
)

// Header is the JSON header of a message frame (PROTOCOL.md section 3).
// Target is the destination actor URI (receivers use only its path); Sender
// is the sending system's URI (casty://system@host:port/, empty path);
// TypeHint is the Python name of the message type (informational). Header is
// a plain value: safe to copy, zero value is an empty header.
type Header struct {
	Target   string
	Sender   string
	TypeHint string
}

// EnvelopeError reports a message frame body that cannot be read: a
// header_len that overflows the body, a header that is not the JSON object
// Casty writes, or a missing target. The message is dropped; the framing is
// intact, so the connection may keep serving.
type EnvelopeError struct {
	Reason string
	Offset int // byte offset in the frame body where the problem was found
}

func (e *EnvelopeError) Error() string {
	return "wire: bad message envelope: " + e.Reason + " at offset " + strconv.Itoa(e.Offset)
}

// headerLenSize is the size of the u32 BE header_len prefix.
const headerLenSize = 4

// AppendHeader appends the u32 BE header_len and the header JSON to dst,
// byte for byte as Casty writes it:
// {"target": "...", "sender": "...", "type_hint": "..."} with Python's
// separators and escaping (non-ASCII as \uXXXX). The payload follows. It
// does not allocate when dst has room.
func AppendHeader(dst []byte, h Header) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, `{"target": `...)
	dst = pyjson.AppendString(dst, h.Target)
	return appendHeaderRest(dst, start, h.Sender, h.TypeHint)
}

// AppendMessageHead appends the part of a message frame between its
// length field and its payload: the frame type (FrameMessage), then
// header_len and the header as AppendHeader writes them. A frame is its
// u32 BE length, this head and the payload; for frames whose target,
// sender and type hint do not change (the engine's envelopes to one
// owner) the head is written once and copied per frame, byte for byte
// what BeginFrame and AppendHeader write each time.
func AppendMessageHead(dst []byte, h Header) []byte {
	return AppendHeader(append(dst, FrameMessage), h)
}

// AppendHeaderTo is AppendHeader with the target given as an Address,
// written without building its URI string.
func AppendHeaderTo(dst []byte, to Address, sender, typeHint string) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, `{"target": `...)
	dst = appendURIString(dst, to)
	return appendHeaderRest(dst, start, sender, typeHint)
}

// appendHeaderRest ends the header begun at start, after its target.
func appendHeaderRest(dst []byte, start int, sender, typeHint string) []byte {
	dst = append(dst, `, "sender": `...)
	dst = pyjson.AppendString(dst, sender)
	dst = append(dst, `, "type_hint": `...)
	dst = pyjson.AppendString(dst, typeHint)
	dst = append(dst, '}')
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-headerLenSize))
	return dst
}

// appendURIString appends a's URI as a JSON string, as
// pyjson.AppendString(dst, a.String()) does, without building the string:
// the URI is written in place and scanned; only a URI that needs escaping
// (never one of Casty's or zerohop's ASCII addresses) is copied out and
// escaped.
func appendURIString(dst []byte, a Address) []byte {
	start := len(dst)
	dst = append(dst, '"')
	dst = a.AppendURI(dst)
	if pyjson.PlainLen(dst[start+1:]) == len(dst)-start-1 {
		return append(dst, '"')
	}
	return pyjson.AppendString(dst[:start], string(dst[start+1:]))
}

// headerSpan holds the raw value spans of the header's known keys, in body
// offsets. A span is set when its key was present (last one wins).
type headerSpan struct {
	start, end int // raw string content, between the quotes
	esc        bool
	set        bool
}

type headerSpans struct {
	target, sender, typeHint headerSpan
	payload                  int // offset of the payload in the body
}

func envErr(reason string, off int) *EnvelopeError {
	return &EnvelopeError{Reason: reason, Offset: off}
}

// scanHeader validates the envelope of a message frame body and locates the
// header's fields without allocating (unless it fails). Unknown header keys
// are skipped (any JSON value); target, sender and type_hint must be
// strings; target must be present; the header must be valid UTF-8.
func scanHeader(body []byte) (hs headerSpans, err error) {
	if len(body) < headerLenSize {
		return hs, envErr("body shorter than header_len", 0)
	}
	hl := uint64(binary.BigEndian.Uint32(body))
	if hl > uint64(len(body)-headerLenSize) {
		return hs, envErr("header_len "+strconv.FormatUint(hl, 10)+" overflows body of "+strconv.Itoa(len(body))+" bytes", 0)
	}
	end := headerLenSize + int(hl)
	hdr := body[:end] // offsets stay body offsets
	if !utf8.Valid(hdr[headerLenSize:]) {
		return hs, envErr("header is not valid UTF-8", headerLenSize)
	}
	it, serr := pyjson.ObjectStart(hdr, headerLenSize)
	if serr != nil {
		return hs, envErr("header: "+serr.Reason, serr.Offset)
	}
	for {
		ks, ke, kesc, vs, done, oend, serr := it.Next()
		if serr != nil {
			return hs, envErr("header: "+serr.Reason, serr.Offset)
		}
		if done {
			if j := pyjson.SkipSpace(hdr, oend); j != end {
				return hs, envErr("header: extra data after JSON object", j)
			}
			break
		}
		var span *headerSpan
		switch {
		case pyjson.KeyIs(hdr, ks, ke, kesc, "target"):
			span = &hs.target
		case pyjson.KeyIs(hdr, ks, ke, kesc, "sender"):
			span = &hs.sender
		case pyjson.KeyIs(hdr, ks, ke, kesc, "type_hint"):
			span = &hs.typeHint
		}
		var vend int
		if span != nil {
			if vs >= len(hdr) || hdr[vs] != '"' {
				return hs, envErr("header: "+string(hdr[ks:ke])+" is not a string", vs)
			}
			var esc bool
			if vend, esc, serr = pyjson.ScanString(hdr, vs); serr != nil {
				return hs, envErr("header: "+serr.Reason, serr.Offset)
			}
			*span = headerSpan{start: vs + 1, end: vend - 1, esc: esc, set: true}
		} else if vend, serr = pyjson.SkipValue(hdr, vs, 1); serr != nil {
			return hs, envErr("header: "+serr.Reason, serr.Offset)
		}
		it.ValueEnd(vend)
	}
	if !hs.target.set {
		return hs, envErr("header has no target", headerLenSize)
	}
	hs.payload = end
	return hs, nil
}

// spanString returns the decoded value of a span, as a substring of all
// (the header converted once) when it has no escapes.
func spanString(body []byte, all string, base int, s headerSpan) string {
	if !s.set {
		return ""
	}
	if !s.esc {
		return all[s.start-base : s.end-base]
	}
	return string(pyjson.Unescape(nil, body[s.start:s.end]))
}

// ParseMessage splits a message frame body (the bytes after the frame type)
// into its header and payload. payload aliases body. A header without sender
// or type_hint is accepted (they are informational); one without target is
// not. Errors are *EnvelopeError.
func ParseMessage(body []byte) (h Header, payload []byte, err error) {
	hs, err := scanHeader(body)
	if err != nil {
		return Header{}, nil, err
	}
	// One allocation for the header text; unescaped fields are substrings.
	all := string(body[headerLenSize:hs.payload])
	h.Target = spanString(body, all, headerLenSize, hs.target)
	h.Sender = spanString(body, all, headerLenSize, hs.sender)
	h.TypeHint = spanString(body, all, headerLenSize, hs.typeHint)
	return h, body[hs.payload:], nil
}

// ParseTargetPath returns the actor path (with its leading "/") of the
// target URI of a message frame body, and the payload after the header,
// validating the envelope as ParseMessage does and the URI as ParseAddress
// does. payload aliases body. When the target has no JSON escapes (Casty
// and zerohop never write any for ASCII URIs) path aliases body too and
// nothing is allocated; otherwise the decoded path is a new slice. Errors
// are *EnvelopeError or *AddressError.
func ParseTargetPath(body []byte) (path, payload []byte, err error) {
	hs, err := scanHeader(body)
	if err != nil {
		return nil, nil, err
	}
	raw := body[hs.target.start:hs.target.end]
	if hs.target.esc {
		raw = pyjson.Unescape(nil, raw)
	}
	p, aerr := parseURI(raw)
	if aerr != nil {
		return nil, nil, &AddressError{URI: string(raw), Reason: aerr.reason}
	}
	return raw[p.pathStart:p.pathEnd], body[hs.payload:], nil
}
