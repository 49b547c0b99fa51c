package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/ring"
)

// TestEmbeddedRunLosesNothing is the README's run command, shortened: an
// embedded 3-node cluster, 2 s of tells with asks alongside, -json. It
// asserts the accounting (lost == 0, every key of the report present), never
// a speed.
func TestEmbeddedRunLosesNothing(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
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
				"failed_on_client", "client_queue_dropped",
				"state_lost", "state_lost_by_node", "state_lost_by_shard", "failed_on_node", "in_flight_lost",
				"unexplained_lost", "accounting",
			} {
				if _, ok := got[k]; !ok {
					t.Errorf("report lacks key %q", k)
				}
			}
			client, _ := got["client"].(map[string]any)
			for _, k := range []string{"tells_queued", "suspects", "suspects_cleared", "undeliverable", "unavailable_answers", "drop_expired"} {
				if _, ok := client[k]; !ok {
					t.Errorf("client stats lack key %q", k)
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
			for _, k := range []string{"failed_on_client", "client_queue_dropped", "state_lost", "failed_on_node", "in_flight_lost", "unexplained_lost"} {
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

// TestCrashIsExplained kills one node of three under load (nodetest.Kill:
// no leave, no flush, as a crash) once it has applied some of the load. The run must end with its loss fully
// explained: the state of the dead node's counters (state_lost, all on
// that node), what was in flight to it (in_flight_lost), nothing
// unexplained, the dead incarnation reported gone, exit 0.
func TestCrashIsExplained(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	if testing.Short() {
		t.Skip("starts a 3-node cluster and kills a node")
	}
	lc := nodetest.Start(t, 3, nodetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The victim is node 1 or 2 (node 0 is the contact point), whichever
	// has applied increments of the load first: it dies holding state.
	killed := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, i := range []int{1, 2} {
				var applied int64
				for _, v := range lc.Tally(i).ShardTally("").Applied {
					applied += v
				}
				if applied > 1000 {
					// Let the tally poller (every 100 ms) see it
					// holding state; what it applied after its last
					// poll counts as in flight.
					select {
					case <-time.After(time.Second):
					case <-ctx.Done():
					}
					killed <- lc.Addr(i).String()
					lc.Kill(i)
					return
				}
			}
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				killed <- ""
				return
			}
		}
	}()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{
		"-contact", lc.ContactPoints()[0], "-duration", "3s", "-json", "-progress=false",
		"-entities", "200", "-workers", "2", "-verify-retries", "30",
	}, &stdout, &stderr, openEngine)
	wg.Wait()
	if code != 0 {
		t.Fatalf("got exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	victim := <-killed
	if victim == "" {
		t.Fatal("no node was killed: nodes 1 and 2 applied nothing")
	}
	lost, stateLost, inFlight := got["lost"].(float64), got["state_lost"].(float64), got["in_flight_lost"].(float64)
	onClient, onNode := got["failed_on_client"].(float64), got["failed_on_node"].(float64)
	if got["accounting"] != accountingTallies || got["unexplained_lost"] != 0.0 || lost != onClient+stateLost+inFlight+onNode {
		t.Errorf("got accounting %v, lost %v = failed on client %v + state %v + in flight %v + failed on node %v, unexplained %v; want tallies, a sum, 0 unexplained",
			got["accounting"], lost, onClient, stateLost, inFlight, onNode, got["unexplained_lost"])
	}
	// The victim had applied increments before it died (it owned about a
	// third of the shards for 1.5 s): their state is lost, on that node only.
	byNode, _ := got["state_lost_by_node"].(map[string]any)
	if stateLost <= 0 || len(byNode) != 1 || byNode[victim] != stateLost {
		t.Errorf("got state_lost %v by node %v, want > 0, all on %s\n%s", stateLost, byNode, victim, stdout.String())
	}
	gone, _ := got["gone_incarnations"].([]any)
	if len(gone) != 1 || !strings.HasPrefix(gone[0].(string), victim+"#") || strings.Contains(gone[0].(string), "final") {
		t.Errorf("got gone_incarnations %v, want one crashed incarnation of %s", gone, victim)
	}
}

// TestEmbeddedRunShardHash: -shard-hash xxh64 configures the embedded
// cluster's type (nothing lost, the report names the hash) and this run's
// per-shard accounting (shardsOf maps ids as the nodes do: it is what
// attributes losses to the shards of a crashed node).
func TestEmbeddedRunShardHash(t *testing.T) {
	ids := []string{"e-0", "e-1", "user-42", "x"}
	for i, sh := range shardsOf(ids, 32, ring.HashXXH64) {
		if want := ring.ShardXX(ids[i], 32); int(sh) != want {
			t.Errorf("shardsOf(%q) under xxh64: got %d, want %d", ids[i], sh, want)
		}
	}
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-duration", "1500ms", "-json", "-shard-hash", "xxh64", "-entities", "200", "-workers", "2"},
		&stdout, &stderr, openEngine)
	if code != 0 {
		t.Fatalf("got exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if got["shard_hash"] != "xxh64" || got["accounting"] != accountingTallies {
		t.Errorf("got shard_hash %v accounting %v, want xxh64 and %q", got["shard_hash"], got["accounting"], accountingTallies)
	}
	for _, k := range []string{"lost", "unexplained_lost", "failed_on_node"} {
		if got[k] != 0.0 {
			t.Errorf("got %s %v, want 0", k, got[k])
		}
	}
	if _, err := parseFlags([]string{"-shard-hash", "sha1"}, io.Discard); err == nil || !strings.Contains(err.Error(), "-shard-hash") {
		t.Errorf("-shard-hash sha1: got %v, want an error naming the flag", err)
	}
}
