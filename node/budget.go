package node

import (
	"errors"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/wire"
	"golang.org/x/sys/unix"
)

// bounds holds what the node's bounds against its peers share (see
// "Bounds" in doc.go): the inbound budget and the stall clock that
// excuses frame deadlines. Safe for concurrent use; initBounds sets it up
// in Start.
type bounds struct {
	budget inboundBudget
	start  time.Time // the origin of the nanosecond times below; set by initBounds

	// lastSweep is when the housekeeping sweep (enforceBounds) last ran
	// and lastStall when it last saw a stall (a gap between two sweeps
	// above the stall threshold), in ns since start.
	lastSweep, lastStall atomic.Int64
}

const (
	// budgetMinBuffer is the smallest buffer the inbound budget hands out
	// (the first size past a connection's allowance).
	budgetMinBuffer = 2 * InboundAllowance
	// budgetIdle: the budget's spare buffers are unmapped once none was
	// taken for this long.
	budgetIdle = 2 * time.Second
)

func (n *Node) initBounds() {
	b := &n.bounds
	b.start = time.Now()
	bb := &b.budget
	bb.held = &n.ctr.inboundHeld
	bb.limit = int64(n.cfg.InboundBudget)
	bb.top = n.cfg.MaxFrameSize + wire.FrameHeaderLen - 1 // 4 length bytes + the length
	bb.free = make([][][]byte, bufferClass(bb.top)+1)
}

func (b *bounds) since(t time.Time) int64 { return int64(t.Sub(b.start)) }

// inboundBudget hands out the buffers that hold unfinished inbound frames
// past a connection's InboundAllowance, and bounds them (see
// Config.InboundBudget): the bytes of the buffers in use never pass limit.
// Std links take them through their FrameReader (wire.FrameBudget), gnet
// links to assemble a large frame out of gnet's buffers.
//
// The buffers are anonymous memory maps, outside the Go heap, in size
// classes (powers of two from budgetMinBuffer, the largest cut at
// MaxFrameSize + 4); up to limit/4 bytes of spare ones are kept, unmapped
// once none was taken for budgetIdle (enforceBounds). Why not the heap:
// measured with 40 connections growing 15 MiB frames at loopback speed
// (TestInboundMemoryBound), heap buffers were allocated faster than the
// collector paced itself: the heap goal doubled cycle after cycle and RSS
// reached 550 MiB with 64 MiB in use; pooled on the heap (spares up to
// limit, then limit/4), the spares counted as live and pushed the goal up,
// and buffers outgrown by a frame's growth were still dropped as garbage
// (250-300 MiB of RSS). Mapped, the frame buffers take at most limit +
// limit/4 of RSS whatever the collector does, and an unmapped buffer is
// returned to the OS at once (no FreeOSMemory, no wait for the scavenger).
//
// Buffer ownership: a buffer belongs to its taker until Put; after Put it
// may be unmapped, so a frame body borrowed from it (handleFrame's body)
// must not be kept past the call, the same rule as for gnet's buffers.
// Safe for concurrent use: buffers are taken and given back only when a
// large frame grows, completes or is abandoned, under mu.
type inboundBudget struct {
	held  *atomic.Int64 // bytes of buffers in use (Stats.InboundBuffered)
	limit int64
	top   int // the largest buffer: MaxFrameSize + 4

	mu        sync.Mutex
	free      [][][]byte // spare buffers by class; guarded by mu
	freeBytes int64      // guarded by mu
	lastGet   time.Time  // when a buffer was last taken; guarded by mu
	closed    bool       // the node stopped: Put unmaps at once; guarded by mu
}

// bufferClass returns the class of the buffers that hold n bytes (their
// size is classSize).
func bufferClass(n int) int {
	c := 0
	if n > budgetMinBuffer {
		c = bits.Len(uint((n - 1) / budgetMinBuffer))
	}
	return c
}

// classSize is the size of the buffers of class c: budgetMinBuffer << c,
// cut at top (MaxFrameSize + 4) for the last class.
func classSize(c, top int) int { return min(budgetMinBuffer<<c, top) }

// Get returns a buffer of at least n bytes, or nil when the buffers in use
// would pass the limit, n is over top, or the mapping failed.
func (b *inboundBudget) Get(n int) []byte {
	c := bufferClass(n)
	if c >= len(b.free) {
		return nil
	}
	size := classSize(c, b.top)
	if size < n {
		return nil
	}
	if b.held.Add(int64(size)) > b.limit {
		b.held.Add(-int64(size))
		return nil
	}
	b.mu.Lock()
	b.lastGet = time.Now()
	if k := len(b.free[c]); k > 0 {
		buf := b.free[c][k-1]
		b.free[c][k-1] = nil
		b.free[c] = b.free[c][:k-1]
		b.freeBytes -= int64(size)
		b.mu.Unlock()
		return buf
	}
	b.mu.Unlock()
	buf, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		b.held.Add(-int64(size))
		return nil
	}
	return buf
}

// Put takes back a buffer returned by Get: kept as a spare while the
// spares hold less than limit/4 bytes, else unmapped.
func (b *inboundBudget) Put(buf []byte) {
	size := len(buf)
	b.held.Add(-int64(size))
	b.mu.Lock()
	if !b.closed && b.freeBytes+int64(size) <= b.limit/4 {
		c := bufferClass(size)
		b.free[c] = append(b.free[c], buf)
		b.freeBytes += int64(size)
		buf = nil
	}
	b.mu.Unlock()
	if buf != nil {
		_ = unix.Munmap(buf)
	}
}

// trim unmaps the spare buffers when none was taken for budgetIdle (now),
// or at once when the node stops (close).
func (b *inboundBudget) trim(now time.Time, close bool) {
	b.mu.Lock()
	var spare [][]byte
	if close || (b.freeBytes > 0 && now.Sub(b.lastGet) >= budgetIdle) {
		for c := range b.free {
			spare = append(spare, b.free[c]...)
			b.free[c] = nil
		}
		b.freeBytes = 0
	}
	b.closed = b.closed || close
	b.mu.Unlock()
	for _, buf := range spare {
		_ = unix.Munmap(buf)
	}
}

// admit counts a new inbound connection against MaxConnections: false
// (counted, logged) when the node already has that many open.
func (n *Node) admit(remote string) bool {
	if n.ctr.open.Add(1) > int64(n.cfg.MaxConnections) {
		n.ctr.open.Add(-1)
		n.ctr.connRefused.Add(1)
		n.logLimited("refusing connection: too many open connections", "remote", remote, "limit", n.cfg.MaxConnections)
		return false
	}
	return true
}

var errFrameTimeout = errors.New("node: frame not complete within the frame timeout")

// frameTimedOut counts and logs a connection closed for a frame that did
// not complete in time.
func (n *Node) frameTimedOut(l *link) {
	n.ctr.frameTimeouts.Add(1)
	n.logLimited("closing connection: frame not complete in time", "link", l.String(), "remote", l.remote(),
		"timeout", n.cfg.FrameTimeout)
}

// budgetCut counts and logs a connection closed because its unfinished
// frame could not be charged to the inbound budget.
func (n *Node) budgetCut(l *link, held int) {
	n.ctr.budgetCuts.Add(1)
	n.logLimited("closing connection: unfinished frame over the inbound budget", "link", l.String(),
		"remote", l.remote(), "held", held, "budget", n.cfg.InboundBudget)
}

// enforceBounds is the housekeeping sweep of the bounds (every tick, 50 ms
// apart): it keeps the stall clock, closes gnet links whose unfinished
// frame is older than FrameTimeout (std links have read deadlines), and
// unmaps the inbound budget's idle spare buffers.
func (n *Node) enforceBounds(now time.Time) {
	b := &n.bounds
	t := b.since(now)
	if last := b.lastSweep.Swap(t); last != 0 && time.Duration(t-last) > n.stallThreshold() {
		b.lastStall.Store(t)
	}
	n.expireFrames(now)
	b.budget.trim(now, false)
}

// excused reports whether a frame deadline that began at since (ns since
// start) and expired at now is excused by a stall of this process: one
// was seen since then, or the sweep has not run for longer than the stall
// threshold (the process is just resuming and the sweep has not noticed).
func (n *Node) excused(since, now int64) bool {
	b := &n.bounds
	return b.lastStall.Load() >= since || time.Duration(now-b.lastSweep.Load()) > n.stallThreshold()
}

// refuseEntityID drops an envelope whose entity id is longer than
// MaxEntityIDLen: a dead letter carrying the id's first MaxEntityIDLen
// bytes (the shard is the full id's).
func (n *Node) refuseEntityID(r *region, id []byte, msg any) {
	n.deadLetter(DeadLetter{Type: r.typ.Name, Shard: r.typ.ShardOf(string(id)),
		EntityID: string(id[:n.cfg.MaxEntityIDLen]), Msg: msg, Reason: wire.ReasonEntityID})
}

// entityStarting counts an entity about to start against MaxEntities; when
// the node already runs that many, the message is a dead letter
// (wire.ReasonEntityLimit) and false is returned. Whoever removes entities
// from a mailbox (stopped, or dropped with their shard) subtracts them from
// n.ctr.entitiesLive.
func (n *Node) entityStarting(m *mailbox, e *envelope) bool {
	if n.ctr.entitiesLive.Add(1) <= int64(n.cfg.MaxEntities) {
		return true
	}
	n.ctr.entitiesLive.Add(-1)
	n.logLimited("entity limit reached; dropping a message to a new entity", "type", m.region.typ.Name,
		"entity", e.entityID, "limit", n.cfg.MaxEntities)
	n.deadLetter(DeadLetter{Type: m.region.typ.Name, Shard: m.shard, EntityID: e.entityID, Msg: e.msg,
		Reason: wire.ReasonEntityLimit})
	return false
}
