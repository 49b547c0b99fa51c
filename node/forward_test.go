package node

import (
	"net"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// TestForwardAddsOneHop: an envelope this node forwards to its owner
// carries one more hop than it came with (in its sender URI), so that two
// tables that disagree cannot bounce it forever; one that used maxHops is
// a dead letter, not sent. The owner here is a fake member that records
// the senders of what it is sent.
func TestForwardAddsOneHop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	senders := make(chan string, 8)
	go fakeMember(t, ln, senders)
	owner, err := wire.ParseNodeAddress(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
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
