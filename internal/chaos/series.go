package chaos

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample is what happened in one interval of a time series: Counts[k] is
// how many tells of key k (a shard, or a node for the node-stats poller)
// fell in (Start, End] (CLOCK_MONOTONIC ns). Start 0 (or >= End) means the
// sample is an instant at End.
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
	PreRate  float64       // tells/s over the window before the fault
	Target   float64       // fraction * PreRate
	After    time.Duration // from the fault to the end of the first window from which every window met Target; -1: never
	MinRate  float64       // lowest window rate from the fault + After (or the fault when never recovered) to the end
	MinAt    time.Duration // where that lowest window ended, from the fault
	Windows  int           // windows evaluated after the fault
	Evaluate time.Duration // how long after the fault the series covered (up to end)
}

// RecoveryAfter measures how fast the rate of the wanted keys came back
// after a fault at instant fault (CLOCK_MONOTONIC ns): the reference is
// the rate over [fault-pre, fault); then windows of length win slide by
// step, each ending in (fault+win, end], and After is the end of the first
// window from which every later window (until end or the series' end)
// reached frac of the reference. Windows end on sample ends when the
// series is finer than step.
func (s *Series) RecoveryAfter(want func(int) bool, fault, end int64, pre, win, step time.Duration, frac float64) Recovery {
	r := Recovery{After: -1}
	r.PreRate = s.Rate(want, fault-int64(pre), fault)
	r.Target = frac * r.PreRate
	_, last := s.Span()
	end = min(end, last)
	if end <= fault+int64(win) {
		return r
	}
	r.Evaluate = time.Duration(end - fault)
	type w struct {
		end  int64
		rate float64
	}
	var ws []w
	for e := fault + int64(win); e <= end; e += int64(step) {
		ws = append(ws, w{e, s.Rate(want, e-int64(win), e)})
	}
	r.Windows = len(ws)
	// Scan from the end: the recovery point is the first window of the
	// final run of windows that all meet the target.
	first := len(ws)
	for i := len(ws) - 1; i >= 0 && ws[i].rate >= r.Target; i-- {
		first = i
	}
	from := 0
	if first < len(ws) {
		r.After = time.Duration(ws[first].end - fault)
		from = first
	}
	r.MinRate = -1
	for _, x := range ws[from:] {
		if r.MinRate < 0 || x.rate < r.MinRate {
			r.MinRate, r.MinAt = x.rate, time.Duration(x.end-fault)
		}
	}
	if r.MinRate < 0 {
		r.MinRate = 0
	}
	return r
}

// FromCumulative turns cumulative per-key totals observed at instants into
// a series of per-interval counts. Totals that go backwards (a restarted
// node's tally) count from zero again.
func FromCumulative(source string, at []int64, totals [][]float64) Series {
	s := Series{Source: source}
	var prev []float64
	for i, tot := range totals {
		if i == 0 {
			prev = slices.Clone(tot)
			continue
		}
		c := make([]float64, len(tot))
		for k, v := range tot {
			var p float64
			if k < len(prev) {
				p = prev[k]
			}
			if v >= p {
				c[k] = v - p
			} else {
				c[k] = v
			}
		}
		s.Samples = append(s.Samples, Sample{Start: at[i-1], End: at[i], Counts: c})
		prev = slices.Clone(tot)
	}
	return s
}

// ErrSeriesFormat is matched by errors from ParseSeries for input it does
// not understand.
var ErrSeriesFormat = errors.New("chaos: unrecognised series format")

// SeriesClock converts the time fields of a series line to CLOCK_MONOTONIC
// ns. MonoAtStart and UnixAtStart are both taken when loadgen was started,
// so that unix or relative times can be placed on the monotonic timeline.
type SeriesClock struct {
	MonoAtStart int64
	UnixAtStart int64 // Unix ns
}

// ParseSeries reads loadgen's -series output: JSON lines (or one JSON
// array) of objects, one per interval. It reads the time from the first
// present of mono_ns (CLOCK_MONOTONIC ns), unix_ns, unix_ms, unix_s/time
// (Unix seconds), t/t_s/elapsed_s (seconds since loadgen started), and the
// per-shard counts from the first present of shards, per_shard,
// shard_tells, accepted, tells (an array indexed by shard, or an object
// keyed by shard number). Counts are per interval, unless the key ends in
// "_total" or the object has "cumulative": true. Lines that are not
// objects (a header, a blank line) are skipped; a file with no usable
// line is ErrSeriesFormat.
func ParseSeries(r io.Reader, clk SeriesClock) (Series, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Series{}, err
	}
	var objs []map[string]json.RawMessage
	trim := strings.TrimSpace(string(data))
	if strings.HasPrefix(trim, "[") {
		if err := json.Unmarshal([]byte(trim), &objs); err != nil {
			return Series{}, fmt.Errorf("%w: %v", ErrSeriesFormat, err)
		}
	} else {
		sc := bufio.NewScanner(strings.NewReader(trim))
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var o map[string]json.RawMessage
			if json.Unmarshal([]byte(line), &o) == nil {
				objs = append(objs, o)
			}
		}
		if err := sc.Err(); err != nil {
			return Series{}, err
		}
	}
	var at []int64
	var counts [][]float64
	cumulative := false
	for _, o := range objs {
		t, ok := seriesTime(o, clk)
		if !ok {
			continue
		}
		c, cum, ok := seriesCounts(o)
		if !ok {
			continue
		}
		cumulative = cumulative || cum
		at = append(at, t)
		counts = append(counts, c)
	}
	if len(at) == 0 {
		return Series{}, fmt.Errorf("%w: no line with a time and per-shard counts", ErrSeriesFormat)
	}
	if cumulative {
		return FromCumulative("loadgen -series", at, counts), nil
	}
	s := Series{Source: "loadgen -series"}
	for i := range at {
		var start int64
		if i > 0 {
			start = at[i-1] // per-interval counts: since the previous line
		}
		s.Samples = append(s.Samples, Sample{Start: start, End: at[i], Counts: counts[i]})
	}
	slices.SortStableFunc(s.Samples, func(a, b Sample) int {
		switch {
		case a.End < b.End:
			return -1
		case a.End > b.End:
			return 1
		}
		return 0
	})
	return s, nil
}

func seriesTime(o map[string]json.RawMessage, clk SeriesClock) (int64, bool) {
	num := func(k string) (float64, bool) {
		raw, ok := o[k]
		if !ok {
			return 0, false
		}
		var f float64
		if json.Unmarshal(raw, &f) != nil {
			return 0, false
		}
		return f, true
	}
	if v, ok := num("mono_ns"); ok {
		return int64(v), true
	}
	fromUnix := func(ns float64) int64 { return clk.MonoAtStart + (int64(ns) - clk.UnixAtStart) }
	if v, ok := num("unix_ns"); ok {
		return fromUnix(v), true
	}
	if v, ok := num("unix_ms"); ok {
		return fromUnix(v * 1e6), true
	}
	for _, k := range []string{"unix_s", "time"} {
		if v, ok := num(k); ok {
			return fromUnix(v * 1e9), true
		}
	}
	for _, k := range []string{"t", "t_s", "elapsed_s"} {
		if v, ok := num(k); ok {
			return clk.MonoAtStart + int64(v*1e9), true
		}
	}
	return 0, false
}

func seriesCounts(o map[string]json.RawMessage) (c []float64, cumulative, ok bool) {
	if raw, has := o["cumulative"]; has {
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			cumulative = b
		}
	}
	for _, k := range []string{"shards", "per_shard", "shard_tells", "accepted", "tells", "shards_total", "per_shard_total", "shard_tells_total", "accepted_total", "tells_total"} {
		raw, has := o[k]
		if !has {
			continue
		}
		cum := cumulative || strings.HasSuffix(k, "_total")
		var arr []float64
		if json.Unmarshal(raw, &arr) == nil {
			return arr, cum, true
		}
		var m map[string]float64
		if json.Unmarshal(raw, &m) == nil {
			for ks, v := range m {
				i, err := strconv.Atoi(ks)
				if err != nil || i < 0 || i > 1<<16 {
					continue
				}
				for len(arr) <= i {
					arr = append(arr, 0)
				}
				arr[i] = v
			}
			return arr, cum, true
		}
	}
	return nil, false, false
}
