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

func TestRecoveryAfter(t *testing.T) {
	fault := 5 * sec
	tests := []struct {
		name      string
		rate      func(t int64) float64
		wantAfter time.Duration // -1: never
	}{
		{"no dip", func(int64) float64 { return 10 }, time.Second},
		// The window ending at +2.8 s holds 2 empty samples of 10: exactly
		// 80%, which meets the target.
		{"stall of 2 s", func(t int64) float64 {
			if t > fault && t <= fault+2*sec {
				return 0
			}
			return 10
		}, 2800 * time.Millisecond},
		{"stalled to the end", func(t int64) float64 {
			if t > fault {
				return 1
			}
			return 10
		}, -1},
		{"recovers then drops again", func(t int64) float64 {
			if (t > fault && t <= fault+sec) || (t > fault+6*sec && t <= fault+8*sec) {
				return 0
			}
			return 10
		}, 8800 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := steady(20*sec, 2, tc.rate)
			r := s.RecoveryAfter(nil, fault, 15*sec, 3*time.Second, time.Second, 100*time.Millisecond, 0.8)
			if math.Abs(r.PreRate-200) > 1e-6 {
				t.Errorf("PreRate = %v, want 200", r.PreRate)
			}
			if r.After != tc.wantAfter {
				t.Errorf("After = %v, want %v (min %v at %v)", r.After, tc.wantAfter, r.MinRate, r.MinAt)
			}
			if tc.wantAfter >= 0 && r.MinRate < r.Target {
				t.Errorf("MinRate %v below target %v after recovery", r.MinRate, r.Target)
			}
		})
	}
}

func TestFromCumulative(t *testing.T) {
	at := []int64{1, 2, 3, 4}
	tot := [][]float64{{0, 5}, {10, 5}, {25, 8}, {3, 9}} // key 0 reset at 4
	s := FromCumulative("x", at, tot)
	want := []Sample{{1, 2, []float64{10, 0}}, {2, 3, []float64{15, 3}}, {3, 4, []float64{3, 1}}}
	if !reflect.DeepEqual(s.Samples, want) {
		t.Errorf("got %v, want %v", s.Samples, want)
	}
}

func TestParseSeries(t *testing.T) {
	clk := SeriesClock{MonoAtStart: 1000 * sec, UnixAtStart: 1_700_000_000 * sec}
	tests := []struct {
		name, in string
		wantEnd  []int64
		want0    []float64
	}{
		{"mono per interval", `{"mono_ns": 1001000000000, "shards": [1, 2]}
{"mono_ns": 1001100000000, "shards": [3, 4]}`, []int64{1001 * sec, 1001*sec + 100*ms}, []float64{1, 2}},
		{"relative seconds, object counts", `{"t": 0.5, "per_shard": {"0": 7, "3": 1}}`, []int64{1000*sec + 500*ms}, []float64{7, 0, 0, 1}},
		{"unix ms, cumulative", `# header
{"unix_ms": 1700000001000, "shards_total": [5]}
{"unix_ms": 1700000002000, "shards_total": [9]}`, []int64{1002 * sec}, []float64{4}},
		{"array", `[{"t_s": 1, "tells": [2]}, {"t_s": 2, "tells": [3]}]`, []int64{1001 * sec, 1002 * sec}, []float64{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSeries(strings.NewReader(tc.in), clk)
			if err != nil {
				t.Fatal(err)
			}
			var ends []int64
			for _, smp := range s.Samples {
				ends = append(ends, smp.End)
			}
			if !slices.Equal(ends, tc.wantEnd) {
				t.Errorf("ends %v, want %v", ends, tc.wantEnd)
			}
			if !slices.Equal(s.Samples[0].Counts, tc.want0) {
				t.Errorf("first counts %v, want %v", s.Samples[0].Counts, tc.want0)
			}
		})
	}
	if _, err := ParseSeries(strings.NewReader(`{"x": 1}`), clk); !errors.Is(err, ErrSeriesFormat) {
		t.Errorf("unknown format: err %v, want ErrSeriesFormat", err)
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
	out := []byte("some line\n{\"ok\": false, \"lost\": 12, \"tells_sent\": 100, \"unexplained_lost\": 0}\n")
	r := parseLoadReport(out, 1, "/dev/null")
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if v, ok := r.Int("lost"); !ok || v != 12 {
		t.Errorf("lost %d %v", v, ok)
	}
	if _, ok := r.Int("in_flight_lost"); ok {
		t.Error("a missing field is available")
	}
	res := &Result{}
	r.checkLoss(res, true)
	if v, u := res.Counts(); v != 0 || u != 1 {
		t.Errorf("violations %d unchecked %d, want 0 and 1 (in_flight_lost missing): %+v", v, u, res.Checks)
	}
	if r := parseLoadReport([]byte("panic: boom\n"), 2, "/dev/null"); r.Err == "" {
		t.Error("no JSON accepted")
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
