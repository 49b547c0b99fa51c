package mutant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Outcome is how a mutation fared.
type Outcome string

const (
	// Killed: a listed test failed under the mutation.
	Killed Outcome = "killed"
	// Survived: every listed test passed under the mutation.
	Survived Outcome = "survived"
	// TimedOut: the tests did not finish in time, and the mutation does
	// not say why that would count as a kill.
	TimedOut Outcome = "timed out"
	// KilledByTimeout: the tests did not finish in time, and the mutation
	// documents why (Mutation.TimeoutKills).
	KilledByTimeout Outcome = "killed (timeout)"
	// Invalid: the mutated package does not build (a mutation must
	// compile to mean anything), or Run selected no test.
	Invalid Outcome = "invalid"
	// Stale: the snippet is not in the file exactly once.
	Stale Outcome = "stale"
	// Passed and Failed are the outcomes of a baseline run (no mutation).
	Passed Outcome = "passed"
	Failed Outcome = "failed"
)

// OK reports whether the outcome satisfies the gate.
func (o Outcome) OK() bool { return o == Killed || o == KilledByTimeout || o == Passed }

// Result is the outcome of one mutation (or one baseline run).
type Result struct {
	Name    string
	Outcome Outcome
	Took    time.Duration
	// Detail: the tests that failed (killed), the build error (invalid),
	// or the tail of the output.
	Detail string
}

// Runner applies mutations one at a time through go test -overlay (the
// source tree is never written) and runs the tests that must kill each.
// Not safe for concurrent use: mutations run in sequence, since the node
// tests start real clusters and share the machine's cores.
type Runner struct {
	Root    string        // module root
	Go      string        // the go command; "go" when empty
	Timeout time.Duration // per test run when the mutation sets none; 5 minutes when 0
	Race    bool          // build the test binaries with -race
	Work    string        // scratch directory (overlays, binaries); required

	base map[string]string // package -> unmutated test binary
}

func (r *Runner) goCmd() string {
	if r.Go == "" {
		return "go"
	}
	return r.Go
}

func (r *Runner) timeout(m Mutation) time.Duration {
	switch {
	case m.Timeout > 0:
		return m.Timeout
	case r.Timeout > 0:
		return r.Timeout
	}
	return 5 * time.Minute
}

// Run applies m, builds its package's test binary and runs m.Run in it.
func (r *Runner) Run(ctx context.Context, m Mutation) Result {
	start := time.Now()
	res := Result{Name: m.Name}
	done := func(o Outcome, detail string) Result {
		res.Outcome, res.Detail, res.Took = o, detail, time.Since(start)
		return res
	}
	file := filepath.Join(r.Root, m.File)
	src, err := os.ReadFile(file)
	if err != nil {
		return done(Stale, err.Error())
	}
	mutated, err := m.Apply(src)
	if err != nil {
		return done(Stale, err.Error())
	}
	dir, err := os.MkdirTemp(r.Work, "mutation-")
	if err != nil {
		return done(Invalid, err.Error())
	}
	defer os.RemoveAll(dir)
	repl := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(repl, mutated, 0o644); err != nil {
		return done(Invalid, err.Error())
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {file: repl}})
	if err != nil {
		return done(Invalid, err.Error())
	}
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		return done(Invalid, err.Error())
	}
	bin := filepath.Join(dir, "pkg.test")
	if out, err := r.build(ctx, m.Package, bin, ov); err != nil {
		return done(Invalid, "build: "+tail(out, 1500))
	}
	o, detail := r.exec(ctx, bin, m.Package, m.Run, r.timeout(m))
	switch o {
	case Failed:
		o = Killed
	case Passed:
		o = Survived
	case TimedOut:
		if m.TimeoutKills != "" {
			o = KilledByTimeout
		}
	}
	return done(o, detail)
}

// Baseline runs the tests run selects in pkg without any mutation: they
// must pass, or a kill would mean nothing. The unmutated binary is built
// once per package.
func (r *Runner) Baseline(ctx context.Context, pkg, run string) Result {
	start := time.Now()
	res := Result{Name: "baseline " + pkg + " -run " + run}
	if r.base == nil {
		r.base = map[string]string{}
	}
	bin, ok := r.base[pkg]
	if !ok {
		bin = filepath.Join(r.Work, "base-"+strings.NewReplacer("/", "_", ".", "_").Replace(pkg)+".test")
		if out, err := r.build(ctx, pkg, bin, ""); err != nil {
			res.Outcome, res.Detail, res.Took = Invalid, "build: "+tail(out, 1500), time.Since(start)
			return res
		}
		r.base[pkg] = bin
	}
	res.Outcome, res.Detail = r.exec(ctx, bin, pkg, run, r.Timeout)
	if res.Outcome == TimedOut {
		res.Outcome = Failed
	}
	res.Took = time.Since(start)
	return res
}

// build compiles pkg's test binary to bin, with overlay when set.
func (r *Runner) build(ctx context.Context, pkg, bin, overlay string) ([]byte, error) {
	args := []string{"test", "-c", "-o", bin}
	if r.Race {
		args = append(args, "-race")
	}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, r.goCmd(), args...)
	cmd.Dir = r.Root
	out, err := cmd.CombinedOutput()
	if err == nil {
		if _, serr := os.Stat(bin); serr != nil {
			return out, fmt.Errorf("no test binary (no test files in %s?)", pkg)
		}
	}
	return out, err
}

var (
	failLine     = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
	failMsg      = regexp.MustCompile(`(?m)^\s+(\w+_test\.go:\d+: .*)$`)
	panicLine    = regexp.MustCompile(`(?m)^panic: .*$`)
	timedOutLine = regexp.MustCompile(`(?m)^panic: test timed out after`)
)

// exec runs the test binary bin of pkg (in the package directory, as go
// test does) with -test.run run, and returns Passed, Failed or TimedOut
// (Invalid when run selected no test), with the failing tests or the
// output's tail.
func (r *Runner) exec(ctx context.Context, bin, pkg, run string, timeout time.Duration) (Outcome, string) {
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	// The binary's own -test.timeout panics with the goroutine dump; the
	// context is the backstop for a binary that does not even do that.
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run", run, "-test.count", "1", "-test.failfast",
		"-test.timeout", timeout.String(), "-test.v")
	cmd.Dir = filepath.Join(r.Root, pkg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	b := out.Bytes()
	var ee *exec.ExitError
	switch {
	case err == nil:
		if !bytes.Contains(b, []byte("=== RUN")) {
			return Invalid, "no test matches -run " + run
		}
		if !bytes.Contains(b, []byte("--- PASS: ")) {
			return Invalid, "every test -run " + run + " selects skipped"
		}
		return Passed, ""
	case ctx.Err() != nil || timedOutLine.Match(b):
		return TimedOut, tail(b, 600)
	case errors.As(err, &ee):
		var failed []string
		for _, m := range failLine.FindAllSubmatch(b, -1) {
			failed = append(failed, string(m[1]))
		}
		// The first message the first failing test logged: with -test.v
		// it is between the test's "=== RUN" and its "--- FAIL" lines.
		why := ""
		if loc := failLine.FindSubmatchIndex(b); loc != nil {
			start := max(0, bytes.LastIndex(b[:loc[0]], append([]byte("=== RUN   "), b[loc[2]:loc[3]]...)))
			if m := failMsg.FindSubmatch(b[start:loc[0]]); m != nil {
				why = string(m[1])
			}
		}
		if m := panicLine.Find(b); why == "" && m != nil {
			why = string(m)
		}
		if len(failed) == 0 {
			failed = []string{"(no test failed: the binary exited " + ee.ProcessState.String() + ")"}
		}
		return Failed, strings.Join(failed, " ") + ": " + cutLine(why, 200)
	}
	return Failed, err.Error()
}

// cutLine returns s cut to n bytes.
func cutLine(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// tail returns the last n bytes of b, on one line.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
