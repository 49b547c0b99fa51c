package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/internal/scrape"
)

// TestMetricsAddr: during a run against an embedded cluster, -metrics-addr
// serves the client's and the nodes' counters; scraped over HTTP, the
// client's frames to its nodes and the nodes' frames in grow past 1000,
// and every node the client routes to reads connected.
func TestMetricsAddr(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	interrupt := make(chan struct{})
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- runInterruptible(ctx, interrupt, []string{"-json", "-duration", "1h", "-entities", "50", "-workers", "2", "-progress=false", "-metrics-addr", "127.0.0.1:0"},
			&stdout, &stderr, openEngine)
	}()
	defer func() {
		close(interrupt)
		if code := <-done; code != exitInterrupted {
			t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
		}
	}()
	addrRe := regexp.MustCompile(`metrics at http://([^/]+)/metrics`)
	var addr string
	poll.UntilWithin(t, 2*time.Minute, "the metrics address on stderr", func() bool {
		m := addrRe.FindStringSubmatch(stderr.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	var last scrape.Metrics
	poll.UntilWithin(t, 2*time.Minute, "frames counted by the client and the nodes", func() bool {
		m, err := scrape.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		last = m
		return sum(m, `zerohop_client_node_frames_written_total{client="0",`) >= 1000 &&
			sum(m, `zerohop_node_frames_in_total{node=`) >= 1000
	})
	if got := sum(last, `zerohop_client_node_state{client="0",`); got < 1 {
		t.Fatalf("no node in state connected (%v)", got)
	}
	for k, v := range last {
		if strings.HasPrefix(k, `zerohop_client_node_state{client="0",`) && strings.HasSuffix(k, `state="connected"}`) && v != 1 {
			t.Errorf("%s = %v, want 1", k, v)
		}
	}
}

// sum adds the samples whose key starts with prefix (and, for the state
// gauge, only the connected series).
func sum(m scrape.Metrics, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) && (!strings.Contains(k, "state=") || strings.HasSuffix(k, `state="connected"}`)) {
			s += v
		}
	}
	return s
}
