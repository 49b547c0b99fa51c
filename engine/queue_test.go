package engine

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestQueueReserveForControl: of a queue's slots, tells (paced data) leave
// pacedFloor free, asks (unpaced data) reserve, control frames none: a flood
// of tells that fills the queue is refused before the asks behind it, and
// both before the client's control frames. Sojourn bound off (target 0):
// only the slot bounds count.
func TestQueueReserveForControl(t *testing.T) {
	q := newOutQueue(128, 0, 0, 0)
	if q.reserve != 2 {
		t.Fatalf("reserve = %d, want 2", q.reserve)
	}
	fill := func(what string, reserve uint64, paced bool, b byte, want int, refused claimResult) {
		t.Helper()
		n := 0
		for {
			tk, buf, r := q.claim(reserve, paced, false)
			if r == refused {
				break
			}
			if r != claimed {
				t.Fatalf("%s claim %d: result %d, want claimed or %d", what, n, r, refused)
			}
			q.publish(tk, append(buf, b))
			if n++; n > 128 {
				t.Fatalf("claimed %d %s slots in a queue of 128", n, what)
			}
		}
		if n != want {
			t.Fatalf("%s claims = %d, want %d", what, n, want)
		}
	}
	fill("tell", q.reserve, true, 't', 124, claimFull)
	fill("ask", q.reserve, false, 'a', 2, claimFull)
	fill("control", 0, false, 'c', 2, claimFull)
	out, n := q.drain(nil, 1<<20, 1)
	if n != 128 || string(out[122:]) != "ttaacc" {
		t.Fatalf("drained %d frames ending %q, want 128 ending \"ttaacc\"", n, out[122:])
	}
}

func TestQueueFullStaleTicket(t *testing.T) {
	q := newOutQueue(8, 0, 0, 0)
	cases := []struct {
		t, head, reserve uint64
		want             bool
	}{
		{t: 0, head: 0, want: false},
		{t: 7, head: 0, want: false},
		{t: 8, head: 0, want: true},
		{t: 7, head: 0, reserve: 1, want: true},
		// A stale ticket: the consumer already moved past it. The unsigned
		// difference wraps; it must not read as full.
		{t: 10, head: 11, want: false},
		{t: 10, head: 1 << 40, want: false},
		{t: 1<<64 - 1, head: 1<<64 - 1, want: false}, // tickets wrap too
	}
	for _, c := range cases {
		if got := q.isFull(c.t, c.head, c.reserve); got != c.want {
			t.Errorf("isFull(t=%d, head=%d, reserve=%d) = %v, want %v", c.t, c.head, c.reserve, got, c.want)
		}
	}
}

// queueFrame claims a slot of q and publishes frame in it, failing the
// test unless the claim ends as want.
func queueFrame(t *testing.T, q *outQueue, paced bool, frame string, want claimResult) {
	t.Helper()
	tk, buf, r := q.claim(q.reserve, paced, false)
	if r != want {
		t.Fatalf("claim(paced=%v) of %q = %d, want %d", paced, frame, r, want)
	}
	if r == claimed {
		q.publish(tk, append(buf, frame...))
	}
}

// The sojourn bound, with the consumer's clock injected: the queue is late
// while the oldest frame left after a drain is older than the target;
// then paced claims are refused and the others still queue, in order, and
// a paced producer waiting in waitSpace is woken when it clears.
func TestQueueSojournBound(t *testing.T) {
	const target = 1000 // ns
	q := newOutQueue(64, target, 0, 0)
	if out, n := q.drain(nil, 1<<20, 5000); n != 0 || len(out) != 0 || q.late.Load() {
		t.Fatalf("empty drain: %d frames, late %v", n, q.late.Load())
	}
	for _, f := range []string{"a", "b", "c", "d"} {
		queueFrame(t, q, true, f, claimed) // stamped 5000, the last drain's clock
	}
	// limit 1: one frame per drain. At 6000 the oldest frame left ("b")
	// is exactly target old: not late.
	if out, n := q.drain(nil, 1, 6000); n != 1 || string(out) != "a" || q.late.Load() {
		t.Fatalf("drain at 6000: %q (%d frames), late %v; want \"a\", not late", out, n, q.late.Load())
	}
	if out, _ := q.drain(nil, 1, 6001); string(out) != "b" || !q.late.Load() {
		t.Fatalf("drain at 6001: %q, late %v; want \"b\", late (\"c\" waited 1001 ns)", out, q.late.Load())
	}
	// Late: tells are refused, an ask and a control frame still queue,
	// behind the tells already there.
	queueFrame(t, q, true, "T", claimLate)
	queueFrame(t, q, false, "A", claimed)
	tk, _, r := q.claim(0, false, false)
	if r != claimed {
		t.Fatalf("control claim while late: %d, want claimed", r)
	}
	q.publish(tk, nil) // an empty frame, skipped
	// A paced producer waits; the drain that leaves no old frame wakes it.
	woke := make(chan waitResult, 1)
	go func() { woke <- q.waitSpace(nil, nil, nil) }()
	poll := time.Now()
	for q.space.Load() == nil { // the waiter has published its channel
		if time.Since(poll) > time.Minute {
			t.Fatal("waitSpace never armed")
		}
		time.Sleep(time.Millisecond)
	}
	out, n := q.drain(nil, 1<<20, 7000)
	if string(out) != "cdA" || n != 3 || q.late.Load() {
		t.Fatalf("drain at 7000: %q (%d frames), late %v; want \"cdA\" in order, not late", out, n, q.late.Load())
	}
	select {
	case r := <-woke:
		if r != waitSpaceFree {
			t.Fatalf("waitSpace = %d, want waitSpaceFree", r)
		}
	case <-time.After(time.Minute):
		t.Fatal("the paced producer was not woken when the queue stopped being late")
	}
	queueFrame(t, q, true, "e", claimed)
}

// Frames queued while the consumer is parked carry no stamp (its clock is
// 0): they are fresh however late the consumer wakes, and a stale clock
// never makes the queue late. A disabled bound (target 0) is never late.
func TestQueueSojournParked(t *testing.T) {
	q := newOutQueue(64, 1000, 0, 0)
	q.drain(nil, 1<<20, 5000)
	if !q.prepareSleep() {
		t.Fatal("prepareSleep on an empty queue: want true")
	}
	queueFrame(t, q, true, "a", claimed)
	queueFrame(t, q, true, "b", claimed)
	if out, _ := q.drain(nil, 1, 1e9); string(out) != "a" || q.late.Load() {
		t.Fatalf("drain after a long park: %q, late %v; want \"a\", not late", out, q.late.Load())
	}
	off := newOutQueue(64, 0, 0, 0)
	off.drain(nil, 1<<20, 5000)
	queueFrame(t, off, true, "a", claimed)
	queueFrame(t, off, true, "b", claimed)
	if off.drain(nil, 1, 1e9); off.late.Load() {
		t.Fatal("late with the bound disabled")
	}
	queueFrame(t, off, true, "c", claimed)
}

// The rate bound, with the consumer's clock injected: once the queue has
// been late, a consumer that drained 100 frames in 1 ms keeps paced frames
// below rate*target (100 frames for a 1 ms target) even when no frame is
// old, refusing paced claims past it while others still queue; a park
// (the link keeps up) lifts it. A burst on a link that was never late is
// bounded by the slots only.
func TestQueueSojournRate(t *testing.T) {
	const ms = int64(time.Millisecond)
	q := newOutQueue(1024, time.Millisecond, 0, 0)
	q.drain(nil, 1<<20, 1) // the clock is 1
	for i := 0; i < 600; i++ {
		queueFrame(t, q, true, "x", claimed) // never late yet: only the slot bound
	}
	q.drain(nil, 100, 2+ms) // 100 one-byte frames; the next is ms+1 old: late
	if !q.late.Load() {
		t.Fatal("not late with a frame older than the target")
	}
	q.drain(nil, 100, 2+2*ms) // 100 frames written in 1 ms: 100 may be queued
	q.drain(nil, 1<<20, 2+2*ms+1)
	if q.late.Load() || q.len() != 0 {
		t.Fatalf("late %v with %d queued, want an empty queue, not late", q.late.Load(), q.len())
	}
	for i := 0; i < 100; i++ {
		queueFrame(t, q, true, "y", claimed)
	}
	queueFrame(t, q, true, "T", claimLate)
	queueFrame(t, q, false, "A", claimed)
	q.drain(nil, 1<<20, 2+2*ms+2)
	if !q.prepareSleep() {
		t.Fatal("prepareSleep on an empty queue: want true")
	}
	for i := 0; i < 200; i++ {
		queueFrame(t, q, true, "z", claimed)
	}
}

// The head must stay older than target for the whole interval before the
// queue is late (CoDel's interval): a burst, or a writer not run for a
// moment, is absorbed by the slots; a head that stops being old restarts
// the interval.
func TestQueueSojournInterval(t *testing.T) {
	const target, interval = 1000, 10000 // ns
	q := newOutQueue(64, target, interval, 0)
	q.drain(nil, 1<<20, 5000)
	for _, f := range []string{"a", "b", "c", "d", "e", "f"} {
		queueFrame(t, q, true, f, claimed) // stamped 5000
	}
	// One frame per drain. From 6001 the head is older than target; late
	// only at 16001, an interval later.
	for _, step := range []struct {
		now  int64
		want string
		late bool
	}{{6001, "a", false}, {12000, "b", false}, {16000, "c", false}, {16001, "d", true}} {
		if out, _ := q.drain(nil, 1, step.now); string(out) != step.want || q.late.Load() != step.late {
			t.Fatalf("drain at %d: %q, late %v; want %q, late %v", step.now, out, q.late.Load(), step.want, step.late)
		}
	}
	queueFrame(t, q, true, "T", claimLate)
	// A head no older than target ends the run: the next old head starts
	// a new interval.
	out, _ := q.drain(nil, 1<<20, 16002)
	if string(out) != "ef" || q.late.Load() {
		t.Fatalf("drain at 16002: %q, late %v; want \"ef\", not late", out, q.late.Load())
	}
	queueFrame(t, q, true, "g", claimed) // stamped 16002
	queueFrame(t, q, true, "h", claimed)
	if out, _ := q.drain(nil, 1, 17003); string(out) != "g" || q.late.Load() {
		t.Fatalf("drain at 17003: %q, late %v; want \"g\", not late (a new interval)", out, q.late.Load())
	}
}

// warmBuffers gives every slot of every connection of c its own buffer
// and every hot buffer one, as first use would (claim): a test that counts
// allocations calls it once the queues are idle (every ticket consumed),
// since a burst that outruns the writer reaches slots whose own buffer was
// never used. Safe then: no producer holds a ticket, and the next publish
// orders these writes before the consumer's reads.
func warmBuffers(t *testing.T, c *Client) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.connList {
		if n := nc.q.len(); n != 0 {
			t.Fatalf("warmBuffers: %d frames queued to %v", n, nc.addr)
		}
		for i := range nc.q.slots {
			if nc.q.slots[i].buf == nil {
				nc.q.slots[i].buf = make([]byte, 0, initialSlotBuf)
			}
		}
		for i := range nc.q.hot {
			if nc.q.hot[i].b == nil {
				nc.q.hot[i].b = make([]byte, 0, initialSlotBuf)
			}
		}
	}
}

// TestQueueHotBuffers: a queue larger than hotSlots encodes the frames of
// tickets within hotSlots of the consumer into hot buffers and the others
// into their slots' own buffers; a hot buffer is reused only once the
// ticket that last used it is consumed, so every frame of a queue filled
// far past hotSlots, then drained, arrives intact and in order, and so do
// frames queued after (hot again).
func TestQueueHotBuffers(t *testing.T) {
	q := newOutQueue(4*hotSlots, 0, 0, hotSlots)
	if len(q.hot) != hotSlots || q.waitReserve != uint64(3*hotSlots) {
		t.Fatalf("hot buffers %d, waitReserve %d; want %d, %d", len(q.hot), q.waitReserve, hotSlots, 3*hotSlots)
	}
	var want []byte
	queue := func(from, to int) {
		for i := from; i < to; i++ {
			tk, buf, r := q.claim(0, false, false)
			if r != claimed {
				t.Fatalf("claim %d: result %d", i, r)
			}
			f := fmt.Appendf(nil, "<%d:%s>", i, strings.Repeat("x", i%7))
			want = append(want, f...)
			q.publish(tk, append(buf, f...))
		}
	}
	queue(0, 3*hotSlots)
	if !q.slots[0].hot || !q.slots[hotSlots-1].hot || q.slots[hotSlots].hot {
		t.Fatalf("hot: ticket 0 %v, %d %v, %d %v; want true, true, false",
			q.slots[0].hot, hotSlots-1, q.slots[hotSlots-1].hot, hotSlots, q.slots[hotSlots].hot)
	}
	out, n := q.drain(nil, 1<<30, 1)
	if n != 3*hotSlots || !bytes.Equal(out, want) {
		t.Fatalf("drained %d frames, %d bytes; want %d frames, %d bytes, equal: %v",
			n, len(out), 3*hotSlots, len(want), bytes.Equal(out, want))
	}
	want = want[:0]
	queue(3*hotSlots, 3*hotSlots+100)
	if !q.slots[(3*hotSlots)&int(q.mask)].hot {
		t.Fatal("a ticket queued on an empty queue does not use a hot buffer")
	}
	if out, n = q.drain(nil, 1<<30, 2); n != 100 || !bytes.Equal(out, want) {
		t.Fatalf("after the refill: drained %d frames, want 100 intact", n)
	}
}

// TestQueueWaitBound: a paced producer that can wait (TellContext) sees
// the queue full at hotSlots frames, one that cannot (Tell) only at the
// slots paced frames may take; waitSpace, which only waiting producers
// call, waits on the same bound and returns once the consumer drains.
func TestQueueWaitBound(t *testing.T) {
	q := newOutQueue(4*hotSlots, 0, 0, hotSlots)
	fill := func(wait bool) int {
		n := 0
		for {
			tk, buf, r := q.claim(q.reserve, true, wait)
			if r != claimed {
				if r != claimFull {
					t.Fatalf("claim(wait=%v) %d: result %d, want claimFull", wait, n, r)
				}
				return n
			}
			q.publish(tk, append(buf, 't'))
			n++
		}
	}
	if n := fill(true); n != hotSlots {
		t.Fatalf("waiting producer queued %d, want %d", n, hotSlots)
	}
	done, stop := make(chan struct{}), make(chan struct{})
	defer close(done)
	got := make(chan waitResult, 1)
	go func() { got <- q.waitSpace(done, stop, nil) }()
	select {
	case r := <-got:
		t.Fatalf("waitSpace returned %d on a queue past the waiting bound", r)
	case <-time.After(200 * time.Millisecond):
	}
	if _, n := q.drain(nil, 1<<30, 1); n != hotSlots {
		t.Fatalf("drained %d, want %d", n, hotSlots)
	}
	select {
	case r := <-got:
		if r != waitSpaceFree {
			t.Fatalf("waitSpace = %d, want waitSpaceFree", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitSpace still waiting after the queue was drained")
	}
	if n := fill(true); n != hotSlots {
		t.Fatalf("waiting producer queued %d after the drain, want %d", n, hotSlots)
	}
	if n, want := fill(false), 4*hotSlots-int(q.pacedFloor)-hotSlots; n != want {
		t.Fatalf("then Tell queued %d, want %d", n, want)
	}
	// Config.QueueWaitFrames negative (newOutQueue's 0): no such bound.
	q = newOutQueue(4*hotSlots, 0, 0, 0)
	if n, want := fill(true), 4*hotSlots-int(q.pacedFloor); n != want {
		t.Fatalf("without a waiting bound, the waiting producer queued %d, want %d", n, want)
	}
}

// TestQueueWaitFramesConfig: a connection's queue takes its waiting bound
// from Config.QueueWaitFrames: by default hotSlots, none when negative.
func TestQueueWaitFramesConfig(t *testing.T) {
	cl := newFakeCluster(t, 1)
	for _, tc := range []struct {
		set  int
		want func(q *outQueue) uint64
	}{
		{0, func(q *outQueue) uint64 { return uint64(len(q.slots) - hotSlots) }},
		{1000, func(q *outQueue) uint64 { return uint64(len(q.slots) - 1000) }},
		{-1, func(q *outQueue) uint64 { return q.pacedFloor }},
		// Past the queue: no bound beyond the slots tells may take.
		{DefaultQueueFrames + 1, func(q *outQueue) uint64 { return q.pacedFloor }},
	} {
		c := dialFake(t, cl, func(cfg *Config) { cfg.QueueWaitFrames = tc.set })
		c.mu.Lock()
		if len(c.connList) == 0 {
			t.Fatal("no connection")
		}
		for _, nc := range c.connList {
			if got, want := nc.q.waitReserve, tc.want(nc.q); got != want {
				t.Errorf("QueueWaitFrames %d: waitReserve %d, want %d", tc.set, got, want)
			}
		}
		c.mu.Unlock()
	}
}
