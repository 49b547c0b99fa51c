package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/workload"
)

// TestSeries checks -series: one JSON line per second and a last one for
// the partial interval, whose sums are the run's totals, with the failed
// tells by kind.
func TestSeries(t *testing.T) {
	file := filepath.Join(t.TempDir(), "series.jsonl")
	m := &memTarget{failEvery: 11, failWith: &engine.OwnerUnavailableError{Type: "counter", Cause: io.EOF}}
	code, got, stderr := runJSON(t, m, "-duration", "2300ms", "-entities", "50", "-workers", "2", "-progress=false", "-series", file)
	if code != 0 {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		lines                   int
		tellsOK, byShard, askOK int64
		unavailable, otherKinds int64
		lastT                   float64
		sc                      = bufio.NewScanner(f)
	)
	for sc.Scan() {
		var p seriesPoint
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("line %d %q: %v", lines+1, sc.Text(), err)
		}
		lines++
		if p.T <= lastT {
			t.Errorf("line %d: got t %v after %v, want increasing", lines, p.T, lastT)
		}
		lastT = p.T
		if len(p.TellsOKByShard) != workload.DefaultShards {
			t.Errorf("line %d: got %d shards, want %d", lines, len(p.TellsOKByShard), workload.DefaultShards)
		}
		var sum int64
		for _, n := range p.TellsOKByShard {
			sum += n
		}
		if sum != p.TellsOK {
			t.Errorf("line %d: got tells_ok %d, shards summing to %d", lines, p.TellsOK, sum)
		}
		if len(p.TellErrors) != numErrKinds {
			t.Errorf("line %d: got tell_errors %v, want every kind", lines, p.TellErrors)
		}
		tellsOK += p.TellsOK
		byShard += sum
		askOK += p.AsksOK
		for k, n := range p.TellErrors {
			if k == "owner_unavailable" {
				unavailable += n
			} else {
				otherKinds += n
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// 2 full seconds and the last partial one; a slow machine may tick late,
	// never more often.
	if lines < 1 || lines > 3 {
		t.Errorf("got %d lines, want 1 to 3 (2 ticks and the end)", lines)
	}
	if want := int64(num(t, got, "tells_sent") - num(t, got, "tells_failed")); tellsOK != want {
		t.Errorf("got tells_ok summing to %d, want tells_sent - tells_failed = %d", tellsOK, want)
	}
	if want := int64(num(t, got, "tells_failed")); unavailable != want || want == 0 || otherKinds != 0 {
		t.Errorf("got owner_unavailable %d and other kinds %d, want tells_failed %d (> 0) and 0", unavailable, otherKinds, want)
	}
	if want := int64(num(t, got, "asks")); askOK != want {
		t.Errorf("got asks_ok summing to %d, want %d", askOK, want)
	}
}

func TestSeriesBadFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	m := &memTarget{}
	code := run(context.Background(), []string{"-duration", "100ms", "-entities", "5", "-series", filepath.Join(t.TempDir(), "no", "such", "dir")}, &stdout, &stderr, memOpener(m))
	if code != exitUsage || !strings.Contains(stderr.String(), "-series") {
		t.Fatalf("got exit %d, stderr %q; want %d (a configuration error) and a -series error", code, stderr.String(), exitUsage)
	}
}

// TestRefusalsDoNotStallTheLoad: one shard refuses every tell, with an
// owner that is down or with a full buffer that never drains (its location
// never resolves). The other shards keep getting tells; the refused shard's
// tells are failed by kind, never accepted.
func TestRefusalsDoNotStallTheLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		kind string
	}{
		{"owner unavailable", &engine.OwnerUnavailableError{Type: "counter", Shard: 3, Cause: io.EOF}, "owner_unavailable"},
		{"buffer full", errFakeFull, "buffer_full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags([]string{"-duration", "1s", "-entities", "200", "-workers", "2", "-ask-concurrency", "0", "-progress=false"}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			m := &memTarget{refuse: true, refuseShard: 3, refuseWith: tc.err}
			memOpener(m)(context.Background(), o, io.Discard)
			ids := make([]string, o.entities)
			for i := range ids {
				ids[i] = "e-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			}
			r := newRunner(o, m, ids, io.Discard, nil)
			r.retryGiveUp = 50 * time.Millisecond
			lr := r.run(context.Background())

			var refused, other int64
			for i, id := range ids {
				if ring.Shard(id, workload.DefaultShards) == 3 {
					refused += lr.expected[i]
				} else {
					other += lr.expected[i]
				}
			}
			if refused != 0 {
				t.Errorf("got %d tells to the refusing shard counted as accepted, want 0", refused)
			}
			// A stalled load would have sent a handful: every worker cycles
			// over all entities, the refusing shard's too.
			if other < 1000 {
				t.Errorf("got %d tells accepted to the other shards in 1s, want the load to keep going (>= 1000)", other)
			}
			var kinds int64
			for k, n := range lr.tellErrors {
				if errKindNames[k] == tc.kind {
					kinds += n
				} else if n != 0 && errKindNames[k] != "abandoned" {
					t.Errorf("got %d tell errors of kind %s, want only %s", n, errKindNames[k], tc.kind)
				}
			}
			if kinds == 0 || kinds > lr.failed {
				t.Errorf("got %d %s errors of %d failed, want > 0", kinds, tc.kind, lr.failed)
			}
		})
	}
}

func TestTableShowsTheLossByCause(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *memTarget
		code int
		want []string
	}{
		{"explained", &memTarget{loseEvery: 5, tallies: true, deadLetters: true}, 0,
			[]string{"failed on node", "in flight lost", "unexplained lost 0", "OK, BUT", "LOST, every one explained", "loss accounting per-shard tallies (node incarnations seen: 1)"}},
		{"no tallies", &memTarget{loseEvery: 5}, 1,
			[]string{"(every loss but failed on client: no per-shard tallies)", "loss accounting unavailable: no node answered GetShardTally", "FAILED:"}},
		{"client drops", &memTarget{loseEvery: 5, tallies: true, clientDrops: true}, 0,
			[]string{"failed on client", "unexplained lost 0", "LOST, every one explained: failed_on_client"}},
		{"queued frames dropped", &memTarget{loseEvery: 5, tallies: true, queueDropped: 4}, 1,
			[]string{"client queue dropped 4 frames", "hint the client dropped 4 frames from its connection queues", "FAILED:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"-duration", "300ms", "-entities", "20", "-workers", "1", "-progress=false"}, &stdout, &stderr, memOpener(tc.m))
			if code != tc.code {
				t.Fatalf("got exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			flat := strings.Join(strings.Fields(stdout.String()), " ") // tabwriter pads columns
			for _, w := range tc.want {
				if !strings.Contains(flat, w) {
					t.Errorf("table lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
