package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// entityOnShard returns an entity id whose shard (of n) is s.
func entityOnShard(t testing.TB, s, n int, prefix string) string {
	t.Helper()
	for i := 0; i < 100000; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if ring.Shard(id, n) == s {
			return id
		}
	}
	t.Fatalf("no entity on shard %d", s)
	return ""
}

// listeningInodes returns the inodes of this process's TCP sockets in
// LISTEN state (from /proc/self/fd and /proc/self/net/tcp{,6}).
func listeningInodes(t *testing.T) map[string]bool {
	t.Helper()
	own := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			own[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	out := map[string]bool{}
	for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) > 9 && fs[3] == "0A" && own[fs[9]] {
				out[fs[9]] = true
			}
		}
		fh.Close()
	}
	return out
}

// Behaviour 1: outbound connections only; unique random identity.
func TestNoListenerAndIdentity(t *testing.T) {
	cl := newFakeCluster(t, 3)
	before := listeningInodes(t)
	if len(before) != 3 {
		t.Fatalf("fake cluster listeners: got %d, want 3", len(before))
	}
	var dials atomic.Int64
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.ContactPoints = cl.contacts()
		cfg.Dialer = func(ctx context.Context, network, addr string) (netConn, error) {
			dials.Add(1)
			return defaultDial(ctx, network, addr)
		}
	})
	c2 := dialFake(t, cl, nil)
	ref, _ := c.EntityRef("counter", 32)
	for i := 0; i < 30; i++ {
		if err := ref.Tell(fmt.Sprintf("e-%d", i), workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := getCount(context.Background(), c, ref, "e-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connections to every member", func() bool { return dials.Load() >= 3 })
	after := listeningInodes(t)
	for ino := range after {
		if !before[ino] {
			t.Fatalf("a listening socket appeared (inode %s)", ino)
		}
	}
	id := c.Identity()
	re := regexp.MustCompile(`^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$`)
	if !re.MatchString(id.Host) || id.Port != 0 || id.Host == "127.0.0.1" {
		t.Fatalf("identity %v: want a random 127.x.y.z:0", id)
	}
	if c2.Identity() == id {
		t.Fatalf("two clients share identity %v", id)
	}
	// The node saw that identity, and our zerohop extension.
	nd := cl.nodes[0]
	nd.mu.Lock()
	peers := slices.Clone(nd.peers)
	nd.mu.Unlock()
	found := false
	for _, p := range peers {
		if p.Host == id.Host && p.Port == 0 && p.Zerohop != nil && p.Zerohop.Role == wire.RoleClient && p.Zerohop.System == testSystem {
			found = true
		}
	}
	if !found {
		t.Fatalf("node 0 never saw handshake %v with the client extension: %+v", id, peers)
	}
	// Advertised identity wins.
	c3 := dialFake(t, cl, func(cfg *Config) { cfg.AdvertisedHost = "127.9.8.7"; cfg.AdvertisedPort = 0 })
	if got := c3.Identity(); got != (wire.NodeAddress{Host: "127.9.8.7"}) {
		t.Fatalf("advertised identity: got %v", got)
	}
}

// Behaviour 2: routing follows every snapshot.
func TestRoutingFollowsSnapshots(t *testing.T) {
	cl := newFakeCluster(t, 2)
	id := entityOnShard(t, 5, 32, "user")
	cl.setAlloc("counter", 5, 1)
	c := dialFake(t, cl, nil)
	ref, _ := c.EntityRef("counter", 32)
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 1 counts the tell", func() bool { return cl.nodes[1].count(id) == 1 })
	if n := len(cl.nodes[0].messages(wire.PathCoordPrefix)); n != 0 {
		t.Fatalf("%d GetShardLocation for an allocated shard, want 0", n)
	}
	// The cluster moves the shard (newer epoch): the next tells follow.
	cl.setAlloc("counter", 5, 0)
	cl.pushAll()
	waitFor(t, "epoch applied", func() bool { return c.Stats().Epoch == 2 })
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 0 counts the tell", func() bool { return cl.nodes[0].count(id) == 1 })
}

// Behaviour 3/4: order per entity across a cache miss, one query in
// flight, timeout and retry.
func TestCacheMissOrderAndSingleQuery(t *testing.T) {
	cl := newFakeCluster(t, 2)
	var mu sync.Mutex
	var held []func()
	queries := atomic.Int64{}
	cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
		if _, ok := m.Msg.(wire.GetShardLocation); !ok {
			return false
		}
		n := queries.Add(1)
		if n == 1 {
			return true // lose the first query: the client must retry
		}
		mu.Lock()
		held = append(held, func() { fc.n.handle(fc, m) })
		mu.Unlock()
		return true
	})
	c := dialFake(t, cl, func(cfg *Config) { cfg.LocationTimeout = 300 * time.Millisecond })
	ref, _ := c.EntityRef("counter", 32)
	id := entityOnShard(t, 3, 32, "order")
	const before, after = 200, 200
	for i := 1; i <= before; i++ {
		if err := ref.Tell(id, workload.Increment{Amount: i}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the retried query", func() bool { return queries.Load() == 2 })
	if st := c.Stats(); st.Buffered != before || st.LocationTimeouts == 0 {
		t.Fatalf("stats: buffered %d (want %d), location timeouts %d", st.Buffered, before, st.LocationTimeouts)
	}
	// No storm: one query outstanding for the shard at a time, so never
	// more than one beyond the queries that timed out (the held one may
	// time out too, after LocationTimeout, and be retried once: that is
	// not a storm). The client counts a timeout before it re-sends, so
	// reading the node's count first never sees a retry without it.
	poll.Never(t, "more location queries than timeouts allow", 500*time.Millisecond, func() bool {
		q := queries.Load()
		return q > 1+int64(c.Stats().LocationTimeouts)
	})
	// Release the answer while another goroutine keeps telling.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := before + 1; i <= before+after; i++ {
			for {
				err := ref.Tell(id, workload.Increment{Amount: i})
				if err == nil {
					break
				}
				if !errors.Is(err, ErrBufferFull) {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	time.Sleep(5 * time.Millisecond)
	mu.Lock()
	for _, f := range held {
		f()
	}
	mu.Unlock()
	<-done
	owner := cl.nodes[3%2]
	waitFor(t, "every tell", func() bool { return len(owner.messages(wire.PathRegionPrefix)) == before+after })
	for i, m := range owner.messages(wire.PathRegionPrefix) {
		env := m.Msg.(wire.ShardEnvelope)
		if got := env.Message.(workload.Increment).Amount; got != i+1 {
			t.Fatalf("message %d has amount %d: order broken", i, got)
		}
	}
}

// Behaviour 4: bounded buffers, typed errors, counted drops, expiry.
func TestCacheMissBounds(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
		_, ok := m.Msg.(wire.GetShardLocation)
		return ok // the coordinator never answers
	})
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.ShardBuffer = 3
		cfg.TotalBuffer = 5
		// The six tells below must all come before it (a stall of a loaded
		// box may last a second); the held ask must expire well before
		// its AskTimeout and the 8 s the test waits for it.
		cfg.BufferTimeout = 2 * time.Second
		cfg.AskTimeout = 10 * time.Second
	})
	ref, _ := c.EntityRef("counter", 32)
	a := entityOnShard(t, 1, 32, "a")
	for i := 0; i < 3; i++ {
		if err := ref.Tell(a, workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	err := ref.Tell(a, workload.Increment{Amount: 1})
	var bf *BufferFullError
	if !errors.As(err, &bf) || bf.Reason != DropShardBuffer || !errors.Is(err, ErrBufferFull) {
		t.Fatalf("4th held tell: got %v, want a shard BufferFullError", err)
	}
	b := entityOnShard(t, 2, 32, "b")
	if err := ref.Tell(b, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	// The 5th slot goes to an Ask: it must fail when its message expires,
	// long before its own timeout.
	askErr := make(chan error, 1)
	go func() {
		_, err := getCount(context.Background(), c, ref, entityOnShard(t, 4, 32, "c"))
		askErr <- err
	}()
	waitFor(t, "5 held", func() bool { return c.Stats().Buffered == 5 })
	err = ref.Tell(entityOnShard(t, 6, 32, "d"), workload.Increment{Amount: 1})
	if !errors.As(err, &bf) || bf.Reason != DropTotalBuffer {
		t.Fatalf("6th held message: got %v, want a total BufferFullError", err)
	}
	select {
	case err := <-askErr:
		if !errors.Is(err, ErrExpired) {
			t.Fatalf("held ask: got %v, want ErrExpired", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("held ask did not fail when its message expired")
	}
	waitFor(t, "expiry", func() bool { return c.Stats().Buffered == 0 })
	st := c.Stats()
	if st.Drops[DropShardBuffer] != 1 || st.Drops[DropTotalBuffer] != 1 || st.Drops[DropExpired] != 5 {
		t.Fatalf("drops %v", st.Drops)
	}
}

// Behaviour 5: ask ids, timeouts, late and duplicate replies, primitive
// replies, service asks.
//
// Long: one fake node scripted through the ask cases in order; the late
// reply count and the reply addresses seen are checked across all of them.
func TestAskBehaviour(t *testing.T) {
	cl := newFakeCluster(t, 1)
	var mu sync.Mutex
	var refs []wire.Ref
	reply := map[string][]any{} // entity -> replies to send
	cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
		env, ok := m.Msg.(wire.ShardEnvelope)
		if !ok {
			return false
		}
		gc, ok := env.Message.(workload.GetCount)
		if !ok {
			return false
		}
		mu.Lock()
		refs = append(refs, gc.ReplyTo)
		rs, ok := reply[env.EntityID]
		mu.Unlock()
		if !ok {
			return false
		}
		for _, r := range rs {
			fc.send(gc.ReplyTo, r)
		}
		return true
	})
	c := dialFake(t, cl, func(cfg *Config) { cfg.AskTimeout = 200 * time.Millisecond })
	ref, _ := c.EntityRef("counter", 32)
	ask := func(ctx context.Context, id string) (any, error) {
		return c.Ask(ctx, ref, func(replyTo wire.Ref) any {
			return ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: replyTo}}
		})
	}
	ctx := context.Background()
	// Asks that must succeed carry a generous ctx deadline, which replaces
	// the 200 ms AskTimeout (kept short for the silent ask below): a
	// loaded box may take longer than 200 ms to answer.
	okCtx, okCancel := context.WithTimeout(ctx, time.Minute)
	defer okCancel()
	mu.Lock()
	reply["int"] = []any{int64(42)}
	reply["str"] = []any{"pong"}
	reply["null"] = []any{nil}
	reply["dup"] = []any{workload.CountReply{EntityID: "dup", Value: 1}, workload.CountReply{EntityID: "dup", Value: 2}}
	reply["silent"] = []any{}
	mu.Unlock()
	for id, want := range map[string]any{"int": int64(42), "str": "pong", "null": nil} {
		got, err := ask(okCtx, id)
		if err != nil || got != want {
			t.Fatalf("ask %s: got %#v, %v; want %#v", id, got, err, want)
		}
	}
	got, err := ask(okCtx, "dup")
	if err != nil || got.(workload.CountReply).Value != 1 {
		t.Fatalf("dup: got %v, %v", got, err)
	}
	waitFor(t, "duplicate counted late", func() bool { return c.Stats().LateReplies == 1 })

	// Config.AskTimeout applies without a ctx deadline; the ctx deadline
	// otherwise. Both match ErrAskTimeout and DeadlineExceeded.
	silent := make(chan error, 1)
	go func() { _, err := ask(ctx, "silent"); silent <- err }()
	select {
	case err = <-silent:
	case <-time.After(30 * time.Second):
		t.Fatal("an ask without a ctx deadline still waits 30 s after its AskTimeout of 200 ms")
	}
	if !errors.Is(err, ErrAskTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent ask: got %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = ask(tctx, "silent")
	cancel()
	if !errors.Is(err, ErrAskTimeout) {
		t.Fatalf("silent ask with ctx deadline: got %v", err)
	}
	// A late reply to a timed-out ask is counted and dropped.
	mu.Lock()
	last := refs[len(refs)-1]
	mu.Unlock()
	fc := func() *fakeConn { cl.nodes[0].mu.Lock(); defer cl.nodes[0].mu.Unlock(); return cl.nodes[0].conns[0] }()
	fc.send(last, workload.CountReply{EntityID: "silent", Value: 9})
	waitFor(t, "late reply counted", func() bool { return c.Stats().LateReplies == 2 })

	re := regexp.MustCompile(`^casty://live-client@127\.\d+\.\d+\.\d+:0/_ask/[0-9a-f]{32}$`)
	mu.Lock()
	seen := map[string]bool{}
	for _, r := range refs {
		if !re.MatchString(r.String()) {
			t.Fatalf("reply ref %q", r.String())
		}
		if seen[r.Path] {
			t.Fatalf("reply path reused: %s", r.Path)
		}
		seen[r.Path] = true
	}
	mu.Unlock()

	// Service ask via Lookup.
	l := c.Lookup(workload.StatsKey)
	if len(l.Instances) != 1 {
		t.Fatalf("lookup: %+v", l)
	}
	ns, err := AskAs[workload.NodeStats](ctx, c, l.Instances[0].Ref, func(replyTo wire.Ref) any {
		return workload.GetStats{ReplyTo: replyTo}
	})
	if err != nil || ns.Node != cl.nodes[0].addr.String() {
		t.Fatalf("service ask: %+v, %v", ns, err)
	}
	// AskAs with the wrong type.
	_, err = AskAs[workload.NodeStats](ctx, c, ref, func(replyTo wire.Ref) any {
		return ShardEnvelope{EntityID: "x", Message: workload.GetCount{ReplyTo: replyTo}}
	})
	var rte *ReplyTypeError
	if !errors.As(err, &rte) {
		t.Fatalf("AskAs wrong type: got %v", err)
	}
	// An entity Ask must build an envelope.
	if _, err := c.Ask(ctx, ref, func(wire.Ref) any { return workload.Increment{} }); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("entity ask without envelope: got %v", err)
	}
	st := c.Stats()
	if st.AsksTimedOut != 2 || st.AsksOK < 5 {
		t.Fatalf("ask stats: %+v", st)
	}
}

// Behaviour 6: Lookup and Watch, with coalescing for a slow watcher.
func TestLookupWatch(t *testing.T) {
	cl := newFakeCluster(t, 3)
	c := dialFake(t, cl, nil)
	l := c.Lookup(workload.StatsKey)
	if len(l.Instances) != 3 {
		t.Fatalf("lookup: %d instances, want 3", len(l.Instances))
	}
	for i, inst := range l.Instances {
		want := "casty://live@" + inst.Node.String() + "/stats"
		if inst.Ref.String() != want {
			t.Fatalf("instance %d: %s, want %s", i, inst.Ref.String(), want)
		}
		if i > 0 && !l.Instances[i-1].Node.Less(inst.Node) {
			t.Fatal("instances not sorted")
		}
	}
	if got := c.Lookup("nothing"); len(got.Instances) != 0 || got.Key != "nothing" {
		t.Fatalf("unknown key: %+v", got)
	}
	w, err := c.Watch("payment")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if first := <-w.C(); len(first.Instances) != 0 {
		t.Fatalf("first listing: %+v", first)
	}
	addService := func(i int) {
		cl.mu.Lock()
		cl.registry = append(cl.registry, wire.ServiceEntry{Key: "payment", Node: cl.nodes[i].addr, Path: fmt.Sprintf("/pay%d", i)})
		cl.mu.Unlock()
		cl.pushAll()
	}
	addService(0)
	select {
	case got := <-w.C():
		if len(got.Instances) != 1 || got.Instances[0].Node != cl.nodes[0].addr {
			t.Fatalf("after 1 registration: %+v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no listing after a registration")
	}
	// A slow consumer: two changes, only the latest is kept.
	addService(1)
	waitFor(t, "second listing applied", func() bool { return len(c.Lookup("payment").Instances) == 2 })
	addService(2)
	waitFor(t, "third listing applied", func() bool { return len(c.Lookup("payment").Instances) == 3 })
	got := <-w.C()
	if len(got.Instances) != 3 {
		t.Fatalf("coalesced listing: %d instances, want 3", len(got.Instances))
	}
	if c.Stats().WatchCoalesced == 0 {
		t.Fatal("coalescing not counted")
	}
	// Unchanged snapshots deliver nothing: once the client has applied the
	// push (counted as unchanged), no listing may be waiting.
	unchanged := c.Stats().SnapshotsUnchanged
	cl.pushAll()
	waitFor(t, "the unchanged push applied", func() bool { return c.Stats().SnapshotsUnchanged > unchanged })
	select {
	case l := <-w.C():
		t.Fatalf("listing delivered without a change: %+v", l)
	default:
	}
	w.Close()
	if _, ok := <-w.C(); ok {
		t.Fatal("channel open after Close")
	}
}
