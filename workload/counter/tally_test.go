package counter

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// idsInShards returns one entity id per wanted shard (of shards).
func idsInShards(t *testing.T, shards int, want ...int) []string {
	t.Helper()
	out := make([]string, len(want))
	for i, s := range want {
		for k := 0; out[i] == ""; k++ {
			if k > 100000 {
				t.Fatalf("no id found in shard %d", s)
			}
			// Distinct ids even when two want the same shard.
			if id := fmt.Sprintf("e%d-%d", i, k); ring.Shard(id, shards) == s {
				out[i] = id
			}
		}
	}
	return out
}

func sums(n int, kv map[int]int64) []int64 {
	out := make([]int64, n)
	for k, v := range kv {
		out[k] = v
	}
	return out
}

func TestShardTallyHooks(t *testing.T) {
	var prevCalls []node.DeadLetter
	cfg := node.Config{OnDeadLetter: func(d node.DeadLetter) { prevCalls = append(prevCalls, d) }}
	tally, err := Configure(&cfg, workload.Options{Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	if tally.Incarnation() <= 0 || tally.Incarnation() >= incarnationLimit {
		t.Fatalf("got incarnation %d, want in [1, 2^53)", tally.Incarnation())
	}
	ids := idsInShards(t, 4, 1, 1, 3)
	newCounter := cfg.Entities[0].New
	a, b, c := newCounter(ids[0]).(*Counter), newCounter(ids[1]).(*Counter), newCounter(ids[2]).(*Counter)
	a.Receive(nil, workload.Increment{Amount: 2})
	b.Receive(nil, workload.Increment{Amount: 5})
	c.Receive(nil, workload.Increment{Amount: 7})

	check := func(step string, applied, retired, dead map[int]int64, final bool) {
		t.Helper()
		got := tally.ShardTally("n1")
		want := workload.ShardTally{Node: "n1", Incarnation: tally.Incarnation(),
			Applied: sums(4, applied), Retired: sums(4, retired), Dead: sums(4, dead), Final: final}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v, want %+v", step, got, want)
		}
	}
	check("after increments", map[int]int64{1: 7, 3: 7}, nil, nil, false)

	// Stop moves a counter's value from applied to retired; a second Stop
	// moves nothing.
	a.Stop(nil, node.StopMoved)
	a.Stop(nil, node.StopMoved)
	check("after a stop", map[int]int64{1: 5, 3: 7}, map[int]int64{1: 2}, nil, false)

	// A dead-lettered Increment of the type counts in dead (bare, in an
	// envelope, or with no shard but an entity id); other types and
	// messages do not; the hook set before Configure is called every time.
	for _, d := range []node.DeadLetter{
		{Type: workload.DefaultEntityType, Shard: 3, EntityID: ids[2], Msg: workload.Increment{Amount: 4}, Reason: wire.ReasonStaleOwner},
		{Type: workload.DefaultEntityType, Shard: 1, EntityID: ids[0], Msg: wire.ShardEnvelope{EntityID: ids[0], Message: workload.Increment{Amount: 10}}},
		{Type: workload.DefaultEntityType, Shard: -1, EntityID: ids[0], Msg: &workload.Increment{Amount: 100}},
		{Type: workload.DefaultEntityType, Shard: 3, EntityID: ids[2], Msg: workload.GetCount{}},
		{Type: "other", Shard: 3, EntityID: ids[2], Msg: workload.Increment{Amount: 1000}},
		{Type: "", Shard: -1, Path: workload.StatsPath, Msg: workload.ResetStats{}},
	} {
		cfg.OnDeadLetter(d)
	}
	if len(prevCalls) != 6 {
		t.Errorf("got %d calls of the earlier hook, want 6", len(prevCalls))
	}
	check("after dead letters", map[int]int64{1: 5, 3: 7}, map[int]int64{1: 2}, map[int]int64{1: 110, 3: 4}, false)

	// A restarted entity starts from 0 and counts in applied again.
	a2 := newCounter(ids[0]).(*Counter)
	a2.Receive(nil, workload.Increment{Amount: 1})
	b.Stop(nil, node.StopLeaving)
	a2.Stop(nil, node.StopLeaving)
	c.Stop(nil, node.StopLeaving)
	tally.SetFinal()
	check("after a leave", nil, map[int]int64{1: 8, 3: 7}, map[int]int64{1: 110, 3: 4}, true)

	// ResetStats zeroes NodeStats, not the per-shard sums.
	cfg.Services[0].Handler.Receive(nil, workload.ResetStats{})
	if st := tally.Stats("n1"); st.Increments != 0 {
		t.Fatalf("got increments %d after workload.ResetStats, want 0", st.Increments)
	}
	check("after workload.ResetStats", nil, map[int]int64{1: 8, 3: 7}, map[int]int64{1: 110, 3: 4}, true)
}

func TestConfigureWithoutEarlierDeadLetterHook(t *testing.T) {
	var cfg node.Config
	tally, err := Configure(&cfg, workload.Options{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnDeadLetter(node.DeadLetter{Type: workload.DefaultEntityType, Shard: 0, Msg: workload.Increment{Amount: 3}})
	if got := tally.ShardTally("n").Dead; !reflect.DeepEqual(got, []int64{3, 0}) {
		t.Fatalf("got dead %v, want [3 0]", got)
	}
	// Two tallies (two node starts) have different incarnations.
	if other := NewTally(2); other.Incarnation() == tally.Incarnation() {
		t.Fatalf("two tallies share incarnation %d", other.Incarnation())
	}
}

func TestZeroTallyCountsNodeStatsOnly(t *testing.T) {
	var tally Tally
	c := &Counter{id: "x", shard: 3, tally: &tally}
	c.Receive(nil, workload.Increment{Amount: 2})
	c.Stop(nil, node.StopClosing)
	tally.onDead(0, 1)
	if st := tally.Stats("n"); st.Increments != 1 || st.AmountTotal != 2 {
		t.Fatalf("got stats %+v, want 1 increment of 2", st)
	}
	if st := tally.ShardTally("n"); len(st.Applied) != 0 || st.Incarnation != 0 {
		t.Fatalf("got %+v, want no shards, incarnation 0", st)
	}
}

// TestShardTallyConcurrent runs increments, stops and reads at once (for
// the race detector) and checks that no read sees a stopped counter's
// value in both sums or in neither: applied + retired only grows, and ends
// at the total.
func TestShardTallyConcurrent(t *testing.T) {
	tally := NewTally(2)
	const workers, perWorker = 4, 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readerErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		var last int64
		for {
			st := tally.ShardTally("n")
			sum := st.Applied[1] + st.Retired[1]
			if sum < last {
				readerErr = fmt.Errorf("applied+retired went back from %d to %d", last, sum)
				return
			}
			last = sum
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	var wwg sync.WaitGroup
	for range workers {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			c := &Counter{shard: 1, tally: tally}
			for i := range perWorker {
				c.Receive(nil, workload.Increment{Amount: 1})
				if i%100 == 99 {
					c.Stop(nil, node.StopMoved)
					c = &Counter{shard: 1, tally: tally}
				}
			}
		}()
	}
	wwg.Wait()
	close(stop)
	wg.Wait()
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	st := tally.ShardTally("n")
	if st.Applied[1] != 0 || st.Retired[1] != workers*perWorker {
		t.Fatalf("got applied %d retired %d, want 0 and %d", st.Applied[1], st.Retired[1], workers*perWorker)
	}
}

// TestStatsSumTheShards: NodeStats is the sum of every shard's slot (and
// of the slot of shards out of range), FirstAt the earliest and LastAt the
// latest time any slot saw; Reset zeroes them all.
func TestStatsSumTheShards(t *testing.T) {
	tally := NewTally(3)
	tally.onIncrement(0, 2, 2e9)
	tally.onIncrement(2, 3, 1e9)
	tally.onIncrement(0, 4, 5e9)
	tally.onIncrement(7, 1, 3e9) // out of range: NodeStats only
	want := workload.NodeStats{Node: "n", Increments: 4, AmountTotal: 10, FirstAt: 1, LastAt: 5}
	if got := tally.Stats("n"); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := tally.ShardTally("n").Applied; !reflect.DeepEqual(got, []int64{6, 0, 3}) {
		t.Fatalf("got applied %v, want [6 0 3]", got)
	}
	tally.Reset()
	if got := tally.Stats("n"); got != (workload.NodeStats{Node: "n"}) {
		t.Fatalf("after Reset: got %+v, want zeros", got)
	}
}
