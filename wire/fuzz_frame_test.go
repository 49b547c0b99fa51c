package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

// addWireGoldenSeeds adds the captured frames (whole frames if whole, else
// bodies) to a fuzz corpus.
func addWireGoldenSeeds(f *testing.F, add func(raw []byte)) {
	f.Helper()
	data, err := os.ReadFile("testdata/frames_wire.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		i := bytes.Index(line, []byte(`"raw_hex": "`))
		if i < 0 {
			continue
		}
		rest := line[i+len(`"raw_hex": "`):]
		rest = rest[:bytes.IndexByte(rest, '"')]
		raw := make([]byte, len(rest)/2)
		for k := range raw {
			raw[k] = unhex(rest[2*k])<<4 | unhex(rest[2*k+1])
		}
		add(raw)
	}
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func FuzzParseFrame(f *testing.F) {
	addWireGoldenSeeds(f, func(raw []byte) { f.Add(raw, 0) })
	f.Add([]byte{0, 0, 0, 0, 1}, 0)
	f.Add([]byte{0, 0, 0, 3, 1, 'a', 'b', 0, 0, 0, 1, 0}, 3)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1}, -1)
	f.Fuzz(func(t *testing.T, data []byte, maxFrame int) {
		typ, body, n, err := ParseFrame(data, maxFrame)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || n != 0 || body != nil {
				t.Fatalf("got (%v, n %d), want *FrameError and n 0", err, n)
			}
			return
		}
		length := 0
		if len(data) >= 4 {
			length = int(binary.BigEndian.Uint32(data))
		}
		if n == 0 {
			if len(data) >= 4 && len(data) >= 4+length {
				t.Fatalf("need-more with a whole frame of length %d in %d bytes", length, len(data))
			}
			return
		}
		if n != 4+length || n > len(data) || typ != data[4] || !bytes.Equal(body, data[5:n]) {
			t.Fatalf("got (typ %d, body %d bytes, n %d) for length %d", typ, len(body), n, length)
		}
		out, start := BeginFrame(nil, typ)
		out = append(out, body...)
		out, err = EndFrame(out, start, maxFrame)
		if err != nil || !bytes.Equal(out, data[:n]) {
			t.Fatalf("re-encode: got (%x, %v), want %x", out, err, data[:n])
		}
	})
}

// FuzzFrameReader reads arbitrary streams in arbitrary chunks and checks
// the frames against ParseFrame; with a budget (limit > 0) the growing
// buffer comes from it (the budget holds exactly the reader's larger
// buffer, never more than the limit) and everything goes back by Release.
func FuzzFrameReader(f *testing.F) {
	// A short stream of captured frames: seeds of many kilobytes read one byte
	// per Read make the instrumented fuzz worker crawl.
	var stream []byte
	addWireGoldenSeeds(f, func(raw []byte) {
		if len(stream) < 1024 {
			stream = append(stream, raw...)
		}
	})
	f.Add(stream, uint16(1), 0, uint32(0))
	f.Add(stream, uint16(100), 300, uint32(0))
	f.Add([]byte{0, 0, 0, 2, 1, 'x', 0, 0}, uint16(3), 0, uint32(0))
	// Frames larger than the normal buffer (4 KiB): the buffer grows, then
	// goes back; and one whose growth the budget refuses.
	large := append(frameBytes(FrameMessage, string(bytes.Repeat([]byte("L"), 9000))), frameBytes(FrameMessage, "s")...)
	large = append(large, frameBytes(FrameMessage, string(bytes.Repeat([]byte("M"), 5000)))...)
	f.Add(large, uint16(511), 0, uint32(1<<20))
	f.Add(large, uint16(200), 0, uint32(8<<10))
	f.Add(large[:6000], uint16(511), 0, uint32(1<<20))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16, maxFrame int, limit uint32) {
		if maxFrame > 1<<20 || maxFrame <= 0 {
			maxFrame = 1 << 20 // keep buffers small under the fuzzer
		}
		fr := NewFrameReader(&chunkReader{data: data, chunk: int(chunk%512) + 1}, maxFrame)
		var b *testBudget
		if limit > 0 {
			b = &testBudget{limit: int(limit % (4 << 20))}
			fr.SetBudget(b)
		}
		defer func() {
			fr.Release()
			if b != nil && b.used != 0 {
				t.Fatalf("after Release: %d bytes charged", b.used)
			}
		}()
		rest := data
		for {
			typ, body, err := fr.Next()
			if b != nil {
				large := 0
				if fr.large {
					large = len(fr.buf)
				}
				if b.used != large || b.used > b.limit || len(b.out) > 1 {
					t.Fatalf("budget holds %d bytes in %d buffers, the reader %d, limit %d", b.used, len(b.out), large, b.limit)
				}
			}
			// A declared length allocates nothing: the buffer never
			// exceeds twice the bytes received.
			if len(fr.buf) > max(fr.size, 2*len(data)) || len(fr.buf) > max(maxFrame+4, frameReaderInitialSize) {
				t.Fatalf("buffer grew to %d for %d bytes received, max frame %d", len(fr.buf), len(data), maxFrame)
			}
			if errors.Is(err, ErrFrameBudget) {
				if b == nil {
					t.Fatal("ErrFrameBudget without a budget")
				}
				return
			}
			wtyp, wbody, n, werr := ParseFrame(rest, maxFrame)
			if werr != nil {
				if err == nil || err.Error() != werr.Error() {
					t.Fatalf("got %v, want %v", err, werr)
				}
				return
			}
			if n == 0 {
				want := error(io.ErrUnexpectedEOF)
				if len(rest) == 0 {
					want = io.EOF
				}
				if !errors.Is(err, want) {
					t.Fatalf("at end with %d bytes left: got %v, want %v", len(rest), err, want)
				}
				return
			}
			if err != nil || typ != wtyp || !bytes.Equal(body, wbody) {
				t.Fatalf("got (typ %d, %d bytes, %v), want (%d, %d bytes)", typ, len(body), err, wtyp, len(wbody))
			}
			rest = rest[n:]
		}
	})
}

func FuzzParseHandshake(f *testing.F) {
	addWireGoldenSeeds(f, func(raw []byte) {
		if raw[4] == FrameHandshake {
			f.Add(raw[5:])
		}
	})
	f.Add(AppendHandshake(nil, Handshake{Host: "::1", Port: 7, Zerohop: &Extension{System: "live", Version: 1, Codecs: []string{"json"}, Codec: "json", ShardHash: "md5", Role: RoleNode}}))
	f.Add([]byte(`{"h\u006fst": "\u00e9", "port": 1, "x": [NaN, -Infinity, {"a": null}]}`))
	f.Add([]byte(`{"host": "a", "port": 1, "zerohop": {"codecs": ["json", "zhbin"], "binary": {"t": "1:ab", "u\u00e9": "4095:x"}}}`))
	f.Add(AppendHandshake(nil, Handshake{Host: "::1", Port: 7, Zerohop: &Extension{System: "live", Version: 1, Role: RoleNode,
		Entities: []EntityShards{{"counter", 32, "xxh64"}, {"other", 4, ""}}}}))
	f.Add([]byte(`{"host": "a", "port": 1, "zerohop": {"entity_hashes": {"c": "md5", "\u0063": "xxh64", "x": "xxh64"}, "entities": {"c": 1, "c": 2}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := ParseHandshake(body)
		if err != nil {
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("got %T %v, want *HandshakeError", err, err)
			}
			return
		}
		if h.Host == "" || h.Port < 0 || h.Port > 65535 || strings.ContainsAny(h.Host, "/@[] \n") {
			t.Fatalf("accepted invalid identity %+v", h)
		}
		enc := AppendHandshake(nil, h)
		back, err := ParseHandshake(enc)
		if err != nil || !reflect.DeepEqual(back, h) {
			t.Fatalf("round trip of %s: got (%+v, %v), want %+v", enc, back, err, h)
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	addWireGoldenSeeds(f, func(raw []byte) {
		if raw[4] == FrameMessage {
			f.Add(raw[5:])
		}
	})
	f.Add(envBody(`{"target": "casty:\/\/s@h:1\/p\u00e9", "x": {"y": [1, 2.5e3, NaN]}}`, "p"))
	f.Add(envBody(`{"target": "casty://z@[::1]:1/a"}`, ""))
	f.Fuzz(func(t *testing.T, body []byte) {
		h, payload, err := ParseMessage(body)
		path, ppayload, perr := ParseTargetPath(body)
		if err != nil {
			var ee *EnvelopeError
			if !errors.As(err, &ee) {
				t.Fatalf("got %T %v, want *EnvelopeError", err, err)
			}
			if perr == nil || perr.Error() != err.Error() {
				t.Fatalf("ParseTargetPath: got %v, want %v", perr, err)
			}
			return
		}
		addr, aerr := ParseAddress(h.Target)
		if aerr != nil {
			var ae *AddressError
			if !errors.As(perr, &ae) {
				t.Fatalf("ParseTargetPath(%q): got %v, want *AddressError", h.Target, perr)
			}
		} else if perr != nil || string(path) != addr.Path || !bytes.Equal(ppayload, payload) {
			t.Fatalf("ParseTargetPath: got (%q, %q, %v), want (%q, %q)", path, ppayload, perr, addr.Path, payload)
		}
		enc := append(AppendHeader(nil, h), payload...)
		h2, p2, err := ParseMessage(enc)
		if err != nil || h2 != h || !bytes.Equal(p2, payload) {
			t.Fatalf("round trip: got (%+v, %v), want %+v", h2, err, h)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"casty://live@127.0.0.1:25560/_cluster/_topology",
		"casty://live-client@127.0.0.1:0/_ask/0123abcd",
		"casty://live/_region-counter",
		"casty://z@[::1]:7000/_region-x",
		"casty://s@a/b@c:1/p\n",
		"casty://s@[x:1/p",
		"127.0.0.1:25560",
		"[::1]:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		a, err := ParseAddress(uri)
		if err == nil {
			if !strings.HasPrefix(a.Path, "/") || len(a.Path) < 2 || a.System == "" {
				t.Fatalf("ParseAddress(%q) = %+v: invalid fields", uri, a)
			}
			s := a.String()
			b, err := ParseAddress(s)
			if err != nil || b != a {
				t.Fatalf("round trip %q -> %q: got (%+v, %v), want %+v", uri, s, b, err, a)
			}
			p, perr := parseURI([]byte(uri))
			if perr != nil || uri[p.pathStart:p.pathEnd] != a.Path {
				t.Fatalf("parseURI([]byte) disagrees on %q", uri)
			}
			// The header written from the Address is the one written
			// from its string.
			if got, want := AppendHeaderTo(nil, a, "s", "t"), AppendHeader(nil, Header{Target: s, Sender: "s", TypeHint: "t"}); !bytes.Equal(got, want) {
				t.Fatalf("header to %q: got %q, want %q", s, got, want)
			}
		} else if _, ok := err.(*AddressError); !ok {
			t.Fatalf("got %T, want *AddressError", err)
		}
		n, err := ParseNodeAddress(uri)
		if err == nil {
			back, err := ParseNodeAddress(n.String())
			if err != nil || back != n || n.Host == "" {
				t.Fatalf("node round trip %q -> %q: got (%v, %v), want %v", uri, n.String(), back, err, n)
			}
			// Any address that parses is an identity a handshake carries.
			hs, err := ParseHandshake(AppendHandshake(nil, Handshake{Host: n.Host, Port: n.Port}))
			if err != nil || hs.Node() != n {
				t.Fatalf("handshake of %v: got (%v, %v)", n, hs.Node(), err)
			}
		} else if _, ok := err.(*AddressError); !ok {
			t.Fatalf("got %T, want *AddressError", err)
		}
	})
}
