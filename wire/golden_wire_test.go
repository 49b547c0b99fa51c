package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"testing"
)

// wireGolden is one captured frame of testdata/frames_wire.jsonl (copied from
// ../shared/casty-v1/capture_json.jsonl: real bytes from a live Casty v1
// cluster and its own ClusterClient).
type wireGolden struct {
	Conn      string `json:"conn"`
	Dir       string `json:"dir"`
	Seq       int    `json:"seq"`
	FrameLen  int    `json:"frame_len"`
	FrameType byte   `json:"frame_type"`
	Kind      string `json:"kind"`
	Handshake *struct {
		Host string `json:"host"`
		Port int    `json:"port"`
	} `json:"handshake"`
	HeaderLen int `json:"header_len"`
	Header    *struct {
		Target   string `json:"target"`
		Sender   string `json:"sender"`
		TypeHint string `json:"type_hint"`
	} `json:"header"`
	PayloadLen int    `json:"payload_len"`
	RawHex     string `json:"raw_hex"`
	raw        []byte
}

func readWireGolden(t *testing.T) []wireGolden {
	t.Helper()
	f, err := os.Open("testdata/frames_wire.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []wireGolden
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var g wireGolden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		if g.raw, err = hex.DecodeString(g.RawHex); err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no golden frames")
	}
	return out
}

func TestGoldenWireFrames(t *testing.T) {
	var handshakes, messages int
	for _, g := range readWireGolden(t) {
		name := g.Conn + "/" + g.Dir + "/" + g.Kind
		typ, body, n, err := ParseFrame(g.raw, 0)
		if err != nil || n != len(g.raw) || typ != g.FrameType || len(body)+1 != g.FrameLen {
			t.Errorf("%s: ParseFrame got (typ %d, %d-byte body, n %d, %v), want (%d, frame_len %d, n %d)",
				name, typ, len(body), n, err, g.FrameType, g.FrameLen, len(g.raw))
			continue
		}
		// Every proper prefix is "need more bytes".
		for i := range len(g.raw) {
			if _, _, n, err := ParseFrame(g.raw[:i], 0); n != 0 || err != nil {
				t.Fatalf("%s: ParseFrame(prefix %d) got (n %d, %v), want (0, nil)", name, i, n, err)
			}
		}
		switch g.Kind {
		case "handshake":
			handshakes++
			h, err := ParseHandshake(body)
			if err != nil {
				t.Errorf("%s: ParseHandshake: %v", name, err)
				continue
			}
			if h.Host != g.Handshake.Host || h.Port != g.Handshake.Port || h.Zerohop != nil {
				t.Errorf("%s: got %+v, want %+v", name, h, *g.Handshake)
			}
			if got := AppendHandshakeFrame(nil, h); !bytes.Equal(got, g.raw) {
				t.Errorf("%s: AppendHandshakeFrame:\n got %x\nwant %x", name, got, g.raw)
			}
		case "message":
			messages++
			h, payload, err := ParseMessage(body)
			if err != nil {
				t.Errorf("%s: ParseMessage: %v", name, err)
				continue
			}
			want := Header{g.Header.Target, g.Header.Sender, g.Header.TypeHint}
			if h != want || len(payload) != g.PayloadLen {
				t.Errorf("%s: got (%+v, %d-byte payload), want (%+v, %d)", name, h, len(payload), want, g.PayloadLen)
			}
			hdrBytes := body[:4+g.HeaderLen]
			if got := AppendHeader(nil, h); !bytes.Equal(got, hdrBytes) {
				t.Errorf("%s: AppendHeader:\n got %q\nwant %q", name, got, hdrBytes)
			}
			// Re-encode the whole frame around the captured payload.
			frame, start := BeginFrame(nil, FrameMessage)
			frame = AppendHeader(frame, h)
			frame = append(frame, payload...)
			if frame, err = EndFrame(frame, start, 0); err != nil || !bytes.Equal(frame, g.raw) {
				t.Errorf("%s: re-encoded frame differs (%v)", name, err)
			}
			addr, err := ParseAddress(h.Target)
			if err != nil || addr.String() != h.Target {
				t.Errorf("%s: ParseAddress(%q) = (%+v, %v), not round-tripping", name, h.Target, addr, err)
				continue
			}
			path, _, err := ParseTargetPath(body)
			if err != nil || string(path) != addr.Path {
				t.Errorf("%s: ParseTargetPath got (%q, %v), want %q", name, path, err, addr.Path)
			}
			if _, err := ParseAddress(h.Sender); err == nil {
				t.Errorf("%s: sender %q parsed; Casty's empty-path sender must not", name, h.Sender)
			}
		default:
			t.Errorf("%s: unknown kind", name)
		}
	}
	if handshakes < 2 || messages < 10 {
		t.Fatalf("got %d handshakes and %d messages, want >= 2 and >= 10", handshakes, messages)
	}
}

// TestGoldenWireStream reads all captured frames back to back through a
// FrameReader, one byte per Read and in one piece.
func TestGoldenWireStream(t *testing.T) {
	gs := readWireGolden(t)
	var stream []byte
	for _, g := range gs {
		stream = append(stream, g.raw...)
	}
	for _, chunk := range []int{1, 7, 4096, len(stream)} {
		fr := NewFrameReader(&chunkReader{data: stream, chunk: chunk}, 0)
		for i, g := range gs {
			typ, body, err := fr.Next()
			if err != nil || typ != g.FrameType || !bytes.Equal(body, g.raw[5:]) {
				t.Fatalf("chunk %d, frame %d: got (typ %d, %d bytes, %v)", chunk, i, typ, len(body), err)
			}
		}
		if _, _, err := fr.Next(); err == nil {
			t.Fatalf("chunk %d: got a frame after the end", chunk)
		}
	}
}

type chunkReader struct {
	data  []byte
	chunk int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.data[:min(c.chunk, len(c.data))])
	c.data = c.data[n:]
	return n, nil
}
