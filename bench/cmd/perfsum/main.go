// Command perfsum summarises the load runs that bench/perf.sh leaves in a
// directory: it groups NAME-<i>.json reports by NAME, and prints one
// Markdown table row per group with every run's value and the median of the
// columns PERFORMANCE.md quotes; then, when the directory holds the
// side-by-side runs of bench/peers.sh (peer-zh-SHAPE-i and
// peer-PEER-SHAPE-i), a table of zerohop/peer ratios per shape from the
// medians (peers.go); then, for the runs of bench/placement.sh, the lone
// request per placement and its ratio to the raw echo (placement.go).
//
//	go run ./bench/cmd/perfsum /tmp/zerohop-perf.XXXXXX
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// columns are the report keys shown, in order.
var columns = []string{
	"tells_per_sec", "cluster_tells_per_sec", "lost", "tells_failed", "tells_retried",
	"asks_per_sec", "ask_p50_us", "ask_p99_us", "ask_p999_us", "ask_errors",
	"ratio_to_ceiling", "ceiling_frames_per_sec", "cpu_cores",
}

var runSuffix = regexp.MustCompile(`^(.*)-(\d{1,2})$`) // run numbers; -100000 in paced-100000 is a rate

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: perfsum DIR")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(os.Args[1], "*.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	groups := map[string][]map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			fmt.Fprintf(os.Stderr, "perfsum: %s: %v (skipped)\n", f, err)
			continue
		}
		roundTripKeys(m)
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if g := runSuffix.FindStringSubmatch(name); g != nil && !strings.HasPrefix(name, "scale-") {
			name = g[1]
		}
		groups[name] = append(groups[name], m)
	}
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)

	fmt.Printf("| run | n | %s |\n", strings.Join(columns, " | "))
	fmt.Printf("|---|---|%s\n", strings.Repeat("---|", len(columns)))
	for _, n := range names {
		runs := groups[n]
		cells := make([]string, len(columns))
		for i, c := range columns {
			var vals []float64
			for _, r := range runs {
				if v, ok := r[c].(float64); ok {
					vals = append(vals, v)
				}
			}
			cells[i] = cell(vals)
		}
		fmt.Printf("| %s | %d | %s |\n", n, len(runs), strings.Join(cells, " | "))
	}
	printTable("Side by side (bench/peers.sh), medians of the runs above:", peerTable(groups))
	printTable("Lone request by placement (bench/placement.sh), medians of the runs above:", placementTable(groups))
}

// printTable prints title and rows after a blank line; nothing when there
// are no rows.
func printTable(title string, rows []string) {
	if rows == nil {
		return
	}
	fmt.Printf("\n%s\n\n", title)
	for _, r := range rows {
		fmt.Println(r)
	}
}

// cell prints the median, and every value when there are several.
func cell(vals []float64) string {
	if len(vals) == 0 {
		return ""
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(vals) == 1 {
		return num(med)
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = num(v)
	}
	return fmt.Sprintf("**%s** (%s)", num(med), strings.Join(parts, ", "))
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}
