package engine

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// outQueue is the bounded outbound queue of one node connection: a ring of
// frame slots with many producers (Tell, Ask, control messages) and exactly
// one consumer (the connection's writer, or its supervisor while no link is
// up). It is lock-free.
//
// Algorithm (a Vyukov-style bounded MPSC ring, as rueidis' ring but without
// per-slot mutexes):
//
//   - tail is the next ticket to hand out. A producer claims ticket t with a
//     CAS on tail after checking t-head < len(slots) (else the queue is
//     full). Owning ticket t gives it exclusive write access to
//     slots[t&mask] until it publishes.
//   - The producer encodes its frame straight into the slot's buffer (no
//     intermediate copy), then publishes with seq = t+1. An encoding failure
//     publishes an empty slot, which the consumer skips.
//   - The consumer owns head. It copies published slots, in ticket order,
//     into its write batch, and advances head past each copied slot; only
//     then can a producer claim that slot again. An unpublished slot at head
//     stops the batch (its producer is between claim and publish and will
//     wake the consumer when it publishes).
//   - Wake-up: the consumer sets sleeping before its final emptiness check;
//     a producer clears it after publishing and, if it was set, sends one
//     token on wake (capacity 1, never blocks). With sequentially consistent
//     atomics one of the two always sees the other, so no publish is missed,
//     and the consumer is woken only on the empty -> non-empty transition.
//
// Sojourn bound (in the spirit of CoDel; target, 0 disables it): the queue
// should hold only what keeps the link busy, so that an ask queued behind
// a flood of tells waits about target, not len(slots) frames. No clock is
// read per frame:
//
//   - clock is a coarse time written by the consumer once per drain (the
//     time it passes to drain) and set to 0 when it parks; a producer
//     copies it into its slot's stamp at claim (0: queued while the
//     consumer was parked, i.e. fresh). A stamp is thus the time of the
//     last drain before the frame was queued: no later than the true
//     enqueue time, so a frame's age is over-estimated by at most the time
//     between two drains (one write).
//   - At the end of each drain the consumer looks at the oldest frame
//     still queued (the new head): late is set once every drain for an
//     interval (CoDel's, 100 ms by default) found it published and older
//     than target, cleared as soon as one does not (an empty queue, or a
//     head still being encoded, is never late): a burst, or a writer the
//     scheduler did not run for a few milliseconds, is absorbed by the
//     slots, and only a standing queue is refused. Producers waiting in waitSpace
//     are woken when it clears (not per drain while it is late). The
//     consumer never parks with late set (it parks only after a drain
//     that found nothing).
//   - The late flag alone is decided only between writes, and a write
//     into a socket the peer does not drain can block for long while
//     producers fill every slot. So once the queue has been late (it is
//     backlogged: what the writer drains is what the link takes, not what
//     producers offer) the consumer estimates the rate at which it writes
//     frames (an EWMA of frames per clock unit, sampled over windows of at
//     least target/4) and keeps the paced frames queued below
//     rate*target (Little's law: what drains within the target), at least
//     minPaced; paceReserve is the slots that bound keeps free. A park
//     means the link keeps up: it lifts that bound, and a burst on a link
//     that keeps up is bounded by the slots only.
//   - Paced producers (entity and service tells) treat a late queue, or
//     one holding rate*target frames, like a full one: claim reports
//     late, Tell refuses (counted, DropQueueSojourn), TellContext waits.
//     Other frames (asks, held messages flushed, control frames) ignore
//     it and keep the slot bound only, queued behind the tells already
//     there: per-connection FIFO order is unchanged.
//   - Paced producers always leave pacedFloor slots free (len/32: 256 of
//     the default 8192), of which control frames alone may take the last
//     reserve (len/64): so a flood of tells that fills the queue before
//     the bound engages (a sojourn shorter than interval, a bound that is
//     off, a link that stalls) has tells refused or waiting, not the asks
//     behind them, which queue in the other len/64 slots. (Measured
//     before it: in the mixed run, asks refused as queue_full and retried
//     by the caller, PERFORMANCE.md "Asks behind a flood".)
//
// Hot buffers (the cache's share of the queue): each slot keeps the
// buffer its frames are encoded into, and tickets walk the ring, so a
// flood that keeps all 8192 slots busy passes every frame through a
// different buffer: about 2.5 MB of ~300-byte frames, more than a core's
// cache, so the producer's encode, its claim and the writer's copy each
// missed the cache. Measured (PERFORMANCE.md, "Hot buffers"): the
// embedded JSON flood spent 207 ns per tell in the encode with 8192 slots
// busy and 61 ns with 512, and ran 1.6x faster with 512. So:
//
//   - A ticket claimed less than hotSlots (512) ahead of the consumer's
//     head encodes into hot[t & (hotSlots-1)] instead of its slot's own
//     buffer (qslot.hot says which). The ticket that used that hot buffer
//     before is at least hotSlots back, hence below head: consumed, its
//     buffer free. Tickets further ahead (a burst of Tell outrunning the
//     writer) use their slot's own buffer, as before, so the queue still
//     holds len(slots) frames.
//   - A paced producer that can wait (TellContext: claim with wait, and
//     waitSpace) sees the queue full once Config.QueueWaitFrames frames
//     are queued (waitReserve; by default hotSlots): a flood of
//     TellContext keeps to the hot buffers, and 512 frames are still more
//     than one write's worth (MaxBatchBytes), so the link stays busy.
//     Tell, which cannot wait, keeps the whole queue for bursts; held
//     messages, asks and control frames too. With a small socket send
//     buffer the queue holds the link's backlog, and 512 frames may be
//     too few to keep it busy (Config.QueueWaitFrames).
//
// Precision: late is decided per drain from ages known to within one
// write; between drains the rate bound holds, as well as the rate
// estimate does (it lags a change of the link's speed by a few samples).
//
// Cache lines: tail (CAS by producers), head with the rate estimate
// (consumer, per drain), clock, paceReserve and late (consumer, per drain),
// sleeping (consumer when it parks, producer that wakes it), space
// (waiting producers and the consumer) and the read-only fields each have
// a line of their own, so that the flag read by every publish (sleeping)
// and the fields read by every claim are not invalidated by writes to a
// neighbour: issue 12's profile of the embedded tell flood had
// atomic.(*Bool).Load in publish at 7.5% of the CPU (the saturated box of
// this change could not measure the gain: PERFORMANCE.md, "Asks behind a
// flood").
//
// Justification over a mutex-protected buffer: BenchmarkTellParallel (the
// producers never block each other except on the tail CAS, and encoding runs
// outside any critical section).
//
// Bounds: len(slots) frames (QueueWaitFrames for a waiting producer's tells),
// and the sojourn target for paced frames; a slot or hot buffer that grew
// beyond maxKeptSlotBuf is released by the consumer after use, so memory
// is at most (len(slots) + hotSlots) * typical frame size, and about
// hotSlots * typical frame size while no burst outruns the writer (own
// buffers are allocated at first use).
type outQueue struct {
	tail atomic.Uint64 // next ticket to claim; CAS by producers
	_    [56]byte
	head atomic.Uint64 // next ticket to consume; written by the consumer only
	// The write rate estimate (drain, prepareSleep): owned by the
	// consumer, on head's line (written as often as head).
	sampleAt int64   // clock at the start of the current sample; 0: none (parked since)
	sampled  uint64  // frames drained since sampleAt
	rate     float64 // EWMA of frames drained per clock unit while busy; 0: none yet
	// aboveSince: clock of the first drain of the current run that found
	// the head older than target; 0: none. Consumer only, on head's line.
	aboveSince int64
	_          [24]byte
	// clock, paceReserve and late: written by the consumer at most once
	// per drain, read by producers at claim.
	clock       atomic.Int64  // coarse time of the consumer's last drain; 0 while it is parked
	paceReserve atomic.Uint64 // slots paced producers keep free: at least pacedFloor (see the type comment)
	late        atomic.Bool   // the oldest queued frame is older than target (see the type comment)
	_           [47]byte
	sleeping    atomic.Bool // consumer is (about to be) parked on wake
	_           [63]byte
	space       atomic.Pointer[chan struct{}] // closed by the consumer when it frees slots; set by waiting producers
	_           [56]byte
	closed      atomic.Bool // no more claims: claim reports closed
	wake        chan struct{}
	mask        uint64
	reserve     uint64 // slots only control frames may take (see claim)
	pacedFloor  uint64 // the least paceReserve: reserve, plus as many slots that only unpaced data frames (asks, held messages) and control frames may take
	waitReserve uint64 // slots a paced producer that can wait (TellContext) keeps free: len(slots)-waitFrames, at least pacedFloor
	target      int64  // sojourn target in clock units (ns); 0: no sojourn bound
	interval    int64  // how long the head must stay older than target before late (ns; 0: at once)
	hotMask     uint64 // len(hot)-1
	hot         []hotBuf
	slots       []qslot
	// heads: the writer's heads on its current link (headWriter), which
	// drain passes every headed frame through; nil (no zhbin codec):
	// frames are written as they are. Consumer only.
	heads *headWriter
	// frameCap: the most frames the next drain takes (the link's window,
	// writeLoop); 0: no bound. Consumer only.
	frameCap int
}

// hotSlots is how many frames a queue holds in its hot buffers (see
// outQueue: "Hot buffers"); Config.QueueWaitFrames is by default as many.
const hotSlots = 512

// hotBuf is one hot buffer, padded to a cache line of its own: producers
// of consecutive tickets write neighbouring entries.
type hotBuf struct {
	b []byte // owned as the slot's buf: by the holder of the ticket that uses it, then by the consumer
	_ [40]byte
}

// minPaced is the least number of paced frames the sojourn bound lets a
// queue hold, however slow its link was measured: a floor for the
// estimate, so that a slow start does not pace a link to a trickle.
const minPaced = 64

type qslot struct {
	seq   atomic.Uint64 // ticket+1 once published
	buf   []byte        // the slot's own buffer: owned by the ticket holder between claim and publish, by the consumer after
	stamp int64         // the queue's clock at claim; same ownership as buf
	hot   bool          // the ticket's frame is in hot[ticket&hotMask], not in buf; same ownership as buf
	_     [23]byte
}

// maxKeptSlotBuf: slot buffers larger than this are dropped after use so a
// rare big frame does not pin memory in every slot that ever carried one.
const maxKeptSlotBuf = 64 << 10

// initialSlotBuf is the capacity a slot's buffer gets on first use: room
// for a typical ShardEnvelope frame (~300 bytes with its header).
const initialSlotBuf = 512

// newOutQueue returns a queue of slots frames (rounded up to a power of
// two) whose paced frames are bounded by the sojourn target (0: none),
// once the head has stayed older than target for interval, and whose
// waiting paced producers (claim with wait) see it full at waitFrames
// queued frames (0: only when it is full for the others).
func newOutQueue(slots int, target, interval time.Duration, waitFrames int) *outQueue {
	n := 1
	for n < slots {
		n <<= 1
	}
	h := min(n, hotSlots)
	q := &outQueue{
		wake:    make(chan struct{}, 1),
		mask:    uint64(n - 1),
		hotMask: uint64(h - 1),
		hot:     make([]hotBuf, h),
		reserve: uint64(n / 64), // 128 of the default 8192; none for tiny test queues
		// Another 128 of 8192 that tells leave to asks: a flood of tells
		// that fills the queue (sojourn bound not engaged yet, or off)
		// does not get asks refused as queue_full.
		pacedFloor: uint64(n/64) * 2,
		target:     int64(target),
		interval:   int64(interval),
		slots:      make([]qslot, n),
	}
	q.waitReserve = q.pacedFloor
	if waitFrames > 0 && waitFrames < n {
		q.waitReserve = max(uint64(n-waitFrames), q.pacedFloor)
	}
	q.paceReserve.Store(q.pacedFloor)
	return q
}

// claimResult is how claim ended.
type claimResult int8

const (
	claimed     claimResult = iota // the slot is the caller's: encode, then publish
	claimFull                      // no free slot (reserve slots kept; pacedFloor for paced frames)
	claimLate                      // paced, and the queue is late (sojourn bound)
	claimClosed                    // the queue is closed
)

// claim reserves the next slot. It returns the ticket and the slot's buffer
// (length 0) to append the frame to when r is claimed.
//
// reserve slots are kept free for control frames (SubscribeTopology,
// GetShardLocation, UnsubscribeTopology): data producers pass q.reserve and
// see the queue as full that much earlier, control producers pass 0, so a
// queue saturated by tells still carries the client's liveness refresh and
// location queries. paced producers (tells) are refused with claimLate
// while the queue is late (the sojourn bound, see outQueue); those that
// can wait (wait: TellContext) see it full at waitFrames queued frames
// (newOutQueue).
func (q *outQueue) claim(reserve uint64, paced, wait bool) (t uint64, buf []byte, r claimResult) {
	for {
		if q.closed.Load() {
			return 0, nil, claimClosed
		}
		if paced && q.late.Load() {
			return 0, nil, claimLate
		}
		t = q.tail.Load()
		head := q.head.Load()
		if q.isFull(t, head, reserve) {
			return 0, nil, claimFull
		}
		if paced {
			if pr := q.paceReserve.Load(); q.isFull(t, head, pr) {
				if pr > q.pacedFloor {
					return 0, nil, claimLate // the rate bound of the sojourn target
				}
				return 0, nil, claimFull // the slots tells may take
			}
			if wait && q.isFull(t, head, q.waitReserve) {
				return 0, nil, claimFull // what keeps the link busy is queued: wait
			}
		}
		if q.tail.CompareAndSwap(t, t+1) {
			s := &q.slots[t&q.mask]
			s.stamp = q.clock.Load()
			// head <= t once the CAS succeeded. Every earlier ticket
			// that used this hot buffer is at least hotSlots back, so
			// consumed when t-head < len(hot).
			if s.hot = t-head < uint64(len(q.hot)); s.hot {
				buf = q.hot[t&q.hotMask].b
			} else {
				buf = s.buf
			}
			if buf == nil {
				// First use of the slot: one right-sized allocation
				// instead of append's growth steps. Reused after.
				buf = make([]byte, 0, initialSlotBuf)
			}
			return t, buf[:0], claimed
		}
	}
}

// isFull reports whether ticket t may not be claimed with reserve slots
// kept free, head being the consumer's position. The difference is signed:
// a producer's t may be stale (head already moved past it), and the
// unsigned difference would wrap into a false "full"; claim's CAS fails for
// a stale t and reloads.
func (q *outQueue) isFull(t, head, reserve uint64) bool {
	return int64(t-head) > int64(q.mask)-int64(reserve)
}

// publish hands the frame in buf (appended to the claimed buffer; empty to
// skip) of ticket t to the consumer and wakes it if it sleeps.
func (q *outQueue) publish(t uint64, buf []byte) {
	s := &q.slots[t&q.mask]
	if s.hot {
		q.hot[t&q.hotMask].b = buf
	} else {
		s.buf = buf
	}
	s.seq.Store(t + 1)
	if q.sleeping.Load() && q.sleeping.CompareAndSwap(true, false) {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// frame returns the buffer holding the frame of ticket h, published in
// slot s: the slot's own or its hot buffer. Consumer only, once published.
func (q *outQueue) frame(s *qslot, h uint64) *[]byte {
	if s.hot {
		return &q.hot[h&q.hotMask].b
	}
	return &s.buf
}

// drain appends published frames, in order, to dst until the queue has no
// published frame at head or dst reaches limit bytes; it returns dst and the
// number of frames appended (empty slots are skipped and not counted). now
// is the consumer's clock (monotonic, in the unit of target): it becomes
// the queue's coarse clock, and the oldest frame left queued decides late
// (see outQueue). Consumer only.
func (q *outQueue) drain(dst []byte, limit int, now int64) ([]byte, int) {
	if now <= 0 {
		now = 1 // 0 is the parked consumer's clock
	}
	q.clock.Store(now)
	h := q.head.Load()
	n := 0
	for len(dst) < limit && (q.frameCap == 0 || n < q.frameCap) {
		s := &q.slots[h&q.mask]
		if s.seq.Load() != h+1 {
			break
		}
		f := q.frame(s, h)
		if fr := *f; len(fr) > 0 {
			if q.heads != nil && len(fr) > wire.FrameHeaderLen && fr[4] == wire.FrameHeaded {
				dst = q.heads.appendFrame(dst, fr)
			} else {
				dst = append(dst, fr...)
			}
			n++
		}
		if cap(*f) > maxKeptSlotBuf {
			*f = nil
		}
		h++
	}
	late := false
	if q.target > 0 {
		s := &q.slots[h&q.mask]
		above := s.seq.Load() == h+1 && s.stamp != 0 && now-s.stamp > q.target
		switch {
		case !above:
			if q.aboveSince != 0 {
				q.aboveSince = 0
			}
		case q.aboveSince == 0:
			q.aboveSince = now
		}
		late = above && now-q.aboveSince >= q.interval
		q.sample(now, n, late)
	}
	wasLate := q.late.Load()
	if late != wasLate {
		q.late.Store(late)
	}
	// One store for the whole batch (an atomic store per frame was an XCHG
	// per frame); the slots it frees become claimable only now.
	q.head.Store(h)
	// Waiters (paced producers) need room and a queue that is not late:
	// while it is late, waking them per drain would only have them find
	// it late again (a herd per write).
	if !late && (n > 0 || wasLate) {
		q.signalSpace()
	}
	return dst, n
}

// sample feeds the write rate estimate with the n frames drained at now
// (late: the oldest frame left is older than target) and updates
// paceReserve (see outQueue). Consumer only.
func (q *outQueue) sample(now int64, n int, late bool) {
	switch {
	case q.sampleAt == 0:
		if !late {
			return // the link has kept up since the last park: no bound by count
		}
		// Engaged: the queue is backlogged, so what the writer drains
		// from now on is what the link takes, not what producers offer.
		q.sampleAt, q.sampled, q.rate = now, 0, 0
	case now-q.sampleAt >= q.target/4:
		// The frames drained since sampleAt were written by now.
		r := float64(q.sampled) / float64(now-q.sampleAt)
		if q.rate == 0 {
			q.rate = r
		} else {
			q.rate += (r - q.rate) / 4
		}
		q.sampleAt, q.sampled = now, 0
		size := q.mask + 1
		limit := min(max(uint64(q.rate*float64(q.target)), minPaced), size)
		if pr := max(size-limit, q.pacedFloor); pr != q.paceReserve.Load() {
			q.paceReserve.Store(pr)
		}
	}
	q.sampled += uint64(n)
}

// signalSpace wakes the producers waiting in waitSpace (consumer side, and
// the maintenance tick when the connection becomes suspect; one atomic
// load when nobody waits).
func (q *outQueue) signalSpace() {
	if q.space.Load() != nil {
		if ch := q.space.Swap(nil); ch != nil {
			close(*ch)
		}
	}
}

// waitResult is how waitSpace ended.
type waitResult int8

const (
	waitSpaceFree waitResult = iota // a slot may be free (or the queue closed, or the connection stopped): claim again
	waitCancelled                   // done was closed
	waitRecheck                     // recheck fired
)

// waitSpace blocks until the queue has a slot free for a waiting paced
// producer (claim with wait) and is not late, it is
// closed, the connection stops, done is closed or recheck fires. Paced
// producers' slow path only (TellContext). A wake-up without room is possible (signalSpace is also used to
// make waiting producers re-check their route): callers claim again.
func (q *outQueue) waitSpace(done, stop <-chan struct{}, recheck <-chan time.Time) waitResult {
	for {
		ch := q.space.Load()
		if ch == nil {
			c := make(chan struct{})
			if !q.space.CompareAndSwap(nil, &c) {
				continue
			}
			ch = &c
		}
		// Re-check after publishing the channel: the consumer may have
		// drained in between (it swaps the channel after advancing head).
		if q.closed.Load() || (!q.late.Load() && !q.isFull(q.tail.Load(), q.head.Load(), max(q.paceReserve.Load(), q.waitReserve))) {
			return waitSpaceFree
		}
		select {
		case <-*ch:
			return waitSpaceFree
		case <-done:
			return waitCancelled
		case <-recheck:
			return waitRecheck
		case <-stop:
			return waitSpaceFree
		}
	}
}

// ready reports whether a published frame waits at head. Consumer only.
func (q *outQueue) ready() bool {
	h := q.head.Load()
	return q.slots[h&q.mask].seq.Load() == h+1
}

// prepareSleep marks the consumer as sleeping and reports whether it may
// really park: false when a frame was published meanwhile (then it must
// drain again). Consumer only.
func (q *outQueue) prepareSleep() bool {
	q.clock.Store(0) // frames queued from now on are fresh (see outQueue)
	q.sleeping.Store(true)
	if q.ready() {
		// Either we clear the flag or a producer did and leaves a token
		// on wake, which costs one spurious (harmless) drain later.
		q.sleeping.Store(false)
		return false
	}
	// Idle: the link keeps up. No pacing by count until the next sample.
	q.sampleAt = 0
	if q.paceReserve.Load() != q.pacedFloor {
		q.paceReserve.Store(q.pacedFloor)
	}
	return true
}

// len returns the number of claimed, not yet consumed tickets.
func (q *outQueue) len() int {
	return int(q.tail.Load() - q.head.Load())
}

// discard consumes every claimed ticket without sending it, waiting for
// producers between claim and publish (they never block there), and
// returns the number of frames discarded. Consumer only (no writer running).
func (q *outQueue) discard() int {
	n := 0
	h := q.head.Load()
	for h != q.tail.Load() {
		s := &q.slots[h&q.mask]
		for s.seq.Load() != h+1 {
			runtime.Gosched()
		}
		f := q.frame(s, h)
		if len(*f) > 0 {
			n++
		}
		if cap(*f) > maxKeptSlotBuf {
			*f = nil
		}
		h++
		q.head.Store(h)
	}
	q.clock.Store(0)
	q.late.Store(false)
	q.sampleAt, q.aboveSince = 0, 0
	q.paceReserve.Store(q.pacedFloor)
	q.signalSpace()
	return n
}
