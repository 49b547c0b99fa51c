package castyjson

import (
	"bytes"
	"errors"
	"math/rand/v2"
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

// TestHeadedEnvelopeFrameIsEnvelopeFrame: the engine's hot path (a head
// written once per owner, then AppendHeadedEnvelopeFrame per message)
// writes byte for byte what AppendEnvelopeFrame writes, for random entity
// ids (ASCII, escapes, non-ASCII, invalid UTF-8) and messages, targets and
// senders that need escaping or not, and after a prefix already in dst;
// and both refuse a frame over maxFrame the same way.
func TestHeadedEnvelopeFrameIsEnvelopeFrame(t *testing.T) {
	r := testRegistry(t)
	rng := rand.New(rand.NewPCG(12, 34))
	alphabet := []rune("abcXYZ019-_:/\"\\\t\n\x00\x7féü€😀")
	randString := func(max int) string {
		var b strings.Builder
		for range rng.IntN(max + 1) {
			if rng.IntN(40) == 0 {
				b.WriteByte(0xff) // invalid UTF-8
				continue
			}
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	targets := []string{
		"casty://live@127.0.0.1:25520/_region-counter",
		"casty://live@[::1]:7000/_region-" + randString(20),
		"casty://live@h:1/_region-é \"q\"",
	}
	senders := []string{"casty://live-client@127.0.0.1:0/", "casty://live-client@host-é:1/"}
	for i := range 2000 {
		target, sender := targets[i%len(targets)], senders[i%len(senders)]
		id := randString(24)
		var msg any
		switch rng.IntN(4) {
		case 0:
			msg = Increment{Amount: rng.IntN(1 << 20)}
		case 1:
			msg = CountReply{EntityID: randString(12), Value: -rng.IntN(1000)}
		case 2:
			msg = GetCount{ReplyTo: wire.Ref{Address: wire.Address{System: "live-client", Host: "127.0.0.1", Port: 1, Path: "/_ask/" + randString(8)}}}
		default:
			msg = ResetStats{}
		}
		prefix := []byte(randString(5))
		want, werr := r.AppendEnvelopeFrame(bytes.Clone(prefix), target, sender, id, msg, 0)
		head := r.AppendEnvelopeHead(nil, target, sender)
		got, gerr := r.AppendHeadedEnvelopeFrame(bytes.Clone(prefix), head, id, msg, 0)
		if werr != nil || gerr != nil || !bytes.Equal(got, want) {
			t.Fatalf("#%d id %q msg %#v: got (%q, %v), want (%q, %v)", i, id, msg, got, gerr, want, werr)
		}
		// A limit just below the frame's size: both refuse, dst unchanged.
		limit := len(want) - len(prefix) - 5
		want, werr = r.AppendEnvelopeFrame(bytes.Clone(prefix), target, sender, id, msg, limit)
		got, gerr = r.AppendHeadedEnvelopeFrame(bytes.Clone(prefix), head, id, msg, limit)
		if !errors.Is(werr, wire.ErrFrameTooLarge) || !errors.Is(gerr, wire.ErrFrameTooLarge) || !bytes.Equal(got, prefix) || !bytes.Equal(want, prefix) {
			t.Fatalf("#%d over the limit: got (%q, %v), want (%q, %v)", i, got, gerr, want, werr)
		}
	}
	// An unregistered message fails the same way, dst unchanged.
	head := r.AppendEnvelopeHead(nil, targets[0], senders[0])
	got, err := r.AppendHeadedEnvelopeFrame([]byte("p"), head, "e", struct{ X int }{1}, 0)
	if err == nil || string(got) != "p" {
		t.Errorf("unregistered: got (%q, %v), want (\"p\", an error)", got, err)
	}
}

// TestGoldenHeadedEnvelopeFrames: every ShardEnvelope frame captured from
// Casty (client -> node and between nodes) re-encoded through the engine's
// path (head once, then the envelope) is the captured frame byte for byte.
func TestGoldenHeadedEnvelopeFrames(t *testing.T) {
	r := testRegistry(t)
	n := 0
	for _, m := range loadGoldenMessages(t) {
		if m.TypeHint != wire.TypeShardEnvelope {
			continue
		}
		h, payload := goldenPayload(t, m)
		entityID, msg, err := r.DecodeShardEnvelope(payload)
		if err != nil {
			t.Fatalf("%s#%d: %v", m.Conn, m.Seq, err)
		}
		head := r.AppendEnvelopeHead(nil, h.Target, h.Sender)
		got, err := r.AppendHeadedEnvelopeFrame(nil, head, string(entityID), msg, 0)
		if err != nil || !bytes.Equal(got, m.raw) {
			t.Errorf("%s#%d: got (%q, %v), want %q", m.Conn, m.Seq, got, err, m.raw)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no ShardEnvelope frame in the capture")
	}
	t.Logf("%d captured ShardEnvelope frames re-encoded identically", n)
}
