package node_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"

	"github.com/zerohop/zerohop/wire"
)

// watcher subscribes to one node's topology and records every snapshot.
type watcher struct {
	rc   *rawClient
	mu   sync.Mutex
	seen []wire.TopologySnapshot
	done chan struct{}
}

func watch(t *testing.T, addr wire.NodeAddress, id wire.NodeAddress) *watcher {
	t.Helper()
	rc := dialClient(t, addr, id, nil)
	w := &watcher{rc: rc, done: make(chan struct{})}
	rc.send(wire.PathTopology, wire.SubscribeTopology{ReplyTo: rc.ref(wire.PathTopologySub)})
	go func() {
		defer close(w.done)
		for {
			_ = rc.c.SetReadDeadline(time.Time{})
			typ, body, err := rc.fr.Next()
			if err != nil {
				return
			}
			if typ != wire.FrameMessage {
				continue
			}
			_, payload, err := wire.ParseMessage(body)
			if err != nil {
				continue
			}
			v, err := rc.reg.Decode(payload)
			if err != nil {
				continue
			}
			if ts, ok := v.(wire.TopologySnapshot); ok {
				w.mu.Lock()
				w.seen = append(w.seen, ts)
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *watcher) stop() {
	_ = w.rc.c.Close()
	<-w.done
}

func (w *watcher) snapshots() []wire.TopologySnapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}

func (w *watcher) last() (wire.TopologySnapshot, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) == 0 {
		return wire.TopologySnapshot{}, false
	}
	return w.seen[len(w.seen)-1], true
}

// waitFor polls cond on the watcher's latest snapshot.
func (w *watcher) waitFor(t *testing.T, what string, d time.Duration, cond func(wire.TopologySnapshot) bool) wire.TopologySnapshot {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if ts, ok := w.last(); ok && cond(ts) {
			return ts
		}
		if time.Now().After(deadline) {
			ts, _ := w.last()
			t.Fatalf("timed out waiting for %s; last snapshot: %s", what, describe(ts))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func describe(ts wire.TopologySnapshot) string {
	s := fmt.Sprintf("epoch=%d leader=%v members=[", ts.AllocationEpoch, ts.Leader)
	for _, m := range ts.Members {
		s += fmt.Sprintf(" %v:%v", m.Address, m.Status)
	}
	s += fmt.Sprintf(" ] unreachable=%v allocations=%d", ts.Unreachable, len(ts.ShardAllocations["counter"]))
	return s
}

// checkUniqueOwners fails if any epoch maps one shard to two owners across
// every snapshot seen by the watchers, or if a watcher saw its node's epoch
// go backwards.
func checkUniqueOwners(t *testing.T, ws ...*watcher) {
	t.Helper()
	type key struct {
		epoch int64
		typ   string
		shard int
	}
	owners := map[key]wire.NodeAddress{}
	total := 0
	for wi, w := range ws {
		var prev int64
		for _, ts := range w.snapshots() {
			total++
			if ts.AllocationEpoch < prev {
				t.Errorf("watcher %d: epoch went back from %d to %d", wi, prev, ts.AllocationEpoch)
			}
			prev = ts.AllocationEpoch
			for typ, m := range ts.ShardAllocations {
				for s, a := range m {
					k := key{ts.AllocationEpoch, typ, s}
					if o, ok := owners[k]; ok && o != a.Primary {
						t.Errorf("epoch %d: %s shard %d owned by %v and %v", ts.AllocationEpoch, typ, s, o, a.Primary)
					}
					owners[k] = a.Primary
				}
			}
		}
	}
	t.Logf("checked %d snapshots, %d (epoch, shard) owners", total, len(owners))
}

func hasStatus(ts wire.TopologySnapshot, a wire.NodeAddress, st wire.MemberStatus) bool {
	for _, m := range ts.Members {
		if m.Address == a {
			return m.Status == st
		}
	}
	return false
}

func ownsAny(ts wire.TopologySnapshot, a wire.NodeAddress) bool {
	for _, m := range ts.ShardAllocations {
		for _, al := range m {
			if al.Primary == a {
				return true
			}
		}
	}
	return false
}

// locate asks node addr's coordinator for a counter shard over rc's
// connection.
func (rc *rawClient) locate(shard int) wire.ShardLocation {
	rc.t.Helper()
	return rc.locateType("counter", shard)
}

// locateType asks for shard of typ.
//
// A node whose lease lapsed tells a zerohop client ShardUnavailable
// (no_quorum) at once: on a loaded box a stall can lapse it for a moment
// in a healthy cluster, so that answer is asked again, for up to a minute.
func (rc *rawClient) locateType(typ string, shard int) wire.ShardLocation {
	rc.t.Helper()
	p := fmt.Sprintf("/_proxy-%s-%d", typ, shard)
	var loc wire.ShardLocation
	poll.UntilWithin(rc.t, time.Minute, fmt.Sprintf("a location of shard %d from %v", shard, rc.node), func() bool {
		rc.send(wire.PathCoordPrefix+typ, wire.GetShardLocation{ShardID: shard, ReplyTo: rc.ref(p)})
		v, err := rc.recv(p, 15*time.Second)
		if err != nil {
			rc.t.Fatalf("locate shard %d on %v: %v", shard, rc.node, err)
		}
		if su, ok := v.(wire.ShardUnavailable); ok && su.Reason == wire.ReasonNoQuorum {
			return false
		}
		var ok bool
		if loc, ok = v.(wire.ShardLocation); !ok {
			rc.t.Fatalf("got %#v, want ShardLocation", v)
		}
		return true
	})
	return loc
}
