package nodetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/workload/counter"
)

// Options configures a LocalCluster (a plain value); the zero value is the counter workload
// of WORKLOAD.md (system "live", counter:32, node-stats at /stats, module
// app_messages) with timings tuned for tests.
type Options struct {
	Workload workload.Options
	Logger   *slog.Logger // default: discard
	// Configure, if set, adjusts node i's Config before each (re)start.
	Configure func(i int, cfg *node.Config)
}

// LocalCluster is a set of in-process nodes. Safe for concurrent use; must
// not be copied; create it with StartLocalCluster.
type LocalCluster struct {
	opts Options

	mu      sync.Mutex
	nodes   []*node.Node // nil while killed; guarded by mu
	tallies []*counter.Tally
	listen  []string // client addresses, fixed after the first start
	gossip  []string // gossip addresses, fixed after the first start
	raft    []string // consensus addresses, fixed after the first start
}

// StartLocalCluster starts n nodes on free loopback ports; node 0 starts the
// cluster and the others join it. It returns once every node sees all n
// members up and the same leader.
func StartLocalCluster(ctx context.Context, n int, opts Options) (*LocalCluster, error) {
	if n <= 0 {
		return nil, errors.New("nodetest: need at least one node")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
		if lv := os.Getenv("ZEROHOP_TEST_LOG"); lv != "" {
			var level slog.Level
			_ = level.UnmarshalText([]byte(lv))
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		}
	}
	c := &LocalCluster{opts: opts, nodes: make([]*node.Node, n), tallies: make([]*counter.Tally, n),
		listen: make([]string, n), gossip: make([]string, n), raft: make([]string, n)}
	for i := range n {
		c.listen[i] = "127.0.0.1:0"
		c.gossip[i] = "127.0.0.1:0"
		c.raft[i] = "127.0.0.1:0"
	}
	for i := range n {
		if err := c.start(ctx, i); err != nil {
			_ = c.Close(context.Background())
			return nil, err
		}
	}
	if err := c.WaitConverged(ctx); err != nil {
		_ = c.Close(context.Background())
		return nil, err
	}
	return c, nil
}

func (c *LocalCluster) start(ctx context.Context, i int) error {
	c.mu.Lock()
	cfg := node.Config{
		Listen: c.listen[i],
		Gossip: c.gossip[i],
		Raft:   c.raft[i],
		Logger: c.opts.Logger.With("i", i),
		NodeID: fmt.Sprintf("node-%d", i),
		// Pause and Resume (partitions, a stopped owner) need the gate.
		Pausable: true,
	}
	for j, nd := range c.nodes {
		if j != i && nd != nil {
			cfg.Seeds = append(cfg.Seeds, c.gossip[j])
		}
	}
	c.mu.Unlock()
	tally, err := counter.Configure(&cfg, c.opts.Workload)
	if err != nil {
		return err
	}
	if c.opts.Configure != nil {
		c.opts.Configure(i, &cfg)
	}
	nd, err := node.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("nodetest: start node %d: %w", i, err)
	}
	c.mu.Lock()
	c.nodes[i] = nd
	c.tallies[i] = tally
	c.listen[i] = nd.Addr().String()
	c.gossip[i] = nd.GossipAddr()
	c.raft[i] = nd.RaftAddr()
	c.mu.Unlock()
	return nil
}

// Len returns the number of node slots.
func (c *LocalCluster) Len() int { return len(c.listen) }

// Node returns node i, nil while it is killed.
func (c *LocalCluster) Node(i int) *node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Nodes returns the running nodes.
func (c *LocalCluster) Nodes() []*node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node.Node
	for _, n := range c.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// Tally returns the workload tally of node i's current incarnation.
func (c *LocalCluster) Tally(i int) *counter.Tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tallies[i]
}

// Addr returns node i's client address (stable across restarts).
func (c *LocalCluster) Addr(i int) wire.NodeAddress {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, _ := wire.ParseNodeAddress(c.listen[i])
	return a
}

// ContactPoints returns the client addresses (host:port) of running nodes.
func (c *LocalCluster) ContactPoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for i, n := range c.nodes {
		if n != nil {
			out = append(out, c.listen[i])
		}
	}
	return out
}

// Kill stops node i abruptly (no leave, no flush), as a crash would.
func (c *LocalCluster) Kill(i int) {
	c.mu.Lock()
	n := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if n != nil {
		n.Kill()
	}
}

// Leave closes node i gracefully (it leaves the cluster and the leader moves
// its shards to the others), bounded by ctx; Restart starts it again.
func (c *LocalCluster) Leave(ctx context.Context, i int) error {
	c.mu.Lock()
	n := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if n == nil {
		return fmt.Errorf("nodetest: node %d is not running", i)
	}
	return n.Close(ctx)
}

// Restart starts node i again on its addresses, joining the running nodes.
func (c *LocalCluster) Restart(ctx context.Context, i int) error {
	c.mu.Lock()
	running := c.nodes[i] != nil
	c.mu.Unlock()
	if running {
		return fmt.Errorf("nodetest: node %d is running", i)
	}
	return c.start(ctx, i)
}

// Pause freezes node i (SIGSTOP-like); Resume thaws it.
func (c *LocalCluster) Pause(i int) {
	if n := c.Node(i); n != nil {
		n.Pause()
	}
}

// Resume thaws node i.
func (c *LocalCluster) Resume(i int) {
	if n := c.Node(i); n != nil {
		n.Resume()
	}
}

// WaitConverged waits until every running node sees every running node up,
// none unreachable, the same leader, has synced, and counts every running
// node as a voter of the consensus.
func (c *LocalCluster) WaitConverged(ctx context.Context) error {
	for {
		if c.converged() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodetest: cluster did not converge: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *LocalCluster) converged() bool {
	nodes := c.Nodes()
	var want []wire.NodeAddress
	for _, n := range nodes {
		want = append(want, n.Addr())
	}
	slices.SortFunc(want, wire.NodeAddress.Compare)
	var leader *wire.NodeAddress
	for _, n := range nodes {
		if !n.Synced() {
			return false
		}
		ts := n.Topology()
		var up []wire.NodeAddress
		for _, m := range ts.Members {
			if m.Status == wire.StatusUp {
				up = append(up, m.Address)
			}
		}
		if !slices.Equal(up, want) || len(ts.Unreachable) != 0 {
			return false
		}
		if ts.Leader == nil || !slices.Contains(want, *ts.Leader) || (leader != nil && *leader != *ts.Leader) {
			return false
		}
		if st := n.State(); st.Voters < len(nodes) {
			return false // every running node is a voter (it can take a failure)
		}
		leader = ts.Leader
	}
	return true
}

// Close stops every running node, in parallel, abruptly (Kill): a whole
// cluster that stops has nobody to hand its shards over to, and a graceful
// leave of every node at once would wait for quorums that are leaving too.
// Leave(i) closes one node gracefully.
func (c *LocalCluster) Close(ctx context.Context) error {
	c.mu.Lock()
	nodes := slices.Clone(c.nodes)
	clear(c.nodes)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Kill()
		}()
	}
	wg.Wait()
	return ctx.Err()
}
