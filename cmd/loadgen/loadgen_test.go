package main

import (
	"bytes"
	"context"
	"encoding/json"
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
			code := run(ctx, []string{
				"-duration", "2s", "-json", "-transport", tport, "-node-transport", tport,
				"-entities", "200", "-workers", "2", "-ask-concurrency", "4",
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
		})
	}
}
