package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// fillStalled fills the queue of the connection to the owner of id, whose
// node has stopped reading, until Tell keeps returning ErrBufferFull (the
// kernel may grow loopback buffers for a while).
func fillStalled(t *testing.T, ref *EntityRef, id string, msg any) {
	t.Helper()
	var err error
	for round := 0; ; round++ {
		for i := 0; i < 100000; i++ {
			if err = ref.Tell(id, msg); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrBufferFull) {
			t.Fatalf("Tell on a stalled connection: got %v, want ErrBufferFull", err)
		}
		time.Sleep(200 * time.Millisecond)
		if err = ref.Tell(id, msg); errors.Is(err, ErrBufferFull) {
			return
		}
		if round == 50 {
			t.Fatal("the queue never stayed full")
		}
	}
}

// heartbeat pushes snapshots from nd to its subscribers every 50 ms until
// the returned stop is called (also at the end of the test): a node that
// reads nothing but still talks.
func heartbeat(t *testing.T, cl *fakeCluster, nd *fakeNode) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				nd.push(cl.snapshot())
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

// TellContext waiting for room in the queue of an owner that stopped
// reading: when the owner goes silent it returns ErrOwnerUnavailable as
// soon as the connection is suspect; when a snapshot moves the shard it
// sends to the new owner (found by the periodic re-check: nothing wakes
// the waiter).
func TestTellContextLeavesStalledOwner(t *testing.T) {
	big := workload.CountReply{EntityID: strings.Repeat("x", 16<<10)} // any registered type will do
	setup := func(t *testing.T) (*fakeCluster, *Client, *EntityRef, string, func()) {
		cl := newFakeCluster(t, 2)
		const shard = 3
		cl.setAlloc("counter", shard, 1)
		id := entityOnShard(t, shard, 32, "stall")
		c := dialFake(t, cl, func(cfg *Config) {
			cfg.QueueFrames = 16
			cfg.RefreshInterval = 100 * time.Millisecond
			cfg.SuspectAfter = time.Second
		})
		ref, _ := c.EntityRef("counter", 32)
		if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
		n1 := cl.nodes[1]
		waitFor(t, "node 1 counts", func() bool { return n1.count(id) == 1 })
		waitFor(t, "node 1 subscribed to", func() bool {
			return countMsgs[wire.SubscribeTopology](n1, wire.PathTopology) > 0
		})
		n1.pause(t)
		stop := heartbeat(t, cl, n1) // stalled, not silent: never suspect meanwhile
		fillStalled(t, ref, id, big)
		return cl, c, ref, id, stop
	}
	start := func(t *testing.T, ref *EntityRef, id string) chan error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		done := make(chan error, 1)
		go func() { done <- ref.TellContext(ctx, id, workload.Increment{Amount: 7}) }()
		select {
		case err := <-done:
			t.Fatalf("TellContext returned %v while the queue is full", err)
		case <-time.After(100 * time.Millisecond):
		}
		return done
	}

	t.Run("suspect", func(t *testing.T) {
		_, c, ref, id, stopHeartbeat := setup(t)
		unavailable := c.Stats().Drops[DropOwnerUnavailable]
		done := start(t, ref, id)
		stopHeartbeat() // silent now
		err := <-done
		if !errors.Is(err, ErrOwnerUnavailable) || !errors.Is(err, ErrSuspect) {
			t.Fatalf("TellContext on a silent owner: got %v, want ErrOwnerUnavailable wrapping ErrSuspect", err)
		}
		// Counted once, as owner_unavailable (the refresh's refused
		// SubscribeTopology frames count as queue_full meanwhile: this
		// tiny queue has no slots reserved for control frames).
		if st := c.Stats(); st.Drops[DropOwnerUnavailable] != unavailable+1 || st.Suspects == 0 {
			t.Fatalf("owner_unavailable %d (was %d), suspects %d", st.Drops[DropOwnerUnavailable], unavailable, st.Suspects)
		}
	})

	// The type found misconfigured while TellContext waits (here a
	// zerohop node announcing another shard count): it returns the
	// error at the next re-check, counted once as misconfigured, rather
	// than waiting for room until ctx ends.
	t.Run("misconfigured", func(t *testing.T) {
		_, c, ref, id, _ := setup(t)
		before := c.Stats().Drops[DropMisconfigured]
		done := start(t, ref, id)
		c.noteAnnounced(wire.NodeAddress{Host: "10.1.2.3", Port: 1}, []wire.EntityShards{{Type: "counter", Shards: 64}})
		var sm *ShardsMismatchError
		if err := <-done; !errors.As(err, &sm) || sm.Have != 64 {
			t.Fatalf("TellContext on a type found misconfigured: got %v, want a *ShardsMismatchError (64 shards)", err)
		}
		if got := c.Stats().Drops[DropMisconfigured]; got != before+1 {
			t.Fatalf("Drops[misconfigured] %d -> %d, want one more", before, got)
		}
	})

	t.Run("moved", func(t *testing.T) {
		cl, _, ref, id, _ := setup(t)
		done := start(t, ref, id)
		cl.setAlloc("counter", 3, 0)
		cl.pushAll() // node 0 (primary and leader) announces the move; node 1 is paused
		if err := <-done; err != nil {
			t.Fatalf("TellContext after the shard moved: %v", err)
		}
		waitFor(t, "the new owner counts", func() bool { return cl.nodes[0].count(id) == 7 })
	})
}
