package engine

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/workload"
)

// TestDropsCounted: while the connection to a shard's owner is still being
// established, tells queue on it; those refused by the full queue are
// counted as queue_full (and returned as ErrBufferFull), and those the
// failed connection discards are counted as conn_lost. The owner's dial
// here waits until the test lets it fail.
func TestDropsCounted(t *testing.T) {
	cl := newFakeCluster(t, 2)
	const shard = 4
	id := entityOnShard(t, shard, 32, "drop")
	cl.setAlloc("counter", shard, 1)
	n1 := cl.nodes[1]
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	c := dialFake(t, cl, func(cfg *Config) {
		cfg.QueueFrames = 16
		cfg.ConnectTimeout = time.Minute
		cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != n1.listen {
				return defaultDial(ctx, network, addr)
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, errors.New("test: node 1 unreachable")
		}
	})
	ref, _ := c.EntityRef("counter", 32)
	waitFor(t, "shard routed to node 1", func() bool { _, ok := ref.et.table.Load().Owner(shard); return ok })
	accepted, refused := 0, 0
	for range 40 {
		err := ref.Tell(id, workload.Increment{Amount: 1})
		var bf *BufferFullError
		switch {
		case err == nil:
			accepted++
		case errors.As(err, &bf) && bf.Reason == DropQueueFull:
			refused++
		default:
			t.Fatalf("tell to a connecting owner: %v", err)
		}
	}
	if accepted == 0 || refused == 0 || accepted+refused != 40 {
		t.Fatalf("accepted %d, refused %d of 40 tells; want both, the queue holding 16 frames", accepted, refused)
	}
	if d := c.Stats().Drops[DropQueueFull]; d != uint64(refused) {
		t.Fatalf("queue_full drops %d, want the %d refused tells", d, refused)
	}
	once.Do(func() { close(release) })
	waitFor(t, "the connection attempt failed", func() bool { return connDownTo(c, n1.addr) })
	// The supervisor reports the connection down, then discards its queue
	// and counts the drops: poll (once in go test -race -count=5 under
	// load the drops were read between the two).
	waitFor(t, "the failed connection's tells counted as conn_lost", func() bool {
		return c.Stats().Drops[DropConnLost] >= uint64(accepted)
	})
}
