package zhbin

import (
	"strings"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

func TestNegotiatedFallbacks(t *testing.T) {
	c := newCodec(t)
	ours := c.Types()
	offer := func(codecs ...string) *wire.Extension {
		return &wire.Extension{System: "s", Version: 1, Codecs: codecs, ShardHash: "md5", Role: wire.RoleClient, Binary: ours}
	}
	choice := func(codec string, types []wire.BinaryType) *wire.Extension {
		return &wire.Extension{System: "s", Version: 1, Codecs: []string{"json", Name}, Codec: codec, Role: wire.RoleNode, Binary: types}
	}
	other := append([]wire.BinaryType(nil), ours...)
	other[0].Schema = "ffff"
	renumbered := []wire.BinaryType{{Name: ours[0].Name, ID: 7, Schema: ours[0].Schema}, ours[1]}
	for _, tc := range []struct {
		name      string
		x         *wire.Extension
		ours      []wire.BinaryType
		accepting bool
		want      bool
		reason    string
	}{
		{"casty client", nil, ours, true, false, "no zerohop extension"},
		{"casty node", nil, ours, false, false, "no zerohop extension"},
		{"older zerohop client", offer("json"), ours, true, false, "does not offer"},
		{"client offering no codecs", offer(), ours, true, false, "does not offer"},
		{"older zerohop node", choice("json", nil), ours, false, false, "did not choose"},
		{"node choosing nothing", choice("", ours), ours, false, false, "did not choose"},
		{"no types here", offer("json", Name), nil, true, false, "no binary types"},
		{"peer without types", &wire.Extension{Codecs: []string{Name}}, ours, true, false, "binary types here"},
		{"schema mismatch", choice(Name, other), ours, false, false, "at the peer"},
		{"id mismatch", choice(Name, renumbered), ours, false, false, "binary type"},
		{"fewer types", choice(Name, ours[:1]), ours, false, false, "2 binary types here, 1"},
		{"refusal", &wire.Extension{Codec: Name, Binary: ours, Refused: "no"}, ours, false, false, "refused"},
		{"client offers, tables agree", offer("json", Name), ours, true, true, ""},
		{"node chose, tables agree", choice(Name, ours), ours, false, true, ""},
	} {
		got, reason := Negotiated(tc.x, tc.ours, tc.accepting)
		if got != tc.want || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: got %v %q, want %v and a reason containing %q", tc.name, got, reason, tc.want, tc.reason)
		}
	}
}

// TestNegotiationThroughHandshakeBytes runs the negotiation on handshakes
// written and parsed by wire, as the two ends see them.
func TestNegotiationThroughHandshakeBytes(t *testing.T) {
	c := newCodec(t)
	client := wire.Handshake{Host: "127.0.0.1", Port: 0, Zerohop: &wire.Extension{System: "s", Version: 1,
		Codecs: []string{"json", Name}, ShardHash: "md5", Role: wire.RoleClient, Binary: c.Types()}}
	got, err := wire.ParseHandshake(wire.AppendHandshake(nil, client))
	if err != nil {
		t.Fatal(err)
	}
	if ok, reason := Negotiated(got.Zerohop, c.Types(), true); !ok {
		t.Fatalf("node side: got JSON (%s), want %s", reason, Name)
	}
	node := client
	node.Zerohop = &wire.Extension{System: "s", Version: 1, Codecs: []string{"json", Name}, Codec: Name,
		ShardHash: "md5", Role: wire.RoleNode, Binary: c.Types()}
	got, err = wire.ParseHandshake(wire.AppendHandshake(nil, node))
	if err != nil {
		t.Fatal(err)
	}
	if ok, reason := Negotiated(got.Zerohop, c.Types(), false); !ok {
		t.Fatalf("client side: got JSON (%s), want %s", reason, Name)
	}
}

// FuzzNegotiation: any handshake body parses to an error or an extension
// whose negotiation answers without panicking, and agrees with itself.
func FuzzNegotiation(f *testing.F) {
	c := newCodec(f)
	f.Add(string(wire.AppendHandshake(nil, wire.Handshake{Host: "h", Port: 1, Zerohop: &wire.Extension{
		Codecs: []string{"json", Name}, Codec: Name, Binary: c.Types()}})))
	f.Add(`{"host": "h", "port": 1, "zerohop": {"binary": {"a": "1:x", "b": "4095:y"}}}`)
	f.Add(`{"host": "h", "port": 1, "zerohop": {"binary": {"a": "0:x"}}}`)
	f.Add(`{"host": "h", "port": 1, "zerohop": {"binary": {"a": "1:"}}}`)
	f.Add(`{"host": "h", "port": 1, "zerohop": {"binary": []}}`)
	f.Fuzz(func(t *testing.T, body string) {
		h, err := wire.ParseHandshake([]byte(body))
		if err != nil {
			return
		}
		for _, accepting := range []bool{true, false} {
			ok, _ := Negotiated(h.Zerohop, c.Types(), accepting)
			if ok {
				if h.Zerohop == nil {
					t.Fatal("negotiated without an extension")
				}
				if same, _ := Agree(c.Types(), h.Zerohop.Binary); !same {
					t.Fatal("negotiated with tables that do not agree")
				}
			}
		}
		if x := h.Zerohop; x != nil {
			for _, bt := range x.Binary {
				if bt.ID < 1 || bt.ID > MaxTypeID || bt.Schema == "" {
					t.Fatalf("parsed binary type %+v out of bounds", bt)
				}
			}
			// What parsed re-encodes and parses to the same table.
			h2, err := wire.ParseHandshake(wire.AppendHandshake(nil, h))
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if ok, r := Agree(x.Binary, h2.Zerohop.Binary); !ok && len(x.Binary) > 0 {
				t.Fatalf("binary table changed through a re-encode: %s", r)
			}
		}
	})
}
