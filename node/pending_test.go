package node

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// startSingle starts a single node hosting one entity type "p" (1 shard);
// Start returns once it has its first lease (it leads its own cluster).
func startSingle(t *testing.T, cfg Config, ent Entity) *Node {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Entities = []EntityType{{Name: "p", Shards: 1, New: func(string) Entity { return ent }}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Kill)
	return n
}

// TestParkedEnvelopesReleasedInOrderBeyondMailbox parks more envelopes for
// an unallocated shard than its mailbox holds, then lets the leader
// allocate: every parked envelope reaches the entity, in order, none is
// dropped, and the route only points at the owner once they are queued.
func TestParkedEnvelopesReleasedInOrderBeyondMailbox(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var got []int
	ent := EntityFunc(func(_ *Context, msg any) {
		once.Do(func() { <-release })
		mu.Lock()
		got = append(got, int(msg.(int64)))
		mu.Unlock()
	})
	n := startSingle(t, Config{MailboxSize: 4, MaxPendingRequests: 64}, ent)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	const total = 40
	lc := n.loc
	lc.mu.Lock() // the allocator cannot resolve anything before all are parked
	for i := range total {
		p := &pendingReq{typ: "p", shard: 0, env: &parkedEnv{region: n.regions[0], entityID: "e", msg: int64(i)}}
		if !lc.parkLocked(p) {
			lc.mu.Unlock()
			t.Fatalf("park %d refused", i)
		}
	}
	if o := n.route.Load().owners[0][0]; !o.IsZero() {
		lc.mu.Unlock()
		t.Fatalf("route owner %v before allocation", o)
	}
	lc.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for n.route.Load().owners[0][0] != n.self {
		if time.Now().After(deadline) {
			t.Fatal("shard never allocated")
		}
		time.Sleep(10 * time.Millisecond)
	}
	lc.mu.Lock()
	left := len(lc.pending)
	lc.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d envelopes still parked after allocation", left)
	}
	close(release)
	for {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processed %d of %d; stats %+v", k, total, n.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if v != i {
			t.Fatalf("message %d is %d: out of order", i, v)
		}
	}
	if st := n.Stats(); st.MailboxDropped != 0 || st.MailboxHighWater < 5 {
		t.Fatalf("dropped %d, high water %d: want 0 dropped and the mailbox past its size of 4", st.MailboxDropped, st.MailboxHighWater)
	}
}

// TestPushParkedBound checks the parked overflow bound: a mailbox takes
// released parked envelopes up to MailboxSize + MaxPendingRequests.
func TestPushParkedBound(t *testing.T) {
	n := &Node{cfg: Config{MailboxSize: 2, MaxPendingRequests: 3}, ctr: newCounters(), runq: make(chan *mailbox, 1)}
	m := n.newMailbox(&region{typ: EntityType{Name: "p", Shards: 1}}, 0, nil)
	for i := range 5 {
		if !m.pushParked(envelope{msg: i}) {
			t.Fatalf("pushParked %d refused below the bound", i)
		}
	}
	if m.pushParked(envelope{msg: 5}) {
		t.Fatal("pushParked accepted past MailboxSize + MaxPendingRequests")
	}
	if m.push(envelope{msg: 6}, nil) {
		t.Fatal("push accepted into a mailbox past its size")
	}
	for i := range 5 {
		if e := m.ring[(m.head+i)%len(m.ring)]; e.msg != i {
			t.Fatalf("slot %d holds %v, want %d", i, e.msg, i)
		}
	}
}
