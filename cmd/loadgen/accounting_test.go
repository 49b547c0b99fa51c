package main

import (
	"maps"
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/workload"
)

// st builds a ShardTally of 4 shards from sparse per-shard sums.
func st(node string, inc int64, applied, retired, dead map[int]int64, final bool) workload.ShardTally {
	v := func(m map[int]int64) []int64 {
		out := make([]int64, 4)
		for k, x := range m {
			out[k] = x
		}
		return out
	}
	return workload.ShardTally{Node: node, Incarnation: inc, Applied: v(applied), Retired: v(retired), Dead: v(dead), Final: final}
}

func ptr[T any](v T) *T { return &v }

// accountCase is one case of TestAccount.
type accountCase struct {
	name string
	in   accountInput
	// want: the totals, and where given, per-shard figures
	lost, failedOnClient, stateLost, failed, inFlight, unexplained int64
	byNode                                                         map[string]int64
	inFlightByShard, unexplainedByShard                            []int64
	gone                                                           []string
	hints                                                          int // hints given
	method                                                         string
}

// accountCases is table data, not code: one entry per accounting situation
// (a fault, a restart, a gone node, ...), each with its inputs and expected
// figures. It is longer than 120 lines because every situation the
// accounting distinguishes needs its own entry.
var accountCases = []accountCase{
	{
		name: "no fault",
		in: accountInput{shards: 4, accepted: []int64{10, 20, 30, 40}, delivered: []int64{10, 20, 30, 40},
			tallies: []incTally{
				{base: ptr(st("a", 1, nil, nil, nil, false)), last: st("a", 1, map[int]int64{0: 10, 1: 20}, nil, nil, false)},
				{base: ptr(st("b", 2, nil, nil, nil, false)), last: st("b", 2, map[int]int64{2: 30, 3: 40}, nil, nil, false)},
			}},
		method: accountingTallies,
	},
	{
		// b owned shard 1 and crashed: its last poll showed 60 applied
		// there; the entity restarted on a and got 30 more. 100
		// accepted, 30 delivered: 60 died with b, 10 were in flight
		// (or applied after b's last poll).
		name: "crash of an owner",
		in: accountInput{shards: 4, accepted: []int64{10, 100, 0, 0}, delivered: []int64{10, 30, 0, 0},
			tallies: []incTally{
				{base: ptr(st("a", 1, nil, nil, nil, false)), last: st("a", 1, map[int]int64{0: 10, 1: 30}, nil, nil, false)},
				{base: ptr(st("b", 2, nil, nil, nil, false)), last: st("b", 2, map[int]int64{1: 60}, nil, nil, false), gone: true},
			}},
		lost: 70, stateLost: 60, inFlight: 10,
		byNode:          map[string]int64{"b": 60},
		inFlightByShard: []int64{0, 10, 0, 0},
		gone:            []string{"b#2"},
		method:          accountingTallies,
	},
	{
		// b crashed right after it was given shard 2 (the client's
		// topology says so) and before it applied anything there.
		name: "crash of an owner known only from the topology",
		in: accountInput{shards: 4, accepted: []int64{0, 0, 5, 0}, delivered: []int64{0, 0, 0, 0},
			tallies: []incTally{{last: st("b", 2, nil, nil, nil, false), gone: true}},
			owned:   map[string][]bool{"b": {false, false, true, false}}},
		lost: 5, inFlight: 5, inFlightByShard: []int64{0, 0, 5, 0}, gone: []string{"b#2"}, method: accountingTallies,
	},
	{
		// b left gracefully: it stopped its counters (40 retired on
		// shard 1) and said final; the entity restarted on a.
		name: "graceful leave with final tallies",
		in: accountInput{shards: 4, accepted: []int64{0, 50, 0, 0}, delivered: []int64{0, 10, 0, 0},
			tallies: []incTally{
				{base: ptr(st("a", 1, nil, nil, nil, false)), last: st("a", 1, map[int]int64{1: 10}, nil, nil, false)},
				{base: ptr(st("b", 2, nil, nil, nil, false)), last: st("b", 2, nil, map[int]int64{1: 40}, nil, true), gone: true},
			}},
		lost: 40, stateLost: 40, byNode: map[string]int64{"b": 40}, gone: []string{"b#2 (final)"}, method: accountingTallies,
	},
	{
		// A loss on the shard of a node that left gracefully is not a
		// crash: unexplained (a rolling restart must lose nothing
		// accepted before the leave).
		name: "graceful leave losing tells",
		in: accountInput{shards: 4, accepted: []int64{0, 50, 0, 0}, delivered: []int64{0, 8, 0, 0},
			tallies: []incTally{
				{last: st("a", 1, map[int]int64{1: 8}, nil, nil, false)},
				{last: st("b", 2, nil, map[int]int64{1: 40}, nil, true), gone: true},
			}},
		lost: 42, stateLost: 40, unexplained: 2, byNode: map[string]int64{"b": 40},
		unexplainedByShard: []int64{0, 2, 0, 0}, gone: []string{"b#2 (final)"}, method: accountingTallies,
	},
	{
		// a was paused; its lease lapsed and shard 2 moved to b: a
		// stopped the counter (50 retired) and, when it resumed, dropped
		// the 7 increments still queued (dead). a is alive.
		name: "paused owner with retired and dead",
		in: accountInput{shards: 4, accepted: []int64{0, 0, 100, 0}, delivered: []int64{0, 0, 43, 0},
			tallies: []incTally{
				{base: ptr(st("a", 1, nil, nil, nil, false)), last: st("a", 1, nil, map[int]int64{2: 50}, map[int]int64{2: 7}, false)},
				{base: ptr(st("b", 2, nil, nil, nil, false)), last: st("b", 2, map[int]int64{2: 43}, nil, nil, false)},
			}},
		lost: 57, stateLost: 50, failed: 7, byNode: map[string]int64{"a": 50}, method: accountingTallies,
	},
	{
		name: "duplicates give a negative rem",
		in: accountInput{shards: 4, accepted: []int64{5, 5, 5, 5}, delivered: []int64{5, 7, 5, 4},
			tallies: []incTally{{last: st("a", 1, map[int]int64{0: 5, 1: 7, 2: 5, 3: 4}, nil, nil, false)}}},
		lost: -1, unexplained: 3, unexplainedByShard: []int64{0, -2, 0, 1}, method: accountingTallies,
	},
	{
		name: "no tallies",
		in: accountInput{shards: 4, accepted: []int64{5, 5, 5, 5}, delivered: []int64{5, 2, 5, 6},
			unavailable: "no node answered GetShardTally",
			tallies:     []incTally{{last: st("a", 1, nil, map[int]int64{1: 3}, nil, false)}}},
		lost: 2, unexplained: 4, method: accountingUnavailable + "no node answered GetShardTally",
	},
	{
		// Counters of earlier runs: a held 1000 on shard 1 and had
		// retired 5 on shard 0 before the load; it leaves, retiring
		// the old 1000 and the run's 40.
		name: "state from before the run is not the run's",
		in: accountInput{shards: 4, accepted: []int64{0, 40, 0, 0}, delivered: []int64{0, 0, 0, 0},
			tallies: []incTally{
				{base: ptr(st("a", 1, map[int]int64{1: 1000}, map[int]int64{0: 5}, map[int]int64{3: 2}, false)),
					last: st("a", 1, nil, map[int]int64{0: 5, 1: 1040}, map[int]int64{3: 2}, true), gone: true},
			}},
		lost: 40, stateLost: 40, byNode: map[string]int64{"a": 40}, gone: []string{"a#1 (final)"}, method: accountingTallies,
	},
	{
		// An old incarnation of a crashed, the new one at the same
		// address took its shard back; the restarted entity got 20.
		name: "restart at the same address",
		in: accountInput{shards: 4, accepted: []int64{0, 0, 0, 50}, delivered: []int64{0, 0, 0, 20},
			tallies: []incTally{
				{base: ptr(st("a", 1, nil, nil, nil, false)), last: st("a", 1, map[int]int64{3: 30}, nil, nil, false), gone: true},
				{last: st("a", 7, map[int]int64{3: 20}, nil, nil, false)},
			}},
		lost: 30, stateLost: 30, byNode: map[string]int64{"a": 30}, gone: []string{"a#1"}, method: accountingTallies,
	},
	{
		name: "a loss with no crash is unexplained",
		in: accountInput{shards: 4, accepted: []int64{0, 9, 0, 0}, delivered: []int64{0, 6, 0, 0},
			tallies: []incTally{{last: st("a", 1, map[int]int64{1: 6}, nil, nil, false)}},
			owned:   map[string][]bool{"a": {true, true, true, true}}},
		lost: 3, unexplained: 3, unexplainedByShard: []int64{0, 3, 0, 0}, method: accountingTallies,
	},
	{
		// The client lost its link to a (reset after a partition of its
		// path: no crash): 3 tells written into it never arrived, and 2
		// frames were discarded from its queue. Shard 2 (b's) lost 1
		// too: unexplained, b's link was not lost.
		name: "a loss on a lost link's shards is in flight",
		in: accountInput{shards: 4, accepted: []int64{0, 9, 5, 0}, delivered: []int64{0, 6, 4, 0}, queueDropped: 2,
			lostLinks: []string{"a"},
			tallies: []incTally{
				{last: st("a", 1, map[int]int64{1: 6}, nil, nil, false)},
				{last: st("b", 2, map[int]int64{2: 4}, nil, nil, false)},
			},
			owned: map[string][]bool{"a": {true, true, false, false}, "b": {false, false, true, true}}},
		lost: 4, inFlight: 3, unexplained: 1, inFlightByShard: []int64{0, 3, 0, 0}, unexplainedByShard: []int64{0, 0, 1, 0},
		method: accountingTallies,
	},
	{
		// A lost link explains the queue's discarded frames: no hint.
		name: "a lost link explains the queue's drops",
		in: accountInput{shards: 4, accepted: []int64{0, 9, 0, 0}, delivered: []int64{0, 9, 0, 0}, queueDropped: 2,
			lostLinks: []string{"a"},
			tallies:   []incTally{{last: st("a", 1, map[int]int64{1: 9}, nil, nil, false)}},
			owned:     map[string][]bool{"a": {true, true, true, true}}},
		method: accountingTallies,
	},
	{
		// The client dropped 4 held tells of shard 1 (expired, failed
		// by ShardUnavailable...): they never reached a node.
		name: "a loss the client counted",
		in: accountInput{shards: 4, accepted: []int64{0, 10, 0, 0}, delivered: []int64{0, 6, 0, 0},
			failedOnClient: []int64{0, 4, 0, 0},
			tallies:        []incTally{{last: st("a", 1, map[int]int64{1: 6}, nil, nil, false)}}},
		lost: 4, failedOnClient: 4, method: accountingTallies,
	},
	{
		// Subtracted before the node-side causes: shard 1 lost 10, 3
		// dropped by the client, 5 retired by a, 2 dead letters.
		name: "client and node causes on one shard",
		in: accountInput{shards: 4, accepted: []int64{0, 30, 0, 0}, delivered: []int64{0, 20, 0, 0},
			failedOnClient: []int64{0, 3, 0, 0},
			tallies: []incTally{
				{base: ptr(st("a", 1, nil, nil, nil, false)), last: st("a", 1, nil, map[int]int64{1: 5}, map[int]int64{1: 2}, false)},
				{base: ptr(st("b", 2, nil, nil, nil, false)), last: st("b", 2, map[int]int64{1: 20}, nil, nil, false)},
			}},
		lost: 10, failedOnClient: 3, stateLost: 5, failed: 2, byNode: map[string]int64{"a": 5}, method: accountingTallies,
	},
	{
		// The rest of a loss on a crashed node's shard is in flight
		// after the client's drops are taken off.
		name: "client drops and a crash",
		in: accountInput{shards: 4, accepted: []int64{0, 0, 50, 0}, delivered: []int64{0, 0, 20, 0},
			failedOnClient: []int64{0, 0, 6, 0}, queueDropped: 12,
			tallies: []incTally{
				{base: ptr(st("a", 1, nil, nil, nil, false)), last: st("a", 1, map[int]int64{2: 20}, nil, nil, false)},
				{base: ptr(st("b", 2, nil, nil, nil, false)), last: st("b", 2, map[int]int64{2: 14}, nil, nil, false), gone: true},
			}},
		lost: 30, failedOnClient: 6, stateLost: 14, inFlight: 10, byNode: map[string]int64{"b": 14},
		inFlightByShard: []int64{0, 0, 10, 0}, gone: []string{"b#2"}, method: accountingTallies,
	},
	{
		// More counted as dropped by the client than lost: a double
		// count, unexplained.
		name: "client drops above the loss",
		in: accountInput{shards: 4, accepted: []int64{5, 0, 0, 0}, delivered: []int64{4, 0, 0, 0},
			failedOnClient: []int64{3, 0, 0, 0},
			tallies:        []incTally{{last: st("a", 1, map[int]int64{0: 4}, nil, nil, false)}}},
		lost: 1, failedOnClient: 3, unexplained: 2, unexplainedByShard: []int64{-2, 0, 0, 0}, method: accountingTallies,
	},
	{
		// Frames dropped from the client's queues with no crash: not
		// attributed to any shard (the loss stays unexplained), hinted.
		name: "queued frames dropped without a crash",
		in: accountInput{shards: 4, accepted: []int64{0, 0, 0, 8}, delivered: []int64{0, 0, 0, 5}, queueDropped: 3,
			tallies: []incTally{{last: st("a", 1, map[int]int64{3: 5}, nil, nil, false)}}},
		lost: 3, unexplained: 3, unexplainedByShard: []int64{0, 0, 0, 3}, hints: 1, method: accountingTallies,
	},
	{
		name: "client drops without tallies",
		in: accountInput{shards: 4, accepted: []int64{5, 5, 5, 5}, delivered: []int64{5, 2, 5, 5},
			failedOnClient: []int64{0, 2, 0, 0}, queueDropped: 1, unavailable: "no node answered GetShardTally"},
		lost: 3, failedOnClient: 2, unexplained: 1, hints: 1, method: accountingUnavailable + "no node answered GetShardTally",
	},
	{
		name: "a node with another shard count",
		in: accountInput{shards: 4, accepted: []int64{1, 0, 0, 0}, delivered: []int64{0, 0, 0, 0},
			tallies: []incTally{{last: workload.ShardTally{Node: "a", Applied: []int64{0}, Retired: []int64{0}, Dead: []int64{0}}}}},
		lost: 1, unexplained: 1, method: accountingUnavailable + "node a reports 1 shards, this run uses 4",
	},
}

func TestAccount(t *testing.T) {
	for _, tc := range accountCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Helper()
			checkAccount(t, tc)
		})
	}
}

func checkAccount(t *testing.T, tc accountCase) {
	got := account(tc.in)
	if got.method != tc.method {
		t.Errorf("got method %q, want %q", got.method, tc.method)
	}
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"lost", got.lost, tc.lost}, {"failed_on_client", got.failedOnClient, tc.failedOnClient},
		{"state_lost", got.stateLost, tc.stateLost}, {"failed_on_node", got.failedOnNode, tc.failed},
		{"in_flight_lost", got.inFlightLost, tc.inFlight}, {"unexplained_lost", got.unexplainedLost, tc.unexplained},
	} {
		if c.got != c.want {
			t.Errorf("got %s %d, want %d", c.what, c.got, c.want)
		}
	}
	if got.available() {
		if !maps.Equal(got.stateLostByNode, tc.byNode) {
			t.Errorf("got state_lost_by_node %v, want %v", got.stateLostByNode, tc.byNode)
		}
		var sum int64
		for _, v := range got.stateLostByShard {
			sum += v
		}
		if sum != got.stateLost {
			t.Errorf("got state_lost_by_shard %v summing to %d, want state_lost %d", got.stateLostByShard, sum, got.stateLost)
		}
	}
	if tc.inFlightByShard != nil && !reflect.DeepEqual(got.inFlightByShard, tc.inFlightByShard) {
		t.Errorf("got in_flight by shard %v, want %v", got.inFlightByShard, tc.inFlightByShard)
	}
	if tc.unexplainedByShard != nil && !reflect.DeepEqual(got.unexplainedByShard, tc.unexplainedByShard) {
		t.Errorf("got unexplained by shard %v, want %v", got.unexplainedByShard, tc.unexplainedByShard)
	}
	if !reflect.DeepEqual(got.gone, tc.gone) {
		t.Errorf("got gone %q, want %q", got.gone, tc.gone)
	}
	if len(got.hints) != tc.hints {
		t.Errorf("got hints %q, want %d", got.hints, tc.hints)
	}
	if got.explained() != (tc.unexplained == 0) {
		t.Errorf("got explained %v with unexplained_lost %d", got.explained(), got.unexplainedLost)
	}
}
