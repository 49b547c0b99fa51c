package engine

import (
	"context"
	"errors"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// dropLog records what Config.OnDrop is told.
type dropLog struct {
	mu    sync.Mutex
	drops []Drop
}

func (l *dropLog) record(d Drop) {
	l.mu.Lock()
	l.drops = append(l.drops, d)
	l.mu.Unlock()
}

// held returns the drops with a shard (held messages), in order.
func (l *dropLog) held() []Drop {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Drop
	for _, d := range l.drops {
		if d.Shard >= 0 {
			out = append(out, d)
		}
	}
	return out
}

// frames returns the frames reported dropped from queues under reason,
// checking that each report has no type, shard or entity and a positive
// count.
func (l *dropLog) frames(t *testing.T, reason DropReason) uint64 {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	for _, d := range l.drops {
		if d.Shard >= 0 {
			continue
		}
		if d.Shard != -1 || d.Type != "" || d.EntityID != "" || d.Count <= 0 {
			t.Errorf("got queued-frames drop %+v, want Type \"\", Shard -1, EntityID \"\", Count > 0", d)
		}
		if d.Reason == reason {
			n += uint64(d.Count)
		}
	}
	return n
}

func heldDrops(reason DropReason, shard int, id string, n int) []Drop {
	out := make([]Drop, n)
	for i := range out {
		out[i] = Drop{Reason: reason, Type: "counter", Shard: shard, EntityID: id, Count: 1}
	}
	return out
}

// Every way a held (accepted) tell can be dropped later is reported to
// OnDrop with its reason, type, shard and entity; refusals (errors
// returned by Tell) and held asks (the Ask fails) are not.
//
// Long: one client walked through every way a held tell is dropped, each
// case read against the drops the cases before it reported.
func TestOnDropHeldMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run holds tells, has them dropped, and returns the drops
		// OnDrop must have been told of.
		run func(t *testing.T, log *dropLog) []Drop
	}{
		{"expired", func(t *testing.T, log *dropLog) []Drop {
			cl := newFakeCluster(t, 1)
			cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
				_, ok := m.Msg.(wire.GetShardLocation)
				return ok // the coordinator never answers
			})
			c := dialFake(t, cl, func(cfg *Config) {
				cfg.OnDrop = log.record
				cfg.ShardBuffer = 2
				cfg.BufferTimeout = 2 * time.Second // the 3rd tell must come before it
				cfg.AskTimeout = time.Minute
			})
			ref, _ := c.EntityRef("counter", 32)
			id := entityOnShard(t, 3, 32, "exp")
			for range 2 {
				if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if err := ref.Tell(id, workload.Increment{Amount: 1}); !errors.Is(err, ErrBufferFull) {
				t.Fatalf("3rd held tell: got %v, want ErrBufferFull (a refusal, not reported)", err)
			}
			askErr := make(chan error, 1)
			go func() {
				_, err := getCount(context.Background(), c, ref, entityOnShard(t, 4, 32, "exp-ask"))
				askErr <- err
			}()
			if err := recvErr(t, askErr); !errors.Is(err, ErrExpired) {
				t.Fatalf("held ask: got %v, want ErrExpired", err)
			}
			waitFor(t, "held tells expired", func() bool { return c.Stats().Drops[DropExpired] == 3 })
			return heldDrops(DropExpired, 3, id, 2)
		}},
		{"shard unavailable", func(t *testing.T, log *dropLog) []Drop {
			cl := newFakeCluster(t, 1)
			speakZerohop(cl)
			const shard = 11
			answer := make(chan struct{}) // the answer waits until two tells and an ask are held
			var once sync.Once
			release := func() { once.Do(func() { close(answer) }) }
			t.Cleanup(release)
			cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
				q, ok := m.Msg.(wire.GetShardLocation)
				if !ok {
					return false
				}
				<-answer
				fc.send(q.ReplyTo, wire.ShardUnavailable{ShardID: q.ShardID, Reason: wire.ReasonNoQuorum})
				return true
			})
			c := dialFake(t, cl, func(cfg *Config) {
				cfg.OnDrop = log.record
				cfg.RequeryDelay = 4 * time.Second // fail fast for 2-6 s
				cfg.AskTimeout = time.Minute
			})
			ref, _ := c.EntityRef("counter", 32)
			id := entityOnShard(t, shard, 32, "nq")
			for range 2 {
				if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
					t.Fatal(err)
				}
			}
			askErr := make(chan error, 1)
			go func() {
				_, err := getCount(context.Background(), c, ref, id)
				askErr <- err
			}()
			waitFor(t, "two tells and an ask held", func() bool { return c.Stats().Buffered == 3 })
			release()
			if err := recvErr(t, askErr); !errors.Is(err, ErrNoQuorum) {
				t.Fatalf("held ask: got %v, want ErrNoQuorum", err)
			}
			if err := ref.Tell(id, workload.Increment{Amount: 1}); !errors.Is(err, ErrNoQuorum) {
				t.Fatalf("tell after the answer: got %v, want a fail-fast ErrNoQuorum (a refusal, not reported)", err)
			}
			return heldDrops(DropUnavailable, shard, id, 2)
		}},
		{"owner down when the location arrives", func(t *testing.T, log *dropLog) []Drop {
			cl := newFakeCluster(t, 2)
			n1 := cl.nodes[1]
			cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
				q, ok := m.Msg.(wire.GetShardLocation)
				if !ok {
					return false
				}
				fc.send(q.ReplyTo, wire.ShardLocation{ShardID: q.ShardID, Node: n1.addr})
				return true
			})
			c := dialFake(t, cl, func(cfg *Config) { cfg.OnDrop = log.record })
			waitFor(t, "connected to node 1", func() bool { return connUpTo(c, n1.addr) })
			n1.kill()
			waitFor(t, "node 1's connection down", func() bool { return connDownTo(c, n1.addr) })
			ref, _ := c.EntityRef("counter", 32)
			id := entityOnShard(t, 6, 32, "down")
			if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the held tell dropped", func() bool { return c.Stats().Drops[DropOwnerUnavailable] == 1 })
			return heldDrops(DropOwnerUnavailable, 6, id, 1)
		}},
		{"held at shutdown", func(t *testing.T, log *dropLog) []Drop {
			cl := newFakeCluster(t, 1)
			cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
				_, ok := m.Msg.(wire.GetShardLocation)
				return ok
			})
			c := dialFake(t, cl, func(cfg *Config) { cfg.OnDrop = log.record })
			ref, _ := c.EntityRef("counter", 32)
			id := entityOnShard(t, 5, 32, "stuck")
			for range 3 {
				if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if err := c.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("cut Shutdown: got %v, want DeadlineExceeded", err)
			}
			return heldDrops(DropClosed, 5, id, 3)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log dropLog
			want := tc.run(t, &log)
			waitFor(t, "OnDrop calls", func() bool { return len(log.held()) >= len(want) })
			if got := log.held(); !reflect.DeepEqual(got, want) {
				t.Fatalf("got OnDrop %+v, want %+v", got, want)
			}
		})
	}
}

// gatedConn is a net.Conn whose writes, once armed, block until it is
// closed and then fail: a node that stopped reading, then a connection
// that breaks.
type gatedConn struct {
	net.Conn
	armed   atomic.Bool
	blocked chan struct{} // gets a value when an armed write starts waiting
	broken  chan struct{}
	once    sync.Once
}

func (g *gatedConn) Write(p []byte) (int, error) {
	if g.armed.Load() {
		select {
		case g.blocked <- struct{}{}:
		default:
		}
		<-g.broken
		return 0, errors.New("test: connection broken")
	}
	return g.Conn.Write(p)
}

func (g *gatedConn) Close() error {
	g.once.Do(func() { close(g.broken) })
	return g.Conn.Close()
}

// Frames discarded from a connection's queue are reported without a type,
// shard or entity (Shard -1), in batches whose counts add up to what
// Stats counts: when the connection breaks (conn_lost) and when the
// client closes with frames queued (the batch being written is conn_lost,
// the rest closed).
func TestOnDropQueuedFrames(t *testing.T) {
	const tells = 100
	setup := func(t *testing.T, log *dropLog) (*Client, *gatedConn) {
		cl := newFakeCluster(t, 1)
		const shard = 3
		cl.setAlloc("counter", shard, 0)
		var mu sync.Mutex
		var last *gatedConn
		c := dialFake(t, cl, func(cfg *Config) {
			cfg.OnDrop = log.record
			cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := defaultDial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				g := &gatedConn{Conn: conn, blocked: make(chan struct{}, 1), broken: make(chan struct{})}
				mu.Lock()
				last = g
				mu.Unlock()
				return g, nil
			}
		})
		ref, _ := c.EntityRef("counter", 32)
		id := entityOnShard(t, shard, 32, "q")
		if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "delivered", func() bool { return cl.nodes[0].count(id) == 1 })
		mu.Lock()
		g := last
		mu.Unlock()
		g.armed.Store(true) // the next write blocks: everything after it stays queued
		for i := range tells {
			if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				select {
				case <-g.blocked:
				case <-time.After(20 * time.Second):
					t.Fatal("the writer never wrote the first tell")
				}
			}
		}
		return c, g
	}

	t.Run("connection lost", func(t *testing.T) {
		var log dropLog
		c, g := setup(t, &log)
		_ = g.Close()
		waitFor(t, "queued frames dropped and reported", func() bool {
			n := c.Stats().Drops[DropConnLost]
			return n >= tells && log.frames(t, DropConnLost) == n
		})
		if got := log.held(); len(got) != 0 {
			t.Fatalf("got held-message drops %+v, want none", got)
		}
	})

	t.Run("closed", func(t *testing.T) {
		var log dropLog
		c, _ := setup(t, &log)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := c.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cut Shutdown: got %v, want DeadlineExceeded", err)
		}
		st := c.Stats()
		lost, closed := log.frames(t, DropConnLost), log.frames(t, DropClosed)
		if lost != st.Drops[DropConnLost] || closed != st.Drops[DropClosed] {
			t.Fatalf("got OnDrop conn_lost %d, closed %d; want Stats' %d, %d", lost, closed, st.Drops[DropConnLost], st.Drops[DropClosed])
		}
		// The batch blocked in its write is conn_lost, what was still
		// queued (the tells behind it, UnsubscribeTopology) closed.
		if lost == 0 || closed == 0 || lost+closed < tells {
			t.Fatalf("got conn_lost %d + closed %d frames, want both > 0 and at least the %d tells", lost, closed, tells)
		}
	})
}

// recvErr receives from ch, failing the test after 30 s instead of hanging
// until the binary's timeout.
func recvErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("no answer in 30 s")
		return nil
	}
}
