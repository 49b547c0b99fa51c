package node_test

import (
	"slices"

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
