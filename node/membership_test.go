package node_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/workload/counter"
)

// TestRogueNodeCannotJoin: a node without the cluster's gossip key, or with
// another key, neither joins nor appears in any member's snapshot.
func TestRogueNodeCannotJoin(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	key := []byte("zerohop-rogue-test-key-0123456789")[:32]
	c := nodetest.Start(t, 3, nodetest.Options{Configure: func(_ int, cfg *node.Config) { cfg.GossipKey = key }})
	var seeds []string
	for _, n := range c.Nodes() {
		seeds = append(seeds, n.GossipAddr())
	}
	for _, k := range [][]byte{nil, []byte("another-key-of-32-bytes-01234567")} {
		cfg := node.Config{Seeds: seeds, GossipKey: k, Membership: node.MembershipConfig{JoinTimeout: 3 * time.Second}}
		if _, err := counter.Configure(&cfg, workload.Options{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		n, err := node.Start(ctx, cfg)
		cancel()
		if err == nil {
			n.Kill()
			t.Fatalf("a node with key %q joined a keyed cluster", k)
		}
	}
	for _, n := range c.Nodes() {
		if ts := n.Topology(); len(ts.Members) != 3 {
			t.Fatalf("%v lists %d members, want 3: %v", n.Addr(), len(ts.Members), ts.Members)
		}
		if st := n.Stats(); st.ClusterRefused == 0 && st.GossipRejected == 0 {
			t.Logf("%v: no refusal counted (the rogue was refused by memberlist's decryption)", n.Addr())
		}
	}
}

// TestPartitionHeals cuts one node off (paused) for longer than memberlist
// keeps gossiping to the dead: the others declare it dead; after the heal
// the membership merges again (the periodic re-join, or the cut node's
// refutation of its death) into one cluster with one leader and one table.
func TestPartitionHeals(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	c := nodetest.Start(t, 3, nodetest.Options{Configure: func(_ int, cfg *node.Config) {
		cfg.Membership.DownRetention = downRetentionPastGossip
	}})
	cut := sortedIdx(c)[2]
	w := watch(t, c.Addr(sortedIdx(c)[0]), clientID)
	c.Pause(cut)
	w.waitFor(t, "the cut node down", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return !hasStatus(ts, c.Addr(cut), wire.StatusUp) && !hasStatus(ts, c.Addr(cut), wire.StatusJoining)
	})
	waitForgotten(t, c, cut)
	c.Resume(cut)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	var epoch int64 = -1
	for _, n := range c.Nodes() {
		poll.Until(t, "same table everywhere", func() bool {
			ref := c.Node(sortedIdx(c)[0]).State().Epoch
			return n.State().Epoch == ref
		})
		if e := n.State().Epoch; epoch >= 0 && e != epoch {
			t.Fatalf("epochs differ after the heal: %d and %d", epoch, e)
		}
		epoch = n.State().Epoch
	}
	// Pause holds the gossip sent to the cut node (as SIGSTOP leaves it in
	// the socket): on resume it may read that it was declared dead and
	// refute it before a member's re-join reaches it. Either heals; the
	// re-join alone is TestDataDirRestart's.
	t.Logf("re-joins: cut node %d, leader %d", c.Node(cut).Stats().Rejoins, c.Node(sortedIdx(c)[0]).Stats().Rejoins)
}

// TestDataDirRestart: a node restarted from its data directory, with no
// seeds, comes back as itself with the cluster's state. Its gossip knows
// nobody: the members that saw it die join it again (the re-join loop).
func TestDataDirRestart(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	var restarting atomic.Bool
	c := nodetest.Start(t, 3, nodetest.Options{Configure: func(i int, cfg *node.Config) {
		cfg.DataDir = dirs[i]
		cfg.Membership.DownRetention = downRetentionPastGossip
		if restarting.Load() {
			cfg.Seeds = nil
		}
	}})
	lc := dialClient(t, c.Addr(sortedIdx(c)[0]), clientID, nil)
	for s := range 8 {
		lc.locate(s)
	}
	victim := sortedIdx(c)[2]
	before := c.Node(victim).State().Epoch
	w := watch(t, c.Addr(sortedIdx(c)[0]), clientID)
	c.Kill(victim)
	w.waitFor(t, "the killed node down", 30*time.Second, func(ts wire.TopologySnapshot) bool {
		return !hasStatus(ts, c.Addr(victim), wire.StatusUp) && !hasStatus(ts, c.Addr(victim), wire.StatusJoining)
	})
	// Past memberlist's gossip to the dead: from now on nothing reaches
	// the restarted node's gossip port unless a member joins it.
	waitForgotten(t, c, victim)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	restarting.Store(true)
	if err := c.Restart(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	var rejoins int64
	for _, n := range c.Nodes() {
		rejoins += n.Stats().Rejoins
	}
	if rejoins == 0 {
		t.Fatal("the restarted node, which had no seeds, is a member again without a re-join")
	}
	if e := c.Node(victim).State().Epoch; e < before {
		t.Fatalf("restarted node at epoch %d, below %d before the restart", e, before)
	}
}
