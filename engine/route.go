package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/topo"
	"github.com/zerohop/zerohop/wire"
)

// EntityRef routes messages to the entities of one sharded type. Create it
// with Client.EntityRef; it is safe for concurrent use, has no goroutine of
// its own, and must not be copied.
type EntityRef struct {
	et *entityType
}

// Type returns the entity type name.
func (r *EntityRef) Type() string { return r.et.name }

// NumShards returns the number of shards of the type.
func (r *EntityRef) NumShards() int { return r.et.numShards }

// entityType is the routing state of one shard type.
//
// The route table (a topo.Routes of numShards entries) is immutable once
// published and read with one atomic load per message. It merges every
// source of truth for the type: the allocations of each applied snapshot
// and the ShardLocation replies applied since. It is replaced (copy on
// write) under mu, and every message held for a shard that becomes
// routable is flushed to the owner's queue before the table naming that
// owner is published: a Tell that sees the new table therefore queues
// after the held messages, and a Tell that saw the old table takes mu,
// sees the new one and does the same. Per producer goroutine, messages to
// one entity keep their order.
type entityType struct {
	c          *Client
	name       string
	numShards  int
	regionPath string
	coordPath  string
	proxyRef   wire.Ref

	table atomic.Pointer[routeTable]
	ref   *EntityRef // the one EntityRef of this type

	mu      sync.Mutex
	entries map[*nodeConn]*routeEntry // guarded by mu; the one entry per owner
	pending map[int]*shardQuery       // guarded by mu; shards held or being (re)queried
}

// routeTable maps shard -> owner; an unallocated shard's location is
// unknown. Owners are interned per (type, node): comparing two tables'
// entries compares pointers.
type routeTable = topo.Routes[*routeEntry]

// routeEntry is what Tell needs of an owner: its connection and the
// precomputed URI of the type's region on it. Immutable; one per
// (entity type, node connection), shared by every table of the type.
type routeEntry struct {
	nc     *nodeConn
	target string // casty://<sys>@<owner>/_region-<type>
}

// shardQuery tracks a shard whose location is being asked for, and the
// messages held meanwhile (in arrival order).
type shardQuery struct {
	msgs     []heldMsg
	inflight bool      // a GetShardLocation is outstanding since sentAt
	sentAt   time.Time //
	next     time.Time // earliest (re)send; zero = as soon as possible
	attempt  int
	requery  bool // the shard's owner failed: ask again even without held messages
	// unavail is the last ShardUnavailable answer: until next, new
	// messages for the shard fail fast with it instead of being held.
	unavail *ShardUnavailableError
	retry   bool // ask again at next even without held messages (they failed with unavail)
}

// failingFast reports whether new messages for the shard fail with
// q.unavail now.
func (q *shardQuery) failingFast(now time.Time) bool {
	return q.unavail != nil && now.Before(q.next)
}

type heldMsg struct {
	payload  []byte // encoded ShardEnvelope
	entityID string // the envelope's, for Config.OnDrop
	at       time.Time
	askID    uint64 // non-zero for an Ask's message
}

// EntityRef returns the router for entity type typeName with numShards
// shards (cached: the same *EntityRef for the same type). A different
// numShards for a known type is an error: the cluster's shard count is
// cluster-wide configuration (see package ring).
func (c *Client) EntityRef(typeName string, numShards int) (*EntityRef, error) {
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if typeName == "" || strings.ContainsAny(typeName, "/ \t\r\n") {
		return nil, fmt.Errorf("engine: invalid entity type name %q", typeName)
	}
	if numShards <= 0 {
		return nil, fmt.Errorf("engine: entity type %q: numShards %d must be positive", typeName, numShards)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if et, ok := c.types[typeName]; ok {
		if et.numShards != numShards {
			return nil, &ShardsMismatchError{Type: typeName, Have: et.numShards, Got: numShards}
		}
		return et.ref, nil
	}
	et := &entityType{
		c:          c,
		name:       typeName,
		numShards:  numShards,
		regionPath: wire.PathRegionPrefix + typeName,
		coordPath:  wire.PathCoordPrefix + typeName,
		proxyRef:   c.clientRef(wire.PathProxyPrefix + typeName),
		entries:    make(map[*nodeConn]*routeEntry),
		pending:    make(map[int]*shardQuery),
	}
	et.ref = &EntityRef{et: et}
	et.table.Store(topo.NewRoutes[*routeEntry](numShards))
	if s := c.snap.Load(); s != nil {
		et.applySnapshot(s, make([]*nodeConn, len(s.Nodes())), true, time.Now())
	}
	c.types[typeName] = et
	return et.ref, nil
}

// Tell sends msg to entity entityID, wrapped in a ShardEnvelope, on the
// connection of the node that owns the entity's shard.
//
// It does not block and takes no lock when the shard's owner is known: one
// MD5, one atomic load, one array index, then the frame is encoded straight
// into a slot of the owner connection's queue. It allocates nothing for a
// message whose type implements wire.JSONAppender or is a registered
// struct the registry encodes without allocating; converting msg to any at
// the call site may itself allocate (see the package documentation,
// "Allocations").
//
// Errors: ErrClosed; *BufferFullError (queue or location buffer full);
// *OwnerUnavailableError (the owner has no live connection: fail fast,
// never re-routed); the registry's encoding error for an unregistered
// type. Each refusal is counted in Stats().Drops.
func (r *EntityRef) Tell(entityID string, msg any) error {
	et := r.et
	if et.c.closing.Load() {
		return ErrClosed
	}
	shard := ring.Shard(entityID, et.numShards)
	e, ok := et.table.Load().Owner(shard)
	if !ok {
		_, err := et.hold(shard, entityID, msg, 0)
		return err
	}
	return et.send(e, shard, entityID, msg, false)
}

// TellContext is Tell, except that when the owner connection's queue is
// full it waits for room (the writer frees slots as it writes) until ctx
// ends, instead of returning ErrBufferFull: backpressure for producers
// that would otherwise spin on Tell. Every other error is returned at
// once, as by Tell (a full location buffer included).
//
// It never waits on a dead or paused owner: while it waits it re-reads
// the shard's route on every wake-up and at least every 50 ms
// (routeRecheck). When the cluster moved the shard to another node, the
// message goes there (or, when the new owner's queue is full too, the
// wait goes on there); when the owner's connection fails or becomes
// suspect (Config.SuspectAfter), it returns *OwnerUnavailableError at
// once, counted like Tell's; when the shard's location became unknown,
// the message is held as by Tell. When ctx ends while waiting, the
// message is counted as DropQueueFull and ctx.Err() is returned. Waiting
// allocates (a timer, a channel); the path without waiting is Tell's.
func (r *EntityRef) TellContext(ctx context.Context, entityID string, msg any) error {
	et := r.et
	if et.c.closing.Load() {
		return ErrClosed
	}
	shard := ring.Shard(entityID, et.numShards)
	e, ok := et.table.Load().Owner(shard)
	if !ok {
		_, err := et.hold(shard, entityID, msg, 0)
		return err
	}
	if err := et.send(e, shard, entityID, msg, true); err != errMustWait {
		return err
	}
	return et.waitSend(ctx, shard, e, entityID, msg)
}

// routeRecheck bounds how long TellContext waits for queue room without
// re-reading the route: a shard moved while the owner's queue is full is
// noticed within it even if nothing wakes the producer.
const routeRecheck = 50 * time.Millisecond

// errMustWait: send found the owner's queue full and was told not to
// count it (TellContext waits instead).
var errMustWait = errors.New("engine: queue full, wait")

// waitSend waits for room in the queue of the shard's owner, re-resolving
// the owner on every wake-up and every routeRecheck (see TellContext).
func (et *entityType) waitSend(ctx context.Context, shard int, e *routeEntry, entityID string, msg any) error {
	recheck := time.NewTimer(routeRecheck)
	defer recheck.Stop()
	for {
		switch e.nc.q.waitSpace(ctx.Done(), e.nc.stop, recheck.C) {
		case waitCancelled:
			et.c.stats.drop(DropQueueFull, 1)
			return ctx.Err()
		case waitRecheck:
			recheck.Reset(routeRecheck)
		}
		ne, ok := et.table.Load().Owner(shard)
		if !ok {
			_, err := et.hold(shard, entityID, msg, 0)
			return err
		}
		e = ne
		if err := et.send(e, shard, entityID, msg, true); err != errMustWait {
			return err
		}
	}
}

// send queues the envelope on e's owner. Hot path: no locks, no
// allocations on success.
// With wait, a full queue is not counted: errMustWait is returned for the
// caller to wait (TellContext).
func (et *entityType) send(e *routeEntry, shard int, entityID string, msg any, wait bool) error {
	c := et.c
	nc := e.nc
	if !nc.usable() {
		c.stats.drop(DropOwnerUnavailable, 1)
		return &OwnerUnavailableError{Node: nc.addr, Type: et.name, Shard: shard, Cause: nc.lastCause()}
	}
	t, buf, full, closed := nc.q.claim(nc.q.reserve)
	if closed {
		return ErrClosed
	}
	if full {
		if wait {
			return errMustWait
		}
		c.stats.drop(DropQueueFull, 1)
		return nc.fullErr
	}
	buf, err := c.reg.AppendEnvelopeFrame(buf, e.target, c.senderURI, entityID, msg, c.cfg.MaxFrameSize)
	if err != nil {
		nc.q.publish(t, buf[:0])
		c.stats.drop(DropEncode, 1)
		return err
	}
	nc.q.publish(t, buf)
	c.stats.tells.Inc()
	return nil
}

// hold handles a message for a shard whose location is unknown: re-checks
// the table under mu (it may have been published meanwhile), else encodes
// the envelope and holds it, bounded per shard and in total, and makes
// sure one GetShardLocation is in flight. While the shard's last location
// answer was ShardUnavailable (for a jittered RequeryDelay after it) the
// message fails fast with that answer instead. It returns the connection
// the message went to, nil when held.
func (et *entityType) hold(shard int, entityID string, msg any, askID uint64) (*nodeConn, error) {
	c := et.c
	payload, err := appendEnvelopePayload(nil, c.reg, entityID, msg)
	if err != nil {
		c.stats.drop(DropEncode, 1)
		return nil, err
	}
	target := c.queryTarget() // takes c.mu: before et.mu (lock order)
	et.mu.Lock()
	defer et.mu.Unlock()
	if e, ok := et.table.Load().Owner(shard); ok {
		if _, err := et.sendPayloadLocked(e, shard, payload); err != nil {
			return nil, err // a refusal: the caller is told
		}
		c.stats.tells.Inc()
		return e.nc, nil
	}
	now := time.Now()
	q := et.pending[shard]
	if q == nil {
		q = &shardQuery{}
		et.pending[shard] = q
	}
	if q.failingFast(now) {
		c.stats.drop(DropUnavailable, 1)
		return nil, q.unavail
	}
	if len(q.msgs) >= c.cfg.ShardBuffer {
		c.stats.drop(DropShardBuffer, 1)
		return nil, &BufferFullError{Reason: DropShardBuffer, Type: et.name, Shard: shard, Limit: c.cfg.ShardBuffer}
	}
	if c.stats.buffered.Add(1) > int64(c.cfg.TotalBuffer) {
		c.stats.buffered.Add(-1)
		c.stats.drop(DropTotalBuffer, 1)
		return nil, &BufferFullError{Reason: DropTotalBuffer, Type: et.name, Shard: shard, Limit: c.cfg.TotalBuffer}
	}
	q.msgs = append(q.msgs, heldMsg{payload: payload, entityID: entityID, at: now, askID: askID})
	c.stats.tells.Inc()
	if !q.inflight && !now.Before(q.next) {
		et.queryLocked(shard, q, now, target)
	}
	return nil, nil
}

// queryLocked sends GetShardLocation(shard) to the coordinator of target
// (see Client.queryTargetLocked). With no usable target the query stays
// due and the maintenance tick retries.
func (et *entityType) queryLocked(shard int, q *shardQuery, now time.Time, leader *nodeConn) {
	if leader == nil || !leader.usable() {
		return
	}
	c := et.c
	err := leader.sendControl(wire.NodeURI(c.cfg.SystemName, leader.addr, et.coordPath), wire.GetShardLocation{ShardID: shard, ReplyTo: et.proxyRef})
	if err != nil {
		c.log.Warn("engine: GetShardLocation", "type", et.name, "shard", shard, "err", err)
		q.next = now.Add(jitter(c.cfg.RequeryDelay))
		return
	}
	c.stats.locationQueries.Add(1)
	q.inflight = true
	q.sentAt = now
	q.attempt++
	q.retry = false
}

// sendPayloadLocked queues an already encoded envelope on e's owner. A
// failure is counted under the reason it returns, except a closed queue
// (DropClosed, ErrClosed): whether that is a refusal or a drop is the
// caller's to say.
func (et *entityType) sendPayloadLocked(e *routeEntry, shard int, payload []byte) (reason DropReason, err error) {
	c := et.c
	nc := e.nc
	if !nc.usable() {
		c.stats.drop(DropOwnerUnavailable, 1)
		return DropOwnerUnavailable, &OwnerUnavailableError{Node: nc.addr, Type: et.name, Shard: shard, Cause: nc.lastCause()}
	}
	t, buf, full, closed := nc.q.claim(nc.q.reserve)
	if full {
		c.stats.drop(DropQueueFull, 1)
		return DropQueueFull, nc.fullErr
	}
	if closed {
		return DropClosed, ErrClosed
	}
	buf, err = appendPayloadFrame(buf, e.target, c.senderURI, wire.TypeShardEnvelope, payload, c.cfg.MaxFrameSize)
	if err != nil {
		nc.q.publish(t, buf[:0])
		c.stats.drop(DropEncode, 1)
		return DropEncode, err
	}
	nc.q.publish(t, buf)
	return 0, nil
}

// heldDropped tells whoever waits for a held message of shard that it was
// dropped for reason (already counted): its Ask fails with cause (built
// only then), or Config.OnDrop hears of the tell. et.mu held.
func (et *entityType) heldDropped(m *heldMsg, shard int, reason DropReason, cause func() error) {
	if m.askID != 0 {
		et.c.asks.fail(m.askID, cause())
		return
	}
	et.c.dropped(Drop{Reason: reason, Type: et.name, Shard: shard, EntityID: m.entityID, Count: 1})
}

// entryLocked returns the route entry for owner nc. et.mu held.
func (et *entityType) entryLocked(nc *nodeConn) *routeEntry {
	e := et.entries[nc]
	if e == nil {
		e = &routeEntry{nc: nc, target: wire.NodeURI(et.c.cfg.SystemName, nc.addr, et.regionPath)}
		et.entries[nc] = e
	}
	return e
}

// applySnapshot applies the type's allocations in snapshot s to the table.
// With full (s's epoch is newer than the last applied) s is the whole
// truth: shards it does not allocate become unknown. Otherwise s is merged
// over the table: the shards it allocates take its owner, the others keep
// theirs (from an earlier snapshot of the same epoch or a ShardLocation).
// Shard ids at or above numShards are ignored. conns caches, by s's node
// index, the connections resolved so far (shared by the types applying s).
// The table is published only if an entry changed. c.mu held.
func (et *entityType) applySnapshot(s *topo.Snapshot, conns []*nodeConn, full bool, now time.Time) {
	t := s.Table(et.name)
	if t == nil && !full {
		return
	}
	c := et.c
	et.mu.Lock()
	defer et.mu.Unlock()
	old := et.table.Load()
	ed := old.Edit()
	ents := make([]*routeEntry, len(conns)) // by node index
	for sid := range et.numShards {
		idx, ok := t.Owner(sid)
		if !ok {
			if full {
				ed.Clear(sid)
			}
			continue
		}
		e := ents[idx]
		if e == nil {
			nc := conns[idx]
			if nc == nil {
				nc = c.connLocked(s.Node(idx))
				conns[idx] = nc
			}
			e = et.entryLocked(nc)
			ents[idx] = e
		}
		if cur, _ := ed.Owner(sid); full || cur != e {
			e.nc.nudge() // (newly) routed to a node in backoff: retry it now
			ed.Set(sid, e)
		}
	}
	if r := ed.Routes(); r != old {
		et.publishLocked(r)
	}
}

// applyLocation routes shard to owner (a ShardLocation). c.mu held.
func (et *entityType) applyLocation(shard int, owner *nodeConn) {
	et.mu.Lock()
	defer et.mu.Unlock()
	if q := et.pending[shard]; q != nil && len(q.msgs) == 0 {
		delete(et.pending, shard) // a re-query answered
	}
	old := et.table.Load()
	r := old.WithOwner(shard, et.entryLocked(owner))
	if r == old {
		return
	}
	owner.nudge()
	et.publishLocked(r)
}

// publishLocked flushes held messages of shards that the new table routes,
// in order, then publishes it. A held message the owner's connection
// refuses (down or suspect, queue full, closed) is dropped: counted, its
// Ask failed, or reported to Config.OnDrop. et.mu held.
func (et *entityType) publishLocked(r *routeTable) {
	c := et.c
	for sid, q := range et.pending {
		e, ok := r.Owner(sid)
		if !ok {
			continue
		}
		for i := range q.msgs {
			m := &q.msgs[i]
			reason, err := et.sendPayloadLocked(e, sid, m.payload)
			switch {
			case err != nil:
				if reason == DropClosed {
					c.stats.drop(DropClosed, 1) // accepted, so a drop (not a refusal) here
				}
				et.heldDropped(m, sid, reason, func() error { return err })
			case m.askID != 0:
				c.asks.rebind(m.askID, e.nc) // fail it fast if that connection fails
			}
		}
		c.stats.buffered.Add(-int64(len(q.msgs)))
		clear(q.msgs)
		q.msgs = q.msgs[:0]
		// A re-query of an evicted shard stays until answered, unless the
		// shard now has a reachable owner.
		if !q.requery || e.nc.state.Load() == connUp {
			delete(et.pending, sid)
		}
	}
	et.table.Store(r)
}

// evict marks the shards owned by nc for a re-query after a jittered
// RequeryDelay. Their entries keep pointing at nc, so messages to them
// fail fast (ErrOwnerUnavailable) until the cluster names an owner that is
// reachable: the client never picks another node by itself. c.mu held.
func (et *entityType) evict(nc *nodeConn, now time.Time) {
	et.mu.Lock()
	defer et.mu.Unlock()
	e := et.entries[nc]
	if e == nil {
		return // never routed to nc
	}
	for _, sid := range et.table.Load().Shards(nil, e) {
		if _, ok := et.pending[sid]; !ok {
			et.pending[sid] = &shardQuery{next: now.Add(jitter(et.c.cfg.RequeryDelay)), requery: true}
		}
	}
}

// routesTo reports whether the table routes a shard to nc.
func (et *entityType) routesTo(nc *nodeConn) bool {
	et.mu.Lock()
	defer et.mu.Unlock()
	e := et.entries[nc]
	if e == nil {
		return false
	}
	r := et.table.Load()
	for sid := range r.Len() {
		if o, _ := r.Owner(sid); o == e {
			return true
		}
	}
	return false
}

// forget drops the entry of a connection no table routes to (the
// connection is being collected).
func (et *entityType) forget(nc *nodeConn) {
	et.mu.Lock()
	defer et.mu.Unlock()
	delete(et.entries, nc)
}

// unavailable applies a ShardUnavailable answer for shard u.Shard: its held
// messages fail with u (each is counted as DropUnavailable; asks get u,
// tells are reported to Config.OnDrop),
// new ones fail fast with it until a jittered RequeryDelay has passed,
// and then, if messages were waiting, the location is asked for again.
// The route table is left alone: a shard routed to an owner stays routed
// (the answering node may be the one cut off). c.mu held.
func (et *entityType) unavailable(u *ShardUnavailableError, now time.Time) {
	c := et.c
	et.mu.Lock()
	defer et.mu.Unlock()
	q := et.pending[u.Shard]
	if q == nil {
		q = &shardQuery{}
		et.pending[u.Shard] = q
	}
	for i := range q.msgs {
		c.stats.drop(DropUnavailable, 1)
		et.heldDropped(&q.msgs[i], u.Shard, DropUnavailable, func() error { return u })
	}
	c.stats.buffered.Add(-int64(len(q.msgs)))
	q.retry = len(q.msgs) > 0
	clear(q.msgs)
	q.msgs = q.msgs[:0]
	q.inflight = false
	q.requery = false // answered: there is no owner to learn
	q.unavail = u
	q.next = now.Add(jitter(c.cfg.RequeryDelay))
}

// locationFenced schedules a retry for a shard whose answer was fenced.
func (et *entityType) locationFenced(shard int, now time.Time) {
	et.mu.Lock()
	defer et.mu.Unlock()
	if q := et.pending[shard]; q != nil {
		q.inflight = false
		q.next = now.Add(jitter(et.c.cfg.RequeryDelay))
	}
}

// tick expires held messages (counted, their asks failed, tells reported
// to Config.OnDrop), times out and (re)sends location queries to target
// (nil: none can be sent now).
func (et *entityType) tick(now time.Time, target *nodeConn) {
	c := et.c
	et.mu.Lock()
	defer et.mu.Unlock()
	for sid, q := range et.pending {
		n := 0
		for _, m := range q.msgs {
			if now.Sub(m.at) < c.cfg.BufferTimeout {
				q.msgs[n] = m
				n++
				continue
			}
			c.stats.drop(DropExpired, 1)
			c.stats.buffered.Add(-1)
			et.heldDropped(&m, sid, DropExpired, func() error {
				return fmt.Errorf("%w: %s shard %d location unknown for %v", ErrExpired, et.name, sid, c.cfg.BufferTimeout)
			})
		}
		clear(q.msgs[n:])
		q.msgs = q.msgs[:n]
		if q.inflight && now.Sub(q.sentAt) >= c.cfg.LocationTimeout {
			c.stats.locationTimeouts.Add(1)
			q.inflight = false
			backoff := c.cfg.LocationTimeout << min(q.attempt-1, 3)
			q.next = now.Add(jitter(backoff / 4))
		}
		if len(q.msgs) == 0 && !q.requery && !q.inflight && !q.retry && !q.failingFast(now) {
			delete(et.pending, sid) // its messages expired, or failed as unavailable
			continue
		}
		if !q.inflight && !now.Before(q.next) {
			et.queryLocked(sid, q, now, target)
		}
	}
}

// dropAll drops every held message (client closing): counted under
// reason, asks failed with cause, tells reported to Config.OnDrop.
func (et *entityType) dropAll(reason DropReason, cause error) {
	c := et.c
	et.mu.Lock()
	defer et.mu.Unlock()
	for sid, q := range et.pending {
		for i := range q.msgs {
			c.stats.drop(reason, 1)
			c.stats.buffered.Add(-1)
			et.heldDropped(&q.msgs[i], sid, reason, func() error { return cause })
		}
		delete(et.pending, sid)
	}
}
