package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestThresholds: every threshold flag, once kept and once broken. The
// limits are far out of reach either way (1 ns, 1 h, 1e15/s, 1e-3/s), so no
// verdict depends on this machine's speed.
func TestThresholds(t *testing.T) {
	for _, tc := range []struct {
		flag, keep, breakAt string
		extra               []string
	}{
		{"max-ask-p50", "1h", "1ns", nil},
		{"max-ask-p99", "1h", "1ns", nil},
		{"max-ask-p999", "1h", "1ns", nil},
		{"max-tell-lag-p99", "1h", "1ns", []string{"-rate", "20000"}},
		{"min-tells-per-sec", "0.001", "1e15", nil},
		{"min-asks-per-sec", "0.001", "1e15", nil},
	} {
		for _, c := range []struct {
			limit string
			code  int
		}{{tc.keep, exitOK}, {tc.breakAt, exitThreshold}} {
			t.Run(tc.flag+"="+c.limit, func(t *testing.T) {
				m := &memTarget{}
				// A rate kept at 1e-3/s needs one ask (or tell) done: 2 s
				// leaves room for a box that starves the run for a while.
				dur := "300ms"
				if strings.HasPrefix(tc.flag, "min-") && c.code == exitOK {
					dur = "2s"
				}
				args := append([]string{"-duration", dur, "-entities", "20", "-workers", "2", "-progress=false", "-" + tc.flag, c.limit}, tc.extra...)
				code, got, stderr := runJSON(t, m, args...)
				if code != c.code {
					t.Fatalf("got exit %d, want %d; stderr:\n%s", code, c.code, stderr)
				}
				ts, _ := got["thresholds"].([]any)
				if len(ts) != 1 {
					t.Fatalf("got thresholds %v, want one", got["thresholds"])
				}
				th := ts[0].(map[string]any)
				if th["name"] != tc.flag || th["ok"] != (c.code == exitOK) {
					t.Errorf("got threshold %v, want %s ok=%v", th, tc.flag, c.code == exitOK)
				}
				if got["ok"] != true {
					t.Errorf("got ok %v, want true (a threshold is not a loss)", got["ok"])
				}
			})
		}
	}
}

// TestThresholdInTable: the table names a broken threshold on the result
// line and lists each one.
func TestThresholdInTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-duration", "300ms", "-entities", "20", "-workers", "1", "-progress=false",
		"-max-ask-p99", "1ns", "-min-tells-per-sec", "0.001"}, &stdout, &stderr, memOpener(&memTarget{}))
	if code != exitThreshold {
		t.Fatalf("got exit %d, want %d; stderr:\n%s", code, exitThreshold, stderr.String())
	}
	first, _, _ := strings.Cut(stdout.String(), "\n")
	if !strings.Contains(first, "THRESHOLD BROKEN: max-ask-p99") {
		t.Errorf("got result line %q, want it to name the broken threshold", first)
	}
	flat := strings.Join(strings.Fields(stdout.String()), " ")
	for _, w := range []string{"threshold max-ask-p99: ", " <= 1ns BROKEN", "threshold min-tells-per-sec: ", " >= 0.001/s ok"} {
		if !strings.Contains(flat, w) {
			t.Errorf("table lacks %q:\n%s", w, stdout.String())
		}
	}
}

// TestTellsBudget: -tells N sends exactly N tells (flat out and paced) and
// then stops, without a -duration; the in-memory target's own count of the
// tells it accepted is the reference.
func TestTellsBudget(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"flat", []string{"-tells", "5000"}},
		{"paced", []string{"-tells", "300", "-rate", "20000"}},
		{"duration kept", []string{"-tells", "700", "-duration", "1h"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memTarget{}
			code, got, stderr := runJSON(t, m, append([]string{"-entities", "20", "-workers", "3", "-progress=false"}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr)
			}
			want := num(t, got, "tells_limit")
			if num(t, got, "tells_sent") != want || float64(m.accepted.Load()) != want || num(t, got, "tells_delivered") != want {
				t.Errorf("got tells_sent %v delivered %v, target accepted %d, want all %v", got["tells_sent"], got["tells_delivered"], m.accepted.Load(), want)
			}
		})
	}
}

func TestBadTellsAndThresholds(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-tells", "-1", "-max-ask-p99", "-1s", "-min-tells-per-sec", "-5"}, &stderr)
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	for _, want := range []string{"-tells -1", "-max-ask-p99", "-min-tells-per-sec"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := parseFlags([]string{"-tells", "10", "-workers", "0"}, &stderr); err == nil || !strings.Contains(err.Error(), "-tells needs -workers") {
		t.Errorf("got %v, want -tells needs -workers", err)
	}
}
