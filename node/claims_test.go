package node_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
)

// claimWatch polls NodeState of every running node of a cluster every few
// milliseconds and records the shards each node serves, as the chaos
// suite's watcher does across processes: a claim is (node, incarnation,
// type, shard, epoch) over [since, until], until being the largest
// lease_until seen while it was claimed, or the exact end a Released entry
// reports. All nodes of a test share one CLOCK_MONOTONIC, so overlaps are
// exact.
type claimWatch struct {
	c      *nodetest.LocalCluster
	mu     sync.Mutex
	claims map[claimKey]*span
	polls  int
	stop   chan struct{}
	done   chan struct{}
}

type claimKey struct {
	node  wire.NodeAddress
	inc   int64
	typ   string
	shard int
	epoch int64
	since int64
}

type span struct{ since, until int64 }

func watchClaims(t *testing.T, c *nodetest.LocalCluster) *claimWatch {
	t.Helper()
	w := &claimWatch{c: c, claims: map[claimKey]*span{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.close)
	return w
}

func (w *claimWatch) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *claimWatch) run() {
	defer close(w.done)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		for _, n := range w.c.Nodes() {
			w.record(n.State())
		}
	}
}

func (w *claimWatch) record(st wire.NodeState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	for _, c := range st.Claims {
		k := claimKey{st.Node, st.Incarnation, c.Type, c.Shard, c.Epoch, c.Since}
		s := w.claims[k]
		if s == nil {
			s = &span{since: c.Since, until: c.Until}
			w.claims[k] = s
		}
		s.until = max(s.until, c.Until)
	}
	for _, c := range st.Released {
		if s := w.claims[claimKey{st.Node, st.Incarnation, c.Type, c.Shard, c.Epoch, c.Since}]; s != nil {
			s.until = min(s.until, c.Until)
		}
	}
}

// check fails the test if two different nodes (or incarnations) claimed
// one shard over overlapping intervals; it returns the number of claims.
func (w *claimWatch) check(t *testing.T) int {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	type shardRef struct {
		typ   string
		shard int
	}
	by := map[shardRef][]claimKey{}
	for k := range w.claims {
		r := shardRef{k.typ, k.shard}
		by[r] = append(by[r], k)
	}
	for r, ks := range by {
		for i, a := range ks {
			for _, b := range ks[i+1:] {
				if a.node == b.node && a.inc == b.inc {
					continue
				}
				sa, sb := w.claims[a], w.claims[b]
				if sa.since < sb.until && sb.since < sa.until {
					t.Errorf("%s shard %d served by two nodes at once: %s and %s", r.typ, r.shard, w.describe(a), w.describe(b))
				}
			}
		}
	}
	return len(w.claims)
}

func (w *claimWatch) describe(k claimKey) string {
	s := w.claims[k]
	return fmt.Sprintf("%v (inc %d, epoch %d) over [%d, %d]", k.node, k.inc, k.epoch, s.since, s.until)
}

// lastUntil returns the end of the latest claim of node a on (typ, shard).
func (w *claimWatch) lastUntil(a wire.NodeAddress, typ string, shard int) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var u int64
	for k, s := range w.claims {
		if k.node == a && k.typ == typ && k.shard == shard {
			u = max(u, s.until)
		}
	}
	return u
}

// firstSince returns the start of the earliest claim of (typ, shard) by a
// node other than not, after time after.
func (w *claimWatch) firstSince(not wire.NodeAddress, typ string, shard int, after int64) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first int64
	found := false
	for k, s := range w.claims {
		if k.node != not && k.typ == typ && k.shard == shard && s.since >= after && (!found || s.since < first) {
			first, found = s.since, true
		}
	}
	return first, found
}
