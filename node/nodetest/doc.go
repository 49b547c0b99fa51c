// Package nodetest runs an in-process cluster of zerohop nodes on loopback
// with the counter workload of WORKLOAD.md built in, for tests, the
// engine's integration tests and the load generator's embedded mode.
//
// A LocalCluster is safe for concurrent use. Node i keeps its client and
// gossip addresses for the life of the cluster, so Restart(i) brings it back
// on the same addresses.
//
// Usage:
//
//	c, err := nodetest.StartLocalCluster(ctx, 3, nodetest.Options{})
//	defer c.Close(ctx)
//	contacts := c.ContactPoints() // "127.0.0.1:port" of the running nodes
//	c.Kill(1)                     // abrupt stop, no leave
//	err = c.Leave(ctx, 2)         // graceful close of one node
//	err = c.Restart(ctx, 1)       // same addresses, joins the others
//	c.Pause(0); c.Resume(0)       // SIGSTOP-like freeze
//
// In a test, Start(t, 3, opts) does the same, fails the test if the cluster
// does not start and closes it when the test ends.
//
// Timings are node.Config's defaults (membership tuned for loopback: a
// killed node is down within a few seconds); Options.Configure adjusts any
// node's Config (TLS, limits) before each start.
//
// Nodes start one after another: node 0 bootstraps the consensus and
// leads; the others join through the running nodes' gossip addresses and
// are added to the consensus by the leader. A restarted node keeps its
// addresses (client, gossip, consensus) and rejoins through the running
// nodes. Close stops every node at once, abruptly (see Close).
// ZEROHOP_TEST_LOG=debug|info|warn sends the nodes' logs to stderr.
package nodetest
