package node

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// Entity is a sharded entity or a service: it receives its messages one at
// a time, in arrival order, on a worker goroutine or, when its shard was
// idle, on the event loop that read the message (never two at once for the
// same entity, possibly on different goroutines over time). Receive must not
// block: it runs on a shared worker pool or an event loop.
type Entity interface {
	Receive(ctx *Context, msg any)
}

// EntityFunc adapts a function to Entity. Its Receive is called as Entity
// says: one message at a time per entity.
type EntityFunc func(ctx *Context, msg any)

// Receive calls f.
func (f EntityFunc) Receive(ctx *Context, msg any) { f(ctx, msg) }

// Context is what an entity or service gets with each message. It is owned
// by one worker and valid only during Receive; do not keep it, copy it or
// share it with another goroutine. Its zero value is not usable.
type Context struct {
	n        *Node
	entityID string
	typ      string
	shard    int    // -1 for a service
	buf      []byte // encode buffer, owned by the worker
}

// EntityID returns the entity's id ("" for a service).
func (c *Context) EntityID() string { return c.entityID }

// EntityType returns the entity type name ("" for a service).
func (c *Context) EntityType() string { return c.typ }

// Shard returns the entity's shard (-1 for a service).
func (c *Context) Shard() int { return c.shard }

// Node returns the node the entity runs on.
func (c *Context) Node() *Node { return c.n }

// Tell sends msg to the actor at ref: over the connection of the ref's
// client, to another member, or locally. It never blocks; when no
// connection leads to the ref's node the message is dropped, counted and
// ErrUndeliverable returned.
func (c *Context) Tell(to wire.Ref, msg any) error { return c.n.tell(to, msg, &c.buf) }

// Reply is Tell, for answering a reply_to ref.
func (c *Context) Reply(to wire.Ref, msg any) error { return c.n.tell(to, msg, &c.buf) }

// Tell sends msg to ref from outside any entity (see Context.Tell). Safe
// for concurrent use.
func (n *Node) Tell(to wire.Ref, msg any) error {
	var buf []byte
	return n.tell(to, msg, &buf)
}

// region is the shard region of one entity type: one mailbox per shard.
type region struct {
	idx   int
	typ   EntityType
	boxes []*mailbox
}

// envelope is a message queued for an entity (entityID "" for services).
type envelope struct {
	entityID string
	msg      any
}

// mailbox is a bounded FIFO of one shard (all its entities) or one
// service. At most one worker runs a mailbox at a time (scheduled), which
// keeps every entity's messages in arrival order with no goroutine per
// entity. A full mailbox (size messages) refuses the message and remembers
// the connection, which stops reading until the worker has drained the
// mailbox to half.
//
// Envelopes that were parked while their shard had no owner cannot pause
// anything when they are released, so pushParked may take the mailbox past
// size, up to size + Config.MaxPendingRequests (the bound of the parked
// queue they come from); the ring grows for them and stays grown. Beyond
// that they are dropped and counted (Stats.MailboxDropped).
type mailbox struct {
	n      *Node
	region *region  // nil for a service
	svc    *Service // nil for a region shard
	shard  int      // the shard of region; -1 for a service
	size   int      // Config.MailboxSize: the bound for push
	limit  int      // size + Config.MaxPendingRequests: the bound for pushParked

	mu        sync.Mutex
	ring      []envelope // len >= size; grows up to limit; guarded by mu
	head      int        // guarded by mu
	count     int        // guarded by mu
	scheduled bool       // in the run queue or running; guarded by mu
	waiters   []*link    // connections paused on this mailbox; guarded by mu

	entities map[string]Entity // owned by the worker running the mailbox
	stopped  atomic.Bool       // a stopped service takes no more messages
}

func (n *Node) newMailbox(r *region, shard int, svc *Service) *mailbox {
	return &mailbox{n: n, region: r, svc: svc, shard: shard,
		size: n.cfg.MailboxSize, limit: n.cfg.MailboxSize + n.cfg.MaxPendingRequests,
		ring: make([]envelope, n.cfg.MailboxSize), entities: map[string]Entity{}}
}

// push queues e; when the mailbox is full it returns false and, if from is
// set, wakes from once there is room.
func (m *mailbox) push(e envelope, from *link) bool {
	m.mu.Lock()
	if m.count >= m.size {
		if from != nil && !slices.Contains(m.waiters, from) {
			m.waiters = append(m.waiters, from)
		}
		m.mu.Unlock()
		return false
	}
	return m.appendLocked(e)
}

// pushParked queues a released parked envelope, growing the ring past size
// if needed (see the type comment); false when the mailbox holds limit.
func (m *mailbox) pushParked(e envelope) bool {
	m.mu.Lock()
	if m.count >= m.limit {
		m.mu.Unlock()
		return false
	}
	if m.count == len(m.ring) {
		grown := make([]envelope, min(2*len(m.ring), m.limit))
		for i := range m.count {
			grown[i] = m.ring[(m.head+i)%len(m.ring)]
		}
		m.ring, m.head = grown, 0
	}
	return m.appendLocked(e)
}

// appendLocked adds e (room checked by the caller), unlocks m.mu and
// schedules the mailbox if it was idle.
func (m *mailbox) appendLocked(e envelope) bool {
	m.ring[(m.head+m.count)%len(m.ring)] = e
	m.count++
	depth := m.count
	sched := !m.scheduled
	m.scheduled = true
	m.mu.Unlock()
	if int64(depth) > m.n.ctr.mailboxHigh.Load() {
		m.n.ctr.highWater(int64(depth))
	}
	if sched {
		m.n.runq <- m // never blocks: capacity = number of mailboxes, each queued at most once
	}
	return true
}

const workerBatch = 64

// runInline runs e at once on l's event loop when its mailbox is idle
// (empty, not scheduled): it claims the mailbox as a worker would
// (scheduled), runs the entity, and releases it, handing the mailbox to the
// run queue if messages arrived meanwhile. That saves the hand-off to a
// worker and, for a reply to l, the wake-up of the event loop (replies are
// written at the end of OnTraffic, see inlineRun). It reports false,
// touching nothing, when the mailbox is busy: the caller pushes as usual.
// Ordering holds because only an idle mailbox is taken.
func (n *Node) runInline(l *link, m *mailbox, e envelope) bool {
	m.mu.Lock()
	if m.scheduled || m.count > 0 {
		m.mu.Unlock()
		return false
	}
	m.scheduled = true
	m.mu.Unlock()
	l.inline.run(n, l, m, e)
	n.endRun(m, l)
	return true
}

// endRun ends a run of m that its runner (a worker, or an event loop running
// it inline) claimed through m.scheduled: the links paused on m are resumed
// once it is at most half full, except skip (the inline runner's own link,
// which its loop resumes), and m is queued again if messages arrived during
// the run; otherwise it is released. Queuing never blocks: m was not queued
// while scheduled was held by the runner.
func (n *Node) endRun(m *mailbox, skip *link) {
	m.mu.Lock()
	var wake []*link
	if len(m.waiters) > 0 && m.count <= m.size/2 {
		wake = m.waiters
		m.waiters = nil
	}
	again := m.count > 0
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
		m.mu.Lock()
		k := min(m.count, workerBatch)
		for range k {
			batch = append(batch, m.ring[m.head])
			m.ring[m.head] = envelope{}
			m.head = (m.head + 1) % len(m.ring)
		}
		m.count -= k
		m.mu.Unlock()
		for i := 0; i < len(batch); {
			i = n.runBatch(m, ctx, batch, i)
		}
		clear(batch)
		batch = batch[:0]
		n.endRun(m, nil)
	}
}

// runBatch processes batch[i:] and returns where it stopped: len(batch), or
// one past a message whose handler panicked (counted and logged).
func (n *Node) runBatch(m *mailbox, ctx *Context, batch []envelope, i int) (next int) {
	defer func() {
		if r := recover(); r != nil {
			n.ctr.entityPanics.Add(1)
			n.logLimited("entity panicked; message dropped", "entity", ctx.entityID, "type", ctx.typ, "panic", r)
			next = i + 1
		}
	}()
	if m.svc != nil {
		ctx.entityID, ctx.typ, ctx.shard = "", "", -1
		for ; i < len(batch); i++ {
			m.svc.Handler.Receive(ctx, batch[i].msg)
			n.ctr.processed.Inc()
		}
		return i
	}
	typ := &m.region.typ
	ctx.typ, ctx.shard = typ.Name, m.shard
	for ; i < len(batch); i++ {
		e := &batch[i]
		ent := m.entities[e.entityID]
		if ent == nil {
			if !n.entityStarting(m, e) {
				continue // over MaxEntities: a dead letter
			}
			ent = typ.New(e.entityID)
			m.entities[e.entityID] = ent
			n.ctr.entitiesStarted.Add(1)
		}
		ctx.entityID = e.entityID
		ent.Receive(ctx, e.msg)
		n.ctr.processed.Inc()
	}
	return i
}

// StopService stops the service at path: from now on messages to it are
// dropped and counted (Stats.UnknownTargets), and it leaves the registry of
// every member's snapshots once this node's metadata has been gossiped.
// It waits for that gossip to go out until ctx ends (at most
// Membership.TCPTimeout); the service is stopped either way.
func (n *Node) StopService(ctx context.Context, path string) error {
	h, ok := n.paths[path]
	if !ok || h.kind != pkService {
		return errors.New("node: no service at " + path)
	}
	if h.box.stopped.Swap(true) {
		return nil
	}
	n.mu.Lock()
	kept := n.meta.Services[:0:0]
	for _, s := range n.meta.Services {
		if s[1] != path {
			kept = append(kept, s)
		}
	}
	n.meta.Services = kept
	if m := n.members[n.self]; m != nil {
		m.meta.Services = kept
	}
	n.snapDirty = true
	n.mu.Unlock()
	n.wake()
	timeout := n.cfg.Membership.TCPTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	return n.ml.UpdateNode(max(timeout, time.Millisecond))
}
