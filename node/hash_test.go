package node_test

import (
	"testing"

	"github.com/zerohop/zerohop/internal/netconn"
	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// TestHashDisagreementHostsNothing: node 0 hosts the counter type under
// XXH64, node 1 under MD5. The consensus keeps the first registration's
// hash (node 0's, which starts first; the test reads which one won from
// the announcement rather than assume it), every node announces it, and
// every shard, asked for through the node that disagrees, goes to the
// node that agrees: the other never owns one.
func TestHashDisagreementHostsNothing(t *testing.T) {
	c := nodetest.Start(t, 2, nodetest.Options{
		Workload: workload.Options{ShardHash: ring.HashXXH64},
		Configure: func(i int, cfg *node.Config) {
			if i == 1 {
				cfg.Entities[0].Hash = ring.HashMD5
			}
		},
	})
	hashOf := func(i int) string {
		rc := dialClient(t, c.Addr(i), wire.NodeAddress{Host: "127.77.3.1", Port: 0}, netconn.Extension("live", wire.RoleClient))
		defer rc.c.Close()
		for _, e := range rc.reply.Zerohop.Entities {
			if e.Type == workload.DefaultEntityType {
				return e.Hash
			}
		}
		return "missing"
	}
	// Node 1 announces the cluster's hash once its table knows the type
	// (before, its own): wait until both nodes announce the same.
	var cluster string
	poll.Until(t, "both nodes announce one hash", func() bool {
		cluster = hashOf(0)
		return cluster == hashOf(1)
	})
	agree, other := 0, 1
	if cluster == "" { // MD5 registered first
		agree, other = 1, 0
	}
	rc := dialClient(t, c.Addr(other), wire.NodeAddress{Host: "127.77.3.2", Port: 0}, netconn.Extension("live", wire.RoleClient))
	for s := range workload.DefaultShards {
		var owner wire.NodeAddress
		poll.Until(t, "the shard allocated", func() bool {
			v := rc.ask(wire.PathCoordPrefix+workload.DefaultEntityType, func(r wire.Ref) any {
				return wire.GetShardLocation{ShardID: s, ReplyTo: r}
			})
			loc, ok := v.(wire.ShardLocation)
			owner = loc.Node
			return ok
		})
		if owner != c.Addr(agree) {
			t.Fatalf("shard %d allocated to %v, want %v (node %d disagrees on the hash %q and must host nothing)",
				s, owner, c.Addr(agree), other, cluster)
		}
	}
}
