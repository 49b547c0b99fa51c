package node

import (
	"sync"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// locator answers GetShardLocation and holds what waits for a shard's
// owner: location requests, and envelopes that arrived for a shard with no
// owner yet. It asks the leader to allocate the shards they wait for
// (control RPC, one allocator goroutine) and releases them when the table
// names an owner (onTable), or when they expire (RequestTimeout: envelopes
// become dead letters, requests are dropped; both counted).
//
// A node vouches for an owner only while it holds a valid lease (it is in
// contact with a quorum): otherwise a zerohop client is told at once that
// the shard is unavailable for lack of quorum (wire.ShardUnavailable), and
// a Casty client's request waits (Casty's own coordinator answers nothing
// while it has no allocation to give).
//
// Concurrency: mu guards pending and need; it is taken before a link's or
// a mailbox's lock (sending a reply, releasing an envelope), never after.
type locator struct {
	n       *Node
	mu      sync.Mutex
	pending []*pendingReq          // guarded by mu; at most Config.MaxPendingRequests
	need    map[shardKey]time.Time // guarded by mu: shards to allocate, with the time of the last ask (zero: not asked yet)
	wake    chan struct{}          // the allocator has work (cap 1)
}

// pendingReq is a GetShardLocation, or an envelope for an unallocated
// shard, waiting for the table.
type pendingReq struct {
	typ      string
	shard    int
	deadline time.Time
	replyTo  wire.Ref   // GetShardLocation: where to answer
	via      *link      // the connection it arrived on (nil: local)
	zerohop  bool       // the asker is a zerohop peer (may be told ShardUnavailable)
	env      *parkedEnv // or: an envelope waiting for its shard's owner
	minEpoch int64      // an envelope forwarded from a newer table: waits for a table at least this new
}

// parkedEnv is an envelope received for a shard with no owner yet.
type parkedEnv struct {
	region   *region
	entityID string
	msg      any
	hops     int
}

type shardKey struct {
	typ   string
	shard int
}

func newLocator(n *Node) *locator {
	return &locator{n: n, need: map[shardKey]time.Time{}, wake: make(chan struct{}, 1)}
}

// handleGetShardLocation serves GetShardLocation at /_coord-{typ}.
func (n *Node) handleGetShardLocation(l *link, typ string, req wire.GetShardLocation) {
	if n.closing.Load() {
		return
	}
	shards, ok := n.typeShards(typ)
	if (ok && (req.ShardID < 0 || req.ShardID >= shards)) || req.ShardID < 0 || req.ShardID >= maxShards {
		n.ctr.requestsRejected.Add(1)
		n.logLimited("GetShardLocation for a shard out of range", "type", typ, "shard", req.ShardID, "shards", shards)
		return
	}
	zh := l != nil && l.zerohop
	p := &pendingReq{typ: typ, shard: req.ShardID, replyTo: req.ReplyTo, via: l, zerohop: zh}
	if !n.leaseValid() {
		if zh {
			n.replyUnavailable(p, wire.ReasonNoQuorum)
			return
		}
	} else if owner, ok := n.cons.Load().fsm.table.Load().owner(typ, req.ShardID); ok {
		n.replyLocation(p.replyTo, p.via, p.shard, owner)
		return
	}
	n.loc.park(p)
}

// park queues p until the table names its shard's owner, and makes sure
// the shard's allocation is asked for. It reports false when the queue is
// full: p is dropped and counted (an envelope becomes a dead letter).
func (lc *locator) park(p *pendingReq) bool {
	lc.mu.Lock()
	ok := lc.parkLocked(p)
	lc.mu.Unlock()
	return ok
}

// Results of parkEnv.
type parkResult uint8

const (
	parked  parkResult = iota // queued until the shard has an owner
	routed                    // the route names an owner now: deliver or forward it instead
	refused                   // the queue is full: a dead letter
)

// parkStale parks an envelope whose shard's owner has lost its lease
// (forwardDecoded): it waits, in order with the ones before it, until the
// table names an owner that holds one, or its deadline (a dead letter).
func (lc *locator) parkStale(p *pendingReq) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.parkLocked(p)
}

// parkNewer parks an envelope forwarded by a node whose table (epoch
// p.minEpoch) is newer than the route, and reports true; false when the
// route is that new by now (route it). Checked under lc.mu, where onTable
// releases and publishes: never parked after the table that releases it.
func (lc *locator) parkNewer(p *pendingReq) bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.n.route.Load().epoch >= p.minEpoch {
		return false
	}
	lc.parkLocked(p) // refused: a dead letter, counted there
	return true
}

// parkEnv parks an envelope for an unallocated shard, unless the route
// names an owner by now. onTable releases the parked envelopes and
// publishes the route under lc.mu, so an envelope parked here is either
// released by that table or sees its route: never parked after the route
// that would release it, where a later envelope of the same connection
// could overtake it.
func (lc *locator) parkEnv(p *pendingReq) parkResult {
	e := p.env
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !lc.n.route.Load().owners[e.region.idx][p.shard].IsZero() {
		return routed
	}
	if !lc.parkLocked(p) {
		return refused
	}
	return parked
}

// parkLocked is park with lc.mu held.
func (lc *locator) parkLocked(p *pendingReq) bool {
	n := lc.n
	if len(lc.pending) >= n.cfg.MaxPendingRequests {
		n.ctr.requestsRejected.Add(1)
		n.logLimited("pending request queue full; dropping", "type", p.typ, "shard", p.shard)
		if e := p.env; e != nil {
			n.deadLetter(DeadLetter{Type: p.typ, Shard: p.shard, EntityID: e.entityID, Msg: e.msg, Reason: wire.ReasonNoOwner})
		}
		return false
	}
	p.deadline = time.Now().Add(n.cfg.RequestTimeout)
	lc.pending = append(lc.pending, p)
	k := shardKey{p.typ, p.shard}
	if _, ok := lc.need[k]; !ok {
		lc.need[k] = time.Time{}
		select {
		case lc.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// resolve completes what the table t answers, expires what is past its
// deadline, and re-asks for the allocation of the rest. Called by
// housekeeping and the allocator; onTable calls resolveLocked.
func (lc *locator) resolve(t *allocTable, now time.Time) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.resolveLocked(t, now)
}

// resolveLocked is resolve with lc.mu held.
func (lc *locator) resolveLocked(t *allocTable, now time.Time) {
	n := lc.n
	if len(lc.pending) == 0 {
		return
	}
	valid := n.leaseValid()
	kept := lc.pending[:0]
	for _, p := range lc.pending {
		newer := p.minEpoch > t.epoch // forwarded from a table newer than t: wait for it
		owner, ok := t.owner(p.typ, p.shard)
		if newer {
			ok = false
		}
		if ok && p.env != nil && n.ownerLapsed(owner) {
			ok = false // the move away from a lapsed owner is coming: keep waiting
		}
		if ok && (p.env != nil || valid) {
			lc.complete(p, owner)
			continue
		}
		if now.After(p.deadline) {
			n.ctr.requestsExpired.Add(1)
			n.logLimited("shard location request expired", "type", p.typ, "shard", p.shard)
			if e := p.env; e != nil {
				n.deadLetter(DeadLetter{Type: p.typ, Shard: p.shard, EntityID: e.entityID, Msg: e.msg, Reason: wire.ReasonExpired})
			}
			continue
		}
		k := shardKey{p.typ, p.shard}
		if _, allocated := t.owner(p.typ, p.shard); allocated || newer {
			kept = append(kept, p)
			continue // waits for a move, not an allocation
		}
		if _, asked := lc.need[k]; !asked && !ok {
			lc.need[k] = time.Time{}
			select {
			case lc.wake <- struct{}{}:
			default:
			}
		}
		kept = append(kept, p)
	}
	clear(lc.pending[len(kept):])
	lc.pending = kept
}

// complete answers p with owner: an envelope goes to its mailbox here or
// is forwarded; a request gets ShardLocation. lc.mu held.
func (lc *locator) complete(p *pendingReq, owner wire.NodeAddress) {
	n := lc.n
	if e := p.env; e != nil {
		if owner == n.self {
			n.deliverParked(e.region, p.shard, e.entityID, e.msg, e.hops)
			return
		}
		n.forwardNow(owner, e.region, p.shard, e.entityID, e.msg, e.hops, nil)
		return
	}
	n.replyLocation(p.replyTo, p.via, p.shard, owner)
}

// deliverParked puts an envelope that waited (parked, or unsent on a
// failed link) in its shard's mailbox on this node, past the mailbox's
// pause bound (pushParked), or drops it as a dead letter when the mailbox
// is at its limit.
func (n *Node) deliverParked(r *region, shard int, entityID string, msg any, hops int) {
	if !r.boxes[shard].pushParked(envelope{entityID: entityID, msg: msg, hops: uint8(hops)}) {
		n.ctr.mailboxDropped.Add(1)
		n.deadLetter(DeadLetter{Type: r.typ.Name, Shard: shard, EntityID: entityID, Msg: msg, Reason: wire.ReasonMailboxFull})
	}
}

// unavailable answers the waiting zerohop requests for (typ, shard) that
// no owner can be found (reason): they are told at once; the rest wait.
func (lc *locator) unavailable(k shardKey, reason string) {
	n := lc.n
	lc.mu.Lock()
	defer lc.mu.Unlock()
	kept := lc.pending[:0]
	for _, p := range lc.pending {
		if p.typ == k.typ && p.shard == k.shard && p.env == nil && p.zerohop {
			n.replyUnavailable(p, reason)
			continue
		}
		kept = append(kept, p)
	}
	clear(lc.pending[len(kept):])
	lc.pending = kept
}

// askRetry is how often an allocation that failed (no leader, lost
// answer) is asked again while something waits for it.
const askRetry = 250 * time.Millisecond

// allocator asks the leader to allocate the shards that waiting requests
// need, one at a time, until the node stops.
func (lc *locator) allocator() {
	n := lc.n
	defer n.wg.Done()
	retry := time.NewTicker(askRetry)
	defer retry.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-lc.wake:
		case <-retry.C:
		}
		if !n.gate.wait(n.stop) {
			return
		}
		for {
			k, ok := lc.nextNeed(time.Now())
			if !ok {
				break
			}
			lc.allocate(k)
			select {
			case <-n.stop:
				return
			default:
			}
		}
	}
}

// nextNeed returns a shard to allocate that was not asked for within
// askRetry, and marks it asked at now.
func (lc *locator) nextNeed(now time.Time) (shardKey, bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	t := lc.n.cons.Load().fsm.table.Load()
	for k, asked := range lc.need {
		if _, owned := t.owner(k.typ, k.shard); owned || !lc.waitingFor(k) {
			delete(lc.need, k)
			continue
		}
		if asked.IsZero() || now.Sub(asked) >= askRetry {
			lc.need[k] = now
			return k, true
		}
	}
	return shardKey{}, false
}

// waitingFor reports whether something pending waits for k. lc.mu held.
func (lc *locator) waitingFor(k shardKey) bool {
	for _, p := range lc.pending {
		if p.typ == k.typ && p.shard == k.shard {
			return true
		}
	}
	return false
}

// allocate asks the leader to allocate k and waits until this node has
// applied the answer (onTable then releases what waited). On failure the
// shard is asked again at the next retry tick.
func (lc *locator) allocate(k shardKey) {
	n := lc.n
	cc := n.cfg.Consensus
	shards, _ := n.typeShards(k.typ)
	resp, err := n.cons.Load().ctl.call(ctlRequest{Op: ctlAllocate, Node: n.self.String(), Type: k.typ, Shard: k.shard,
		Types: []metaType{{Name: k.typ, Shards: shards}}}, cc.LeaseDuration/2)
	if err == nil {
		n.cons.Load().fsm.waitApplied(resp.Index, cc.LeaseDuration/2, n.stop)
		n.loc.resolve(n.cons.Load().fsm.table.Load(), time.Now())
	}
	if ce, ok := err.(*ctlError); ok && ce.Code == codeNoOwner {
		lc.unavailable(k, wire.ReasonNoOwner)
	} else if err != nil && !n.leaseValid() {
		lc.unavailable(k, wire.ReasonNoQuorum)
	}
}

// replyLocation sends ShardLocation to ref, over via when it is the
// connection of ref's identity.
func (n *Node) replyLocation(ref wire.Ref, via *link, shard int, owner wire.NodeAddress) {
	n.replyTo(ref, via, wire.ShardLocation{ShardID: shard, Node: owner, Replicas: []wire.NodeAddress{}})
	n.ctr.locationsAnswered.Add(1)
}

// replyUnavailable tells a zerohop asker that p's shard has no owner it can
// be given now.
func (n *Node) replyUnavailable(p *pendingReq, reason string) {
	n.ctr.unavailableAnswers.Add(1)
	n.replyTo(p.replyTo, p.via, wire.ShardUnavailable{ShardID: p.shard, Reason: reason})
}

// replyTo sends msg to ref, over via when it is the connection of ref's
// identity, else over any connection to ref's node.
func (n *Node) replyTo(ref wire.Ref, via *link, msg any) {
	l, member := via, false
	if via == nil || via.peerID() != ref.Node() {
		l, member = n.destLink(ref.Node())
	}
	frame, err := n.codecOf(l).AppendMessageFrameTo(nil, ref.Address, n.senderURI, msg, n.cfg.MaxFrameSize)
	if err != nil {
		n.ctr.droppedReplies.Add(1)
		n.log.Error("encode reply", "err", err)
		return
	}
	n.sendOn(l, member, ref.Node(), frame)
}

// typeShards returns the shard count of typ from this node's own types,
// else from the members' metadata.
func (n *Node) typeShards(typ string) (int, bool) {
	for _, e := range n.cfg.Entities {
		if e.Name == typ {
			return e.Shards, true
		}
	}
	if c := n.cons.Load(); c != nil {
		if v, ok := c.fsm.shardCount(typ); ok {
			return v, true
		}
	}
	return 0, false
}
