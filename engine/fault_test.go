package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

func countMsgs[T any](nd *fakeNode, prefix string) int {
	n := 0
	for _, m := range nd.messages(prefix) {
		if _, ok := m.Msg.(T); ok {
			n++
		}
	}
	return n
}

// Behaviour 7: a failed connection fails its asks at once, its shards fail
// fast (never re-routed), are re-queried, and the node is reconnected.
func TestFailFastEvictRequeryNoReroute(t *testing.T) {
	cl := newFakeCluster(t, 2)
	const shard = 5
	id := entityOnShard(t, shard, 32, "ff")
	cl.setAlloc("counter", shard, 1)
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.RequeryDelay = 100 * time.Millisecond
		cfg.ReconnectMin = 50 * time.Millisecond
		cfg.ReconnectMax = 200 * time.Millisecond
		cfg.AskTimeout = 30 * time.Second
	})
	ref, _ := c.EntityRef("counter", 32)
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	n1 := cl.nodes[1]
	waitFor(t, "node 1 counts", func() bool { return n1.count(id) == 1 })
	n1.setHook(func(fc *fakeConn, m fakeMsg) bool {
		env, ok := m.Msg.(wire.ShardEnvelope)
		if !ok {
			return false
		}
		_, ok = env.Message.(workload.GetCount)
		return ok // swallow: the ask stays pending
	})
	askErr := make(chan error, 1)
	go func() {
		_, err := getCount(context.Background(), c, ref, id)
		askErr <- err
	}()
	waitFor(t, "the ask reaches node 1", func() bool { return countMsgs[wire.ShardEnvelope](n1, wire.PathRegionPrefix) == 2 })
	start := time.Now()
	n1.kill()
	select {
	case err := <-askErr:
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("pending ask: got %v, want ErrConnectionLost", err)
		}
		var ce *ConnError
		if !errors.As(err, &ce) || ce.Node != n1.addr || ce.Cause == nil {
			t.Fatalf("pending ask error %#v", err)
		}
		t.Logf("ask failed %v after the kill: %v", time.Since(start), err)
	case <-time.After(15 * time.Second):
		t.Fatal("pending ask not failed by the connection loss")
	}
	// Fail fast with the typed error, never to another node.
	var err error
	waitFor(t, "fail fast", func() bool {
		err = ref.Tell(id, workload.Increment{Amount: 1})
		return err != nil
	})
	var oe *OwnerUnavailableError
	if !errors.As(err, &oe) || !errors.Is(err, ErrOwnerUnavailable) || oe.Node != n1.addr || oe.Shard != shard || oe.Cause == nil {
		t.Fatalf("tell to a dead owner: got %v", err)
	}
	if _, err := getCount(context.Background(), c, ref, id); !errors.Is(err, ErrOwnerUnavailable) {
		t.Fatalf("ask to a dead owner: got %v", err)
	}
	// The shard is re-queried at the leader, which still names node 1.
	applied := c.Stats().LocationsApplied
	waitFor(t, "re-query", func() bool { return countMsgs[wire.GetShardLocation](cl.nodes[0], wire.PathCoordPrefix) >= 1 })
	waitFor(t, "the re-query's answer applied", func() bool { return c.Stats().LocationsApplied > applied })
	if err := ref.Tell(id, workload.Increment{Amount: 1}); !errors.Is(err, ErrOwnerUnavailable) {
		t.Fatalf("after the re-query: got %v, want ErrOwnerUnavailable", err)
	}
	if n := countMsgs[wire.ShardEnvelope](cl.nodes[0], wire.PathRegionPrefix); n != 0 {
		t.Fatalf("%d messages re-routed to node 0", n)
	}
	// The node comes back: reconnect with backoff, tells flow again.
	n1.setHook(nil)
	n1.restart()
	waitFor(t, "reconnected", func() bool { return ref.Tell(id, workload.Increment{Amount: 10}) == nil })
	waitFor(t, "node 1 counts again", func() bool { return n1.count(id) >= 10 })
	if st := c.Stats(); st.Reconnects == 0 || st.Drops[DropOwnerUnavailable] == 0 || st.AsksFailed < 2 {
		t.Fatalf("stats %+v", st)
	}
	// The cluster moves the shard: the client follows.
	cl.setAlloc("counter", shard, 0)
	cl.pushAll()
	waitFor(t, "moved", func() bool {
		_ = ref.Tell(id, workload.Increment{Amount: 100})
		return cl.nodes[0].count(id) >= 100
	})
}

// Behaviour 7: liveness. Silence moves the subscription to the next
// contact, learned members included, for the whole life of the client;
// the subscription is refreshed periodically.
func TestLivenessResubscribe(t *testing.T) {
	cl := newFakeCluster(t, 3)
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.LivenessWindow = 400 * time.Millisecond
		cfg.RefreshInterval = 100 * time.Millisecond
	})
	n0 := cl.nodes[0]
	waitFor(t, "periodic refresh", func() bool { return countMsgs[wire.SubscribeTopology](n0, wire.PathTopology) >= 4 })
	silent := func(fc *fakeConn, m fakeMsg) bool {
		_, ok := m.Msg.(wire.SubscribeTopology)
		return ok
	}
	cl.mu.Lock()
	cl.noPush = true
	cl.mu.Unlock()
	n0.setHook(silent)
	// The client only knew node 0 statically; it must move to a learned
	// member (every member is subscribed to for liveness anyway: the
	// primary, whose snapshots are applied, moves).
	waitFor(t, "re-subscribed to a learned member", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.topo.primary != nil && c.topo.primary.addr != n0.addr
	})
	if c.Stats().Resubscribes == 0 {
		t.Fatal("resubscription not counted")
	}
	// Again later: every node goes silent; the client keeps rotating.
	before := c.Stats().Resubscribes
	cl.nodes[1].setHook(silent)
	cl.nodes[2].setHook(silent)
	waitFor(t, "keeps rotating", func() bool { return c.Stats().Resubscribes >= before+2 })
	// A node answers again: snapshots flow from it.
	cl.nodes[2].setHook(nil)
	applied := c.Stats().SnapshotsApplied
	waitFor(t, "snapshots again", func() bool { return c.Stats().SnapshotsApplied > applied+2 })
}

// Behaviour 7: the subscribed node's connection dies: re-subscribe at once.
func TestPrimaryLossResubscribes(t *testing.T) {
	cl := newFakeCluster(t, 2)
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.ContactPoints = cl.contacts()
		cfg.LivenessWindow = time.Hour
	})
	// Node 1, a member, is subscribed to already (liveness); the primary
	// subscription, whose snapshots are applied, moves to it.
	waitFor(t, "subscribed to node 1", func() bool {
		return countMsgs[wire.SubscribeTopology](cl.nodes[1], wire.PathTopology) > 0
	})
	subs := countMsgs[wire.SubscribeTopology](cl.nodes[1], wire.PathTopology)
	cl.nodes[0].kill()
	waitFor(t, "node 1 primary", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.topo.primary != nil && c.topo.primary.addr == cl.nodes[1].addr
	})
	if c.Stats().Resubscribes == 0 {
		t.Fatal("not counted")
	}
	// At once (LivenessWindow is an hour): a fresh SubscribeTopology.
	waitFor(t, "re-subscribed to node 1", func() bool {
		return countMsgs[wire.SubscribeTopology](cl.nodes[1], wire.PathTopology) > subs
	})
}

// Behaviour 7 (b): epoch fencing against a restarted leader that answers
// from a fresh state (epoch 0, "everything is mine").
func TestEpochFencing(t *testing.T) {
	cl := newFakeCluster(t, 2)
	cl.setEpoch(5)
	c := dialFake(t, cl, func(cfg *Config) { cfg.RefreshInterval = 100 * time.Millisecond })
	if e := c.Stats().Epoch; e != 5 {
		t.Fatalf("epoch %d, want 5", e)
	}
	const shard = 9
	id := entityOnShard(t, shard, 32, "fence")
	n1 := cl.nodes[1]
	var fresh atomic.Bool
	fresh.Store(true)
	n1.setHook(func(fc *fakeConn, m fakeMsg) bool {
		switch x := m.Msg.(type) {
		case wire.SubscribeTopology:
			ts := cl.snapshot()
			if fresh.Load() {
				// The restarted node's view: epoch 0, itself leader
				// and owner of the shard.
				ts.AllocationEpoch = 0
				l := n1.addr
				ts.Leader = &l
				ts.ShardAllocations = map[string]map[int]wire.ShardAllocation{"counter": {shard: {Primary: n1.addr}}}
				fc.send(x.ReplyTo, ts)
				// And an unsolicited location, as a coordinator
				// that allocated it to itself would send.
				fc.send(wire.Ref{Address: wire.Address{System: x.ReplyTo.System, Host: x.ReplyTo.Host, Port: x.ReplyTo.Port, Path: "/_proxy-counter"}},
					wire.ShardLocation{ShardID: shard, Node: n1.addr})
				return true
			}
			fc.send(x.ReplyTo, ts)
			return true
		case wire.GetShardLocation:
			if fresh.Load() {
				fc.send(x.ReplyTo, wire.ShardLocation{ShardID: x.ShardID, Node: n1.addr})
				return true
			}
		}
		return false
	})
	ref, _ := c.EntityRef("counter", 32)
	cl.setLeader(1)
	// Node 0 tells the client that node 1 leads (epoch 5). Not pushAll:
	// node 1 would push the epoch-5 snapshot too, which the restarted node
	// it plays has never seen, and its stale location would then pass the
	// fence legitimately (once in go test -race -count=5 under load).
	cl.nodes[0].push(cl.snapshot())
	waitFor(t, "fenced snapshot", func() bool { return c.Stats().SnapshotsFenced > 0 })
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fenced location", func() bool { return c.Stats().LocationsFenced > 0 })
	poll.Never(t, "a message sent to the stale leader's allocation", 300*time.Millisecond,
		func() bool { return countMsgs[wire.ShardEnvelope](n1, wire.PathRegionPrefix) != 0 })
	if st := c.Stats(); st.Buffered != 1 || st.Epoch != 5 {
		t.Fatalf("stats: buffered %d epoch %d", st.Buffered, st.Epoch)
	}
	// The node catches up with the cluster (epoch 6, shard on node 0).
	cl.setAlloc("counter", shard, 0)
	fresh.Store(false)
	waitFor(t, "flushed to the real owner", func() bool { return cl.nodes[0].count(id) == 1 })
	if n := countMsgs[wire.ShardEnvelope](n1, wire.PathRegionPrefix); n != 0 {
		t.Fatalf("%d messages sent to node 1", n)
	}
}

// A node's epoch is known per link: after a reconnect, the node (which may
// have restarted with an older view) fences nothing it says until its
// first snapshot on the new link. Here node 1 leads at epoch 1 (the
// client recorded its snapshots), restarts, and on the new link answers
// the subscription with a stale "shard on me" location and no snapshot:
// the location is fenced and the shard stays with node 0.
func TestReconnectForgetsTheNodesEpoch(t *testing.T) {
	cl := newFakeCluster(t, 2)
	const shard = 9
	cl.setAlloc("counter", shard, 0)
	cl.setLeader(1)
	n1 := cl.nodes[1]
	c := dialFake(t, cl, func(cfg *Config) { cfg.ReconnectMin, cfg.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond })
	waitFor(t, "node 1's subscription", func() bool { return countMsgs[wire.SubscribeTopology](n1, wire.PathTopology) > 0 })
	id := entityOnShard(t, shard, 32, "relink")
	ref, err := c.EntityRef("counter", 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first tell on node 0", func() bool { return cl.nodes[0].count(id) == 1 })
	before := c.Stats()
	n1.kill() // before the hook: no refresh on the old link may meet it
	var stale atomic.Int64
	n1.setHook(func(fc *fakeConn, m fakeMsg) bool {
		x, ok := m.Msg.(wire.SubscribeTopology)
		if !ok {
			return false
		}
		stale.Add(1)
		fc.send(wire.Ref{Address: wire.Address{System: x.ReplyTo.System, Host: x.ReplyTo.Host, Port: x.ReplyTo.Port, Path: "/_proxy-counter"}},
			wire.ShardLocation{ShardID: shard, Node: n1.addr})
		return true
	})
	n1.restart()
	waitFor(t, "the restarted node's location judged", func() bool {
		st := c.Stats()
		return stale.Load() > 0 && st.LocationsFenced+st.LocationsApplied > before.LocationsFenced+before.LocationsApplied
	})
	if st := c.Stats(); st.LocationsApplied != before.LocationsApplied {
		t.Fatalf("a location from a relinked node without a snapshot was applied (%d applied, %d fenced before; %d, %d now)",
			before.LocationsApplied, before.LocationsFenced, st.LocationsApplied, st.LocationsFenced)
	}
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second tell on node 0", func() bool { return cl.nodes[0].count(id) == 2 })
	if n := countMsgs[wire.ShardEnvelope](n1, wire.PathRegionPrefix); n != 0 {
		t.Fatalf("%d messages sent to the restarted node", n)
	}
}

// Behaviour 7/10: UnsubscribeTopology on Close, for the same ref.
func TestUnsubscribeOnClose(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cfg := Config{ContactPoints: cl.contacts(), SystemName: testSystem, Types: cl.reg}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitTopology(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Close returns once the frame is written; the node reads it after.
	var sub, unsub string
	waitFor(t, "the unsubscribe received", func() bool {
		for _, m := range cl.nodes[0].messages(wire.PathTopology) {
			if x, ok := m.Msg.(wire.UnsubscribeTopology); ok {
				unsub = x.Subscriber.String()
			}
		}
		return unsub != ""
	})
	for _, m := range cl.nodes[0].messages(wire.PathTopology) {
		if x, ok := m.Msg.(wire.SubscribeTopology); ok {
			sub = x.ReplyTo.String()
		}
	}
	if sub == "" || unsub != sub {
		t.Fatalf("subscribe %q, unsubscribe %q", sub, unsub)
	}
}

// Behaviour 10: Shutdown flushes queued and held messages, then every
// operation fails with ErrClosed; idempotent; a cut drain is reported.
func TestShutdown(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
		if _, ok := m.Msg.(wire.GetShardLocation); ok {
			time.AfterFunc(200*time.Millisecond, func() { fc.n.handle(fc, m) })
			return true
		}
		return false
	})
	cfg := Config{ContactPoints: cl.contacts(), SystemName: testSystem, Types: cl.reg}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := c.EntityRef("counter", 32)
	const n = 3000
	for i := 0; i < n; i++ {
		for {
			err := ref.Tell("flush-me", workload.Increment{Amount: 1})
			if err == nil {
				break
			}
			if !errors.Is(err, ErrBufferFull) {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	owner := cl.nodes[0]
	waitFor(t, "every message delivered", func() bool { return owner.count("flush-me") == n })
	if err := ref.Tell("x", workload.Increment{Amount: 1}); err != ErrClosed {
		t.Fatalf("Tell after Shutdown: %v", err)
	}
	if _, err := getCount(ctx, c, ref, "x"); err != ErrClosed {
		t.Fatalf("Ask after Shutdown: %v", err)
	}
	if _, err := c.EntityRef("other", 3); err != ErrClosed {
		t.Fatalf("EntityRef after Shutdown: %v", err)
	}
	if _, err := c.Watch("k"); err != ErrClosed {
		t.Fatalf("Watch after Shutdown: %v", err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after Shutdown: %v", err)
	}

	// A drain that cannot finish: held messages whose location never
	// comes. Shutdown reports it and counts them.
	cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
		_, ok := m.Msg.(wire.GetShardLocation)
		return ok
	})
	c2, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref2, _ := c2.EntityRef("counter", 32)
	for i := 0; i < 5; i++ {
		if err := ref2.Tell("stuck", workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer scancel()
	err = c2.Shutdown(sctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cut Shutdown: got %v", err)
	}
	if d := c2.Stats().Drops[DropClosed]; d != 5 {
		t.Fatalf("closed drops %d, want 5", d)
	}
}

// Behaviour 11: Stats.
func TestStats(t *testing.T) {
	cl := newFakeCluster(t, 1)
	c := dialFake(t, cl, nil)
	ref, _ := c.EntityRef("counter", 32)
	for i := 0; i < 10; i++ {
		_ = ref.Tell("s", workload.Increment{Amount: 1})
	}
	if _, err := getCount(context.Background(), c, ref, "s"); err != nil {
		t.Fatal(err)
	}
	// The writer counts a batch after its write returns: the ask's reply
	// can be processed before.
	waitFor(t, "frames counted", func() bool { return c.Stats().FramesWritten >= 12 })
	st := c.Stats()
	if st.TellsQueued < 10 || st.FramesWritten < 12 || st.BytesWritten == 0 || st.AsksOK != 1 ||
		st.Connects == 0 || st.SnapshotsReceived == 0 || st.SnapshotsApplied == 0 || st.Epoch != 1 ||
		st.LocationQueries != 1 || st.LocationsApplied != 1 || len(st.Drops) != int(dropReasonEnd)-1 {
		t.Fatalf("stats %+v", st)
	}
}

// Every member is subscribed to (liveness), leadership moves included,
// without accumulating: a node that leaves the membership is unsubscribed,
// and its connection is collected once it is gone.
func TestSubscriptionPruneAndConnGC(t *testing.T) {
	cl := newFakeCluster(t, 3)
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.LivenessWindow = 200 * time.Millisecond
		cfg.RefreshInterval = 50 * time.Millisecond
	})
	subscriptions := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.topo.subscribed)
	}
	for i, nd := range cl.nodes {
		waitFor(t, fmt.Sprintf("subscribed to member %d", i), func() bool {
			return countMsgs[wire.SubscribeTopology](nd, wire.PathTopology) > 0
		})
	}
	for _, l := range []int{1, 2} {
		cl.setLeader(l)
		cl.pushAll()
		waitFor(t, "the new leader applied", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			lc := c.leaderConnLocked()
			return lc != nil && lc.addr == cl.nodes[l].addr
		})
	}
	if n := subscriptions(); n != 3 {
		t.Fatalf("%d subscriptions, want one per member (3)", n)
	}
	if n := countMsgs[wire.UnsubscribeTopology](cl.nodes[1], wire.PathTopology); n != 0 {
		t.Fatalf("former leader, still a member, unsubscribed %d times", n)
	}
	// Node 1 departs: out of the membership (unsubscribed), then killed
	// (collected).
	cl.mu.Lock()
	cl.gone = map[int]bool{1: true}
	cl.mu.Unlock()
	cl.pushAll()
	waitFor(t, "departed node unsubscribed", func() bool {
		return countMsgs[wire.UnsubscribeTopology](cl.nodes[1], wire.PathTopology) > 0
	})
	if n := subscriptions(); n != 2 {
		t.Fatalf("%d subscriptions after a departure, want 2", n)
	}
	gone := cl.nodes[1].addr
	c.mu.Lock()
	goneConn := c.conns[gone]
	c.mu.Unlock()
	cl.nodes[1].kill()
	waitFor(t, "connection to the departed node collected", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, nc := range c.connList {
			if nc.addr == gone {
				return false
			}
		}
		return len(c.leaving) == 0 // and its run finished
	})
	// The client's written totals are the nodes' sums, the collected
	// node's final counts included (polled: the other writers keep
	// writing subscriptions between the two reads).
	goneFrames := goneConn.stats.framesWritten.Load()
	if goneFrames == 0 {
		t.Fatal("node 1's connection wrote no frame")
	}
	waitFor(t, "Stats().FramesWritten = the live nodes' + the collected node's", func() bool {
		st := c.Stats()
		sum := goneFrames
		for _, ns := range c.Nodes() {
			sum += ns.FramesWritten
		}
		return st.FramesWritten == sum
	})
}
