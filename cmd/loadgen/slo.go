package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// slo is -slo pQ=D: the latency objective of the knee search.
type slo struct {
	q     float64       // percentile, e.g. 99
	limit time.Duration // the ask latency that percentile must not pass
	text  string
}

func parseSLO(text string) (*slo, error) {
	k, v, ok := strings.Cut(text, "=")
	if !ok || !strings.HasPrefix(k, "p") {
		return nil, fmt.Errorf("-slo %q: want pQ=DURATION, e.g. p99=2ms", text)
	}
	q, err := strconv.ParseFloat(k[1:], 64)
	if err != nil || q <= 0 || q >= 100 {
		return nil, fmt.Errorf("-slo %q: percentile %q is not in (0, 100)", text, k[1:])
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("-slo %q: bad duration %q", text, v)
	}
	return &slo{q: q, limit: d, text: text}, nil
}

// Knee search. Level rates start at -slo-start and double while a level
// meets the objective (or halve while it misses, down to start/64), then
// bisect between the highest rate that met it
// and the lowest that did not until they are within sloResolution of each
// other, or -slo-max is reached. A level meets the objective when the ask
// latency percentile (asks paced at 1% of the rate, at least
// sloMinAskRate, latency from their
// intended send times) is within the limit, nothing was lost, and the
// cluster took the rate: delivered tells/s at least sloSustained of it.
const (
	sloResolution = 1.1
	sloSustained  = 0.95
	sloDownTo     = 64 // a start that misses is halved down to start/64
	// sloMinAskRate: asks/s of a level at least, so that a 3 s level's p99
	// rests on hundreds of asks, not a handful.
	sloMinAskRate = 200
)

// sloLevel is one level of the search.
type sloLevel struct {
	Rate            float64 `json:"rate"`
	TellsPerSec     float64 `json:"tells_per_sec"`
	AskP50US        float64 `json:"ask_p50_us"`
	AskQUS          float64 `json:"ask_q_us"` // at the objective's percentile
	Asks            int64   `json:"asks"`
	Lost            int64   `json:"lost"`
	UnexplainedLost int64   `json:"unexplained_lost"`
	OK              bool    `json:"ok"`    // the loss accounting's verdict
	Meets           bool    `json:"meets"` // the objective's
	Why             string  `json:"why,omitempty"`
	Interrupted     bool    `json:"interrupted,omitempty"`
}

// sloResult is the search's report.
type sloResult struct {
	SLO         string     `json:"slo"`
	LevelS      float64    `json:"level_s"` // seconds of load per level
	Knee        float64    `json:"knee"`    // the highest rate that met the objective; 0 if none did
	Levels      []sloLevel `json:"levels"`  // in the order run
	Interrupted bool       `json:"interrupted"`
	OK          bool       `json:"ok"` // no level lost a tell without an explanation
}

// meets judges one level's report.
func (o *slo) meets(rep *report, rate float64) (bool, string) {
	q := quantileUS(rep.askHist, o.q)
	switch {
	case rep.Lost != 0 || !rep.OK:
		return false, fmt.Sprintf("%d lost", rep.Lost)
	case rep.Asks == 0:
		return false, "no ask answered"
	case q > float64(o.limit)/1e3:
		return false, fmt.Sprintf("ask p%g %s > %v", o.q, usStr(q), o.limit)
	case rep.TellsPerSec < sloSustained*rate:
		return false, fmt.Sprintf("delivered %s/s < %.0f%% of the rate", si(rep.TellsPerSec), 100*sloSustained)
	}
	return true, ""
}

// nextRate is the search's next level, or 0 when it is done.
func nextRate(o *options, levels []sloLevel) float64 {
	lo, hi := 0.0, 0.0 // highest met, lowest missed
	for _, l := range levels {
		if l.Meets && l.Rate > lo {
			lo = l.Rate
		}
		if !l.Meets && (hi == 0 || l.Rate < hi) {
			hi = l.Rate
		}
	}
	switch {
	case len(levels) == 0:
		return o.sloStart
	case hi == 0 && lo >= o.sloMax:
		return 0
	case hi == 0:
		return min(2*lo, o.sloMax)
	case lo == 0 && hi/2 >= o.sloStart/sloDownTo:
		return hi / 2 // the start missed: halve, down to sloDownTo below it
	case lo == 0 || hi/lo <= sloResolution:
		return 0 // nothing met down there, or the knee is bracketed closely enough
	}
	return (lo + hi) / 2
}

// runSLO is -slo: the knee search, one load run per level against one
// cluster, each with fresh entities.
func runSLO(ctx context.Context, interrupt <-chan struct{}, o *options, stdout, stderr io.Writer, open opener) int {
	t, info, err := open(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitLoss
	}
	res, err := sloSearch(o, stderr, func(rate float64) (sloLevel, error) {
		lo := *o
		lo.rate, lo.schedule, lo.askRate = rate, &rateSchedule{start: rate, end: rate}, max(rate/100, sloMinAskRate)
		lo.progress = false
		s := &session{o: &lo, stderr: stderr, interrupt: interrupt, t: t, rep: newReport(&lo)}
		s.rep.Cluster, s.rep.Nodes = info.kind, info.nodes
		err := s.prepare(ctx)
		if err == nil {
			err = s.load(ctx)
		}
		if s.tp != nil {
			s.tp.stop()
		}
		if err != nil {
			return sloLevel{}, err
		}
		s.rep.judge(nil)
		l := sloLevel{Rate: rate, TellsPerSec: s.rep.TellsPerSec, AskP50US: s.rep.AskP50US, AskQUS: quantileUS(s.rep.askHist, o.slo.q),
			Asks: s.rep.Asks, Lost: s.rep.Lost, UnexplainedLost: s.rep.UnexplainedLost, OK: s.rep.OK, Interrupted: s.rep.Interrupted}
		l.Meets, l.Why = o.slo.meets(s.rep, rate)
		return l, nil
	})
	if cerr := closeTarget(t); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitLoss
	}
	if o.jsonOut {
		err = json.NewEncoder(stdout).Encode(res)
	} else {
		err = res.writeTable(stdout, o.slo)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitLoss
	}
	return res.exitCode()
}

// sloSearch runs the levels nextRate picks, one runLevel each, until the
// search ends, a level was interrupted, or runLevel fails (the levels run
// so far and its error are returned). The knee is the highest level that
// met the objective and was not interrupted.
func sloSearch(o *options, stderr io.Writer, runLevel func(rate float64) (sloLevel, error)) (*sloResult, error) {
	res := &sloResult{SLO: o.slo.text, LevelS: o.duration.Seconds(), OK: true}
	for rate := nextRate(o, nil); rate > 0 && !res.Interrupted; rate = nextRate(o, res.Levels) {
		l, err := runLevel(rate)
		if err != nil {
			return res, err
		}
		res.Levels = append(res.Levels, l)
		res.OK = res.OK && l.OK
		res.Interrupted = l.Interrupted
		if o.progress {
			fmt.Fprintf(stderr, "loadgen: level %s tells/s: delivered %s/s, ask p%g %s, lost %d: %s\n",
				si(rate), si(l.TellsPerSec), o.slo.q, usStr(l.AskQUS), l.Lost, verdictWord(l.Meets, l.Why))
		}
		if l.Meets && !l.Interrupted {
			res.Knee = max(res.Knee, rate)
		}
	}
	return res, nil
}

func (r *sloResult) exitCode() int {
	switch {
	case !r.OK:
		return exitLoss
	case r.Interrupted:
		return exitInterrupted
	case r.Knee == 0:
		return exitThreshold
	}
	return exitOK
}

func verdictWord(meets bool, why string) string {
	if meets {
		return "meets"
	}
	return "misses (" + why + ")"
}

func (r *sloResult) writeTable(w io.Writer, o *slo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	knee := "none: no level met the objective"
	if r.Knee > 0 {
		knee = si(r.Knee) + " tells/s, the highest rate that met the objective"
	}
	if r.Interrupted {
		knee += " (interrupted: the search stopped early)"
	}
	fmt.Fprintf(tw, "knee\t%s\n", knee)
	fmt.Fprintf(tw, "objective\task p%g <= %v (asks paced at 1%% of the rate, at least %d/s), 0 lost, delivered >= %.0f%% of the rate; %.0fs per level\n\n",
		o.q, o.limit, sloMinAskRate, 100*sloSustained, r.LevelS)
	fmt.Fprintf(tw, "rate\tdelivered/s\tasks\task p50\task p%g\tlost\tverdict\n", o.q)
	for _, l := range r.Levels {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s\n", si(l.Rate), si(l.TellsPerSec), l.Asks, usStr(l.AskP50US), usStr(l.AskQUS), l.Lost, verdictWord(l.Meets, l.Why))
	}
	return tw.Flush()
}
