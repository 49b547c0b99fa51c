package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/workload"
)

var (
	errFakeFull   = errors.New("fake: buffer full")
	errFakeBroken = errors.New("fake: connection broken")
)

// memTarget is an in-memory target: tells land in a map at once. It can
// refuse tells with backpressure, fail them, or lose them silently, to test
// the runner's accounting without a cluster.
type memTarget struct {
	fullEvery int64 // every Nth Tell call returns errFakeFull
	failEvery int64 // every Nth Tell call returns errFakeBroken
	loseEvery int64 // every Nth accepted tell is silently dropped
	failWith  error // the error of failEvery; default errFakeBroken
	// muteAfterFlush: once Flush was called, GetCount of ids ending in "7"
	// fails (an entity that cannot be verified).
	muteAfterFlush bool
	flushed        atomic.Bool
	// refuseShard, when >= 0 (set refuse), makes every tell to that shard
	// (of workload.DefaultShards) fail with refuseWith.
	refuse      bool
	refuseShard int
	refuseWith  error
	// tallies: the target serves per-shard tallies as one node "mem:1"
	// (incarnation 1) that holds every counter; deadLetters: the tells
	// lost by loseEvery count in its dead sums (a counted loss).
	tallies     bool
	deadLetters bool
	// clientDrops: the tells lost by loseEvery are reported as the
	// client's own drops (engine.Config.OnDrop with a shard);
	// queueDropped is reported as frames dropped from its queues.
	clientDrops  bool
	queueDropped int64

	calls    atomic.Int64
	accepted atomic.Int64
	lost     atomic.Int64 // accepted and dropped by loseEvery (any kind)
	total    atomic.Int64 // applied to a counter, never reset
	mu       sync.Mutex
	counts   map[string]int64 // guarded by mu
	incs     int64            // guarded by mu
	applied  []int64          // per shard; guarded by mu
	dead     []int64          // per shard; guarded by mu
	dropped  []int64          // per shard, client drops; guarded by mu
	closed   atomic.Bool
}

// fresh returns a memTarget with m's configuration and empty books.
func (m *memTarget) fresh() *memTarget {
	return &memTarget{
		fullEvery: m.fullEvery, failEvery: m.failEvery, loseEvery: m.loseEvery, failWith: m.failWith,
		muteAfterFlush: m.muteAfterFlush,
		refuse:         m.refuse, refuseShard: m.refuseShard, refuseWith: m.refuseWith,
		tallies: m.tallies, deadLetters: m.deadLetters,
		clientDrops: m.clientDrops, queueDropped: m.queueDropped,
	}
}

func (m *memTarget) Tell(_ context.Context, id string) error {
	n := m.calls.Add(1)
	shard := ring.Shard(id, workload.DefaultShards)
	if m.refuse && shard == m.refuseShard {
		return m.refuseWith
	}
	if m.fullEvery > 0 && n%m.fullEvery == 0 {
		return errFakeFull
	}
	if m.failEvery > 0 && n%m.failEvery == 0 {
		if m.failWith != nil {
			return m.failWith
		}
		return errFakeBroken
	}
	a := m.accepted.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loseEvery > 0 && a%m.loseEvery == 0 {
		m.lost.Add(1)
		if m.deadLetters {
			m.dead[shard]++
		}
		if m.clientDrops {
			m.dropped[shard]++
		}
		return nil
	}
	m.counts[id]++
	m.total.Add(1)
	m.incs++
	m.applied[shard]++
	return nil
}

// books returns the target's own count of the tells it accepted, applied
// and dropped silently: the reference the tests hold loadgen's report to.
func (m *memTarget) books() (accepted, applied, dropped int64) {
	return m.accepted.Load(), m.total.Load(), m.lost.Load()
}

func (m *memTarget) StatsNodes() []string { return []string{"mem:1"} }

func (m *memTarget) ShardTally(ctx context.Context, node string) (workload.ShardTally, error) {
	if !m.tallies {
		return workload.ShardTally{}, fmt.Errorf("fake: GetShardTally: %w", context.DeadlineExceeded)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return workload.ShardTally{Node: node, Incarnation: 1, Applied: slices.Clone(m.applied),
		Retired: make([]int64, workload.DefaultShards), Dead: slices.Clone(m.dead)}, nil
}

func (m *memTarget) ShardOwners(dst []string) []string {
	for range workload.DefaultShards {
		dst = append(dst, "mem:1")
	}
	return dst
}

func (m *memTarget) Backpressure(err error) bool { return errors.Is(err, errFakeFull) }

func (m *memTarget) GetCount(ctx context.Context, id string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if m.muteAfterFlush && m.flushed.Load() && strings.HasSuffix(id, "7") {
		return 0, errFakeBroken
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[id], nil
}

func (m *memTarget) Buffered() int64 { return 0 }
func (m *memTarget) Flush(ctx context.Context) error {
	m.flushed.Store(true)
	return nil
}
func (m *memTarget) ResetStats(ctx context.Context) (int, error) {
	m.mu.Lock()
	m.incs = 0
	m.mu.Unlock()
	return 1, nil
}

func (m *memTarget) NodeStats(ctx context.Context) ([]nodeTally, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return []nodeTally{{Increments: m.incs, FirstAt: 1, LastAt: 2}}, nil
}

func (m *memTarget) ClientDrops() clientDrops {
	m.mu.Lock()
	defer m.mu.Unlock()
	return clientDrops{ByShard: slices.Clone(m.dropped), Queued: m.queueDropped}
}

func (m *memTarget) ClientStats() map[string]int64 {
	return map[string]int64{"tell_calls": m.calls.Load()}
}
func (m *memTarget) Transport() string { return "mem" }
func (m *memTarget) Close(ctx context.Context) error {
	m.closed.Store(true)
	return nil
}

func memOpener(m *memTarget) opener {
	return func(ctx context.Context, o *options, stderr io.Writer) (target, clusterInfo, error) {
		m.counts = map[string]int64{}
		m.applied = make([]int64, workload.DefaultShards)
		m.dead = make([]int64, workload.DefaultShards)
		m.dropped = make([]int64, workload.DefaultShards)
		return m, clusterInfo{kind: "embedded", nodes: 1}, nil
	}
}

func runJSON(t *testing.T, m *memTarget, args ...string) (int, map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"-json"}, args...), &stdout, &stderr, memOpener(m))
	if !m.closed.Load() {
		t.Errorf("target not closed")
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return code, got, stderr.String()
}

func num(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("key %q: got %v (%T), want a number", key, m[key], m[key])
	}
	return v
}

// runnerCase is one case of TestRunnerAccounting.
type runnerCase struct {
	name     string
	m        *memTarget
	args     []string
	wantCode int
	check    func(t *testing.T, got map[string]any)
}

// runnerCases is table data, not code: one run against the in-memory target
// per behaviour of the accounting (backpressure, errors, silent loss, each
// explained loss, pacing). It is longer than 120 lines because every case
// carries its own checks.
var runnerCases = []runnerCase{
	{
		name: "clean", m: &memTarget{}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			if num(t, got, "tells_sent") == 0 || num(t, got, "tells_sent") != num(t, got, "tells_delivered") {
				t.Errorf("got sent %v delivered %v, want equal and > 0", got["tells_sent"], got["tells_delivered"])
			}
			if num(t, got, "cluster_increments") != num(t, got, "tells_delivered") {
				t.Errorf("got cluster_increments %v, want %v", got["cluster_increments"], got["tells_delivered"])
			}
			if a, _ := got["accounting"].(string); !strings.HasPrefix(a, accountingUnavailable) || num(t, got, "unexplained_lost") != 0 {
				t.Errorf("got accounting %q unexplained_lost %v, want unavailable (the target serves no tallies) and 0", a, got["unexplained_lost"])
			}
			if _, ok := got["state_lost_by_shard"]; ok {
				t.Errorf("got state_lost_by_shard %v without tallies, want none", got["state_lost_by_shard"])
			}
		},
	},
	{
		name: "backpressure is retried, not failed", m: &memTarget{fullEvery: 3}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			if num(t, got, "tells_retried") == 0 {
				t.Errorf("got tells_retried 0, want > 0")
			}
			if num(t, got, "tells_failed") != 0 {
				t.Errorf("got tells_failed %v, want 0", got["tells_failed"])
			}
		},
	},
	{
		name: "unverifiable entities exit 1", m: &memTarget{muteAfterFlush: true}, args: []string{"-verify-retries", "2"}, wantCode: 1,
		check: func(t *testing.T, got map[string]any) {
			// ids 7, 17, ..., 47 of 50 never answer.
			if num(t, got, "unverified_entities") != 5 || got["ok"] != false || got["verify_error"] == nil {
				t.Errorf("got unverified %v ok %v verify_error %v, want 5, false, set", got["unverified_entities"], got["ok"], got["verify_error"])
			}
		},
	},
	{
		name: "refused until after the stop is abandoned", m: &memTarget{fullEvery: 1}, args: []string{"-drain-timeout", "200ms"}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			ab, failed := num(t, got, "tells_abandoned"), num(t, got, "tells_failed")
			if ab != 3 || failed != ab || num(t, got, "tells_delivered") != 0 {
				t.Errorf("got abandoned %v failed %v delivered %v, want 3 (one per worker), 3, 0", ab, failed, got["tells_delivered"])
			}
		},
	},
	{
		name: "errors are failed, not lost", m: &memTarget{failEvery: 7}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			sent, del, failed := num(t, got, "tells_sent"), num(t, got, "tells_delivered"), num(t, got, "tells_failed")
			if failed == 0 || sent != del+failed {
				t.Errorf("got sent %v delivered %v failed %v, want sent = delivered + failed, failed > 0", sent, del, failed)
			}
			if !strings.Contains(got["first_tell_error"].(string), "broken") {
				t.Errorf("got first_tell_error %q", got["first_tell_error"])
			}
			if kinds, _ := got["tell_errors"].(map[string]any); len(kinds) != 1 || kinds["other"] != failed {
				t.Errorf("got tell_errors %v, want {other: %v}", got["tell_errors"], failed)
			}
		},
	},
	{
		name: "silent loss exits 1", m: &memTarget{loseEvery: 5}, wantCode: 1,
		check: func(t *testing.T, got map[string]any) {
			if num(t, got, "lost") <= 0 || num(t, got, "unexplained_lost") != num(t, got, "lost") {
				t.Errorf("got lost %v unexplained %v, want > 0 and equal (no tallies)", got["lost"], got["unexplained_lost"])
			}
			if got["ok"] != false {
				t.Errorf("got ok %v, want false", got["ok"])
			}
		},
	},
	{
		name: "clean with tallies", m: &memTarget{tallies: true}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			if got["accounting"] != accountingTallies {
				t.Errorf("got accounting %v, want %q", got["accounting"], accountingTallies)
			}
			for _, k := range []string{"lost", "state_lost", "failed_on_node", "in_flight_lost", "unexplained_lost"} {
				if num(t, got, k) != 0 {
					t.Errorf("got %s %v, want 0", k, got[k])
				}
			}
			if by, ok := got["state_lost_by_shard"].([]any); !ok || len(by) != workload.DefaultShards {
				t.Errorf("got state_lost_by_shard %v, want %d zeros", got["state_lost_by_shard"], workload.DefaultShards)
			}
			if by, ok := got["state_lost_by_node"].(map[string]any); !ok || len(by) != 0 {
				t.Errorf("got state_lost_by_node %v, want {}", got["state_lost_by_node"])
			}
		},
	},
	{
		name: "a loss the nodes counted is explained", m: &memTarget{loseEvery: 5, tallies: true, deadLetters: true}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			lost := num(t, got, "lost")
			if lost <= 0 || num(t, got, "failed_on_node") != lost || num(t, got, "unexplained_lost") != 0 || got["ok"] != true {
				t.Errorf("got lost %v failed_on_node %v unexplained %v ok %v, want lost > 0 = failed_on_node, 0, true",
					got["lost"], got["failed_on_node"], got["unexplained_lost"], got["ok"])
			}
		},
	},
	{
		name: "a loss the client counted is explained", m: &memTarget{loseEvery: 5, tallies: true, clientDrops: true}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			lost := num(t, got, "lost")
			if lost <= 0 || num(t, got, "failed_on_client") != lost || num(t, got, "failed_on_node") != 0 ||
				num(t, got, "unexplained_lost") != 0 || got["ok"] != true {
				t.Errorf("got lost %v failed_on_client %v failed_on_node %v unexplained %v ok %v, want lost > 0 = failed_on_client, 0, 0, true",
					got["lost"], got["failed_on_client"], got["failed_on_node"], got["unexplained_lost"], got["ok"])
			}
		},
	},
	{
		// Without tallies the client's own count still explains.
		name: "a loss the client counted is explained without tallies", m: &memTarget{loseEvery: 5, clientDrops: true}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			lost := num(t, got, "lost")
			if lost <= 0 || num(t, got, "failed_on_client") != lost || num(t, got, "unexplained_lost") != 0 || got["ok"] != true {
				t.Errorf("got lost %v failed_on_client %v unexplained %v ok %v, want lost > 0 = failed_on_client, 0, true",
					got["lost"], got["failed_on_client"], got["unexplained_lost"], got["ok"])
			}
		},
	},
	{
		// Frames dropped from the client's queues are not attributed:
		// the loss stays unexplained, with a hint.
		name: "queued frames dropped give a hint", m: &memTarget{loseEvery: 5, tallies: true, queueDropped: 9}, wantCode: 1,
		check: func(t *testing.T, got map[string]any) {
			lost := num(t, got, "lost")
			if lost <= 0 || num(t, got, "unexplained_lost") != lost || num(t, got, "client_queue_dropped") != 9 || num(t, got, "failed_on_client") != 0 {
				t.Errorf("got lost %v unexplained %v client_queue_dropped %v failed_on_client %v, want lost > 0 = unexplained, 9, 0",
					got["lost"], got["unexplained_lost"], got["client_queue_dropped"], got["failed_on_client"])
			}
			if h, _ := got["hints"].([]any); len(h) != 1 || !strings.Contains(h[0].(string), "client_queue_dropped") {
				t.Errorf("got hints %v, want one about client_queue_dropped", got["hints"])
			}
		},
	},
	{
		name: "a silent loss with tallies exits 1", m: &memTarget{loseEvery: 5, tallies: true}, wantCode: 1,
		check: func(t *testing.T, got map[string]any) {
			if lost := num(t, got, "lost"); lost <= 0 || num(t, got, "unexplained_lost") != lost || got["accounting"] != accountingTallies {
				t.Errorf("got lost %v unexplained %v accounting %v, want lost > 0 = unexplained, tallies", got["lost"], got["unexplained_lost"], got["accounting"])
			}
		},
	},
	{
		name: "asks only", m: &memTarget{}, args: []string{"-workers", "0", "-ask-concurrency", "4"}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			if num(t, got, "tells_sent") != 0 {
				t.Errorf("got tells_sent %v, want 0", got["tells_sent"])
			}
		},
	},
	{
		name: "paced", m: &memTarget{}, args: []string{"-rate", "20000", "-ask-rate", "500"}, wantCode: 0,
		check: func(t *testing.T, got map[string]any) {
			// Pacing never sends ahead of the schedule: at most
			// rate x (time sent) tells, plus the one each of the 3
			// workers may have due at the stop. No lower bound: a
			// loaded machine may fall behind.
			sent, dur := num(t, got, "tells_sent"), num(t, got, "duration_s")
			if sent == 0 || sent > 20000*dur+3 {
				t.Errorf("got tells_sent %v in %.3fs at 20000/s, want 0 < sent <= %.0f", sent, dur, 20000*dur+3)
			}
			// The lag is recorded (the keys are omitted otherwise) and
			// its percentiles are ordered.
			if p50, p99, mx := num(t, got, "tell_lag_p50_us"), num(t, got, "tell_lag_p99_us"), num(t, got, "tell_lag_max_us"); p50 > p99 || p99 > mx {
				t.Errorf("got tell lag p50 %v, p99 %v, max %v, want p50 <= p99 <= max", p50, p99, mx)
			}
		},
	},
}

func TestRunnerAccounting(t *testing.T) {
	for _, tc := range runnerCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Helper()
			checkRunnerAccounting(t, tc)
		})
	}
}

func checkRunnerAccounting(t *testing.T, tc runnerCase) {
	// Later flags override earlier ones.
	args := append([]string{"-duration", "300ms", "-entities", "50", "-workers", "3", "-ask-concurrency", "2", "-progress=false"}, tc.args...)
	m := tc.m.fresh() // runnerCases is shared by every -count iteration
	code, got, stderr := runJSON(t, m, args...)
	if code != tc.wantCode {
		t.Errorf("got exit %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
	}
	// The reference is the target's own books, not loadgen's sums:
	// what it accepted, what it applied, what it dropped silently.
	accepted, applied, dropped := m.books()
	sent, del, failed, lost := num(t, got, "tells_sent"), num(t, got, "tells_delivered"), num(t, got, "tells_failed"), num(t, got, "lost")
	if sent-failed != float64(accepted) {
		t.Errorf("got sent %v - failed %v, want the target's accepted count %d", sent, failed, accepted)
	}
	if num(t, got, "unverified_entities") == 0 && (del != float64(applied) || lost != float64(dropped)) {
		t.Errorf("got delivered %v lost %v, want the target's applied %d and silently dropped %d", del, lost, applied, dropped)
	}
	if num(t, got, "asks") == 0 {
		t.Errorf("got asks 0, want > 0")
	}
	tc.check(t, got)
}

func TestRunProgressAndTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	m := &memTarget{}
	code := run(context.Background(), []string{"-duration", "1500ms", "-entities", "10", "-workers", "1"}, &stdout, &stderr, memOpener(m))
	if code != 0 {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "tells/s") {
		t.Errorf("no progress line on stderr:\n%s", stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "result") || !strings.Contains(stdout.String(), "OK: 0 lost, sent ") {
		t.Errorf("table does not open with the verdict:\n%s", stdout.String())
	}
}

func TestParseFlagsReportsEveryProblem(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-shards", "0", "-workers", "-1", "-transport", "carrier-pigeon", "-duration", "0s", "-tls-cert", "x",
		"-warmup=false", "-entity-prefix", "old-", "-node-transport", "smoke-signals", "-socket-send-buffer", "-1", "-queue-frames", "-1"}, &stderr)
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	for _, want := range []string{"-shards", "-workers", "-transport", "-duration", "-tls-cert", "-warmup=false", "-node-transport", "-socket-send-buffer", "-queue-frames"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestNodeTransportNeedsTheEmbeddedCluster(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-contact", "127.0.0.1:25520", "-node-transport", "net"}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-node-transport applies to the embedded cluster only") {
		t.Fatalf("got %v, want a refusal of -node-transport with -contact", err)
	}
	if _, err := parseFlags([]string{"-node-transport", "gnet"}, &stderr); err != nil {
		t.Fatalf("embedded -node-transport gnet: %v", err)
	}
	_, err = parseFlags([]string{"-contact", "127.0.0.1:25520", "-node-socket-recv-buffer", "65536"}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-node-socket-recv-buffer 65536: a size in bytes, for the embedded cluster only") {
		t.Fatalf("got %v, want a refusal of -node-socket-recv-buffer with -contact", err)
	}
	if _, err := parseFlags([]string{"-node-socket-recv-buffer", "65536", "-socket-send-buffer", "65536"}, &stderr); err != nil {
		t.Fatalf("embedded socket buffers: %v", err)
	}
}

func TestRatePacesAsks(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want float64
	}{
		{[]string{"-rate", "50000"}, 500},
		{[]string{"-rate", "20"}, 1},
		{[]string{"-rate", "50000", "-ask-rate", "7"}, 7},
		{[]string{}, 0},
		{[]string{"-rate", "50000", "-ask-concurrency", "0"}, 0},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if o.askRate != tc.want {
			t.Errorf("%v: got ask rate %v, want %v", tc.args, o.askRate, tc.want)
		}
	}
}

func TestParseAddressMap(t *testing.T) {
	m, err := parseAddressMap("10.0.0.1:25520=127.0.0.1:4000, [::1]:5=127.0.0.1:4001")
	if err != nil {
		t.Fatal(err)
	}
	if m["10.0.0.1:25520"] != "127.0.0.1:4000" || m["[::1]:5"] != "127.0.0.1:4001" || len(m) != 2 {
		t.Errorf("got %v", m)
	}
	for _, bad := range []string{"a", "1.2.3.4:1=x", "1.2.3.4:1=5.6.7.8:2,1.2.3.4:1=5.6.7.8:3", "h:99999=h:1"} {
		if _, err := parseAddressMap(bad); err == nil {
			t.Errorf("%q: got nil error, want one", bad)
		}
	}
}

func TestRecorderKeepsEverySample(t *testing.T) {
	r := newRecorder(4)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				r.record(g, time.Duration(i)*time.Microsecond)
			}
		}()
	}
	wg.Wait()
	r.record(0, -time.Second)   // clamped up
	r.record(0, 10*time.Minute) // clamped down
	if got := r.final().TotalCount(); got != 8002 {
		t.Errorf("got %d samples, want 8002", got)
	}
}
