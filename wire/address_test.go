package wire

import (
	"errors"
	"slices"
	"testing"
)

func TestParseAddress(t *testing.T) {
	ok := []struct {
		uri  string
		want Address
		back string // String() when it differs from uri
	}{
		{"casty://live@127.0.0.1:25560/_cluster/_topology", Address{"live", "127.0.0.1", 25560, "/_cluster/_topology"}, ""},
		{"casty://live-client@127.0.0.1:0/_ask/0123abcd", Address{"live-client", "127.0.0.1", 0, "/_ask/0123abcd"}, ""},
		{"casty://live/_region-counter", Address{"live", "", 0, "/_region-counter"}, ""},
		{"casty://s@h:1//x", Address{"s", "h", 1, "//x"}, ""},
		{"casty://s//x", Address{"s", "", 0, "//x"}, ""},
		{"casty://s@h:007/p", Address{"s", "h", 7, "/p"}, "casty://s@h:7/p"},
		{"casty://s@h:65535/p", Address{"s", "h", 65535, "/p"}, ""},
		// Python regex semantics: host is [^:]+ and may hold '/' and '@'.
		{"casty://s@a/b@c:1/p", Address{"s", "a/b@c", 1, "/p"}, ""},
		{"casty://s@h:1/p:q@r", Address{"s", "h", 1, "/p:q@r"}, ""},
		{"casty://s@[x:1/p", Address{"s", "[x", 1, "/p"}, ""},
		{"casty://s@[abc]x:1/p", Address{"s", "[abc]x", 1, "/p"}, ""},
		{"casty://s@[]:1/p", Address{"s", "[]", 1, "/p"}, ""},
		{"casty://s@[abc]:1/p", Address{"s", "[abc]", 1, "/p"}, ""},
		// '$' matches before a final newline.
		{"casty://s@h:1/p\n", Address{"s", "h", 1, "/p"}, "casty://s@h:1/p"},
		{"casty://s/p\n", Address{"s", "", 0, "/p"}, "casty://s/p"},
		// zerohop extension: bracketed IPv6 hosts.
		{"casty://z@[::1]:7000/_region-x", Address{"z", "::1", 7000, "/_region-x"}, ""},
		{"casty://z@[fe80::1%eth0]:1/a/b", Address{"z", "fe80::1%eth0", 1, "/a/b"}, ""},
		{"casty://s p@h h:1/p q", Address{"s p", "h h", 1, "/p q"}, ""},
	}
	for _, tt := range ok {
		got, err := ParseAddress(tt.uri)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", tt.uri, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseAddress(%q): got %+v, want %+v", tt.uri, got, tt.want)
		}
		back := tt.back
		if back == "" {
			back = tt.uri
		}
		if s := got.String(); s != back {
			t.Errorf("ParseAddress(%q).String(): got %q, want %q", tt.uri, s, back)
		}
		if got.IsLocal() != (tt.want.Host == "") {
			t.Errorf("ParseAddress(%q).IsLocal(): got %v", tt.uri, got.IsLocal())
		}
	}
	bad := []string{
		"",
		"casty://",
		"casty:/s/p",
		"CASTY://s/p",
		"http://s@h:1/p",
		"casty:///p",
		"casty://@h:1/p",
		"casty://s",
		"casty://s/",
		"casty://s@h:1/",
		"casty://live-client@127.0.0.1:0/",
		"casty://s@h:1",
		"casty://s@h/p",
		"casty://s@:1/p",
		"casty://s@h:/p",
		"casty://s@h:x/p",
		"casty://s@h:1x/p",
		"casty://s@h:65536/p",
		"casty://s@h:99999999999999999999999/p",
		"casty://s@h:1/p\nq",
		"casty://s@h:1/\n",
		"casty://s@h:1/p\n\n",
		"casty://s@::1:1/p",
		"casty://s@[::1]/p",
		"casty://s@[::1]:/p",
		"casty://s@[::1]:1",
		"casty://s@[::1:1/p",
		"casty://s@[a/b:c]:1/p",
		"casty://s@h:١/p", // Arabic-Indic digit: Python's \d, not ours
	}
	for _, uri := range bad {
		a, err := ParseAddress(uri)
		var ae *AddressError
		if !errors.As(err, &ae) || ae.URI != uri {
			t.Errorf("ParseAddress(%q): got (%+v, %v), want *AddressError", uri, a, err)
		}
	}
}

func TestAddressAppendURI(t *testing.T) {
	tests := []struct {
		a    Address
		want string
	}{
		{Address{"live", "127.0.0.1", 25560, "/_region-counter"}, "casty://live@127.0.0.1:25560/_region-counter"},
		{Address{"live", "127.0.0.1", 25560, "_region-counter"}, "casty://live@127.0.0.1:25560/_region-counter"},
		{Address{"live-client", "127.0.0.1", 0, ""}, "casty://live-client@127.0.0.1:0/"},
		{Address{"live", "", 0, "/a"}, "casty://live/a"},
		{Address{"z", "::1", 1, "/a"}, "casty://z@[::1]:1/a"},
	}
	for _, tt := range tests {
		if got := string(tt.a.AppendURI([]byte("x"))); got != "x"+tt.want {
			t.Errorf("AppendURI(%+v): got %q, want %q", tt.a, got, "x"+tt.want)
		}
		if got := tt.a.String(); got != tt.want {
			t.Errorf("String(%+v): got %q, want %q", tt.a, got, tt.want)
		}
	}
	a := Address{"live", "10.0.0.1", 25560, "/_region-x"}
	if got, want := a.Node(), (NodeAddress{"10.0.0.1", 25560}); got != want {
		t.Errorf("Node: got %v, want %v", got, want)
	}
	if got := NodeURI("live", NodeAddress{"10.0.0.1", 25560}, "/_coord-counter"); got != "casty://live@10.0.0.1:25560/_coord-counter" {
		t.Errorf("NodeURI: got %q", got)
	}
	if got := NodeURI("z", NodeAddress{"::1", 2}, "p"); got != "casty://z@[::1]:2/p" {
		t.Errorf("NodeURI v6: got %q", got)
	}
}

func TestNodeAddress(t *testing.T) {
	for _, tt := range []struct {
		n    NodeAddress
		want string
	}{
		{NodeAddress{"127.0.0.1", 25560}, "127.0.0.1:25560"},
		{NodeAddress{"::1", 7000}, "[::1]:7000"},
		{NodeAddress{}, ":0"},
	} {
		if got := tt.n.String(); got != tt.want {
			t.Errorf("String(%#v): got %q, want %q", tt.n, got, tt.want)
		}
		if tt.n.Host == "" {
			continue
		}
		back, err := ParseNodeAddress(tt.want)
		if err != nil || back != tt.n {
			t.Errorf("ParseNodeAddress(%q): got (%v, %v), want %v", tt.want, back, err, tt.n)
		}
	}
	if !(NodeAddress{}).IsZero() || (NodeAddress{Port: 1}).IsZero() || (NodeAddress{Host: "h"}).IsZero() {
		t.Error("IsZero wrong")
	}
	for _, s := range []string{"", "h", ":1", "h:", "h:x", "h:65536", "h:123456", "::1:1", "[::1]", "[::1]1", "[h]:1", "[]:1", "h:-1", "h:+1", "[a/:b]:1", "a b:1", "a/b:1", "a@b:1", "a\tb:1"} {
		var ae *AddressError
		if _, err := ParseNodeAddress(s); !errors.As(err, &ae) {
			t.Errorf("ParseNodeAddress(%q): got %v, want *AddressError", s, err)
		}
	}
}

func TestNodeAddressLess(t *testing.T) {
	// Python: sorted([...]) of (host, port) tuples.
	in := []NodeAddress{
		{"127.0.0.1", 25560}, {"10.0.0.1", 1}, {"192.168.1.5", 0}, {"127.0.0.1", 0},
		{"127.0.0.1", 9}, {"a", 1}, {"B", 1}, {"é", 1}, {"z", 1},
	}
	want := []NodeAddress{
		{"10.0.0.1", 1}, {"127.0.0.1", 0}, {"127.0.0.1", 9}, {"127.0.0.1", 25560},
		{"192.168.1.5", 0}, {"B", 1}, {"a", 1}, {"z", 1}, {"é", 1},
	}
	got := slices.Clone(in)
	slices.SortFunc(got, NodeAddress.Compare)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The client identity sorts below any node on the same host (PROTOCOL.md 2.3).
	if !(NodeAddress{"127.0.0.1", 0}).Less(NodeAddress{"127.0.0.1", 25560}) {
		t.Error("client identity must sort first")
	}
	// String comparison, not numeric: "192.168.1.5" > "10.0.0.1".
	if (NodeAddress{"192.168.1.5", 0}).Less(NodeAddress{"10.0.0.1", 25560}) {
		t.Error("host must compare as a string")
	}
}

func TestRefIsZero(t *testing.T) {
	if !(Ref{}).IsZero() {
		t.Error("zero Ref: IsZero false")
	}
	if (Ref{Address{Path: "/x"}}).IsZero() {
		t.Error("non-zero Ref: IsZero true")
	}
}
