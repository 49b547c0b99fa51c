package node

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/wire"
)

// TestPendingRequestsBound: what waits for a shard's owner is bounded by
// MaxPendingRequests (one more is refused and counted; an envelope refused
// is a dead letter), and each entry expires after RequestTimeout, counted.
// The type here is hosted by no node, so nothing is ever allocated.
func TestPendingRequestsBound(t *testing.T) {
	n := startSingle(t, Config{MaxPendingRequests: 2, RequestTimeout: 300 * time.Millisecond}, EntityFunc(func(*Context, any) {}))
	req := func() *pendingReq { return &pendingReq{typ: "nobody-hosts-it", shard: 0} }
	for i := range 2 {
		if !n.loc.park(req()) {
			t.Fatalf("request %d refused below MaxPendingRequests", i)
		}
	}
	env := &pendingReq{typ: "p", shard: 0, env: &parkedEnv{region: n.regions[0], entityID: "e", msg: 1}}
	if n.loc.park(env) {
		t.Fatal("an envelope was parked past MaxPendingRequests")
	}
	if st := n.Stats(); st.RequestsRejected != 1 || st.DeadLettersByReason[wire.ReasonNoOwner] != 1 {
		t.Fatalf("rejected %d, no-owner dead letters %d; want 1 and 1", st.RequestsRejected, st.DeadLettersByReason[wire.ReasonNoOwner])
	}
	poll.Until(t, "the requests expire", func() bool {
		n.loc.mu.Lock()
		defer n.loc.mu.Unlock()
		return len(n.loc.pending) == 0
	})
	if st := n.Stats(); st.RequestsExpired != 2 {
		t.Fatalf("expired %d, want the 2 requests that waited past RequestTimeout", st.RequestsExpired)
	}
}

// TestPeerLinkBound: a link to a member holds at most PeerPendingLimit
// bytes; past it a forward is refused (counted, PeerFull) and its sender
// is woken once the link has drained: backpressure, not a drop. The member
// here answers the handshake only when told, so nothing drains before.
func TestPeerLinkBound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answer := make(chan struct{})
	frames := make(chan struct{}, 64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		a, _ := wire.ParseNodeAddress(ln.Addr().String())
		fr := wire.NewFrameReader(c, 1<<20)
		for {
			typ, _, err := fr.Next()
			if err != nil {
				return
			}
			if typ == wire.FrameHandshake {
				<-answer
				_, _ = c.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: a.Host, Port: a.Port}))
				continue
			}
			frames <- struct{}{}
		}
	}()
	member, _ := wire.ParseNodeAddress(ln.Addr().String())
	n := startSingle(t, Config{PeerPendingLimit: 8 << 10, HandshakeTimeout: time.Minute}, EntityFunc(func(*Context, any) {}))
	l := n.peerLink(member)
	frame := append([]byte{0, 0, 3, 0xe7, wire.FrameMessage}, make([]byte, 998)...) // 1,003 bytes
	accepted := 0
	for l.offer(frame, nil) {
		if accepted++; accepted > 1000 {
			close(answer)
			t.Fatalf("a member link took %d KB past PeerPendingLimit 8 KiB", accepted)
		}
	}
	if accepted != 8 || n.Stats().PeerFull != 1 {
		t.Fatalf("accepted %d frames of 1,003 bytes (PeerFull %d); want 8 under 8 KiB, then a refusal counted", accepted, n.Stats().PeerFull)
	}
	w := roomWaiter(make(chan struct{}, 1))
	if l.offer(frame, w) {
		t.Fatal("a full member link took a frame")
	}
	close(answer)
	select {
	case <-w:
	case <-time.After(30 * time.Second):
		t.Fatal("the refused sender was never woken")
	}
	for i := range accepted {
		select {
		case <-frames:
		case <-time.After(30 * time.Second):
			t.Fatalf("the member got %d of the %d accepted frames", i, accepted)
		}
	}
}

type roomWaiter chan struct{}

func (w roomWaiter) peerRoom() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// TestLocalTellToFullMailboxCounted: a message sent from inside the node
// (Context.Tell, deliverLocal) to a full service mailbox has nothing to
// pause: it is refused with ErrUndeliverable and counted.
func TestLocalTellToFullMailboxCounted(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	svc := Service{Key: "k", Path: "/svc", Handler: EntityFunc(func(_ *Context, msg any) {
		if msg.(int) == 0 {
			close(entered)
			<-release
		}
	})}
	n := startSingle(t, Config{MailboxSize: 2, Services: []Service{svc}}, EntityFunc(func(*Context, any) {}))
	if err := n.deliverLocal("/svc", 0); err != nil {
		t.Fatal(err)
	}
	select { // the worker holds message 0: the mailbox is empty
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the service never ran message 0")
	}
	for i := 1; i <= 2; i++ {
		if err := n.deliverLocal("/svc", i); err != nil {
			t.Fatalf("message %d refused below MailboxSize: %v", i, err)
		}
	}
	if err := n.deliverLocal("/svc", 3); !errors.Is(err, ErrUndeliverable) {
		t.Fatalf("a tell to a full mailbox: got %v, want ErrUndeliverable", err)
	}
	if d := n.Stats().MailboxDropped; d != 1 {
		t.Fatalf("MailboxDropped %d, want 1", d)
	}
}

// silentMember listens for one member link and never answers its
// handshake, so the link keeps what it queued; closing hang closes the
// connection (the link fails with its queue unsent).
func silentMember(t *testing.T) (wire.NodeAddress, chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	hang := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		<-hang
		_ = c.Close()
	}()
	member, _ := wire.ParseNodeAddress(ln.Addr().String())
	return member, hang
}

// TestUnsentForwardsAreDeadLetters: forwards queued on a member link whose
// member never answers the handshake (they wait for the reply) and then
// closes the connection never leave the node; when the table names
// another member now and they have no hop left, each one is a dead letter
// of its shard (ReasonHopLimit), counted, not bytes nobody can attribute.
func TestUnsentForwardsAreDeadLetters(t *testing.T) {
	member, hang := silentMember(t)
	dead := make(chan DeadLetter, 16)
	n := startSingle(t, Config{HandshakeTimeout: time.Minute, OnDeadLetter: func(d DeadLetter) { dead <- d }},
		EntityFunc(func(*Context, any) {}))
	r := n.regions[0]
	const sent = 3
	for i := range sent {
		if res := n.forwardNow(member, r, 0, "e"+strconv.Itoa(i), int64(i), maxHops-1, nil); res != fwdDone {
			t.Fatalf("forward %d: %v", i, res)
		}
	}
	if got := n.Stats().Forwarded; got != sent {
		t.Fatalf("Forwarded %d, want %d queued on the member link", got, sent)
	}
	if len(dead) != 0 {
		t.Fatalf("%d dead letters before the link failed", len(dead))
	}
	// The table moves shard 0 to another member (its address is never
	// dialled: the forward is refused first, for want of a hop).
	cur := n.route.Load()
	owners := slices.Clone(cur.owners)
	owners[0] = slices.Clone(owners[0])
	owners[0][0] = wire.NodeAddress{Host: "127.0.0.1", Port: 9}
	n.route.Store(&route{epoch: cur.epoch, owners: owners, since: cur.since, servingSince: cur.servingSince})
	close(hang)
	for i := range sent {
		select {
		case d := <-dead:
			if d.Reason != wire.ReasonHopLimit || d.Type != "p" || d.Shard != 0 || d.EntityID != "e"+strconv.Itoa(int(d.Msg.(int64))) {
				t.Fatalf("dead letter %+v", d)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d unsent forwards became dead letters (stats %+v)", i, sent, n.Stats())
		}
	}
	if s := n.Stats(); s.ForwardsUnsent != sent || s.HopLimited != sent || s.DroppedPeerBytes != 0 {
		t.Fatalf("ForwardsUnsent %d, HopLimited %d (want %d each), DroppedPeerBytes %d (want 0)",
			s.ForwardsUnsent, s.HopLimited, sent, s.DroppedPeerBytes)
	}
}

// TestUnsentForwardsAreRoutedAgain: forwards that a failed member link
// never sent are routed again by the current table, here to the shard's
// mailbox on this node (its owner): delivered, in the order they were
// queued, none a dead letter, although they have no hop left (delivery
// is not a hop).
func TestUnsentForwardsAreRoutedAgain(t *testing.T) {
	member, hang := silentMember(t)
	got := make(chan any, 16)
	n := startSingle(t, Config{HandshakeTimeout: time.Minute}, EntityFunc(func(_ *Context, m any) { got <- m }))
	r := n.regions[0]
	const sent = 3
	for i := range sent {
		if res := n.forwardNow(member, r, 0, "e", int64(i), maxHops-1, nil); res != fwdDone {
			t.Fatalf("forward %d: %v", i, res)
		}
	}
	close(hang)
	for i := range sent {
		select {
		case m := <-got:
			if m != any(int64(i)) {
				t.Fatalf("message %d is %v, want %d (queue order)", i, m, i)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d unsent forwards delivered (stats %+v)", i, sent, n.Stats())
		}
	}
	if s := n.Stats(); s.ForwardsUnsent != sent || s.DeadLetters != 0 {
		t.Fatalf("ForwardsUnsent %d (want %d), DeadLetters %d (want 0)",
			s.ForwardsUnsent, sent, s.DeadLetters)
	}
}
