package testnet

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Forwarder relays every connection accepted on a loopback port to a
// target address, byte for byte, like the local end of an SSH forward
// tunnel (ssh -L). It is closed, and its goroutines waited for, when the
// test ends.
type Forwarder struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	open     []net.Conn // guarded by mu
}

// StartForwarder listens on 127.0.0.1:0 and relays to target.
func StartForwarder(tb testing.TB, target string) *Forwarder {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &Forwarder{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			f.accepted.Add(1)
			f.mu.Lock()
			f.open = append(f.open, in, out)
			f.mu.Unlock()
			f.wg.Add(2)
			go f.pipe(out, in)
			go f.pipe(in, out)
		}
	}()
	tb.Cleanup(f.close)
	return f
}

func (f *Forwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Addr is the forwarder's listening address (the tunnel's local end).
func (f *Forwarder) Addr() string { return f.ln.Addr().String() }

// Accepted is the number of connections relayed so far (accepted and
// connected to the target).
func (f *Forwarder) Accepted() int64 { return f.accepted.Load() }

func (f *Forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.open {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
