package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

var transports = []string{TransportNet, TransportGnet}

func dialFake(t testing.TB, cl *fakeCluster, mod func(*Config)) *Client {
	t.Helper()
	return dialReady(t, Config{ContactPoints: cl.contacts()[:1], SystemName: testSystem, Types: cl.reg}, mod)
}

// dialReady dials cfg (after mod, if any), closes the client at the end of
// the test and waits for its first topology snapshot.
func dialReady(t testing.TB, cfg Config, mod func(*Config)) *Client {
	t.Helper()
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.WaitTopology(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func getCount(ctx context.Context, c *Client, ref *EntityRef, id string) (workload.CountReply, error) {
	return AskAs[workload.CountReply](ctx, c, ref, func(replyTo wire.Ref) any {
		return ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: replyTo}}
	})
}

// Behaviour 2, 3, 4, 5: subscribe, route by snapshot, cache miss, ask.
func TestTellAsk(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			cl := newFakeCluster(t, 3)
			c := dialFake(t, cl, func(cfg *Config) { cfg.Transport = tr })
			ref, err := c.EntityRef("counter", 32)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := 0; i < 20; i++ {
				id := fmt.Sprintf("user-%d", i%5)
				if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 5; i++ {
				id := fmt.Sprintf("user-%d", i)
				r, err := getCount(ctx, c, ref, id)
				if err != nil {
					t.Fatal(err)
				}
				if r.EntityID != id || r.Value != 4 {
					t.Fatalf("got %+v, want %s = 4", r, id)
				}
				// The entity lives on the node the coordinator chose.
				owner := cl.nodes[ring.Shard(id, 32)%3]
				if got := owner.count(id); got != 4 {
					t.Fatalf("owner %s count of %s = %d, want 4", owner.addr, id, got)
				}
			}
			st := c.Stats()
			if st.AsksOK != 5 || st.TellsQueued < 20 || st.SnapshotsApplied == 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestFlush(t *testing.T) {
	cl := newFakeCluster(t, 2)
	c := dialFake(t, cl, nil)
	ref, _ := c.EntityRef("counter", 32)
	for i := 0; i < 500; i++ {
		if err := ref.Tell(fmt.Sprintf("f-%d", i%7), workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Buffered != 0 || st.Queued != 0 {
		t.Fatalf("after Flush: %+v", st)
	}
	var total int64
	waitFor(t, "delivery", func() bool {
		total = 0
		for _, nd := range cl.nodes {
			for i := 0; i < 7; i++ {
				total += nd.count(fmt.Sprintf("f-%d", i))
			}
		}
		return total == 500
	})
}

// stallConn blocks every write after the first (the handshake) until
// release is closed; stalled is closed when a write first waits.
type stallConn struct {
	net.Conn
	writes  int // guarded by the single writer of a connection
	once    sync.Once
	stalled chan struct{}
	release chan struct{}
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.writes++
	if c.writes > 1 {
		c.once.Do(func() { close(c.stalled) })
		<-c.release
	}
	return c.Conn.Write(p)
}

// TestFlushWaitsForTheWriteInProgress: while a batch (here the
// connection's first after the handshake) is stuck in the socket write,
// Flush must not report the queue flushed, although the queue itself is
// already empty: the writer counts as busy from its start until it parks.
func TestFlushWaitsForTheWriteInProgress(t *testing.T) {
	cl := newFakeCluster(t, 1)
	sc := &stallConn{stalled: make(chan struct{}), release: make(chan struct{})}
	var released sync.Once
	release := func() { released.Do(func() { close(sc.release) }) }
	t.Cleanup(release)
	cfg := Config{ContactPoints: cl.contacts()[:1], SystemName: testSystem, Types: cl.reg,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			sc.Conn = c
			return sc, nil
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	select {
	case <-sc.stalled:
	case <-ctx.Done():
		t.Fatal("the first batch was never written")
	}
	// A correct Flush cannot return nil here whatever the wait: the write
	// does not finish until release.
	fctx, fcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer fcancel()
	if err := c.Flush(fctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush during a stalled write = %v, want context.DeadlineExceeded", err)
	}
	release()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush after the write: %v", err)
	}
	if err := c.WaitTopology(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEntityRefCache(t *testing.T) {
	cl := newFakeCluster(t, 1)
	c := dialFake(t, cl, nil)
	a, err := c.EntityRef("counter", 32)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.EntityRef("counter", 32)
	if a != b {
		t.Fatal("EntityRef not cached")
	}
	var sm *ShardsMismatchError
	if _, err := c.EntityRef("counter", 100); !errors.As(err, &sm) || sm.Have != 32 || sm.Got != 100 {
		t.Fatalf("different numShards: got %v", err)
	}
	for _, bad := range []struct {
		typ string
		n   int
	}{{"", 3}, {"a/b", 3}, {"x", 0}, {"x", -1}} {
		if _, err := c.EntityRef(bad.typ, bad.n); err == nil {
			t.Fatalf("EntityRef(%q, %d) accepted", bad.typ, bad.n)
		}
	}
}

func TestDialFailsWithEveryCause(t *testing.T) {
	ctx := context.Background()
	_, err := Dial(ctx, Config{ContactPoints: []string{"127.0.0.1:1", "127.0.0.1:2"}, SystemName: "live"})
	if err == nil {
		t.Fatal("Dial succeeded")
	}
	var he *HandshakeError
	if !errors.As(err, &he) || !errors.Is(err, ErrHandshake) {
		t.Fatalf("got %v, want a HandshakeError", err)
	}
}

// TellContext waits for queue room where Tell fails fast.
func TestTellContextBackpressure(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cl.setAlloc("counter", 3, 0) // user-0
	release := make(chan struct{})
	var once sync.Once
	cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
		if strings.HasPrefix(m.Path, wire.PathRegionPrefix) {
			<-release // stop reading: the client's writes back up
		}
		return false
	})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.QueueFrames = 16
		cfg.SuspectAfter = time.Hour // the node stops reading, and answering: not a pause here
	})
	ref, _ := c.EntityRef("counter", 32)
	big := workload.CountReply{EntityID: strings.Repeat("x", 16<<10)} // any registered type will do
	// Fill the queue and the socket buffers until the queue stays full
	// (the kernel may grow loopback buffers for a while).
	var err error
	for round := 0; ; round++ {
		for i := 0; i < 100000; i++ {
			if err = ref.Tell("user-0", big); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrBufferFull) {
			t.Fatalf("Tell on a stalled connection: got %v, want ErrBufferFull", err)
		}
		time.Sleep(200 * time.Millisecond)
		if err = ref.Tell("user-0", big); errors.Is(err, ErrBufferFull) {
			break
		}
		if round == 50 {
			t.Fatal("the queue never stayed full")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = ref.TellContext(ctx, "user-0", big)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("TellContext on a full queue: got %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- ref.TellContext(context.Background(), "user-0", big) }()
	select {
	case err := <-done:
		t.Fatalf("TellContext returned %v while the queue is full", err)
	case <-time.After(50 * time.Millisecond):
	}
	once.Do(func() { close(release) })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("TellContext not woken when room appeared")
	}
}
