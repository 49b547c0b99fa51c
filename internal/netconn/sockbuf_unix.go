//go:build unix

package netconn

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// SocketBuffers reads the kernel's send and receive buffer sizes
// (SO_SNDBUF, SO_RCVBUF) of c, a TCP connection or a TLS one over TCP: what
// the kernel reserves, which on Linux is twice what SetWriteBuffer or
// SetReadBuffer asked for. For tests and diagnostics.
func SocketBuffers(c net.Conn) (send, recv int, err error) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, 0, errors.New("netconn: not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		send, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
		if serr == nil {
			recv, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		}
	})
	if err == nil {
		err = serr
	}
	return send, recv, err
}
