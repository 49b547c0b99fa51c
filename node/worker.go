package node

import (
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

// Running mailboxes. A fixed pool of workers (Config.Workers) takes
// scheduled mailboxes from the run queue; an event loop may run an idle
// one inline (runInline). Whoever runs a shard mailbox decides first what
// the shard allows (shardMode), from the route (the table) and the lease:
//
//   - serve: the table names this node owner and its lease is unexpired:
//     entities run, a batch at a time, and the condition is checked again
//     before every message, so a lease that lapses in the middle of a
//     batch (or a process that was stopped there) runs nothing more; the
//     rest of the batch is kept (held) for the next decision;
//   - moved: another node owns the shard: the shard's entities are
//     stopped (Stopper, StopMoved: their state is gone) and every queued
//     envelope is forwarded once more to the owner (hop-limited), or is a
//     dead letter;
//   - wait: the table names this node but it holds no lease (or it is
//     leaving and has drained the shard): the mailbox is blocked until the
//     lease comes back or the table changes; an unallocated shard's
//     envelopes go back to the locator, which asks for an owner.
//
// Entities created under an earlier allocation of the shard (the shard
// moved away and came back) are stopped before the new allocation serves
// anything.

// shardMode is what a shard mailbox may do now.
type shardMode uint8

const (
	modeServe shardMode = iota
	modeMoved
	modeWait
	modeUnallocated
)

// modeOf decides for shard mailbox m at now (n.mono ns) under route rt.
// m.frozen is the runner's.
func (n *Node) modeOf(m *mailbox, rt *route, now int64) (shardMode, wire.NodeAddress, int64) {
	i, s := m.region.idx, m.shard
	owner, since := rt.owners[i][s], rt.since[i][s]
	switch {
	case owner.IsZero():
		return modeUnallocated, owner, since
	case owner != n.self:
		return modeMoved, owner, since
	case m.frozen || now >= n.lease.until.Load():
		return modeWait, owner, since
	}
	return modeServe, owner, since
}

// behindTable turns a decision to send m's envelopes elsewhere (modeMoved:
// forward them; modeUnallocated: park them) into modeWait while rt is
// older than the table this node's replica has applied. The fsm stores a
// table before onTable publishes its route, and onTable first releases
// what was parked for that table (resolveLocked, as housekeeping's resolve
// may also do), into this mailbox when the table names this node: a worker
// that ran it by the old route forwarded those envelopes back to the
// shard's previous owner, which had already applied the new table and,
// with the hop the first forward spent, had none left to send them here
// again (chaos rolling-restart, the leader restarted last: 23-74 hop_limit
// dead letters on the leaving leader; TestNoForwardByARouteBehindTheTable).
// The mailbox waits instead; onTable's unblockAll wakes it once the route
// is published.
func (n *Node) behindTable(mode shardMode, rt *route) shardMode {
	if (mode == modeMoved || mode == modeUnallocated) && n.table().epoch > rt.epoch {
		return modeWait
	}
	return mode
}

// serving reports whether the entity of m may receive one more message
// at now (n.mono ns, read by the caller just before): m is served under the
// allocation its entities belong to, with a valid lease. It is the check
// made before every message; the caller hands the same clock reading to
// the entity (Context.Now), so a message costs one clock read in all.
func (n *Node) serving(m *mailbox, now int64) bool {
	rt := n.route.Load()
	i, s := m.region.idx, m.shard
	return rt.owners[i][s] == n.self && rt.since[i][s] == m.epoch && !m.frozen &&
		now < n.lease.until.Load()
}

const workerBatch = 64

func (n *Node) startWorkers() {
	for range n.cfg.Workers {
		n.wg.Add(1)
		go n.worker()
	}
}

// worker runs scheduled mailboxes, a batch at a time.
func (n *Node) worker() {
	defer n.wg.Done()
	ctx := &Context{n: n}
	batch := make([]envelope, 0, workerBatch)
	for {
		var m *mailbox
		select {
		case <-n.stop:
			return
		case m = <-n.runq:
		}
		if !n.gate.wait(n.stop) {
			return
		}
		if m.svc != nil {
			batch = m.take(batch[:0], workerBatch, true)
			for i := 0; i < len(batch); {
				i = n.runBatch(m, ctx, batch, i)
			}
			clear(batch)
			n.endRun(m, nil)
			continue
		}
		if n.runShard(m, ctx, batch[:0]) {
			n.endRun(m, nil)
		}
	}
}

// runShard runs one turn of shard mailbox m (claimed by the caller through
// m.scheduled) and reports whether the caller must end the run (endRun);
// false when m was blocked and released here.
func (n *Node) runShard(m *mailbox, ctx *Context, batch []envelope) bool {
	rt := n.route.Load()
	mode, owner, since := n.modeOf(m, rt, int64(n.mono()))
	if len(m.entities) > 0 && (mode == modeMoved || mode == modeUnallocated || since != m.epoch) {
		n.retire(m, ctx, StopMoved)
	}
	if n.leaving.Load() && !m.frozen && m.drained() {
		if mode == modeServe || mode == modeWait {
			n.retire(m, ctx, StopLeaving)
			n.recordRelease(m, rt)
		}
		m.frozen = true
		m.frozenFlag.Store(true)
		n.leaveLeft.Add(-1)
		mode, owner, since = n.modeOf(m, rt, int64(n.mono()))
	}
	mode = n.behindTable(mode, rt)
	switch mode {
	case modeServe:
		m.epoch = since
		batch = m.take(batch, workerBatch, true)
		ran := 0
		for i := 0; i < len(batch); {
			now := int64(n.mono())
			if !n.serving(m, now) {
				// The lease lapsed or the table moved mid-batch: keep the
				// rest for the next decision.
				m.held = append(append([]envelope(nil), batch[i:]...), m.held...)
				break
			}
			ctx.now = now
			var ok bool
			if i, ok = n.runOne(m, ctx, batch, i); ok {
				ran++
			}
		}
		// One add per batch: the counter is striped, but each add still
		// costs a pool round trip (BenchmarkIngest, PERFORMANCE.md "Node
		// hot path").
		if ran > 0 {
			n.ctr.processed.Add(int64(ran))
		}
		clear(batch)
		return true
	case modeMoved:
		for {
			batch = m.take(batch[:0], workerBatch, false)
			if len(batch) == 0 {
				break
			}
			for i, e := range batch {
				if n.redirect(m, owner, e) == fwdFull {
					// The new owner's link is full: keep the rest, and
					// wait (blocked) until it has room.
					m.held = append(append([]envelope(nil), batch[i:]...), m.held...)
					clear(batch)
					n.block(m)
					return false
				}
			}
			clear(batch)
		}
		return true
	case modeUnallocated:
		for {
			batch = m.take(batch[:0], workerBatch, false)
			if len(batch) == 0 {
				break
			}
			for i, e := range batch {
				if n.loc.parkEnv(&pendingReq{typ: m.region.typ.Name, shard: m.shard,
					env: &parkedEnv{region: m.region, entityID: e.entityID, msg: e.msg, hops: int(e.hops)}}) == routed {
					// Allocated meanwhile: keep the rest in order for the
					// next decision (endRun queues the mailbox again).
					m.held = append(append([]envelope(nil), batch[i:]...), m.held...)
					clear(batch)
					return true
				}
			}
			clear(batch)
		}
		return true
	}
	// modeWait: blocked until the lease or the table changes.
	if !m.pending() {
		return true
	}
	n.ctr.mailboxWaits.Add(1)
	n.block(m)
	rt = n.route.Load()
	if again, _, _ := n.modeOf(m, rt, int64(n.mono())); n.behindTable(again, rt) != modeWait {
		m.kick() // it changed while we blocked: run again
	}
	return false
}

// drained reports whether a leaving node has run every message m held
// when the leave began. Runner only.
func (m *mailbox) drained() bool {
	if len(m.held) > 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.draining && m.drainLeft == 0
}

// runOne runs batch[i] on its entity and returns i+1, and whether the
// entity received it (the caller counts Stats.MessagesProcessed); a panic
// in the entity is counted and logged, and the message dropped.
func (n *Node) runOne(m *mailbox, ctx *Context, batch []envelope, i int) (next int, ran bool) {
	defer func() {
		if r := recover(); r != nil {
			n.ctr.entityPanics.Add(1)
			n.logLimited("entity panicked; message dropped", "entity", ctx.entityID, "type", ctx.typ, "panic", r)
			next = i + 1
		}
	}()
	typ := &m.region.typ
	ctx.typ, ctx.shard = typ.Name, m.shard
	e := &batch[i]
	if u, ok := e.msg.(castyjson.Unknown); ok {
		// The entity could do nothing with it: a dead letter that
		// answers a waiting zerohop ask with the reason.
		n.logLimited("dropping a message of a type this node does not know", "type", u.Type, "entity_type", typ.Name)
		n.deadLetter(DeadLetter{Type: typ.Name, Shard: m.shard, EntityID: e.entityID, Msg: e.msg,
			Reason: wire.ReasonUnknownMessageType})
		return i + 1, false
	}
	ent := m.entities[e.entityID]
	if ent == nil {
		if !n.entityStarting(m, e) {
			return i + 1, false // over MaxEntities: a dead letter
		}
		ent = typ.New(e.entityID)
		m.entities[e.entityID] = ent
		n.ctr.entitiesStarted.Add(1)
	}
	ctx.entityID = e.entityID
	ent.Receive(ctx, e.msg)
	return i + 1, true
}

// runBatch processes a service mailbox's batch[i:] and returns where it
// stopped: len(batch), or one past a message whose handler panicked
// (counted and logged).
func (n *Node) runBatch(m *mailbox, ctx *Context, batch []envelope, i int) (next int) {
	defer func() {
		if r := recover(); r != nil {
			n.ctr.entityPanics.Add(1)
			n.logLimited("service panicked; message dropped", "path", m.svc.Path, "panic", r)
			next = i + 1
		}
	}()
	ctx.entityID, ctx.typ, ctx.shard = "", "", -1
	ctx.now = int64(n.mono())
	for ; i < len(batch); i++ {
		m.svc.Handler.Receive(ctx, batch[i].msg)
		n.ctr.processed.Inc()
	}
	return i
}

// retire stops every entity of m (Stopper) and forgets them: their state
// ends here. Runner only.
func (n *Node) retire(m *mailbox, ctx *Context, why StopReason) {
	ctx.typ, ctx.shard = m.region.typ.Name, m.shard
	ctx.now = int64(n.mono())
	for id, e := range m.entities {
		if s, ok := e.(Stopper); ok {
			ctx.entityID = id
			n.stopEntity(s, ctx, why)
		}
		delete(m.entities, id)
		n.ctr.entitiesStopped.Add(1)
		n.ctr.entitiesLive.Add(-1)
	}
	m.epoch = 0
}

func (n *Node) stopEntity(s Stopper, ctx *Context, why StopReason) {
	defer func() {
		if r := recover(); r != nil {
			n.ctr.entityPanics.Add(1)
			n.logLimited("entity panicked in Stop", "entity", ctx.entityID, "type", ctx.typ, "panic", r)
		}
	}()
	s.Stop(ctx, why)
}

// redirect forwards e, queued on a shard that moved to owner, or drops it
// as a dead letter (see forwardDecoded); fwdFull when the owner's link is
// full (m is woken when it has room).
func (n *Node) redirect(m *mailbox, owner wire.NodeAddress, e envelope) forwardResult {
	r := n.forwardDecoded(owner, m.region, m.shard, e.entityID, e.msg, int(e.hops), m)
	if r == fwdDone {
		n.ctr.redirected.Add(1)
	}
	return r
}

// runInline runs e at once on l's event loop when its mailbox is idle
// (empty, not scheduled) and the shard is served now: it claims the
// mailbox as a worker would (scheduled), runs the entity, and releases
// it, handing the mailbox to the run queue if messages arrived meanwhile.
// That saves the hand-off to a worker and, for a reply to l, the wake-up
// of the event loop (replies are written at the end of OnTraffic, see
// inlineRun). It reports false, touching nothing, when the mailbox is
// busy: the caller pushes as usual. Ordering holds because only an idle
// mailbox is taken. When the shard is not served now (no lease, a new
// allocation whose old entities must stop first, leaving), e is queued and
// the mailbox handed to the workers, which decide.
func (n *Node) runInline(l *link, m *mailbox, e envelope) bool {
	m.mu.Lock()
	if m.scheduled || m.count > 0 || m.blocked {
		m.mu.Unlock()
		return false
	}
	m.scheduled = true
	now := int64(n.mono())
	if !n.serving(m, now) || len(m.held) > 0 || n.leaving.Load() {
		m.ring[(m.head+m.count)%len(m.ring)] = e
		m.count++
		m.mu.Unlock()
		n.runq <- m // claimed above, so not queued: never blocks
		return true
	}
	m.mu.Unlock()
	l.inline.run(n, l, m, e, now)
	n.endRun(m, l)
	return true
}

// endRun ends a run of m that its runner claimed through m.scheduled: the
// links paused on m are resumed once it is at most half full, except skip
// (the inline runner's own link, which its loop resumes), and m is queued
// again if messages are left; otherwise it is released. Queuing never
// blocks: m was not queued while scheduled was held by the runner.
func (n *Node) endRun(m *mailbox, skip *link) {
	held := len(m.held) > 0
	m.mu.Lock()
	var wake []*link
	if len(m.waiters) > 0 && m.count <= m.size/2 {
		wake = m.waiters
		m.waiters = nil
	}
	again := m.count > 0 || held || m.rekick
	m.rekick = false
	if !again {
		m.scheduled = false
	}
	m.mu.Unlock()
	for _, w := range wake {
		if w != skip {
			w.resumeRead()
		}
	}
	if again {
		n.runq <- m
	}
}

// recordRelease notes that this node stopped serving m's shard now (for
// NodeState.Released). Runner or table installer.
func (n *Node) recordRelease(m *mailbox, rt *route) {
	i, s := m.region.idx, m.shard
	if rt.owners[i][s] != n.self {
		return
	}
	n.releases.add(wire.ShardClaim{Type: m.region.typ.Name, Shard: s, Epoch: rt.since[i][s],
		Since: n.monoAbs(rt.servingSince[i][s]), Until: n.monoAbs(min(int64(n.mono()), n.lease.until.Load()))})
}

// retryTick is how often blocked work is looked at again regardless of
// events (a safety net: lease and table changes unblock at once).
const retryTick = 250 * time.Millisecond
