package chaos

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const sec = int64(time.Second)

// steady returns a series of 100 ms samples from 0 to end with per-shard
// counts rate(t) (tells per 100 ms for each of shards).
func steady(end int64, shards int, rate func(t int64) float64) Series {
	var s Series
	for t := 100 * ms; t <= end; t += 100 * ms {
		c := make([]float64, shards)
		for k := range c {
			c[k] = rate(t)
		}
		s.Samples = append(s.Samples, Sample{End: t, Counts: c})
	}
	return s
}

func TestSeriesRate(t *testing.T) {
	s := steady(10*sec, 4, func(int64) float64 { return 10 })
	if got := s.Rate(nil, 2*sec, 4*sec); math.Abs(got-400) > 1e-9 {
		t.Errorf("Rate(all) = %v, want 400", got)
	}
	odd := func(k int) bool { return k%2 == 1 }
	if got := s.Rate(odd, 2*sec, 4*sec); math.Abs(got-200) > 1e-9 {
		t.Errorf("Rate(odd) = %v, want 200", got)
	}
	if got := s.Rate(nil, 4*sec, 4*sec); got != 0 {
		t.Errorf("empty window: %v, want 0", got)
	}
}

// A sample that covers a long interval (a late poll) is spread over it.
func TestSeriesRateSpreadsLateSamples(t *testing.T) {
	s := Series{Samples: []Sample{{Start: 1 * sec, End: 5 * sec, Counts: []float64{400}}}}
	if got := s.Rate(nil, 2*sec, 3*sec); math.Abs(got-100) > 1e-9 {
		t.Errorf("Rate = %v, want 100 (400 over 4 s)", got)
	}
	instant := Series{Samples: []Sample{{End: 4 * sec, Counts: []float64{400}}}}
	if got := instant.Rate(nil, 1*sec, 2*sec); got != 0 {
		t.Errorf("instant sample outside the window: %v, want 0", got)
	}
}

// secondly returns a series of 1 s samples (as loadgen writes them) from
// 0 to end whose count for each of shards is rate(end of the sample).
func secondly(end int64, shards int, rate func(t int64) float64) Series {
	var s Series
	for t := sec; t <= end; t += sec {
		c := make([]float64, shards)
		for k := range c {
			c[k] = rate(t)
		}
		s.Samples = append(s.Samples, Sample{Start: t - sec, End: t, Counts: c})
	}
	return s
}

func TestRecoveryAfter(t *testing.T) {
	fault := 5*sec + 300*ms
	tests := []struct {
		name         string
		rate         func(t int64) float64 // per shard per second, by the sample's end
		wantAfter    time.Duration         // -1: never
		wantEstimate time.Duration
	}{
		{"no dip", func(int64) float64 { return 100 }, 0, 0},
		// The sample ending at 6 s is stalled, the one ending at 7 s has
		// 70% (a stall that ended at 6.3 s): recovered by 7 s, estimated
		// at 6.3 s.
		{"stall of 1 s", func(t int64) float64 {
			switch t {
			case 6 * sec:
				return 0
			case 7 * sec:
				return 70
			}
			return 100
		}, 1700 * time.Millisecond, 1000 * time.Millisecond},
		{"stalled to the end", func(t int64) float64 {
			if t > fault {
				return 10
			}
			return 100
		}, -1, -1},
		{"recovers then drops again", func(t int64) float64 {
			if t == 6*sec || t == 12*sec {
				return 0
			}
			return 100
		}, 6700 * time.Millisecond, 6700 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := secondly(20*sec, 2, tc.rate)
			// A last line of 10 ms, as loadgen writes at the end: too
			// short to judge, whatever its count.
			s.Samples = append(s.Samples, Sample{Start: 20 * sec, End: 20*sec + 10*ms, Counts: []float64{0, 0}})
			r := s.RecoveryAfter(nil, fault, 21*sec, 3*time.Second, 0.8)
			if math.Abs(r.PreRate-200) > 1e-6 {
				t.Errorf("PreRate = %v, want 200", r.PreRate)
			}
			if r.After != tc.wantAfter || r.Estimate != tc.wantEstimate {
				t.Errorf("After, Estimate = %v, %v; want %v, %v", r.After, r.Estimate, tc.wantAfter, tc.wantEstimate)
			}
			if r.Samples != 15 {
				t.Errorf("%d samples evaluated, want 15", r.Samples)
			}
			if tc.wantAfter >= 0 && r.MinRate < r.Target {
				t.Errorf("MinRate %v below target %v after recovery", r.MinRate, r.Target)
			}
		})
	}
}

func TestTallySeriesAndFirstRecovery(t *testing.T) {
	// Two nodes polled every 100 ms (answers 2 ms after the ask); each
	// applies 10 per 100 ms to its shard, except between 1.0 s and 2.5 s
	// (a stalled client), and node 0 restarts at 4 s (a new incarnation
	// is not compared with the old one).
	var nodes [][]TallyObs
	for n := range 2 {
		var obs []TallyObs
		var total int64
		inc := int64(1)
		for t := 100 * ms; t <= 6*sec; t += 100 * ms {
			if t <= 1*sec || t > 2500*ms {
				total += 10
			}
			if n == 0 && t == 4*sec {
				inc, total = 2, 0
			}
			a := make([]int64, 2)
			a[n] = total
			obs = append(obs, TallyObs{Sent: t - 2*ms, Recv: t, Incarnation: inc, Applied: a})
		}
		nodes = append(nodes, obs)
	}
	s := TallySeries(nodes)
	if got := s.Rate(nil, 200*ms, 1*sec); math.Abs(got-200) > 2 { // the 1 ms midpoint shift
		t.Errorf("rate before the stall %v, want 200", got)
	}
	if got := s.Rate(nil, 1200*ms, 2400*ms); got != 0 {
		t.Errorf("rate during the stall %v, want 0", got)
	}
	back, stalled := s.FirstRecovery(nil, 900*ms, 6*sec, 300*time.Millisecond, 50*time.Millisecond, 160)
	// The stall ends at 2.5 s; the first 300 ms window at 160/s ends
	// 250 ms later: 2.75 s, 1.85 s after the fault at 0.9 s.
	if back != 1850*time.Millisecond {
		t.Errorf("back %v, want 1.85s (stalled %v)", back, stalled)
	}
	if back, _ := s.FirstRecovery(func(k int) bool { return k == 1 }, 3*sec, 6*sec, 300*time.Millisecond, 50*time.Millisecond, 80); back != 0 {
		t.Errorf("no stall after 3 s: back %v, want 0", back)
	}
	if back, _ := s.FirstRecovery(nil, 900*ms, 2*sec, 300*time.Millisecond, 50*time.Millisecond, 160); back != -1 {
		t.Errorf("still stalled at the end: back %v, want -1", back)
	}
}

// Lines as cmd/loadgen writes them (seriesPoint), with the last partial
// interval and a line of another program in between.
const seriesSample = `{"t":1,"tells_ok":30,"tells_ok_by_shard":[10,20],"tell_errors":{"owner_unavailable":0},"asks_ok":2,"ask_errors":0}
{"t":2,"tells_ok":3,"tells_ok_by_shard":[1,2],"tell_errors":{"owner_unavailable":5,"no_quorum":0},"asks_ok":2,"ask_errors":1}
{"x":1}
{"t":2.25,"tells_ok":4,"tells_ok_by_shard":[4,0],"tell_errors":{"owner_unavailable":1},"asks_ok":0,"ask_errors":0}
`

func TestParseSeriesLine(t *testing.T) {
	var lines []SeriesLine
	bad := 0
	for _, l := range strings.Split(strings.TrimSpace(seriesSample), "\n") {
		sl, err := ParseSeriesLine([]byte(l))
		if err != nil {
			if !errors.Is(err, ErrSeriesFormat) {
				t.Errorf("%q: err %v, want ErrSeriesFormat", l, err)
			}
			bad++
			continue
		}
		lines = append(lines, sl)
	}
	if bad != 1 || len(lines) != 3 {
		t.Fatalf("got %d lines and %d bad, want 3 and 1", len(lines), bad)
	}
	if got := lines[1]; got.T != 2 || !slices.Equal(got.TellsOKByShard, []int64{1, 2}) || got.TellErrors["owner_unavailable"] != 5 || got.AskErrors != 1 {
		t.Errorf("line 1 = %+v", got)
	}
	// Seen 30 ms, 10 ms and 50 ms after they were written: the start is
	// placed 10 ms late, the tightest bound.
	start := 100 * sec
	seen := []int64{start + sec + 30*ms, start + 2*sec + 10*ms, start + 2250*ms + 50*ms}
	got, ok := EstimateStart(lines, seen)
	if !ok || got != start+10*ms {
		t.Errorf("EstimateStart = %d, %v; want %d", got, ok, start+10*ms)
	}
	s := SeriesFromLines(lines, start)
	want := []Sample{
		{start, start + sec, []float64{10, 20}},
		{start + sec, start + 2*sec, []float64{1, 2}},
		{start + 2*sec, start + 2250*ms, []float64{4, 0}},
	}
	if !reflect.DeepEqual(s.Samples, want) {
		t.Errorf("samples %v, want %v", s.Samples, want)
	}
	if got := s.Rate(func(k int) bool { return k == 1 }, start, start+sec); math.Abs(got-20) > 1e-9 {
		t.Errorf("rate of shard 1 in the first second = %v, want 20", got)
	}
	errs := ErrorsBetween(lines, start, start+sec, start+3*sec)
	if want := map[string]int64{"owner_unavailable": 6}; !reflect.DeepEqual(errs, want) {
		t.Errorf("ErrorsBetween = %v, want %v", errs, want)
	}
	if _, ok := EstimateStart(nil, nil); ok {
		t.Error("EstimateStart of no lines is ok")
	}
}

func TestMinWindow(t *testing.T) {
	s := steady(10*sec, 1, func(t int64) float64 {
		if t > 5*sec && t <= 6*sec {
			return 2
		}
		return 10
	})
	rate, at, ok := s.MinWindow(nil, 2*sec, 9*sec, time.Second, 100*time.Millisecond)
	if !ok || math.Abs(rate-20) > 1e-6 || at != 6*sec {
		t.Errorf("MinWindow = %v at %d, %v; want 20 at %d", rate, at, ok, 6*sec)
	}
	if _, _, ok := s.MinWindow(nil, 2*sec, 2*sec, time.Second, 100*time.Millisecond); ok {
		t.Error("a span shorter than the window has a window")
	}
}

func TestParseFlagSet(t *testing.T) {
	usage := `Usage of node:
  -advertise string
    	advertised identity host:port (default: the listen address)
  -gossip-key string
    	16/24/32-byte key -raft is mentioned here but is not a flag
  -json
    	print JSON
`
	fs := ParseFlagSet(usage)
	if want := []string{"advertise", "gossip-key", "json"}; !slices.Equal(fs.Names(), want) {
		t.Errorf("Names() = %v, want %v", fs.Names(), want)
	}
	args, skipped := fs.Args([]Arg{{"advertise", "a:1"}, {"raft", "b:2"}, {"json", "true"}})
	if want := []string{"-advertise=a:1", "-json=true"}; !slices.Equal(args, want) {
		t.Errorf("args %v, want %v", args, want)
	}
	if want := []string{"raft"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if (FlagSet{}).Has("x") {
		t.Error("zero FlagSet has a flag")
	}
}

func TestNetPlan(t *testing.T) {
	p, err := NewNetPlan(4242, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"zhc-4242-n0", "zhc-4242-n1", "zhc-4242-n2", "zhc-4242-cl", "zhc-4242-hub"}
	if !slices.Equal(p.Namespaces(), want) {
		t.Errorf("namespaces %v, want %v", p.Namespaces(), want)
	}
	if p.NodeIPs[2] != "10.213.0.12" || p.ClientIP != "10.213.0.2" {
		t.Errorf("addresses %v client %s", p.NodeIPs, p.ClientIP)
	}
	// Every namespace the setup creates is deleted by the teardown, and no
	// command touches the root namespace (every command but netns add/del
	// names a namespace with -n).
	created := map[string]bool{}
	for _, c := range p.Setup() {
		switch {
		case c[0] == "netns" && c[1] == "add":
			created[c[2]] = true
		case c[0] == "-n":
			if !created[c[1]] {
				t.Errorf("%v runs in %s before it exists", c, c[1])
			}
			for i, a := range c {
				if a == "netns" && i+1 < len(c) && !created[c[i+1]] {
					t.Errorf("%v moves a device to %s, not a namespace of the plan", c, c[i+1])
				}
			}
		default:
			t.Errorf("%v runs in the root namespace", c)
		}
		for _, a := range c {
			if len(a) > 15 && !strings.HasPrefix(a, "zhc-") && !strings.Contains(a, "/") {
				t.Errorf("%v: device name %q longer than IFNAMSIZ-1", c, a)
			}
		}
	}
	deleted := map[string]bool{}
	for _, c := range p.Teardown() {
		deleted[c[2]] = true
	}
	if !reflect.DeepEqual(created, deleted) {
		t.Errorf("created %v, teardown deletes %v", created, deleted)
	}
	// Partition and heal are mirror images, one route per direction.
	part, heal := p.Partition(2), p.Heal(2)
	if len(part) != 4 || len(heal) != 4 {
		t.Fatalf("partition %d commands, heal %d, want 4 each", len(part), len(heal))
	}
	for i := range part {
		if part[i][3] != "add" || heal[i][3] != "del" || !slices.Equal(part[i][4:], heal[i][4:]) {
			t.Errorf("partition %v vs heal %v", part[i], heal[i])
		}
	}
	has := func(want ...string) bool {
		return slices.ContainsFunc(part, func(c []string) bool { return slices.Equal(c, want) })
	}
	if !has("-n", "zhc-4242-n2", "route", "add", "blackhole", "10.213.0.10/32") ||
		!has("-n", "zhc-4242-n0", "route", "add", "blackhole", "10.213.0.12/32") {
		t.Errorf("partition lacks a direction: %v", part)
	}
	for _, c := range part {
		if slices.Contains(c, p.ClientIP+"/32") {
			t.Errorf("partition cuts the client: %v", c)
		}
	}
	if _, err := NewNetPlan(1, 300); err == nil {
		t.Error("300 nodes accepted")
	}
}

func TestStaleNamespaces(t *testing.T) {
	list := `zhc-100-hub (id: 3)
zhc-100-n0 (id: 1)
zhc-200-cl
zhc-300-n1
other-ns
zhc-bad
zhc-x-n0
`
	alive := func(pid int) bool { return pid == 200 }
	got := StaleNamespaces(list, 300, alive)
	if want := []string{"zhc-100-hub", "zhc-100-n0"}; !slices.Equal(got, want) {
		t.Errorf("stale %v, want %v (200 alive, 300 is us)", got, want)
	}
}

func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS([]byte("Name:\tnode\nVmPeak:\t 999 kB\nVmRSS:\t   15872 kB\n"))
	if err != nil || got != 15872<<10 {
		t.Errorf("got %d, %v; want %d", got, err, 15872<<10)
	}
	if _, err := parseVmRSS([]byte("Name: x\n")); err == nil {
		t.Error("no VmRSS line accepted")
	}
}

func TestLineSinkReady(t *testing.T) {
	var log bytes.Buffer
	s := &lineSink{w: &log, ready: make(chan string, 1), keep: 8}
	for _, chunk := range []string{"hello\nREA", "DY 127.0.0.1:", "25520\nmore\n"} {
		if _, err := s.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case a := <-s.ready:
		if a != "127.0.0.1:25520" {
			t.Errorf("READY %q", a)
		}
	default:
		t.Error("READY not seen across writes")
	}
	if log.String() != "hello\nREADY 127.0.0.1:25520\nmore\n" {
		t.Errorf("log %q", log.String())
	}
	if string(s.kept()) != "hello\nRE" {
		t.Errorf("kept %q, want the first 8 bytes", s.kept())
	}
}

func TestParseLoadReport(t *testing.T) {
	out := []byte("some line\n{\"ok\": false, \"lost\": 12, \"tells_sent\": 100, \"state_lost\": 10, \"state_lost_by_node\": {\"n2\": 10}," +
		"\"state_lost_by_shard\": [0, 10, 0], \"failed_on_node\": 1, \"in_flight_lost\": 1, \"unexplained_lost\": 0, \"accounting\": \"per-shard tallies\"}\n")
	r := parseLoadReport(out, 1, "/dev/null")
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if r.Lost != 12 || r.StateLost != 10 || r.StateLostByNode["n2"] != 10 || r.InFlightLost != 1 || r.Accounting != accountingTallies {
		t.Errorf("report %+v", r)
	}
	res := &Result{}
	r.checkLoss(res, true)
	if v, u := res.Counts(); v != 1 || u != 0 {
		t.Errorf("violations %d unchecked %d, want 1 (in_flight_lost 1) and 0: %+v", v, u, res.Checks)
	}
	res = &Result{}
	r.checkOthersLossless(res, "n2", []int{1})
	if v, _ := res.Counts(); v != 0 {
		t.Errorf("state lost on the victim's shard is a violation: %+v", res.Checks)
	}
	res = &Result{}
	r.checkOthersLossless(res, "n2", []int{0})
	if v, _ := res.Counts(); v != 1 {
		t.Errorf("state lost on another shard passes: %+v", res.Checks)
	}
	if r := parseLoadReport([]byte(`{"ok": true, "lost": 0}`), 0, "/dev/null"); !strings.Contains(r.Err, "lacks state_lost") {
		t.Errorf("a report without the accounting: Err %q", r.Err)
	}
	if r := parseLoadReport([]byte("panic: boom\n"), 2, "/dev/null"); r.Err == "" {
		t.Error("no JSON accepted")
	}
	// Without tallies every loss is unexplained: a violation even at 0.
	r = parseLoadReport([]byte(`{"lost":0,"state_lost":0,"failed_on_node":0,"in_flight_lost":0,"unexplained_lost":0,"accounting":"unavailable: no"}`), 0, "/dev/null")
	res = &Result{}
	r.checkLoss(res, false)
	if v, _ := res.Counts(); v != 1 {
		t.Errorf("accounting without tallies passes: %+v", res.Checks)
	}
}

func TestParseScenarios(t *testing.T) {
	got, err := ParseScenarios("follower-kill, partition")
	if err != nil || !slices.Equal(got, []string{"follower-kill", "partition"}) {
		t.Errorf("got %v, %v", got, err)
	}
	all, err := ParseScenarios("all")
	if err != nil || len(all) != len(Scenarios()) {
		t.Errorf("all: %d scenarios, %v", len(all), err)
	}
	if _, err := ParseScenarios("nope,follower-kill,bad"); err == nil || !strings.Contains(err.Error(), "nope, bad") {
		t.Errorf("unknown names: %v", err)
	}
	if !NeedsNetns("partition") || NeedsNetns("follower-kill") {
		t.Error("NeedsNetns")
	}
}

func TestResultVerdict(t *testing.T) {
	r := &Result{Scenario: "x"}
	r.Check("a", Unchecked, "n/a")
	if r.Failed() {
		t.Error("unchecked fails a non-strict result")
	}
	r.Strict = true
	if !r.Failed() {
		t.Error("unchecked passes a strict result")
	}
	r.Strict = false
	r.Expect("b", false, "bad")
	if !r.Failed() {
		t.Error("violation passes")
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil || !strings.Contains(b.String(), "result: FAIL") {
		t.Errorf("text %q, %v", b.String(), err)
	}
	b.Reset()
	if err := r.WriteJSON(&b); err != nil || !strings.Contains(b.String(), `"violations":1`) {
		t.Errorf("json %q, %v", b.String(), err)
	}
}
