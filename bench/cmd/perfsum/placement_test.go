package main

import (
	"strings"
	"testing"
)

func TestRoundTripKeysFromACeilingReport(t *testing.T) {
	m := map[string]any{"round_trips": []any{map[string]any{"p50_ns": 18000.0, "p99_ns": 48000.0}}}
	roundTripKeys(m)
	if m["ask_p50_us"] != 18.0 || m["ask_p99_us"] != 48.0 {
		t.Errorf("got p50 %v p99 %v, want 18 and 48 µs", m["ask_p50_us"], m["ask_p99_us"])
	}
	load := map[string]any{"ask_p50_us": 40.0}
	roundTripKeys(load)
	if load["ask_p50_us"] != 40.0 || len(load) != 1 {
		t.Errorf("a load report was changed: %v", load)
	}
}

func TestPlacementTableRatiosToTheEcho(t *testing.T) {
	groups := map[string][]map[string]any{
		"place-same-echo":  {{"ask_p50_us": 18.0, "ask_p99_us": 40.0}, {"ask_p50_us": 20.0, "ask_p99_us": 50.0}, {"ask_p50_us": 16.0, "ask_p99_us": 45.0}},
		"place-same-zh":    runsOf("ask_p50_us", true, 20, 22, 19),
		"place-cross-zh":   runsOf("ask_p50_us", true, 60),
		"place-cross-nats": runsOf("ask_p50_us", true, 70),
	}
	text := strings.Join(placementTable(groups), "\n")
	wantRows(t, "placement", text,
		"| same | echo | 18.0 (16.0-20.0, n=3) | 45.0 (40.0-50.0, n=3) | **1.00** | 1.00 |",
		"| same | zh | 20.0 (19.0-22.0, n=3) |  | **1.11** | n/a |",
		"| cross | zh | 60.0 |  | **n/a** | n/a |",
		"| cross | nats | 70.0 |  | **n/a** | n/a |")
	if strings.Contains(text, "| free |") {
		t.Errorf("a placement with no runs got a row:\n%s", text)
	}
	if placementTable(map[string][]map[string]any{"peer-zh-tells": runsOf("tells_per_sec", true, 1)}) != nil {
		t.Error("no placement runs: want no table")
	}
}
