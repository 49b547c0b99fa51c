package node

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// gate stops the progress of every goroutine of a node that passes through
// it: the transport (gnet event loops, the readers and writers of std
// links, memberlist's packets and streams), the workers and the
// housekeeping loop. It emulates a SIGSTOP of the whole process for
// (*Node).Pause; a resumed node sees the lost time as a stall (see "Stalls"
// in doc.go). Safe for concurrent use.
//
// Only a node started with Config.Pausable has one (newGate); elsewhere
// n.gate is nil and its methods are nil-safe: wait returns true after a
// nil test, resume does nothing. So production runs no gate code beyond
// that test and no gatedTransport.
type gate struct {
	mu     sync.Mutex                    // serializes pause and resume
	closed atomic.Pointer[chan struct{}] // non-nil while paused; closed on resume
}

// newGate returns a gate if pausable, else nil (no gate).
func newGate(pausable bool) *gate {
	if !pausable {
		return nil
	}
	return &gate{}
}

// wait blocks while the gate is paused, until it resumes or stop is closed.
// It reports whether the caller may go on (false: stop was closed). With
// no gate (nil) it costs a nil test; open, one atomic load more: it runs
// once per frame on std links.
func (g *gate) wait(stop <-chan struct{}) bool {
	if g == nil {
		return true
	}
	ch := g.closed.Load()
	if ch == nil {
		return true
	}
	select {
	case <-*ch:
		return true
	case <-stop:
		return false
	}
}

func (g *gate) pause() {
	g.mu.Lock()
	if g.closed.Load() == nil {
		ch := make(chan struct{})
		g.closed.Store(&ch)
	}
	g.mu.Unlock()
}

func (g *gate) resume() {
	if g == nil {
		return
	}
	g.mu.Lock()
	if ch := g.closed.Load(); ch != nil {
		close(*ch)
		g.closed.Store(nil)
	}
	g.mu.Unlock()
}

// gatedTransport wraps memberlist's NetTransport so that a paused node
// neither sends nor receives gossip: writes and dials wait at the gate, and
// received packets and streams are handed to memberlist only once it opens.
//
// Two forwarding goroutines move packets and streams from the inner
// transport to memberlist. They must keep reading the inner transport until
// it has shut down: its listener goroutines block on unbuffered channel
// sends, and NetTransport.Shutdown waits for them, so a forwarder that
// stopped reading first would hang Shutdown for good (a packet from a member
// still gossiping while this node closes). On Shutdown they stop forwarding,
// drain the inner channels (dropping packets, closing streams) until the
// inner transport is down, and exit; Shutdown waits for them.
type gatedTransport struct {
	*memberlist.NetTransport
	g         *gate
	stop      chan struct{} // closed first by Shutdown: stop forwarding
	innerDone chan struct{} // closed once the inner transport is shut down
	packets   chan *memberlist.Packet
	streams   chan net.Conn
	wg        sync.WaitGroup
	once      sync.Once
	err       error // the inner Shutdown's result; written in once
}

func newGatedTransport(inner *memberlist.NetTransport, g *gate) *gatedTransport {
	t := &gatedTransport{
		NetTransport: inner,
		g:            g,
		stop:         make(chan struct{}),
		innerDone:    make(chan struct{}),
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
					continue // shutting down: dropped
				}
				select {
				case t.packets <- p:
				case <-t.stop:
				}
			case <-t.stop:
				for {
					select {
					case <-inner.PacketCh():
					case <-t.innerDone:
						return
					}
				}
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
					continue
				}
				select {
				case t.streams <- c:
				case <-t.stop:
					_ = c.Close()
				}
			case <-t.stop:
				for {
					select {
					case c := <-inner.StreamCh():
						_ = c.Close()
					case <-t.innerDone:
						return
					}
				}
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

// Shutdown stops forwarding, shuts the inner transport down while the
// forwarders drain it, and waits for them; idempotent (later calls return
// the first result).
func (t *gatedTransport) Shutdown() error {
	t.once.Do(func() {
		close(t.stop)
		t.err = t.NetTransport.Shutdown()
		close(t.innerDone)
		t.wg.Wait()
	})
	return t.err
}
