package mutant

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunnerClassifies runs the runner on a tiny module of its own: a kill,
// a survivor, a mutation that does not build, a stale snippet, a -run that
// selects nothing, a hang with and without a documented reason, and the
// baseline.
func TestRunnerClassifies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds test binaries")
	}
	root := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.26\n",
		"m/m.go": `package m

func Add(a, b int) int { return a + b }

func Untested(a int) int { return a * 2 }

func Loop(n int) int {
	for i := 0; i < n; i++ {
	}
	return n
}
`,
		"m/m_test.go": `package m

import "testing"

func TestAdd(t *testing.T) {
	if Add(1, 2) != 3 {
		t.Fatalf("Add(1, 2) = %d, want 3", Add(1, 2))
	}
}

func TestLoop(t *testing.T) { _ = Loop(3) }

func TestSkipped(t *testing.T) { t.Skip("always") }
`,
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	orig, _ := os.ReadFile(filepath.Join(root, "m/m.go"))
	r := &Runner{Root: root, Work: t.TempDir(), Timeout: time.Minute}
	ctx := context.Background()
	if res := r.Baseline(ctx, "./m", "^TestAdd$"); res.Outcome != Passed {
		t.Fatalf("baseline: %+v", res)
	}
	base := Mutation{File: "m/m.go", Package: "./m", Run: "^TestAdd$"}
	for _, tc := range []struct {
		name         string
		orig, repl   string
		run          string
		timeoutKills string
		want         Outcome
		detail       string
	}{
		{name: "kill", orig: "a + b", repl: "a - b", want: Killed, detail: "TestAdd: m_test.go:7: Add(1, 2) = -1, want 3"},
		{name: "survivor", orig: "a * 2", repl: "a * 3", want: Survived},
		{name: "no build", orig: "a + b", repl: "a + c", want: Invalid, detail: "undefined: c"},
		{name: "stale", orig: "a / b", repl: "a * b", want: Stale, detail: "not found"},
		{name: "no test", orig: "a + b", repl: "a - b", run: "^TestNone$", want: Invalid, detail: "no test matches"},
		{name: "only skipped", orig: "a + b", repl: "a - b", run: "^TestSkipped$", want: Invalid, detail: "skipped"},
		{name: "hang", orig: "i < n; i++", repl: "i < n; i--", run: "^TestLoop$", want: TimedOut},
		{name: "hang documented", orig: "i < n; i++", repl: "i < n; i--", run: "^TestLoop$", timeoutKills: "test", want: KilledByTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			m.Name, m.Orig, m.Repl, m.TimeoutKills = "x/"+tc.name, tc.orig, tc.repl, tc.timeoutKills
			if tc.run != "" {
				m.Run = tc.run
			}
			if tc.want == TimedOut || tc.want == KilledByTimeout {
				m.Timeout = 2 * time.Second
			}
			res := r.Run(ctx, m)
			if res.Outcome != tc.want || !strings.Contains(res.Detail, tc.detail) {
				t.Fatalf("got %s (%q), want %s (%q)", res.Outcome, res.Detail, tc.want, tc.detail)
			}
		})
	}
	if now, _ := os.ReadFile(filepath.Join(root, "m/m.go")); string(now) != string(orig) {
		t.Fatal("the runner wrote the source tree")
	}
}
