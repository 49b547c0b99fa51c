package chaos

import (
	"slices"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

const ms = int64(1_000_000)

func addr(port int) wire.NodeAddress { return wire.NodeAddress{Host: "127.0.0.1", Port: port} }

// state builds a NodeState of node port/incarnation at mono now with a
// lease until leaseUntil, the given claims (type counter) and released.
func state(port int, inc, now, leaseUntil int64, claims, released []wire.ShardClaim) *wire.NodeState {
	for i := range claims {
		claims[i].Type = "counter"
		if claims[i].Until == 0 {
			claims[i].Until = leaseUntil
		}
	}
	for i := range released {
		released[i].Type = "counter"
	}
	return &wire.NodeState{Node: addr(port), Incarnation: inc, MonoNow: now, LeaseUntil: leaseUntil, Claims: claims, Released: released}
}

func TestOverlaps(t *testing.T) {
	tests := []struct {
		name   string
		states []*wire.NodeState
		want   int // overlaps
	}{
		{
			name: "handover with a gap",
			states: []*wire.NodeState{
				state(1, 1, 100*ms, 300*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil),
				state(1, 1, 400*ms, 0, nil, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0, Until: 350 * ms}}),
				state(2, 7, 500*ms, 2500*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 360 * ms}}, nil),
			},
			want: 0,
		},
		{
			name: "two owners at once",
			states: []*wire.NodeState{
				state(1, 1, 100*ms, 2100*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil),
				state(2, 7, 500*ms, 2500*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 400 * ms}}, nil),
			},
			want: 1,
		},
		{
			name: "touching intervals do not overlap",
			states: []*wire.NodeState{
				state(1, 1, 100*ms, 0, nil, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0, Until: 200 * ms}}),
				state(2, 7, 300*ms, 2300*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 200 * ms}}, nil),
			},
			want: 0,
		},
		{
			// A paused node: the last answer before the pause bounds its
			// claim by its lease; the new owner starts after that lease.
			name: "paused owner bounded by its lease",
			states: []*wire.NodeState{
				state(1, 1, 1000*ms, 3000*ms, []wire.ShardClaim{{Shard: 5, Epoch: 1, Since: 0}}, nil),
				state(2, 7, 4000*ms, 6000*ms, []wire.ShardClaim{{Shard: 5, Epoch: 9, Since: 3500 * ms}}, nil),
			},
			want: 0,
		},
		{
			// The same paused node, on waking, reports that it served
			// until after its lease: that must show.
			name: "paused owner that served past its lease",
			states: []*wire.NodeState{
				state(1, 1, 1000*ms, 3000*ms, []wire.ShardClaim{{Shard: 5, Epoch: 1, Since: 0}}, nil),
				state(2, 7, 4000*ms, 6000*ms, []wire.ShardClaim{{Shard: 5, Epoch: 9, Since: 3500 * ms}}, nil),
				state(1, 1, 17000*ms, 0, nil, []wire.ShardClaim{{Shard: 5, Epoch: 1, Since: 0, Until: 16000 * ms}}),
			},
			want: 1,
		},
		{
			// A release ended exactly by a Released entry shortens the
			// interval below the lease the node had announced.
			name: "release shortens the lease bound",
			states: []*wire.NodeState{
				state(1, 1, 100*ms, 2100*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil),
				state(1, 1, 200*ms, 2200*ms, nil, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0, Until: 150 * ms}}),
				state(2, 7, 300*ms, 2300*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 150 * ms}}, nil),
			},
			want: 0,
		},
		{
			name: "same node, two claims in a row, is not an overlap",
			states: []*wire.NodeState{
				state(1, 1, 100*ms, 2100*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil),
				state(1, 1, 200*ms, 2200*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 150 * ms}}, nil),
			},
			want: 0,
		},
		{
			name: "a restarted node (new incarnation) overlapping its old self is",
			states: []*wire.NodeState{
				state(1, 1, 100*ms, 2100*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil),
				state(1, 2, 500*ms, 2500*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 400 * ms}}, nil),
			},
			want: 1,
		},
		{
			name: "different shards never overlap",
			states: []*wire.NodeState{
				state(1, 1, 100*ms, 2100*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil),
				state(2, 7, 100*ms, 2100*ms, []wire.ShardClaim{{Shard: 4, Epoch: 1, Since: 0}}, nil),
			},
			want: 0,
		},
		{
			// A claim listed without a lease (lease_until 0) still covers
			// mono_now, when the node said it served.
			name: "claim without lease covers mono_now",
			states: []*wire.NodeState{
				{Node: addr(1), Incarnation: 1, MonoNow: 900 * ms, Claims: []wire.ShardClaim{{Type: "counter", Shard: 3, Epoch: 1, Since: 0}}},
				state(2, 7, 1000*ms, 3000*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 800 * ms}}, nil),
			},
			want: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Helper()
			l := NewLedger()
			for _, st := range tc.states {
				l.Record(st)
			}
			got := Overlaps(l.Intervals())
			if len(got) != tc.want {
				t.Errorf("got %d overlaps, want %d: %v", len(got), tc.want, got)
			}
			if l.States() != len(tc.states) {
				t.Errorf("States() = %d, want %d", l.States(), len(tc.states))
			}
		})
	}
}

func TestOverlapSpan(t *testing.T) {
	l := NewLedger()
	l.Record(state(1, 1, 100*ms, 2100*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil))
	l.Record(state(2, 7, 500*ms, 2500*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 400 * ms}}, nil))
	ov := Overlaps(l.Intervals())
	if len(ov) != 1 {
		t.Fatalf("got %d overlaps, want 1", len(ov))
	}
	if ov[0].From != 400*ms || ov[0].To != 2100*ms {
		t.Errorf("overlap [%d,%d], want [%d,%d]", ov[0].From, ov[0].To, 400*ms, 2100*ms)
	}
	if ov[0].String() == "" {
		t.Error("empty String")
	}
}

func TestFailoverTime(t *testing.T) {
	l := NewLedger()
	kill := 1000 * ms
	// Node 1 owned shards 1 and 2 until it died at 1000 ms.
	l.Record(state(1, 1, 900*ms, 2900*ms, []wire.ShardClaim{{Shard: 1, Epoch: 1, Since: 0}, {Shard: 2, Epoch: 1, Since: 0}}, nil))
	// Node 2 takes shard 1 at 3200 ms, shard 2 at 3500 ms; it already held
	// shard 7 before the kill.
	l.Record(state(2, 7, 3600*ms, 5600*ms, []wire.ShardClaim{{Shard: 1, Epoch: 5, Since: 3200 * ms}, {Shard: 2, Epoch: 5, Since: 3500 * ms}, {Shard: 7, Epoch: 1, Since: 0}}, nil))
	ns, missing, ok := FailoverTime(l.Intervals(), "counter", []int{1, 2}, "127.0.0.1:1", kill)
	if !ok || ns != 2500*ms {
		t.Errorf("FailoverTime = %d ms, missing %v, ok %v; want 2500 ms", ns/ms, missing, ok)
	}
	// Shard 7 was held by node 2 all along: it counts from the kill.
	ns, _, ok = FailoverTime(l.Intervals(), "counter", []int{7}, "127.0.0.1:1", kill)
	if !ok || ns != 0 {
		t.Errorf("FailoverTime(7) = %d, %v; want 0, true", ns, ok)
	}
	_, missing, ok = FailoverTime(l.Intervals(), "counter", []int{1, 9}, "127.0.0.1:1", kill)
	if ok || len(missing) != 1 || missing[0] != 9 {
		t.Errorf("FailoverTime with an unclaimed shard: missing %v ok %v, want [9] false", missing, ok)
	}
}

func TestAppliedWithoutClaim(t *testing.T) {
	node := "127.0.0.1:1"
	l := NewLedger()
	// Node 1 claims shard 0 from 0 and released it exactly at 1000 ms;
	// shard 1 from 0 with a lease seen until 3000 ms.
	l.Record(state(1, 1, 900*ms, 3000*ms, []wire.ShardClaim{{Shard: 1, Epoch: 1, Since: 0}}, []wire.ShardClaim{{Shard: 0, Epoch: 1, Since: 0, Until: 1000 * ms}}))
	ivs := l.Intervals()
	obs := func(sent, recv, inc int64, applied ...int64) TallyObs {
		return TallyObs{Sent: sent, Recv: recv, Incarnation: inc, Applied: applied}
	}
	tests := []struct {
		name   string
		obs    []TallyObs
		frozen []Span
		want   []int // shards reported
	}{
		{"growth while claimed", []TallyObs{obs(100*ms, 110*ms, 1, 0, 0), obs(900*ms, 910*ms, 1, 5, 5)}, nil, nil},
		{"shard 0 after its release", []TallyObs{obs(1100*ms, 1110*ms, 1, 5, 5), obs(1200*ms, 1210*ms, 1, 6, 6)}, nil, []int{0}},
		{"a window straddling the release counts as claimed", []TallyObs{obs(950*ms, 960*ms, 1, 5, 5), obs(1200*ms, 1210*ms, 1, 6, 5)}, nil, nil},
		{"frozen across the release: only after it is left", []TallyObs{obs(950*ms, 960*ms, 1, 5, 5), obs(1200*ms, 1210*ms, 1, 6, 5)}, []Span{{900 * ms, 1150 * ms}}, []int{0}},
		{"new incarnation counts from zero", []TallyObs{obs(1100*ms, 1110*ms, 1, 9, 9), obs(1200*ms, 1210*ms, 2, 1, 0)}, nil, []int{0}},
		{"no growth, nothing to say", []TallyObs{obs(1100*ms, 1110*ms, 1, 5, 5), obs(4000*ms, 4010*ms, 1, 5, 5)}, nil, nil},
		{"shard 1 past its last lease", []TallyObs{obs(3100*ms, 3110*ms, 1, 5, 5), obs(3200*ms, 3210*ms, 1, 5, 6)}, nil, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppliedWithoutClaim(node, "counter", tc.obs, ivs, tc.frozen)
			var shards []int
			for _, u := range got {
				shards = append(shards, u.Shard)
				if u.String() == "" {
					t.Error("empty String")
				}
			}
			if !slices.Equal(shards, tc.want) {
				t.Errorf("reported shards %v, want %v (%v)", shards, tc.want, got)
			}
		})
	}
}

func TestSubtract(t *testing.T) {
	got := subtract(Span{0, 100}, []Span{{10, 20}, {50, 60}, {90, 200}})
	want := []Span{{0, 10}, {20, 50}, {60, 90}}
	if !slices.Equal(got, want) {
		t.Errorf("subtract = %v, want %v", got, want)
	}
	if got := subtract(Span{0, 10}, []Span{{0, 10}}); len(got) != 0 {
		t.Errorf("fully cut: %v", got)
	}
}

// A claim released before it began (a node replaying its log applies old
// tables with no lease) was never served: it overlaps nothing and is not
// listed by Intervals.
func TestEmptyIntervalsIgnored(t *testing.T) {
	l := NewLedger()
	l.Record(state(1, 1, 100*ms, 2100*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil))
	l.Record(state(2, 7, 500*ms, 0, nil, []wire.ShardClaim{{Shard: 3, Epoch: 9, Since: 400 * ms, Until: 300 * ms}}))
	if got := len(l.All()); got != 2 {
		t.Fatalf("All: %d intervals, want 2", got)
	}
	ivs := l.Intervals()
	if len(ivs) != 1 || ivs[0].Key.Node != "127.0.0.1:1" {
		t.Errorf("Intervals = %+v, want node 1's only", ivs)
	}
	if ov := Overlaps(ivs); len(ov) != 0 {
		t.Errorf("overlaps %v", ov)
	}
}

// A leaving node releases a shard when it freezes it and again when the
// hand-over applies: the claim ended at the first, whatever the order the
// entries are seen in.
func TestReleasedTwice(t *testing.T) {
	for _, order := range [][]int64{{1000, 1040}, {1040, 1000}} {
		l := NewLedger()
		l.Record(state(1, 1, 900*ms, 2900*ms, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0}}, nil))
		for _, until := range order {
			l.Record(state(1, 1, 1100*ms, 2900*ms, nil, []wire.ShardClaim{{Shard: 3, Epoch: 1, Since: 0, Until: until * ms}}))
		}
		l.Record(state(2, 7, 1100*ms, 3100*ms, []wire.ShardClaim{{Shard: 3, Epoch: 2, Since: 1020 * ms}}, nil))
		if ov := Overlaps(l.Intervals()); len(ov) != 0 {
			t.Errorf("releases %v: overlaps %v", order, ov)
		}
	}
}
