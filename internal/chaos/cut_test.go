package chaos

import (
	"slices"
	"testing"
	"time"
)

// TestCutClientPlan: CutClient drops, in the client's and the node's
// namespace only, what arrives from the other side, before the local
// table (moved after it by Setup); HealClient undoes exactly that.
func TestCutClientPlan(t *testing.T) {
	p, err := NewNetPlan(4242, 3)
	if err != nil {
		t.Fatal(err)
	}
	cut, heal := p.CutClient(1), p.HealClient(1)
	want := [][]string{
		{"-n", "zhc-4242-cl", "rule", "add", "pref", cutRulePref, "from", "10.213.0.11", "iif", "eth0", "blackhole"},
		{"-n", "zhc-4242-n1", "rule", "add", "pref", cutRulePref, "from", "10.213.0.2", "iif", "eth0", "blackhole"},
	}
	if !slices.EqualFunc(cut, want, slices.Equal) {
		t.Errorf("got cut %v, want %v", cut, want)
	}
	if len(heal) != len(cut) {
		t.Fatalf("got %d heal commands, want %d", len(heal), len(cut))
	}
	for i := range cut {
		if heal[i][3] != "del" || !slices.Equal(heal[i][4:], cut[i][4:]) || !slices.Equal(heal[i][:3], cut[i][:3]) {
			t.Errorf("heal %v does not undo %v", heal[i], cut[i])
		}
	}
	if cutRulePref >= localRulePref { // both three digits: string order is numeric order
		t.Errorf("cut rules at %s, local table at %s: the local table would match first", cutRulePref, localRulePref)
	}
	// Setup moves the local table's rule in every member namespace (and
	// not in the hub, which CutClient never touches).
	moved := map[string]bool{}
	for _, c := range p.Setup() {
		if len(c) > 3 && c[2] == "rule" && c[3] == "add" && slices.Equal(c[4:], []string{"pref", localRulePref, "lookup", "local"}) {
			moved[c[1]] = true
		}
	}
	for _, ns := range append([]string{p.Client}, p.Nodes...) {
		if !moved[ns] {
			t.Errorf("Setup leaves the local table first in %s", ns)
		}
	}
	if moved[p.Hub] {
		t.Error("Setup moves the hub's local table")
	}
}

// TestAcceptedWithin counts only the samples wholly inside the span.
func TestAcceptedWithin(t *testing.T) {
	s := &Series{Samples: []Sample{
		{Start: 1, End: 10, Counts: []float64{5, 7}},
		{Start: 10, End: 20, Counts: []float64{1, 2}},
		{Start: 20, End: 30, Counts: []float64{3, 4}},
		{Start: 0, End: 25, Counts: []float64{100, 100}}, // an instant: not a sample of a span
	}}
	first := func(k int) bool { return k == 0 }
	for _, tc := range []struct {
		from, to int64
		count    float64
		n        int
	}{
		{10, 30, 4, 2},
		{11, 30, 3, 1},
		{0, 29, 6, 2},
		{31, 40, 0, 0},
	} {
		c, n := AcceptedWithin(s, first, tc.from, tc.to)
		if c != tc.count || n != tc.n {
			t.Errorf("[%d, %d]: got %v in %d samples, want %v in %d", tc.from, tc.to, c, n, tc.count, tc.n)
		}
	}
}

// TestAsksWithin sums the lines wholly inside the span and counts those
// that answered no ask.
func TestAsksWithin(t *testing.T) {
	start := int64(time.Second)
	lines := []SeriesLine{
		{T: 1, AsksOK: 10},
		{T: 2, AsksOK: 0, AskErrors: 3},
		{T: 3, AsksOK: 4, AskErrors: 1},
		{T: 3.2, AsksOK: 1},
	}
	got := AsksWithin(lines, start, start+int64(time.Second), start+int64(3*time.Second))
	want := AskCounts{OK: 4, Errors: 4, Lines: 2, Dry: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := AsksWithin(lines, start, 0, start+int64(4*time.Second)); got.Lines != 4 || got.OK != 15 {
		t.Errorf("whole span: got %+v, want 4 lines, 15 answered", got)
	}
}

// TestMovedAway lists the shards another node claimed after the instant.
func TestMovedAway(t *testing.T) {
	iv := func(node string, shard int, since, until int64) Interval {
		return Interval{Key: ClaimKey{Node: node, Type: "counter", Shard: shard, Since: since}, Until: until}
	}
	ivs := []Interval{
		iv("v", 1, 0, 100), iv("v", 2, 0, 100),
		iv("a", 1, 0, 40),   // ended before the cut: not moved
		iv("a", 2, 60, 90),  // claimed after the cut
		iv("b", 3, 60, 90),  // not one of the victim's shards
		iv("b", 2, 70, 100), // twice: listed once
	}
	ivs = append(ivs, Interval{Key: ClaimKey{Node: "a", Type: "other", Shard: 1}, Until: 100})
	if got := MovedAway(ivs, "counter", []int{1, 2}, "v", 50); !slices.Equal(got, []int{2}) {
		t.Errorf("got %v, want [2]", got)
	}
	if got := MovedAway(ivs, "counter", []int{1, 2}, "v", 100); got != nil {
		t.Errorf("got %v after everything, want none", got)
	}
}
