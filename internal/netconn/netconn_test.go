package netconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// TestIsConnReset: true for a peer that is gone (reset, aborted, broken
// pipe, closed), false for every other network error; the old check was
// true for any *net.OpError, a refused dial and a timeout included.
func TestIsConnReset(t *testing.T) {
	op := func(err error) error { return &net.OpError{Op: "read", Net: "tcp", Err: err} }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"reset", op(os.NewSyscallError("read", syscall.ECONNRESET)), true},
		{"aborted", op(syscall.ECONNABORTED), true},
		{"broken pipe", op(os.NewSyscallError("write", syscall.EPIPE)), true},
		{"closed", op(net.ErrClosed), true},
		{"wrapped reset", fmt.Errorf("reading: %w", op(syscall.ECONNRESET)), true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
		{"timeout", op(os.ErrDeadlineExceeded), false},
		{"tls alert", &net.OpError{Op: "remote error", Err: tls.AlertError(42)}, false},
		{"EOF", io.EOF, false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := IsConnReset(c.err); got != c.want {
			t.Errorf("%s: IsConnReset(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// TestIsConnResetOnASocket: a read from a connection the peer reset
// (SO_LINGER 0) is a reset; a refused dial is not.
func TestIsConnResetOnASocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	_ = s.(*net.TCPConn).SetLinger(0)
	_ = s.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if !IsConnReset(err) {
		t.Errorf("read after the peer reset: IsConnReset(%v) = false, want true", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := net.Dial("tcp", addr); err == nil || IsConnReset(err) {
		t.Errorf("dial to a closed port: err %v, IsConnReset true or no error; want a refused dial, not a reset", err)
	}
}

// TestHandshakeReadsExactlyTheReply: Handshake sends our frame, returns
// the peer's handshake, and leaves the bytes after the reply unread.
func TestHandshakeReadsExactlyTheReply(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ours := wire.AppendHandshakeFrame(nil, wire.Handshake{Host: "10.0.0.1", Port: 1, Zerohop: Extension("live", wire.RoleClient)})
	reply := wire.AppendHandshakeFrame(nil, wire.Handshake{Host: "10.0.0.2", Port: 2, Zerohop: Extension("live", wire.RoleNode)})
	next := []byte("NEXT")
	go func() {
		got := make([]byte, len(ours))
		if _, err := io.ReadFull(b, got); err != nil {
			return
		}
		_, _ = b.Write(append(append([]byte{}, reply...), next...))
	}()
	h, err := Handshake(a, ours, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if h.Host != "10.0.0.2" || h.Port != 2 || h.Zerohop == nil || h.Zerohop.Role != wire.RoleNode || h.Zerohop.Codec != "json" {
		t.Fatalf("got %+v (ext %+v), want the node's handshake", h, h.Zerohop)
	}
	if err := CheckSystem(h, "live"); err != nil {
		t.Errorf("CheckSystem same system: %v", err)
	}
	var se *SystemError
	if err := CheckSystem(h, "other"); !errors.As(err, &se) || se.Peer != "live" {
		t.Errorf("CheckSystem other system: got %v, want *SystemError naming live", err)
	}
	rest := make([]byte, len(next))
	if _, err := io.ReadFull(a, rest); err != nil || string(rest) != "NEXT" {
		t.Fatalf("bytes after the reply: got %q, %v; want NEXT", rest, err)
	}
}

// TestHandshakeTLSReply: a TLS record in place of the reply is
// ErrTLSRequired.
func TestHandshakeTLSReply(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		_, _ = io.ReadFull(b, make([]byte, 4))
		_, _ = b.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46})
	}()
	if _, err := Handshake(a, []byte{0, 0, 0, 0}, 10*time.Second); !errors.Is(err, ErrTLSRequired) {
		t.Fatalf("got %v, want ErrTLSRequired", err)
	}
}

// TestDialRefused: a refused dial is returned as is, and a TLS dial to a
// plaintext listener that closes says so.
func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Dial(ctx, nil, ln.Addr().String(), &tls.Config{}, 0)
	if err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Fatalf("TLS dial to a plaintext listener that closes: got %v, want the plaintext diagnosis", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(ctx, nil, addr, nil, 0); err == nil {
		t.Fatal("dial to a closed port: no error")
	}
}

// TestHandshakeReplyTooLarge: a reply whose header announces a handshake
// over MaxHandshakeFrame is refused at once, with ErrHandshakeTooLarge as
// the cause of a *NotCastyError and no attempt to read (or allocate) its
// body; a reply of exactly MaxHandshakeFrame is read (and then judged by
// its content).
func TestHandshakeReplyTooLarge(t *testing.T) {
	reply := func(length int) (wire.Handshake, error) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() {
			_, _ = io.ReadFull(b, make([]byte, 4))
			hdr := []byte{byte(length >> 24), byte(length >> 16), byte(length >> 8), byte(length), wire.FrameHandshake}
			if _, err := b.Write(hdr); err != nil || length > MaxHandshakeFrame {
				return // the header only: a reader that wants the body waits for ever
			}
			_, _ = b.Write(make([]byte, length-1)) // zeros: not a valid handshake
		}()
		return Handshake(a, []byte{0, 0, 0, 0}, 10*time.Second)
	}
	_, err := reply(MaxHandshakeFrame + 1)
	var nc *NotCastyError
	if !errors.Is(err, ErrHandshakeTooLarge) || !errors.As(err, &nc) {
		t.Fatalf("reply of MaxHandshakeFrame+1 bytes: got %v, want a *NotCastyError caused by ErrHandshakeTooLarge", err)
	}
	if want := fmt.Sprint(MaxHandshakeFrame + 1); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the announced size %s", err, want)
	}
	_, err = reply(MaxHandshakeFrame)
	if err == nil || errors.Is(err, ErrHandshakeTooLarge) || !errors.As(err, &nc) || nc.Cause == nil {
		t.Fatalf("reply of MaxHandshakeFrame bytes of zeros: got %v, want a *NotCastyError caused by parsing its body", err)
	}
}
