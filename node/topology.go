package node

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// subscriptions are the topology subscribers of this node and the snapshot
// it pushes to them: at once on SubscribeTopology (over the connection the
// request came on), then on every change (membership, leader, table) and
// every Config.TopologyPushInterval. The snapshot payload is encoded once
// per change; only the frame header (the target URI) differs per
// subscriber.
//
// Concurrency: mu guards subs, payload, lastPush and scratch; dirty is an
// atomic set by anyone (markTopologyChanged) and consumed by push. Lock
// order: mu, then a link's mu (sending), then the membership's mu
// (building the snapshot).
type subscriptions struct {
	n        *Node
	dirty    atomic.Bool
	mu       sync.Mutex
	subs     map[string]*subscriber // guarded by mu
	payload  []byte                 // encoded TopologySnapshot, immutable once set; guarded by mu
	lastPush time.Time              // guarded by mu
	scratch  []byte                 // guarded by mu
}

// subscriber is a topology subscriber: snapshots go to ref over via, the
// connection its SubscribeTopology arrived on.
type subscriber struct {
	ref wire.Ref
	uri string
	via *link
}

func newSubscriptions(n *Node) *subscriptions {
	s := &subscriptions{n: n, subs: map[string]*subscriber{}, lastPush: time.Now()}
	s.dirty.Store(true)
	return s
}

// markTopologyChanged makes the next housekeeping tick push a fresh
// snapshot, and wakes it.
func (n *Node) markTopologyChanged() {
	if n.subs != nil {
		n.subs.dirty.Store(true)
	}
	n.wake()
}

// subscribe registers ref (idempotent) and sends it the current snapshot
// at once.
func (s *subscriptions) subscribe(l *link, ref wire.Ref) {
	n := s.n
	if n.closing.Load() {
		return
	}
	uri := ref.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[uri]
	if sub == nil {
		if len(s.subs) >= n.cfg.MaxSubscribers {
			n.ctr.requestsRejected.Add(1)
			n.logLimited("too many topology subscribers; refusing", "subscriber", uri, "max", n.cfg.MaxSubscribers)
			return
		}
		sub = &subscriber{uri: uri}
		s.subs[uri] = sub
		n.ctr.subscribers.Store(int64(len(s.subs)))
	}
	sub.ref, sub.via = ref, l
	s.ensureLocked()
	s.sendLocked(sub)
}

// unsubscribe removes the subscriber with ref's URI.
func (s *subscriptions) unsubscribe(ref wire.Ref) {
	s.mu.Lock()
	delete(s.subs, ref.String())
	s.n.ctr.subscribers.Store(int64(len(s.subs)))
	s.mu.Unlock()
}

// sweep removes every subscriber whose connection closed.
func (s *subscriptions) sweep() {
	s.mu.Lock()
	for k, sub := range s.subs {
		if sub.via.isClosed() {
			delete(s.subs, k)
		}
	}
	s.n.ctr.subscribers.Store(int64(len(s.subs)))
	s.mu.Unlock()
}

// push sends the snapshot to every subscriber when it changed, or when
// TopologyPushInterval passed since the last push.
func (s *subscriptions) push(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty.Load() && now.Sub(s.lastPush) < s.n.cfg.TopologyPushInterval {
		return
	}
	s.lastPush = now
	if len(s.subs) == 0 {
		return
	}
	s.ensureLocked()
	for _, sub := range s.subs {
		s.sendLocked(sub)
	}
}

// ensureLocked re-encodes the snapshot payload if something changed since
// the last encoding.
func (s *subscriptions) ensureLocked() {
	n := s.n
	if !s.dirty.Swap(false) && s.payload != nil {
		return
	}
	b, err := n.reg.AppendValue(nil, n.Topology())
	if err != nil {
		n.ctr.snapshotsDropped.Add(int64(len(s.subs)))
		n.logLimited("encode topology snapshot", "err", err)
		return
	}
	s.payload = b
	n.ctr.snapshotEncodes.Add(1)
}

// sendLocked queues one snapshot frame to sub; a subscriber whose
// connection is gone is removed.
func (s *subscriptions) sendLocked(sub *subscriber) {
	n := s.n
	if s.payload == nil {
		return
	}
	buf, start := wire.BeginFrame(s.scratch[:0], wire.FrameMessage)
	buf = wire.AppendHeader(buf, wire.Header{Target: sub.uri, Sender: n.senderURI, TypeHint: wire.TypeTopologySnapshot})
	buf = append(buf, s.payload...)
	buf, err := wire.EndFrame(buf, start, n.cfg.MaxFrameSize)
	s.scratch = buf[:0]
	if err != nil {
		n.ctr.snapshotsDropped.Add(1)
		n.logLimited("topology snapshot exceeds the frame limit", "err", err)
		return
	}
	if !sub.via.send(buf) {
		n.ctr.snapshotsDropped.Add(1)
		delete(s.subs, sub.uri)
		n.ctr.subscribers.Store(int64(len(s.subs)))
		return
	}
	n.ctr.snapshotsPushed.Add(1)
}

// Topology returns the snapshot this node would push now (a fresh copy):
// the members as the gossip sees them, the consensus leader, and the
// allocation table this node has applied.
func (n *Node) Topology() wire.TopologySnapshot {
	t := n.table()
	var members []memberView
	if ms := n.members.Load(); ms != nil { // nil until startMembership
		members = ms.view()
	}
	ts := wire.TopologySnapshot{
		Members:          make([]wire.Member, 0, len(members)),
		ShardAllocations: make(map[string]map[int]wire.ShardAllocation, len(t.types)),
		AllocationEpoch:  t.epoch,
		Unreachable:      []wire.NodeAddress{},
		Registry:         []wire.ServiceEntry{},
	}
	for _, m := range members {
		ts.Members = append(ts.Members, wire.Member{Address: m.addr, Status: m.status, Roles: []string{}, ID: m.id})
		if m.unreachable {
			ts.Unreachable = append(ts.Unreachable, m.addr)
		}
		for _, s := range m.services {
			ts.Registry = append(ts.Registry, wire.ServiceEntry{Key: s[0], Node: m.addr, Path: s[1]})
		}
	}
	if l, ok := n.Leader(); ok {
		ts.Leader = &l
	}
	for typ, slots := range t.types {
		am := map[int]wire.ShardAllocation{}
		for s, sl := range slots {
			if !sl.owner.IsZero() {
				am[s] = wire.ShardAllocation{Primary: sl.owner, Replicas: []wire.NodeAddress{}}
			}
		}
		if len(am) > 0 {
			ts.ShardAllocations[typ] = am
		}
	}
	return ts
}

// Leader returns the consensus leader this node follows, if any.
func (n *Node) Leader() (wire.NodeAddress, bool) {
	return n.cons.Load().leader() // nil-safe
}

// table returns the allocation table this node has applied.
func (n *Node) table() *allocTable {
	c := n.cons.Load()
	if c == nil {
		return emptyTable
	}
	return c.fsm.table.Load()
}

// Synced reports whether the node has caught up with the cluster since it
// started (it obtained its first ownership lease); until then it answers no
// GetShardLocation.
func (n *Node) Synced() bool {
	select {
	case <-n.lease.synced:
		return true
	default:
		return false
	}
}
