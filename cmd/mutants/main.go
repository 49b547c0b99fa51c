// Command mutants runs zerohop's mutation gate: every mutation of
// internal/mutant's list (one deliberate break of an invariant that
// node/doc.go or engine/doc.go states) is applied on its own, through
// go test -overlay (the source tree is never written), and the tests that
// must catch it are run; every one must fail.
//
//	go run ./cmd/mutants                  # the whole list (make mutants)
//	go run ./cmd/mutants -fast            # the fast subset (make mutants-fast)
//	go run ./cmd/mutants -fast -sample    # one fast mutation per invariant (make mutants-ci, in .ci/run)
//	go run ./cmd/mutants -run 'node/hop'  # mutations whose name matches
//	go run ./cmd/mutants -list            # the list, without running it
//	go run ./cmd/mutants -markdown        # TESTING.md's mutation list
//
// Before the mutations, the tests they name are run once unmutated (-baseline,
// on by default): a test that fails without a mutation proves nothing.
// Mutations run one at a time (the node tests start real clusters). For
// each, the result is killed (a listed test failed), survived (they all
// passed), invalid (the mutated package does not build, or -run selects
// no test), stale (the snippet is not in its file exactly once) or timed
// out (a kill only where the mutation documents why). Exit status: 0 every
// mutation was killed, 1 one was not (or a baseline failed), 2 usage or
// set-up error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/zerohop/zerohop/internal/mutant"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	run      string
	fast     bool
	sample   bool
	list     bool
	markdown bool
	baseline bool
	race     bool
	keep     bool
	timeout  time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("mutants", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.run, "run", "", "run only the mutations whose name matches this regexp")
	fs.BoolVar(&o.fast, "fast", false, "run only the fast subset (mutations marked Fast: unit-level tests)")
	fs.BoolVar(&o.sample, "sample", false, "of the selected mutations, run only the first of each invariant bullet (with -fast: the CI sample)")
	fs.BoolVar(&o.list, "list", false, "print the selected mutations and exit")
	fs.BoolVar(&o.markdown, "markdown", false, "print TESTING.md's mutation list (every mutation) and exit")
	fs.BoolVar(&o.baseline, "baseline", true, "first run the selected tests without mutation (they must pass)")
	fs.BoolVar(&o.race, "race", false, "build the test binaries with -race")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (overlays, test binaries)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on one test run (a mutation may set its own)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var bad []string
	if fs.NArg() > 0 {
		bad = append(bad, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if _, err := regexp.Compile(o.run); err != nil {
		bad = append(bad, fmt.Sprintf("-run: %v", err))
	}
	if o.timeout <= 0 {
		bad = append(bad, fmt.Sprintf("-timeout %v <= 0", o.timeout))
	}
	if len(bad) > 0 {
		return nil, errors.New("mutants: " + strings.Join(bad, "; "))
	}
	return o, nil
}

// selectMutations returns the mutations of the list o selects.
func selectMutations(o *options) []mutant.Mutation {
	re := regexp.MustCompile(o.run) // checked by parseFlags
	var out []mutant.Mutation
	seen := map[string]bool{} // Doc + Invariant, with -sample
	for _, m := range mutant.List() {
		if (o.fast && !m.Fast) || !re.MatchString(m.Name) {
			continue
		}
		if key := m.Doc + "\x00" + m.Invariant; o.sample {
			if seen[key] {
				continue
			}
			seen[key] = true
		}
		out = append(out, m)
	}
	return out
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root, err := moduleRoot(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if o.markdown {
		md, err := mutant.Markdown(root, mutant.List())
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		fmt.Fprintln(stdout, md)
		return 0
	}
	ms := selectMutations(o)
	if len(ms) == 0 {
		fmt.Fprintln(stderr, "mutants: no mutation selected")
		return 2
	}
	if o.list {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s -run %s\n", m.Name, m.File, m.Package, m.Run)
		}
		_ = tw.Flush()
		return 0
	}

	work, err := os.MkdirTemp("", "zerohop-mutants-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if o.keep {
		fmt.Fprintf(stderr, "mutants: scratch directory %s (kept)\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	r := &mutant.Runner{Root: root, Timeout: o.timeout, Race: o.race, Work: work}
	began := time.Now()
	failed := false

	if o.baseline {
		type sel struct{ pkg, run string }
		var sels []sel
		seen := map[sel]bool{}
		for _, m := range ms {
			s := sel{m.Package, m.Run}
			if !seen[s] {
				seen[s] = true
				sels = append(sels, s)
			}
		}
		for i, s := range sels {
			res := r.Baseline(ctx, s.pkg, s.run)
			fmt.Fprintf(stderr, "[baseline %d/%d] %s -run %s: %s (%.1fs)%s\n", i+1, len(sels), s.pkg, s.run,
				res.Outcome, res.Took.Seconds(), detail(res))
			if res.Outcome != mutant.Passed {
				failed = true
			}
			if ctx.Err() != nil {
				return 130
			}
		}
		if failed {
			fmt.Fprintln(stderr, "mutants: a baseline failed: the tests must pass without mutation before they can kill one")
			return 1
		}
	}

	var results []mutant.Result
	for i, m := range ms {
		res := r.Run(ctx, m)
		if ctx.Err() != nil {
			return 130
		}
		results = append(results, res)
		fmt.Fprintf(stderr, "[%d/%d] %s: %s (%.1fs)%s\n", i+1, len(ms), m.Name, res.Outcome, res.Took.Seconds(), detail(res))
		if !res.Outcome.OK() {
			failed = true
		}
	}

	counts := map[mutant.Outcome]int{}
	tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| mutation\t| result\t| seconds\t| detail\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|")
	for _, res := range results {
		counts[res.Outcome]++
		fmt.Fprintf(tw, "| %s\t| %s\t| %.1f\t| %s\t|\n", res.Name, res.Outcome, res.Took.Seconds(), cut(res.Detail, 100))
	}
	_ = tw.Flush()
	killed := counts[mutant.Killed] + counts[mutant.KilledByTimeout]
	fmt.Fprintf(stdout, "\n%d of %d mutations killed (%d survived, %d timed out, %d invalid, %d stale) in %s\n",
		killed, len(results), counts[mutant.Survived], counts[mutant.TimedOut], counts[mutant.Invalid], counts[mutant.Stale],
		time.Since(began).Round(time.Second))
	if failed {
		return 1
	}
	return 0
}

func detail(res mutant.Result) string {
	if res.Detail == "" {
		return ""
	}
	return ": " + cut(res.Detail, 300)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// moduleRoot returns the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("mutants: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("mutants: not inside the zerohop module")
	}
	return filepath.Dir(mod), nil
}
