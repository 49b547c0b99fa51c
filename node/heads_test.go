package node_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/zhbin"
)

// headedFrame is a whole headed frame: id, then payload.
func headedFrame(id int, payload []byte) []byte {
	f := append(wire.AppendHeadRef([]byte{0, 0, 0, 0}, id), payload...)
	binary.BigEndian.PutUint32(f, uint32(len(f)-4))
	return f
}

// zhbinClient dials node n as a zerohop client offering zhbin with the
// workload's table.
func zhbinClient(t *testing.T, n *node.Node, port int) (*rawClient, *zhbin.Codec) {
	t.Helper()
	ours := binaryCodec(t, newRegistry(t))
	ext := &wire.Extension{System: "live", Version: 1, Codecs: []string{"json", zhbin.Name}, ShardHash: "md5", Role: wire.RoleClient, Binary: ours.Types()}
	return dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.1.1", Port: port}, ext), ours
}

// frameMaker makes a frame that carries msg to entity: a headed frame
// (headedUnder) or a whole message frame (wholeTo).
type frameMaker func(entity string, msg any) []byte

// headedUnder makes headed frames under id of ours' envelopes.
func headedUnder(t testing.TB, ours *zhbin.Codec, id int) frameMaker {
	return func(entity string, msg any) []byte {
		t.Helper()
		p, err := ours.AppendEnvelopePayload(nil, entity, msg)
		if err != nil {
			t.Fatal(err)
		}
		return headedFrame(id, p)
	}
}

// wholeTo makes whole zhbin message frames of ours' envelopes to target
// (a region URI) from sender.
func wholeTo(t testing.TB, ours *zhbin.Codec, target, sender string) frameMaker {
	return func(entity string, msg any) []byte {
		t.Helper()
		f, err := ours.AppendEnvelopeFrame(nil, target, sender, entity, msg, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
}

// askCount asks entity for its count over rc, in the frame that frame
// makes, and checks the reply: rc's connection is open and the frames
// written before the ask were read.
func askCount(t *testing.T, rc *rawClient, ours *zhbin.Codec, frame frameMaker, entity string, want int64) {
	t.Helper()
	replyPath := fmt.Sprintf("/_ask/%s/%d", entity, want)
	if _, err := rc.c.Write(frame(entity, workload.GetCount{ReplyTo: rc.ref(replyPath)})); err != nil {
		t.Fatal(err)
	}
	v, err := ours.Decode(recvPayload(t, rc, replyPath))
	if r, ok := v.(workload.CountReply); err != nil || !ok || r.Value != want {
		t.Fatalf("count of %s: %#v, %v; want %d", entity, v, err, want)
	}
}

// closedByNode reports whether the node closed rc's connection within d
// (frames it still sends are skipped).
func closedByNode(rc *rawClient, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_, _, err := rc.next(time.Until(deadline))
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			return false
		default:
			return true // EOF, reset: closed
		}
	}
	return false
}

func TestHeadedFrames(t *testing.T) { forEachTransport(t, testHeadedFrames) }

// testHeadedFrames: on a zhbin connection the node announces heads, and
// envelopes sent as headed frames after a definition reach their entity
// (an ask through a head is answered); a head to a target other than a
// hosted region means the message frame it stands for (an unknown entity
// type's dead letter). A headed frame with an id that has no definition,
// or a definition with an id at or above the announcement, closes that
// connection (counted as a framing error) while the node keeps serving
// the others; on a JSON connection headed frames are unknown frame types,
// ignored as Casty ignores them.
func testHeadedFrames(t *testing.T, transport string) {
	n := startBinaryNode(t, transport, nil)
	addr := n.Addr()
	rc, ours := zhbinClient(t, n, 2000)
	if x := rc.reply.Zerohop; x.Codec != zhbin.Name || x.Heads != wire.MaxHeads {
		t.Fatalf("reply chose %q with %d heads, want zhbin with %d", x.Codec, x.Heads, wire.MaxHeads)
	}
	sender := "casty://live-client@" + rc.id.String() + "/"
	head := func(target string) []byte {
		return ours.AppendEnvelopeHead(nil, target, sender)
	}
	region := wire.NodeURI("live", addr, wire.PathRegionPrefix+workload.DefaultEntityType)
	write := func(rc *rawClient, b []byte) {
		t.Helper()
		if _, err := rc.c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	payload := func(entity string, msg any) []byte {
		t.Helper()
		p, err := ours.AppendEnvelopePayload(nil, entity, msg)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ask := func(id int, entity string, want int64) {
		t.Helper()
		askCount(t, rc, ours, headedUnder(t, ours, id), entity, want)
	}

	before := n.Stats()
	write(rc, wire.AppendHeadDefinition(nil, 3, head(region)))
	for range 5 {
		write(rc, headedFrame(3, payload("e-head", workload.Increment{Amount: 3})))
	}
	ask(3, "e-head", 15)
	// A redefinition replaces the head for the frames after it.
	write(rc, wire.AppendHeadDefinition(nil, 3, head(wire.NodeURI("live", addr, wire.PathRegionPrefix+"nosuch"))))
	write(rc, headedFrame(3, payload("e-head", workload.Increment{Amount: 3})))
	poll.Until(t, "the envelope to an unknown type counted", func() bool {
		return n.Stats().UnknownTargets > before.UnknownTargets
	})
	write(rc, wire.AppendHeadDefinition(nil, wire.MaxHeads-1, head(region)))
	ask(wire.MaxHeads-1, "e-head", 15)

	t.Run("undefined id", func(t *testing.T) {
		bad, _ := zhbinClient(t, n, 2001)
		before := n.Stats().FramingErrors
		write(bad, wire.AppendHeadDefinition(nil, 1, head(region))) // another id defined
		write(bad, headedFrame(4, payload("e-head", workload.Increment{Amount: 1})))
		if !closedByNode(bad, 10*time.Second) {
			t.Fatal("the connection stayed open after a headed frame without a definition")
		}
		poll.Until(t, "counted as a framing error", func() bool { return n.Stats().FramingErrors > before })
		ask(wire.MaxHeads-1, "e-head-2", 0) // the others are still served
	})
	t.Run("bad definition", func(t *testing.T) {
		bad, _ := zhbinClient(t, n, 2002)
		write(bad, wire.AppendHeadDefinition(nil, 1, []byte{wire.FrameMessage, 0, 0, 0, 2, '{', '}'}))
		if !closedByNode(bad, 10*time.Second) {
			t.Fatal("the connection stayed open after a definition without a target")
		}
	})
	t.Run("json connection", func(t *testing.T) {
		js := dialClient(t, addr, wire.NodeAddress{Host: "127.89.1.1", Port: 2003}, &wire.Extension{System: "live", Version: 1, Codecs: []string{"json"}, Role: wire.RoleClient})
		if js.reply.Zerohop.Heads != 0 {
			t.Fatalf("heads %d announced on a JSON connection", js.reply.Zerohop.Heads)
		}
		before := n.Stats().UnexpectedMessages
		write(js, wire.AppendHeadDefinition(nil, 1, head(region)))
		write(js, headedFrame(1, payload("e-json", workload.Increment{Amount: 1})))
		poll.Until(t, "both frames ignored and counted", func() bool { return n.Stats().UnexpectedMessages >= before+2 })
		v := js.ask(wire.PathRegionPrefix+workload.DefaultEntityType, func(r wire.Ref) any {
			return wire.ShardEnvelope{EntityID: "e-json", Message: workload.GetCount{ReplyTo: r}}
		})
		if r, ok := v.(workload.CountReply); !ok || r.Value != 0 {
			t.Fatalf("the JSON connection after headed frames: %#v, want a count of 0", v)
		}
	})
}

// TestHeadsAnnounced: BinaryHeads bounds the ids a connection may define:
// the last id below it is taken (a count asked through it is answered), a
// definition at it closes the connection. A negative BinaryHeads
// announces none: a definition and a headed frame are then unknown frame
// types, ignored and counted, and the connection goes on: the frames
// after them are read (a count asked in a whole frame sees the whole
// frame's increment before it, not the headed frame's).
func TestHeadsAnnounced(t *testing.T) {
	for _, heads := range []int{4, -1} {
		t.Run(fmt.Sprint(heads), func(t *testing.T) {
			n := startBinaryNode(t, "", func(cfg *node.Config) { cfg.BinaryHeads = heads })
			rc, ours := zhbinClient(t, n, 2100)
			if got, want := rc.reply.Zerohop.Heads, max(heads, 0); got != want {
				t.Fatalf("announced %d heads, want %d", got, want)
			}
			region := wire.NodeURI("live", n.Addr(), wire.PathRegionPrefix+workload.DefaultEntityType)
			sender := "casty://live-client@127.89.1.1:2100/"
			head := ours.AppendEnvelopeHead(nil, region, sender)
			write := func(frames ...[]byte) { // in one write: a node that closes on the first fails the read after
				t.Helper()
				if _, err := rc.c.Write(bytes.Join(frames, nil)); err != nil {
					t.Fatal(err)
				}
			}
			if heads > 0 {
				last := headedUnder(t, ours, heads-1)
				write(wire.AppendHeadDefinition(nil, heads-1, head), last("e-bound", workload.Increment{Amount: 3}))
				askCount(t, rc, ours, last, "e-bound", 3)
				write(wire.AppendHeadDefinition(nil, heads, head))
				if !closedByNode(rc, 10*time.Second) {
					t.Fatal("a definition at the announced bound left the connection open")
				}
				return
			}
			before := n.Stats().UnexpectedMessages
			whole := wholeTo(t, ours, region, sender)
			write(wire.AppendHeadDefinition(nil, 4, head), headedUnder(t, ours, 4)("e-none", workload.Increment{Amount: 5}),
				whole("e-none", workload.Increment{Amount: 2}))
			askCount(t, rc, ours, whole, "e-none", 2)
			if got := n.Stats().UnexpectedMessages - before; got < 2 {
				t.Fatalf("%d frames counted as unexpected, want the definition and the headed frame", got)
			}
		})
	}
}

// TestCreditWindow: a node with BinaryWindow announces it to zhbin
// clients and acknowledges the frames it handles, a quarter of the window
// at a time (every frame counts: definitions, headed frames, message
// frames); a client without zhbin gets neither.
func TestCreditWindow(t *testing.T) { forEachTransport(t, testCreditWindow) }

func testCreditWindow(t *testing.T, transport string) {
	const window = 8
	n := startBinaryNode(t, transport, func(cfg *node.Config) { cfg.BinaryWindow = window })
	rc, ours := zhbinClient(t, n, 2200)
	if got := rc.reply.Zerohop.Window; got != window {
		t.Fatalf("announced window %d, want %d", got, window)
	}
	region := wire.NodeURI("live", n.Addr(), wire.PathRegionPrefix+workload.DefaultEntityType)
	var out []byte
	out = wire.AppendHeadDefinition(out, 0, ours.AppendEnvelopeHead(nil, region, "casty://live-client@127.89.1.1:2200/"))
	for range 18 {
		p, err := ours.AppendEnvelopePayload(nil, "e-credit", workload.Increment{Amount: 1})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, headedFrame(0, p)...)
	}
	ask, err := ours.AppendEnvelopeFrame(nil, region, "casty://live-client@127.89.1.1:2200/", "e-credit", workload.GetCount{ReplyTo: rc.ref("/_ask/credit")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, ask...) // 20 frames in all
	if _, err := rc.c.Write(out); err != nil {
		t.Fatal(err)
	}
	credited := 0
	deadline := time.Now().Add(10 * time.Second)
	for credited < 20 {
		typ, body, err := rc.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("after %d credited: %v", credited, err)
		}
		switch typ {
		case wire.FrameCredit:
			k, err := wire.ParseCredit(body)
			if err != nil || k != window/4 {
				t.Fatalf("credit of %d (%v), want %d a time", k, err, window/4)
			}
			credited += k
		case wire.FrameMessage:
			h, payload, err := wire.ParseMessage(body)
			if a, _ := wire.ParseAddress(h.Target); err == nil && a.Path == "/_ask/credit" {
				if v, err := ours.Decode(payload); err != nil || v.(workload.CountReply).Value != 18 {
					t.Fatalf("count %#v, %v; want 18", v, err)
				}
			}
		}
	}
	if credited != 20 {
		t.Fatalf("credited %d frames, sent 20", credited)
	}
	js := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.1.1", Port: 2201}, &wire.Extension{System: "live", Version: 1, Codecs: []string{"json"}, Role: wire.RoleClient})
	if js.reply.Zerohop.Window != 0 {
		t.Fatalf("window %d announced on a JSON connection", js.reply.Zerohop.Window)
	}
	for range 8 {
		js.send(wire.PathRegionPrefix+workload.DefaultEntityType, wire.ShardEnvelope{EntityID: "e-json-credit", Message: workload.Increment{Amount: 1}})
	}
	// Every frame up to the count's reply: no credit among them (8 tells
	// would have been 4).
	js.send(wire.PathRegionPrefix+workload.DefaultEntityType, wire.ShardEnvelope{EntityID: "e-json-credit", Message: workload.GetCount{ReplyTo: js.ref("/_ask/json-credit")}})
	for {
		typ, body, err := js.next(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if typ == wire.FrameCredit {
			t.Fatal("a credit on a JSON connection")
		}
		if typ != wire.FrameMessage {
			continue
		}
		h, payload, err := wire.ParseMessage(body)
		if a, _ := wire.ParseAddress(h.Target); err == nil && a.Path == "/_ask/json-credit" {
			if v, err := js.reg.Decode(payload); err != nil || v.(workload.CountReply).Value != 8 {
				t.Fatalf("JSON count %#v, %v; want 8", v, err)
			}
			return
		}
	}
}

// TestCreditPausedFrames: a frame that the node keeps because its mailbox
// is full (resPaused) is credited once, when it is handled: not when it is
// kept, nor each time it is kept again. The slow entity holds every
// message until the test lets it go. While it holds one sent from inside
// the node, the node handles the frames the mailbox takes and keeps the
// next: the credits it wrote before a marker (a reply it writes on the
// same link afterwards) are for exactly those frames. Then the entity
// lets the messages go one at a time (a net link keeps a frame again each
// time the mailbox fills), and in the end every frame is credited once.
func TestCreditPausedFrames(t *testing.T) { forEachTransport(t, testCreditPausedFrames) }

func testCreditPausedFrames(t *testing.T, transport string) {
	const (
		window  = 4 // a credit per frame
		mailbox = 2
		frames  = 10
	)
	in, step := make(chan struct{}, frames+1), make(chan struct{})
	slow := node.EntityType{Name: "slow", Shards: 1, New: func(string) node.Entity {
		return node.EntityFunc(func(*node.Context, any) {
			in <- struct{}{}
			<-step
		})
	}}
	// holds waits until the entity holds its next message; let lets it go.
	holds := func() {
		t.Helper()
		select {
		case <-in:
		case <-time.After(30 * time.Second):
			t.Fatal("the entity got no next message")
		}
	}
	let := func() {
		t.Helper()
		select {
		case step <- struct{}{}:
		case <-time.After(30 * time.Second):
			t.Fatal("the entity holds no message")
		}
	}
	n := startBinaryNode(t, transport, func(cfg *node.Config) {
		cfg.Entities = append(cfg.Entities, slow)
		cfg.MailboxSize = mailbox
		cfg.BinaryWindow = window
	})
	t.Cleanup(func() { close(step) }) // before the node closes (cleanups run last first)
	// Allocated first: envelopes parked for an unallocated shard are
	// released past the mailbox bound.
	dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.1.1", Port: 2301}, nil).locateType("slow", 0)
	rc, ours := zhbinClient(t, n, 2300)
	if got := rc.reply.Zerohop.Window; got != window {
		t.Fatalf("announced window %d, want %d", got, window)
	}
	// credits has the node write a marker to rc (a count's reply, asked
	// from inside the node) and reads rc up to it and until it has
	// credits for at least want frames (those must come, and are written
	// by another goroutine than the marker, maybe after it); it returns
	// the frames credited.
	marker := 0
	credits := func(want int) int {
		t.Helper()
		marker++
		path := fmt.Sprintf("/_marker/%d", marker)
		if err := n.Tell(wire.Ref{Address: wire.Address{Path: wire.PathRegionPrefix + workload.DefaultEntityType}},
			wire.ShardEnvelope{EntityID: "marker", Message: workload.GetCount{ReplyTo: rc.ref(path)}}); err != nil {
			t.Fatal(err)
		}
		return creditsUntil(t, rc, path, want)
	}
	// The entity holds a message sent from inside the node (a worker runs
	// it, never an event loop inline), with an empty mailbox behind it.
	if err := n.Tell(wire.Ref{Address: wire.Address{Path: "/_region-slow"}}, wire.ShardEnvelope{EntityID: "e", Message: workload.Increment{Amount: 1}}); err != nil {
		t.Fatal(err)
	}
	holds()
	full := n.Stats().MailboxFull
	whole := wholeTo(t, ours, wire.NodeURI("live", n.Addr(), "/_region-slow"), "casty://live-client@127.89.1.1:2300/")
	var out []byte
	for i := range frames {
		out = append(out, whole("e", workload.Increment{Amount: i})...)
	}
	if _, err := rc.c.Write(out); err != nil {
		t.Fatal(err)
	}
	// Until the held message's batch ends, the mailbox takes mailbox
	// frames, and the node keeps the next.
	poll.Until(t, "a frame kept behind the full mailbox", func() bool { return n.Stats().MailboxFull > full })
	credited := credits(mailbox)
	if credited != mailbox {
		t.Fatalf("%d frames credited with %d handled and the next kept, want %d", credited, mailbox, mailbox)
	}
	// One at a time: on net links the node keeps a frame again each time
	// the mailbox fills; a gnet link runs the frames that find the
	// mailbox idle inline, on its event loop, which the entity then
	// holds.
	for range frames {
		let()
		holds()
	}
	let() // the last frame's message: every frame has been handled
	if credited += credits(frames - credited); credited != frames {
		t.Fatalf("%d frames credited of the %d handled", credited, frames)
	}
}

// creditsUntil reads rc's frames until the message to path has come and
// credits for at least want frames, and returns the frames credited.
func creditsUntil(t *testing.T, rc *rawClient, path string, want int) int {
	t.Helper()
	credited, seen := 0, false
	deadline := time.Now().Add(30 * time.Second)
	for !seen || credited < want {
		typ, body, err := rc.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for a message to %s (seen: %v) and credits for %d frames (%d): %v", path, seen, want, credited, err)
		}
		switch typ {
		case wire.FrameCredit:
			k, err := wire.ParseCredit(body)
			if err != nil {
				t.Fatal(err)
			}
			credited += k
		case wire.FrameMessage:
			h, _, err := wire.ParseMessage(body)
			a, _ := wire.ParseAddress(h.Target)
			seen = seen || err == nil && a.Path == path
		}
	}
	return credited
}
