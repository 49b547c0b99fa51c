//go:build linux

package engine

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/zerohop/zerohop/internal/netconn"
)

// TestSocketSendBuffer: Config.SocketSendBuffer becomes SO_SNDBUF of every
// node connection the client dials (Linux reserves twice the value), and
// without it the kernel's own size stays (on loopback, far above it).
func TestSocketSendBuffer(t *testing.T) {
	cl := newFakeCluster(t, 1)
	const asked = 24 << 10
	sndbuf := func(size int) int {
		var mu sync.Mutex
		var conns []net.Conn
		dialFake(t, cl, func(cfg *Config) {
			cfg.SocketSendBuffer = size
			cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := defaultDial(ctx, network, addr)
				if err == nil {
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
				return c, err
			}
		})
		mu.Lock()
		defer mu.Unlock()
		if len(conns) == 0 {
			t.Fatal("no connection dialled")
		}
		snd, _, err := netconn.SocketBuffers(conns[len(conns)-1])
		if err != nil {
			t.Fatal(err)
		}
		return snd
	}
	if got := sndbuf(asked); got != asked && got != 2*asked {
		t.Errorf("SO_SNDBUF with SocketSendBuffer %d: %d", asked, got)
	}
	if got := sndbuf(0); got <= 2*asked {
		t.Errorf("SO_SNDBUF without SocketSendBuffer: %d, want the kernel's (above %d on loopback)", got, 2*asked)
	}
}
