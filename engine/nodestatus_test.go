package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// eventLog records what Config.OnConnState is told.
type eventLog struct {
	mu  sync.Mutex
	evs []ConnStateEvent
}

func (l *eventLog) record(ev ConnStateEvent) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

// seen reports whether an event for node from prev to now was told.
func (l *eventLog) seen(node wire.NodeAddress, prev, now NodeState) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.evs {
		if ev.Node == node && ev.Prev == prev && ev.State == now {
			return true
		}
	}
	return false
}

func (l *eventLog) last(node wire.NodeAddress) (ConnStateEvent, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.evs) - 1; i >= 0; i-- {
		if l.evs[i].Node == node {
			return l.evs[i], true
		}
	}
	return ConnStateEvent{}, false
}

func nodeStatus(t testing.TB, c *Client, addr wire.NodeAddress) NodeStatus {
	t.Helper()
	for _, st := range c.Nodes() {
		if st.Node == addr {
			return st
		}
	}
	t.Fatalf("Nodes() lists no %v", addr)
	return NodeStatus{}
}

// TestNodesAndConnEvents: Nodes() follows one node through connected,
// its counters moving with the traffic to it, reconnecting after it died
// (sends to it refused and counted on it), connected again, suspect while
// paused and connected again when it speaks; OnConnState is told each
// change, and Shutdown tells the closes before returning. AskLatency
// counts the asks that got a reply.
func TestNodesAndConnEvents(t *testing.T) {
	cl := newFakeCluster(t, 2)
	const shard = 7
	id := entityOnShard(t, shard, 32, "ns")
	cl.setAlloc("counter", shard, 1)
	n1 := cl.nodes[1]
	var log eventLog
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.OnConnState = log.record
		cfg.RefreshInterval = 100 * time.Millisecond
		cfg.SuspectAfter = time.Second
	})
	ref, _ := c.EntityRef("counter", 32)
	const tells = 50
	for i := 0; i < tells; i++ {
		if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "node 1 counts", func() bool { return n1.count(id) == tells })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := getCount(ctx, c, ref, id); err != nil {
		t.Fatal(err)
	}
	st := nodeStatus(t, c, n1.addr)
	if st.State != NodeConnected || st.Cause != nil {
		t.Fatalf("node 1: state %v cause %v, want connected, nil", st.State, st.Cause)
	}
	if st.FramesWritten < tells+1 || st.BytesWritten == 0 || st.Writes == 0 || st.Connects != 1 || st.Reconnects != 0 {
		t.Fatalf("node 1 after %d tells and an ask: %+v", tells, st)
	}
	if st.FramesRead == 0 || st.BytesRead < wire.FrameHeaderLen*st.FramesRead {
		t.Fatalf("node 1 answered an ask: frames read %d, bytes read %d", st.FramesRead, st.BytesRead)
	}
	if st.QueueCapacity == 0 || st.Queued < 0 || st.Queued > st.QueueCapacity {
		t.Fatalf("queue %d of %d", st.Queued, st.QueueCapacity)
	}
	if h := c.AskLatency(); h.Count != 1 || h.Sum <= 0 || len(h.Counts) != len(h.Bounds)+1 {
		t.Fatalf("ask latency after one ask: count %d sum %v", h.Count, h.Sum)
	}
	waitFor(t, "node 1 connected told", func() bool { return log.seen(n1.addr, NodeConnecting, NodeConnected) })

	n1.kill()
	waitFor(t, "node 1 reconnecting told", func() bool { return log.seen(n1.addr, NodeConnected, NodeReconnecting) })
	if ev, _ := log.last(n1.addr); ev.Cause == nil || ev.Time.IsZero() {
		t.Fatalf("disconnection event %+v: want a cause and a time", ev)
	}
	if st := nodeStatus(t, c, n1.addr); st.State != NodeReconnecting || st.Cause == nil {
		t.Fatalf("node 1 killed: state %v cause %v", st.State, st.Cause)
	}
	waitFor(t, "a tell to the dead owner refused", func() bool {
		return errors.Is(ref.Tell(id, workload.Increment{Amount: 1}), ErrOwnerUnavailable)
	})
	if st := nodeStatus(t, c, n1.addr); st.Drops[DropOwnerUnavailable] == 0 {
		t.Fatalf("node 1 drops %v: want owner_unavailable counted on it", st.Drops)
	}
	n1.restart()
	waitFor(t, "node 1 reconnected told", func() bool { return log.seen(n1.addr, NodeReconnecting, NodeConnected) })
	if st := nodeStatus(t, c, n1.addr); st.Reconnects != 1 || st.Connects != 2 {
		t.Fatalf("after a reconnect: connects %d reconnects %d", st.Connects, st.Reconnects)
	}

	waitFor(t, "node 1 subscribed to", func() bool {
		return countMsgs[wire.SubscribeTopology](n1, wire.PathTopology) > 0
	})
	resume := n1.pause(t)
	waitFor(t, "node 1 suspect told", func() bool { return log.seen(n1.addr, NodeConnected, NodeSuspect) })
	if ev, _ := log.last(n1.addr); !errors.Is(ev.Cause, ErrSuspect) {
		t.Fatalf("suspect event cause %v, want ErrSuspect", ev.Cause)
	}
	resume()
	waitFor(t, "node 1 recovery told", func() bool { return log.seen(n1.addr, NodeSuspect, NodeConnected) })
	if st := nodeStatus(t, c, n1.addr); st.Suspects == 0 {
		t.Fatalf("node 1 suspects %d", st.Suspects)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, nd := range cl.nodes { // told before Close returned
		if ev, ok := log.last(nd.addr); !ok || ev.State != NodeClosed {
			t.Fatalf("node %v: last event %+v, want closed", nd.addr, ev)
		}
	}
	if got := c.Stats().ConnEventsDropped; got != 0 {
		t.Fatalf("ConnEventsDropped %d with a fast callback", got)
	}
}

// TestConnEventsSlowCallback: a callback that does not return never
// blocks the client: events beyond the buffer are dropped and counted,
// tells still flow, and the callback gets the buffered ones once it goes
// on.
func TestConnEventsSlowCallback(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cl.setAlloc("counter", 3, 0)
	id := entityOnShard(t, 3, 32, "slow")
	release := make(chan struct{})
	var told sync.WaitGroup
	told.Add(1)
	var once sync.Once
	var n int
	var mu sync.Mutex
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.OnConnState = func(ConnStateEvent) {
			once.Do(told.Done)
			<-release
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	told.Wait() // the callback is blocked in the first event (connected)
	var nc *nodeConn
	c.mu.Lock()
	nc = c.connList[0]
	c.mu.Unlock()
	const extra = 2 * connEventBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < extra; i++ {
			c.connEvent(nc, NodeConnected, NodeSuspect, ErrSuspect)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("connEvent blocked on a slow OnConnState")
	}
	if got := c.Stats().ConnEventsDropped; got < extra-connEventBuffer || got > extra {
		t.Fatalf("ConnEventsDropped %d, want %d..%d", got, extra-connEventBuffer, extra)
	}
	ref, _ := c.EntityRef("counter", 32)
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 0 counts", func() bool { return cl.nodes[0].count(id) == 1 })
	close(release)
	waitFor(t, "the buffered events told", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return n >= 1+connEventBuffer
	})
}

// TestLatencyBuckets: each duration lands in the first bucket whose bound
// holds it, the longest in the last.
func TestLatencyBuckets(t *testing.T) {
	var h latencyHistogram
	b := h.snapshot().Bounds
	if len(b) != askLatencyBuckets || b[0] != 10*time.Microsecond || b[len(b)-1] != 10*time.Microsecond<<22 {
		t.Fatalf("bounds %v", b)
	}
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {-time.Second, 0}, {time.Microsecond, 0}, {10 * time.Microsecond, 0},
		{10*time.Microsecond + 1, 1}, {20 * time.Microsecond, 1}, {20*time.Microsecond + 1, 2},
		{time.Millisecond, 7}, {b[len(b)-1], askLatencyBuckets - 1}, {b[len(b)-1] + 1, askLatencyBuckets}, {time.Hour, askLatencyBuckets},
	} {
		got := latencyBucket(tc.d)
		if got != tc.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", tc.d, got, tc.want)
		}
		if got < askLatencyBuckets && tc.d > b[got] || got > 0 && got <= askLatencyBuckets && tc.d > 0 && tc.d <= b[got-1] {
			t.Errorf("%v in bucket %d, bounds %v", tc.d, got, b)
		}
		h.observe(tc.d)
	}
	s := h.snapshot()
	if s.Count != 11 || s.Counts[0] != 4 || s.Counts[askLatencyBuckets] != 2 {
		t.Fatalf("snapshot count %d, counts %v", s.Count, s.Counts)
	}
}

// TestStateAndReasonNames: every state and reason has its stable name.
func TestStateAndReasonNames(t *testing.T) {
	want := []string{"connecting", "connected", "suspect", "reconnecting", "down", "closed"}
	for i, s := range NodeStates() {
		if s.String() != want[i] {
			t.Errorf("state %d: %q, want %q", i, s, want[i])
		}
	}
	if len(NodeStates()) != len(want) || NodeState(0).String() != "NodeState(0)" {
		t.Errorf("NodeStates %v", NodeStates())
	}
	if len(DropReasons()) != int(dropReasonEnd-1) || DropReasons()[0] != DropQueueFull {
		t.Errorf("DropReasons %v", DropReasons())
	}
}
