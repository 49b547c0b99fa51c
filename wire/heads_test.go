package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// messageHead is a message frame's head for target from sender (type
// byte, header_len, header), as a route entry holds it.
func messageHead(target, sender string) []byte {
	return wire.AppendHeader([]byte{wire.FrameMessage}, wire.Header{Target: target, Sender: sender, TypeHint: wire.TypeShardEnvelope})
}

const headTarget = "casty://live@127.0.0.1:25520/_region-counter"

// TestHeadFrames: a definition and a headed frame carry what the message
// frame they stand for carries (the same header, the same payload), byte
// for byte in the layout of the package doc.
func TestHeadFrames(t *testing.T) {
	head := messageHead(headTarget, "casty://live-client@127.0.0.1:9/")
	def := wire.AppendHeadDefinition(nil, 5, head)
	typ, body, n, err := wire.ParseFrame(def, 0)
	if err != nil || n != len(def) || typ != wire.FrameDefineHead {
		t.Fatalf("definition frame: type %#x, %d of %d bytes, %v", typ, n, len(def), err)
	}
	id, h, err := wire.ParseHeadDefinition(body)
	if err != nil || id != 5 || !bytes.Equal(h, head[1:]) {
		t.Fatalf("definition: id %d, head %q, %v; want 5, %q", id, h, err, head[1:])
	}
	if body[0] != 5 {
		t.Fatalf("definition body % x: the id is not its first byte", body[:4])
	}
	payload := []byte{0x02, 6, 'u', 's', 'e', 'r', '-', '0', 1, 2, 3}
	for _, id := range []int{0, 1, 63} {
		frame := append(append([]byte{0, 0, 0, 0}, wire.AppendHeadRef(nil, id)...), payload...)
		binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
		gid, gp, ok := wire.HeadedPayload(frame)
		if !ok || gid != id || !bytes.Equal(gp, payload) {
			t.Fatalf("id %d: HeadedPayload gives %d, % x, %v", id, gid, gp, ok)
		}
		typ, body, _, err := wire.ParseFrame(frame, 0)
		if err != nil || typ != wire.FrameHeaded {
			t.Fatalf("headed frame: type %#x, %v", typ, err)
		}
		if gid, gp, err := wire.ParseHeaded(body); err != nil || gid != id || !bytes.Equal(gp, payload) {
			t.Fatalf("id %d: ParseHeaded gives %d, % x, %v", id, gid, gp, err)
		}
		if len(frame) != 4+1+1+len(payload) {
			t.Fatalf("id %d: headed frame of %d bytes, want %d", id, len(frame), 6+len(payload))
		}
	}
	if _, _, ok := wire.HeadedPayload(append([]byte{0, 0, 0, 2, wire.FrameMessage}, 0)); ok {
		t.Fatal("HeadedPayload took a message frame")
	}
}

// TestHeadFramesRefused: every rule of a definition and a headed frame is
// checked, and its break is a *HeadError.
func TestHeadFramesRefused(t *testing.T) {
	good := messageHead(headTarget, "s")[1:]
	long := messageHead(headTarget+strings.Repeat("x", wire.MaxHeadLen), "s")[1:]
	def := func(id uint64, head []byte) []byte { return append(binary.AppendUvarint(nil, id), head...) }
	for _, tc := range []struct {
		name string
		body []byte
		hdr  bool // a definition (else a headed frame)
	}{
		{"definition: empty", nil, true},
		{"definition: id not a varint", []byte{0x80}, true},
		{"definition: id at MaxHeads", def(wire.MaxHeads, good), true},
		{"definition: huge id", def(1<<40, good), true},
		{"definition: no header_len", def(1, []byte{0, 0}), true},
		{"definition: header_len past the body", def(1, []byte{0, 0, 0, 9, '{', '}'}), true},
		{"definition: header above MaxHeadLen", def(1, long), true},
		{"definition: header not JSON", def(1, []byte{0, 0, 0, 2, 'x', 'y'}), true},
		{"definition: no target", def(1, []byte{0, 0, 0, 2, '{', '}'}), true},
		{"definition: bytes after the header", def(1, append(bytes.Clone(good), 1)), true},
		{"headed: empty", nil, false},
		{"headed: id not a varint", []byte{0xff, 0xff}, false},
		{"headed: id at MaxHeads", binary.AppendUvarint(nil, wire.MaxHeads), false},
	} {
		var err error
		if tc.hdr {
			_, _, err = wire.ParseHeadDefinition(tc.body)
		} else {
			_, _, err = wire.ParseHeaded(tc.body)
		}
		var he *wire.HeadError
		if !errors.As(err, &he) {
			t.Errorf("%s: got %v, want a *HeadError", tc.name, err)
		}
	}
	if _, _, err := wire.ParseHeadDefinition(def(wire.MaxHeads-1, good)); err != nil {
		t.Errorf("the last id refused: %v", err)
	}
}

// TestHandshakeHeads: "heads" round-trips, is absent when zero (an older
// peer's bytes), and a value outside 0..MaxHeads is a HandshakeError.
func TestHandshakeHeads(t *testing.T) {
	x := &wire.Extension{System: "live", Version: 1, Codecs: []string{"json", "zhbin"}, Codec: "zhbin", Role: wire.RoleNode, Heads: 64}
	b := wire.AppendHandshake(nil, wire.Handshake{Host: "127.0.0.1", Port: 1, Zerohop: x})
	if !bytes.Contains(b, []byte(`, "heads": 64}`)) {
		t.Fatalf("handshake %s: no heads", b)
	}
	h, err := wire.ParseHandshake(b)
	if err != nil || h.Zerohop.Heads != 64 {
		t.Fatalf("parsed %+v, %v", h.Zerohop, err)
	}
	x.Heads, x.Window = 0, 4096
	b = wire.AppendHandshake(nil, wire.Handshake{Host: "127.0.0.1", Port: 1, Zerohop: x})
	if bytes.Contains(b, []byte("heads")) || !bytes.Contains(b, []byte(`, "window": 4096}`)) {
		t.Fatalf("heads 0, window 4096 written as %s", b)
	}
	if h, err := wire.ParseHandshake(b); err != nil || h.Zerohop.Window != 4096 || h.Zerohop.Heads != 0 {
		t.Fatalf("parsed %+v, %v", h.Zerohop, err)
	}
	for _, kv := range []string{`"heads": 65`, `"heads": -1`, `"heads": 1.5`, `"heads": "8"`, `"window": -1`, `"window": 1048577`, `"window": "8"`} {
		body := `{"host": "h", "port": 1, "zerohop": {` + kv + `}}`
		var he *wire.HandshakeError
		if _, err := wire.ParseHandshake([]byte(body)); !errors.As(err, &he) {
			t.Errorf("%s: got %v, want a HandshakeError", kv, err)
		}
	}
}

// TestCreditFrames: a credit carries 1..MaxWindow frames and nothing
// else.
func TestCreditFrames(t *testing.T) {
	for _, n := range []int{1, 127, 128, wire.MaxWindow} {
		f := wire.AppendCredit(nil, n)
		typ, body, m, err := wire.ParseFrame(f, 0)
		if err != nil || m != len(f) || typ != wire.FrameCredit {
			t.Fatalf("credit %d: frame type %#x, %v", n, typ, err)
		}
		if got, err := wire.ParseCredit(body); err != nil || got != n {
			t.Fatalf("credit %d read as %d, %v", n, got, err)
		}
	}
	for _, body := range [][]byte{nil, {0}, {0x80}, {1, 0}, binary.AppendUvarint(nil, wire.MaxWindow+1)} {
		var he *wire.HeadError
		if _, err := wire.ParseCredit(body); !errors.As(err, &he) {
			t.Errorf("credit % x: got %v, want a *HeadError", body, err)
		}
	}
}

// FuzzHeadFrames: any body is a definition, a headed frame, a credit or a
// *HeadError, never a panic; what parses re-encodes to the same bytes.
func FuzzHeadFrames(f *testing.F) {
	good := messageHead(headTarget, "casty://c@h:1/")
	f.Add(wire.AppendHeadDefinition(nil, 3, good)[wire.FrameHeaderLen:])
	f.Add(append(wire.AppendHeadRef(nil, 63)[1:], 0x02, 1, 'a'))
	f.Add([]byte{0x80, 0x80, 0x01})
	f.Add(wire.AppendCredit(nil, 1024)[wire.FrameHeaderLen:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		var he *wire.HeadError
		id, head, err := wire.ParseHeadDefinition(body)
		switch {
		case err == nil:
			again := wire.AppendHeadDefinition(nil, id, append([]byte{wire.FrameMessage}, head...))
			if !bytes.Equal(again[wire.FrameHeaderLen:], body) && binary.PutUvarint(make([]byte, 10), uint64(id)) == len(body)-len(head) {
				t.Fatalf("definition re-encodes to % x, read from % x", again, body)
			}
			if _, _, perr := wire.ParseMessage(head); perr != nil {
				t.Fatalf("a definition's head is not a message header: %v", perr)
			}
		case !errors.As(err, &he):
			t.Fatalf("definition: error %T %v", err, err)
		}
		if k, err := wire.ParseCredit(body); err == nil {
			if k < 1 || k > wire.MaxWindow || !bytes.Equal(wire.AppendCredit(nil, k)[wire.FrameHeaderLen:], body) && body[len(body)-1] != 0 {
				t.Fatalf("credit % x read as %d", body, k)
			}
		} else if !errors.As(err, &he) {
			t.Fatalf("credit: error %T %v", err, err)
		}
		id, payload, err := wire.ParseHeaded(body)
		switch {
		case err == nil:
			if id < 0 || id >= wire.MaxHeads || len(payload) > len(body) {
				t.Fatalf("headed: id %d, payload of %d from %d bytes", id, len(payload), len(body))
			}
		case !errors.As(err, &he):
			t.Fatalf("headed: error %T %v", err, err)
		}
	})
}
