package node

import (
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/wire"
)

// Tests of Stats fields whose scenario needs the node's internals (a dial
// to a chosen address, the lease dropped, the suspend detector's clocks).
// Each reads its field before and after the scenario it counts; the guard
// TestEveryStatsFieldHasATest lists them.

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) wire.NodeAddress {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	p, _ := strconv.Atoi(port)
	return wire.NodeAddress{Host: host, Port: p}
}

// TestStatsPeerDialFailures: a member link to an address nothing listens
// on fails its dial (PeerDialFailures, not PeerDials).
func TestStatsPeerDialFailures(t *testing.T) {
	n := startSingle(t, Config{}, EntityFunc(func(*Context, any) {}))
	before := n.Stats()
	if l := n.peerLink(closedAddr(t)); l == nil {
		t.Fatal("no link to dial")
	}
	poll.Until(t, "dial failure counted", func() bool { return n.Stats().PeerDialFailures == before.PeerDialFailures+1 })
	if st := n.Stats(); st.PeerDials != before.PeerDials {
		t.Fatalf("PeerDials %d -> %d on a failed dial", before.PeerDials, st.PeerDials)
	}
}

// TestStatsEntityPanics: an entity that panics is counted once per panic,
// the message dropped, and the next message is processed.
func TestStatsEntityPanics(t *testing.T) {
	var got atomic.Int64
	n := startSingle(t, Config{}, EntityFunc(func(_ *Context, msg any) {
		if msg.(int64) < 0 {
			panic("negative")
		}
		got.Add(msg.(int64))
	}))
	if st := n.Stats(); st.EntityPanics != 0 {
		t.Fatalf("EntityPanics %d before any message", st.EntityPanics)
	}
	to := wire.Ref{Address: wire.Address{System: n.System(), Host: n.self.Host, Port: n.self.Port, Path: wire.PathRegionPrefix + "p"}}
	for _, v := range []int64{-1, 5, -2, 7} {
		if err := n.Tell(to, wire.ShardEnvelope{EntityID: "e", Message: v}); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "both good messages processed", func() bool { return got.Load() == 12 })
	if st := n.Stats(); st.EntityPanics != 2 || st.MessagesProcessed != 2 {
		t.Fatalf("EntityPanics %d, MessagesProcessed %d; want 2 and 2", st.EntityPanics, st.MessagesProcessed)
	}
}

// TestStatsMailboxWaitsForTheLease: a message for a shard this node owns,
// arriving while its lease is not valid, waits in its mailbox
// (MailboxWaits) until the next renewal regains the lease
// (LeaseRegained), and then runs.
func TestStatsMailboxWaitsForTheLease(t *testing.T) {
	var got atomic.Int64
	n := startSingle(t, Config{}, EntityFunc(func(_ *Context, msg any) { got.Add(msg.(int64)) }))
	to := wire.Ref{Address: wire.Address{System: n.System(), Host: n.self.Host, Port: n.self.Port, Path: wire.PathRegionPrefix + "p"}}
	// Allocate the shard first: a message for an unallocated one is parked
	// by the locator, not held by the mailbox.
	if err := n.Tell(to, wire.ShardEnvelope{EntityID: "e", Message: int64(1)}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "first message processed", func() bool { return got.Load() == 1 })
	before := n.Stats()
	if before.MailboxWaits != 0 {
		t.Fatalf("MailboxWaits %d with a valid lease", before.MailboxWaits)
	}
	// The renewer regains the lease within LeaseDuration/5, possibly
	// before the mailbox ran: repeat until a message waited.
	want := int64(1)
	poll.Until(t, "a message waited for the lease", func() bool {
		n.dropLease()
		if err := n.Tell(to, wire.ShardEnvelope{EntityID: "e", Message: int64(1)}); err != nil {
			t.Fatal(err)
		}
		want++
		poll.Until(t, "message processed after the lease came back", func() bool { return got.Load() == want })
		return n.Stats().MailboxWaits > 0
	})
	st := n.Stats()
	if st.LeaseRegained <= before.LeaseRegained {
		t.Fatalf("LeaseRegained %d -> %d after the lease was dropped and renewed", before.LeaseRegained, st.LeaseRegained)
	}
	if st.Renewals <= before.Renewals {
		t.Fatalf("Renewals %d -> %d", before.Renewals, st.Renewals)
	}
}

// TestStatsSuspendDetected: when CLOCK_BOOTTIME ran ahead of the monotonic
// clock by more than LeaseDuration/10 (a machine suspend), checkSuspend
// counts one suspend, drops the lease, and does not count it again.
func TestStatsSuspendDetected(t *testing.T) {
	n := &Node{base: time.Now(), ctr: newCounters(), log: slog.New(slog.DiscardHandler)}
	n.cfg.Consensus.LeaseDuration = 2 * time.Second
	n.bootBase = clockBoottime()
	n.lease.until.Store(int64(time.Hour))
	n.checkSuspend()
	if st := n.ctr.snapshot(); st.Suspends != 0 || !n.leaseValid() {
		t.Fatalf("no suspend: Suspends %d, lease valid %v; want 0 and true", st.Suspends, n.leaseValid())
	}
	n.bootBase -= int64(10 * time.Second) // boot time went on 10 s while mono stood still
	n.checkSuspend()
	if st := n.ctr.snapshot(); st.Suspends != 1 || n.leaseValid() {
		t.Fatalf("after a 10 s suspend: Suspends %d, lease valid %v; want 1 and false", st.Suspends, n.leaseValid())
	}
	n.checkSuspend()
	if st := n.ctr.snapshot(); st.Suspends != 1 {
		t.Fatalf("Suspends %d after a second check, want the suspend counted once", st.Suspends)
	}
}
