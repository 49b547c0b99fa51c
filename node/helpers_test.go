package node_test

import (
	"slices"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
)

var clientID = wire.NodeAddress{Host: "127.77.0.1", Port: 0}

// sortedIdx returns the running node indexes with the current leader
// first, then the others by address.
func sortedIdx(c *nodetest.LocalCluster) []int {
	var idx []int
	for i := range c.Len() {
		if c.Node(i) != nil {
			idx = append(idx, i)
		}
	}
	var leader wire.NodeAddress
	for _, i := range idx {
		if l, ok := c.Node(i).Leader(); ok {
			leader = l
			break
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case c.Addr(a) == leader:
			return -1
		case c.Addr(b) == leader:
			return 1
		}
		return c.Addr(a).Compare(c.Addr(b))
	})
	return idx
}

// downRetentionPastGossip is a Membership.DownRetention longer than
// memberlist's gossip to the dead: the node sets GossipToTheDeadTime to
// max(DownRetention/2, 5 s) (membership.go), 5 s here, and drops a down
// member from its snapshots DownRetention after memberlist declared it
// dead (the NotifyLeave that sets downAt).
const downRetentionPastGossip = 6 * time.Second

// waitForgotten waits until every running node but gone dropped gone from
// its snapshot (DownRetention after it saw gone die): then, with
// downRetentionPastGossip, none of them gossips to gone any more. An
// event each node reports, instead of a sleep past the gossip window.
func waitForgotten(t *testing.T, c *nodetest.LocalCluster, gone int) {
	t.Helper()
	for i := range c.Len() {
		n := c.Node(i)
		if i == gone || n == nil {
			continue
		}
		poll.Until(t, "the down member dropped from every snapshot", func() bool {
			for _, m := range n.Topology().Members {
				if m.Address == c.Addr(gone) {
					return false
				}
			}
			return true
		})
	}
}
