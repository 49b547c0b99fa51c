package node

import (
	"slices"
	"sync"
	"sync/atomic"
)

// mailbox is a bounded FIFO of one shard (all its entities) or one
// service. At most one runner (a worker, or an event loop running it
// inline) runs a mailbox at a time (scheduled), which keeps every entity's
// messages in arrival order with no goroutine per entity. A full mailbox
// (size messages) refuses the message and remembers the connection, which
// stops reading until the runner has drained the mailbox to half.
//
// Envelopes that were parked while their shard had no owner cannot pause
// anything when they are released, so pushParked may take the mailbox past
// size, up to size + Config.MaxPendingRequests (the bound of the parked
// queue they come from); the ring grows for them and stays grown. Beyond
// that they are dead letters (Stats.MailboxDropped).
//
// A shard mailbox may only run its entities while this node serves the
// shard (worker.go): while the node owns the shard but holds no lease (or
// is leaving and has frozen it), the mailbox is blocked: pushes queue but
// do not schedule it, and it is scheduled again by unblockAll when the
// lease comes back or the table changes. A runner that finds the lease
// gone in the middle of a batch keeps the rest of the batch in held, which
// it runs (or forwards) before the ring.
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
	blocked   bool       // waiting for the lease or the table (not scheduled by pushes); guarded by mu
	rekick    bool       // kicked while a runner had it: run once more even if empty; guarded by mu
	waiters   []*link    // connections paused on this mailbox; guarded by mu
	draining  bool       // the node is leaving: run only drainLeft more messages; guarded by mu
	drainLeft int        // guarded by mu

	entities   map[string]Entity // owned by the runner
	epoch      int64             // owned by the runner: the allocation (slot since) its entities were created under
	held       []envelope        // owned by the runner: taken from the ring but not run yet
	frozen     bool              // owned by the runner: leaving, drained; serves nothing more
	frozenFlag atomic.Bool       // frozen, for readers other than the runner (NodeState)
	stopped    atomic.Bool       // a stopped service takes no more messages
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
// schedules the mailbox if it was idle and not blocked.
func (m *mailbox) appendLocked(e envelope) bool {
	m.ring[(m.head+m.count)%len(m.ring)] = e
	m.count++
	depth := m.count
	sched := !m.scheduled && !m.blocked
	m.scheduled = m.scheduled || sched
	m.mu.Unlock()
	if int64(depth) > m.n.ctr.mailboxHigh.Load() {
		m.n.ctr.highWater(int64(depth))
	}
	if sched {
		m.n.runq <- m // never blocks: capacity = number of mailboxes, each queued at most once
	}
	return true
}

// kick schedules the mailbox even when it is empty (a runner must look at
// it: its shard moved, or the node is leaving), unblocking it.
func (m *mailbox) kick() {
	m.mu.Lock()
	m.blocked = false
	sched := !m.scheduled
	if !sched {
		m.rekick = true // its runner looks again when it ends (endRun)
	}
	m.scheduled = true
	m.mu.Unlock()
	if sched {
		m.n.runq <- m
	}
}

// take moves up to k envelopes (held ones first) into dst; to run them
// (serve), a leaving node's mailbox gives only what it held when the leave
// began. Runner only.
func (m *mailbox) take(dst []envelope, k int, serve bool) []envelope {
	if len(m.held) > 0 {
		c := min(k, len(m.held))
		dst = append(dst, m.held[:c]...)
		clear(m.held[:c])
		m.held = m.held[c:]
		if len(m.held) == 0 {
			m.held = nil
		}
		k -= c
	}
	if k <= 0 {
		return dst
	}
	m.mu.Lock()
	c := min(m.count, k)
	if serve && m.draining {
		c = min(c, m.drainLeft)
		m.drainLeft -= c
	}
	for range c {
		dst = append(dst, m.ring[m.head])
		m.ring[m.head] = envelope{}
		m.head = (m.head + 1) % len(m.ring)
	}
	m.count -= c
	m.mu.Unlock()
	return dst
}

// pending reports whether the mailbox has envelopes (held or queued).
// Runner only (held is the runner's).
func (m *mailbox) pending() bool {
	if len(m.held) > 0 {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count > 0
}

// blockedSet holds the blocked mailboxes, to schedule them again.
type blockedSet struct {
	mu  sync.Mutex
	set map[*mailbox]struct{} // guarded by mu
}

// block marks m blocked and releases it (the runner stops running it).
// The caller re-checks the condition that blocked it afterwards (see
// runShard): a lease or table change published before block is then seen,
// one published after finds m in the set.
func (n *Node) block(m *mailbox) {
	n.blocked.mu.Lock()
	if n.blocked.set == nil {
		n.blocked.set = map[*mailbox]struct{}{}
	}
	n.blocked.set[m] = struct{}{}
	n.blocked.mu.Unlock()
	m.mu.Lock()
	if m.rekick {
		// Kicked while its runner had it: look again instead of waiting.
		m.rekick = false
		m.mu.Unlock()
		n.runq <- m // still claimed (scheduled), so not queued: never blocks
		return
	}
	m.blocked = true
	m.scheduled = false
	m.mu.Unlock()
}

// unblockAll schedules every blocked mailbox again (the lease came back,
// the table changed, a leave began): each runner re-checks its shard.
func (n *Node) unblockAll() {
	n.blocked.mu.Lock()
	ms := make([]*mailbox, 0, len(n.blocked.set))
	for m := range n.blocked.set {
		ms = append(ms, m)
	}
	clear(n.blocked.set)
	n.blocked.mu.Unlock()
	for _, m := range ms {
		m.kick()
	}
}

// peerRoom: a member link that refused this mailbox's forwards has room
// (or closed). The mailbox is scheduled again if its runner has blocked
// it meanwhile; a wake that comes before that finds nothing to do, and
// the housekeeping retry (unblockAll) picks the mailbox up.
func (m *mailbox) peerRoom() { m.n.unblock(m) }

// unblock schedules m again if it is blocked.
func (n *Node) unblock(m *mailbox) {
	n.blocked.mu.Lock()
	_, ok := n.blocked.set[m]
	delete(n.blocked.set, m)
	n.blocked.mu.Unlock()
	if ok {
		m.kick()
	}
}
