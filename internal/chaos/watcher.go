package chaos

import (
	"context"
	"maps"
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
	// WatchTimeout is how long one GetNodeState or GetShardTally may take
	// before the poll counts as unanswered (a paused or dead node).
	WatchTimeout = 500 * time.Millisecond
	// TallyInterval is how often each node's per-shard tally is polled
	// (the applied-while-claimed check).
	TallyInterval = 100 * time.Millisecond
	// redialPause is the pause between two failed dials of one node.
	redialPause = 200 * time.Millisecond
)

// WatchTarget is one node to watch: Addr is host:port of its listen
// address (its identity), dialled from Netns ("" = the driver's
// namespace).
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
	Tally      *workload.ShardTally
	TallyAt    int64
	Answered   int64 // GetNodeState answers
	Unanswered int64 // GetNodeState polls without an answer in WatchTimeout
	TallyOK    int64 // GetShardTally answers
	Connected  bool
}

// TallyObs is one answered GetShardTally: the tally was taken by the node
// at some instant in [Sent, Recv] (CLOCK_MONOTONIC ns).
type TallyObs struct {
	Sent, Recv  int64
	Incarnation int64
	Applied     []int64 // applied + retired per shard: every amount the incarnation applied
	Final       bool
}

// nodeWatch is the watcher's state for one node: one connection goroutine
// (dial, redial) and two pollers that use the current connection.
type nodeWatch struct {
	target WatchTarget
	conn   atomic.Pointer[RawConn] // current connection, nil while down

	mu         sync.Mutex
	view       NodeView   // guarded by mu
	tallies    []TallyObs // guarded by mu
	answered   atomic.Int64
	unanswered atomic.Int64
	tallyOK    atomic.Int64
}

// MemberSighting is what the watcher saw of one address in the members
// lists of the NodeStates it polled.
type MemberSighting struct {
	States   int64                       // NodeStates that listed it
	Statuses map[wire.MemberStatus]int64 // how often with each status
	By       map[string]int64            // which nodes listed it
	First    int64                       // CLOCK_MONOTONIC of the first sighting
}

// Watcher polls every node's NodeState every WatchInterval and records
// the claims in a Ledger and the members lists; it polls every node's
// per-shard tally every TallyInterval. Each node has its own goroutines
// with their own deadlines, so a paused or dead node delays no other. A
// Watcher is safe for concurrent use; Close stops every goroutine and
// waits for them (idempotent).
type Watcher struct {
	ledger *Ledger
	opts   RawOptions

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	nodes   []*nodeWatch               // guarded by mu; append-only
	members map[string]*MemberSighting // guarded by mu
}

// NewWatcher returns a watcher that dials with opts (namespace, system,
// registry).
func NewWatcher(ctx context.Context, opts RawOptions) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	return &Watcher{ledger: NewLedger(), opts: opts, ctx: ctx, cancel: cancel, members: map[string]*MemberSighting{}}
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
	go w.tallyLoop(nw)
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
		out[i].TallyOK = nw.tallyOK.Load()
		out[i].Connected = nw.conn.Load() != nil
	}
	return out
}

// Tallies returns every answered tally poll of the node at index i, in
// order.
func (w *Watcher) Tallies(i int) []TallyObs {
	w.mu.Lock()
	nw := w.nodes[i]
	w.mu.Unlock()
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return slices.Clone(nw.tallies)
}

// Members returns what the watcher saw of each address in the members
// lists of every NodeState so far.
func (w *Watcher) Members() map[string]MemberSighting {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]MemberSighting, len(w.members))
	for a, s := range w.members {
		out[a] = MemberSighting{States: s.States, Statuses: maps.Clone(s.Statuses), By: maps.Clone(s.By), First: s.First}
	}
	return out
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

// connLoop keeps one connection to the node: it dials, waits for the
// connection to end, and dials again.
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
				w.recordMembers(st, at)
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

func (w *Watcher) recordMembers(st *wire.NodeState, at int64) {
	by := st.Node.String()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range st.Members {
		a := m.Address.String()
		s := w.members[a]
		if s == nil {
			s = &MemberSighting{Statuses: map[wire.MemberStatus]int64{}, By: map[string]int64{}, First: at}
			w.members[a] = s
		}
		s.States++
		s.Statuses[m.Status]++
		s.By[by]++
	}
}

// tallyLoop asks the node-stats service for the per-shard tally every
// TallyInterval.
func (w *Watcher) tallyLoop(nw *nodeWatch) {
	defer w.wg.Done()
	for w.ctx.Err() == nil {
		start := time.Now()
		if rc := nw.conn.Load(); rc != nil {
			sent := monoNow()
			ctx, cancel := context.WithTimeout(w.ctx, WatchTimeout)
			m, err := rc.Ask(ctx, workload.StatsPath, func(r wire.Ref) any { return workload.GetShardTally{ReplyTo: r} })
			cancel()
			if t, ok := asShardTally(m); err == nil && ok {
				at := monoNow()
				ob := TallyObs{Sent: sent, Recv: at, Incarnation: t.Incarnation, Final: t.Final, Applied: make([]int64, len(t.Applied))}
				for s, v := range t.Applied {
					ob.Applied[s] = v
					if s < len(t.Retired) {
						ob.Applied[s] += t.Retired[s]
					}
				}
				nw.tallyOK.Add(1)
				nw.mu.Lock()
				nw.view.Tally, nw.view.TallyAt = t, at
				nw.tallies = append(nw.tallies, ob)
				nw.mu.Unlock()
			}
		}
		if !w.sleep(TallyInterval - time.Since(start)) {
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

func asShardTally(m any) (*workload.ShardTally, bool) {
	switch v := m.(type) {
	case workload.ShardTally:
		return &v, true
	case *workload.ShardTally:
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
