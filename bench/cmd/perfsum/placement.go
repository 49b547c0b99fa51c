package main

import "fmt"

// The placement runs of bench/placement.sh: groups named
// place-<placement>-<system>, where the system echo is ceiling's raw
// two-process round trip (its report normalised by roundTripKeys) and zh
// and nats make one request at a time.

var placements = []string{"free", "same", "cross"}

// roundTripKeys copies the first round trip of a ceiling report (-rtt,
// round_trips[0], in ns) into ask_p50_us and ask_p99_us, so that the raw
// echo sits in the same columns as the systems' lone requests. Reports
// without round trips are left alone.
func roundTripKeys(m map[string]any) {
	rts, _ := m["round_trips"].([]any)
	if len(rts) == 0 {
		return
	}
	rt, _ := rts[0].(map[string]any)
	for key, from := range map[string]string{"ask_p50_us": "p50_ns", "ask_p99_us": "p99_ns"} {
		if v, ok := rt[from].(float64); ok {
			m[key] = v / 1e3
		}
	}
}

// placementTable returns the Markdown rows of the lone request's p50 and
// p99 per placement and system, each system also as a ratio to the raw
// echo in the same placement; nil when there are no placement runs.
func placementTable(groups map[string][]map[string]any) []string {
	var out []string
	for _, p := range placements {
		echo50, okEcho := stats(groups["place-"+p+"-echo"], "ask_p50_us")
		echo99, okEcho99 := stats(groups["place-"+p+"-echo"], "ask_p99_us")
		for _, sys := range []string{"echo", "zh", "nats"} {
			p50, ok := stats(groups["place-"+p+"-"+sys], "ask_p50_us")
			if !ok {
				continue
			}
			p99, ok99 := stats(groups["place-"+p+"-"+sys], "ask_p99_us")
			if out == nil {
				out = []string{
					"| placement | system | p50 µs median (min-max) | p99 µs median (min-max) | p50 / echo p50 | p99 / echo p99 |",
					"|---|---|---|---|---|---|",
				}
			}
			r50, r99, p99s := "n/a", "n/a", ""
			if okEcho && echo50.med > 0 {
				r50 = fmt.Sprintf("%.2f", p50.med/echo50.med)
			}
			if ok99 {
				p99s = p99.String()
				if okEcho99 && echo99.med > 0 {
					r99 = fmt.Sprintf("%.2f", p99.med/echo99.med)
				}
			}
			out = append(out, fmt.Sprintf("| %s | %s | %s | %s | **%s** | %s |", p, sys, p50, p99s, r50, r99))
		}
	}
	return out
}
