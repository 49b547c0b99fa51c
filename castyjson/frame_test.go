package castyjson

import (
	"bytes"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// TestAppendMessageFrameTo: the frame to an Address is byte for byte the
// frame to its URI string, whether or not the URI needs JSON escaping.
func TestAppendMessageFrameTo(t *testing.T) {
	r := testRegistry(t)
	for _, a := range []wire.Address{
		{System: "live-client", Host: "127.0.0.1", Port: 0, Path: "/_ask/a18c220c594c49e1"},
		{System: "live", Host: "::1", Port: 7000, Path: "/_region-x"},
		{System: "live", Path: "/local"},
		{System: "live", Host: "h", Port: 1, Path: "/é \"quoted\" \\ \t"},
		{System: "live", Host: "h", Port: 1, Path: "/" + strings.Repeat("abcdefgh", 9) + "\x01"},
	} {
		want, err := r.AppendMessageFrame([]byte("prefix"), a.String(), "casty://s@h:1/", CountReply{EntityID: "e", Value: 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.AppendMessageFrameTo([]byte("prefix"), a, "casty://s@h:1/", CountReply{EntityID: "e", Value: 1}, 0)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: got (%q, %v), want %q", a.String(), got, err, want)
		}
	}
}
