package node_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// TestFullMailboxPausesTheConnection blocks an entity, floods its shard
// through a 8-slot mailbox and checks that the connection is paused, not
// dropped: once released, every message is processed in order.
func TestFullMailboxPausesTheConnection(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	forEachTransport(t, testFullMailboxPausesTheConnection)
}

func testFullMailboxPausesTheConnection(t *testing.T, transport string) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []int
	var processed atomic.Int64
	var once sync.Once
	blocked := make(chan struct{})
	slow := node.EntityType{Name: "slow", Shards: 1, New: func(string) node.Entity {
		return node.EntityFunc(func(ctx *node.Context, msg any) {
			if ctx.EntityID() == "blocker" {
				once.Do(func() { close(blocked); <-release })
				return
			}
			if inc, ok := msg.(workload.Increment); ok {
				mu.Lock()
				got = append(got, inc.Amount)
				mu.Unlock()
				processed.Add(1)
			}
		})
	}}
	reg := newRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, node.Config{Registry: reg, Entities: []node.EntityType{slow}, MailboxSize: 8,
		Workers: 2, Transport: transport, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
		_ = n.Close(context.Background())
	}()
	rc := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.66.0.1", Port: 0}, nil)
	// Allocated first: envelopes parked for an unallocated shard are
	// released past the mailbox bound (see mailbox), which this test is
	// not about.
	rc.locateType("slow", 0)
	// Block the shard's worker (a local tell takes the worker path, never
	// an event loop's inline run), so that the flood fills the mailbox.
	if err := n.Tell(wire.Ref{Address: wire.Address{Path: "/_region-slow"}},
		wire.ShardEnvelope{EntityID: "blocker", Message: workload.Increment{Amount: -1}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("blocker message not run")
	}
	const total = 2000
	go func() {
		var buf []byte
		for i := range total {
			f, err := rc.reg.AppendMessageFrame(buf[:0], wire.NodeURI("live", n.Addr(), "/_region-slow"), "casty://x@127.66.0.1:0/",
				wire.ShardEnvelope{EntityID: "e", Message: workload.Increment{Amount: i}}, 0)
			if err != nil {
				return
			}
			buf = f
			if _, err := rc.c.Write(f); err != nil {
				return
			}
		}
	}()
	poll.Until(t, "mailbox full", func() bool { return n.Stats().MailboxFull > 0 })
	if p := processed.Load(); p != 0 {
		t.Fatalf("processed %d while blocked", p)
	}
	close(release)
	deadline := time.Now().Add(15 * time.Second)
	for processed.Load() != total {
		if time.Now().After(deadline) {
			t.Fatalf("processed %d of %d; stats %+v", processed.Load(), total, n.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := n.Stats()
	if st.MailboxDropped != 0 || st.MailboxHighWater > 8 {
		t.Fatalf("dropped %d, high water %d (mailbox 8)", st.MailboxDropped, st.MailboxHighWater)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if v != i {
			t.Fatalf("message %d has amount %d: out of order", i, v)
		}
	}
}

// TestEnvelopeForwardedOnceToOwner sends an envelope to a node that does not
// own its shard.
func TestEnvelopeForwardedOnceToOwner(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	c := nodetest.Start(t, 3, nodetest.Options{})
	lc := dialClient(t, c.Addr(sortedIdx(c)[0]), wire.NodeAddress{Host: "127.66.1.1", Port: 0}, nil)
	const id = "fwd-1"
	loc := lc.locate(ring.Shard(id, workload.DefaultShards))
	var other int
	for i := range 3 {
		if c.Addr(i) != loc.Node {
			other = i
			break
		}
	}
	oc := dialClient(t, c.Addr(other), wire.NodeAddress{Host: "127.66.1.2", Port: 0}, nil)
	for range 4 {
		oc.send(wire.PathRegionPrefix+"counter", wire.ShardEnvelope{EntityID: id, Message: workload.Increment{Amount: 2}})
	}
	poll.Until(t, "forwarded", func() bool { return c.Node(other).Stats().Forwarded == 4 })
	owner := dialClient(t, loc.Node, wire.NodeAddress{Host: "127.66.1.3", Port: 0}, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := owner.ask(wire.PathRegionPrefix+"counter", func(ref wire.Ref) any {
			return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
		})
		if r.(workload.CountReply).Value == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("count %v, want 8", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := c.Node(other).Stats().EntitiesStarted; s != 0 {
		t.Fatalf("non-owner started %d entities", s)
	}
}

// TestGracefulCloseHandsShardsOver closes a follower and checks the others
// see it removed and own its shards.
func TestGracefulCloseHandsShardsOver(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	c := nodetest.Start(t, 3, nodetest.Options{})
	order := sortedIdx(c)
	aL, aF := c.Addr(order[0]), c.Addr(order[2])
	w := watch(t, aL, clientID)
	lc := dialClient(t, aL, wire.NodeAddress{Host: "127.66.2.1", Port: 0}, nil)
	for s := range 9 {
		lc.locate(s)
	}
	w.waitFor(t, "follower owns shards", 10*time.Second, func(ts wire.TopologySnapshot) bool { return ownsAny(ts, aF) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Node(order[2]).Close(ctx); err != nil {
		t.Fatal(err)
	}
	c.Kill(order[2]) // already closed: only forgets it
	ts := w.waitFor(t, "shards handed over", 20*time.Second, func(ts wire.TopologySnapshot) bool {
		return !ownsAny(ts, aF) && len(ts.ShardAllocations["counter"]) == 9 && !hasStatus(ts, aF, wire.StatusUp)
	})
	for _, m := range ts.Members {
		if m.Address == aF && m.Status != wire.StatusRemoved && m.Status != wire.StatusLeaving {
			t.Fatalf("closed node has status %v, want leaving or removed", m.Status)
		}
	}
	for _, e := range ts.Registry {
		if e.Node == aF {
			t.Fatalf("closed node's service still registered: %+v", e)
		}
	}
}

// TestStoppedServiceLeavesTheRegistry stops node 1's node-stats service and
// checks that every node's snapshot drops it while the others stay.
func TestStoppedServiceLeavesTheRegistry(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	c := nodetest.Start(t, 3, nodetest.Options{})
	w := watch(t, c.Addr(0), clientID)
	w.waitFor(t, "3 services", 10*time.Second, func(ts wire.TopologySnapshot) bool { return len(ts.Registry) == 3 })
	if err := c.Node(1).StopService(context.Background(), workload.StatsPath); err != nil {
		t.Fatal(err)
	}
	ts := w.waitFor(t, "service gone", 10*time.Second, func(ts wire.TopologySnapshot) bool { return len(ts.Registry) == 2 })
	for _, e := range ts.Registry {
		if e.Node == c.Addr(1) {
			t.Fatalf("stopped service still listed: %+v", e)
		}
	}
	if err := c.Node(1).StopService(context.Background(), "/nope"); err == nil {
		t.Fatal("StopService of an unknown path succeeded")
	}
}
