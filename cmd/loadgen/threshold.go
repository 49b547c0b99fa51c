package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// A threshold is a pass/fail limit on one figure of the report
// (-max-ask-p99, -min-tells-per-sec, ...). A broken one makes the run exit
// 3 (exitThreshold), after a loss (1) and an interrupt (130), which win.
type threshold struct {
	flag  string  // the flag's name, which names the threshold in the report
	max   bool    // true: the figure must be <= limit; false: >= limit
	limit float64 // in the figure's unit
	unit  string  // "us" or "/s", for the report
	value func(*report) float64
}

// thresholdResult is one threshold's verdict in the report.
type thresholdResult struct {
	Name  string  `json:"name"` // the flag, e.g. "max-ask-p99"
	Limit float64 `json:"limit"`
	Got   float64 `json:"got"`
	Unit  string  `json:"unit"` // "us" (microseconds) or "/s"
	OK    bool    `json:"ok"`
}

// thresholdFlags registers the threshold flags on fs; after fs.Parse, the
// returned function lists the thresholds that were set.
func thresholdFlags(fs *flag.FlagSet) func() []threshold {
	type durFlag struct {
		name, what string
		value      func(*report) float64
		d          *time.Duration
	}
	type rateFlag struct {
		name, what string
		value      func(*report) float64
		v          *float64
	}
	durs := []*durFlag{
		{name: "max-ask-p50", what: "ask latency p50", value: func(r *report) float64 { return r.AskP50US }},
		{name: "max-ask-p99", what: "ask latency p99", value: func(r *report) float64 { return r.AskP99US }},
		{name: "max-ask-p999", what: "ask latency p99.9", value: func(r *report) float64 { return r.AskP999US }},
		{name: "max-tell-lag-p99", what: "tell lag p99 (with -rate)", value: func(r *report) float64 { return r.TellLagP99US }},
	}
	rates := []*rateFlag{
		{name: "min-tells-per-sec", what: "delivered tells/s", value: func(r *report) float64 { return r.TellsPerSec }},
		{name: "min-asks-per-sec", what: "answered asks/s", value: func(r *report) float64 { return r.AsksPerSec }},
	}
	for _, f := range durs {
		f.d = fs.Duration(f.name, 0, "exit 3 when the "+f.what+" is above this (0: no limit)")
	}
	for _, f := range rates {
		f.v = fs.Float64(f.name, 0, "exit 3 when the "+f.what+" is below this (0: no limit)")
	}
	return func() []threshold {
		var ts []threshold
		for _, f := range durs {
			if *f.d != 0 {
				ts = append(ts, threshold{flag: f.name, max: true, limit: float64(*f.d) / 1e3, unit: "us", value: f.value})
			}
		}
		for _, f := range rates {
			if *f.v != 0 {
				ts = append(ts, threshold{flag: f.name, limit: *f.v, unit: "/s", value: f.value})
			}
		}
		return ts
	}
}

// validateThresholds reports bad limits.
func validateThresholds(ts []threshold) []string {
	var bad []string
	for _, t := range ts {
		if t.limit < 0 {
			bad = append(bad, fmt.Sprintf("-%s %v < 0", t.flag, t.limit))
		}
	}
	return bad
}

// check judges r against ts.
func checkThresholds(r *report, ts []threshold) []thresholdResult {
	var out []thresholdResult
	for _, t := range ts {
		got := t.value(r)
		ok := got >= t.limit
		if t.max {
			ok = got <= t.limit
		}
		out = append(out, thresholdResult{Name: t.flag, Limit: t.limit, Got: got, Unit: t.unit, OK: ok})
	}
	return out
}

// String formats a verdict, e.g. "max-ask-p99: 1.20ms <= 2.00ms ok".
func (t thresholdResult) String() string {
	got, limit := si(t.Got)+"/s", strconv.FormatFloat(t.Limit, 'g', -1, 64)+"/s"
	if t.Unit == "us" {
		got, limit = usStr(t.Got), time.Duration(t.Limit*1e3).String()
	}
	op, verdict := ">=", "ok"
	if t.Name[:3] == "max" {
		op = "<="
	}
	if !t.OK {
		verdict = "BROKEN"
	}
	return fmt.Sprintf("%s: %s %s %s %s", t.Name, got, op, limit, verdict)
}
