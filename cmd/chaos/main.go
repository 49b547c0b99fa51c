// Command chaos runs zerohop's chaos scenarios against real cmd/node
// processes driven by cmd/loadgen, and exits non-zero when any scenario
// had a violation (see internal/chaos for what each checks).
//
//	go run ./cmd/chaos -list
//	go run ./cmd/chaos -scenario follower-kill,pause-owner
//	go run ./cmd/chaos -scenario all -keep-logs /tmp/chaos -json
//	sudo go run ./cmd/chaos -scenario partition    # network namespaces: root
//
// It builds cmd/node and cmd/loadgen into a temporary directory (or takes
// them from -bin), removes network namespaces left by earlier runs that
// died (prefix zhc-), and cleans up everything it started on every exit
// path, SIGINT and SIGTERM included. Exit status: 0 every scenario passed,
// 1 a scenario failed, 2 usage or set-up error, 130 interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/zerohop/zerohop/internal/chaos"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	scenarios string
	nodes     int
	duration  time.Duration
	rate      float64
	bin       string
	keepLogs  string
	json      bool
	list      bool
	strict    bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenarios, "scenario", "", "comma-separated scenario names, or all (see -list)")
	fs.IntVar(&o.nodes, "nodes", 3, "cluster size (leader-kill-5 always runs 5 nodes)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "minimum load duration; a scenario extends it to fit its fault")
	fs.Float64Var(&o.rate, "rate", chaos.LoadRate, "loadgen -rate in tells/s")
	fs.StringVar(&o.bin, "bin", "", "directory with prebuilt node and loadgen binaries (default: build them)")
	fs.StringVar(&o.keepLogs, "keep-logs", "", "write every process's log under this directory and keep it (default: a temporary directory, kept only when a scenario fails)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per scenario instead of text blocks")
	fs.BoolVar(&o.list, "list", false, "list the scenarios and exit")
	fs.BoolVar(&o.strict, "strict", false, "a check that cannot be made (data the binaries do not provide yet) fails its scenario")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var bad []string
	if fs.NArg() > 0 {
		bad = append(bad, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if o.nodes < 2 {
		bad = append(bad, fmt.Sprintf("-nodes %d < 2", o.nodes))
	}
	if o.duration <= 0 {
		bad = append(bad, fmt.Sprintf("-duration %v <= 0", o.duration))
	}
	if o.rate < 0 {
		bad = append(bad, fmt.Sprintf("-rate %v < 0", o.rate))
	}
	if !o.list && o.scenarios == "" {
		bad = append(bad, "-scenario is required (or -list)")
	}
	if len(bad) > 0 {
		return nil, errors.New("chaos: " + strings.Join(bad, "; "))
	}
	return o, nil
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
	if o.list {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, s := range chaos.Scenarios() {
			net := "loopback"
			if s.Netns {
				net = "netns (root)"
			}
			fmt.Fprintf(tw, "%s\t%d nodes\t%s\t%s\n", s.Name, s.Nodes, net, s.About)
		}
		_ = tw.Flush()
		return 0
	}
	names, err := chaos.ParseScenarios(o.scenarios)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if os.Geteuid() == 0 {
		if stale, err := chaos.CleanupStale(ctx); err != nil {
			fmt.Fprintf(stderr, "chaos: stale namespaces: %v\n", err)
		} else if len(stale) > 0 {
			fmt.Fprintf(stderr, "chaos: removed stale namespaces %s\n", strings.Join(stale, ", "))
		}
	}

	nodeBin, loadBin := chaos.Binaries(o.bin)
	if o.bin == "" {
		dir, err := os.MkdirTemp("", "zerohop-chaos-bin-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		defer os.RemoveAll(dir)
		wd, _ := os.Getwd()
		mod, err := chaos.ModuleDir(ctx, wd)
		if err == nil {
			fmt.Fprintf(stderr, "chaos: building cmd/node and cmd/loadgen\n")
			nodeBin, loadBin, err = chaos.BuildBinaries(ctx, mod, dir)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	h, err := chaos.NewHarness(ctx, chaos.Config{
		NodeBin: nodeBin, LoadgenBin: loadBin, LogDir: o.keepLogs,
		Nodes: o.nodes, Duration: o.duration, Rate: o.rate, Strict: o.strict, Log: stderr,
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// A signal kills the processes at once (the scenario waiting on them
	// returns); the deferred Close then removes the namespaces and logs.
	closed := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = h.Close()
		case <-closed:
		}
	}()
	defer func() {
		close(closed)
		if err := h.Close(); err != nil {
			fmt.Fprintf(stderr, "chaos: cleanup: %v\n", err)
		}
	}()

	passed, failed := 0, 0
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		res := h.Run(ctx, name)
		if ctx.Err() != nil && res.Error == "" {
			res.Error = "interrupted"
		}
		if o.json {
			_ = res.WriteJSON(stdout)
		} else {
			_ = res.WriteText(stdout)
		}
		if res.Failed() {
			failed++
		} else {
			passed++
		}
	}
	summary := stdout
	if o.json {
		summary = stderr // stdout holds only the JSON objects
	}
	fmt.Fprintf(summary, "chaos: %d passed, %d failed\n", passed, failed)
	switch {
	case ctx.Err() != nil:
		return 130
	case failed > 0:
		return 1
	}
	return 0
}
