package engine

// Messages held for shards whose location is unknown, and the location
// queries (GetShardLocation) that resolve them: bounded, expired after
// Config.BufferTimeout, flushed in order before the table naming the
// owner is published (flushHeldLocked).

import (
	"fmt"
	"time"

	"github.com/zerohop/zerohop/wire"
)

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
		f := outFrame{kind: framePayload, target: e.target, payload: payload}
		if _, err := et.enqueue(e, shard, &f, false); err != nil {
			return nil, err // a refusal: the caller is told
		}
		c.stats.tells.inc(shard)
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
	c.stats.tells.inc(shard)
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

// flushHeldLocked queues, in order, the messages held for the shards
// that r routes, before r is published (publishLocked). A held message the
// owner's connection refuses (down or suspect, queue full, closed) is
// dropped: counted, its Ask failed, or reported to Config.OnDrop. et.mu
// held.
func (et *entityType) flushHeldLocked(r *routes) {
	c := et.c
	for sid, q := range et.pending {
		e, ok := r.Owner(sid)
		if !ok {
			continue
		}
		for i := range q.msgs {
			m := &q.msgs[i]
			f := outFrame{kind: framePayload, target: e.target, payload: m.payload}
			reason, err := et.enqueue(e, sid, &f, false)
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
