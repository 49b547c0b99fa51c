package chaos

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// ciScenarios is the short subset CI runs, about 4 minutes with the build
// (CIBudget bounds it): one of each kind of fault (a leader's death, a
// paused owner, a partition through network namespaces, a rolling restart,
// a rogue node and a rogue client, hostile bytes). follower-kill,
// contact-death and leader-kill-5 are the leader-kill's failover on easier
// or larger terms; `make chaos` runs them all, and the binary variants
// (pause-owner-binary, ...: binary.go), about 2 minutes more than this
// subset's budget allows.
var ciScenarios = []string{"leader-kill", "pause-owner", "partition", "rolling-restart", "rogue-node", "rogue-client", "hostile-frames"}

// CIBudget bounds the whole CI subset, build included (issue 9: under 5
// minutes); make chaos-ci gives go test a little more, so that a run
// over budget fails here, with its figures, rather than in go test's
// timeout panic.
const CIBudget = 4*time.Minute + 30*time.Second

// chaosEnabled says whether the chaos subset runs: ZEROHOP_CHAOS=1 runs
// it, ZEROHOP_CHAOS=0 skips it (make test sets that: CI runs the subset
// in its own step, make chaos-ci, not beside the race tests), and
// otherwise CI=true runs it.
func chaosEnabled() (bool, string) {
	switch os.Getenv("ZEROHOP_CHAOS") {
	case "1":
		return true, ""
	case "0":
		return false, "ZEROHOP_CHAOS=0: the chaos subset runs in its own step (make chaos-ci)"
	}
	if os.Getenv("CI") == "true" {
		return true, ""
	}
	return false, "the chaos subset starts real node processes and network namespaces (root): set ZEROHOP_CHAOS=1 (or CI=true) to run it, or use make chaos"
}

// TestChaosCI runs ciScenarios against freshly built cmd/node and
// cmd/loadgen, in strict mode: a check that cannot be made fails. Once
// enabled it fails, never skips, when it cannot run (no go toolchain, a
// build error; no root or ip(8) when the subset holds a namespaced
// scenario) or takes longer than CIBudget.
func TestChaosCI(t *testing.T) {
	on, why := chaosEnabled()
	if !on {
		t.Skip(why)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), CIBudget)
	defer cancel()
	if slices.ContainsFunc(ciScenarios, NeedsNetns) {
		if err := CheckNetns(ctx); err != nil {
			t.Fatalf("the chaos subset cannot run here: %v", err)
		}
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the chaos subset builds cmd/node and cmd/loadgen: %v", err)
	}
	if os.Geteuid() == 0 {
		if stale, err := CleanupStale(ctx); err != nil {
			t.Fatalf("stale namespaces: %v", err)
		} else if len(stale) > 0 {
			t.Logf("removed stale namespaces %v", stale)
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	mod, err := ModuleDir(ctx, wd)
	if err != nil {
		t.Fatal(err)
	}
	nodeBin, loadBin, err := BuildBinaries(ctx, mod, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logs := os.Getenv("ZEROHOP_CHAOS_LOGS") // keep logs there (CI artefacts)
	var progress bytes.Buffer
	h, err := NewHarness(ctx, Config{
		NodeBin: nodeBin, LoadgenBin: loadBin, LogDir: logs,
		Duration: 10 * time.Second, Strict: true, Log: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}()
	for _, name := range ciScenarios {
		t.Run(name, func(t *testing.T) {
			res := h.Run(ctx, name)
			var out bytes.Buffer
			_ = res.WriteText(&out)
			// Printed whole, pass or fail: the figures are the point.
			t.Logf("\n%s", out.String())
			if res.Failed() {
				t.Errorf("%s failed (logs %s)", name, res.Logs)
			}
		})
	}
	t.Logf("progress:\n%s", progress.String())
	if d := time.Since(start); ctx.Err() != nil {
		t.Errorf("the chaos subset took more than %v (its budget)", CIBudget)
	} else {
		t.Logf("the chaos subset took %v (budget %v)", d.Round(time.Second), CIBudget)
	}
}
