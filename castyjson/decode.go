package castyjson

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/zerohop/zerohop/internal/pyjson"
)

// This file is the decoding half of the JSON codec: Python's json.loads
// grammar (NaN, Infinity, -Infinity accepted; strict strings; last
// duplicate key wins) followed by Casty's JsonSerializer.from_dict rules
// (PROTOCOL.md section 5.2). It is a single-pass scanner over the payload
// that decodes straight into Go values, with the limits of Limits checked
// as it goes; see doc.go for why it is not built on fastjson. This file
// holds the entry points, the decoder's state and its scanning
// primitives; decode_any.go decodes untyped values, decode_typed.go typed
// ones by plan, decode_envelope.go is the node's ShardEnvelope fast path.

// Decode decodes a message payload. A dataclass of a registered type
// becomes a value of that Go type (not a pointer); a dataclass of an
// unregistered type becomes Unknown; {"__ref__": uri} a Ref; an enum member
// a value of its registered type, or Enum; a frozenset, tuple or list
// []any; a dict (__dict__) map[any]any; any other JSON object
// map[string]any, taken as-is without looking for markers inside (as
// Casty does); numbers int64 when integral (no fraction or exponent and in
// range), else float64; strings, bools and null as string, bool and nil.
// Unknown fields are ignored, missing fields are left zero. Every failure
// is a *DecodeError; Decode never panics on any input.
func (r *Registry) Decode(payload []byte) (any, error) {
	st := r.load()
	d := newDecoder(st, payload)
	v, err := d.topSafe()
	d.release()
	return v, err
}

// DecodeInto decodes a payload into *dst, which must be a non-nil pointer
// to a registered struct or enum, or to a non-struct type (a primitive,
// slice, map, pointer or interface) for a reply that is not a dataclass.
// *dst is overwritten (fields missing from the payload become zero).
// Payload errors are *DecodeError.
func (r *Registry) DecodeInto(payload []byte, dst any) error {
	st := r.load()
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("castyjson: DecodeInto: dst must be a non-nil pointer, not %T", dst)
	}
	t := rv.Type().Elem()
	p := st.byType[t]
	if p == nil || (p.kind != planOther && p.name == "") {
		if text, _ := textCodec(t, false); !text && (t.Kind() == reflect.Struct || isEnumType(t)) {
			return fmt.Errorf("castyjson: DecodeInto: %v is not registered", t)
		}
		var err error
		if p, err = st.dynPlan(t); err != nil {
			return fmt.Errorf("castyjson: DecodeInto: %w", err)
		}
	}
	d := newDecoder(st, payload)
	err := d.intoSafe(p, rv.Elem())
	d.release()
	return err
}

// decoder is the state of one Decode call. It is not shared.
type decoder struct {
	b        []byte
	i        int // read offset
	st       *codecState
	depth    int // current nesting of JSON arrays and objects
	maxDepth int
	maxStr   int
	maxColl  int
	keyBuf   []byte // scratch for unescaped keys, valid until the next key
	rescan   int    // bytes anyObjectSlow may still skip (see rescanBudget)
	intern   [internSlots]string
	str      []byte // scratch for unescaped strings, valid until the next string

	// scratch is a zero value of scratchPlan's struct type that
	// dataclassMembers decodes into and then boxes (Interface copies it),
	// instead of boxing a fresh reflect.New value, which would be
	// allocated and then copied: one allocation per dataclass in an untyped
	// position instead of two (BenchmarkDecodeEnvelope). Taken out while in
	// use, so a nested value of the same type gets its own.
	scratchPlan *typePlan
	scratch     reflect.Value
}

// takeScratch returns a zero, settable value of p's struct type: the
// decoder's scratch when it has that type (taken out), else a new one.
func (d *decoder) takeScratch(p *typePlan) reflect.Value {
	if d.scratchPlan == p {
		v := d.scratch
		d.scratchPlan, d.scratch = nil, reflect.Value{}
		return v
	}
	return reflect.New(p.typ).Elem()
}

// rescanBudget is how many bytes the slow path of object decoding may skip
// for one payload of n bytes: enough for several levels of objects whose
// members come in an unusual order, linear in n.
func rescanBudget(n int) int { return 4*n + 64<<10 }

// decoderPool recycles decoders and their scratch buffers across calls.
var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// maxPooledScratch bounds the scratch buffers a pooled decoder keeps.
const maxPooledScratch = 64 << 10

func newDecoder(st *codecState, b []byte) *decoder {
	d := decoderPool.Get().(*decoder)
	d.b, d.i, d.st, d.depth = b, 0, st, 0
	d.maxDepth, d.maxStr, d.maxColl = st.limits.MaxDepth, st.limits.MaxString, st.limits.MaxCollection
	d.keyBuf, d.str = d.keyBuf[:0], d.str[:0]
	d.rescan = rescanBudget(len(b))
	return d
}

// Short strings are interned per decoder (and kept across the payloads it
// decodes): a snapshot repeats the same hosts, ids and keys hundreds of
// times, and consecutive messages the same entity ids.
const (
	internMaxLen = 32
	internSlots  = 128
)

// makeString returns b as a string, from the intern table when it holds it.
func (d *decoder) makeString(b []byte) string {
	if len(b) == 0 || len(b) > internMaxLen {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &d.intern[h%internSlots]
	if *slot == string(b) {
		return *slot
	}
	s := string(b)
	*slot = s
	return s
}

// release returns d to the pool; d must not be used afterwards.
func (d *decoder) release() {
	d.b, d.st = nil, nil
	if cap(d.keyBuf) > maxPooledScratch {
		d.keyBuf = nil
	}
	if cap(d.str) > maxPooledScratch {
		d.str = nil
	}
	decoderPool.Put(d)
}

// errMarker stops a speculative dataclass decode that met a marker key
// (which Casty's from_dict checks before "_type"); the object is then
// decoded again by the general path. It never leaves this file.
var errMarker = errors.New("castyjson: marker key in speculative dataclass decode")

func (d *decoder) topSafe() (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, &DecodeError{Offset: d.i, Reason: internalErrorReason, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	if err := d.checkUTF8(); err != nil {
		return nil, err
	}
	if v, err = d.anyValue(); err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return v, nil
}

func (d *decoder) intoSafe(p *typePlan, v reflect.Value) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &DecodeError{Offset: d.i, Reason: internalErrorReason, Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if err := d.checkUTF8(); err != nil {
		return err
	}
	if c, err := d.peek(); err != nil {
		return err
	} else if c == 'n' && p.kind == planStruct {
		return &DecodeError{Type: p.label(), Offset: d.i, Reason: "payload is null"}
	}
	if err := p.dec(d, v); err != nil {
		return decErrAt(err, "", p.label())
	}
	return d.end()
}

func (d *decoder) checkUTF8() error {
	if !utf8.Valid(d.b) {
		return &DecodeError{Offset: 0, Reason: "payload is not valid UTF-8"}
	}
	return nil
}

// end checks that only whitespace follows the top-level value.
func (d *decoder) end() error {
	d.ws()
	if d.i != len(d.b) {
		return d.errf("extra data after the JSON value")
	}
	return nil
}

func (d *decoder) errf(reason string) *DecodeError {
	return &DecodeError{Offset: d.i, Reason: reason}
}

func scanErr(e *pyjson.SyntaxError) *DecodeError {
	return &DecodeError{Offset: e.Offset, Reason: e.Reason}
}

// decErrAt prefixes the field path of a *DecodeError with elem and records
// typ (the outermost typed context wins, so Field is relative to Type).
func decErrAt(err error, elem, typ string) error {
	e, ok := err.(*DecodeError)
	if !ok {
		return err
	}
	if elem != "" {
		e.Field = joinPath(elem, e.Field)
	}
	if typ != "" {
		e.Type = typ
	}
	return e
}

func indexElem(n int) string { return "[" + strconv.Itoa(n) + "]" }

func (d *decoder) ws() { d.i = pyjson.SkipSpace(d.b, d.i) }

// peek skips whitespace and returns the next byte.
func (d *decoder) peek() (byte, error) {
	d.ws()
	if d.i >= len(d.b) {
		return 0, d.errf("unexpected end of JSON")
	}
	return d.b[d.i], nil
}

// null consumes a null literal if one is next.
func (d *decoder) null() bool {
	d.ws()
	if pyjson.HasPrefixAt(d.b, d.i, "null") {
		d.i += 4
		return true
	}
	return false
}

// enter consumes the '{' or '[' at d.i and checks the depth limit.
func (d *decoder) enter() error {
	d.depth++
	if d.depth > d.maxDepth {
		return d.errf("JSON nested deeper than " + strconv.Itoa(d.maxDepth) + " levels")
	}
	d.i++
	return nil
}

func (d *decoder) leave() { d.depth-- }

// more moves to the next item of the open container closed by close, n
// items having been read. It consumes the closing bracket and returns true
// at the end; otherwise it consumes the ',' (when n > 0) and checks the
// collection limit.
func (d *decoder) more(n int, close byte) (bool, error) {
	c, err := d.peek()
	if err != nil {
		return false, err
	}
	if c == close {
		d.i++
		return true, nil
	}
	if n > 0 {
		if c != ',' {
			return false, d.errf("expected ',' or '" + string(close) + "'")
		}
		d.i++
		d.ws()
	}
	if n >= d.maxColl {
		return false, d.errf("collection larger than " + strconv.Itoa(d.maxColl) + " elements")
	}
	return false, nil
}

// expect consumes c after optional whitespace.
func (d *decoder) expect(c byte) error {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != c {
		return d.errf("expected '" + string(c) + "'")
	}
	d.i++
	return nil
}

// scanString scans the string at d.i and returns its decoded bytes: a
// subslice of the payload, or of *scratch when it has escapes (valid until
// scratch is reused).
func (d *decoder) scanString(scratch *[]byte) ([]byte, error) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, d.errf("expected string")
	}
	end, esc, serr := pyjson.ScanString(d.b, d.i)
	if serr != nil {
		return nil, scanErr(serr)
	}
	if end-d.i-2 > d.maxStr {
		return nil, d.errf("string longer than " + strconv.Itoa(d.maxStr) + " bytes")
	}
	raw := d.b[d.i+1 : end-1]
	d.i = end
	if esc {
		*scratch = pyjson.Unescape((*scratch)[:0], raw)
		return *scratch, nil
	}
	return raw, nil
}

// key reads an object key and the ':' after it.
func (d *decoder) key() ([]byte, error) {
	k, err := d.scanString(&d.keyBuf)
	if err != nil {
		return nil, err
	}
	if err := d.expect(':'); err != nil {
		return nil, err
	}
	return k, nil
}

// stringValue reads a JSON string value (after whitespace).
func (d *decoder) stringValue() (string, error) {
	d.ws()
	b, err := d.scanString(&d.str)
	if err != nil {
		return "", err
	}
	return d.makeString(b), nil
}

// number scans a number or one of NaN, Infinity, -Infinity at d.i; isInt
// reports an integer literal (no fraction, no exponent).
func (d *decoder) number() (raw []byte, isInt bool, err error) {
	start := d.i
	for _, lit := range [...]string{"NaN", "Infinity", "-Infinity"} {
		if pyjson.HasPrefixAt(d.b, d.i, lit) {
			d.i += len(lit)
			return d.b[start:d.i], false, nil
		}
	}
	if d.i >= len(d.b) || (d.b[d.i] != '-' && (d.b[d.i] < '0' || d.b[d.i] > '9')) {
		return nil, false, d.errf("expected number")
	}
	end, isInt, serr := pyjson.ScanNumber(d.b, d.i)
	if serr != nil {
		return nil, false, scanErr(serr)
	}
	if end-start > 4096 {
		return nil, false, d.errf("number longer than 4096 bytes")
	}
	d.i = end
	return d.b[start:end], isInt, nil
}

// parseInt parses an integer literal; ok is false on overflow.
func parseInt(raw []byte) (n int64, ok bool) {
	neg := raw[0] == '-'
	if neg {
		raw = raw[1:]
	}
	var u uint64
	for _, c := range raw {
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// parseUint parses a non-negative integer literal; ok is false on overflow.
func parseUint(raw []byte) (uint64, bool) {
	var u uint64
	for _, c := range raw {
		if u > math.MaxUint64/10 {
			return 0, false
		}
		d := uint64(c - '0')
		if u*10 > math.MaxUint64-d {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

// parseFloat parses any number literal. Out-of-range values become ±Inf or
// 0, as in Python.
func parseFloat(raw []byte) float64 {
	switch string(raw) {
	case "NaN":
		return math.NaN()
	case "Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	f, _ := strconv.ParseFloat(string(raw), 64) // the grammar was checked; only ErrRange is possible
	return f
}

// skip skips one JSON value, validating it.
func (d *decoder) skip() error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	switch c {
	case '{', '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		if err := d.enter(); err != nil {
			return err
		}
		for n := 0; ; n++ {
			done, err := d.more(n, close)
			if err != nil {
				return err
			}
			if done {
				break
			}
			if c == '{' {
				if _, err := d.key(); err != nil {
					return err
				}
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
		d.leave()
		return nil
	case '"':
		end, _, serr := pyjson.ScanString(d.b, d.i)
		if serr != nil {
			return scanErr(serr)
		}
		if end-d.i-2 > d.maxStr {
			return d.errf("string longer than " + strconv.Itoa(d.maxStr) + " bytes")
		}
		d.i = end
		return nil
	}
	_, err = d.scalar()
	return err
}

// scalar decodes true, false, null or a number (generic form).
func (d *decoder) scalar() (any, error) {
	switch {
	case pyjson.HasPrefixAt(d.b, d.i, "true"):
		d.i += 4
		return true, nil
	case pyjson.HasPrefixAt(d.b, d.i, "false"):
		d.i += 5
		return false, nil
	case pyjson.HasPrefixAt(d.b, d.i, "null"):
		d.i += 4
		return nil, nil
	}
	raw, isInt, err := d.number()
	if err != nil {
		return nil, d.errf("invalid JSON value")
	}
	if isInt {
		if n, ok := parseInt(raw); ok {
			return n, nil
		}
	}
	return parseFloat(raw), nil
}
