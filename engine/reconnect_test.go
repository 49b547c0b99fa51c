package engine

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// The reconnect backoff is capped at ReconnectMax (1 s by default): the
// waits of a long outage, from the same function the supervisor uses.
func TestReconnectBackoffCap(t *testing.T) {
	if DefaultReconnectMax != time.Second {
		t.Fatalf("DefaultReconnectMax %v, want 1s", DefaultReconnectMax)
	}
	var cfg Config
	cfg.EnsureDefaults()
	b := cfg.ReconnectMin
	var largest time.Duration
	lo, hi := cfg.ReconnectMax, time.Duration(0) // waits at the cap
	for i := 0; i < 1000; i++ {
		var wait time.Duration
		capped := b == cfg.ReconnectMax
		wait, b = cfg.backoffStep(b)
		if wait < cfg.ReconnectMin/2 || wait > cfg.ReconnectMax {
			t.Fatalf("attempt %d: wait %v outside [%v, %v]", i, wait, cfg.ReconnectMin/2, cfg.ReconnectMax)
		}
		largest = max(largest, wait)
		if capped {
			lo, hi = min(lo, wait), max(hi, wait)
		}
	}
	if b != cfg.ReconnectMax || largest < cfg.ReconnectMax/2 {
		t.Fatalf("backoff %v (largest wait %v), want it to reach the cap %v", b, largest, cfg.ReconnectMax)
	}
	// Jittered: the waits at the cap spread over [ReconnectMax/2,
	// ReconnectMax] (about 990 uniform draws: both quarters are reached).
	if lo > 5*cfg.ReconnectMax/8 || hi < 7*cfg.ReconnectMax/8 {
		t.Fatalf("waits at the cap within [%v, %v], want them jittered over [%v, %v]", lo, hi, cfg.ReconnectMax/2, cfg.ReconnectMax)
	}
}

// attemptLog records, for every connection attempt to one address, the
// attempt's nodeConn.lastTry (stored just before it dialled).
type attemptLog struct {
	addr string
	c    atomic.Pointer[Client]
	mu   sync.Mutex
	at   []time.Time
}

func (a *attemptLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := a.c.Load(); c != nil && addr == a.addr {
		c.mu.Lock()
		var nc *nodeConn
		for _, x := range c.connList {
			if x.dial == addr {
				nc = x
			}
		}
		c.mu.Unlock()
		if nc != nil {
			a.mu.Lock()
			a.at = append(a.at, time.Unix(0, nc.lastTry.Load()))
			a.mu.Unlock()
		}
	}
	return defaultDial(ctx, network, addr)
}

func (a *attemptLog) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at...)
}

// connDownTo reports whether c's connection to addr is down (in backoff).
func connDownTo(c *Client, addr wire.NodeAddress) bool {
	c.mu.Lock()
	nc := c.conns[addr]
	c.mu.Unlock()
	return nc != nil && nc.state.Load() == connDown
}

// connUpTo reports whether c's connection to addr is up.
func connUpTo(c *Client, addr wire.NodeAddress) bool {
	c.mu.Lock()
	nc := c.conns[addr]
	c.mu.Unlock()
	return nc != nil && nc.state.Load() == connUp
}

// A node restarted at the same address after a long outage (the backoff
// at its cap) is connected again within about ReconnectMax: here polled
// with a generous deadline, the bound itself is TestReconnectBackoffCap's.
// The attempts are at least ReconnectMin/2 apart (the jitter's floor).
func TestReconnectAfterRestart(t *testing.T) {
	cl := newFakeCluster(t, 2)
	const shard = 7
	id := entityOnShard(t, shard, 32, "rs")
	cl.setAlloc("counter", shard, 1)
	n1 := cl.nodes[1]
	log := &attemptLog{addr: n1.listen}
	c := dialFake(t, cl, func(cfg *Config) { cfg.Dialer = log.dial })
	log.c.Store(c)
	ref, _ := c.EntityRef("counter", 32)
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 1 counts", func() bool { return n1.count(id) == 1 })
	before := len(log.times())
	failed := c.Stats().ConnectFailures
	n1.kill()
	// Long enough down for the backoff to reach its cap (100, 200, 400,
	// 800 ms, then 1 s). Counted as failures, not as dials: the sixth dial
	// may still be under way at the restart, and succeed.
	waitFor(t, "six failed attempts", func() bool {
		return len(log.times()) >= before+6 && c.Stats().ConnectFailures >= failed+6
	})
	n1.restart()
	restarted := time.Now()
	waitFor(t, "reconnected", func() bool { return connUpTo(c, n1.addr) })
	t.Logf("reconnected %v after the restart", time.Since(restarted))
	waitFor(t, "tells flow again", func() bool { return ref.Tell(id, workload.Increment{Amount: 1}) == nil })
	at := log.times()
	for i := before + 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < DefaultReconnectMin/2 {
			t.Fatalf("attempts %d and %d %v apart, want at least %v", i-1, i, gap, DefaultReconnectMin/2)
		}
	}
	if st := c.Stats(); st.Reconnects == 0 || st.ConnectFailures < failed+6 {
		t.Fatalf("reconnects %d, connect failures %d", st.Reconnects, st.ConnectFailures)
	}
}

// Any membership change in an applied snapshot (a member's status, id or
// presence) retries the connections in backoff at once, the attempts
// staying ReconnectMin apart. The backoff here never ends on its own (the
// test makes every wait an hour), so only the nudge reconnects; node 1
// stays Up in every snapshot, so no other nudge applies.
func TestReconnectNudgeOnMembershipChange(t *testing.T) {
	cl := newFakeCluster(t, 3)
	n1 := cl.nodes[1]
	log := &attemptLog{addr: n1.listen}
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.Dialer = log.dial
		cfg.reconnectJitter = func(time.Duration) time.Duration { return time.Hour }
	})
	log.c.Store(c)
	waitFor(t, "connected to node 1", func() bool { return connUpTo(c, n1.addr) })
	var status atomic.Value // of node 2
	status.Store(wire.StatusUp)
	var id1 atomic.Value // of node 1
	id1.Store("node-1")
	cl.mu.Lock()
	cl.member = func(i int, m *wire.Member) {
		switch i {
		case 1:
			m.ID = id1.Load().(string)
		case 2:
			m.Status = status.Load().(wire.MemberStatus)
		}
	}
	cl.mu.Unlock()

	for step, change := range []func(){
		func() { status.Store(wire.StatusLeaving) }, // another member's status
		func() { id1.Store("node-1-restarted") },    // the node's own id (a new incarnation)
	} {
		n1.kill()
		waitFor(t, "connection down", func() bool { return connDownTo(c, n1.addr) })
		n1.restart()
		// A chance to reconnect without the nudge (there is none): a wrong
		// client would redial within its reconnect backoff.
		poll.Never(t, fmt.Sprintf("step %d: reconnected without a nudge", step), 300*time.Millisecond,
			func() bool { return connUpTo(c, n1.addr) })
		change()
		cl.pushAll()
		waitFor(t, "reconnected by the membership change", func() bool { return connUpTo(c, n1.addr) })
	}

	// A storm of membership changes while the node is down: attempts stay
	// ReconnectMin apart.
	n1.kill()
	waitFor(t, "connection down", func() bool { return connDownTo(c, n1.addr) })
	attempts := len(log.times())
	for i := 0; i < 30; i++ {
		if i%2 == 0 {
			status.Store(wire.StatusUp)
		} else {
			status.Store(wire.StatusLeaving)
		}
		cl.pushAll()
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, "nudged attempts", func() bool { return len(log.times()) >= attempts+2 })
	at := log.times()
	for i := attempts; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < DefaultReconnectMin {
			t.Fatalf("attempts %d and %d %v apart, want at least ReconnectMin %v", i-1, i, gap, DefaultReconnectMin)
		}
	}
	n1.restart()
}
