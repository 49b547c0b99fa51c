package wire

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the small JSON reader and writer used for the handshake
// and the message header. They follow Python's json module, which is what
// Casty uses on the other end:
//
//   - writing: json.dumps defaults, i.e. ", " and ": " separators and
//     ensure_ascii (every byte outside ' '..'~' escaped, \uXXXX in lower-case
//     hex, UTF-16 surrogate pairs above U+FFFF);
//   - reading: json.loads defaults, i.e. whitespace " \t\n\r", strict strings
//     (no raw control characters), NaN/Infinity/-Infinity accepted, and for
//     duplicate keys the last one wins.
//
// The scanner works on byte offsets and never allocates; values are decoded
// by the caller only when it needs them.

const pyHex = "0123456789abcdef"

// pyPlain marks the bytes that Python's json.dumps writes unescaped
// (' '..'~' except '"' and '\\'); pyStrPlain the bytes that need no
// attention when scanning a JSON string (not '"', '\\' or a control
// character). Read-only lookup tables: a byte loop with a switch measured
// about twice slower (BenchmarkAppendHeader, BenchmarkParseTargetPath).
var pyPlain, pyStrPlain = func() (plain, strPlain [256]bool) {
	for c := 0; c < 256; c++ {
		plain[c] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
		strPlain[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return
}()

// pyPlainLen returns the length of b's prefix that needs no JSON escaping,
// 8 bytes at a time.
func pyPlainLen(b []byte) int {
	j := 0
	for j+8 <= len(b) && swarAppendSpecial(binary.LittleEndian.Uint64(b[j:])) == 0 {
		j += 8
	}
	for j < len(b) && pyPlain[b[j]] {
		j++
	}
	return j
}

// pyAppendURI appends a's URI as a JSON string, as pyAppendString(dst,
// a.String()) does, without building the string: the URI is written in
// place and scanned; only a URI that needs escaping (never one of Casty's
// or zerohop's ASCII addresses) is copied out and escaped.
func pyAppendURI(dst []byte, a Address) []byte {
	start := len(dst)
	dst = append(dst, '"')
	dst = a.AppendURI(dst)
	if pyPlainLen(dst[start+1:]) == len(dst)-start-1 {
		return append(dst, '"')
	}
	return pyAppendString(dst[:start], string(dst[start+1:]))
}

// pyAppendString appends s as a JSON string the way Python's json.dumps
// writes it (ensure_ascii=True). Invalid UTF-8 is written as U+FFFD.
func pyAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	// Fast path: copy s whole, then scan the copy 8 bytes at a time; on the
	// first byte that needs escaping, cut the copy back and escape from there.
	base := len(dst)
	dst = append(dst, s...)
	j := pyPlainLen(dst[base:])
	if j == len(s) {
		return append(dst, '"')
	}
	dst = dst[:base+j]
	for i := j; ; {
		j := i
		for j < len(s) && pyPlain[s[j]] {
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
				dst = pyAppendU(dst, rune(c))
				break
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				dst = pyAppendU(dst, r1)
				dst = pyAppendU(dst, r2)
			} else {
				dst = pyAppendU(dst, r)
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

func pyAppendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', pyHex[r>>12&0xf], pyHex[r>>8&0xf], pyHex[r>>4&0xf], pyHex[r&0xf])
}

// pyIsSpace reports JSON whitespace as Python's json module defines it.
func pyIsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func pySkipSpace(b []byte, i int) int {
	for i < len(b) && pyIsSpace(b[i]) {
		i++
	}
	return i
}

// scanError is the internal error of the scanner: a reason and the offset.
// Callers wrap it in their own typed error.
type scanError struct {
	reason string
	off    int
}

// pyScanString scans the JSON string starting at b[i] == '"'. It returns the
// offset just past the closing quote and whether the string has escapes.
// The string's raw content is b[i+1 : end-1].
func pyScanString(b []byte, i int) (end int, esc bool, serr *scanError) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, &scanError{"expected string", i}
	}
	for j := i + 1; j < len(b); {
		for j+8 <= len(b) && swarScanSpecial(binary.LittleEndian.Uint64(b[j:])) == 0 {
			j += 8
		}
		for j < len(b) && pyStrPlain[b[j]] {
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
				return 0, false, &scanError{"unterminated string", j}
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHex4(b[j+2:j+6]) {
					return 0, false, &scanError{"invalid \\u escape", j}
				}
				j += 6
			default:
				return 0, false, &scanError{"invalid escape", j}
			}
		case c < 0x20:
			return 0, false, &scanError{"control character in string", j}
		default:
			j++
		}
	}
	return 0, false, &scanError{"unterminated string", i}
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

// pyUnescape appends the decoded content of a JSON string body raw (between
// the quotes, already validated by pyScanString) to dst. Surrogate pairs are
// combined; a lone surrogate (which Python keeps) becomes U+FFFD.
func pyUnescape(dst, raw []byte) []byte {
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

// pyScanNumber scans a JSON number at b[i] with Python's grammar
// -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)? and reports whether it is an integer
// (no fraction, no exponent). "-Infinity" is handled by pyScanLiteral.
func pyScanNumber(b []byte, i int) (end int, isInt bool, serr *scanError) {
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
		return 0, false, &scanError{"invalid number", i}
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

func hasPrefixAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// pyMaxSkipDepth bounds the nesting of values skipped by pySkipValue.
const pyMaxSkipDepth = 64

// pySkipValue skips one JSON value starting at b[i] (no leading space) and
// returns the offset just past it.
func pySkipValue(b []byte, i, depth int) (int, *scanError) {
	if i >= len(b) {
		return 0, &scanError{"unexpected end of JSON", i}
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := pyScanString(b, i)
		return end, err
	case c == '{' || c == '[':
		if depth >= pyMaxSkipDepth {
			return 0, &scanError{"JSON nested too deeply", i}
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		j := pySkipSpace(b, i+1)
		if j < len(b) && b[j] == closing {
			return j + 1, nil
		}
		for {
			var err *scanError
			if c == '{' {
				if j, _, err = pyScanString(b, j); err != nil {
					return 0, err
				}
				j = pySkipSpace(b, j)
				if j >= len(b) || b[j] != ':' {
					return 0, &scanError{"expected ':'", j}
				}
				j = pySkipSpace(b, j+1)
			}
			if j, err = pySkipValue(b, j, depth+1); err != nil {
				return 0, err
			}
			j = pySkipSpace(b, j)
			if j >= len(b) {
				return 0, &scanError{"unexpected end of JSON", j}
			}
			if b[j] == closing {
				return j + 1, nil
			}
			if b[j] != ',' {
				return 0, &scanError{"expected ',' or closing bracket", j}
			}
			j = pySkipSpace(b, j+1)
		}
	case c == '-' && hasPrefixAt(b, i, "-Infinity"):
		return i + len("-Infinity"), nil
	case c == '-' || c >= '0' && c <= '9':
		end, _, err := pyScanNumber(b, i)
		return end, err
	}
	for _, lit := range [...]string{"true", "false", "null", "NaN", "Infinity"} {
		if hasPrefixAt(b, i, lit) {
			return i + len(lit), nil
		}
	}
	return 0, &scanError{"invalid JSON value", i}
}

// pyObjectIter walks the members of a JSON object. Call next until done or
// an error; each call returns the key's raw span and the offset of the
// member's value (after the ':' and spaces). The caller must set the offset
// just past the value with valueEnd before calling next again.
type pyObjectIter struct {
	b     []byte
	i     int
	first bool
}

// pyObjectStart checks that b[i:] (after spaces) opens an object.
func pyObjectStart(b []byte, i int) (pyObjectIter, *scanError) {
	i = pySkipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return pyObjectIter{}, &scanError{"expected JSON object", i}
	}
	return pyObjectIter{b: b, i: i + 1, first: true}, nil
}

// next returns the next member: the key's raw content b[ks:ke] (escaped if
// kesc) and the value offset vs. done is true after the closing '}', and
// end is then the offset just past it.
func (it *pyObjectIter) next() (ks, ke int, kesc bool, vs int, done bool, end int, serr *scanError) {
	b := it.b
	j := pySkipSpace(b, it.i)
	if j >= len(b) {
		return 0, 0, false, 0, false, 0, &scanError{"unexpected end of JSON", j}
	}
	if b[j] == '}' && it.first {
		return 0, 0, false, 0, true, j + 1, nil
	}
	if !it.first {
		if b[j] == '}' {
			return 0, 0, false, 0, true, j + 1, nil
		}
		if b[j] != ',' {
			return 0, 0, false, 0, false, 0, &scanError{"expected ',' or '}'", j}
		}
		j = pySkipSpace(b, j+1)
	}
	it.first = false
	kend, kesc, err := pyScanString(b, j)
	if err != nil {
		return 0, 0, false, 0, false, 0, err
	}
	k := pySkipSpace(b, kend)
	if k >= len(b) || b[k] != ':' {
		return 0, 0, false, 0, false, 0, &scanError{"expected ':'", k}
	}
	return j + 1, kend - 1, kesc, pySkipSpace(b, k+1), false, 0, nil
}

// valueEnd records the offset just past the current member's value.
func (it *pyObjectIter) valueEnd(end int) { it.i = end }

// pyKeyIs reports whether the raw key b[ks:ke] (escaped if kesc) decodes to
// name. Escaped keys are decoded into a stack buffer.
func pyKeyIs(b []byte, ks, ke int, kesc bool, name string) bool {
	raw := b[ks:ke]
	if !kesc {
		return string(raw) == name
	}
	if len(raw) > 6*len(name) {
		return false
	}
	var buf [64]byte
	return string(pyUnescape(buf[:0], raw)) == name
}
