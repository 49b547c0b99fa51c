package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/zerohop/zerohop/topo"
	"github.com/zerohop/zerohop/wire"
)

// topoState is the client's subscription and contact bookkeeping. The
// view of the cluster itself is the compiled snapshot in Client.snap.
// Guarded by Client.mu.
type topoState struct {
	first       chan struct{}      // closed when the first snapshot is applied
	static      []wire.NodeAddress // contact points, in order
	learned     []wire.NodeAddress // members learned from snapshots
	nextContact int                // rotation index over static+learned

	primary     *nodeConn          // the subscription whose silence is watched
	primaryAt   time.Time          // last snapshot from primary (or when subscribed)
	subscribed  map[*nodeConn]bool // nodes sent SubscribeTopology (unsubscribed on close)
	lastApplied time.Time          // last snapshot applied (changed or not)
	lastRefresh time.Time

	watchers map[string][]*Watcher
}

func (t *topoState) init() {
	t.first = make(chan struct{})
	t.subscribed = make(map[*nodeConn]bool)
	t.watchers = make(map[string][]*Watcher)
}

// onFrame handles one inbound frame of nc. body aliases the transport's
// read buffer (valid until return). A non-nil error closes the connection
// (malformed envelope: the peer is not speaking the protocol); payloads
// that do not decode are counted and dropped.
//
// The reading side counts the frames per read batch (nodeConn.handled),
// not here.
func (c *Client) onFrame(nc *nodeConn, typ byte, body []byte) error {
	if typ != wire.FrameMessage {
		if typ == wire.FrameCredit && nc.window.Load() > 0 {
			return nc.onCredit(body)
		}
		return nil // Casty ignores any non-message frame after the handshake
	}
	path, payload, err := wire.ParseTargetPath(body)
	if err != nil {
		return err
	}
	switch {
	case bytes.HasPrefix(path, askPathPrefix):
		c.asks.complete(path[len(askPathPrefix):], payload)
	case string(path) == wire.PathTopologySub:
		var ts wire.TopologySnapshot
		if err := c.dec().DecodeInto(payload, &ts); err != nil {
			c.stats.decodeErrors.Add(1)
			c.log.Warn("engine: undecodable topology snapshot", "node", nc.addr.String(), "err", err)
			return nil
		}
		c.onSnapshot(nc, &ts)
	case bytes.HasPrefix(path, proxyPathPrefix):
		// A Casty node answers GetShardLocation with ShardLocation; a
		// zerohop node may answer ShardUnavailable instead.
		v, err := c.dec().Decode(payload)
		if err != nil {
			c.stats.decodeErrors.Add(1)
			c.log.Warn("engine: undecodable shard location", "node", nc.addr.String(), "err", err)
			return nil
		}
		typeName := string(path[len(proxyPathPrefix):])
		switch x := v.(type) {
		case wire.ShardLocation:
			c.onLocation(nc, typeName, &x)
		case wire.ShardUnavailable:
			c.onUnavailable(nc, typeName, &x)
		default:
			c.stats.decodeErrors.Add(1)
			c.log.Warn("engine: unexpected answer to a location query", "node", nc.addr.String(), "type", fmt.Sprintf("%T", v))
		}
	default:
		c.stats.unknownTargets.Add(1)
	}
	return nil
}

var (
	askPathPrefix   = []byte(wire.PathAskPrefix)
	proxyPathPrefix = []byte(wire.PathProxyPrefix)
)

// onSnapshot applies a snapshot received from nc: it is compiled (outside
// Client.mu), fenced, then stored in Client.snap. A snapshot equal to the
// current one (the usual push) only updates the liveness bookkeeping; one
// that differs updates membership, contacts, subscriptions, every type's
// route table and the listings.
//
// Only the snapshots of the primary subscription and of the leader are
// applied. Those of the other members (the client subscribes to every
// member it keeps a connection to) are liveness signals: their arrival
// keeps the connection up (nodeConn.received), and their epoch is
// recorded (it fences the node's location answers), but members' views
// may lag each other and the client does not flip between them.
//
// Epoch fencing: a snapshot whose allocation epoch is below the highest
// applied is ignored (a restarted node's fresh state must not override the
// cluster's), except after 3*LivenessWindow without any applicable
// snapshot, when the highest epoch is abandoned (the whole cluster
// restarted).
func (c *Client) onSnapshot(nc *nodeConn, ts *wire.TopologySnapshot) {
	now := time.Now()
	c.stats.snapshotsReceived.Add(1)
	nc.epoch.Store(ts.AllocationEpoch)
	s := topo.Compile(ts)
	c.mu.Lock()
	defer c.mu.Unlock()
	if nc != c.topo.primary && nc != c.leaderConnLocked() {
		return // a member's push: liveness only
	}
	if nc == c.topo.primary {
		c.topo.primaryAt = now
	}
	prev := c.snap.Load()
	newer := prev == nil || s.Epoch() > prev.Epoch()
	if prev != nil && s.Epoch() < prev.Epoch() {
		if now.Sub(c.topo.lastApplied) < 3*c.cfg.LivenessWindow {
			c.stats.snapshotsFenced.Add(1)
			return
		}
		c.stats.epochResets.Add(1)
		c.log.Warn("engine: abandoning fenced epoch after a long silence", "epoch", prev.Epoch(), "snapshot_epoch", s.Epoch(), "node", nc.addr.String())
		newer = true
	}
	c.topo.lastApplied = now
	c.stats.snapshotsApplied.Add(1)
	if !c.snap.Store(s) {
		c.stats.snapshotsUnchanged.Add(1)
		return
	}
	c.applySnapshotLocked(prev, s, newer, now)
}

// applySnapshotLocked applies s, just stored, which differs from prev (nil
// for the first). newer: s's epoch is above the last applied one, so its
// allocations are the whole truth. c.mu held.
func (c *Client) applySnapshotLocked(prev, s *topo.Snapshot, newer bool, now time.Time) {
	// Membership, leader, contacts, subscriptions.
	leader, hasLeader := s.Leader()
	newLeader := false
	if hasLeader {
		if old, ok := leaderOf(prev); !ok || old != leader {
			newLeader = true
			c.log.Info("engine: leader", "node", leader.String(), "epoch", s.Epoch())
		}
	}
	for _, nc := range c.connList {
		nc.member = false
	}
	for _, m := range s.Members() {
		if m.Status == wire.StatusRemoved {
			continue
		}
		if !slices.Contains(c.topo.static, m.Address) && !slices.Contains(c.topo.learned, m.Address) {
			c.topo.learned = append(c.topo.learned, m.Address)
		}
		if m.Status == wire.StatusUp || m.Status == wire.StatusJoining || m.Status == wire.StatusLeaving {
			// Keep a connection to every live member (replies need one);
			// one in backoff is retried now if the cluster reaches it.
			reachable := !s.IsUnreachable(m.Address)
			nc := c.connLocked(m.Address)
			if reachable && !nc.clusterUp {
				nc.nudge() // the cluster reaches it again
			}
			nc.clusterUp = reachable
			// Subscribed for liveness: a node that only receives tells
			// would otherwise send the client nothing.
			nc.member = true
			c.subscribeLocked(nc)
		} else if nc := c.conns[m.Address]; nc != nil {
			nc.clusterUp = false
		}
	}
	if hasLeader {
		lc := c.connLocked(leader)
		if newLeader {
			c.resubscribeLocked(lc) // its snapshots are applied from now on: one now
		} else {
			c.subscribeLocked(lc)
		}
	}
	c.pruneSubscriptionsLocked()
	if prev != nil && membershipChanged(prev, s) {
		// A node restarted at the same address may show only as a
		// change of status or id: retry every connection in backoff now
		// (attempts stay ReconnectMin apart).
		for _, nc := range c.connList {
			nc.nudge()
		}
	}

	// Allocations: a newer epoch is the full truth; the same epoch merges.
	conns := make([]*nodeConn, len(s.Nodes()))
	for _, et := range c.types {
		// A table's evidence is final: it replaces an announcement's
		// (which a later announcement could clear), never the reverse.
		if b := et.table.Load().bad; b == nil || b.announced {
			if err := et.checkAllocated(s); err != nil {
				et.setBad(&badType{err: err})
				c.log.Error("engine: entity type misconfigured", "err", err)
			}
		}
		et.applySnapshot(s, conns, newer, now)
	}

	c.applyRegistryLocked(prev, s)

	if prev == nil {
		close(c.topo.first)
	}
}

// membershipChanged reports whether a member of a or b appeared,
// disappeared, or changed status or id (members are canonical: sorted).
func membershipChanged(a, b *topo.Snapshot) bool {
	am, bm := a.Members(), b.Members()
	if len(am) != len(bm) {
		return true
	}
	for i := range am {
		if am[i].Address != bm[i].Address || am[i].Status != bm[i].Status || am[i].ID != bm[i].ID {
			return true
		}
	}
	return false
}

// leaderOf returns s's leader; none for a nil s (no snapshot yet).
func leaderOf(s *topo.Snapshot) (wire.NodeAddress, bool) {
	if s == nil {
		return wire.NodeAddress{}, false
	}
	return s.Leader()
}

// appliedEpoch returns the allocation epoch of the last applied snapshot,
// -1 before the first: the epoch the route tables follow, that snapshots
// and ShardLocations are fenced against. Lock-free; it changes only under
// c.mu.
func (c *Client) appliedEpoch() int64 {
	if s := c.snap.Load(); s != nil {
		return s.Epoch()
	}
	return -1
}

// onLocation applies a ShardLocation that nc's coordinator sent to the
// client's /_proxy-<typeName>. It is fenced like snapshots: applied only if
// nc's last snapshot epoch is at least the highest applied; otherwise the
// query is retried shortly.
func (c *Client) onLocation(nc *nodeConn, typeName string, loc *wire.ShardLocation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	et := c.types[typeName]
	if et == nil {
		c.stats.unknownTargets.Add(1)
		return
	}
	if loc.ShardID < 0 || loc.ShardID >= et.numShards || loc.Node.IsZero() {
		c.stats.decodeErrors.Add(1)
		c.log.Warn("engine: shard location out of range", "type", typeName, "shard", loc.ShardID, "shards", et.numShards, "node", loc.Node.String())
		return
	}
	if e := nc.epoch.Load(); e < c.appliedEpoch() {
		c.stats.locationsFenced.Add(1)
		et.locationFenced(loc.ShardID, time.Now())
		return
	}
	c.stats.locationsApplied.Add(1)
	et.applyLocation(loc.ShardID, c.connLocked(loc.Node))
}

// onUnavailable applies a ShardUnavailable that nc sent to the client's
// /_proxy-<typeName> instead of a ShardLocation: the shard's held messages
// fail, new ones fail fast for a jittered RequeryDelay, then the location
// is asked for again. Not fenced: the answer names no owner, so a stale
// node cannot misroute anything with it.
func (c *Client) onUnavailable(nc *nodeConn, typeName string, su *wire.ShardUnavailable) {
	c.stats.unavailableAnswers.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	et := c.types[typeName]
	if et == nil {
		c.stats.unknownTargets.Add(1)
		return
	}
	if su.ShardID < 0 || su.ShardID >= et.numShards {
		c.stats.decodeErrors.Add(1)
		c.log.Warn("engine: shard unavailable out of range", "type", typeName, "shard", su.ShardID, "shards", et.numShards, "node", nc.addr.String())
		return
	}
	c.log.Debug("engine: shard unavailable", "type", typeName, "shard", su.ShardID, "reason", su.Reason, "node", nc.addr.String())
	et.unavailable(&ShardUnavailableError{Node: nc.addr, Type: typeName, Shard: su.ShardID, Reason: su.Reason}, time.Now())
}

// pruneSubscriptionsLocked keeps the subscriptions on the primary, the
// leader and every live member of the last applied snapshot; any other (a
// node that left the membership) is unsubscribed, so that subscriptions
// do not accumulate as the cluster changes.
func (c *Client) pruneSubscriptionsLocked() {
	leader := c.leaderConnLocked()
	for nc := range c.topo.subscribed {
		if nc == c.topo.primary || nc == leader || nc.member {
			continue
		}
		c.sendUnsubscribe(nc)
		delete(c.topo.subscribed, nc)
	}
}

// collectConnsLocked stops connections to nodes that have been absent
// from the membership of s for 3*LivenessWindow and that nothing refers to
// (static contact, primary, leader, route table): a departed node's
// connection would otherwise retry forever. Run by the maintenance tick.
func (c *Client) collectConnsLocked(s *topo.Snapshot, now time.Time) {
	leader := c.leaderConnLocked()
	keep := c.connList[:0]
	for _, nc := range c.connList {
		present := slices.ContainsFunc(s.MembersAt(nc.addr), func(m wire.Member) bool {
			return m.Status != wire.StatusRemoved
		})
		switch {
		case present || slices.Contains(c.topo.static, nc.addr) || nc == c.topo.primary || nc == leader:
			nc.absentSince = time.Time{}
		case nc.absentSince.IsZero():
			nc.absentSince = now
			nc.clusterUp = false
		case now.Sub(nc.absentSince) > 3*c.cfg.LivenessWindow && !c.routedLocked(nc):
			c.log.Info("engine: dropping the connection to a departed node", "node", nc.addr.String())
			nc.shutdown()
			nc.collected = true // its written counters stay in Stats' sums (retire)
			c.leaving = append(c.leaving, nc)
			delete(c.topo.subscribed, nc)
			c.topo.learned = slices.DeleteFunc(c.topo.learned, func(a wire.NodeAddress) bool { return a == nc.addr })
			for a, x := range c.conns {
				if x == nc {
					delete(c.conns, a)
				}
			}
			for _, et := range c.types {
				et.forget(nc)
			}
			continue
		}
		keep = append(keep, nc)
	}
	clear(c.connList[len(keep):])
	c.connList = keep
}

// routedLocked reports whether a route table points at nc.
func (c *Client) routedLocked(nc *nodeConn) bool {
	for _, et := range c.types {
		if et.routesTo(nc) {
			return true
		}
	}
	return false
}

// subscribeLocked sends SubscribeTopology to nc once (refresh re-sends).
// From then on nc's silence is watched (checkSilenceLocked).
func (c *Client) subscribeLocked(nc *nodeConn) {
	if c.topo.subscribed[nc] {
		return
	}
	c.topo.subscribed[nc] = true
	nc.subSince = c.mono()
	c.sendSubscribe(nc)
}

// resubscribeLocked subscribes to nc, sending SubscribeTopology even if it
// is subscribed already: the node answers with its snapshot at once.
func (c *Client) resubscribeLocked(nc *nodeConn) {
	if c.topo.subscribed[nc] {
		c.sendSubscribe(nc)
		return
	}
	c.subscribeLocked(nc)
}

// sendSubscribe queues SubscribeTopology on nc unless it is down (it is
// re-sent when the connection comes up): a suspect node gets it too, its
// answer is what ends the suspicion.
func (c *Client) sendSubscribe(nc *nodeConn) {
	if !nc.linked() {
		return
	}
	err := nc.sendControl(wire.NodeURI(c.cfg.SystemName, nc.addr, wire.PathTopology), wire.SubscribeTopology{ReplyTo: c.subRef})
	if err != nil {
		c.log.Warn("engine: subscribe", "node", nc.addr.String(), "err", err)
	}
}

// sendUnsubscribe asks nc, when a link to it is open (up or suspect), to
// stop pushing snapshots to the client.
func (c *Client) sendUnsubscribe(nc *nodeConn) {
	if s := nc.state.Load(); s != connUp && s != connSuspect {
		return
	}
	err := nc.sendControl(wire.NodeURI(c.cfg.SystemName, nc.addr, wire.PathTopology), wire.UnsubscribeTopology{Subscriber: c.subRef})
	if err != nil {
		c.log.Debug("engine: unsubscribe", "node", nc.addr.String(), "err", err)
	}
}

// setPrimaryLocked makes nc the watched subscription, whose snapshots are
// applied.
func (c *Client) setPrimaryLocked(nc *nodeConn, now time.Time) {
	c.topo.primary = nc
	c.topo.primaryAt = now
	c.topo.lastRefresh = now
	c.resubscribeLocked(nc) // a fresh snapshot now
}

// rotateLocked moves the subscription to the next contact (static contacts
// then learned members, round robin), skipping the current primary and
// connections known to be down when another candidate exists.
func (c *Client) rotateLocked(now time.Time, why string) {
	cands := make([]wire.NodeAddress, 0, len(c.topo.static)+len(c.topo.learned))
	cands = append(cands, c.topo.static...)
	cands = append(cands, c.topo.learned...)
	var pick *nodeConn
	for i := 0; i < len(cands) && pick == nil; i++ {
		a := cands[(c.topo.nextContact+i)%len(cands)]
		nc := c.connLocked(a)
		if nc != c.topo.primary && nc.usable() {
			pick = nc
			c.topo.nextContact = (c.topo.nextContact + i + 1) % len(cands)
		}
	}
	if pick == nil {
		// Nothing known to be reachable: try the next one anyway (its
		// connection keeps retrying; the frame waits in its queue).
		a := cands[c.topo.nextContact%len(cands)]
		c.topo.nextContact = (c.topo.nextContact + 1) % len(cands)
		pick = c.connLocked(a)
	}
	old := c.topo.primary
	c.stats.resubscribes.Add(1)
	c.log.Warn("engine: re-subscribing", "from", addrOf(old), "to", pick.addr.String(), "reason", why)
	c.setPrimaryLocked(pick, now)
	// The former primary keeps its subscription while it is a member (its
	// pushes are what ends a suspicion); otherwise it is dropped.
	c.pruneSubscriptionsLocked()
}

func addrOf(nc *nodeConn) string {
	if nc == nil {
		return ""
	}
	return nc.addr.String()
}

func (c *Client) leaderConnLocked() *nodeConn {
	l, ok := leaderOf(c.snap.Load())
	if !ok {
		return nil
	}
	return c.conns[l]
}

// onConnUp runs on a connection's supervisor once its handshake succeeded.
func (c *Client) onConnUp(nc *nodeConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.topo.subscribed[nc] {
		c.sendSubscribe(nc) // a new connection has no subscription on the node side
	}
}

// onConnDown runs on a connection's supervisor after its link or connect
// attempt failed: asks waiting on it fail now, its shards are queried
// again after a jittered RequeryDelay (they fail fast meanwhile), and a
// subscription on it moves to the next contact.
//
// transition is false for the failed reconnect attempts that follow: the
// shards were already re-queried once, and snapshots (refreshed every
// RefreshInterval) carry any later re-allocation.
func (c *Client) onConnDown(nc *nodeConn, cause error, transition bool) {
	c.asks.failConn(nc, cause)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if transition {
		for _, et := range c.types {
			et.evict(nc, now)
		}
	}
	if nc == c.topo.primary && !c.closing.Load() {
		c.rotateLocked(now, "connection failed: "+cause.Error())
	}
}

// tickInterval is the period of the maintenance loop.
func (c *Client) tickInterval() time.Duration {
	d := min(c.cfg.RefreshInterval, c.cfg.LivenessWindow, c.cfg.RequeryDelay, c.cfg.LocationTimeout) / 4
	return max(5*time.Millisecond, min(d, 50*time.Millisecond))
}

// maintain is the client's timer goroutine: subscription refresh and
// liveness, location queries (retries, re-queries) and buffer expiry.
func (c *Client) maintain() {
	t := time.NewTicker(c.tickInterval())
	defer t.Stop()
	for {
		select {
		case <-c.maintStop:
			return
		case now := <-t.C:
			c.tick(now)
		}
	}
}

func (c *Client) tick(now time.Time) {
	c.mu.Lock()
	c.checkSilenceLocked(now)
	if c.topo.primary != nil {
		if now.Sub(c.topo.primaryAt) > c.cfg.LivenessWindow && !c.closing.Load() {
			c.rotateLocked(now, "no snapshot within the liveness window")
		}
		if now.Sub(c.topo.lastRefresh) >= c.cfg.RefreshInterval {
			c.topo.lastRefresh = now
			c.pruneSubscriptionsLocked()
			for nc := range c.topo.subscribed {
				c.sendSubscribe(nc)
			}
		}
	}
	if s := c.snap.Load(); s != nil {
		c.collectConnsLocked(s, now)
	}
	target := c.queryTargetLocked()
	types := c.tickTypes[:0]
	for _, et := range c.types {
		types = append(types, et)
	}
	c.tickTypes = types
	c.mu.Unlock()
	for _, et := range types {
		et.tick(now, target)
	}
}

// checkSilenceLocked marks suspect every subscribed connection that is up
// and has received nothing for Config.SuspectAfter (counted from the later
// of its last bytes and the subscription's start). Only subscribed
// connections are watched: a subscribed node sends its periodic snapshots
// and the answers to the client's periodic SubscribeTopology, any other
// may rightly be silent. Run by the maintenance tick, so Tell only reads
// the state it already reads. c.mu held.
func (c *Client) checkSilenceLocked(now time.Time) {
	nowMono := c.monoAt(now)
	for _, nc := range c.connList {
		if nc.state.Load() != connUp || !c.topo.subscribed[nc] {
			continue
		}
		rx := nc.lastRecv.Load()
		if silent := time.Duration(nowMono - max(rx, nc.subSince)); silent >= c.cfg.SuspectAfter {
			c.suspectLocked(nc, rx, silent, now)
		}
	}
}

// suspectLocked makes the up connection nc suspect: sends to it fail fast
// (their cause wraps ErrSuspect), producers waiting for room in its queue
// re-check at once, asks waiting on it fail, its shards are queried again,
// and a primary subscription on it moves to the next contact. Frames
// already queued stay (they go out if the node recovers). rx is the
// lastRecv the decision was made on. c.mu held.
func (c *Client) suspectLocked(nc *nodeConn, rx int64, silent time.Duration, now time.Time) {
	err := fmt.Errorf("%w: nothing received for %v (SuspectAfter %v)", ErrSuspect, silent.Round(time.Millisecond), c.cfg.SuspectAfter)
	nc.suspectErr.Store(&err) // before the state: whoever sees suspect finds the cause
	if !nc.state.CompareAndSwap(connUp, connSuspect) {
		return // the link failed meanwhile
	}
	// The reader stores lastRecv, then loads the state; we stored the
	// state, now load lastRecv: one of us sees the other's write, so
	// bytes that arrived meanwhile are not missed.
	if nc.lastRecv.Load() != rx {
		if !nc.state.CompareAndSwap(connSuspect, connUp) {
			// The reader made it up again and sends the recovery event:
			// the suspicion comes first, so listeners see both in order.
			c.stats.suspects.Add(1)
			nc.stats.suspects.Add(1)
			c.connEvent(nc, NodeConnected, NodeSuspect, err)
		}
		return
	}
	c.stats.suspects.Add(1)
	nc.stats.suspects.Add(1)
	c.connEvent(nc, NodeConnected, NodeSuspect, err)
	c.log.Warn("engine: node silent, connection suspect", "node", nc.addr.String(), "silent", silent.String())
	nc.q.signalSpace() // TellContext waiting for room re-resolves now
	c.asks.failConn(nc, err)
	for _, et := range c.types {
		et.evict(nc, now)
	}
	if nc == c.topo.primary && !c.closing.Load() {
		c.rotateLocked(now, err.Error())
	}
}

// queryTarget is queryTargetLocked taking c.mu.
func (c *Client) queryTarget() *nodeConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queryTargetLocked()
}

// queryTargetLocked returns the connection GetShardLocation goes to now:
// the leader's when the snapshot names a leader whose connection is
// usable; else, when the primary is a zerohop node, the primary's (a side
// without a leader, or cut off from it: a zerohop node forwards the query
// to its leader or answers ShardUnavailable, where a Casty node that does
// not lead may not answer at all). nil before the first snapshot, when
// neither applies, and while the node's epoch is unknown or below the
// applied one (its answer would be fenced): the query then stays due and
// the maintenance tick retries. c.mu held.
func (c *Client) queryTargetLocked() *nodeConn {
	s := c.snap.Load()
	if s == nil {
		return nil
	}
	var nc *nodeConn
	if _, ok := s.Leader(); ok {
		nc = c.leaderConnLocked()
	}
	if nc == nil || !nc.usable() {
		if p := c.topo.primary; p != nil && p.zerohop.Load() && p.usable() {
			nc = p
		}
	}
	if nc == nil || nc.epoch.Load() < s.Epoch() {
		return nil
	}
	return nc
}

// jitter returns d scaled uniformly into [d/2, 3d/2].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d+1)
}
