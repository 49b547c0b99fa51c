//go:build linux

package netconn

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestDialSetsSendBuffer: Dial's sendBuffer becomes the socket's SO_SNDBUF
// (Linux reserves twice the value asked), and 0 leaves the kernel's
// (autotuned) size, which on loopback is well above it.
func TestDialSetsSendBuffer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() { // accepts until the listener closes, then closes what it accepted
		defer close(accepted)
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					_ = c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() { _ = ln.Close(); <-accepted }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const asked = 24 << 10
	sized := func(sendBuffer int) int {
		c, err := Dial(ctx, nil, ln.Addr().String(), nil, sendBuffer)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		snd, _, err := SocketBuffers(c)
		if err != nil {
			t.Fatal(err)
		}
		return snd
	}
	if got := sized(asked); got != asked && got != 2*asked {
		t.Errorf("SO_SNDBUF with sendBuffer %d: %d, want %d (or twice that)", asked, got, asked)
	}
	got := sized(0)
	t.Logf("default SO_SNDBUF on loopback: %d", got)
	if got <= 2*asked {
		t.Errorf("SO_SNDBUF with sendBuffer 0: %d, want the kernel's own (above %d on loopback)", got, 2*asked)
	}
}
