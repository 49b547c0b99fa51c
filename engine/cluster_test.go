package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/testpki"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// Integration tests against the Go node (in-process 3-node cluster).

func startCluster(t *testing.T, n int, opts nodetest.Options) *nodetest.LocalCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no in-process cluster")
	}
	return nodetest.Start(t, n, opts)
}

func dialCluster(t *testing.T, lc *nodetest.LocalCluster, mod func(*Config)) *Client {
	t.Helper()
	reg := testRegistry(t)
	return dialReady(t, Config{ContactPoints: lc.ContactPoints(), SystemName: workload.DefaultSystem, Types: reg}, mod)
}

// tellAskLookup drives the counter workload through c and checks every
// count and every node's tally.
func tellAskLookup(t *testing.T, c *Client, entities, perEntity int, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < perEntity; i++ {
		for e := 0; e < entities; e++ {
			id := fmt.Sprintf("%s-%d", prefix, e)
			for {
				err := ref.Tell(id, workload.Increment{Amount: 2})
				if err == nil {
					break
				}
				if !errors.Is(err, ErrBufferFull) {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	for e := 0; e < entities; e++ {
		id := fmt.Sprintf("%s-%d", prefix, e)
		r, err := getCount(ctx, c, ref, id)
		if err != nil {
			t.Fatalf("ask %s: %v", id, err)
		}
		if r.EntityID != id || r.Value != int64(2*perEntity) {
			t.Fatalf("ask %s: got %+v, want %d", id, r, 2*perEntity)
		}
	}
	l := c.Lookup(workload.StatsKey)
	if len(l.Instances) == 0 {
		t.Fatal("no node-stats instance")
	}
	var incs int64
	for _, inst := range l.Instances {
		ns, err := AskAs[workload.NodeStats](ctx, c, inst.Ref, func(r wire.Ref) any { return workload.GetStats{ReplyTo: r} })
		if err != nil {
			t.Fatalf("stats of %s: %v", inst.Node, err)
		}
		incs += ns.Increments
	}
	if incs < int64(entities*perEntity) {
		t.Fatalf("nodes counted %d increments, want at least %d", incs, entities*perEntity)
	}
}

// Behaviours 2-6 against the Go cluster, both transports.
func TestClusterTellAskLookup(t *testing.T) {
	lc := startCluster(t, 3, nodetest.Options{})
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			c := dialCluster(t, lc, func(cfg *Config) { cfg.Transport = tr })
			tellAskLookup(t, c, 64, 20, "it-"+tr)
			if l := c.Lookup(workload.StatsKey); len(l.Instances) != 3 {
				t.Fatalf("lookup: %d instances", len(l.Instances))
			}
			st := c.Stats()
			for r, n := range st.Drops {
				if n != 0 {
					t.Fatalf("drop %s = %d: %+v", r, n, st)
				}
			}
		})
	}
}

// Behaviour 7 against the Go cluster: a node dies (its shards fail fast,
// nothing is re-routed by the client) and comes back.
func TestClusterKillRestart(t *testing.T) {
	lc := startCluster(t, 3, nodetest.Options{})
	c := dialCluster(t, lc, func(cfg *Config) {
		cfg.RequeryDelay = 100 * time.Millisecond
		cfg.ReconnectMin = 50 * time.Millisecond
		cfg.ReconnectMax = 500 * time.Millisecond
	})
	tellAskLookup(t, c, 32, 5, "kr")
	ref, _ := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	// Kill a node that is not the leader and owns shards.
	leader := *lc.Node(0).Topology().Leader
	victim := -1
	for i := 0; i < 3; i++ {
		if lc.Addr(i) != leader {
			victim = i
			break
		}
	}
	va := lc.Addr(victim)
	var owned []string
	for e := 0; e < 32; e++ {
		id := fmt.Sprintf("kr-%d", e)
		if en, ok := ref.et.table.Load().Owner(shardOf(id)); ok && en.nc.addr == va {
			owned = append(owned, id)
		}
	}
	if len(owned) == 0 {
		t.Skip("victim owns no shard of the test entities")
	}
	lc.Kill(victim)
	// Its entities fail fast once the client has seen the connection go
	// (milliseconds), until the cluster re-allocates them (seconds: the
	// membership must declare the node dead first).
	waitFor(t, "fail fast for the dead node's entities", func() bool {
		err := ref.Tell(owned[0], workload.Increment{Amount: 1})
		var oe *OwnerUnavailableError
		if errors.As(err, &oe) {
			if oe.Node != va {
				t.Fatalf("fail fast names %v, want %v", oe.Node, va)
			}
			return true
		}
		return false
	})
	if d := c.Stats().Drops[DropOwnerUnavailable]; d == 0 {
		t.Fatal("fail fast not counted as owner_unavailable")
	}
	waitFor(t, "entities of the dead node routable again", func() bool {
		return ref.Tell(owned[0], workload.Increment{Amount: 1}) == nil
	})
	// Restart: the cluster converges and everything works.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := lc.Restart(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := lc.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three stats instances", func() bool { return len(c.Lookup(workload.StatsKey).Instances) == 3 })
	// The client follows the cluster's moves; no ask fails once settled.
	waitFor(t, "reconnected to the restarted node", func() bool {
		c.mu.Lock()
		nc := c.conns[va]
		c.mu.Unlock()
		return nc != nil && nc.state.Load() == connUp
	})
	waitFor(t, "every shard routable", func() bool {
		for s := 0; s < workload.DefaultShards; s++ {
			if e, ok := ref.et.table.Load().Owner(s); ok && e.nc.state.Load() != connUp {
				return false
			}
		}
		return true
	})
	tellAskLookup(t, c, 32, 5, "kr2")
}

func shardOf(id string) int {
	return ring.Shard(id, workload.DefaultShards)
}

// Behaviour 9 against the Go cluster: mTLS, and a plaintext client refused
// with a clear error.
func TestClusterTLS(t *testing.T) {
	pki := testpki.New(t)
	lc := startCluster(t, 3, nodetest.Options{Configure: func(i int, cfg *node.Config) { cfg.TLS = pki.ServerConfig(); cfg.GossipKey = testpki.GossipKey() }})
	c := dialCluster(t, lc, func(cfg *Config) { cfg.TLS = pki.ClientConfig(true) })
	tellAskLookup(t, c, 16, 5, "tls")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Dial(ctx, Config{ContactPoints: lc.ContactPoints()[:1], SystemName: workload.DefaultSystem})
	if !errors.Is(err, ErrTLSRequired) {
		t.Fatalf("plaintext client vs TLS cluster: got %v", err)
	}
	t.Logf("plaintext vs TLS cluster: %v", err)
}

// TestClusterRoutesWithTheAnnouncedHash: against a cluster whose counter
// type shards with XXH64 (and one with MD5, the default), the client
// routes by the hash the nodes announce: every tell and ask lands on its
// shard's owner (no node forwarded anything) and every count is right.
// A client routing with another hash than the cluster's would still get
// every count right (the owner the node computes runs the entity) at the
// cost of forwards.
func TestClusterRoutesWithTheAnnouncedHash(t *testing.T) {
	for _, h := range []ring.Hash{ring.HashXXH64, ring.HashMD5} {
		t.Run(h.Name(), func(t *testing.T) {
			lc := startCluster(t, 3, nodetest.Options{Workload: workload.Options{ShardHash: h}})
			c := dialCluster(t, lc, nil)
			tellAskLookup(t, c, 64, 5, "hash-"+h.Name())
			ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
			if err != nil {
				t.Fatal(err)
			}
			if got := ref.et.table.Load().hash; got != h {
				t.Fatalf("the client routes with %v, want the announced %v", got, h)
			}
			for i, n := range lc.Nodes() {
				if st := n.Stats(); st.Forwarded != 0 || st.ForwardedReceived != 0 {
					t.Errorf("node %d forwarded %d, received %d forwards: want none (the client routes as the cluster)", i, st.Forwarded, st.ForwardedReceived)
				}
			}
		})
	}
}
