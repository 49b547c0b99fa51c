package netconn

import "syscall"

// goneErrnos are the errnos of a peer that is gone (IsConnReset): Windows
// reports a reset or an abort with its own WSA codes, not the POSIX ones.
var goneErrnos = [...]syscall.Errno{syscall.WSAECONNRESET, syscall.WSAECONNABORTED,
	syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE}
