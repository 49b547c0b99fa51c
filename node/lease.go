package node

import (
	"sync"
	"sync/atomic"
	"time"
)

// Ownership leases: the holder's side (the leader's side is in leader.go).
//
// A node serves its shards only while it holds a lease. It renews the
// lease through the consensus log every Consensus.LeaseDuration/5:
//
//  1. t0 := now (this node's monotonic clock), before anything is sent;
//  2. ask the leader to append renew(node) to the log (control RPC);
//  3. the leader answers with the entry's index once it is committed;
//  4. wait until this node's own replica has applied that index;
//  5. the lease now runs until t0 + LeaseDuration.
//
// Step 4 ties the lease to the table: a node that holds a lease from
// renewal R has applied every move committed before R, so it never serves
// a shard the table moved away before R; and the leader moves a shard away
// from a node only once that node's lease has expired (below), so no move
// can be committed after R while the lease from R runs.
//
// The leader judges a node's lease expired when LeaseDuration + grace has
// passed on the leader's own monotonic clock since its replica applied the
// node's latest renewal (fsm.seen). Applying happens after committing, and
// committing after the node sent the request (after t0), so the leader's
// start point is never before the holder's: with clock rates that differ
// by less than grace/(2*LeaseDuration) (5% with the default grace of a
// tenth of the lease), the leader's "expired" comes after the holder's own
// expiry. A leader elected meanwhile has applied every renewal earlier
// leaders acknowledged (its barrier runs before it acts), at the time it
// applied them, which is later still. Timing errors only ever delay a
// re-allocation.
//
// The check is made before every message an entity receives (region.go),
// against the node's monotonic clock, so a node stopped by SIGSTOP or
// starved for longer than its lease finds it expired when it resumes and
// runs nothing before it has renewed (and so applied the current table).
// Clock assumptions, stated in doc.go: monotonic clocks that run while the
// process is stopped (CLOCK_MONOTONIC, as Go's clock, does) at rates within
// 5% of each other; the housekeeping watchdog drops the lease when the
// machine itself was suspended (CLOCK_BOOTTIME ran ahead of
// CLOCK_MONOTONIC).
type leaseState struct {
	until     atomic.Int64 // n.mono() nanoseconds; serve while mono < until
	renewedAt atomic.Int64 // n.mono() of the t0 of the last successful renewal
	synced    chan struct{}
	syncOnce  sync.Once
}

// mono is this node's monotonic clock: time since Start.
func (n *Node) mono() time.Duration { return time.Since(n.base) }

// leaseValid reports whether this node holds an unexpired lease now.
func (n *Node) leaseValid() bool { return int64(n.mono()) < n.lease.until.Load() }

// dropLease ends the lease at once (the machine was suspended, or the node
// is leaving and serves nothing more).
func (n *Node) dropLease() { n.lease.until.Store(0) }

// renewLoop renews this node's lease every LeaseDuration/5 (sooner after a
// failure) until the node stops or has left.
func (n *Node) renewLoop() {
	defer n.wg.Done()
	cc := n.cfg.Consensus
	every := cc.LeaseDuration / 5
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if !n.gate.wait(n.stop) {
			return
		}
		if n.left.Load() {
			return
		}
		if n.renewOnce() {
			t.Reset(every)
		} else {
			t.Reset(every / 4)
		}
	}
}

// renewOnce runs one renewal; it reports whether the lease was extended.
func (n *Node) renewOnce() bool {
	cc := n.cfg.Consensus
	t0 := n.mono()
	resp, err := n.cons.Load().ctl.call(ctlRequest{Op: ctlRenew, Node: n.self.String(), Inc: n.inc,
		Raft: n.cons.Load().port.addr, Types: n.members.Load().ourMeta().Types}, cc.LeaseDuration/2)
	if err != nil {
		n.ctr.renewFailures.Add(1)
		if n.leaseValid() {
			n.log.Debug("lease renewal failed", "err", err)
		}
		return false
	}
	if !n.cons.Load().fsm.waitApplied(resp.Index, cc.LeaseDuration/2, n.stop) {
		n.ctr.renewFailures.Add(1)
		return false
	}
	until := int64(t0 + cc.LeaseDuration)
	wasValid := n.leaseValid()
	for {
		cur := n.lease.until.Load()
		if until <= cur || n.lease.until.CompareAndSwap(cur, until) {
			break
		}
	}
	n.lease.renewedAt.Store(int64(t0))
	n.ctr.renewals.Add(1)
	n.lease.syncOnce.Do(func() {
		close(n.lease.synced)
		n.onSynced()
	})
	if !wasValid {
		n.onLeaseRegained()
	}
	return true
}
