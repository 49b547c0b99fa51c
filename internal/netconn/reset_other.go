//go:build !windows

package netconn

import "syscall"

// goneErrnos are the errnos of a peer that is gone (IsConnReset).
var goneErrnos = [...]syscall.Errno{syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE}
