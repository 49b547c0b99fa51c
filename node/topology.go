package node

import (
	"slices"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// subscriber is a topology subscriber: snapshots go to ref over via, the
// connection its SubscribeTopology arrived on. Guarded by Node.mu.
type subscriber struct {
	ref wire.Ref
	uri string
	via *link
}

// handleSubscribe registers ref (idempotent) and sends it the current
// snapshot at once.
func (n *Node) handleSubscribe(l *link, ref wire.Ref) {
	uri := ref.String()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return
	}
	s := n.subs[uri]
	if s == nil {
		if len(n.subs) >= n.cfg.MaxSubscribers {
			n.ctr.requestsRejected.Add(1)
			n.logLimited("too many topology subscribers; refusing", "subscriber", uri, "max", n.cfg.MaxSubscribers)
			return
		}
		s = &subscriber{uri: uri}
		n.subs[uri] = s
		n.ctr.subscribers.Store(int64(len(n.subs)))
	}
	s.ref, s.via = ref, l
	n.ensureSnapshotLocked()
	n.sendSnapshotLocked(s)
}

// handleUnsubscribe removes the subscriber with ref's URI.
func (n *Node) handleUnsubscribe(ref wire.Ref) {
	n.mu.Lock()
	delete(n.subs, ref.String())
	n.ctr.subscribers.Store(int64(len(n.subs)))
	n.mu.Unlock()
}

// sweepSubscribersLocked removes every subscriber whose connection closed.
func (n *Node) sweepSubscribersLocked() {
	for k, s := range n.subs {
		if s.via.isClosed() {
			delete(n.subs, k)
		}
	}
	n.ctr.subscribers.Store(int64(len(n.subs)))
}

// pushSnapshotLocked sends the current snapshot to every subscriber.
func (n *Node) pushSnapshotLocked(now time.Time) {
	n.lastPush = now
	if len(n.subs) == 0 {
		return
	}
	n.ensureSnapshotLocked()
	for _, s := range n.subs {
		n.sendSnapshotLocked(s)
	}
}

// ensureSnapshotLocked re-encodes the snapshot payload if something changed
// since the last encoding. The payload is encoded once per change and the
// same bytes go to every subscriber; only the frame header (the target URI)
// differs.
func (n *Node) ensureSnapshotLocked() {
	if !n.snapDirty && n.snapPayload != nil {
		return
	}
	ts := n.buildSnapshotLocked()
	b, err := n.reg.AppendValue(nil, ts)
	if err != nil {
		n.ctr.snapshotsDropped.Add(int64(len(n.subs)))
		n.logLimited("encode topology snapshot", "err", err)
		return
	}
	n.snapPayload = b
	n.snapDirty = false
	n.ctr.snapshotEncodes.Add(1)
}

// sendSnapshotLocked queues one snapshot frame to s; a subscriber whose
// connection is gone is removed.
func (n *Node) sendSnapshotLocked(s *subscriber) {
	if n.snapPayload == nil {
		return
	}
	buf, start := wire.BeginFrame(n.scratch[:0], wire.FrameMessage)
	buf = wire.AppendHeader(buf, wire.Header{Target: s.uri, Sender: n.senderURI, TypeHint: wire.TypeTopologySnapshot})
	buf = append(buf, n.snapPayload...)
	buf, err := wire.EndFrame(buf, start, n.cfg.MaxFrameSize)
	n.scratch = buf[:0]
	if err != nil {
		n.ctr.snapshotsDropped.Add(1)
		n.logLimited("topology snapshot exceeds the frame limit", "err", err)
		return
	}
	if !s.via.send(buf) {
		n.ctr.snapshotsDropped.Add(1)
		delete(n.subs, s.uri)
		n.ctr.subscribers.Store(int64(len(n.subs)))
		return
	}
	n.ctr.snapshotsPushed.Add(1)
}

// buildSnapshotLocked returns the TopologySnapshot of the current state.
func (n *Node) buildSnapshotLocked() wire.TopologySnapshot {
	ts := wire.TopologySnapshot{
		Members:          make([]wire.Member, 0, len(n.members)),
		ShardAllocations: make(map[string]map[int]wire.ShardAllocation, len(n.table.shards)),
		AllocationEpoch:  n.table.epoch,
		Unreachable:      []wire.NodeAddress{},
		Registry:         []wire.ServiceEntry{},
	}
	addrs := make([]wire.NodeAddress, 0, len(n.members))
	for a := range n.members {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, wire.NodeAddress.Compare)
	for _, a := range addrs {
		m := n.members[a]
		ts.Members = append(ts.Members, wire.Member{Address: a, Status: m.status(), Roles: []string{}, ID: m.meta.ID})
		if m.unreachable {
			ts.Unreachable = append(ts.Unreachable, a)
		}
		if m.isServing() {
			for _, s := range m.meta.Services {
				ts.Registry = append(ts.Registry, wire.ServiceEntry{Key: s[0], Node: a, Path: s[1]})
			}
		}
	}
	if !n.leader.IsZero() {
		l := n.leader
		ts.Leader = &l
	}
	for typ, m := range n.table.shards {
		am := make(map[int]wire.ShardAllocation, len(m))
		for s, a := range m {
			am[s] = wire.ShardAllocation{Primary: a, Replicas: []wire.NodeAddress{}}
		}
		ts.ShardAllocations[typ] = am
	}
	return ts
}

// Topology returns the snapshot this node would push now (a fresh copy).
func (n *Node) Topology() wire.TopologySnapshot {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.buildSnapshotLocked()
}

// Leader returns the leader this node sees, if any.
func (n *Node) Leader() (wire.NodeAddress, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader, !n.leader.IsZero()
}

// Synced reports whether the node has merged the cluster's allocation table
// since it (re)joined; until then it answers no GetShardLocation.
func (n *Node) Synced() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.synced
}
