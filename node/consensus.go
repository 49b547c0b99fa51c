package node

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/zerohop/zerohop/wire"
	"go.etcd.io/bbolt"
)

// consensus is the node's member of the cluster's raft group
// (hashicorp/raft): the replicated state machine (fsm.go) that holds the
// allocation table and the lease registry, its stores (in memory, or a
// bolt database and snapshot files under Config.DataDir), its transport
// over the consensus port (clusterport.go), and the leadership the
// cluster's leader comes from.
//
// Leadership: the raft leader is the cluster leader that snapshots
// announce. It starts acting on the table (leader.go) only after a barrier
// has applied every entry of earlier terms, so that its view of the lease
// registry includes every renewal a previous leader acknowledged.
//
// Concurrency: raft's own goroutines call the FSM; watchLeadership runs in
// Node.wg; the fields below are set once in startConsensus, except ready
// and leaderID (atomics).
type consensus struct {
	n         *Node
	r         *raft.Raft
	fsm       *fsm
	port      *clusterPort
	trans     *raft.NetworkTransport
	bolt      *raftboltdb.BoltStore // nil in memory
	ctl       controlClient
	notify    chan bool
	leaders   chan raft.Observation // raft's leader observations (any node's leadership, in this node's view)
	reconcile chan struct{}         // the leader should reconcile the configuration now (cap 1)

	ready atomic.Bool // this node leads and its barrier has applied
	// expiryFloor (n.mono ns) is when this leader last stalled: leases are
	// judged from no earlier than it (see leaderLoop).
	expiryFloor atomic.Int64
	leaderMu    sync.Mutex
	leaderOf    wire.NodeAddress // last leader seen (for change detection); guarded by leaderMu
}

// startConsensus opens the stores, the consensus port and raft, and
// bootstraps a new cluster when this node starts one (no seeds, no state).
func (n *Node) startConsensus() error {
	c := &consensus{n: n, notify: make(chan bool, 8), leaders: make(chan raft.Observation, 8), reconcile: make(chan struct{}, 1)}
	c.ctl.n = n
	port, err := newClusterPort(n, n.cfg.Raft, n.cfg.RaftAdvertise)
	if err != nil {
		return err
	}
	c.port = port
	existing, err := c.build()
	if err != nil {
		c.stop()
		return err
	}
	// Published whole, raft and fsm set: links and workers read it
	// (Node.table), and so does the consensus port from its start.
	n.cons.Store(c)
	port.start()
	if !existing && len(n.cfg.Seeds) == 0 {
		f := c.r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(n.self.String()), Address: raft.ServerAddress(port.addr)}}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("node: bootstrap: %w", err)
		}
		n.log.Info("started a new cluster", "consensus", port.addr)
	}
	n.wg.Add(1)
	go c.watchLeadership()
	return nil
}

// build opens c's stores and starts raft over c.port (not yet accepting),
// with the fsm, and reports whether the stores held state. On an error
// the caller stops c.
func (c *consensus) build() (existing bool, err error) {
	n, port, cc := c.n, c.port, c.n.cfg.Consensus
	var (
		logs   raft.LogStore
		stable raft.StableStore
		snaps  raft.SnapshotStore
	)
	hl := hclogFor(n.log)
	if n.cfg.DataDir == "" {
		m := raft.NewInmemStore()
		logs, stable, snaps = m, m, raft.NewInmemSnapshotStore()
	} else {
		if err := os.MkdirAll(n.cfg.DataDir, 0o700); err != nil {
			return false, fmt.Errorf("node: data dir: %w", err)
		}
		b, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(n.cfg.DataDir, "raft.db"),
			BoltOptions: &bbolt.Options{Timeout: time.Second}})
		if err != nil {
			return false, fmt.Errorf("node: data dir %s: %w", n.cfg.DataDir, err)
		}
		c.bolt = b
		logs, stable = b, b
		fs, err := raft.NewFileSnapshotStoreWithLogger(n.cfg.DataDir, 2, hl)
		if err != nil {
			return false, fmt.Errorf("node: data dir %s: %w", n.cfg.DataDir, err)
		}
		snaps = fs
	}
	existing, err = raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return false, fmt.Errorf("node: consensus state: %w", err)
	}

	c.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: addrProvider{n},
		Logger:                hl,
		Stream:                raftStream{port},
		MaxPool:               3,
		Timeout:               5 * time.Second,
		// No pipelining: the log carries a few entries a second, and
		// raft v1.7.2's pipeline can deadlock its own shutdown when a
		// peer stopped answering (the decoder exits on shutdown while the
		// sender waits to hand it a request).
		MaxRPCsInFlight: 1,
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.self.String())
	rc.HeartbeatTimeout = cc.HeartbeatTimeout
	rc.ElectionTimeout = cc.ElectionTimeout
	rc.LeaderLeaseTimeout = cc.LeaderLeaseTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = 1024
	rc.TrailingLogs = 1024
	rc.SnapshotInterval = 30 * time.Second
	rc.Logger = hl
	rc.NotifyCh = c.notify
	rc.NoLegacyTelemetry = true
	c.fsm = newFSM(n.mono, n.onTable)
	c.fsm.onTypes = n.announceTypes
	r, err := raft.NewRaft(rc, c.fsm, logs, stable, snaps, c.trans)
	if err != nil {
		return false, fmt.Errorf("node: consensus: %w", err)
	}
	c.r = r
	// NotifyCh only reports this node gaining or losing the leadership; a
	// follower learns of another leader through the observations (dropped
	// when the channel is full: onLeaderChange reads the current leader).
	r.RegisterObserver(raft.NewObserver(c.leaders, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
	return existing, nil
}

// stopConsensus shuts raft down (waiting for its goroutines), then the
// port and the stores.
func (c *consensus) stop() {
	if c == nil {
		return
	}
	var f raft.Future
	if c.r != nil {
		f = c.r.Shutdown()
	}
	// Close the connections before waiting for raft: a replication
	// goroutine waiting on a peer that never answers (stopped) would
	// otherwise keep raft's shutdown waiting for good.
	c.ctl.close()
	c.port.close()
	if c.trans != nil {
		_ = c.trans.Close()
	}
	if f != nil {
		if err := f.Error(); err != nil {
			c.n.log.Debug("raft shutdown", "err", err)
		}
	}
	if c.bolt != nil {
		_ = c.bolt.Close()
	}
}

// watchLeadership follows raft's leadership notifications: on gaining it,
// a barrier (every earlier entry applied) before the leader duties start;
// on losing it, they stop at once.
func (c *consensus) watchLeadership() {
	n := c.n
	defer n.wg.Done()
	var cancel chan struct{}
	for {
		select {
		case <-n.stop:
			if cancel != nil {
				close(cancel)
			}
			c.ready.Store(false)
			return
		case lead := <-c.notify:
			if cancel != nil {
				close(cancel)
				cancel = nil
			}
			c.ready.Store(false)
			n.onLeaderChange()
			if !lead {
				n.log.Info("no longer leading")
				continue
			}
			cancel = make(chan struct{})
			n.wg.Add(1)
			go c.lead(cancel)
		case <-c.leaders:
			n.onLeaderChange()
		}
	}
}

// lead runs while this node is the raft leader: barrier, then the leader
// duties (leader.go) until cancel is closed.
func (c *consensus) lead(cancel chan struct{}) {
	n := c.n
	defer n.wg.Done()
	for {
		err := c.r.Barrier(n.cfg.Consensus.ElectionTimeout * 2).Error()
		if err == nil {
			break
		}
		select {
		case <-cancel:
			return
		case <-n.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if c.r.State() != raft.Leader {
			return
		}
	}
	// Renewals applied before now were seen by this replica at or after
	// their commit; the ones applied by the barrier just now, late. Both
	// are safe (see lease.go).
	c.ready.Store(true)
	n.ctr.leaderTerms.Add(1)
	n.log.Info("leading", "term", c.r.CurrentTerm(), "applied", c.fsm.applied.Load())
	n.onLeaderChange()
	n.leaderLoop(cancel)
}

// leaderAddr returns the consensus address of the current leader, and
// whether it is this node.
func (c *consensus) leaderAddr() (addr string, self bool, ok bool) {
	a, id := c.r.LeaderWithID()
	if a == "" {
		return "", false, false
	}
	return string(a), string(id) == c.n.self.String(), true
}

// leader returns the node address of the current leader.
func (c *consensus) leader() (wire.NodeAddress, bool) {
	if c == nil || c.r == nil {
		return wire.NodeAddress{}, false
	}
	_, id := c.r.LeaderWithID()
	if id == "" {
		return wire.NodeAddress{}, false
	}
	a, err := wire.ParseNodeAddress(string(id))
	return a, err == nil
}

// apply proposes cmd as leader and waits for it to be applied here.
func (c *consensus) apply(cmd command, timeout time.Duration) (uint64, applyResult, error) {
	f := c.r.Apply(encodeCommand(cmd), timeout)
	if err := f.Error(); err != nil {
		return 0, applyResult{}, err
	}
	res, _ := f.Response().(applyResult)
	return f.Index(), res, res.err
}

// addrProvider resolves a server's consensus address from the membership
// (a restarted node may come back on another port); raft falls back to
// the configured address when it returns an error.
type addrProvider struct{ n *Node }

func (p addrProvider) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	a, err := wire.ParseNodeAddress(string(id))
	if err != nil {
		return "", err
	}
	ms := p.n.members.Load()
	if ms == nil {
		return "", errNoLeader
	}
	if r := ms.raftAddr(a); r != "" {
		return raft.ServerAddress(r), nil
	}
	return "", errNoLeader
}

// hclogFor adapts hashicorp's hclog (raft's logger) to the node's slog:
// raft's warnings and errors at info (elections, lost contact: worth
// seeing), the rest at debug.
func hclogFor(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:            "raft",
		Level:           hclog.Info,
		DisableTime:     true,
		IncludeLocation: false,
		Output: writerFunc(func(p []byte) (int, error) {
			s := strings.TrimSpace(string(p))
			if strings.Contains(s, "[WARN]") || strings.Contains(s, "[ERROR]") {
				l.Info(s)
			} else {
				l.Debug(s)
			}
			return len(p), nil
		}),
	})
}

var _ io.Writer = writerFunc(nil)
