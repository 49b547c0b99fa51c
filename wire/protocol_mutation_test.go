package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Tests added for gremlins' survivors in the protocol files (TESTING.md,
// "Broad mutation score"): each pins a behaviour that a surviving mutant
// changed without any test noticing.

// TestParseAddressReasons: every way an actor URI can be wrong has its own
// AddressError.Reason, so that a log line says what was wrong with it.
func TestParseAddressReasons(t *testing.T) {
	const (
		scheme   = "missing casty:// scheme"
		system   = "missing system name"
		form     = "neither casty://system@host:port/path nor casty://system/path"
		path     = "empty or multi-line path"
		port     = "port out of range 0..65535"
		brackets = "bad [ipv6] host"
	)
	tests := []struct {
		uri, reason string
	}{
		{"", scheme},
		{"casty:/", scheme},
		{"casty:/s/p", scheme},
		{"casty://", system}, // the scheme alone: what is missing is the system
		{"casty:///p", system},
		{"casty://@h:1/p", system},
		{"casty://s", form},
		{"casty://s@", form},
		{"casty://s@h:1", form},
		{"casty://s@h/p", form},
		{"casty://s@:1/p", form},
		{"casty://s@h:/p", form},
		{"casty://s@h:1x/p", form},
		{"casty://s@[::1]:/p", form},
		{"casty://s@[::1]:1", form},
		{"casty://s/", path},
		{"casty://s@h:1/", path},
		{"casty://s@h:1/p\nq", path},
		{"casty://s@h:1/\n", path},
		{"casty://s@h:1/p\n\n", path},
		{"casty://s/\n", path},
		{"casty://s/p\nq", path},
		{"casty://s@h:65536/p", port},
		{"casty://s@h:655350/p", port}, // 65535 then one more digit
		{"casty://s@h:99999999999999999999999/p", port},
		{"casty://s@[::1]:99999/p", port},
		{"casty://s@[", brackets},
		{"casty://s@[::1]", brackets},
		{"casty://s@[::1]/p", brackets},
		{"casty://s@[::1]x1/p", brackets},
		{"casty://s@[::1:1/p", brackets},
		{"casty://s@[a/b:c]:1/p", brackets},
		{"casty://s@[a@b:c]:1/p", brackets},
		{"casty://s@[a[b:c]:1/p", brackets},
		{"casty://s@[a\nb:c]:1/p", brackets},
		{"casty://s@[ab]:x/p", brackets}, // no ':' inside the brackets
	}
	for _, tt := range tests {
		a, err := ParseAddress(tt.uri)
		var ae *AddressError
		if !errors.As(err, &ae) {
			t.Errorf("ParseAddress(%q) = %+v, %v; want *AddressError %q", tt.uri, a, err, tt.reason)
			continue
		}
		if ae.Reason != tt.reason {
			t.Errorf("ParseAddress(%q): got reason %q, want %q", tt.uri, ae.Reason, tt.reason)
		}
	}
}

// TestParseAddressAcceptedEdges: what PROTOCOL.md section 4's regular
// expressions accept at the edges of each part. The system is [^@/]+, which
// in Python takes a newline too; only the path is (.+), newline-free.
func TestParseAddressAcceptedEdges(t *testing.T) {
	for _, tt := range []struct {
		uri  string
		want Address
	}{
		{"casty://s\n/p", Address{System: "s\n", Path: "/p"}},
		{"casty://s\n@h:1/p", Address{System: "s\n", Host: "h", Port: 1, Path: "/p"}},
		{"casty://s@h:0/p", Address{System: "s", Host: "h", Port: 0, Path: "/p"}},
		{"casty://s@h:65535/pq\n", Address{System: "s", Host: "h", Port: 65535, Path: "/pq"}},
		{"casty://s/x", Address{System: "s", Path: "/x"}},
	} {
		if got, err := ParseAddress(tt.uri); err != nil || got != tt.want {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v, nil", tt.uri, got, err, tt.want)
		}
	}
}

// TestParseNodeAddressReasons does the same for "host:port".
func TestParseNodeAddressReasons(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"", "want host:port"},
		{"h", "want host:port"},
		{"h:", "want host:port"},
		{"h:x", "want host:port"},
		{"h:-1", "want host:port"},
		{"h:123456", "want host:port"},
		{"[::1]:", "want host:port"},
		{"h:65536", "port out of range 0..65535"},
		{"[::1]:99999", "port out of range 0..65535"},
		{":1", "empty host"},
		{"::1:1", "empty host"},
		{"[::1]", "want [host]:port"},
		{"[::1]1", "want [host]:port"},
		{"[h]:1", "bad [ipv6] host"},
		{"[]:1", "bad [ipv6] host"},
		{"[a/:b]:1", "bad [ipv6] host"},
		{"[a@:b]:1", "bad [ipv6] host"},
		{"[a[:b]:1", "bad [ipv6] host"},
		{"a b:1", "host contains a control or space character"},
		{"a\x7fb:1", "host contains a control or space character"},
		{"a\x1fb:1", "host contains a control or space character"},
		{"\xff:1", "host is not valid UTF-8"},
	}
	for _, tt := range tests {
		n, err := ParseNodeAddress(tt.in)
		var ae *AddressError
		if !errors.As(err, &ae) {
			t.Errorf("ParseNodeAddress(%q) = %v, %v; want *AddressError %q", tt.in, n, err, tt.reason)
			continue
		}
		if ae.Reason != tt.reason {
			t.Errorf("ParseNodeAddress(%q): got reason %q, want %q", tt.in, ae.Reason, tt.reason)
		}
	}
	// The edges that are accepted.
	for _, tt := range []struct {
		in   string
		want NodeAddress
	}{
		{"h:65535", NodeAddress{"h", 65535}},
		{"h:0", NodeAddress{"h", 0}},
		{"a!b:00001", NodeAddress{"a!b", 1}},
		{"[::1]:65535", NodeAddress{"::1", 65535}},
	} {
		if got, err := ParseNodeAddress(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseNodeAddress(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

// TestParseMessageErrors: each problem of a message frame body is reported
// with its reason and the offset where it was found.
func TestParseMessageErrors(t *testing.T) {
	tests := []struct {
		body []byte
		want string
	}{
		{nil, "wire: bad message envelope: body shorter than header_len at offset 0"},
		{[]byte{0, 0, 0}, "wire: bad message envelope: body shorter than header_len at offset 0"},
		// header_len 0 fits the 4-byte body: it is the empty header that
		// is wrong.
		{[]byte{0, 0, 0, 0}, "wire: bad message envelope: header: expected JSON object at offset 4"},
		{[]byte{0xff, 0xff, 0xff, 0xff}, "wire: bad message envelope: header_len 4294967295 overflows body of 4 bytes at offset 0"},
		{[]byte{0, 0, 0, 5, '{', '}'}, "wire: bad message envelope: header_len 5 overflows body of 6 bytes at offset 0"},
		{envBody(`{}`, ``), "wire: bad message envelope: header has no target at offset 4"},
		{envBody(`{"target": "a"} x`, ``), "wire: bad message envelope: header: extra data after JSON object at offset 20"},
		{envBody(`{"target": 1}`, ``), "wire: bad message envelope: header: target is not a string at offset 15"},
		// The header ends after the colon: no value at all.
		{envBody(`{"target":`, `{"x": 1}`), "wire: bad message envelope: header: target is not a string at offset 14"},
		{envBody(`{"sender": `, ``), "wire: bad message envelope: header: sender is not a string at offset 15"},
		{envBody("{\"target\": \"\xc3\"}", ``), "wire: bad message envelope: header is not valid UTF-8 at offset 4"},
	}
	for _, tt := range tests {
		_, _, err := ParseMessage(tt.body)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseMessage(%q): got %v, want %s", tt.body, err, tt.want)
		}
	}
}

// TestParseHandshakeErrors: the reason and offset of each handshake error.
func TestParseHandshakeErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{``, "wire: bad handshake: expected JSON object at offset 0"},
		{`{`, "wire: bad handshake: unexpected end of JSON at offset 1"},
		{`{"host": "a"}`, "wire: bad handshake: missing port"},
		{`{"port": 1}`, "wire: bad handshake: missing host"},
		{"{\"host\": \"\xff\", \"port\": 1}", "wire: bad handshake: not valid UTF-8"},
		{`{"host": "a", "port": 1}x`, "wire: bad handshake: extra data after JSON object at offset 24"},
		{`{"host": "a", "port": 65536}`, "wire: bad handshake: port 65536 out of range 0..65535 at offset 22"},
		{`{"host": "a", "port": "1"}`, "wire: bad handshake: port is not an integer at offset 22"},
		{`{"host": "a", "port": true}`, "wire: bad handshake: port is not an integer at offset 22"},
		{`{"host": "a", "port": 1.0}`, "wire: bad handshake: port is not an integer at offset 22"},
		{`{"host": 1, "port": 1}`, "wire: bad handshake: host is not a string at offset 9"},
		{`{"host": "a", "port": 1, "zerohop": {"codecs": ["a" "b"]}}`, "wire: bad handshake: expected ',' or ']' at offset 52"},
		{`{"host": "a", "port": 1, "zerohop": {"codecs": ["a"`, "wire: bad handshake: unexpected end of JSON at offset 51"},
		{`{"host": "a", "port": 1, "zerohop": {"version": 1.5}}`, "wire: bad handshake: zerohop.version is not an integer at offset 48"},
		{`{"host": "a", "port": 1, "zerohop": {"codecs": "json"}}`, "wire: bad handshake: zerohop.codecs is not an array at offset 47"},
		// The body ends where a value should start.
		{`{"host":`, "wire: bad handshake: host is not a string at offset 8"},
		{`{"host": "a", "port":`, "wire: bad handshake: port is not an integer at offset 21"},
		{`{"host": "a", "port": 1, "zerohop": {"codecs":`, "wire: bad handshake: zerohop.codecs is not an array at offset 46"},
		{`{"host": "a", "port": 1, "zerohop": {"codecs": [`, "wire: bad handshake: zerohop.codecs entry is not a string at offset 48"},
		{`{"host": "a", "port": 1, "zerohop": {"codecs": ["a",`, "wire: bad handshake: zerohop.codecs entry is not a string at offset 52"},
	}
	for _, tt := range tests {
		_, err := ParseHandshake([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseHandshake(%q): got %v, want %s", tt.in, err, tt.want)
		}
	}
}

// TestParseHandshakeLimits: the documented limits are inclusive: a host of
// 255 bytes, an extension string of 256 and 32 codecs are accepted, one
// more is refused.
func TestParseHandshakeLimits(t *testing.T) {
	codecs := func(n int) string {
		return `["` + strings.Repeat(`c", "`, n-1) + `c"]`
	}
	tests := []struct {
		name, in string
		wantErr  string // "" when accepted
	}{
		{"host 255", `{"host": "` + strings.Repeat("h", 255) + `", "port": 1}`, ""},
		{"host 256", `{"host": "` + strings.Repeat("h", 256) + `", "port": 1}`, "wire: bad handshake: host longer than 255 bytes at offset 9"},
		{"system 256", `{"host": "a", "port": 1, "zerohop": {"system": "` + strings.Repeat("s", 256) + `"}}`, ""},
		{"system 257", `{"host": "a", "port": 1, "zerohop": {"system": "` + strings.Repeat("s", 257) + `"}}`, "wire: bad handshake: zerohop.system longer than 256 bytes at offset 47"},
		{"32 codecs", `{"host": "a", "port": 1, "zerohop": {"codecs": ` + codecs(32) + `}}`, ""},
		{"33 codecs", `{"host": "a", "port": 1, "zerohop": {"codecs": ` + codecs(33) + `}}`, "wire: bad handshake: zerohop.codecs has more than 32 entries at offset 208"},
		{"port 0", `{"host": "a", "port": 0}`, ""},
		{"port 65535", `{"host": "a", "port": 65535}`, ""},
		{"port 9", `{"host": "a", "port": 9}`, ""},
	}
	for _, tt := range tests {
		h, err := ParseHandshake([]byte(tt.in))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: got error %v, want none", tt.name, err)
		case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
			t.Errorf("%s: got %+v, %v; want %s", tt.name, h, err, tt.wantErr)
		}
	}
	h, err := ParseHandshake([]byte(`{"host": "a", "port": 1, "zerohop": {"codecs": ` + codecs(32) + `}}`))
	if err != nil || h.Zerohop == nil || len(h.Zerohop.Codecs) != 32 {
		t.Fatalf("32 codecs: got %+v, %v; want 32 codecs", h.Zerohop, err)
	}
}

// TestAppendHandshakeFrameLength: the length field of a handshake frame is
// its body's length + 1 in all four bytes, also for bodies longer than 255
// and 65535 bytes (an extension with many codecs), so that ParseFrame gives
// back the body.
func TestAppendHandshakeFrameLength(t *testing.T) {
	for _, n := range []int{1, 100, 20000} { // codecs of 4 bytes: bodies of ~100 B, ~800 B, ~160 KiB
		h := Handshake{Host: "h", Port: 1, Zerohop: &Extension{Codecs: make([]string, n)}}
		for i := range h.Zerohop.Codecs {
			h.Zerohop.Codecs[i] = "json"
		}
		frame := AppendHandshakeFrame([]byte("prefix"), h)
		body := AppendHandshake(nil, h)
		typ, got, consumed, err := ParseFrame(frame[len("prefix"):], 1<<30)
		if err != nil || typ != FrameHandshake || consumed != len(frame)-len("prefix") || string(got) != string(body) {
			t.Fatalf("%d codecs (body %d bytes): ParseFrame = (%d, %d bytes, %d, %v), want (0, %d bytes, %d, nil)",
				n, len(body), typ, len(got), consumed, err, len(body), len(body)+FrameHeaderLen)
		}
	}
}

// scriptedReader returns (0, nil) empties times, then reads r.
type scriptedReader struct {
	empties int
	r       io.Reader
}

func (s *scriptedReader) Read(p []byte) (int, error) {
	if s.empties > 0 {
		s.empties--
		return 0, nil
	}
	return s.r.Read(p)
}

// TestFrameReaderEmptyReads: like bufio, a FrameReader gives up with
// io.ErrNoProgress after 100 successive empty reads, and not before.
func TestFrameReaderEmptyReads(t *testing.T) {
	for _, tt := range []struct {
		empties int
		want    error
	}{
		{0, nil},
		{99, nil},
		{100, io.ErrNoProgress},
	} {
		fr := NewFrameReader(&scriptedReader{empties: tt.empties, r: bytes.NewReader(frameBytes(FrameMessage, "x"))}, 0)
		_, body, err := fr.Next()
		if err != tt.want {
			t.Errorf("%d empty reads: got error %v, want %v", tt.empties, err, tt.want)
		}
		if tt.want == nil && string(body) != "x" {
			t.Errorf("%d empty reads: got body %q, want \"x\"", tt.empties, body)
		}
	}
	// The count restarts after each read that returns bytes: 99 empty
	// reads between every byte never fail.
	fr := NewFrameReader(&everyOtherEmpty{r: iotest.OneByteReader(bytes.NewReader(frameBytes(FrameMessage, "xyz"))), n: 99}, 0)
	if _, body, err := fr.Next(); err != nil || string(body) != "xyz" {
		t.Fatalf("99 empty reads between bytes: got %q, %v; want \"xyz\", nil", body, err)
	}
}

// everyOtherEmpty returns n empty reads before each read of r.
type everyOtherEmpty struct {
	r    io.Reader
	n, i int
}

func (e *everyOtherEmpty) Read(p []byte) (int, error) {
	if e.i < e.n {
		e.i++
		return 0, nil
	}
	e.i = 0
	return e.r.Read(p)
}

// roomyBudget hands out buffers larger than asked (as a pool of size classes
// may), and counts the bytes it has out.
type roomyBudget struct {
	extra, used, gets int
}

func (b *roomyBudget) Get(n int) []byte {
	b.gets++
	b.used += n + b.extra
	return make([]byte, n+b.extra)
}

func (b *roomyBudget) Put(buf []byte) { b.used -= len(buf) }

// TestFrameReaderShrinksWhenLeftoverFits: after a large frame read into a
// budget's buffer, the bytes already read beyond it go back to the normal
// buffer (and the large one to the budget) when they fit it: here exactly
// the normal buffer's size, one frame of bufSize bytes.
func TestFrameReaderShrinksWhenLeftoverFits(t *testing.T) {
	const size = 4 << 10
	big := bytes.Repeat([]byte("b"), 20<<10)
	next := bytes.Repeat([]byte("n"), size-FrameHeaderLen) // a frame of exactly size bytes
	stream := append(frameBytes(FrameMessage, string(big)), frameBytes(FrameMessage, string(next))...)
	b := &roomyBudget{extra: 8 << 10}
	fr := NewFrameReaderSize(bytes.NewReader(stream), 0, size)
	fr.SetBudget(b)
	if _, body, err := fr.Next(); err != nil || len(body) != len(big) {
		t.Fatalf("large frame: got %d bytes, %v; want %d bytes", len(body), err, len(big))
	}
	if got := fr.Buffered(); got != size {
		t.Fatalf("after the large frame %d bytes buffered, want %d (the next frame, read with it)", got, size)
	}
	if _, body, err := fr.Next(); err != nil || !bytes.Equal(body, next) {
		t.Fatalf("next frame: got %d bytes, %v; want %d bytes", len(body), err, len(next))
	}
	if b.used != 0 || len(fr.buf) != size {
		t.Fatalf("after the frame that fits: budget has %d bytes out, buffer %d bytes; want 0 and %d", b.used, len(fr.buf), size)
	}
}

// TestNodeAddressLessIsStrict: Less is a strict order (Python's < on
// tuples): an address is not less than itself, and Compare of equal
// addresses is 0.
func TestNodeAddressLessIsStrict(t *testing.T) {
	for _, n := range []NodeAddress{{}, {"127.0.0.1", 25560}, {"::1", 0}} {
		if n.Less(n) {
			t.Errorf("%v.Less(itself) = true, want false", n)
		}
		if c := n.Compare(n); c != 0 {
			t.Errorf("%v.Compare(itself) = %d, want 0", n, c)
		}
	}
}

// segmentReader reads its segments one after the other, never more than
// one segment per Read.
type segmentReader struct{ segs [][]byte }

func (r *segmentReader) Read(p []byte) (int, error) {
	for len(r.segs) > 0 && len(r.segs[0]) == 0 {
		r.segs = r.segs[1:]
	}
	if len(r.segs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.segs[0])
	r.segs[0] = r.segs[0][n:]
	return n, nil
}

// TestFrameReaderKeepsBufferForNextLargeFrame: when the bytes read beyond a
// large frame begin another frame too large for the normal buffer (here
// just its 4-byte length field), the reader keeps the large buffer for it
// instead of giving it back to the budget and asking again.
func TestFrameReaderKeepsBufferForNextLargeFrame(t *testing.T) {
	const size = 4 << 10
	a := frameBytes(FrameMessage, string(bytes.Repeat([]byte("a"), 20<<10)))
	b := frameBytes(FrameMessage, string(bytes.Repeat([]byte("b"), 20<<10)))
	for _, split := range []int{4, 100} { // bytes of b that arrive with a
		budget := &roomyBudget{extra: 64 << 10}
		r := &segmentReader{segs: [][]byte{append(append([]byte(nil), a...), b[:split]...), b[split:]}}
		fr := NewFrameReaderSize(r, 0, size)
		fr.SetBudget(budget)
		for i, want := range [][]byte{a, b} {
			if _, body, err := fr.Next(); err != nil || !bytes.Equal(body, want[FrameHeaderLen:]) {
				t.Fatalf("split %d, frame %d: got %d bytes, %v; want %d bytes", split, i, len(body), err, len(want)-FrameHeaderLen)
			}
		}
		if budget.gets != 1 {
			t.Errorf("split %d: the budget was asked %d times, want 1 (the second frame reuses the first one's buffer)", split, budget.gets)
		}
	}
}

// badCountReader gives good bytes first, then returns count(len(p)).
type badCountReader struct {
	good  []byte
	count func(n int) int
}

func (r *badCountReader) Read(p []byte) (int, error) {
	if len(r.good) > 0 {
		n := copy(p, r.good)
		r.good = r.good[n:]
		return n, nil
	}
	return r.count(len(p)), nil
}

// TestFrameReaderInvalidCount: an io.Reader that reports a count outside
// [0, len(p)] fails the reader (as bufio panics), at the first read or
// after some bytes, instead of corrupting its buffer.
func TestFrameReaderInvalidCount(t *testing.T) {
	const want = "wire: reader returned an invalid count"
	for _, tt := range []struct {
		name  string
		good  int // bytes of a valid frame delivered first
		count func(int) int
	}{
		{"negative", 0, func(int) int { return -1 }},
		{"one too many", 0, func(n int) int { return n + 1 }},
		{"one too many after 2 bytes", 2, func(n int) int { return n + 1 }},
		{"negative after 2 bytes", 2, func(int) int { return -1 }},
	} {
		frame := frameBytes(FrameMessage, "hello")
		fr := NewFrameReader(&badCountReader{good: frame[:tt.good], count: tt.count}, 0)
		if _, _, err := fr.Next(); err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", tt.name, err, want)
		}
	}
}
