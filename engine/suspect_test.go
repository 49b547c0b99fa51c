package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// Suspect connections (issue 9, the client never waits on a dead or
// paused owner): a subscription on every member, and a connection whose
// node sends nothing for SuspectAfter fails fast until it talks again.

// A paused owner (TCP open, nothing read or sent) becomes suspect within
// SuspectAfter: tells and asks to its shard fail fast with
// ErrOwnerUnavailable (cause ErrSuspect), an ask waiting on it fails at
// once, tells to another node's shard flow meanwhile; frames queued before
// the suspicion stay queued and are delivered when it resumes, and its
// first bytes make it up again.
func TestSuspectPausedOwner(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			cl := newFakeCluster(t, 2)
			const pausedShard, liveShard = 5, 6
			pid := entityOnShard(t, pausedShard, 32, "paused")
			lid := entityOnShard(t, liveShard, 32, "live")
			cl.setAlloc("counter", pausedShard, 1)
			cl.setAlloc("counter", liveShard, 0)
			const suspectAfter = time.Second
			c := dialFake(t, cl, func(cfg *Config) {
				cfg.Transport = tr
				cfg.RefreshInterval = 100 * time.Millisecond
				cfg.SuspectAfter = suspectAfter
				cfg.AskTimeout = time.Minute
			})
			ref, _ := c.EntityRef("counter", 32)
			n0, n1 := cl.nodes[0], cl.nodes[1]
			if err := ref.Tell(pid, workload.Increment{Amount: 1}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "node 1 counts", func() bool { return n1.count(pid) == 1 })
			waitFor(t, "node 1 subscribed to", func() bool {
				return countMsgs[wire.SubscribeTopology](n1, wire.PathTopology) > 0
			})

			resume := n1.pause(t)
			start := time.Now()
			askErr := make(chan error, 1)
			go func() {
				_, err := getCount(context.Background(), c, ref, pid)
				askErr <- err
			}()
			// Tells accepted until the suspicion are queued (they reach
			// the node's socket and wait there).
			var queued int64
			var err error
			waitFor(t, "the paused owner suspect", func() bool {
				if err = ref.Tell(pid, workload.Increment{Amount: 1}); err == nil {
					queued++
				}
				return err != nil
			})
			elapsed := time.Since(start)
			t.Logf("suspect %v after the pause (SuspectAfter %v), %d tells queued meanwhile", elapsed, suspectAfter, queued)
			if elapsed > suspectAfter+15*time.Second {
				t.Fatalf("suspect only after %v", elapsed)
			}
			var oe *OwnerUnavailableError
			if !errors.As(err, &oe) || !errors.Is(err, ErrOwnerUnavailable) || !errors.Is(err, ErrSuspect) ||
				oe.Node != n1.addr || oe.Shard != pausedShard {
				t.Fatalf("tell to a paused owner: got %v, want *OwnerUnavailableError for %v wrapping ErrSuspect", err, n1.addr)
			}
			select {
			case err := <-askErr:
				var ce *ConnError
				if !errors.As(err, &ce) || !errors.Is(err, ErrConnectionLost) || !errors.Is(err, ErrSuspect) || ce.Node != n1.addr {
					t.Fatalf("ask waiting on the paused owner: got %v, want a *ConnError wrapping ErrSuspect", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the ask waiting on the paused owner did not fail")
			}
			if _, err := getCount(context.Background(), c, ref, pid); !errors.Is(err, ErrOwnerUnavailable) || !errors.Is(err, ErrSuspect) {
				t.Fatalf("ask to a suspect owner: got %v", err)
			}
			// Another node's shard is unaffected.
			for i := 0; i < 1000; i++ {
				if err := ref.Tell(lid, workload.Increment{Amount: 1}); err != nil {
					t.Fatalf("tell %d to the live node's shard: %v", i, err)
				}
			}
			waitFor(t, "the live node counts", func() bool { return n0.count(lid) == 1000 })
			if r, err := getCount(context.Background(), c, ref, lid); err != nil || r.Value != 1000 {
				t.Fatalf("ask to the live node's shard: %+v, %v", r, err)
			}
			st := c.Stats()
			if st.Suspects == 0 || st.Drops[DropOwnerUnavailable] < 2 {
				t.Fatalf("while suspect: suspects %d cleared %d owner_unavailable %d", st.Suspects, st.SuspectsCleared, st.Drops[DropOwnerUnavailable])
			}

			// The node resumes: it reads what was queued and answers the
			// subscription: up again, and the queued tells are applied.
			resume()
			waitFor(t, "the resumed owner up", func() bool { return ref.Tell(pid, workload.Increment{Amount: 1}) == nil })
			waitFor(t, "queued tells delivered", func() bool { return n1.count(pid) >= 2+queued })
			if st := c.Stats(); st.SuspectsCleared == 0 {
				t.Fatal("recovery from suspect not counted")
			}
		})
	}
}

// Shutdown unsubscribes from every node it subscribed to: every member.
func TestUnsubscribeEveryMemberOnClose(t *testing.T) {
	cl := newFakeCluster(t, 3)
	cfg := Config{ContactPoints: cl.contacts()[:1], SystemName: testSystem, Types: cl.reg}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range cl.nodes {
		waitFor(t, "subscribed to every member", func() bool {
			return countMsgs[wire.SubscribeTopology](nd, wire.PathTopology) > 0
		})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Close has written the unsubscribes; each fake node records one when
	// it has read it, which may be after Close returned.
	subs := func(nd *fakeNode) (sub, unsub string) {
		for _, m := range nd.messages(wire.PathTopology) {
			switch x := m.Msg.(type) {
			case wire.SubscribeTopology:
				sub = x.ReplyTo.String()
			case wire.UnsubscribeTopology:
				unsub = x.Subscriber.String()
			}
		}
		return sub, unsub
	}
	for i, nd := range cl.nodes {
		waitFor(t, "an unsubscribe on every member", func() bool { _, unsub := subs(nd); return unsub != "" })
		if sub, unsub := subs(nd); sub == "" || unsub != sub {
			t.Fatalf("node %d: subscribe %q, unsubscribe %q", i, sub, unsub)
		}
	}
}
