package pyjson

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// plain marks the bytes that Python's json.dumps writes unescaped
// (' '..'~' except '"' and '\\'); strPlain the bytes that need no
// attention when scanning a JSON string (not '"', '\\' or a control
// character). Read-only lookup tables: a byte loop with a switch measured
// about twice slower (BenchmarkAppendHeader, BenchmarkParseTargetPath).
var plain, strPlain = func() (plain, strPlain [256]bool) {
	for c := 0; c < 256; c++ {
		plain[c] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
		strPlain[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return
}()

// StringPlainEnd returns the offset of the first byte at or after b[i]
// that needs attention inside a JSON string ('"', '\\' or a control
// character), or len(b).
func StringPlainEnd(b []byte, i int) int {
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	return i
}

// PlainLen returns the length of b's prefix that needs no JSON escaping,
// 8 bytes at a time.
func PlainLen(b []byte) int {
	j := 0
	for j+8 <= len(b) && swarAppendSpecial(binary.LittleEndian.Uint64(b[j:])) == 0 {
		j += 8
	}
	for j < len(b) && plain[b[j]] {
		j++
	}
	return j
}

// plainLenString is PlainLen of a string.
func plainLenString(s string) int {
	j := 0
	for j+8 <= len(s) && swarAppendSpecial(load64(s, j)) == 0 {
		j += 8
	}
	for j < len(s) && plain[s[j]] {
		j++
	}
	return j
}

// load64 reads s[i:i+8] little-endian (one load: the compiler combines
// the byte loads, as for binary.LittleEndian.Uint64).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// AppendString appends s as a JSON string the way Python's json.dumps
// writes it (ensure_ascii=True). Invalid UTF-8 is written as U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	// Fast path: scan s 8 bytes at a time, then copy its plain prefix (all
	// of it, usually). Scanning s rather than the copy: the copy's words,
	// just written by a memmove of other alignment, read back through a
	// failed store-to-load forwarding (pyjson's BenchmarkAppendString;
	// PERFORMANCE.md "Client per-frame work").
	j := plainLenString(s)
	dst = append(dst, s[:j]...)
	if j == len(s) {
		return append(dst, '"')
	}
	for i := j; ; {
		j := i
		for j < len(s) && plain[s[j]] {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		switch c := s[j]; c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			if c < utf8.RuneSelf {
				dst = appendU(dst, rune(c))
				break
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				dst = appendU(dst, r1)
				dst = appendU(dst, r2)
			} else {
				dst = appendU(dst, r)
			}
			j += size - 1
		}
		i = j + 1
	}
	return append(dst, '"')
}

// SWAR (8 bytes per step) helpers for the string loops. Each returns non-zero
// when some byte of w may need attention; the exact byte is then found by the
// byte loop, so a false positive only costs speed.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

func swarHasZero(x uint64) uint64 { return (x - swarOnes) & ^x & swarHigh }

// swarScanSpecial flags '"', '\\' and control characters.
func swarScanSpecial(w uint64) uint64 {
	return (w-0x20*swarOnes)&^w&swarHigh | swarHasZero(w^('"'*swarOnes)) | swarHasZero(w^('\\'*swarOnes))
}

// swarAppendSpecial also flags DEL and non-ASCII bytes (escaped on output).
func swarAppendSpecial(w uint64) uint64 {
	return swarScanSpecial(w) | w&swarHigh | swarHasZero(w^(0x7f*swarOnes))
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// isSpace reports JSON whitespace as Python's json module defines it.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func SkipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// SyntaxError is what the scanner reports: a reason and the offset of
// the byte where it was found. It is not an error value on purpose:
// callers wrap it in their own typed error (wire.EnvelopeError,
// wire.HandshakeError, castyjson.DecodeError).
type SyntaxError struct {
	Reason string
	Offset int // byte offset in the scanned input
}

// ScanString scans the JSON string starting at b[i] == '"'. It returns the
// offset just past the closing quote and whether the string has escapes.
// The string's raw content is b[i+1 : end-1].
func ScanString(b []byte, i int) (end int, esc bool, serr *SyntaxError) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, &SyntaxError{"expected string", i}
	}
	for j := i + 1; j < len(b); {
		for j+8 <= len(b) && swarScanSpecial(binary.LittleEndian.Uint64(b[j:])) == 0 {
			j += 8
		}
		for j < len(b) && strPlain[b[j]] {
			j++
		}
		if j == len(b) {
			break
		}
		c := b[j]
		switch {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			if j+1 >= len(b) {
				return 0, false, &SyntaxError{"unterminated string", j}
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHex4(b[j+2:j+6]) {
					return 0, false, &SyntaxError{"invalid \\u escape", j}
				}
				j += 6
			default:
				return 0, false, &SyntaxError{"invalid escape", j}
			}
		case c < 0x20:
			return 0, false, &SyntaxError{"control character in string", j}
		default:
			j++
		}
	}
	return 0, false, &SyntaxError{"unterminated string", i}
}

func isHex4(h []byte) bool {
	for _, c := range h[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hexVal(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		r <<= 4
		switch {
		case c <= '9':
			r |= rune(c - '0')
		case c >= 'a':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// Unescape appends the decoded content of a JSON string body raw (between
// the quotes, already validated by ScanString) to dst. Surrogate pairs are
// combined; a lone surrogate (which Python keeps) becomes U+FFFD.
func Unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hexVal(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if r < 0xdc00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := hexVal(raw[i+2:]); r2 >= 0xdc00 && r2 <= 0xdfff {
						r = utf16.DecodeRune(r, r2)
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// ScanNumber scans a JSON number at b[i] with Python's grammar
// -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)? and reports whether it is an integer
// (no fraction, no exponent). "-Infinity" is the caller's to recognise (SkipValue does).
func ScanNumber(b []byte, i int) (end int, isInt bool, serr *SyntaxError) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return 0, false, &SyntaxError{"invalid number", i}
	}
	isInt = true
	if j+1 < len(b) && b[j] == '.' && b[j+1] >= '0' && b[j+1] <= '9' {
		isInt = false
		j += 2
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		k := j + 1
		if k < len(b) && (b[k] == '+' || b[k] == '-') {
			k++
		}
		if k < len(b) && b[k] >= '0' && b[k] <= '9' {
			isInt = false
			for k < len(b) && b[k] >= '0' && b[k] <= '9' {
				k++
			}
			j = k
		}
	}
	return j, isInt, nil
}

func HasPrefixAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// maxSkipDepth bounds the nesting of values skipped by SkipValue.
const maxSkipDepth = 64

// SkipValue skips one JSON value starting at b[i] (no leading space) and
// returns the offset just past it.
func SkipValue(b []byte, i, depth int) (int, *SyntaxError) {
	if i >= len(b) {
		return 0, &SyntaxError{"unexpected end of JSON", i}
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := ScanString(b, i)
		return end, err
	case c == '{' || c == '[':
		if depth >= maxSkipDepth {
			return 0, &SyntaxError{"JSON nested too deeply", i}
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		j := SkipSpace(b, i+1)
		if j < len(b) && b[j] == closing {
			return j + 1, nil
		}
		for {
			var err *SyntaxError
			if c == '{' {
				if j, _, err = ScanString(b, j); err != nil {
					return 0, err
				}
				j = SkipSpace(b, j)
				if j >= len(b) || b[j] != ':' {
					return 0, &SyntaxError{"expected ':'", j}
				}
				j = SkipSpace(b, j+1)
			}
			if j, err = SkipValue(b, j, depth+1); err != nil {
				return 0, err
			}
			j = SkipSpace(b, j)
			if j >= len(b) {
				return 0, &SyntaxError{"unexpected end of JSON", j}
			}
			if b[j] == closing {
				return j + 1, nil
			}
			if b[j] != ',' {
				return 0, &SyntaxError{"expected ',' or closing bracket", j}
			}
			j = SkipSpace(b, j+1)
		}
	case c == '-' && HasPrefixAt(b, i, "-Infinity"):
		return i + len("-Infinity"), nil
	case c == '-' || c >= '0' && c <= '9':
		end, _, err := ScanNumber(b, i)
		return end, err
	}
	for _, lit := range [...]string{"true", "false", "null", "NaN", "Infinity"} {
		if HasPrefixAt(b, i, lit) {
			return i + len(lit), nil
		}
	}
	return 0, &SyntaxError{"invalid JSON value", i}
}

// ObjectIter walks the members of a JSON object. Call next until done or
// an error; each call returns the key's raw span and the offset of the
// member's value (after the ':' and spaces). The caller must set the offset
// just past the value with valueEnd before calling next again.
type ObjectIter struct {
	b     []byte
	i     int
	first bool
}

// ObjectStart checks that b[i:] (after spaces) opens an object.
func ObjectStart(b []byte, i int) (ObjectIter, *SyntaxError) {
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return ObjectIter{}, &SyntaxError{"expected JSON object", i}
	}
	return ObjectIter{b: b, i: i + 1, first: true}, nil
}

// next returns the next member: the key's raw content b[ks:ke] (escaped if
// kesc) and the value offset vs. done is true after the closing '}', and
// end is then the offset just past it.
func (it *ObjectIter) Next() (ks, ke int, kesc bool, vs int, done bool, end int, serr *SyntaxError) {
	b := it.b
	j := SkipSpace(b, it.i)
	if j >= len(b) {
		return 0, 0, false, 0, false, 0, &SyntaxError{"unexpected end of JSON", j}
	}
	if b[j] == '}' && it.first {
		return 0, 0, false, 0, true, j + 1, nil
	}
	if !it.first {
		if b[j] == '}' {
			return 0, 0, false, 0, true, j + 1, nil
		}
		if b[j] != ',' {
			return 0, 0, false, 0, false, 0, &SyntaxError{"expected ',' or '}'", j}
		}
		j = SkipSpace(b, j+1)
	}
	it.first = false
	kend, kesc, err := ScanString(b, j)
	if err != nil {
		return 0, 0, false, 0, false, 0, err
	}
	k := SkipSpace(b, kend)
	if k >= len(b) || b[k] != ':' {
		return 0, 0, false, 0, false, 0, &SyntaxError{"expected ':'", k}
	}
	return j + 1, kend - 1, kesc, SkipSpace(b, k+1), false, 0, nil
}

// valueEnd records the offset just past the current member's value.
func (it *ObjectIter) ValueEnd(end int) { it.i = end }

// KeyIs reports whether the raw key b[ks:ke] (escaped if kesc) decodes to
// name. Escaped keys are decoded into a stack buffer.
func KeyIs(b []byte, ks, ke int, kesc bool, name string) bool {
	raw := b[ks:ke]
	if !kesc {
		return string(raw) == name
	}
	if len(raw) > 6*len(name) {
		return false
	}
	var buf [64]byte
	return string(Unescape(buf[:0], raw)) == name
}
