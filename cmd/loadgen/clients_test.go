package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/wire"
)

// TestClientsEmbedded: -clients 3 against the embedded 3-node cluster
// opens three clients, each connected to every node (9 connections), and
// the cluster's own count of increments equals what loadgen delivered.
func TestClientsEmbedded(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-clients", "3", "-duration", "1s", "-json", "-progress=false", "-entities", "200", "-workers", "2", "-ask-concurrency", "4"},
		&stdout, &stderr, openEngine)
	if code != exitOK {
		t.Fatalf("got exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	client, _ := got["client"].(map[string]any)
	if got["clients"] != 3.0 || client["clients"] != 3.0 || client["connects"].(float64) < 9 {
		t.Errorf("got clients %v, client stats clients %v connects %v; want 3, 3, >= 9", got["clients"], client["clients"], client["connects"])
	}
	if num(t, got, "lost") != 0 || num(t, got, "cluster_increments") != num(t, got, "tells_delivered") || num(t, got, "tells_delivered") == 0 {
		t.Errorf("got lost %v, cluster_increments %v, delivered %v; want 0 and equal, > 0", got["lost"], got["cluster_increments"], got["tells_delivered"])
	}
}

// TestMultiTargetPick: an id always goes to the same client, and ids
// spread over all of them.
func TestMultiTargetPick(t *testing.T) {
	m := newMultiTarget([]*engineTarget{{}, {}, {}})
	seen := map[*engineTarget]int{}
	for i := range 300 {
		id := "lg-x-" + strconv.Itoa(i)
		c := m.pick(id)
		if m.pick(id) != c {
			t.Fatalf("%s: two picks differ", id)
		}
		seen[c]++
	}
	if len(seen) != 3 {
		t.Errorf("got %d clients used for 300 ids, want 3", len(seen))
	}
}

// TestLostLinkNodes: a node counts as a lost link when its connection
// failed while open: it reconnected since, or it is down or reconnecting
// after a connect; never-connected and merely suspect nodes do not.
func TestLostLinkNodes(t *testing.T) {
	node := func(host string) wire.NodeAddress {
		return wire.NodeAddress{Host: host, Port: 25520}
	}
	got := lostLinkNodes([]engine.NodeStatus{
		{Node: node("a"), State: engine.NodeConnected, Connects: 2, Reconnects: 1},
		{Node: node("b"), State: engine.NodeConnected, Connects: 1},
		{Node: node("c"), State: engine.NodeReconnecting, Connects: 1},
		{Node: node("d"), State: engine.NodeDown, ConnectFailures: 3},
		{Node: node("e"), State: engine.NodeSuspect, Connects: 1},
		{Node: node("f"), State: engine.NodeDown, Connects: 1},
		{Node: node("a"), State: engine.NodeClosed, Connects: 2, Reconnects: 1},
	})
	want := []string{node("a").String(), node("c").String(), node("f").String()}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
