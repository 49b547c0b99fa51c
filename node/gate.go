package node

import (
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// gate stops the progress of every goroutine of a node that passes through
// it: the transport (gnet event loops, TLS and peer connections, memberlist's
// packets and streams), the workers and the housekeeping loop. It emulates a
// SIGSTOP of the whole process for (*Node).Pause; a resumed node sees the
// lost time as a stall (see "Stalls" in doc.go). Safe for concurrent use.
type gate struct {
	mu     sync.Mutex
	closed chan struct{} // non-nil while paused; closed on resume; guarded by mu
}

// wait blocks while the gate is paused, until it resumes or stop is closed.
// It reports whether the caller may go on (false: stop was closed).
func (g *gate) wait(stop <-chan struct{}) bool {
	g.mu.Lock()
	ch := g.closed
	g.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-stop:
		return false
	}
}

func (g *gate) pause() {
	g.mu.Lock()
	if g.closed == nil {
		g.closed = make(chan struct{})
	}
	g.mu.Unlock()
}

func (g *gate) resume() {
	g.mu.Lock()
	if g.closed != nil {
		close(g.closed)
		g.closed = nil
	}
	g.mu.Unlock()
}

// gatedTransport wraps memberlist's NetTransport so that a paused node
// neither sends nor receives gossip: writes and dials wait at the gate, and
// received packets and streams are handed to memberlist only once it opens.
// The two forwarding goroutines stop on Shutdown.
type gatedTransport struct {
	*memberlist.NetTransport
	g       *gate
	stop    chan struct{}
	packets chan *memberlist.Packet
	streams chan net.Conn
	wg      sync.WaitGroup
	once    sync.Once
}

func newGatedTransport(inner *memberlist.NetTransport, g *gate) *gatedTransport {
	t := &gatedTransport{
		NetTransport: inner,
		g:            g,
		stop:         make(chan struct{}),
		packets:      make(chan *memberlist.Packet),
		streams:      make(chan net.Conn),
	}
	t.wg.Add(2)
	go func() {
		defer t.wg.Done()
		for {
			select {
			case p := <-inner.PacketCh():
				if !t.g.wait(t.stop) {
					return
				}
				select {
				case t.packets <- p:
				case <-t.stop:
					return
				}
			case <-t.stop:
				return
			}
		}
	}()
	go func() {
		defer t.wg.Done()
		for {
			select {
			case c := <-inner.StreamCh():
				if !t.g.wait(t.stop) {
					_ = c.Close()
					return
				}
				select {
				case t.streams <- c:
				case <-t.stop:
					_ = c.Close()
					return
				}
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

func (t *gatedTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }
func (t *gatedTransport) StreamCh() <-chan net.Conn           { return t.streams }

func (t *gatedTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if !t.g.wait(t.stop) {
		return time.Time{}, errClosed
	}
	return t.NetTransport.WriteTo(b, addr)
}

func (t *gatedTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	if !t.g.wait(t.stop) {
		return time.Time{}, errClosed
	}
	return t.NetTransport.WriteToAddress(b, addr)
}

func (t *gatedTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if !t.g.wait(t.stop) {
		return nil, errClosed
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

func (t *gatedTransport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if !t.g.wait(t.stop) {
		return nil, errClosed
	}
	return t.NetTransport.DialAddressTimeout(addr, timeout)
}

// Shutdown stops the forwarders and the inner transport; idempotent.
func (t *gatedTransport) Shutdown() error {
	var err error
	t.once.Do(func() {
		close(t.stop)
		err = t.NetTransport.Shutdown()
		t.wg.Wait()
	})
	return err
}
