package main

import (
	"strings"
	"testing"
)

func runsOf(key string, ok bool, vals ...float64) []map[string]any {
	out := make([]map[string]any, len(vals))
	for i, v := range vals {
		out[i] = map[string]any{key: v, "ok": ok, "lost": 0.0}
	}
	return out
}

func TestPeerTableRatiosFromMedians(t *testing.T) {
	groups := map[string][]map[string]any{
		"peer-zh-tells":    runsOf("tells_per_sec", true, 3e6, 1e6, 2e6),   // median 2 M
		"peer-nats-tells":  runsOf("tells_per_sec", true, 1e6, 0.5e6, 4e6), // median 1 M
		"peer-zh-ask-c1":   runsOf("ask_p50_us", true, 30, 40, 50),
		"peer-nats-ask-c1": runsOf("ask_p50_us", false, 120),
		"ext-gnet-e2e":     runsOf("tells_per_sec", true, 1),
	}
	rows := peerTable(groups)
	text := strings.Join(rows, "\n")
	wantRows(t, "peer", text,
		"| nats | tells | tells/s delivered | 2.00M (1.00M-3.00M, n=3) | 1.00M (500.0k-4.00M, n=3) | **2.00** |",
		"| nats | ask-c1 | lone request p50 µs | 40.0 (30.0-50.0, n=3) | 120 | **0.33 (lower is better)** |",
		"| nats | ask-c1 | not OK (run 1: lost 0, ask errors 0) | | | |")
	if strings.Contains(text, "ask-c256") {
		t.Errorf("a shape with no runs got a row:\n%s", text)
	}
	groups["peer-natsip-tells"] = runsOf("tells_per_sec", true, 1.5e6)
	groups["peer-natsip-ask-c1"] = runsOf("ask_p50_us", true, 200)
	text = strings.Join(peerTable(groups), "\n")
	wantRows(t, "peer", text,
		"| best: natsip | tells | tells/s delivered | 2.00M (1.00M-3.00M, n=3) | 1.50M | **1.33** |",
		"| best: nats | ask-c1 | lone request p50 µs | 40.0 (30.0-50.0, n=3) | 120 | **0.33 (lower is better)** |")
	if got := peerTable(map[string][]map[string]any{"peer-zh-tells": runsOf("tells_per_sec", true, 1)}); got != nil {
		t.Errorf("zerohop alone: got rows %q, want none", got)
	}
}

// wantRows reports each of rows that text, a table named table, lacks.
func wantRows(t *testing.T, table, text string, rows ...string) {
	t.Helper()
	for _, want := range rows {
		if !strings.Contains(text, want) {
			t.Errorf("%s table lacks\n%s\ngot\n%s", table, want, text)
		}
	}
}
