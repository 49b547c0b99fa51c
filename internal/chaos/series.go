package chaos

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Sample is what happened in one interval of a time series: Counts[k] is
// how many tells of key k (a shard) fell in (Start, End] (CLOCK_MONOTONIC
// ns). Start 0 (or >= End) means the sample is an instant at End.
type Sample struct {
	Start  int64
	End    int64
	Counts []float64
}

// Series is a time series of per-key counts, ordered by End. The zero
// value is an empty series.
type Series struct {
	Samples []Sample
	Source  string // where it came from, for the report
}

// Rate returns the tells per second of the keys for which want returns
// true (every key when want is nil) over [from, to). A sample's counts are
// spread evenly over its interval and the part inside [from, to) counts,
// so that a poll that came late (a busy box) does not leave an empty
// window followed by a burst; an instant sample counts when its End lies
// in (from, to].
func (s *Series) Rate(want func(key int) bool, from, to int64) float64 {
	if to <= from {
		return 0
	}
	var sum float64
	for _, smp := range s.Samples {
		frac := 0.0
		switch {
		case smp.Start > 0 && smp.Start < smp.End:
			lo, hi := max(smp.Start, from), min(smp.End, to)
			if hi <= lo {
				continue
			}
			frac = float64(hi-lo) / float64(smp.End-smp.Start)
		case smp.End > from && smp.End <= to:
			frac = 1
		default:
			continue
		}
		for k, c := range smp.Counts {
			if want == nil || want(k) {
				sum += c * frac
			}
		}
	}
	return sum / (float64(to-from) / 1e9)
}

// Span returns the first and last sample ends (0, 0 for an empty series).
func (s *Series) Span() (first, last int64) {
	if len(s.Samples) == 0 {
		return 0, 0
	}
	return s.Samples[0].End, s.Samples[len(s.Samples)-1].End
}

// Recovery is the outcome of RecoveryAfter.
type Recovery struct {
	PreRate float64 // tells/s over the stretch before the fault
	Target  float64 // fraction * PreRate
	// After is from the fault to the end of the last sample below Target
	// (0 when none was): from then on every sample of the series, to the
	// end evaluated, met Target. -1: the last sample evaluated is below.
	After time.Duration
	// Estimate is where the stall within that last low sample ended if
	// the rate was 0 before and PreRate after: its end minus its count
	// over PreRate (a lower bound of the true recovery, After the upper).
	Estimate time.Duration
	MinRate  float64       // lowest sample rate after After
	MinAt    time.Duration // where that sample ended, from the fault
	Low      int           // samples below Target after the fault
	Samples  int           // samples evaluated after the fault
	Evaluate time.Duration // from the fault to the end of the last sample evaluated
}

// MinSample is the shortest sample RecoveryAfter evaluates: loadgen's last
// line covers only the end of the load (milliseconds), too short for a
// rate.
const MinSample = 500 * time.Millisecond

// RecoveryAfter measures how fast the rate of the wanted keys came back
// after a fault at instant fault (CLOCK_MONOTONIC ns), at the resolution of
// the series' own samples (loadgen writes one a second): the reference is
// the rate of the whole samples that ended in (fault-pre, fault]; each sample that ends in (fault, end]
// and lasts MinSample or more is compared with frac of it, and the
// recovery is the end of the last one below (Recovery). A sample that
// holds the fault counts whole: a stall shorter than its part after the
// fault is not seen.
func (s *Series) RecoveryAfter(want func(int) bool, fault, end int64, pre time.Duration, frac float64) Recovery {
	r := Recovery{}
	// The reference: whole samples that ended in (fault-pre, fault], so
	// that the one holding the fault (and its stall) does not lower it.
	var preCount, preDur float64
	for _, x := range s.Samples {
		if x.End > fault-int64(pre) && x.End <= fault && x.Start > 0 && x.Start < x.End {
			for k, v := range x.Counts {
				if want == nil || want(k) {
					preCount += v
				}
			}
			preDur += float64(x.End-x.Start) / 1e9
		}
	}
	if preDur > 0 {
		r.PreRate = preCount / preDur
	}
	r.Target = frac * r.PreRate
	type smp struct {
		end   int64
		count float64
		rate  float64
	}
	var ss []smp
	for _, x := range s.Samples {
		if x.End <= fault || x.End > end || x.Start <= 0 || x.End-x.Start < int64(MinSample) {
			continue
		}
		var c float64
		for k, v := range x.Counts {
			if want == nil || want(k) {
				c += v
			}
		}
		ss = append(ss, smp{x.End, c, c / (float64(x.End-x.Start) / 1e9)})
	}
	r.Samples = len(ss)
	if len(ss) == 0 {
		r.After = -1
		return r
	}
	r.Evaluate = time.Duration(ss[len(ss)-1].end - fault)
	last := -1
	for i, x := range ss {
		if x.rate < r.Target {
			last = i
			r.Low++
		}
	}
	switch {
	case last == len(ss)-1:
		r.After, r.Estimate = -1, -1
	case last >= 0:
		r.After = time.Duration(ss[last].end - fault)
		r.Estimate = r.After
		if r.PreRate > 0 {
			r.Estimate = max(0, r.After-time.Duration(ss[last].count/r.PreRate*1e9))
		}
	}
	r.MinRate = -1
	for _, x := range ss[last+1:] {
		if r.MinRate < 0 || x.rate < r.MinRate {
			r.MinRate, r.MinAt = x.rate, time.Duration(x.end-fault)
		}
	}
	r.MinRate = max(r.MinRate, 0)
	return r
}

// SeriesLine is one line of loadgen's -series file (cmd/loadgen,
// seriesPoint): what happened during one interval of the load phase, one
// second long except the last, which ends when the load stopped. T is the
// end of the interval in seconds since the load phase began; the counts are
// for the interval alone.
type SeriesLine struct {
	T              float64          `json:"t"`
	TellsOK        int64            `json:"tells_ok"`
	TellsOKByShard []int64          `json:"tells_ok_by_shard"`
	TellErrors     map[string]int64 `json:"tell_errors"`
	AsksOK         int64            `json:"asks_ok"`
	AskErrors      int64            `json:"ask_errors"`
}

// ErrSeriesFormat is matched by errors from ParseSeriesLine for a line
// that is not a loadgen -series object.
var ErrSeriesFormat = errors.New("chaos: not a loadgen -series line")

// ParseSeriesLine decodes one line of loadgen's -series file. A line
// without "t" or "tells_ok_by_shard" is ErrSeriesFormat (loadgen writes
// both on every line).
func ParseSeriesLine(line []byte) (SeriesLine, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return SeriesLine{}, fmt.Errorf("%w: %v", ErrSeriesFormat, err)
	}
	for _, k := range []string{"t", "tells_ok_by_shard"} {
		if _, ok := raw[k]; !ok {
			return SeriesLine{}, fmt.Errorf("%w: no %q in %.80s", ErrSeriesFormat, k, line)
		}
	}
	var l SeriesLine
	if err := json.Unmarshal(line, &l); err != nil {
		return SeriesLine{}, fmt.Errorf("%w: %v", ErrSeriesFormat, err)
	}
	return l, nil
}

// SeriesFromLines places loadgen's lines on the CLOCK_MONOTONIC timeline:
// start is the instant loadgen's load phase began (see EstimateStart), so
// line i covers (start+T[i-1], start+T[i]] (line 0 from start). Counts are
// the lines' tells_ok_by_shard.
func SeriesFromLines(lines []SeriesLine, start int64) Series {
	s := Series{Source: "loadgen -series (tells accepted by the client, per shard)"}
	prev := start
	for _, l := range lines {
		end := start + int64(l.T*1e9)
		if end <= prev {
			continue // not after the previous line: nothing to place
		}
		c := make([]float64, len(l.TellsOKByShard))
		for k, v := range l.TellsOKByShard {
			c[k] = float64(v)
		}
		s.Samples = append(s.Samples, Sample{Start: prev, End: end, Counts: c})
		prev = end
	}
	return s
}

// EstimateStart estimates the CLOCK_MONOTONIC instant loadgen's load phase
// began from when each line was first seen in the file (seen[i], polled
// by the harness every seriesPoll): a line with T was written at start+T
// and seen at or after that, so start is at most seen[i]-T for every i, and
// the smallest of those is the closest (within one poll period plus the
// harness's scheduling delay). ok is false without lines.
func EstimateStart(lines []SeriesLine, seen []int64) (start int64, ok bool) {
	for i, l := range lines {
		if i >= len(seen) {
			break
		}
		c := seen[i] - int64(l.T*1e9)
		if !ok || c < start {
			start, ok = c, true
		}
	}
	return start, ok
}

// ErrorsBetween sums the tell errors (by kind) of the lines whose interval
// ends in (from, to] (CLOCK_MONOTONIC, with start as in SeriesFromLines).
func ErrorsBetween(lines []SeriesLine, start, from, to int64) map[string]int64 {
	out := map[string]int64{}
	for _, l := range lines {
		end := start + int64(l.T*1e9)
		if end <= from || end > to {
			continue
		}
		for k, v := range l.TellErrors {
			if v != 0 {
				out[k] += v
			}
		}
	}
	return out
}

// MinWindow returns the lowest rate of the wanted keys over windows of
// length win ending every step in [from+win, to], and where that window
// ended; ok is false when no window fits.
func (s *Series) MinWindow(want func(int) bool, from, to int64, win, step time.Duration) (rate float64, at int64, ok bool) {
	for e := from + int64(win); e <= to; e += int64(step) {
		r := s.Rate(want, e-int64(win), e)
		if !ok || r < rate {
			rate, at, ok = r, e, true
		}
	}
	return rate, at, ok
}

// TallySeries turns the watcher's tally polls of every node into a series
// of what the nodes applied per shard: between two polls of one node
// incarnation, the increase of its applied + retired, placed between the
// midpoints of the two polls (each tally was taken somewhere between the
// poll's send and its receipt). Samples of different nodes overlap in
// time; Rate adds them up.
func TallySeries(nodes [][]TallyObs) Series {
	s := Series{Source: "node tallies (increments applied per shard, every node)"}
	for _, obs := range nodes {
		for k := 1; k < len(obs); k++ {
			a, b := obs[k-1], obs[k]
			if a.Incarnation != b.Incarnation {
				continue
			}
			start, end := (a.Sent+a.Recv)/2, (b.Sent+b.Recv)/2
			if end <= start {
				continue
			}
			c := make([]float64, len(b.Applied))
			for i, v := range b.Applied {
				if i < len(a.Applied) && v > a.Applied[i] {
					c[i] = float64(v - a.Applied[i])
				}
			}
			s.Samples = append(s.Samples, Sample{Start: start, End: end, Counts: c})
		}
	}
	slices.SortFunc(s.Samples, func(x, y Sample) int { return cmp.Compare(x.End, y.End) })
	return s
}

// FirstRecovery measures, on a fine series (the nodes' tallies, polled
// every 100 ms), when a stall that followed a fault at instant fault ended:
// windows of length win ending every step in (fault+win, end] are
// compared with target; the result is the end of the first window at
// target after the first one below it, from the fault (0 when no window
// was below, -1 when none came back). It says when the rate came back,
// not that it stayed: a later dip (a stall of the box itself, which hits
// every process for a few hundred ms) is RecoveryAfter's to judge, at the
// coarser resolution of loadgen's series. A window must fill: after a stall
// that ends at s, the first window at target ends about 0.8*win after s
// (sooner when a backlog is caught up).
func (s *Series) FirstRecovery(want func(int) bool, fault, end int64, win, step time.Duration, target float64) (back time.Duration, stalled time.Duration) {
	firstLow := int64(-1)
	for e := fault + int64(win); e <= end; e += int64(step) {
		low := s.Rate(want, e-int64(win), e) < target
		switch {
		case low && firstLow < 0:
			firstLow = e
		case !low && firstLow >= 0:
			return time.Duration(e - fault), time.Duration(e - firstLow)
		}
	}
	if firstLow < 0 {
		return 0, 0
	}
	return -1, time.Duration(end - firstLow)
}
