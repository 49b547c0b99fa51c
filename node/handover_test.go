package node

import (
	"log/slog"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// bareNode is a Node with only the cluster state the leadership functions
// touch (no transport, no memberlist).
func bareNode(self wire.NodeAddress, inc uint64, members ...*member) *Node {
	n := &Node{self: self, inc: inc, log: slog.New(slog.DiscardHandler), ctr: newCounters(), table: emptyTable,
		members: map[wire.NodeAddress]*member{}}
	n.cfg.Membership.HandoverTimeout = time.Second
	for _, m := range members {
		n.members[m.addr] = m
	}
	return n
}

func upMember(a wire.NodeAddress, inc uint64) *member {
	return &member{addr: a, alive: true, meta: nodeMeta{Inc: inc}}
}

func TestTakeoverMode(t *testing.T) {
	const term1 = 1 << termShift
	now := time.Now()
	tests := []struct {
		name  string
		setup func(n *Node)
		want  string
	}{
		{"empty table: first term", func(n *Node) {}, takeoverNewTerm},
		{"our own last write (re-sync after a stall)", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(1), writerInc: 11}
			n.lastWritten = term1 | 5
		}, takeoverOwnTerm},
		{"our own write, handed over since", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(1), writerInc: 11}
			n.lastWritten = term1 | 5
			n.handedOver = termGrant{epoch: term1 | 5, to: addr(2), inc: 22}
		}, takeoverNewTerm},
		{"written by an earlier incarnation at our address", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(1), writerInc: 10}
		}, takeoverNewTerm},
		{"handed over to us", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(2), writerInc: 22}
			n.handedUs.epoch, n.handedUs.writer = term1|5, addr(2)
		}, takeoverHandedOver},
		{"hand-over of an older epoch", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 6, writer: addr(3), writerInc: 33}
			n.handedUs.epoch, n.handedUs.writer = term1|5, addr(2)
			n.members[addr(3)].alive = false
		}, takeoverNewTerm},
		{"writer alive: wait for its hand-over", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(2), writerInc: 22}
		}, takeoverWait},
		{"writer alive, waited HandoverTimeout", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(2), writerInc: 22}
			n.handoverSince = now.Add(-2 * time.Second)
		}, takeoverNewTerm},
		{"writer restarted (another incarnation)", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(2), writerInc: 21}
		}, takeoverNewTerm},
		{"writer dead", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(2), writerInc: 22}
			n.members[addr(2)].alive = false
		}, takeoverNewTerm},
		{"writer unreachable", func(n *Node) {
			n.table = &allocTable{epoch: term1 | 5, writer: addr(2), writerInc: 22}
			n.members[addr(2)].unreachable = true
		}, takeoverNewTerm},
		{"term's sequence used up", func(n *Node) {
			n.table = &allocTable{epoch: term1 | seqMask, writer: addr(1), writerInc: 11}
			n.lastWritten = term1 | seqMask
		}, takeoverNewTerm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := bareNode(addr(1), 11, upMember(addr(1), 11), upMember(addr(2), 22), upMember(addr(3), 33))
			tc.setup(n)
			if got := n.takeoverModeLocked(now); got != tc.want {
				t.Fatalf("takeover mode %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHandOverOncePerEpoch: a writer that stops leading hands its last epoch
// to the leader it sees, once; a later leader does not get it again, and
// the writer may not continue that epoch itself any more.
func TestHandOverOncePerEpoch(t *testing.T) {
	const e = 1<<termShift | 3
	w := bareNode(addr(3), 33, upMember(addr(1), 11), upMember(addr(2), 22), upMember(addr(3), 33))
	w.table = &allocTable{epoch: e, writer: addr(3), writerInc: 33}
	w.lastWritten = e
	w.leading = true
	w.members[addr(1)].meta.Joining = true // not up yet: addr(2) is the leader
	w.evalLeaderLocked()
	if w.leading || w.leader != addr(2) {
		t.Fatalf("leading %v, leader %v; want a follower of %v", w.leading, w.leader, addr(2))
	}
	want := termGrant{epoch: e, to: addr(2), inc: 22}
	if w.handedOver != want {
		t.Fatalf("hand-over %+v, want %+v", w.handedOver, want)
	}
	w.members[addr(1)].meta.Joining = false // addr(1) becomes the leader
	w.evalLeaderLocked()
	if w.leader != addr(1) || w.handedOver != want {
		t.Fatalf("leader %v, hand-over %+v; want %v and the first hand-over kept", w.leader, w.handedOver, addr(1))
	}
	if w.ownsTermLocked() {
		t.Fatal("the writer still owns an epoch it handed over")
	}
	if got := w.Stats().TermsHandedOver; got != 1 {
		t.Fatalf("TermsHandedOver %d, want 1", got)
	}

	// The state it gossips carries the hand-over; only its addressee's
	// incarnation takes it, and then owns the term after that epoch.
	st, g, err := unmarshalState(w.table.marshalState(&w.handedOver))
	if err != nil || g == nil || *g != want || st.epoch != e || st.writer != addr(3) || st.writerInc != 33 {
		t.Fatalf("state round trip: %+v %+v %v", st, g, err)
	}
	for _, tc := range []struct {
		name string
		n    *Node
		owns bool
	}{
		{"addressee", bareNode(addr(2), 22), true},
		{"earlier incarnation of the addressee", bareNode(addr(2), 21), false},
		{"another node", bareNode(addr(1), 11), false},
	} {
		tc.n.table = st
		tc.n.takeGrant(st, g)
		if got := tc.n.ownsTermLocked(); got != tc.owns {
			t.Errorf("%s: owns the term %v, want %v", tc.name, got, tc.owns)
		}
	}
}

// TestHandOverPassedOn: a node handed the term that loses the leadership
// before using it passes the right on to the next leader.
func TestHandOverPassedOn(t *testing.T) {
	const e = 1<<termShift | 3
	x := bareNode(addr(2), 22, upMember(addr(1), 11), upMember(addr(2), 22), upMember(addr(3), 33))
	x.table = &allocTable{epoch: e, writer: addr(3), writerInc: 33}
	x.takeGrant(x.table, &termGrant{epoch: e, to: addr(2), inc: 22})
	x.evalLeaderLocked() // addr(1) is up and lower
	if want := (termGrant{epoch: e, to: addr(1), inc: 11}); x.handedOver != want {
		t.Fatalf("hand-over %+v, want %+v", x.handedOver, want)
	}
	if x.ownsTermLocked() {
		t.Fatal("still owns the term after passing it on")
	}
}

// TestHandOverForwarded: a hand-over seen in a member's state and made to
// another node is forwarded in our own state; its addressee, no longer the
// leader, passes it on to the leader it sees as soon as it learns of it.
func TestHandOverForwarded(t *testing.T) {
	const e = 1<<termShift | 3
	tb := &allocTable{epoch: e, writer: addr(3), writerInc: 33}
	toX := &termGrant{epoch: e, to: addr(2), inc: 22}

	y := bareNode(addr(1), 11, upMember(addr(1), 11), upMember(addr(2), 22), upMember(addr(3), 33))
	y.table = tb
	y.takeGrant(tb, toX)
	if y.ownsTermLocked() {
		t.Fatal("a hand-over made to another node gave us the term")
	}
	_, g, err := unmarshalState((&delegate{n: y}).LocalState(false))
	if err != nil || g == nil || *g != *toX {
		t.Fatalf("forwarded hand-over %+v (%v), want %+v", g, err, *toX)
	}

	x := bareNode(addr(2), 22, upMember(addr(1), 11), upMember(addr(2), 22), upMember(addr(3), 33))
	x.table = tb
	x.evalLeaderLocked() // addr(1) leads
	x.takeGrant(tb, g)
	if want := (termGrant{epoch: e, to: addr(1), inc: 11}); x.handedOver != want {
		t.Fatalf("passed-on hand-over %+v, want %+v", x.handedOver, want)
	}
	_, g, err = unmarshalState((&delegate{n: x}).LocalState(false))
	if err != nil || g == nil || g.to != addr(1) {
		t.Fatalf("state carries %+v (%v), want the hand-over to %v", g, err, addr(1))
	}
	y.takeGrant(tb, g)
	if !y.ownsTermLocked() {
		t.Fatal("the leader does not own the term after the hand-over reached it")
	}
}
