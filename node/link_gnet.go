package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/zerohop/zerohop/internal/gnetconn"
	"github.com/zerohop/zerohop/wire"
	"golang.org/x/sys/unix"
)

// gnetConn is the backend of an inbound plaintext link served by a gnet
// event loop (TransportGnet). The loop reads the socket and calls
// OnTraffic, which parses frames in place; writes are tasks on the same
// loop (flush). gnet's Close and Wake may be called from any goroutine.
//
// Bounds: gnet keeps the unfinished frame at the end of a read in its own
// buffer. Once that passes InboundAllowance, the frame is moved into a
// buffer from the node's inbound budget and assembled there (startBig,
// fill), out of gnet's buffers: gnet would keep it in a ring buffer grown
// a quarter at a time from its own sync.Pools (arrays rounded up to a
// power of two, every outgrown one kept in the pool until two
// collections): TestInboundMemoryBound measured 443-469 MiB of RSS for
// 64 MiB of unfinished frames. gnet links have no read deadline: the housekeeping sweep
// (expireFrames) closes one whose unfinished frame began more than
// FrameTimeout ago.
type gnetConn struct {
	l       *link
	c       gnet.Conn
	flushFn gnet.Runnable

	// Owned by the event loop.
	rd       gnetconn.Reader // parses frames in place, with the carry peek
	paused   bool            // the last OnTraffic stopped at a full mailbox (the bytes left are whole frames)
	progress bool            // this OnTraffic consumed a frame
	big      []byte          // a frame past InboundAllowance being assembled, from the inbound budget; nil: none
	bigLen   int             // bytes of it received
	bigWant  int             // its size (4 + its length field)

	// partialSince is when the unfinished frame in gnet's buffer began
	// (ns since bounds.start; 0: none, or not timed). Written by the event
	// loop, read by the sweep.
	partialSince atomic.Int64
}

// newGnetLink returns the link of an inbound gnet connection.
func (n *Node) newGnetLink(c gnet.Conn) *link {
	l := n.baseLink()
	g := &gnetConn{l: l, c: c}
	g.flushFn = gnet.RunnableFunc(g.flush)
	l.io = g
	l.inline = &inlineRun{}
	return l
}

// gnet returns l's gnet backend, or nil for a std link.
func (l *link) gnet() *gnetConn {
	g, _ := l.io.(*gnetConn)
	return g
}

func (g *gnetConn) kick() {
	if err := g.c.EventLoop().Execute(context.Background(), g.flushFn); err != nil {
		g.l.teardown(err)
	}
}

func (g *gnetConn) resume() {
	if !g.l.isClosed() {
		_ = g.c.Wake(nil)
	}
}

func (g *gnetConn) close() { _ = g.c.Close() }

func (g *gnetConn) remote() string { return remoteString(g.c) }

// flush writes what is pending; it runs on the link's event loop, once per
// kick (or at the end of an inline run).
func (g *gnetConn) flush(context.Context) error {
	l := g.l
	l.n.gate.wait(l.n.stop)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.kicked = false
	if len(l.pending) == 0 {
		l.mu.Unlock()
		return nil
	}
	buf := l.pending
	l.pending, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	_, err := g.c.Write(buf) // copies what the socket does not take
	l.written(buf)
	if err != nil {
		l.teardown(err)
		return nil
	}
	if g.c.OutboundBuffered() > l.n.cfg.OutboundLimit {
		l.cutOff()
	}
	return nil
}

// endInline ends the span in which sends to the link leave the write to
// OnTraffic (started by runInline) and writes what is pending. Event loop
// only.
func (g *gnetConn) endInline() {
	g.l.inline.end(g.l)
	_ = g.flush(context.Background())
}

// gnetServer is the plaintext event-loop server.
type gnetServer struct {
	gnet.BuiltinEventEngine
	n        *Node
	booted   chan struct{}
	bootOnce sync.Once
}

func (s *gnetServer) OnBoot(eng gnet.Engine) gnet.Action {
	s.n.eng = eng
	s.bootOnce.Do(func() { close(s.booted) })
	return gnet.None
}

func (s *gnetServer) boundAddr() (*net.TCPAddr, error) {
	fd, err := s.n.eng.Dup()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To4(), Port: a.Port}, nil
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	}
	return nil, fmt.Errorf("unexpected socket address %T", sa)
}

func (s *gnetServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	<-s.n.ready // closed right after the listener is up; blocks only at startup
	if !s.n.admit(remoteString(c)) {
		return nil, gnet.Close // no link: OnClose finds no context
	}
	l := s.n.newGnetLink(c)
	c.SetContext(l)
	if !s.n.registerWith(l, 0) {
		return nil, gnet.Close // OnClose tears l down (and uncounts it)
	}
	s.n.ctr.accepted.Add(1)
	return nil, gnet.None
}

func (s *gnetServer) OnClose(c gnet.Conn, err error) gnet.Action {
	if l, ok := c.Context().(*link); ok {
		l.teardown(err)
		if g := l.gnet(); g.big != nil {
			g.dropBig()
		}
	}
	return gnet.None
}

func remoteString(c gnet.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// OnTraffic parses every complete frame in the connection's buffer in place.
// When an entity mailbox is full the connection stops consuming: the rest
// stays in gnet's buffer and the worker that drains the mailbox wakes the
// connection (c.Wake) to resume. While paused, gnet keeps reading the socket
// into its buffer; past PausedInboundLimit the event loop itself waits for
// room (hard backpressure; every connection of that loop waits with it).
//
// Buffer ownership: frames are borrowed from gnet's buffers and valid only
// until Discard or the return of this call; handleFrame copies what it
// keeps. Frames are parsed by gnetconn.Reader, with its carry peek (a frame
// cut by the last read is peeked alone, the rest of the next read in
// place: gnet's Peek went from 18.7 % of the CPU samples to 0.6 %; see
// there). A paused connection sets the Reader's Carry: what it left in
// gnet's buffer starts with a whole frame.
func (s *gnetServer) OnTraffic(c gnet.Conn) gnet.Action {
	l, ok := c.Context().(*link)
	if !ok {
		return gnet.Close
	}
	g := l.io.(*gnetConn)
	g.progress = false
	a := s.traffic(c, l, g)
	if l.inline.active {
		g.endInline()
	}
	if a == gnet.None {
		a = g.account(c)
	}
	return a
}

// account moves an unfinished frame that passed InboundAllowance out of
// gnet's buffer (startBig; a connection whose frame the budget refuses is
// closed) and starts the frame's deadline when a new frame is unfinished.
// Not while paused: the bytes kept then are whole frames waiting for a
// mailbox, bounded by PausedInboundLimit, and not the peer's doing. Event
// loop only.
func (g *gnetConn) account(c gnet.Conn) gnet.Action {
	n := g.l.n
	if g.paused {
		return gnet.None
	}
	if buffered := c.InboundBuffered(); g.big == nil && buffered > InboundAllowance && !g.startBig(c, buffered) {
		n.budgetCut(g.l, buffered)
		return gnet.Close
	}
	if g.big == nil && c.InboundBuffered() == 0 {
		g.partialSince.Store(0)
	} else if g.l.handshook && (g.progress || g.partialSince.Load() == 0) {
		g.partialSince.Store(max(n.bounds.since(time.Now()), 1))
	}
	return gnet.None
}

// startBig moves the unfinished frame gnet holds (all it holds: every
// whole frame was consumed) into a buffer from the inbound budget, twice
// what arrived or the frame's size; false when the budget refuses.
func (g *gnetConn) startBig(c gnet.Conn, buffered int) bool {
	hdr, err := c.Peek(4) // validated by ParseFrame in traffic
	if err != nil {
		return true // cannot happen: more than InboundAllowance is buffered
	}
	g.bigWant = 4 + int(binary.BigEndian.Uint32(hdr))
	if g.big = g.l.n.bounds.budget.Get(min(g.bigWant, 2*buffered)); g.big == nil {
		return false
	}
	g.bigLen = 0
	_, err = g.fill(c)
	return err == nil
}

// fill moves what gnet holds of the frame being assembled into big,
// growing big (doubling, from the budget) as needed, and reports whether
// the frame is complete; wire.ErrFrameBudget when the budget refused.
func (g *gnetConn) fill(c gnet.Conn) (bool, error) {
	budget := &g.l.n.bounds.budget
	for g.bigLen < g.bigWant {
		if g.bigLen == len(g.big) {
			nb := budget.Get(min(2*len(g.big), g.bigWant))
			if nb == nil {
				return false, wire.ErrFrameBudget
			}
			copy(nb, g.big[:g.bigLen])
			budget.Put(g.big)
			g.big = nb
		}
		k, _ := c.Read(g.big[g.bigLen:min(len(g.big), g.bigWant)])
		if k == 0 {
			return false, nil
		}
		g.bigLen += k
	}
	return true, nil
}

// dropBig gives the assembly buffer back to the budget.
func (g *gnetConn) dropBig() {
	g.l.n.bounds.budget.Put(g.big)
	g.big, g.bigLen, g.bigWant = nil, 0, 0
}

func (s *gnetServer) traffic(c gnet.Conn, l *link, g *gnetConn) gnet.Action {
	n := s.n
	if !n.gate.wait(n.stop) {
		return gnet.Close
	}
	g.paused = false
	var counted inCount // added once when this call returns or pauses
	defer counted.flush(n.ctr)
	for {
		if g.big != nil {
			done, err := g.fill(c)
			if err != nil {
				n.budgetCut(l, g.bigLen)
				return gnet.Close
			}
			if !done {
				return gnet.None
			}
			switch n.handleFrame(l, g.big[4], g.big[wire.FrameHeaderLen:g.bigWant]) {
			case resClose:
				return gnet.Close
			case resPaused:
				counted.flush(n.ctr)
				if a, again := s.pause(c, l, g); !again {
					return a
				}
				continue
			}
			counted.add(g.bigWant)
			g.dropBig()
			g.progress = true
			g.rd.Carry = c.InboundBuffered() > 0
		}
		res := resOK
		stopped, progress, err := g.rd.Read(c, n.cfg.MaxFrameSize, func(typ byte, body []byte, m int) bool {
			if res = n.handleFrame(l, typ, body); res != resOK {
				return false
			}
			counted.add(m)
			return true
		})
		if progress {
			g.progress = true
		}
		if err != nil {
			n.ctr.framingErrors.Add(1)
			n.logLimited("closing connection: framing error", "remote", l.remote(), "err", err)
			return gnet.Close
		}
		if !stopped {
			return gnet.None
		}
		switch res {
		case resClose:
			return gnet.Close
		case resPaused:
			counted.flush(n.ctr)
			if a, again := s.pause(c, l, g); !again {
				return a
			}
		}
	}
}

// pause handles a full mailbox: below PausedInboundLimit the connection
// stops consuming until c.Wake (the worker that drains the mailbox); past
// it the event loop waits here, and again reports whether to retry.
func (s *gnetServer) pause(c gnet.Conn, l *link, g *gnetConn) (a gnet.Action, again bool) {
	n := s.n
	g.partialSince.Store(0) // not the peer's doing
	if c.InboundBuffered() <= n.cfg.PausedInboundLimit {
		g.rd.Carry = true
		g.paused = true
		return gnet.None, false // resumed by c.Wake from the worker
	}
	if l.inline.active {
		g.endInline() // replies must not wait for the mailbox
	}
	select {
	case <-l.resume:
		return gnet.None, true
	case <-l.done:
		return gnet.Close, false
	case <-n.stop:
		return gnet.Close, false
	}
}

// expireFrames closes the gnet links whose unfinished frame began more
// than FrameTimeout ago, not counting time before the last stall of this
// process (std links have read deadlines instead). Housekeeping, every
// tick: one atomic load per link.
func (n *Node) expireFrames(now time.Time) {
	t, stall := n.bounds.since(now), n.bounds.lastStall.Load()
	limit := int64(n.cfg.FrameTimeout)
	var late []*link
	n.linksMu.Lock()
	for _, l := range n.links {
		if g := l.gnet(); g != nil {
			if since := g.partialSince.Load(); since != 0 && t-max(since, stall) > limit {
				late = append(late, l)
			}
		}
	}
	n.linksMu.Unlock()
	for _, l := range late {
		n.frameTimedOut(l)
		l.teardown(errFrameTimeout)
	}
}
