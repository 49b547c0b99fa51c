package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		in               string
		start, end, step float64
		every            time.Duration
		wantErr          string
	}{
		{in: "20000", start: 20000, end: 20000},
		{in: "1.5k", start: 1500, end: 1500},
		{in: "100k:2M:step=100k,every=3s", start: 1e5, end: 2e6, step: 1e5, every: 3 * time.Second},
		{in: "2M:1M:step=500k,every=1s", start: 2e6, end: 1e6, step: -5e5, every: time.Second},
		{in: "abc", wantErr: "bad rate"},
		{in: "1k:2k", wantErr: "want R or START:END"},
		{in: "1k:2k:step=1k", wantErr: "step and every must be > 0"},
		{in: "1k:2k:step=1k,every=1s,x=1", wantErr: "unknown"},
		{in: "0:2k:step=1k,every=1s", wantErr: "must be > 0"},
	} {
		s, err := parseSchedule(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: got %v, want an error with %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || s.start != tc.start || s.end != tc.end || s.step != tc.step || s.every != tc.every {
			t.Errorf("%q: got %+v, %v; want %v %v %v %v", tc.in, s, err, tc.start, tc.end, tc.step, tc.every)
		}
	}
}

// TestScheduleCursor: tells due by a time and the time a tell is due, for
// a constant rate and for steps (1000/s for 1 s, then 2000/s, then 3000/s
// held), against sums worked out by hand.
func TestScheduleCursor(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6*math.Max(1, math.Abs(b)) }
	c := scheduleCursor{s: &rateSchedule{start: 1000, end: 1000}}
	if got := c.at(2.5e9); !near(got, 2500) {
		t.Errorf("constant: got %v due at 2.5 s, want 2500", got)
	}
	if got := c.inverse(4000); !near(got, 4e9) {
		t.Errorf("constant: got tell 4000 due at %v ns, want 4e9", got)
	}
	steps := &rateSchedule{start: 1000, end: 3000, step: 1000, every: time.Second}
	for _, tc := range []struct{ t, n float64 }{
		{0, 0}, {0.5e9, 500}, {1e9, 1000}, {1.5e9, 2000}, {2e9, 3000}, {4e9, 9000}, {10e9, 27000},
	} {
		a, b := scheduleCursor{s: steps}, scheduleCursor{s: steps}
		if got := a.at(tc.t); !near(got, tc.n) {
			t.Errorf("steps: got %v due at %v ns, want %v", got, tc.t, tc.n)
		}
		if got := b.inverse(tc.n); !near(got, tc.t) {
			t.Errorf("steps: got tell %v due at %v ns, want %v", tc.n, got, tc.t)
		}
	}
}

// clockedTarget is a memTarget that records, for each Tell, the time a
// virtual clock reads.
type clockedTarget struct {
	*memTarget
	now func() time.Duration
	mu  sync.Mutex
	at  []time.Duration // guarded by mu
}

func (c *clockedTarget) Tell(ctx context.Context, id string) error {
	c.mu.Lock()
	c.at = append(c.at, c.now())
	c.mu.Unlock()
	return c.memTarget.Tell(ctx, id)
}

// TestSteppedRate: a stepped -rate sends each step at its rate, neither
// ahead nor behind, against an instant target on a virtual clock (paced's
// waits advance it; no wall clock is read): 2k:10k:step=4k,every=500ms is
// 1000 tells in the first 500 ms (one every 500 µs), 3000 in the next
// (every 166.7 µs), 5000 in the next (every 100 µs), then 10k/s held until
// the -tells budget of 12000 is spent (3000 more, by 1.8 s), every tell
// with no lag.
func TestSteppedRate(t *testing.T) {
	o, err := parseFlags([]string{"-rate", "2k:10k:step=4k,every=500ms", "-workers", "1", "-tells", "12000", "-entities", "20"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := &memTarget{}
	if _, _, err := memOpener(m)(context.Background(), o, io.Discard); err != nil {
		t.Fatal(err)
	}
	var virtual atomic.Int64 // ns since the start
	ct := &clockedTarget{memTarget: m, now: func() time.Duration { return time.Duration(virtual.Load()) }}
	ids := make([]string, o.entities)
	for i := range ids {
		ids[i] = fmt.Sprintf("step-%d", i)
	}
	r := newRunner(o, ct, ids, io.Discard, nil)
	r.start, r.tellCtx = time.Now(), context.Background()
	r.elapsed = ct.now
	r.pause = func(d time.Duration) bool {
		virtual.Add(int64(max(d, 1))) // a wait always lets some time pass
		return !r.stopped.Load()
	}
	r.paced(0, r.workers[0])

	if len(ct.at) != 12000 {
		t.Fatalf("sent %d tells, want the -tells budget 12000", len(ct.at))
	}
	const ms = time.Millisecond
	for _, step := range []struct {
		from, to time.Duration
		n        int
		gap      time.Duration // between two tells of the step
	}{
		{0, 500 * ms, 1000, 500 * time.Microsecond},
		{500 * ms, 1000 * ms, 3000, time.Second / 6000},
		{1000 * ms, 1500 * ms, 5000, 100 * time.Microsecond},
		{1500 * ms, 1800 * ms, 3000, 100 * time.Microsecond},
	} {
		var in []time.Duration
		for _, at := range ct.at {
			if at >= step.from && at < step.to {
				in = append(in, at)
			}
		}
		if len(in) != step.n {
			t.Errorf("[%v, %v): %d tells, want %d", step.from, step.to, len(in), step.n)
			continue
		}
		if first := in[0] - step.from; first > time.Microsecond {
			t.Errorf("[%v, %v): first tell %v after the step began, want at once", step.from, step.to, first)
		}
		for k := 1; k < len(in); k++ {
			if g := in[k] - in[k-1]; g < step.gap-time.Microsecond || g > step.gap+time.Microsecond {
				t.Errorf("[%v, %v): tells %d and %d %v apart, want %v", step.from, step.to, k-1, k, g, step.gap)
				break
			}
		}
	}
	if lag := r.workers[0].lag.Max(); lag > int64(time.Microsecond) {
		t.Errorf("max lag %v, want none (the target is instant and the clock virtual)", time.Duration(lag))
	}
}

// TestSteppedRateRun: -rate with steps end to end (wall clock): the report
// names the schedule, and the run never sends ahead of it.
func TestSteppedRateRun(t *testing.T) {
	m := &memTarget{}
	code, got, stderr := runJSON(t, m, "-duration", "1500ms", "-entities", "20", "-workers", "2", "-progress=false",
		"-rate", "2k:10k:step=4k,every=500ms")
	if code != exitOK {
		t.Fatalf("got exit %d; stderr:\n%s", code, stderr)
	}
	c := scheduleCursor{s: &rateSchedule{start: 2000, end: 10000, step: 4000, every: 500 * time.Millisecond}}
	limit := c.at(num(t, got, "duration_s")*1e9) + 2 // each worker may have one due at the stop
	if sent := num(t, got, "tells_sent"); sent == 0 || sent > limit {
		t.Errorf("got tells_sent %v, want 0 < sent <= %v (the schedule)", sent, limit)
	}
	if got["rate_schedule"] != "2k:10k:step=4k,every=500ms" {
		t.Errorf("got rate_schedule %v", got["rate_schedule"])
	}
}

func TestKeys(t *testing.T) {
	const n, draws = 50, 20000
	count := func(text string) []int {
		t.Helper()
		d, err := parseKeys(text)
		if err != nil {
			t.Fatal(err)
		}
		k := newKeyPicker(d, n, 0, 1, 1)
		c := make([]int, n)
		for range draws {
			c[k.next()]++
		}
		return c
	}
	for i, v := range count("cycle") {
		if v != draws/n {
			t.Fatalf("cycle: entity %d got %d, want %d", i, v, draws/n)
		}
	}
	u := count("uniform")
	for i, v := range u {
		if v == 0 {
			t.Errorf("uniform: entity %d never drawn", i)
		}
	}
	z := count("zipf:1.5")
	if z[0] < z[1] || z[1] < z[n-1] || z[0] < draws/4 {
		t.Errorf("zipf:1.5: got counts %v, want decreasing with entity 0 over a quarter", z[:5])
	}
	h := count("hot:0.5")
	if h[0] < draws/2 || h[1] > draws/n {
		t.Errorf("hot:0.5: got entity 0 %d, entity 1 %d; want >= %d and <= %d", h[0], h[1], draws/2, draws/n)
	}
	for _, bad := range []string{"zipf:1", "zipf:x", "hot:0", "hot:1", "uniform:3", "pareto"} {
		if _, err := parseKeys(bad); err == nil {
			t.Errorf("%q: got nil, want an error", bad)
		}
	}
}

// TestKeysRun: -keys zipf sends most tells to the first entities, and the
// accounting still matches the target's books.
func TestKeysRun(t *testing.T) {
	m := &memTarget{}
	code, got, stderr := runJSON(t, m, "-duration", "500ms", "-entities", "20", "-workers", "2", "-progress=false", "-keys", "zipf:2", "-entity-prefix", "k-")
	if code != exitOK {
		t.Fatalf("got exit %d; stderr:\n%s", code, stderr)
	}
	m.mu.Lock()
	first, last := m.counts["k-0"], m.counts["k-19"]
	m.mu.Unlock()
	if first <= last || got["keys"] != "zipf:2" {
		t.Errorf("got entity 0 %d tells, entity 19 %d, keys %v; want more on 0, zipf:2", first, last, got["keys"])
	}
	if accepted, applied, _ := m.books(); num(t, got, "tells_delivered") != float64(applied) || applied != accepted {
		t.Errorf("got delivered %v, want the target's %d", got["tells_delivered"], applied)
	}
}
