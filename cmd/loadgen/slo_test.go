package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSLO(t *testing.T) {
	s, err := parseSLO("p99.9=2ms")
	if err != nil || s.q != 99.9 || s.limit != 2*time.Millisecond {
		t.Errorf("got %+v, %v; want p99.9, 2ms", s, err)
	}
	for _, bad := range []string{"99=2ms", "p100=1ms", "p0=1ms", "p99=", "p99=-1ms", "px=1ms", "p99"} {
		if _, err := parseSLO(bad); err == nil {
			t.Errorf("%q: got nil, want an error", bad)
		}
	}
}

// TestNextRate: against a cluster whose knee is k (a level meets exactly
// when its rate <= k), the search ends with the highest met level within
// sloResolution of k, or at the bounds.
func TestNextRate(t *testing.T) {
	o := &options{sloStart: 10e3, sloMax: 10e6}
	for _, tc := range []struct {
		name     string
		knee     float64
		wantKnee func(got float64) bool
	}{
		{"between", 123e3, func(got float64) bool { return got <= 123e3 && got*sloResolution*sloResolution >= 123e3 }},
		{"below the start", 1e3, func(got float64) bool { return got <= 1e3 && got > 1e3/2 }},
		{"above the max", 1e9, func(got float64) bool { return got == 10e6 }},
		{"below everything", 1, func(got float64) bool { return got == 0 }},
	} {
		var levels []sloLevel
		best := 0.0
		for r := nextRate(o, nil); r > 0; r = nextRate(o, levels) {
			if len(levels) > 40 {
				t.Fatalf("%s: more than 40 levels: %+v", tc.name, levels)
			}
			levels = append(levels, sloLevel{Rate: r, Meets: r <= tc.knee})
			if r <= tc.knee {
				best = max(best, r)
			}
		}
		if !tc.wantKnee(best) {
			t.Errorf("%s: knee %v found %v after %d levels", tc.name, tc.knee, best, len(levels))
		}
	}
}

func runSLOJSON(t *testing.T, args ...string) (int, sloResult) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"-json", "-entities", "20", "-workers", "2", "-progress=false", "-duration", "300ms"}, args...)
	code := run(context.Background(), args, &stdout, &stderr, memOpener(&memTarget{}))
	var res sloResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("not JSON: %v\nexit %d, stderr:\n%s", err, code, stderr.String())
	}
	return code, res
}

// TestSLOSearch: the search against levels whose outcome is known (a
// level meets exactly when its rate is at most the target's knee; no wall
// clock decides it): the levels it runs, in order, the knee it reports
// (the highest met level, within sloResolution of the true knee), and the
// exit status; an interrupted level ends the search and is no knee; a
// level that lost a tell makes the result fail; a level that cannot run
// ends the search with its error.
func TestSLOSearch(t *testing.T) {
	o, err := parseFlags([]string{"-slo", "p99=2ms", "-slo-start", "1k", "-slo-max", "1M", "-progress=false"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errLevel := errors.New("test: level failed")
	for _, tc := range []struct {
		name    string
		outcome func(rate float64) (sloLevel, error)
		rates   []float64
		knee    float64
		code    int
		wantErr error
	}{
		{"knee between levels", meetsUpTo(3300), []float64{1000, 2000, 4000, 3000, 3500, 3250}, 3250, exitOK, nil},
		{"knee above the max", meetsUpTo(5e6), []float64{1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 512000, 1e6}, 1e6, exitOK, nil},
		{"nothing meets", meetsUpTo(1), []float64{1000, 500, 250, 125, 62.5, 31.25, 15.625}, 0, exitThreshold, nil},
		{"knee below the start", meetsUpTo(300), []float64{1000, 500, 250, 375, 312.5, 281.25, 296.875}, 296.875, exitOK, nil},
		{"interrupted level", func(rate float64) (sloLevel, error) {
			l, _ := meetsUpTo(1e9)(rate)
			l.Interrupted = rate == 2000
			return l, nil
		}, []float64{1000, 2000}, 1000, exitInterrupted, nil},
		{"a level loses", func(rate float64) (sloLevel, error) {
			l, _ := meetsUpTo(1e9)(rate)
			if rate == 2000 {
				l.OK, l.Meets, l.Lost, l.Why = false, false, 3, "3 lost"
			}
			return l, nil
		}, []float64{1000, 2000, 1500, 1750, 1875}, 1875, exitLoss, nil},
		{"a level fails to run", func(rate float64) (sloLevel, error) {
			if rate == 4000 {
				return sloLevel{}, errLevel
			}
			return meetsUpTo(1e9)(rate)
		}, []float64{1000, 2000}, 2000, exitOK, errLevel},
	} {
		var ran []float64
		res, err := sloSearch(o, io.Discard, func(rate float64) (sloLevel, error) {
			ran = append(ran, rate)
			return tc.outcome(rate)
		})
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.wantErr)
		}
		var got []float64
		for _, l := range res.Levels {
			got = append(got, l.Rate)
		}
		if tc.wantErr == nil && !slices.Equal(got, ran) {
			t.Errorf("%s: result lists levels %v, ran %v", tc.name, got, ran)
		}
		if !slices.Equal(got, tc.rates) || res.Knee != tc.knee || res.exitCode() != tc.code {
			t.Errorf("%s: levels %v knee %v exit %d; want %v, %v, %d", tc.name, got, res.Knee, res.exitCode(), tc.rates, tc.knee, tc.code)
		}
	}
}

// meetsUpTo is a level outcome with a knee: a level meets exactly when its
// rate is at most knee (and delivers its rate otherwise, answering asks).
func meetsUpTo(knee float64) func(rate float64) (sloLevel, error) {
	return func(rate float64) (sloLevel, error) {
		l := sloLevel{Rate: rate, TellsPerSec: rate, Asks: 100, OK: true, Meets: rate <= knee}
		if !l.Meets {
			l.Why = "ask p99 too high"
		}
		return l, nil
	}
}

// TestSLOMeets: a level's verdict from its report, each reason on its own:
// a loss, no ask, the percentile over the limit, a delivered rate under
// sloSustained of the level's; and the boundaries (exactly the limit, and
// exactly sloSustained of the rate, meet).
func TestSLOMeets(t *testing.T) {
	o := &slo{q: 99, limit: 2 * time.Millisecond}
	rep := func(lost int64, ok bool, asks int64, askUS int64, tellsPerSec float64) *report {
		h := newHist()
		for range asks {
			_ = h.RecordValue(askUS * 1000)
		}
		return &report{Lost: lost, OK: ok, Asks: asks, askHist: h, TellsPerSec: tellsPerSec}
	}
	for _, tc := range []struct {
		name string
		rep  *report
		want bool
		why  string
	}{
		{"meets", rep(0, true, 100, 500, 1000), true, ""},
		{"lost", rep(2, false, 100, 500, 1000), false, "2 lost"},
		{"not OK", rep(0, false, 100, 500, 1000), false, "0 lost"},
		{"no ask", rep(0, true, 0, 0, 1000), false, "no ask answered"},
		{"slow asks", rep(0, true, 100, 5000, 1000), false, "ask p99"},
		{"under the rate", rep(0, true, 100, 500, 940), false, "delivered"},
		{"exactly sustained", rep(0, true, 100, 500, 950), true, ""},
	} {
		got, why := o.meets(tc.rep, 1000)
		if got != tc.want || (tc.why == "") != (why == "") || !strings.Contains(why, tc.why) {
			t.Errorf("%s: meets %v %q, want %v %q", tc.name, got, why, tc.want, tc.why)
		}
	}
}

// TestSLORun: -slo end to end against the in-memory target. Which levels
// meet depends on this machine's speed, so it checks the wiring only: the
// knee is the highest level that met, the verdicts agree with their
// reasons, and the exit status with the knee; an objective no level can
// meet (p50 <= 1 ns) gives no knee after 7 levels (1k halved down to
// 1k/64), exit 3.
func TestSLORun(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	code, res := runSLOJSON(t, "-slo", "p99=1h", "-slo-start", "1k", "-slo-max", "4k")
	knee := 0.0
	for _, l := range res.Levels {
		if l.Asks == 0 || l.Lost != 0 || l.Meets != (l.Why == "") {
			t.Errorf("level %+v: want asks, 0 lost, a reason exactly when it missed", l)
		}
		if l.Meets {
			knee = max(knee, l.Rate)
		}
	}
	if wantCode := map[bool]int{true: exitOK, false: exitThreshold}[knee > 0]; res.Knee != knee || code != wantCode || res.Levels[0].Rate != 1000 || !res.OK {
		t.Errorf("got knee %v exit %d after %+v, want the highest met level %v, exit %d, starting at 1000", res.Knee, code, res.Levels, knee, wantCode)
	}
	code, res = runSLOJSON(t, "-slo", "p50=1ns", "-slo-start", "1k")
	if code != exitThreshold || res.Knee != 0 || len(res.Levels) != 7 {
		t.Errorf("got exit %d knee %v after %d levels, want 3, none after 7", code, res.Knee, len(res.Levels))
	}
	if !strings.Contains(res.Levels[0].Why, "ask p50") {
		t.Errorf("got why %q, want the ask percentile named", res.Levels[0].Why)
	}
}

func TestSLOFlags(t *testing.T) {
	var stderr bytes.Buffer
	for _, args := range [][]string{
		{"-slo", "p99=2ms", "-rate", "1k"},
		{"-slo", "p99=2ms", "-out", "x"},
		{"-slo", "p99=2ms", "-workers", "0"},
		{"-slo", "p99=2ms", "-slo-start", "5k", "-slo-max", "1k"},
		{"-slo", "q99"},
	} {
		if _, err := parseFlags(args, &stderr); err == nil {
			t.Errorf("%q: got nil, want an error", args)
		}
	}
	o, err := parseFlags([]string{"-slo", "p99=2ms"}, &stderr)
	if err != nil || o.duration != 3*time.Second || o.sloStart != 10e3 || o.sloMax != 10e6 {
		t.Errorf("got %v, duration %v start %v max %v; want 3s per level, 10k, 10M", err, o.duration, o.sloStart, o.sloMax)
	}
}
