package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/workload"
)

// fakeSource is an in-memory cluster of nodes serving tallies.
type fakeSource struct {
	mu    sync.Mutex
	nodes map[string]*fakeNode // guarded by mu
	order []string             // guarded by mu
}

type fakeNode struct {
	listed    bool
	answering bool
	tally     workload.ShardTally
	owns      []int
}

var errFakeSilent = errors.New("fake: no answer")

func newFakeSource() *fakeSource {
	return &fakeSource{nodes: map[string]*fakeNode{}}
}

// set adds or changes node n (under the lock).
func (f *fakeSource) set(n string, change func(nd *fakeNode)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	nd := f.nodes[n]
	if nd == nil {
		nd = &fakeNode{listed: true, answering: true, tally: workload.ShardTally{Node: n, Incarnation: 1,
			Applied: make([]int64, 2), Retired: make([]int64, 2), Dead: make([]int64, 2)}}
		f.nodes[n] = nd
		f.order = append(f.order, n)
	}
	change(nd)
}

func (f *fakeSource) StatsNodes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.order {
		if f.nodes[n].listed {
			out = append(out, n)
		}
	}
	return out
}

func (f *fakeSource) ShardTally(ctx context.Context, node string) (workload.ShardTally, error) {
	f.mu.Lock()
	nd := f.nodes[node]
	ok := nd != nil && nd.answering
	var st workload.ShardTally
	if ok {
		st = nd.tally
		st.Applied, st.Retired, st.Dead = clone(st.Applied), clone(st.Retired), clone(st.Dead)
	}
	f.mu.Unlock()
	if !ok {
		return st, errFakeSilent
	}
	return st, nil
}

func (f *fakeSource) ShardOwners(dst []string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	dst = append(dst, "", "")
	for _, n := range f.order {
		for _, s := range f.nodes[n].owns {
			dst[len(dst)-2+s] = n
		}
	}
	return dst
}

func clone(s []int64) []int64 { return append([]int64(nil), s...) }

// TestTallyPoller walks the poller through the cases of a chaos run: a node
// that crashes (stops answering while listed), one that leaves gracefully
// (leaves the listing, lingers saying final, then goes), one restarted at
// the same address (a new incarnation), and one that stays.
func TestTallyPoller(t *testing.T) {
	f := newFakeSource()
	for _, n := range []string{"a", "b", "c", "d"} {
		f.set(n, func(nd *fakeNode) {})
	}
	f.set("a", func(nd *fakeNode) { nd.tally.Applied[0] = 100; nd.owns = []int{0} }) // older state: the base
	p := newTallyPoller(f, 5*time.Millisecond, time.Second)
	if why := p.probe(context.Background()); why != "" {
		t.Fatalf("probe: %s", why)
	}
	p.start(context.Background())
	defer p.stop()

	// b crashes with 7 applied on shard 1; c leaves: stopped counters,
	// final, unlisted but still answering; d restarts.
	f.set("b", func(nd *fakeNode) { nd.tally.Applied[1] = 7; nd.owns = []int{1} })
	poll.UntilWithin(t, time.Minute, "b's 7 polled", func() bool { return at(p.lastOf("b", 1).Applied, 1) == 7 })
	f.set("b", func(nd *fakeNode) { nd.answering = false })
	f.set("c", func(nd *fakeNode) { nd.tally.Retired[0] = 3; nd.tally.Final = true; nd.listed = false })
	poll.UntilWithin(t, time.Minute, "c's final tally", func() bool { return p.lastOf("c", 1).Final })
	f.set("d", func(nd *fakeNode) { nd.tally.Incarnation = 2; nd.tally.Applied[1] = 1 })
	poll.UntilWithin(t, time.Minute, "d's new incarnation", func() bool { return at(p.lastOf("d", 2).Applied, 1) == 1 })
	// c goes: an unlisted node that fails for tallyGiveUp is dropped.
	f.set("c", func(nd *fakeNode) { nd.answering = false })
	poll.UntilWithin(t, time.Minute, "c no longer polled", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return !p.running["c"]
	})
	// b, still listed, is still polled (a paused node may come back).
	p.mu.Lock()
	bRunning := p.running["b"]
	p.mu.Unlock()
	if !bRunning {
		t.Errorf("b (listed, not answering) is no longer polled")
	}

	tallies, owned := p.endRound(context.Background(), time.Second, 2)
	got := map[string]incTally{}
	for _, tt := range tallies {
		got[tt.key()] = tt
	}
	for _, want := range []struct {
		key        string
		gone, base bool
		final      bool
	}{
		{"a#1", false, true, false},
		{"b#1", true, true, false},
		{"c#1", true, true, true},
		{"d#1", true, true, false},
		{"d#2", false, false, false},
	} {
		g, ok := got[want.key]
		if !ok {
			t.Errorf("no tally kept for %s; got %v", want.key, tallies)
			continue
		}
		if g.gone != want.gone || (g.base != nil) != want.base || g.last.Final != want.final {
			t.Errorf("%s: got gone %v, base %v, final %v; want %v, %v, %v", want.key, g.gone, g.base != nil, g.last.Final, want.gone, want.base, want.final)
		}
	}
	if len(got) != 5 {
		t.Errorf("got %d incarnations, want 5", len(got))
	}
	if b := got["a#1"].base; b == nil || b.Applied[0] != 100 {
		t.Errorf("got a's base %+v, want applied[0] 100", b)
	}
	if !owned["a"][0] || !owned["b"][1] || owned["a"][1] {
		t.Errorf("got owners %v, want a: shard 0, b: shard 1", owned)
	}
	if polls, _ := p.counts(); polls == 0 {
		t.Errorf("got 0 polls answered")
	}
}

func TestTallyProbeWithoutTallies(t *testing.T) {
	f := newFakeSource()
	f.set("casty", func(nd *fakeNode) { nd.answering = false })
	p := newTallyPoller(f, 5*time.Millisecond, time.Second)
	if why := p.probe(context.Background()); !strings.Contains(why, "no node answered GetShardTally") {
		t.Fatalf("got %q, want no node answered", why)
	}
	// No listing at all: said so after tallyProbeTimeout.
	p = newTallyPoller(newFakeSource(), 5*time.Millisecond, time.Second)
	if why := p.probe(context.Background()); !strings.Contains(why, "no node-stats service listed") {
		t.Fatalf("got %q, want no service listed", why)
	}
}
