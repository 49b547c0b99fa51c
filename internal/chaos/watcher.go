package chaos

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// Watcher timing.
const (
	// WatchInterval is how often the watcher asks each node for its
	// NodeState (DESIGN.md: every ~50 ms).
	WatchInterval = 50 * time.Millisecond
	// WatchTimeout is how long one GetNodeState or GetStats may take before
	// the poll counts as unanswered (a paused or dead node).
	WatchTimeout = 500 * time.Millisecond
	// StatsInterval is how often the node-stats service is polled (the
	// fallback rate series when loadgen has no -series).
	StatsInterval = 100 * time.Millisecond
	// redialPause is the pause between two failed dials of one node.
	redialPause = 200 * time.Millisecond
	// topologyPath is the watcher's subscriber path for topology snapshots.
	topologyPath = "/_chaos/topology"
)

// WatchTarget is one node to watch: Addr is host:port of its listen
// address, dialled from Netns ("" = the driver's namespace).
type WatchTarget struct {
	Name  string
	Addr  string
	Netns string
}

// NodeView is what the watcher last learnt from one node. Pointers are to
// decoded values that nobody mutates. Times are CLOCK_MONOTONIC ns of the
// watcher's receipt.
type NodeView struct {
	Target     WatchTarget
	State      *wire.NodeState
	StateAt    int64
	Snap       *wire.TopologySnapshot
	SnapAt     int64
	Stats      *workload.NodeStats
	StatsAt    int64
	Answered   int64 // GetNodeState answers
	Unanswered int64 // GetNodeState polls without an answer in WatchTimeout
	StatsOK    int64
	Connected  bool
}

type statsObs struct {
	at         int64
	increments int64
	entities   int64
}

// nodeWatch is the watcher's state for one node: one connection goroutine
// (dial, redial, topology subscription) and two pollers that use the
// current connection.
type nodeWatch struct {
	target WatchTarget
	conn   atomic.Pointer[RawConn] // current connection, nil while down

	mu         sync.Mutex
	view       NodeView   // guarded by mu
	statsHist  []statsObs // guarded by mu
	answered   atomic.Int64
	unanswered atomic.Int64
	statsOK    atomic.Int64
}

// Watcher polls every node's NodeState every WatchInterval, records the
// claims in a Ledger, keeps each node's latest topology snapshot (it
// subscribes to the topology) and polls the node-stats service. Each node
// has its own goroutines with their own deadlines, so a paused or dead node
// delays no other. A Watcher is safe for concurrent use; Close stops every
// goroutine and waits for them (idempotent).
type Watcher struct {
	ledger *Ledger
	opts   RawOptions

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	nodes []*nodeWatch // guarded by mu; append-only
}

// NewWatcher returns a watcher that dials with opts (namespace, system,
// registry).
func NewWatcher(ctx context.Context, opts RawOptions) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	return &Watcher{ledger: NewLedger(), opts: opts, ctx: ctx, cancel: cancel}
}

// Add starts watching a node and returns its index in Views.
func (w *Watcher) Add(t WatchTarget) int {
	nw := &nodeWatch{target: t}
	nw.view.Target = t
	w.mu.Lock()
	w.nodes = append(w.nodes, nw)
	i := len(w.nodes) - 1
	w.mu.Unlock()
	w.wg.Add(3)
	go w.connLoop(nw)
	go w.stateLoop(nw)
	go w.statsLoop(nw)
	return i
}

// Ledger returns the claims ledger.
func (w *Watcher) Ledger() *Ledger { return w.ledger }

// Close stops every goroutine and closes every connection.
func (w *Watcher) Close() {
	w.cancel()
	w.wg.Wait()
}

// Views returns a copy of every node's latest view, in Add order.
func (w *Watcher) Views() []NodeView {
	w.mu.Lock()
	nodes := slices.Clone(w.nodes)
	w.mu.Unlock()
	out := make([]NodeView, len(nodes))
	for i, nw := range nodes {
		nw.mu.Lock()
		out[i] = nw.view
		nw.mu.Unlock()
		out[i].Answered = nw.answered.Load()
		out[i].Unanswered = nw.unanswered.Load()
		out[i].StatsOK = nw.statsOK.Load()
		out[i].Connected = nw.conn.Load() != nil
	}
	return out
}

// StatesAnswered returns how many GetNodeState polls were answered in all.
func (w *Watcher) StatesAnswered() int64 {
	var n int64
	for _, v := range w.Views() {
		n += v.Answered
	}
	return n
}

// StatsSeries returns the increments applied per node over time, from the
// node-stats poller: key i is node i (Add order). It is the fallback rate
// series when loadgen writes none.
func (w *Watcher) StatsSeries() Series {
	w.mu.Lock()
	nodes := slices.Clone(w.nodes)
	w.mu.Unlock()
	s := Series{Source: "node-stats poll (increments applied per node)"}
	for i, nw := range nodes {
		nw.mu.Lock()
		hist := slices.Clone(nw.statsHist)
		nw.mu.Unlock()
		at := make([]int64, len(hist))
		tot := make([][]float64, len(hist))
		for j, h := range hist {
			at[j] = h.at
			tot[j] = make([]float64, len(nodes))
			tot[j][i] = float64(h.increments)
		}
		s.Samples = append(s.Samples, FromCumulative("", at, tot).Samples...)
	}
	slices.SortStableFunc(s.Samples, func(a, b Sample) int {
		switch {
		case a.End < b.End:
			return -1
		case a.End > b.End:
			return 1
		}
		return 0
	})
	return s
}

func (w *Watcher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// connLoop keeps one connection to the node: it dials, subscribes to the
// topology, waits for the connection to end, and dials again.
func (w *Watcher) connLoop(nw *nodeWatch) {
	defer w.wg.Done()
	for w.ctx.Err() == nil {
		o := w.opts
		o.Netns = nw.target.Netns
		o.Timeout = time.Second
		rc, err := DialRaw(w.ctx, nw.target.Addr, o)
		if err != nil {
			if !w.sleep(redialPause) {
				return
			}
			continue
		}
		rc.Subscribe(topologyPath, func(m any) {
			ts, ok := asTopology(m)
			if !ok {
				return
			}
			at := monoNow()
			nw.mu.Lock()
			nw.view.Snap, nw.view.SnapAt = ts, at
			nw.mu.Unlock()
		})
		_ = rc.Send(wire.PathTopology, wire.SubscribeTopology{ReplyTo: rc.Ref(topologyPath)})
		nw.conn.Store(rc)
		select {
		case <-rc.Done():
		case <-w.ctx.Done():
		}
		nw.conn.Store(nil)
		_ = rc.Close()
		if !w.sleep(redialPause) {
			return
		}
	}
}

// stateLoop asks for the NodeState every WatchInterval.
func (w *Watcher) stateLoop(nw *nodeWatch) {
	defer w.wg.Done()
	for w.ctx.Err() == nil {
		start := time.Now()
		if rc := nw.conn.Load(); rc != nil {
			ctx, cancel := context.WithTimeout(w.ctx, WatchTimeout)
			m, err := rc.Ask(ctx, wire.PathNode, func(r wire.Ref) any { return wire.GetNodeState{ReplyTo: r} })
			cancel()
			if st, ok := asNodeState(m); err == nil && ok {
				at := monoNow()
				w.ledger.Record(st)
				nw.answered.Add(1)
				nw.mu.Lock()
				nw.view.State, nw.view.StateAt = st, at
				nw.mu.Unlock()
			} else if w.ctx.Err() == nil {
				nw.unanswered.Add(1)
			}
		}
		if !w.sleep(WatchInterval - time.Since(start)) {
			return
		}
	}
}

// statsLoop asks the node-stats service every StatsInterval.
func (w *Watcher) statsLoop(nw *nodeWatch) {
	defer w.wg.Done()
	for w.ctx.Err() == nil {
		start := time.Now()
		if rc := nw.conn.Load(); rc != nil {
			ctx, cancel := context.WithTimeout(w.ctx, WatchTimeout)
			m, err := rc.Ask(ctx, workload.StatsPath, func(r wire.Ref) any { return workload.GetStats{ReplyTo: r} })
			cancel()
			if ns, ok := asNodeStats(m); err == nil && ok {
				at := monoNow()
				nw.statsOK.Add(1)
				nw.mu.Lock()
				nw.view.Stats, nw.view.StatsAt = ns, at
				nw.statsHist = append(nw.statsHist, statsObs{at: at, increments: ns.Increments, entities: ns.Entities})
				nw.mu.Unlock()
			}
		}
		if !w.sleep(StatsInterval - time.Since(start)) {
			return
		}
	}
}

// The registry decodes registered structs as values; pointers are
// accepted too.

func asNodeState(m any) (*wire.NodeState, bool) {
	switch v := m.(type) {
	case wire.NodeState:
		return &v, true
	case *wire.NodeState:
		return v, v != nil
	}
	return nil, false
}

func asTopology(m any) (*wire.TopologySnapshot, bool) {
	switch v := m.(type) {
	case wire.TopologySnapshot:
		return &v, true
	case *wire.TopologySnapshot:
		return v, v != nil
	}
	return nil, false
}

func asNodeStats(m any) (*workload.NodeStats, bool) {
	switch v := m.(type) {
	case workload.NodeStats:
		return &v, true
	case *workload.NodeStats:
		return v, v != nil
	}
	return nil, false
}

func asCountReply(m any) (*workload.CountReply, bool) {
	switch v := m.(type) {
	case workload.CountReply:
		return &v, true
	case *workload.CountReply:
		return v, v != nil
	}
	return nil, false
}
