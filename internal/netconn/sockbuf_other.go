//go:build !unix

package netconn

import (
	"errors"
	"net"
)

// SocketBuffers is not implemented on this platform.
func SocketBuffers(net.Conn) (send, recv int, err error) {
	return 0, 0, errors.New("netconn: SocketBuffers: unix only")
}
