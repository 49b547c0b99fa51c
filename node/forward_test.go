package node

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/wire"
)

// TestForwardAddsOneHop: an envelope this node forwards to its owner
// carries one more hop than it came with (in its sender URI), so that two
// tables that disagree cannot bounce it forever; one that used maxHops is
// a dead letter, not sent. The owner here is a fake member that records
// the senders of what it is sent.
func TestForwardAddsOneHop(t *testing.T) {
	owner, senders := startFakeMember(t)
	n := startSingle(t, Config{}, EntityFunc(func(*Context, any) {}))
	r := n.regions[0]
	for hops := range maxHops {
		if res := n.forwardDecoded(owner, r, 0, "e", owner, hops, nil); res != fwdDone {
			t.Fatalf("forward with %d hops: %v", hops, res)
		}
		select {
		case s := <-senders:
			if got := hopsOf(s); got != hops+1 {
				t.Fatalf("an envelope that came with %d hops was forwarded with sender %q (%d hops), want %d", hops, s, got, hops+1)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("forward with %d hops never reached the owner", hops)
		}
	}
	n.forwardDecoded(owner, r, 0, "e", owner, maxHops, nil)
	if st := n.Stats(); st.HopLimited != 1 || st.DeadLettersByReason[wire.ReasonHopLimit] != 1 {
		t.Fatalf("an envelope with %d hops: hop-limited %d, dead letters %v; want 1 each", maxHops, st.HopLimited, st.DeadLettersByReason)
	}
}

// startFakeMember starts a fakeMember on a loopback port, closed at the
// end of the test, and returns its address and the senders it records.
func startFakeMember(t *testing.T) (wire.NodeAddress, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	senders := make(chan string, 8)
	go fakeMember(t, ln, senders)
	addr, err := wire.ParseNodeAddress(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return addr, senders
}

// fakeMember accepts one connection on ln, answers its handshake and sends
// the sender URI of every message frame to senders.
func fakeMember(t *testing.T, ln net.Listener, senders chan<- string) {
	c, err := ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	fr := wire.NewFrameReader(c, 1<<20)
	a, _ := wire.ParseNodeAddress(ln.Addr().String())
	for {
		typ, body, err := fr.Next()
		if err != nil {
			return
		}
		switch typ {
		case wire.FrameHandshake:
			if _, err := c.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: a.Host, Port: a.Port})); err != nil {
				return
			}
		case wire.FrameMessage:
			h, _, err := wire.ParseMessage(body)
			if err != nil {
				t.Errorf("fake member: %v", err)
				return
			}
			senders <- h.Sender
		}
	}
}

// TestForwardFromANewerTableWaits: an envelope forwarded by a node whose
// table is newer than this node's (the epoch in its sender path) is held
// until this node applies a table that new, then routed by it; routed by
// the older table it would bounce between two nodes an apply apart until
// the hop limit dropped it.
func TestForwardFromANewerTableWaits(t *testing.T) {
	got := make(chan any, 4)
	n := startSingle(t, Config{}, EntityFunc(func(_ *Context, msg any) { got <- msg }))
	// The shard is allocated here first (a local envelope asks for it).
	l := n.newLink()
	send := func(f fwdInfo, v int64) { handleForward(t, n, l, f, "e", v) }
	send(fwdInfo{}, 1)
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the shard was never allocated here")
	}
	epoch := n.route.Load().epoch
	send(fwdInfo{hops: 1, epoch: epoch + 1}, 2)
	// Held (counted before handleRegion returned); that it did not run is
	// shown by the order below: 3 reaches the entity first.
	if h := n.Stats().HeldForTable; h != 1 {
		t.Fatalf("HeldForTable %d, want 1", h)
	}
	// A forward from a table no newer than ours is routed at once.
	send(fwdInfo{hops: 1, epoch: epoch}, 3)
	select {
	case v := <-got:
		if v != int64(3) {
			t.Fatalf("the entity got %v, want 3", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a forward from an older table was held")
	}
	// This node applies a table that new: the held envelope runs.
	cur := n.table()
	next := &allocTable{epoch: epoch + 1, types: cur.types, hashes: cur.hashes}
	n.onTable(cur, next)
	select {
	case v := <-got:
		if v != int64(2) {
			t.Fatalf("the entity got %v, want the held 2", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the held envelope never ran once the table was that new")
	}
}

// handleForward hands n's first region an envelope to id with message v,
// as l would read it with the sender path f says.
func handleForward(t *testing.T, n *Node, l *link, f fwdInfo, id string, v int64) {
	t.Helper()
	r := n.regions[0]
	frame, err := n.reg.AppendEnvelopeFrame(nil, wire.NodeURI(n.cfg.System, n.self, wire.PathRegionPrefix+r.typ.Name),
		"casty://"+n.cfg.System+"@127.0.0.1:1/_fwd1", id, v, n.cfg.MaxFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _, err := wire.ParseFrame(frame, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, err := wire.ParseTargetPath(body)
	if err != nil {
		t.Fatal(err)
	}
	if res := n.handleRegion(l, r, f, payload); res != resOK {
		t.Fatalf("handleRegion: %v", res)
	}
}

// TestNoForwardByARouteBehindTheTable: while this node's route is older
// than the table its replica applied (onTable releases what was parked
// for the new table, into the mailbox when the table names this node,
// before it publishes the route), the mailbox's worker waits for the
// route: it does not forward those envelopes back to the shard's
// previous owner by the old route, where, a hop spent, they bounced until
// the hop limit (chaos rolling-restart, the leader restarted last); nor
// does a forward that reaches the node meanwhile go on by that route. The
// old owner here is a fake member that records what it is sent.
func TestNoForwardByARouteBehindTheTable(t *testing.T) {
	old, senders := startFakeMember(t)
	got := make(chan any, 4)
	n := startSingle(t, Config{}, EntityFunc(func(_ *Context, msg any) { got <- msg }))
	r := n.regions[0]
	// The shard is allocated here first (a local envelope asks for it).
	n.routeAgain(r, 0, "e", int64(1), 0)
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the shard was never allocated here")
	}
	// The window inside onTable: the applied table names this node, the
	// published route still names the previous owner, and a forward held
	// for that table is released into the mailbox.
	cur := n.route.Load()
	owners := slices.Clone(cur.owners)
	owners[0] = slices.Clone(owners[0])
	owners[0][0] = old
	n.route.Store(&route{epoch: cur.epoch - 1, owners: owners, since: cur.since, servingSince: cur.servingSince})
	before := n.Stats()
	n.deliverParked(r, 0, "e", int64(2), 1)
	poll.Until(t, "the worker decided", func() bool {
		s := n.Stats()
		return s.MailboxWaits > before.MailboxWaits || s.Forwarded > before.Forwarded
	})
	if s := n.Stats(); s.Forwarded != before.Forwarded || len(senders) != 0 {
		t.Fatalf("forwarded %d envelopes by the route behind the table (senders %d)", s.Forwarded-before.Forwarded, len(senders))
	}
	// A forward decided meanwhile carries the applied table's epoch, so an
	// owner that has not applied it holds it instead of routing it back.
	if res := n.forwardNow(old, r, 0, "f", int64(3), 0, nil); res != fwdDone {
		t.Fatalf("forward: %v", res)
	}
	select {
	case s := <-senders:
		if f := fwdOf(s); f.epoch != cur.epoch {
			t.Fatalf("a forward while the route is behind carries epoch %d (sender %q), want the applied table's %d", f.epoch, s, cur.epoch)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the forward never reached the fake member")
	}
	// A forward that arrives meanwhile (from a table no newer than the
	// route) waits for the route too: it has a hop spent.
	handleForward(t, n, n.newLink(), fwdInfo{hops: 1, epoch: cur.epoch - 1}, "e", 4)
	if s := n.Stats(); s.HeldForTable != before.HeldForTable+1 || len(senders) != 0 {
		t.Fatalf("a forward received while the route is behind: HeldForTable +%d (want +1), %d sent on",
			s.HeldForTable-before.HeldForTable, len(senders))
	}
	// onTable publishes the route: the held envelopes run here, in order.
	n.onTable(n.table(), n.table())
	for _, want := range []int64{2, 4} {
		select {
		case v := <-got:
			if v != want {
				t.Fatalf("the entity got %v, want the held %d", v, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the held %d never ran once the route was published", want)
		}
	}
}
