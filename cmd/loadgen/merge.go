package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// mergedReport is what loadgen merge prints: the runs of several loadgen
// processes (on one machine or many) against one cluster, as one.
type mergedReport struct {
	Sources []mergeSource `json:"sources"`

	TellsSent       int64   `json:"tells_sent"`
	TellsDelivered  int64   `json:"tells_delivered"`
	TellsFailed     int64   `json:"tells_failed"`
	Lost            int64   `json:"lost"`
	UnexplainedLost int64   `json:"unexplained_lost"`
	TellsPerSec     float64 `json:"tells_per_sec"` // the sum of the sources' (they ran at the same time)
	Asks            int64   `json:"asks"`
	AskErrors       int64   `json:"ask_errors"`
	AsksPerSec      float64 `json:"asks_per_sec"`
	// The percentiles of every source's ask latencies together (their
	// interval logs merged), not an average of percentiles.
	AskP50US  float64 `json:"ask_p50_us"`
	AskP90US  float64 `json:"ask_p90_us"`
	AskP99US  float64 `json:"ask_p99_us"`
	AskP999US float64 `json:"ask_p999_us"`
	AskMaxUS  float64 `json:"ask_max_us"`
	OK        bool    `json:"ok"` // every source OK
}

// mergeSource is one source's line of the breakdown.
type mergeSource struct {
	Dir            string  `json:"dir"`
	TellsPerSec    float64 `json:"tells_per_sec"`
	TellsDelivered int64   `json:"tells_delivered"`
	Lost           int64   `json:"lost"`
	Asks           int64   `json:"asks"`
	AskP50US       float64 `json:"ask_p50_us"`
	AskP99US       float64 `json:"ask_p99_us"`
	Interrupted    bool    `json:"interrupted"`
	OK             bool    `json:"ok"`
}

// readHlog merges every interval of an interval log into one histogram.
func readHlog(path string) (*hdrhistogram.Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	defer f.Close()
	total := newHist()
	lr := hdrhistogram.NewHistogramLogReader(f)
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("loadgen: %s: %w", path, err)
		}
		if h == nil {
			return total, nil
		}
		total.Merge(h)
	}
}

// merge combines the runs saved in dirs.
func merge(dirs []string) (*mergedReport, error) {
	m := &mergedReport{OK: true}
	all := newHist()
	seen := map[string]bool{}
	var first *report
	for _, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			if seen[abs] {
				return nil, fmt.Errorf("loadgen: merge: %s is given twice (its counts would be summed twice)", d)
			}
			seen[abs] = true
		}
		s, err := loadRun(d)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = &s.rep
		} else if r := &s.rep; r.System != first.System || r.EntityType != first.EntityType || r.Shards != first.Shards {
			return nil, fmt.Errorf("loadgen: merge: %s ran %s/%s with %d shards, %s ran %s/%s with %d: not one workload",
				d, r.System, r.EntityType, r.Shards, dirs[0], first.System, first.EntityType, first.Shards)
		}
		h, err := readHlog(filepath.Join(d, outHlog))
		if err != nil {
			return nil, err
		}
		all.Merge(h)
		r := &s.rep
		m.TellsSent += r.TellsSent
		m.TellsDelivered += r.TellsDelivered
		m.TellsFailed += r.TellsFailed
		m.Lost += r.Lost
		m.UnexplainedLost += r.UnexplainedLost
		m.TellsPerSec += r.TellsPerSec
		m.Asks += r.Asks
		m.AskErrors += r.AskErrors
		m.AsksPerSec += r.AsksPerSec
		m.OK = m.OK && r.OK
		m.Sources = append(m.Sources, mergeSource{Dir: d, TellsPerSec: r.TellsPerSec, TellsDelivered: r.TellsDelivered, Lost: r.Lost,
			Asks: r.Asks, AskP50US: quantileUS(h, 50), AskP99US: quantileUS(h, 99), Interrupted: r.Interrupted, OK: r.OK})
	}
	m.AskP50US, m.AskP90US, m.AskP99US, m.AskP999US = quantileUS(all, 50), quantileUS(all, 90), quantileUS(all, 99), quantileUS(all, 99.9)
	m.AskMaxUS = quantileUS(all, 100)
	return m, nil
}

// mergeCmd is loadgen merge [-json] DIR...: the runs of several loadgen
// processes, each saved with -out, as one report with a per-source
// breakdown. It exits 1 when a source was not OK.
func mergeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print one JSON object instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen merge [-json] DIR...   (directories written by loadgen -out, by processes that ran at the same time)")
		fmt.Fprintln(stderr, "Sums tells, losses and throughput, merges the ask latency histograms, and lists each source.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return exitUsage
	}
	m, err := merge(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if *jsonOut {
		err = json.NewEncoder(stdout).Encode(m)
	} else {
		err = m.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitLoss
	}
	if !m.OK {
		return exitLoss
	}
	return exitOK
}

func (m *mergedReport) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	verdict := "OK: 0 lost without an explanation in every source"
	if !m.OK {
		verdict = fmt.Sprintf("FAILED: %d lost without an explanation, or an entity unverified, in a source", m.UnexplainedLost)
	}
	fmt.Fprintf(tw, "result\t%s\n", verdict)
	fmt.Fprintf(tw, "tells\t%s/s delivered by %d sources together; sent %d = delivered %d + failed %d + lost %d\n",
		si(m.TellsPerSec), len(m.Sources), m.TellsSent, m.TellsDelivered, m.TellsFailed, m.Lost)
	fmt.Fprintf(tw, "asks\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%d ok, %s/s, %d errors; histograms merged)\n",
		usStr(m.AskP50US), usStr(m.AskP90US), usStr(m.AskP99US), usStr(m.AskP999US), usStr(m.AskMaxUS), m.Asks, si(m.AsksPerSec), m.AskErrors)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "source\ttells/s\tdelivered\tlost\tasks\task p50\task p99\tresult")
	for _, s := range m.Sources {
		res := "OK"
		if !s.OK {
			res = "FAILED"
		}
		if s.Interrupted {
			res += " (interrupted)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", s.Dir, si(s.TellsPerSec), s.TellsDelivered, s.Lost, s.Asks, usStr(s.AskP50US), usStr(s.AskP99US), res)
	}
	return tw.Flush()
}
