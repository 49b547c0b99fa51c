package zhbin

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// goldenCases are encoded and compared with testdata/golden.txt (one
// "name hex" line each): the frame layout and the handshake announcement
// are fixed bytes, so a change to either is a visible protocol change.
func goldenCases(t *testing.T, c *Codec) map[string][]byte {
	t.Helper()
	const target = "casty://live@127.0.0.1:25520/_region-counter"
	const sender = "casty://live@127.0.0.1:0/"
	out := map[string][]byte{}
	add := func(name string, b []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b
	}
	b, err := c.AppendEnvelopeFrame(nil, target, sender, "entity-7", incr{Amount: 1}, 0)
	add("envelope_frame_incr", b, err)
	b, err = c.AppendEnvelopeFrame(nil, target, sender, "e", sampleAll(), 0)
	add("envelope_frame_all", b, err)
	b, err = c.AppendEnvelopeFrame(nil, target, sender, "e", onlyJSON{Names: []string{"a"}}, 0)
	add("envelope_frame_json_message", b, err)
	b, err = c.AppendMessageFrameTo(nil, wire.Address{System: "live", Host: "127.0.0.1", Port: 0, Path: "/a"}, sender, incr{Amount: -2}, 0)
	add("message_frame_incr", b, err)
	b = wire.AppendHandshakeFrame(nil, wire.Handshake{Host: "127.0.0.1", Port: 0, Zerohop: &wire.Extension{
		System: "live", Version: 1, Codecs: []string{"json", Name}, ShardHash: "md5", Role: wire.RoleClient, Binary: c.Types()}})
	add("handshake_client_offer", b, nil)
	return out
}

func TestGolden(t *testing.T) {
	c := newCodec(t)
	got := goldenCases(t, c)
	if os.Getenv("ZHBIN_UPDATE_GOLDEN") != "" {
		var sb strings.Builder
		for _, name := range []string{"envelope_frame_incr", "envelope_frame_all", "envelope_frame_json_message", "message_frame_incr", "handshake_client_offer"} {
			sb.WriteString(name + " " + hex.EncodeToString(got[name]) + "\n")
		}
		if err := os.WriteFile("testdata/golden.txt", []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("testdata/golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, hx, _ := strings.Cut(line, " ")
		want, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got[name], want) {
			t.Errorf("%s:\n got % x\nwant % x", name, got[name], want)
		}
		seen++
		// The golden frames decode back.
		if strings.Contains(name, "frame") {
			_, body, _, err := wire.ParseFrame(want, 0)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, payload, err := wire.ParseMessage(body); err != nil {
				t.Fatalf("%s: %v", name, err)
			} else if _, err := c.Decode(payload); err != nil {
				t.Errorf("%s: golden payload does not decode: %v", name, err)
			}
		}
	}
	if seen != len(got) {
		t.Errorf("golden file has %d cases, the test %d", seen, len(got))
	}
}
