package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedRunLosesNothing is the README's run command, shortened: an
// embedded 3-node cluster, 2 s of tells with asks alongside, -json. It
// asserts the accounting (lost == 0, every key of the report present), never
// a speed.
func TestEmbeddedRunLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	for _, tport := range []string{"gnet", "net"} {
		t.Run(tport, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			series := filepath.Join(t.TempDir(), "series.jsonl")
			code := run(ctx, []string{
				"-duration", "2s", "-json", "-transport", tport, "-node-transport", tport,
				"-entities", "200", "-workers", "2", "-ask-concurrency", "4", "-series", series,
			}, &stdout, &stderr, openEngine)
			if code != 0 {
				t.Fatalf("got exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			var got map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
			}
			for _, k := range []string{
				"tells_sent", "tells_delivered", "tells_failed", "lost", "tells_per_sec",
				"asks", "ask_errors", "ask_p50_us", "ask_p90_us", "ask_p99_us", "ask_p999_us",
				"duration_s", "cluster", "nodes", "transport", "go_version",
				"state_lost", "state_lost_by_node", "state_lost_by_shard", "failed_on_node", "in_flight_lost",
				"unexplained_lost", "accounting",
			} {
				if _, ok := got[k]; !ok {
					t.Errorf("report lacks key %q", k)
				}
			}
			if got["lost"] != 0.0 {
				t.Errorf("got lost %v, want 0", got["lost"])
			}
			if got["tells_sent"].(float64) == 0 || got["tells_delivered"].(float64) == 0 {
				t.Errorf("got tells_sent %v delivered %v, want > 0", got["tells_sent"], got["tells_delivered"])
			}
			if got["asks"].(float64) == 0 {
				t.Errorf("got asks 0, want > 0")
			}
			if got["cluster"] != "embedded" || got["nodes"] != 3.0 {
				t.Errorf("got cluster %v nodes %v, want embedded 3", got["cluster"], got["nodes"])
			}
			if got["transport"] != tport || got["node_transport"] != tport {
				t.Errorf("got transport %v node_transport %v, want %s for both", got["transport"], got["node_transport"], tport)
			}
			if inc, ok := got["cluster_increments"].(float64); !ok || inc != got["tells_delivered"] {
				t.Errorf("got cluster_increments %v, want tells_delivered %v", got["cluster_increments"], got["tells_delivered"])
			}
			// The loss accounting: the Go nodes serve tallies, and with no
			// fault every cause is 0 and no incarnation went away.
			if got["accounting"] != accountingTallies {
				t.Errorf("got accounting %v, want %q", got["accounting"], accountingTallies)
			}
			for _, k := range []string{"state_lost", "failed_on_node", "in_flight_lost", "unexplained_lost"} {
				if got[k] != 0.0 {
					t.Errorf("got %s %v, want 0", k, got[k])
				}
			}
			if got["tally_incarnations"] != 3.0 || got["gone_incarnations"] != nil {
				t.Errorf("got tally_incarnations %v gone %v, want 3 and none", got["tally_incarnations"], got["gone_incarnations"])
			}
			if got["tally_polls"].(float64) < 6 {
				t.Errorf("got tally_polls %v, want the probe and end rounds at least (6)", got["tally_polls"])
			}
			b, err := os.ReadFile(series)
			if err != nil {
				t.Fatal(err)
			}
			var ok float64
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var p seriesPoint
				if err := json.Unmarshal([]byte(line), &p); err != nil {
					t.Fatalf("-series line %q: %v", line, err)
				}
				ok += float64(p.TellsOK)
			}
			if want := got["tells_sent"].(float64) - got["tells_failed"].(float64); ok != want {
				t.Errorf("got -series tells_ok summing to %v, want %v", ok, want)
			}
		})
	}
}
