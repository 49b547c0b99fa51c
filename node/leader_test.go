package node

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// TestLeaderClock: a new leader judges no lease during its first half
// lease (nobody could renew while there was no leader), and a gap between
// its ticks longer than the stall threshold is reported as a stall.
func TestLeaderClock(t *testing.T) {
	const D, stall = 2 * time.Second, time.Second
	start := 100 * time.Second
	c := newLeaderClock(start, D, stall)
	for now := start; now < start+D/2; now += leaderTick {
		if st, judge := c.tick(now); judge || st != 0 {
			t.Fatalf("tick at +%v: stalled %v judge %v, want neither in the first half lease", now-start, st, judge)
		}
	}
	if st, judge := c.tick(start + D/2); !judge || st != 0 {
		t.Fatalf("tick at +%v: stalled %v judge %v, want judge", D/2, st, judge)
	}
	// A tick after a gap of exactly the threshold is not a stall; one
	// after a longer gap is, and reports the gap.
	now := start + D/2 + stall
	if st, _ := c.tick(now); st != 0 {
		t.Fatalf("gap of %v reported as a stall of %v", stall, st)
	}
	if st, judge := c.tick(now + stall + time.Millisecond); st != stall+time.Millisecond || !judge {
		t.Fatalf("gap of %v: stalled %v judge %v", stall+time.Millisecond, st, judge)
	}
	if st, _ := c.tick(now + stall + time.Millisecond + leaderTick); st != 0 {
		t.Fatalf("a tick after the stall reported %v", st)
	}
}

// TestLeaseExpiryJudgement: the leader treats a lease as expired only
// after LeaseDuration + grace since it applied the last renewal, and gives
// shards only to nodes that renewed within LeaseDuration.
func TestLeaseExpiryJudgement(t *testing.T) {
	n := &Node{cfg: Config{}.withDefaults()}
	n.cons.Store(&consensus{})
	cc := n.cfg.Consensus
	D, g := cc.LeaseDuration, cc.leaseGrace()
	if g < D/10 {
		t.Fatalf("grace %v below a tenth of the lease %v", g, D)
	}
	seenAt := 10 * time.Second
	v := view{nodes: map[string]nodeRecord{addr(1).String(): {Types: []string{"counter"}}},
		seen: map[wire.NodeAddress]seenRec{addr(1): {at: seenAt}}}
	for _, tc := range []struct {
		now     time.Duration
		expired bool
	}{
		{seenAt, false},
		{seenAt + D, false},         // the holder's own lease ends about here
		{seenAt + D + g - 1, false}, // still within the grace
		{seenAt + D + g + 1, true},  // certainly expired on the holder
		{seenAt + 10*D, true},
	} {
		if got := n.expired(&v, addr(1), tc.now); got != tc.expired {
			t.Errorf("expired at seen+%v = %v, want %v", tc.now-seenAt, got, tc.expired)
		}
	}
	// A registered node never seen renewing here (impossible after a
	// restore, which marks every node seen) is not judged; an unknown
	// owner is.
	if n.expired(&view{nodes: v.nodes}, addr(1), time.Hour) {
		t.Error("a registered node with no renewal record judged expired")
	}
	if !n.expired(&view{}, addr(9), 0) {
		t.Error("an owner missing from the registry not judged expired")
	}
	// A leader that stalled judges from no earlier than its stall.
	n.cons.Store(&consensus{})
	n.cons.Load().expiryFloor.Store(int64(seenAt + 5*D))
	if n.expired(&v, addr(1), seenAt+5*D+D) {
		t.Error("expired within a lease after the leader's stall")
	}
	if !n.expired(&v, addr(1), seenAt+5*D+D+g+1) {
		t.Error("not expired a lease + grace after the leader's stall")
	}
	n.cons.Load().expiryFloor.Store(0)
	if !n.fresh(&v, addr(1), seenAt+D+g) || n.fresh(&v, addr(1), seenAt+D+g+1) {
		t.Error("fresh: want a lease not certainly expired")
	}
}

func TestPickOwner(t *testing.T) {
	n := &Node{cfg: Config{}.withDefaults(), log: slog.New(slog.DiscardHandler)}
	now := 100 * time.Second
	rec := func(types ...string) nodeRecord { return nodeRecord{Types: types} }
	v := view{
		nodes: map[string]nodeRecord{
			addr(1).String(): rec("counter"),
			addr(2).String(): rec("counter"),
			addr(3).String(): rec("other"),
			addr(4).String(): {Types: []string{"counter"}, Leaving: true},
			addr(5).String(): rec("counter"),
		},
		seen: map[wire.NodeAddress]seenRec{
			addr(1): {at: now}, addr(2): {at: now}, addr(3): {at: now}, addr(4): {at: now},
			addr(5): {at: now - 2*n.cfg.Consensus.LeaseDuration}, // lease expired
		},
	}
	load := map[string]map[wire.NodeAddress]int{"counter": {addr(1): 3, addr(2): 1}}
	if got, ok := n.pickOwner(&v, "counter", load, now, wire.NodeAddress{}); !ok || got != addr(2) {
		t.Fatalf("pick %v %v, want %v (fewest shards among fresh candidates hosting the type)", got, ok, addr(2))
	}
	if got, ok := n.pickOwner(&v, "counter", load, now, addr(2)); !ok || got != addr(1) {
		t.Fatalf("pick excluding %v: %v %v, want %v", addr(2), got, ok, addr(1))
	}
	load["counter"][addr(1)] = 1
	if got, _ := n.pickOwner(&v, "counter", load, now, wire.NodeAddress{}); got != addr(1) {
		t.Fatalf("tie: %v, want the lowest address %v", got, addr(1))
	}
	if _, ok := n.pickOwner(&v, "nope", load, now, wire.NodeAddress{}); ok {
		t.Fatal("picked an owner for a type nobody hosts")
	}
}

// TestConsensusPortHello: the hello succeeds only when both ends hold a
// common key (or neither has one), and names its channel.
func TestConsensusPortHello(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	k1, k2, k3 := []byte("key-one-0123456789abcdef"), []byte("key-two-0123456789abcdef"), []byte("key-three-0123456789abcd")
	for _, tc := range []struct {
		name           string
		dialer, accept [][]byte
		ok             bool
	}{
		{"no keys", nil, nil, true},
		{"same key", [][]byte{k1}, [][]byte{k1}, true},
		{"rotation: dialer's primary is the acceptor's secondary", [][]byte{k2, k1}, [][]byte{k1, k2}, true},
		{"different keys", [][]byte{k1}, [][]byte{k2}, false},
		{"dialer without a key", nil, [][]byte{k1}, false},
		{"acceptor without a key", [][]byte{k1}, nil, false},
		{"no common key", [][]byte{k1, k2}, [][]byte{k3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			done := make(chan error, 1)
			go func() {
				_, err := acceptHelloWith(b, tc.accept, time.Second)
				if err != nil {
					b.Close()
				}
				done <- err
			}()
			err := dialHello(a, chanControl, tc.dialer, time.Second)
			aerr := <-done
			if (err == nil) != tc.ok || (aerr == nil) != tc.ok {
				t.Fatalf("dial %v, accept %v; want success %v", err, aerr, tc.ok)
			}
		})
	}
	// Garbage is refused.
	a, b := net.Pipe()
	defer a.Close()
	go func() { _, _ = a.Write([]byte("GET / HTTP/1.1\r\n\r\n")) }()
	if _, err := acceptHelloWith(b, nil, time.Second); err == nil {
		t.Fatal("an HTTP request passed the hello")
	}
}
