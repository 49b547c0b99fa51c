package engine

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/workload"
)

// creditConn is a client connection whose writes the test lets through one
// by one: while the gate is shut, Write waits for a credit (or Close).
type creditConn struct {
	net.Conn
	g *writeGate
}

type writeGate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	shut    bool
	credits int
	waiting int  // writes waiting at the gate
	closed  bool // a gated connection closed: let everything through
}

func newWriteGate() *writeGate {
	g := &writeGate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (c *creditConn) Write(p []byte) (int, error) {
	g := c.g
	g.mu.Lock()
	for g.shut && g.credits == 0 && !g.closed {
		g.waiting++
		g.cond.Broadcast()
		g.cond.Wait()
		g.waiting--
	}
	if g.shut && g.credits > 0 {
		g.credits--
	}
	g.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *creditConn) Close() error {
	c.g.mu.Lock()
	c.g.closed = true
	c.g.cond.Broadcast()
	c.g.mu.Unlock()
	return c.Conn.Close()
}

// set shuts or opens the gate; credits writes pass a shut gate.
func (g *writeGate) set(shut bool, credits int) {
	g.mu.Lock()
	g.shut, g.credits = shut, credits
	g.cond.Broadcast()
	g.mu.Unlock()
}

// awaitBlocked waits until a write waits at the shut gate with no credit.
func (g *writeGate) awaitBlocked(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	deadline := time.Now().Add(time.Minute)
	for g.waiting == 0 || g.credits > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the writer never blocked at the gate")
		}
		g.mu.Unlock()
		time.Sleep(time.Millisecond)
		g.mu.Lock()
	}
}

// The sojourn bound end to end, with the writer's clock injected and its
// writes gated: when the oldest frame left after a drain is older than
// QueueTarget, Tell is refused (counted, DropQueueSojourn, for the client
// and the node), TellContext waits, an Ask still queues and sees every
// tell sent before it (FIFO), and once the backlog is written the waiting
// TellContext goes through.
func TestTellQueueSojourn(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cl.setAlloc("counter", 3, 0)
	id := entityOnShard(t, 3, 32, "sojourn")
	gate := newWriteGate()
	var clock atomic.Int64
	clock.Store(int64(time.Second))
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.QueueTarget = time.Millisecond
		cfg.QueueInterval = -1 // refused at once: TestQueueSojournInterval tests the interval
		cfg.MaxBatchBytes = 1  // one frame per drain: frames stay queued between drains
		cfg.SuspectAfter = time.Hour
		cfg.LivenessWindow = time.Hour
		cfg.RefreshInterval = time.Hour
		cfg.queueClock = clock.Load
		cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := defaultDial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &creditConn{Conn: conn, g: gate}, nil
		}
	})
	t.Cleanup(func() { gate.set(false, 0) })
	ref, err := c.EntityRef("counter", 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	n0 := cl.nodes[0]
	waitFor(t, "the first tell counted", func() bool { return n0.count(id) == 1 })
	c.mu.Lock()
	nc := c.conns[n0.addr]
	c.mu.Unlock()
	waitFor(t, "the writer parked", func() bool { return nc.drained() })

	gate.set(true, 0)
	// The writer wakes for this tell, drains it at clock 1 s and blocks
	// writing it; the tells queued meanwhile are stamped 1 s.
	if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	gate.awaitBlocked(t)
	for i := 0; i < 3; i++ {
		if err := ref.Tell(id, workload.Increment{Amount: 10}); err != nil {
			t.Fatalf("tell %d before the queue is late: %v", i, err)
		}
	}
	// 10 ms later the writer's next drain (one frame) leaves frames 10 ms
	// old: the queue is late, and stays so while the writer is blocked.
	clock.Add(int64(10 * time.Millisecond))
	gate.set(true, 1)
	gate.awaitBlocked(t)
	if !nc.q.late.Load() {
		t.Fatal("the queue is not late with frames 10 ms old and a 1 ms target")
	}

	before := c.Stats().Drops[DropQueueSojourn]
	err = ref.Tell(id, workload.Increment{Amount: 100})
	var bf *BufferFullError
	if !errors.As(err, &bf) || bf.Reason != DropQueueSojourn || !errors.Is(err, ErrBufferFull) || bf.Node != n0.addr {
		t.Fatalf("Tell on a late queue: got %v, want *BufferFullError with Reason DropQueueSojourn", err)
	}
	if got := c.Stats().Drops[DropQueueSojourn]; got != before+1 {
		t.Fatalf("Stats().Drops[queue_sojourn] = %d, want %d", got, before+1)
	}
	if got := nodeDrops(c, n0.addr.String(), DropQueueSojourn); got != 1 {
		t.Fatalf("Nodes()[%s].Drops[queue_sojourn] = %d, want 1", n0.addr, got)
	}
	// A TellContext whose ctx ends while the queue is late is counted as
	// a sojourn drop, not as a full queue.
	gone, stop := context.WithCancel(context.Background())
	stop()
	if err := ref.TellContext(gone, id, workload.Increment{Amount: 100}); !errors.Is(err, context.Canceled) {
		t.Fatalf("TellContext with an ended ctx on a late queue: %v, want context.Canceled", err)
	}
	if d := c.Stats().Drops; d[DropQueueSojourn] != before+2 || d[DropQueueFull] != 0 {
		t.Fatalf("after the cancelled wait: queue_sojourn %d (want %d), queue_full %d (want 0)", d[DropQueueSojourn], before+2, d[DropQueueFull])
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- ref.TellContext(ctx, id, workload.Increment{Amount: 1000}) }()
	asked := make(chan int64, 1)
	go func() {
		r, err := getCount(ctx, c, ref, id)
		if err != nil {
			t.Error(err)
		}
		asked <- r.Value
	}()
	waitFor(t, "the ask queued behind the tells", func() bool { return nc.q.len() >= 3 })

	gate.set(false, 0)
	// The ask left before the waiting TellContext could queue (the queue
	// was late until the backlog ahead of the ask was written): it sees
	// the four tells sent before it, and not the refused one.
	select {
	case v := <-asked:
		if v != 32 {
			t.Fatalf("the ask saw count %d, want 32 (1+1+3*10: every tell sent before it)", v)
		}
	case <-ctx.Done():
		t.Fatal("no answer to the ask")
	}
	if err := <-waited; err != nil {
		t.Fatalf("TellContext after the backlog was written: %v", err)
	}
	waitFor(t, "the waiting tell counted", func() bool { return n0.count(id) == 1032 })
	if nc.q.late.Load() {
		t.Fatal("the queue is still late once drained")
	}
}

// nodeDrops returns the drops of reason counted for node addr.
func nodeDrops(c *Client, addr string, reason DropReason) uint64 {
	for _, n := range c.Nodes() {
		if n.Node.String() == addr {
			return n.Drops[reason]
		}
	}
	return 0
}
