package node

import (
	"time"

	"github.com/zerohop/zerohop/wire"
)

// pendingReq is a GetShardLocation, or an envelope for an unallocated
// shard, waiting for the table, the leader, or our own sync. Guarded by
// Node.mu; at most Config.MaxPendingRequests exist; each expires at its
// deadline (dropped and counted).
type pendingReq struct {
	typ      string
	shard    int
	deadline time.Time
	replyTo  wire.Ref   // GetShardLocation: where to answer
	via      *link      // the connection it arrived on (nil: local)
	env      *parkedEnv // or: an envelope waiting for its shard's owner
}

// parkedEnv is an envelope received for a shard with no owner yet.
type parkedEnv struct {
	region   *region
	entityID string
	msg      any
	body     []byte // copy of the message frame body, to forward unchanged
}

type shardKey struct {
	typ   string
	shard int
}

// askRetry is how often a follower re-asks the leader for a shard it still
// waits for (the leader may have changed, or the answer was lost).
const askRetry = 500 * time.Millisecond

// handleGetShardLocation serves GetShardLocation at /_coord-{typ}.
func (n *Node) handleGetShardLocation(l *link, typ string, req wire.GetShardLocation) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return
	}
	if shards, ok := n.typeShardsLocked(typ); ok && (req.ShardID < 0 || req.ShardID >= shards) {
		n.ctr.requestsRejected.Add(1)
		n.logLimited("GetShardLocation for a shard out of range", "type", typ, "shard", req.ShardID, "shards", shards)
		return
	}
	if req.ShardID < 0 || req.ShardID >= maxShards {
		n.ctr.requestsRejected.Add(1)
		return
	}
	n.locateLocked(&pendingReq{typ: typ, shard: req.ShardID, replyTo: req.ReplyTo, via: l})
}

// locateLocked completes p at once when its shard's owner is known (the
// leader allocates an unknown shard first), and parks it otherwise. It
// reports false when p was dropped because the pending queue is full
// (counted).
func (n *Node) locateLocked(p *pendingReq) bool {
	if _, ok := n.table.owner(p.typ, p.shard); !ok && n.leading {
		n.allocateLocked(p.typ, p.shard)
	}
	if owner, ok := n.answerLocked(p); ok {
		n.completeLocked(p, owner)
		return true
	}
	return n.parkLocked(p)
}

// handleShardLocation takes the leader's answer to a question we asked on
// behalf of waiting requests.
func (n *Node) handleShardLocation(typ string, loc wire.ShardLocation) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.asked, shardKey{typ, loc.ShardID})
	if loc.Node.IsZero() {
		return
	}
	kept := n.pending[:0]
	for _, p := range n.pending {
		if p.typ == typ && p.shard == loc.ShardID {
			n.completeLocked(p, loc.Node)
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == len(n.pending) {
		n.ctr.lateLocations.Add(1) // nothing waited for it (answered, expired, or a duplicate)
	}
	clear(n.pending[len(kept):])
	n.pending = kept
}

// answerLocked returns the owner of p's shard if p may be completed now.
// It never allocates (so it never installs a table), which keeps
// resolvePendingLocked free of re-entrance.
//
// A GetShardLocation is answered only once this node has merged the
// cluster's table (synced) and, on the leader, once its table has been
// pushed to every alive member (Node.replicated), so that an allocation a
// client was told about survives the leader's death.
//
// A parked envelope follows the table as soon as it names an owner: the
// route, built from the same table right after the parked envelopes are
// released (setTableLocked), sends later envelopes of the same connection
// straight to the owner, so holding it longer would let them overtake it.
func (n *Node) answerLocked(p *pendingReq) (wire.NodeAddress, bool) {
	o, ok := n.table.owner(p.typ, p.shard)
	if !ok || p.env != nil {
		return o, ok
	}
	if !n.synced || (n.leading && n.replicated < n.table.epoch) {
		return wire.NodeAddress{}, false
	}
	return o, true
}

// allocateLocked allocates (typ, shard) as leader in a new epoch.
func (n *Node) allocateLocked(typ string, shard int) (wire.NodeAddress, bool) {
	shards, ok := n.typeShardsLocked(typ)
	if !ok || shard < 0 || shard >= shards {
		return wire.NodeAddress{}, false
	}
	owner, ok := n.pickOwner(n.table, typ)
	if !ok {
		return wire.NodeAddress{}, false
	}
	t := n.table.clone(n.nextEpochLocked(), n.self)
	m := t.shards[typ]
	if m == nil {
		m = map[int]wire.NodeAddress{}
		t.shards[typ] = m
	}
	m[shard] = owner
	n.ctr.allocations.Add(1)
	n.setTableLocked(t, true)
	return owner, true
}

// parkLocked queues p until it can be answered, and asks the leader. When
// the queue is full, p is dropped and counted (Stats.RequestsRejected) and
// parkLocked reports false.
func (n *Node) parkLocked(p *pendingReq) bool {
	if len(n.pending) >= n.cfg.MaxPendingRequests {
		n.ctr.requestsRejected.Add(1)
		n.logLimited("pending request queue full; dropping", "type", p.typ, "shard", p.shard)
		return false
	}
	now := time.Now()
	p.deadline = now.Add(n.cfg.RequestTimeout)
	n.pending = append(n.pending, p)
	n.askLeaderLocked(p.typ, p.shard, now)
	return true
}

// askLeaderLocked sends GetShardLocation to the leader's coordinator with
// our own coordinator as reply_to, at most once per askRetry per shard.
func (n *Node) askLeaderLocked(typ string, shard int, now time.Time) {
	if !n.synced || n.leading || n.leader.IsZero() || n.leader == n.self {
		return
	}
	k := shardKey{typ, shard}
	if t, ok := n.asked[k]; ok && now.Sub(t) < askRetry {
		return
	}
	n.asked[k] = now
	msg := wire.GetShardLocation{ShardID: shard, ReplyTo: wire.Ref{Address: wire.Address{
		System: n.cfg.System, Host: n.self.Host, Port: n.self.Port, Path: wire.PathCoordPrefix + typ}}}
	frame, err := n.reg.AppendMessageFrame(n.scratch[:0], wire.NodeURI(n.cfg.System, n.leader, wire.PathCoordPrefix+typ),
		n.senderURI, msg, n.cfg.MaxFrameSize)
	if err != nil {
		n.ctr.droppedReplies.Add(1)
		n.log.Error("encode GetShardLocation", "err", err)
		return
	}
	n.scratch = frame[:0]
	n.sendNode(n.leader, frame)
}

// resolvePendingLocked completes what can be completed, expires what is
// past its deadline and re-asks the leader for the rest. It does not
// allocate (see servePendingLocked) and does not re-enter itself: nothing
// it calls installs a table or parks a request.
func (n *Node) resolvePendingLocked(now time.Time) {
	if len(n.pending) == 0 {
		return
	}
	kept := n.pending[:0]
	for _, p := range n.pending {
		if owner, ok := n.answerLocked(p); ok {
			n.completeLocked(p, owner)
			continue
		}
		if now.After(p.deadline) {
			n.ctr.requestsExpired.Add(1)
			n.logLimited("shard location request expired", "type", p.typ, "shard", p.shard,
				"synced", n.synced, "leader", n.leader.String())
			continue
		}
		n.askLeaderLocked(p.typ, p.shard, now)
		kept = append(kept, p)
	}
	clear(n.pending[len(kept):])
	n.pending = kept
}

// servePendingLocked is resolvePendingLocked preceded, on the leader, by
// one allocation (one new epoch) of every shard a waiting request needs.
func (n *Node) servePendingLocked(now time.Time) {
	if n.leading {
		n.allocatePendingLocked()
	}
	n.resolvePendingLocked(now)
}

// allocatePendingLocked allocates, as leader and in one new epoch, every
// unallocated shard that a pending request waits for; installing the table
// releases the parked envelopes of those shards.
func (n *Node) allocatePendingLocked() {
	var t *allocTable
	added := 0
	for _, p := range n.pending {
		if _, ok := n.table.owner(p.typ, p.shard); ok {
			continue
		}
		if t != nil {
			if _, ok := t.owner(p.typ, p.shard); ok {
				continue
			}
		}
		if shards, ok := n.typeShardsLocked(p.typ); !ok || p.shard < 0 || p.shard >= shards {
			continue
		}
		if t == nil {
			t = n.table.clone(0, n.self)
		}
		owner, ok := n.pickOwner(t, p.typ)
		if !ok {
			continue
		}
		m := t.shards[p.typ]
		if m == nil {
			m = map[int]wire.NodeAddress{}
			t.shards[p.typ] = m
		}
		m[p.shard] = owner
		added++
	}
	if added > 0 {
		n.ctr.allocations.Add(int64(added))
		t.epoch = n.nextEpochLocked()
		n.setTableLocked(t, true)
	}
}

func (n *Node) expirePendingLocked(now time.Time) {
	n.servePendingLocked(now)
	for k, t := range n.asked {
		if now.Sub(t) > n.cfg.RequestTimeout {
			delete(n.asked, k)
		}
	}
}

// completeLocked answers p with owner.
func (n *Node) completeLocked(p *pendingReq, owner wire.NodeAddress) {
	if e := p.env; e != nil {
		if owner == n.self {
			if !e.region.boxes[p.shard].pushParked(envelope{entityID: e.entityID, msg: e.msg}) {
				n.ctr.mailboxDropped.Add(1)
				n.logLimited("mailbox full; dropping a parked envelope", "type", p.typ, "shard", p.shard)
			}
			return
		}
		n.forward(owner, e.body)
		return
	}
	n.replyLocationLocked(p.replyTo, p.via, p.shard, owner)
}

// replyLocationLocked sends ShardLocation to ref, over via when it is the
// connection of ref's identity.
func (n *Node) replyLocationLocked(ref wire.Ref, via *link, shard int, owner wire.NodeAddress) {
	frame, err := n.reg.AppendMessageFrameTo(n.scratch[:0], ref.Address, n.senderURI,
		wire.ShardLocation{ShardID: shard, Node: owner, Replicas: []wire.NodeAddress{}}, n.cfg.MaxFrameSize)
	if err != nil {
		n.ctr.droppedReplies.Add(1)
		n.log.Error("encode ShardLocation", "err", err)
		return
	}
	n.scratch = frame[:0]
	n.ctr.locationsAnswered.Add(1)
	if via != nil && via.peerID() == ref.Node() && via.send(frame) {
		return
	}
	n.sendNode(ref.Node(), frame)
}
