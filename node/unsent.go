package node

import (
	"sync"

	"github.com/zerohop/zerohop/wire"
)

// Forwards a member link could not send.
//
// A link this node dialled to a member queues what it forwards while it
// dials and until the member's handshake reply. When the dial fails, the
// reply does not come, or the link closes with frames still queued, those
// frames never left the process: they are whole frames (the writer takes
// the queue a buffer at a time, and a frame is queued whole), so they can
// be read back. Each envelope among them is routed again by the current
// table: to its mailbox here when this node owns the shard now (whatever
// its hops: delivering is not a hop), parked while the shard has no owner
// or its owner's lease lapsed, or forwarded to the owner the table names
// now (a new link: the failed one is gone) at a cost of one hop, so that a
// second failure finds no hop left and an envelope cannot circle. A link that
// failed under a paused or restarting member would otherwise lose every
// forward the move away from it released (TestNoForwardToALapsedOwner:
// 3 of 3 held envelopes dead letters in one run of five under load). An
// envelope that must be forwarded with no hop left is dropped as a dead
// letter (forwardNow: ReasonHopLimit, HopLimited): counted by shard,
// reported to OnDeadLetter, and answered with a typed Undeliverable when
// it carried a zerohop reply address, like any forward that finds no
// connection. Counted as bytes instead, a partition's forwards were lost
// without a shard to show for them (chaos partition: unexplained_lost 6
// in one of three runs).
//
// A re-routed envelope may arrive after envelopes of the same sender that
// this node forwarded later on a link that worked: the order of one
// connection's tells holds while the connections that carry them do.
//
// Teardown may run under locks a dead letter's reply needs, so it only
// queues the bytes here; housekeeping reads them back. The queue is
// bounded by unsentLimit bytes: past it frames are counted as bytes
// (DroppedPeerBytes), as are frames that are not envelopes (replies, a
// control message) and the buffer the writer had taken (partly written,
// and whatever the kernel held: that is in flight, not queued).
type unsentQueue struct {
	mu    sync.Mutex
	bufs  [][]byte
	bytes int
}

// unsentLimit bounds the bytes waiting to be read back.
func (n *Node) unsentLimit() int { return 4 * n.cfg.PeerPendingLimit }

// add takes b (the caller gives it up) unless that would pass limit.
func (q *unsentQueue) add(b []byte, limit int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bytes+len(b) > limit {
		return false
	}
	q.bufs = append(q.bufs, b)
	q.bytes += len(b)
	return true
}

func (q *unsentQueue) take() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	bufs := q.bufs
	q.bufs, q.bytes = nil, 0
	return bufs
}

// keepUnsent is teardown's half: the pending bytes of a dialled link go to
// the queue (and housekeeping is woken), or are counted as bytes.
func (n *Node) keepUnsent(pending []byte) {
	if len(pending) == 0 {
		return
	}
	if !n.unsent.add(pending, n.unsentLimit()) {
		n.ctr.droppedPeerB.Add(int64(len(pending)))
		return
	}
	n.wake()
}

// rerouteUnsent is housekeeping's half: every envelope the queue holds is
// routed again or becomes a dead letter.
func (n *Node) rerouteUnsent() {
	for _, b := range n.unsent.take() {
		for len(b) > 0 {
			typ, body, k, err := wire.ParseFrame(b, n.cfg.MaxFrameSize)
			if err != nil || k == 0 { // cannot happen: frames are queued whole
				n.ctr.droppedPeerB.Add(int64(len(b)))
				break
			}
			b = b[k:]
			if !n.rerouteFrame(typ, body) {
				n.ctr.droppedPeerB.Add(int64(k))
			}
		}
	}
}

// rerouteFrame routes one unsent frame again if it is a region's envelope
// and reports whether it was one.
func (n *Node) rerouteFrame(typ byte, body []byte) bool {
	if typ != wire.FrameMessage {
		return false
	}
	h, payload, err := wire.ParseMessage(body)
	if err != nil {
		return false
	}
	target, err := wire.ParseAddress(h.Target)
	if err != nil {
		return false
	}
	hd, ok := n.paths[target.Path]
	if !ok || hd.kind != pkRegion {
		return false
	}
	id, msg, err := n.reg.DecodeShardEnvelope(payload)
	if err != nil {
		return false
	}
	r, entityID := hd.region, string(id)
	shard := r.typ.ShardOf(entityID)
	n.ctr.forwardsUnsent.Add(1)
	hops := fwdOf(h.Sender).hops // this node's forward: the hops after it
	n.routeAgain(r, shard, entityID, msg, hops)
	return true
}

// routeAgain routes an envelope that never left this node by the current
// table (rerouteFrame): delivered here whatever its hops (delivery is not
// a hop), parked, or forwarded with hops (forwardNow: a dead letter when
// none is left).
func (n *Node) routeAgain(r *region, shard int, entityID string, msg any, hops int) {
	for {
		owner := n.route.Load().owners[r.idx][shard]
		switch {
		case owner == n.self:
			n.deliverParked(r, shard, entityID, msg, hops)
		case owner.IsZero():
			if n.loc.parkEnv(&pendingReq{typ: r.typ.Name, shard: shard,
				env: &parkedEnv{region: r, entityID: entityID, msg: msg, hops: hops}}) == routed {
				continue // allocated meanwhile
			}
		default:
			n.forwardDecoded(owner, r, shard, entityID, msg, hops, nil)
		}
		return
	}
}
