package main

import (
	"fmt"
	"slices"
	"strings"
)

// Side by side with a peer (bench/peers.sh): groups named
// peer-zh-<shape> (zerohop: one cmd/node process + loadgen -contact) and
// peer-<peer>-<shape> (the peer's server process + its load process, e.g.
// bench/natsbase) measured in the same session, alternated run by run.

// peerMeasure is one compared figure of a shape.
type peerMeasure struct {
	shape, key, label string
	lowerBetter       bool
}

var peerMeasures = []peerMeasure{
	{"tells", "tells_per_sec", "tells/s delivered", false},
	{"ask-c1", "ask_p50_us", "lone request p50 µs", true},
	{"ask-c1", "ask_p99_us", "lone request p99 µs", true},
	{"ask-c1", "asks_per_sec", "lone requests/s", false},
	{"ask-c256", "asks_per_sec", "256 in flight, requests/s", false},
	{"ask-c256", "ask_p50_us", "256 in flight, p50 µs", true},
}

// peerTable returns the Markdown rows comparing zerohop with every peer
// found in groups, from the medians; nil when there is no pair.
func peerTable(groups map[string][]map[string]any) []string {
	var peers []string
	for name := range groups {
		if p, ok := strings.CutPrefix(name, "peer-"); ok {
			if peer, _, ok := strings.Cut(p, "-"); ok && peer != "zh" && !slices.Contains(peers, peer) {
				peers = append(peers, peer)
			}
		}
	}
	slices.Sort(peers)
	var out []string
	header := func() {
		if out == nil {
			out = []string{
				"| peer | shape | measure | zerohop median (min-max) | peer median (min-max) | zerohop/peer |",
				"|---|---|---|---|---|---|",
			}
		}
	}
	for _, peer := range peers {
		for _, m := range peerMeasures {
			zh, okz := stats(groups["peer-zh-"+m.shape], m.key)
			pv, okp := stats(groups["peer-"+peer+"-"+m.shape], m.key)
			if !okz || !okp {
				continue
			}
			header()
			out = append(out, fmt.Sprintf("| %s | %s | %s | %s | %s | **%s** |", peer, m.shape, m.label, zh, pv, ratio(zh, pv, m)))
		}
		for _, shape := range []string{"tells", "ask-c1", "ask-c256"} {
			for _, who := range []string{"zh", peer} {
				if l := lossNote(groups["peer-"+who+"-"+shape]); l != "" {
					out = append(out, fmt.Sprintf("| %s | %s | not OK (%s) | | | |", who, shape, l))
				}
			}
		}
	}
	if len(peers) > 1 {
		out = append(out, bestRows(groups, peers)...)
	}
	return out
}

// bestRows compares zerohop with the best peer median of each measure
// (highest rate, lowest latency), naming the peer.
func bestRows(groups map[string][]map[string]any, peers []string) []string {
	var out []string
	for _, m := range peerMeasures {
		zh, ok := stats(groups["peer-zh-"+m.shape], m.key)
		if !ok {
			continue
		}
		var best spread
		var who string
		for _, peer := range peers {
			pv, ok := stats(groups["peer-"+peer+"-"+m.shape], m.key)
			if ok && (who == "" || (m.lowerBetter && pv.med < best.med) || (!m.lowerBetter && pv.med > best.med)) {
				best, who = pv, peer
			}
		}
		if who != "" {
			out = append(out, fmt.Sprintf("| best: %s | %s | %s | %s | %s | **%s** |", who, m.shape, m.label, zh, best, ratio(zh, best, m)))
		}
	}
	return out
}

func ratio(zh, peer spread, m peerMeasure) string {
	if peer.med == 0 {
		return "n/a"
	}
	r := fmt.Sprintf("%.2f", zh.med/peer.med)
	if m.lowerBetter {
		r += " (lower is better)"
	}
	return r
}

// spread is the median, minimum and maximum of one key over runs.
type spread struct {
	med, lo, hi float64
	n           int
}

func (s spread) String() string {
	if s.n == 1 {
		return num(s.med)
	}
	return fmt.Sprintf("%s (%s-%s, n=%d)", num(s.med), num(s.lo), num(s.hi), s.n)
}

// stats returns key's spread over runs; false when no run has it.
func stats(runs []map[string]any, key string) (spread, bool) {
	var vals []float64
	for _, r := range runs {
		if v, ok := r[key].(float64); ok {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return spread{}, false
	}
	slices.Sort(vals)
	return spread{med: vals[len(vals)/2], lo: vals[0], hi: vals[len(vals)-1], n: len(vals)}, true
}

// lossNote says which runs of a group were not OK, or "".
func lossNote(runs []map[string]any) string {
	var bad []string
	for i, r := range runs {
		if ok, _ := r["ok"].(bool); !ok {
			lost, _ := r["lost"].(float64)
			errs, _ := r["ask_errors"].(float64)
			bad = append(bad, fmt.Sprintf("run %d: lost %s, ask errors %s", i+1, num(lost), num(errs)))
		}
	}
	return strings.Join(bad, "; ")
}
