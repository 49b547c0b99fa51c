package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"text/tabwriter"
)

// subcommands are the words that, first on the command line, select
// another command than a load run.
var subcommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"compare": compareCmd,
	"merge":   mergeCmd,
}

// savedRun is one -out directory read back.
type savedRun struct {
	dir    string
	rep    report
	points []seriesPoint // nil when series.jsonl is missing
}

// loadRun reads dir's report.json and, if present, its series.jsonl.
func loadRun(dir string) (*savedRun, error) {
	b, err := os.ReadFile(filepath.Join(dir, outReport))
	if err != nil {
		return nil, fmt.Errorf("loadgen: %s: %w (a directory written by -out)", dir, err)
	}
	s := &savedRun{dir: dir}
	if err := json.Unmarshal(b, &s.rep); err != nil {
		return nil, fmt.Errorf("loadgen: %s: %w", filepath.Join(dir, outReport), err)
	}
	f, err := os.Open(filepath.Join(dir, outSeries))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var p seriesPoint
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("loadgen: %s: %w", filepath.Join(dir, outSeries), err)
		}
		s.points = append(s.points, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: %s: %w", filepath.Join(dir, outSeries), err)
	}
	return s, nil
}

// metric is one line of a comparison.
type metric struct {
	name   string
	value  func(*report) float64
	format func(float64) string
	// perSecond, when set, is the metric's value in one second of the
	// load (NaN when that second has none), for its spread.
	perSecond func(*seriesPoint) float64
}

var compareMetrics = []metric{
	{"tells/s delivered", func(r *report) float64 { return r.TellsPerSec }, si, func(p *seriesPoint) float64 { return p.TellsPerSec }},
	{"asks/s", func(r *report) float64 { return r.AsksPerSec }, si, func(p *seriesPoint) float64 { return p.AsksPerSec }},
	{"ask p50", func(r *report) float64 { return r.AskP50US }, usStr, func(p *seriesPoint) float64 { return askOr(p, p.AskP50US) }},
	{"ask p90", func(r *report) float64 { return r.AskP90US }, usStr, func(p *seriesPoint) float64 { return askOr(p, p.AskP90US) }},
	{"ask p99", func(r *report) float64 { return r.AskP99US }, usStr, func(p *seriesPoint) float64 { return askOr(p, p.AskP99US) }},
	{"ask p99.9", func(r *report) float64 { return r.AskP999US }, usStr, nil},
	{"ask max", func(r *report) float64 { return r.AskMaxUS }, usStr, nil},
	{"tell lag p99", func(r *report) float64 { return r.TellLagP99US }, usStr, nil},
	{"cpu cores", func(r *report) float64 { return r.CPUCores }, func(v float64) string { return fmt.Sprintf("%.2f", v) }, nil},
	{"tells lost", func(r *report) float64 { return float64(r.Lost) }, func(v float64) string { return fmt.Sprintf("%.0f", v) }, nil},
	{"unexplained lost", func(r *report) float64 { return float64(r.UnexplainedLost) }, func(v float64) string { return fmt.Sprintf("%.0f", v) }, nil},
}

func askOr(p *seriesPoint, v float64) float64 {
	if p.AsksOK == 0 {
		return math.NaN()
	}
	return v
}

// stdErr is the standard error of the mean of the metric's per-second
// values in run s (full seconds only: the last, partial interval is left
// out), and how many seconds it rests on.
func stdErr(s *savedRun, m *metric) (float64, int) {
	var xs []float64
	for i := range s.points {
		p := &s.points[i]
		if v := m.perSecond(p); p.IntervalS >= 0.9 && !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	if len(xs) < 2 {
		return math.NaN(), len(xs)
	}
	var mean, ss float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss/float64(len(xs)-1)) / math.Sqrt(float64(len(xs))), len(xs)
}

// significance says whether b's change from a exceeds the spread: more
// than twice the combined standard error of the two runs' per-second
// values ("beyond spread"), or not ("within spread"); "" when there is no
// per-second data for the metric.
func significance(a, b *savedRun, m *metric) string {
	if m.perSecond == nil {
		return ""
	}
	ea, na := stdErr(a, m)
	eb, nb := stdErr(b, m)
	if math.IsNaN(ea) || math.IsNaN(eb) || na < 2 || nb < 2 {
		return ""
	}
	if math.Abs(m.value(&b.rep)-m.value(&a.rep)) > 2*math.Hypot(ea, eb) {
		return "beyond spread"
	}
	return "within spread"
}

// compareCmd is loadgen compare A B [C...]: each metric of the runs saved
// by -out side by side, each later run's change from the first and
// whether it exceeds the spread of the per-second values.
func compareCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen compare DIR DIR [DIR...]   (directories written by loadgen -out)")
		fmt.Fprintln(stderr, "Each metric side by side; each run after the first with its change from the first, and")
		fmt.Fprintln(stderr, "\"beyond spread\" when the change exceeds twice the combined standard error of the two runs'")
		fmt.Fprintln(stderr, "per-second values (\"within spread\" otherwise; nothing when there are no per-second values).")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return exitUsage
	}
	var runs []*savedRun
	for _, d := range fs.Args() {
		s, err := loadRun(d)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		runs = append(runs, s)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "metric")
	for _, r := range runs {
		fmt.Fprintf(tw, "\t%s", r.dir)
	}
	fmt.Fprintln(tw)
	for i := range compareMetrics {
		m := &compareMetrics[i]
		base := m.value(&runs[0].rep)
		fmt.Fprintf(tw, "%s\t%s", m.name, m.format(base))
		for _, r := range runs[1:] {
			v := m.value(&r.rep)
			fmt.Fprintf(tw, "\t%s %s %s", m.format(v), change(base, v), significance(runs[0], r, m))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, err)
		return exitLoss
	}
	return exitOK
}

// change formats b's change from a in percent.
func change(a, b float64) string {
	switch {
	case a == b:
		return "(=)"
	case a == 0:
		return "(new)"
	}
	return fmt.Sprintf("(%+.1f%%)", 100*(b-a)/a)
}
