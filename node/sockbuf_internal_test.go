//go:build linux

package node

import (
	"context"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/netconn"
)

// TestSocketRecvBuffer: Config.SocketRecvBuffer becomes SO_RCVBUF of every
// connection the node accepts, on both transports (gnet sets it on the
// listener, whose accepted sockets inherit it; net on each accepted
// connection); Linux reserves twice the value. Without it the kernel's
// size stays, which differs from the asked one.
func TestSocketRecvBuffer(t *testing.T) {
	const asked = 24 << 10
	for _, tr := range []string{TransportNet, TransportGnet} {
		for _, size := range []int{asked, 0} {
			got := acceptedRecvBuffer(t, tr, size)
			set := got == asked || got == 2*asked
			if set != (size > 0) {
				t.Errorf("%s, SocketRecvBuffer %d: SO_RCVBUF of the accepted connection %d", tr, size, got)
			}
		}
	}
}

// acceptedRecvBuffer starts a node on transport tr with SocketRecvBuffer
// size, connects to it and returns SO_RCVBUF of the connection it accepted.
func acceptedRecvBuffer(t *testing.T, tr string, size int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := Start(ctx, Config{Registry: castyjson.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		Transport: tr, SocketRecvBuffer: size})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	c, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		n.linksMu.Lock()
		var l *link
		for _, x := range n.links {
			l = x
		}
		n.linksMu.Unlock()
		if l == nil {
			continue
		}
		switch io := l.io.(type) {
		case *stdConn:
			if nc := io.conn(); nc != nil {
				_, rcv, err := netconn.SocketBuffers(nc)
				if err != nil {
					t.Fatal(err)
				}
				return rcv
			}
		case *gnetConn:
			rcv, err := syscall.GetsockoptInt(io.c.Fd(), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
			if err != nil {
				t.Fatal(err)
			}
			return rcv
		}
	}
	t.Fatalf("%s: the node registered no link for the connection", tr)
	return 0
}
