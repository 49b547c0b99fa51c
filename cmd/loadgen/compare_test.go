package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/node/nodetest"
)

// TestCompare: two runs saved with -out, compared: every metric on its own
// line with both values and the second's change; bad arguments exit 2.
func TestCompare(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	a := runOut(t, &memTarget{}, "-duration", "2500ms")
	b := runOut(t, &memTarget{}, "-duration", "2500ms")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"compare", a, b}, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, m := range compareMetrics {
		if !strings.Contains(out, m.name+"  ") {
			t.Errorf("comparison lacks %q:\n%s", m.name, out)
		}
	}
	if !strings.Contains(out, a) || !strings.Contains(out, b) || !strings.Contains(out, "spread") || !strings.Contains(out, "%)") {
		t.Errorf("comparison lacks the runs, a change or a spread verdict:\n%s", out)
	}
	for _, args := range [][]string{{"compare", a}, {"compare", a, filepath.Join(t.TempDir(), "none")}} {
		if code := run(context.Background(), args, &stdout, &stderr, nil); code != exitUsage {
			t.Errorf("%q: got exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestSignificance: a change is beyond the spread only when it exceeds
// twice the combined standard error of the per-second values.
func TestSignificance(t *testing.T) {
	run := func(total float64, perSecond ...float64) *savedRun {
		s := &savedRun{rep: report{TellsPerSec: total}}
		for _, v := range perSecond {
			s.points = append(s.points, seriesPoint{IntervalS: 1, TellsPerSec: v})
		}
		return s
	}
	m := &compareMetrics[0] // tells/s delivered
	for _, tc := range []struct {
		name string
		a, b *savedRun
		want string
	}{
		// standard errors 1/sqrt(4) = 0.5 each: 2 x hypot = 1.41
		{"beyond", run(100, 99, 101, 99, 101), run(102, 101, 103, 101, 103), "beyond spread"},
		{"within", run(100, 99, 101, 99, 101), run(101, 100, 102, 100, 102), "within spread"},
		{"one second only", run(100, 100), run(200, 200), ""},
	} {
		if got := significance(tc.a, tc.b, m); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMerge: two runs merged sum to what the two in-memory targets
// accepted, and the merged ask p99 lies between the two runs' p99s.
func TestMerge(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	ma, mb := &memTarget{}, &memTarget{}
	a := runOut(t, ma, "-duration", "1500ms", "-ask-concurrency", "2")
	b := runOut(t, mb, "-duration", "1500ms", "-ask-concurrency", "2")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"merge", "-json", a, b}, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	var m mergedReport
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	accA, _, _ := ma.books()
	accB, _, _ := mb.books()
	if m.TellsDelivered != accA+accB || m.Lost != 0 || len(m.Sources) != 2 || !m.OK {
		t.Errorf("got delivered %d lost %d sources %d ok %v, want the targets' %d, 0, 2, true", m.TellsDelivered, m.Lost, len(m.Sources), m.OK, accA+accB)
	}
	checkMergedP99(t, &m)
	stdout.Reset()
	if code := run(context.Background(), []string{"merge", a, b}, &stdout, &stderr, nil); code != exitOK || !strings.Contains(stdout.String(), "by 2 sources together") {
		t.Errorf("got exit %d and table:\n%s", code, stdout.String())
	}
}

func checkMergedP99(t *testing.T, m *mergedReport) {
	t.Helper()
	lo, hi := min(m.Sources[0].AskP99US, m.Sources[1].AskP99US), max(m.Sources[0].AskP99US, m.Sources[1].AskP99US)
	if m.AskP99US < lo || m.AskP99US > hi || m.Asks == 0 {
		t.Errorf("got merged ask p99 %v of %d asks, want within the sources' [%v, %v]", m.AskP99US, m.Asks, lo, hi)
	}
}

// TestMergeTwoProcesses is the two-machine recipe on one machine: two
// loadgen processes at once against one external 3-node cluster, each
// saving -out (with -reset-stats=false: each would reset the other's node
// counters), then loadgen merge. The merged delivered count must equal
// what the cluster itself applied (its per-shard tallies), with 0 lost.
func TestMergeTwoProcesses(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	if testing.Short() {
		t.Skip("builds loadgen and starts a 3-node cluster")
	}
	bin := buildLoadgen(t)
	lc := nodetest.Start(t, 3, nodetest.Options{})
	applied := func() int64 {
		var n int64
		for i := range lc.Len() {
			for _, v := range lc.Tally(i).ShardTally("").Applied {
				n += v
			}
		}
		return n
	}
	before := applied()
	dirs := []string{filepath.Join(t.TempDir(), "m1"), filepath.Join(t.TempDir(), "m2")}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	outs := make([][]byte, len(dirs))
	errs := make([]error, len(dirs))
	for i, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, bin, "-contact", strings.Join(lc.ContactPoints(), ","), "-duration", "3s", "-progress=false",
				"-reset-stats=false", "-entities", "200", "-workers", "2", "-ask-concurrency", "4", "-out", d)
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append([]string{"merge", "-json"}, dirs...), &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("merge: got exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	var m mergedReport
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	if got := applied() - before; m.TellsDelivered != got || m.Lost != 0 || !m.OK {
		t.Errorf("got merged delivered %d lost %d ok %v, want the cluster's own count %d, 0, true", m.TellsDelivered, m.Lost, m.OK, got)
	}
	checkMergedP99(t, &m)
}

// TestMergeRefusesWhatIsNotOneRun: a directory given twice, and sources of
// different workloads, are usage errors, not a report that sums them.
func TestMergeRefusesWhatIsNotOneRun(t *testing.T) {
	a := runOut(t, &memTarget{}, "-duration", "500ms", "-ask-concurrency", "1")
	b := runOut(t, &memTarget{}, "-duration", "500ms", "-ask-concurrency", "1", "-shards", "16")
	for _, tc := range []struct {
		name string
		dirs []string
		want string
	}{
		{"same directory twice", []string{a, a}, "given twice"},
		{"different shard counts", []string{a, b}, "not one workload"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"merge"}, tc.dirs...), &stdout, &stderr, nil)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr.String(), exitUsage, tc.want)
		}
	}
}

// TestMergeMissingAndFailedSources: a directory that does not exist is a
// usage error naming it (no report); a source whose own report failed
// (a loss its target made) makes the merge fail too (exit 1, ok false),
// with that source marked FAILED and the other OK, and its loss summed.
func TestMergeMissingAndFailedSources(t *testing.T) {
	good := runOut(t, &memTarget{}, "-duration", "500ms", "-ask-concurrency", "1")
	missing := filepath.Join(t.TempDir(), "never-written")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"merge", good, missing}, &stdout, &stderr, nil); code != exitUsage ||
		!strings.Contains(stderr.String(), missing) || stdout.Len() != 0 {
		t.Errorf("missing directory: exit %d, stdout %d bytes, stderr %q; want %d, nothing, an error naming %s",
			code, stdout.Len(), stderr.String(), exitUsage, missing)
	}

	lossy := &memTarget{loseEvery: 5}
	bad := filepath.Join(t.TempDir(), "bad")
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"-entities", "20", "-workers", "1", "-progress=false", "-out", bad, "-duration", "500ms", "-ask-concurrency", "1"},
		&stdout, &stderr, memOpener(lossy)); code != exitLoss {
		t.Fatalf("lossy run: exit %d, want %d; stderr:\n%s", code, exitLoss, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"merge", "-json", good, bad}, &stdout, &stderr, nil); code != exitLoss {
		t.Fatalf("merge with a failed source: exit %d, want %d; stderr:\n%s", code, exitLoss, stderr.String())
	}
	var m mergedReport
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	if m.OK || len(m.Sources) != 2 || !m.Sources[0].OK || m.Sources[1].OK {
		t.Errorf("got ok %v, sources %+v; want false, the first OK and the second not", m.OK, m.Sources)
	}
	if want := lossy.lost.Load(); want == 0 || m.Lost != want || m.UnexplainedLost != want {
		t.Errorf("got merged lost %d (unexplained %d), want the lossy target's own count %d (> 0)", m.Lost, m.UnexplainedLost, want)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"merge", good, bad}, &stdout, &stderr, nil); code != exitLoss ||
		!strings.Contains(stdout.String(), "result  FAILED") || !strings.Contains(stdout.String(), bad) {
		t.Errorf("table: exit %d, want %d and a FAILED result naming %s:\n%s", code, exitLoss, bad, stdout.String())
	}
}
