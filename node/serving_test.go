package node

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// servingBench is one shard mailbox of a bare Node (no transport, no
// consensus) that this node owns at epoch 5 with a lease for an hour, and
// an entity that records what it receives and runs hook after message
// hookAt.
type servingBench struct {
	n      *Node
	m      *mailbox
	got    []int
	news   int // entities created
	hookAt int
	hook   func()
}

func newServingBench(t *testing.T) *servingBench {
	t.Helper()
	b := &servingBench{hookAt: -1}
	n := &Node{cfg: Config{MailboxSize: 16, MaxPendingRequests: 4, MaxEntities: 100}, ctr: newCounters(),
		log: slog.New(slog.DiscardHandler), self: addr(1), base: time.Now(), runq: make(chan *mailbox, 1)}
	ent := EntityFunc(func(_ *Context, msg any) {
		i := msg.(int)
		b.got = append(b.got, i)
		if i == b.hookAt {
			b.hook()
		}
	})
	r := &region{idx: 0, typ: EntityType{Name: "p", Shards: 1, New: func(string) Entity { b.news++; return ent }}}
	b.m = n.newMailbox(r, 0, nil)
	r.boxes = []*mailbox{b.m}
	n.regions = []*region{r}
	b.n = n
	b.setRoute(addr(1), 5)
	n.lease.until.Store(int64(n.mono() + time.Hour))
	return b
}

// setRoute publishes a route naming owner of the shard since epoch.
func (b *servingBench) setRoute(owner wire.NodeAddress, since int64) {
	b.n.route.Store(&route{epoch: since, owners: [][]wire.NodeAddress{{owner}}, since: [][]int64{{since}},
		servingSince: [][]int64{{0}}})
}

// push queues messages 0..k-1 (the first push schedules the mailbox: the
// caller then runs it as its claimed runner).
func (b *servingBench) push(t *testing.T, k int) {
	t.Helper()
	for i := range k {
		if !b.m.push(envelope{entityID: "e", msg: i}, nil) {
			t.Fatalf("push %d refused", i)
		}
	}
	<-b.n.runq
}

// run runs one turn of the mailbox, as a worker does.
func (b *servingBench) run() bool {
	return b.n.runShard(b.m, &Context{n: b.n}, make([]envelope, 0, workerBatch))
}

// TestServingCheckedBeforeEveryMessage: the runner of a shard mailbox
// checks, before every message, that the table it applied names this node
// owner under the entities' allocation and that its lease is unexpired
// (worker.go serving). When either stops holding in the middle of a batch
// (here: inside the entity's Receive of message 2), the rest of the batch
// is kept, not run; without a lease at the start, the mailbox waits
// (blocked, counted) and runs nothing.
func TestServingCheckedBeforeEveryMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		hook func(b *servingBench)
	}{
		{"lease lapses", func(b *servingBench) { b.n.dropLease() }},
		{"shard moves to another node", func(b *servingBench) { b.setRoute(addr(2), 6) }},
		{"shard re-allocated to this node", func(b *servingBench) { b.setRoute(addr(1), 6) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newServingBench(t)
			b.hookAt, b.hook = 2, func() { tc.hook(b) }
			b.push(t, 5)
			b.run()
			if want := []int{0, 1, 2}; !slices.Equal(b.got, want) {
				t.Fatalf("entity received %v, want %v (nothing after the check failed)", b.got, want)
			}
			var held []int
			for _, e := range b.m.held {
				held = append(held, e.msg.(int))
			}
			if want := []int{3, 4}; !slices.Equal(held, want) {
				t.Fatalf("held %v, want %v for the next decision", held, want)
			}
			if tc.name != "shard re-allocated to this node" {
				return
			}
			// The next turn serves the new allocation, with a new entity:
			// the one of the earlier allocation is stopped first.
			b.run()
			if want := []int{0, 1, 2, 3, 4}; !slices.Equal(b.got, want) || b.news != 2 || b.n.ctr.entitiesStopped.Load() != 1 {
				t.Fatalf("received %v, %d entities created, %d stopped; want %v, 2, 1", b.got, b.news,
					b.n.ctr.entitiesStopped.Load(), want)
			}
		})
	}
	t.Run("no lease at the start", func(t *testing.T) {
		b := newServingBench(t)
		b.n.dropLease()
		b.push(t, 3)
		if b.run() {
			t.Fatal("runShard asked its caller to end the run; want the mailbox blocked (released here)")
		}
		b.m.mu.Lock()
		blocked, count := b.m.blocked, b.m.count+len(b.m.held)
		b.m.mu.Unlock()
		if len(b.got) != 0 || !blocked || count != 3 || b.n.ctr.mailboxWaits.Load() != 1 {
			t.Fatalf("received %v, blocked %v, %d queued, %d waits; want nothing run, blocked, 3 queued, 1 wait",
				b.got, blocked, count, b.n.ctr.mailboxWaits.Load())
		}
	})
}

// TestContextNowIsTheServingClock: an entity's Context.Now is the clock
// its runner read for the serving check of that message (no second clock
// read per message): within the run, never going backwards, one reading
// per message; and every message that reached its entity is counted in
// MessagesProcessed (added once per batch). A nil Context reads the clock.
func TestContextNowIsTheServingClock(t *testing.T) {
	b := newServingBench(t)
	var got []time.Time
	b.m.region.typ.New = func(string) Entity {
		return EntityFunc(func(ctx *Context, _ any) { got = append(got, ctx.Now()) })
	}
	before := time.Now()
	b.push(t, 5)
	b.run()
	after := time.Now()
	if len(got) != 5 {
		t.Fatalf("entity ran %d messages, want 5", len(got))
	}
	for i, at := range got {
		if at.Before(before) || at.After(after) {
			t.Errorf("message %d: Now %v outside the run [%v, %v]", i, at, before, after)
		}
		if i > 0 && at.Before(got[i-1]) {
			t.Errorf("message %d: Now %v before message %d's %v", i, at, i-1, got[i-1])
		}
	}
	if p := b.n.Stats().MessagesProcessed; p != 5 {
		t.Errorf("got MessagesProcessed %d, want 5", p)
	}
	var nilCtx *Context
	if at := nilCtx.Now(); at.Before(before) {
		t.Errorf("nil Context: Now %v before %v", at, before)
	}
}
