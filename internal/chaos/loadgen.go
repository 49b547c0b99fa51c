package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LoadSpec is one loadgen run against the cluster.
type LoadSpec struct {
	Contacts []string
	Duration time.Duration
	Rate     float64 // tells/s; 0 = flat out
	Workers  int     // 0 = loadgen's default
	Netns    string
}

// LoadRun is a running loadgen.
type LoadRun struct {
	proc       *Proc
	seriesPath string // "" when loadgen has no -series
	clock      SeriesClock
	Skipped    []string // flags loadgen does not support
}

// LoadReport is loadgen's JSON report, read defensively: a key loadgen
// does not write is "not available", never zero.
type LoadReport struct {
	Raw      map[string]json.RawMessage
	ExitCode int
	Err      string // why there is no report (loadgen crashed, printed no JSON)
}

// StartLoad starts loadgen with the flags it supports.
func (h *Harness) StartLoad(spec LoadSpec, name string) (*LoadRun, error) {
	want := []Arg{
		{"contact", strings.Join(spec.Contacts, ",")},
		{"json", "true"},
		{"duration", spec.Duration.String()},
		{"progress", "true"},
		{"log-level", "warn"},
		{"drain-timeout", "30s"},
		{"ask-timeout", "2s"},
	}
	if spec.Rate > 0 {
		want = append(want, Arg{"rate", strconv.FormatFloat(spec.Rate, 'f', -1, 64)})
	}
	if spec.Workers > 0 {
		want = append(want, Arg{"workers", strconv.Itoa(spec.Workers)})
	}
	lr := &LoadRun{}
	if h.loadFlags.Has("series") {
		lr.seriesPath = filepath.Join(h.logDir, name+".series")
		want = append(want, Arg{"series", lr.seriesPath})
	}
	args, skipped := h.loadFlags.Args(want)
	lr.Skipped = skipped
	lr.clock = SeriesClock{MonoAtStart: monoNow(), UnixAtStart: time.Now().UnixNano()}
	p, err := StartProc(ProcSpec{
		Name: name, Bin: h.cfg.LoadgenBin, Args: args, Netns: spec.Netns,
		Log: filepath.Join(h.logDir, name+".log"), KeepStdout: 4 << 20,
	})
	if err != nil {
		return nil, err
	}
	h.track(p)
	lr.proc = p
	return lr, nil
}

// Wait waits for loadgen to exit and reads its report.
func (lr *LoadRun) Wait(ctx context.Context) *LoadReport {
	code, err := lr.proc.WaitExit(ctx)
	if err != nil {
		lr.proc.Kill()
		return &LoadReport{ExitCode: -1, Err: err.Error()}
	}
	return parseLoadReport(lr.proc.Stdout(), code, lr.proc.Log)
}

// Kill stops loadgen at once.
func (lr *LoadRun) Kill() { lr.proc.Kill() }

// Series reads loadgen's -series file; ok is false (with the reason) when
// loadgen wrote none.
func (lr *LoadRun) Series() (Series, string, bool) {
	if lr.seriesPath == "" {
		return Series{}, "loadgen has no -series flag", false
	}
	f, err := os.Open(lr.seriesPath)
	if err != nil {
		return Series{}, err.Error(), false
	}
	defer f.Close()
	s, err := ParseSeries(f, lr.clock)
	if err != nil {
		return Series{}, err.Error(), false
	}
	return s, "", true
}

func parseLoadReport(stdout []byte, code int, log string) *LoadReport {
	r := &LoadReport{ExitCode: code}
	// The report is the last JSON object on stdout.
	i := bytes.LastIndex(stdout, []byte("\n{"))
	if i < 0 {
		i = bytes.IndexByte(stdout, '{')
	} else {
		i++
	}
	if i < 0 {
		r.Err = fmt.Sprintf("loadgen printed no JSON report (exit %d); log %s: %s", code, log, tail(log, 400))
		return r
	}
	dec := json.NewDecoder(bytes.NewReader(stdout[i:]))
	if err := dec.Decode(&r.Raw); err != nil {
		r.Err = fmt.Sprintf("loadgen's report: %v (exit %d)", err, code)
	}
	return r
}

// Int returns an integer field; ok is false when absent or not a number.
func (r *LoadReport) Int(key string) (int64, bool) {
	raw, ok := r.Raw[key]
	if !ok {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return int64(f), true
}

// Float returns a number field.
func (r *LoadReport) Float(key string) (float64, bool) {
	raw, ok := r.Raw[key]
	if !ok {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

// String returns a string field.
func (r *LoadReport) String(key string) string {
	var s string
	if raw, ok := r.Raw[key]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// accountingKeys are the loss accounting fields of DESIGN.md, in report
// order.
var accountingKeys = []string{"lost", "state_lost", "failed_on_node", "in_flight_lost", "unexplained_lost"}

// figures adds loadgen's key numbers to res, saying which fields are not
// available.
func (r *LoadReport) figures(res *Result) {
	if r.Err != "" {
		res.Fig("loadgen", "no report: %s", r.Err)
		return
	}
	num := func(k string) string {
		if v, ok := r.Int(k); ok {
			return strconv.FormatInt(v, 10)
		}
		return "n/a"
	}
	res.Fig("loadgen", "exit %d, ok=%s, sent %s, delivered %s, failed %s, %s tells/s delivered",
		r.ExitCode, string(r.Raw["ok"]), num("tells_sent"), num("tells_delivered"), num("tells_failed"), num("tells_per_sec"))
	var parts, missing []string
	for _, k := range accountingKeys {
		if _, ok := r.Int(k); ok {
			parts = append(parts, k+" "+num(k))
		} else {
			missing = append(missing, k)
		}
	}
	res.Fig("loss accounting", "%s", strings.Join(parts, ", "))
	if len(missing) > 0 {
		res.Note("loadgen does not report %s yet (not available)", strings.Join(missing, ", "))
	}
	if v, ok := r.Int("unverified_entities"); ok && v > 0 {
		res.Fig("unverified entities", "%d", v)
	}
	if s := r.String("first_tell_error"); s != "" {
		res.Fig("first tell error", "%s", s)
	}
	if s := r.String("verify_error"); s != "" {
		res.Fig("verify error", "%s", s)
	}
}

// checkUnexplained records the unexplained_lost check (0 required), and
// in_flight_lost when want says so.
func (r *LoadReport) checkLoss(res *Result, inFlightToo bool) {
	if r.Err != "" {
		res.Check("unexplained_lost=0", Violation, "no loadgen report: %s", r.Err)
		return
	}
	if v, ok := r.Int("unexplained_lost"); ok {
		res.Expect("unexplained_lost=0", v == 0, "unexplained_lost %d", v)
	} else {
		lost, _ := r.Int("lost")
		res.Check("unexplained_lost=0", Unchecked, "loadgen reports no unexplained_lost (lost %d, causes not told apart)", lost)
	}
	if inFlightToo {
		if v, ok := r.Int("in_flight_lost"); ok {
			res.Expect("in_flight_lost=0", v == 0, "in_flight_lost %d", v)
		} else {
			res.Check("in_flight_lost=0", Unchecked, "loadgen reports no in_flight_lost")
		}
	}
}
