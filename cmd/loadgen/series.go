package main

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// seriesPoint is one -series line: what happened during one interval
// (one second; the last one ends when the load phase ended).
type seriesPoint struct {
	T              float64          `json:"t"` // seconds since the load started, at the end of the interval
	TellsOK        int64            `json:"tells_ok"`
	TellsOKByShard []int64          `json:"tells_ok_by_shard"`
	TellErrors     map[string]int64 `json:"tell_errors"` // every kind, 0 included
	AsksOK         int64            `json:"asks_ok"`
	AskErrors      int64            `json:"ask_errors"`
	// The interval's length, its rates, the latency of the asks answered
	// in it, and what the client held unwritten at its end.
	IntervalS   float64 `json:"interval_s"`
	TellsPerSec float64 `json:"tells_per_sec"` // tells_ok / interval_s
	AsksPerSec  float64 `json:"asks_per_sec"`
	AskP50US    float64 `json:"ask_p50_us"`
	AskP90US    float64 `json:"ask_p90_us"`
	AskP99US    float64 `json:"ask_p99_us"`
	AskMaxUS    float64 `json:"ask_max_us"`
	Buffered    int64   `json:"buffered"`
}

// totals are the runner's cumulative counters, read by progressLoop.
type totals struct {
	sent, failed, retried, asksOK, askErrs int64
	okByShard                              []int64 // -series only
	errKinds                               [numErrKinds]int64
}

func (r *runner) totals(dst *totals) {
	ok := dst.okByShard
	if r.series != nil {
		if len(ok) != r.o.shards {
			ok = make([]int64, r.o.shards)
		}
		clear(ok)
	}
	*dst = totals{okByShard: ok}
	for _, w := range r.workers {
		dst.sent += w.sent.Load()
		dst.failed += w.failed.Load()
		dst.retried += w.retried.Load()
		for k := range w.errKinds {
			dst.errKinds[k] += w.errKinds[k].Load()
		}
		for s := range w.okByShard {
			dst.okByShard[s] += w.okByShard[s].Load()
		}
	}
	dst.asksOK = r.asksOK.Load()
	dst.askErrs = r.askErrs.Load()
}

// progressLoop ends each one-second interval (and the last, partial one
// when done is closed): it takes the interval's ask latencies out of the
// recorder, prints a progress line on stderr (with -progress), writes a
// -series line (with -series or -out), keeps the point (with -out) and
// hands the interval's histogram to r.ivLog (with -out). It returns the
// first write error (the series stops there).
func (r *runner) progressLoop(done <-chan struct{}) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var prev, cur totals
	var serr error
	last := r.start
	for {
		var now time.Time
		final := false
		select {
		case <-done:
			now, final = time.Now(), true
		case now = <-t.C:
		}
		r.totals(&cur)
		iv := r.asks.tick()
		el := now.Sub(last).Seconds()
		if r.o.progress && !final {
			fmt.Fprintf(r.stderr, "%5.1fs  tells/s %10s  asks/s %8s  ask p50 %8s p99 %8s  errors %d  retries %d  buffered %d\n",
				now.Sub(r.start).Seconds(),
				si(float64(cur.sent-prev.sent)/el), si(float64(cur.asksOK-prev.asksOK)/el),
				usStr(quantileUS(iv, 50)), usStr(quantileUS(iv, 99)),
				cur.failed+cur.askErrs, cur.retried, r.t.Buffered())
		}
		if r.series != nil && serr == nil {
			p := r.point(now.Sub(r.start), el, &prev, &cur, iv)
			serr = r.writeSeries(&p)
			if r.keep {
				r.points = append(r.points, p)
			}
		}
		if r.ivLog != nil && serr == nil {
			serr = r.ivLog(iv, last, now)
		}
		if final {
			return serr
		}
		prev, cur = cur, prev
		last = now
	}
}

// point is the -series point of the interval from prev to cur, el seconds
// long, whose answered asks' latencies are iv.
func (r *runner) point(elapsed time.Duration, el float64, prev, cur *totals, iv *hdrhistogram.Histogram) seriesPoint {
	p := seriesPoint{
		T:              math.Round(elapsed.Seconds()*1000) / 1000,
		TellsOKByShard: make([]int64, len(cur.okByShard)),
		TellErrors:     make(map[string]int64, numErrKinds),
		AsksOK:         cur.asksOK - prev.asksOK,
		AskErrors:      cur.askErrs - prev.askErrs,
		IntervalS:      math.Round(el*1000) / 1000,
		AskP50US:       quantileUS(iv, 50),
		AskP90US:       quantileUS(iv, 90),
		AskP99US:       quantileUS(iv, 99),
		AskMaxUS:       quantileUS(iv, 100),
		Buffered:       r.t.Buffered(),
	}
	for s, n := range cur.okByShard {
		p.TellsOKByShard[s] = n - at(prev.okByShard, s)
		p.TellsOK += p.TellsOKByShard[s]
	}
	for k, name := range errKindNames {
		p.TellErrors[name] = cur.errKinds[k] - prev.errKinds[k]
	}
	if el > 0 {
		p.TellsPerSec = float64(p.TellsOK) / el
		p.AsksPerSec = float64(p.AsksOK) / el
	}
	return p
}

// writeSeries writes one -series line.
func (r *runner) writeSeries(p *seriesPoint) error {
	b, err := json.Marshal(p)
	if err == nil {
		_, err = r.series.Write(append(b, '\n'))
	}
	if err != nil {
		return fmt.Errorf("loadgen: -series: %w", err)
	}
	return nil
}

// si formats a rate with a k/M suffix.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// usStr formats microseconds with a unit that keeps 3 significant digits.
func usStr(us float64) string {
	switch {
	case us == 0:
		return "-"
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.1fµs", us)
	}
}
