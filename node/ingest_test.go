package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/workload/counter"
)

// TestIngestFragmentedStream checks the ingest path's memos and its
// handling of frames cut by reads: many entity ids (more than the id memo
// holds), alternating targets and headers, frames written in fragments of
// random sizes. Every increment must reach its entity.
func TestIngestFragmentedStream(t *testing.T) {
	t.Parallel()
	forEachTransport(t, testIngestFragmentedStream)
}

func testIngestFragmentedStream(t *testing.T, transport string) {
	cfg := node.Config{Logger: slog.New(slog.DiscardHandler), Transport: transport}
	tally, err := counter.Configure(&cfg, workload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	rc := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.45.0.1", Port: 0}, nil)
	target := wire.NodeURI("live", n.Addr(), "/_region-counter")
	senders := []string{"casty://live-client@127.45.0.1:0/", "casty://live-client@127.45.0.1:0/x"}
	const entities, msgs = 6000, 30000
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]int64, entities)
	var stream []byte
	for i := range msgs {
		e := rng.IntN(entities)
		amount := 1 + rng.IntN(3)
		want[e] += int64(amount)
		// Two senders: the header alternates between two byte strings
		// with the same target.
		stream, err = rc.reg.AppendMessageFrame(stream, target, senders[rng.IntN(2)],
			wire.ShardEnvelope{EntityID: fmt.Sprintf("frag-%d", e), Message: workload.Increment{Amount: amount}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			// A message to another path between region messages.
			stream, err = rc.reg.AppendMessageFrame(stream, wire.NodeURI("live", n.Addr(), "/no-such-path"), senders[0], workload.Increment{Amount: 1}, 0)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for off := 0; off < len(stream); {
		k := min(len(stream)-off, 1+rng.IntN(2000))
		if _, err := rc.c.Write(stream[off : off+k]); err != nil {
			t.Fatal(err)
		}
		off += k
		if rng.IntN(20) == 0 {
			time.Sleep(time.Millisecond) // let the node read a cut frame
		}
	}
	var total int64
	for _, w := range want {
		total += w
	}
	deadline := time.Now().Add(30 * time.Second)
	for tally.Stats("").AmountTotal < total {
		if time.Now().After(deadline) {
			t.Fatalf("amount %d of %d", tally.Stats("").AmountTotal, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, e := range []int{0, 1, 777, entities - 1} {
		id := fmt.Sprintf("frag-%d", e)
		r := rc.ask("/_region-counter", func(ref wire.Ref) any {
			return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
		})
		if cr, ok := r.(workload.CountReply); !ok || cr.Value != want[e] || cr.EntityID != id {
			t.Fatalf("%s: got %#v, want %d", id, r, want[e])
		}
	}
	if s := n.Stats(); s.DecodeFailures != 0 || s.FramingErrors != 0 {
		t.Fatalf("stats: %+v", s)
	}
}
