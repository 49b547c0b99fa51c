//go:build !race

package engine

import (
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// TestTellZeroAllocsBinary: Tell on a connection that negotiated zhbin
// allocates nothing either (the fake node does not negotiate, so the
// connections are switched by hand once connected: what is measured is the
// client's encode path, c.codecFor and zhbin's AppendEnvelopeFrame).
func TestTellZeroAllocsBinary(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cl.setAlloc("counter", 3, 0) // user-0 is on shard 3 of 32
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.Transport = TransportNet
		cfg.RefreshInterval = time.Hour
		cfg.LivenessWindow = time.Hour
		cfg.QueueFrames = 4096
		cfg.Binary = binaryCodec(t, cfg.Types)
	})
	ref, err := c.EntityRef("counter", 32)
	if err != nil {
		t.Fatal(err)
	}
	cl.nodes[0].sink.Store(true)
	if err := ref.Tell("user-0", workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sink mode", func() bool { return len(cl.nodes[0].messages("/_region-")) == 1 })
	c.mu.Lock()
	for _, nc := range c.connList {
		nc.binary.Store(true)
	}
	c.mu.Unlock()
	for i := 0; i < 2*4096; i++ {
		for ref.Tell("user-0", workload.Increment{Amount: 1}) != nil {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(t, "warm-up drained", func() bool { return c.Stats().Queued == 0 })
	warmBuffers(t, c)
	boxed := any(workload.Increment{Amount: 1000})
	allocs := testing.AllocsPerRun(1000, func() {
		if err := ref.Tell("user-0", boxed); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Tell on a zhbin connection: got %v allocs/op, want 0", allocs)
	}
	// Through the route entry's compact head (as if the node announced
	// heads; the writer, whose link took none, writes the frames whole).
	c.mu.Lock()
	for _, nc := range c.connList {
		nc.maxHeads.Store(wire.MaxHeads)
	}
	c.mu.Unlock()
	allocs = testing.AllocsPerRun(1000, func() {
		if err := ref.Tell("user-0", boxed); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Tell through a compact head: got %v allocs/op, want 0", allocs)
	}
}
