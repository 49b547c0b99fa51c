package node

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/zerohop/zerohop/wire"
	"golang.org/x/sys/unix"
)

// link is one connection: an inbound plaintext connection on a gnet event
// loop (gc, TransportGnet), or a std link (nc, with a reader and a writer
// goroutine): an inbound connection over TransportNet or TLS, or a
// connection this node dialled to another member.
//
// Outbound bytes go through a bounded buffer: send copies a frame into
// pending and wakes the writer only on the empty->non-empty transition; the
// writer (a task on the gnet loop, or the writer goroutine) swaps pending
// with a spare buffer and writes it. A connection whose queued bytes pass
// Config.OutboundLimit is cut off and counted (the peer does not read).
//
// Buffer ownership: pending and spare are owned under mu; the buffer being
// written is owned by the writer until it hands it back as spare.
type link struct {
	n       *Node
	id      uint64
	gc      gnet.Conn // plaintext inbound
	nc      net.Conn  // std link: inbound over TransportNet or TLS, or dialled
	dialled bool
	target  wire.NodeAddress // dialled: the member we dialled
	opened  time.Time

	// Set once by the reading side at the handshake, before the link is
	// registered anywhere others could find it.
	peer      atomic.Pointer[wire.NodeAddress]
	isNode    bool        // the peer is a zerohop node (read by the reading side only)
	zerohop   bool        // the peer's handshake carried the zerohop extension; set before the link is registered
	handshook bool        // owned by the reading side
	in        ingestMemo  // owned by the reading side
	carry     bool        // gnet: the last OnTraffic left bytes in gnet's buffer; owned by the event loop
	inline    bool        // gnet: this OnTraffic ran an entity inline (inLoop set); owned by the event loop
	ctx       *Context    // gnet: the Context of entities run inline; owned by the event loop
	one       [1]envelope // gnet: the batch of an inline run; owned by the event loop

	mu       sync.Mutex
	pending  []byte // guarded by mu
	spare    []byte // guarded by mu
	inflight int    // bytes being written by the writer; guarded by mu
	kicked   bool   // a flush is scheduled; guarded by mu
	closed   bool   // guarded by mu
	inLoop   bool   // gnet: OnTraffic is running and flushes pending at its end; guarded by mu

	wakeW     chan struct{} // std writer: pending became non-empty
	resume    chan struct{} // reader: a mailbox it waits on has room
	done      chan struct{} // closed by teardown
	flushFn   gnet.Runnable
	closeOnce sync.Once
}

func (n *Node) newLink() *link {
	l := &link{
		n:      n,
		id:     n.linkSeq.Add(1),
		opened: time.Now(),
		wakeW:  make(chan struct{}, 1),
		resume: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	l.flushFn = gnet.RunnableFunc(l.flushGnet)
	return l
}

func (l *link) peerID() wire.NodeAddress {
	if p := l.peer.Load(); p != nil {
		return *p
	}
	return wire.NodeAddress{}
}

func (l *link) String() string {
	if l.dialled {
		return "peer " + l.target.String()
	}
	return "conn " + l.peerID().String()
}

// send queues frame (copied) for writing. It reports false when the link is
// closed or was just cut off at the outbound bound.
func (l *link) send(frame []byte) bool { return l.enqueue(nil, frame) }

// sendFrame queues a frame made of a type byte and body (copied), as send.
func (l *link) sendFrame(typ byte, body []byte) bool {
	var hdr [wire.FrameHeaderLen]byte
	n := uint32(len(body) + 1)
	hdr[0], hdr[1], hdr[2], hdr[3], hdr[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n), typ
	return l.enqueue(hdr[:], body)
}

// enqueue appends head and then body to pending, under the outbound bound,
// and wakes the writer on the empty -> non-empty transition (not during an
// inline batch, which is flushed at its end).
func (l *link) enqueue(head, body []byte) bool {
	size := len(head) + len(body)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	limit := l.n.cfg.OutboundLimit
	if l.dialled {
		limit = min(limit, l.n.cfg.PeerPendingLimit)
	}
	if len(l.pending)+l.inflight+size > limit {
		l.mu.Unlock()
		l.cutOff(size)
		return false
	}
	l.pending = append(l.pending, head...)
	l.pending = append(l.pending, body...)
	kick := !l.kicked && !l.inLoop
	l.kicked = l.kicked || !l.inLoop
	l.mu.Unlock()
	l.n.ctr.framesOut.Inc()
	l.n.ctr.bytesOut.Add(int64(size))
	if kick {
		l.kick()
	}
	return true
}

func (l *link) kick() {
	if l.gc != nil {
		if err := l.gc.EventLoop().Execute(context.Background(), l.flushFn); err != nil {
			l.teardown(err)
		}
		return
	}
	select {
	case l.wakeW <- struct{}{}:
	default:
	}
}

// queued returns the bytes not yet written (pending + in flight).
func (l *link) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0
	}
	return len(l.pending) + l.inflight
}

// cutOff closes a link whose reader does not keep up.
func (l *link) cutOff(size int) {
	if l.dialled {
		l.n.ctr.droppedPeerB.Add(int64(size))
		l.n.logLimited("peer outbound buffer full; closing the connection", "peer", l.target.String())
	} else {
		l.n.ctr.slowCut.Add(1)
		l.n.log.Warn("client does not read its replies; cutting it off", "client", l.peerID().String(),
			"limit", l.n.cfg.OutboundLimit)
	}
	l.teardown(errSlowConsumer)
}

var errSlowConsumer = errors.New("node: outbound buffer limit exceeded")

// flushGnet runs on the link's event loop.
func (l *link) flushGnet(context.Context) error {
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
	_, err := l.gc.Write(buf) // copies what the socket does not take
	l.mu.Lock()
	if cap(buf) <= 1<<20 {
		l.spare = buf[:0]
	}
	l.mu.Unlock()
	if err != nil {
		l.teardown(err)
		return nil
	}
	if l.gc.OutboundBuffered() > l.n.cfg.OutboundLimit {
		l.cutOff(0)
	}
	return nil
}

// writeLoop is the writer goroutine of a std link.
func (l *link) writeLoop() {
	for {
		select {
		case <-l.wakeW:
		case <-l.done:
			return
		}
		if !l.n.gate.wait(l.done) {
			return
		}
		for {
			l.mu.Lock()
			if l.closed || len(l.pending) == 0 {
				l.kicked = false
				l.mu.Unlock()
				break
			}
			buf := l.pending
			l.pending, l.spare = l.spare[:0], nil
			l.inflight = len(buf)
			l.mu.Unlock()
			_, err := l.nc.Write(buf)
			l.mu.Lock()
			l.inflight = 0
			if cap(buf) <= 1<<20 {
				l.spare = buf[:0]
			}
			l.mu.Unlock()
			if err != nil {
				l.teardown(err)
				return
			}
		}
	}
}

// teardown closes the link once: the connection, its registrations, its
// subscribers; pending bytes are dropped (counted for peers).
func (l *link) teardown(cause error) {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		dropped := len(l.pending)
		l.pending, l.spare = nil, nil
		gc, nc := l.gc, l.nc
		l.mu.Unlock()
		close(l.done)
		if gc != nil {
			_ = gc.Close()
		}
		if nc != nil {
			_ = nc.Close()
		}
		n := l.n
		n.linksMu.Lock()
		delete(n.links, l.id)
		n.linksMu.Unlock()
		if l.dialled {
			n.ctr.droppedPeerB.Add(int64(dropped))
			n.peersMu.Lock()
			if n.peers[l.target] == l {
				delete(n.peers, l.target)
			}
			n.peersMu.Unlock()
		} else {
			n.ctr.droppedClientB.Add(int64(dropped))
			n.ctr.open.Add(-1)
			if p := l.peer.Load(); p != nil {
				n.clientMu.Lock()
				if n.clients[*p] == l {
					delete(n.clients, *p)
				}
				n.clientMu.Unlock()
			}
		}
		// Subscribers reached through l are removed by the housekeeping
		// sweep: teardown may run under Node.mu (a cut-off during a push).
		n.wake()
		if cause != nil && !errors.Is(cause, errClosed) && !errors.Is(cause, io.EOF) && !errors.Is(cause, net.ErrClosed) {
			n.log.Debug("connection closed", "link", l.String(), "err", cause)
		}
	})
}

// onHandshake processes the peer's handshake on an inbound link and queues
// our reply. It reports false when the connection must be closed.
func (l *link) onHandshake(body []byte) bool {
	n := l.n
	hs, err := wire.ParseHandshake(body)
	if err != nil {
		n.ctr.handshakesRefused.Add(1)
		n.logLimited("refusing connection: bad handshake", "remote", l.remote(), "err", err)
		return false
	}
	if x := hs.Zerohop; x != nil && x.System != "" && x.System != n.cfg.System {
		n.ctr.handshakesRefused.Add(1)
		n.log.Warn("refusing connection from another system", "remote", l.remote(),
			"identity", hs.Node().String(), "system", x.System, "want", n.cfg.System)
		return false
	}
	id := hs.Node()
	l.peer.Store(&id)
	l.isNode = hs.Zerohop != nil && hs.Zerohop.Role == wire.RoleNode
	l.zerohop = hs.Zerohop != nil
	l.handshook = true
	if !l.send(n.hsFrame) {
		return false
	}
	n.clientMu.Lock()
	n.clients[id] = l // the newest connection of an identity wins, as in Casty
	n.clientMu.Unlock()
	return true
}

func (l *link) remote() string {
	switch {
	case l.gc != nil:
		if a := l.gc.RemoteAddr(); a != nil {
			return a.String()
		}
	case l.nc != nil:
		return l.nc.RemoteAddr().String()
	}
	return ""
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
	l := s.n.newLink()
	l.gc = c
	c.SetContext(l)
	if !s.n.registerWith(l, 0) {
		return nil, gnet.Close
	}
	s.n.ctr.accepted.Add(1)
	s.n.ctr.open.Add(1)
	return nil, gnet.None
}

func (s *gnetServer) OnClose(c gnet.Conn, err error) gnet.Action {
	if l, ok := c.Context().(*link); ok {
		l.teardown(err)
	}
	return gnet.None
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
// keeps. gnet keeps the bytes left over at the end of a read (the start of
// a frame cut by the read) in a ring buffer, and Peek(-1) over that ring
// buffer plus the next read copies both into one slice: every byte of a
// saturated stream was copied once more. So when the previous call left
// bytes (carry), the frame they begin is peeked alone first (a copy of one
// frame), after which the ring buffer is empty and Peek(-1) returns the
// rest of the read in place. Measured with loadgen (embedded 3-node
// cluster, 5 s, 6 runs alternated): gnet's Peek went from 18.7 % of the CPU
// samples to 0.6 %, process CPU per delivered tell from 1,970 to 1,630 ns
// (medians).
func (s *gnetServer) OnTraffic(c gnet.Conn) gnet.Action {
	l, ok := c.Context().(*link)
	if !ok {
		return gnet.Close
	}
	a := s.traffic(c, l)
	if l.inline {
		l.endInline()
	}
	return a
}

// endInline ends the span in which sends to l leave the write to OnTraffic
// (set by runInline) and writes what is pending. Event loop only.
func (l *link) endInline() {
	l.inline = false
	l.mu.Lock()
	l.inLoop = false
	l.mu.Unlock()
	_ = l.flushGnet(context.Background())
}

func (s *gnetServer) traffic(c gnet.Conn, l *link) gnet.Action {
	n := s.n
	if !n.gate.wait(n.stop) {
		return gnet.Close
	}
	for {
		var buf []byte
		if l.carry {
			buf = carriedFrame(c)
		}
		one := buf != nil
		if !one {
			buf, _ = c.Peek(-1)
		}
		off := 0
		res := resOK
		for res == resOK {
			typ, body, m, err := wire.ParseFrame(buf[off:], n.cfg.MaxFrameSize)
			if err != nil {
				n.ctr.framingErrors.Add(1)
				n.logLimited("closing connection: framing error", "remote", l.remote(), "err", err)
				return gnet.Close
			}
			if m == 0 {
				break
			}
			res = n.handleFrame(l, typ, body)
			if res == resOK {
				n.ctr.framesIn.Inc()
				n.ctr.bytesIn.Add(int64(m))
				off += m
			}
		}
		if off > 0 {
			_, _ = c.Discard(off)
		}
		switch res {
		case resClose:
			return gnet.Close
		case resPaused:
			if c.InboundBuffered() <= n.cfg.PausedInboundLimit {
				l.carry = true
				return gnet.None // resumed by c.Wake from the worker
			}
			if l.inline {
				l.endInline() // replies must not wait for the mailbox
			}
			select {
			case <-l.resume:
				continue
			case <-l.done:
				return gnet.Close
			case <-n.stop:
				return gnet.Close
			}
		}
		if one {
			l.carry = false
			continue // the rest, in place
		}
		l.carry = c.InboundBuffered() > 0
		return gnet.None
	}
}

// carriedFrame peeks the first frame of c's inbound bytes alone, or returns
// nil when they hold no whole frame (ParseFrame on Peek(-1) then reports
// a bad length or waits for more bytes).
func carriedFrame(c gnet.Conn) []byte {
	hdr, err := c.Peek(4)
	if err != nil {
		return nil
	}
	total := 4 + int(binary.BigEndian.Uint32(hdr))
	if total == 4 || total > c.InboundBuffered() {
		return nil
	}
	frame, err := c.Peek(total)
	if err != nil {
		return nil
	}
	return frame
}

// resumeRead is called by a worker when a mailbox this link waits on has
// room again.
func (l *link) resumeRead() {
	select {
	case l.resume <- struct{}{}:
	default:
	}
	if l.gc != nil {
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if !closed {
			_ = l.gc.Wake(nil)
		}
	}
}

// accept is the accept loop of TransportNet and TLS: each connection gets a
// reader and a writer goroutine (std link).
func (n *Node) accept() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			select {
			case <-n.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.logLimited("accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		<-n.ready // closed right after the listener is up; blocks only at startup
		l := n.newLink()
		l.nc = c
		if !n.registerWith(l, 2) {
			_ = c.Close()
			return
		}
		n.ctr.accepted.Add(1)
		n.ctr.open.Add(1)
		go func() { defer n.wg.Done(); l.writeLoop() }()
		go func() { defer n.wg.Done(); l.readLoop() }()
	}
}

// stdReadBuffer is what one read of a std link takes at most (unless a
// frame needs more): clients and peers send batches of many small frames.
const stdReadBuffer = 64 << 10

// readLoop is the reader goroutine of a std link (inbound over
// TransportNet or TLS, or dialled after the handshake). An inbound
// connection gets HandshakeTimeout for its TLS handshake, if any, and then
// HandshakeTimeout again to send its handshake frame (read deadlines;
// readFrames clears the deadline after the handshake frame).
func (l *link) readLoop() {
	n := l.n
	if !l.dialled {
		if tc, ok := l.nc.(*tls.Conn); ok {
			_ = tc.SetDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
			if err := tc.HandshakeContext(context.Background()); err != nil {
				n.ctr.handshakesRefused.Add(1)
				n.logLimited("TLS handshake failed", "remote", l.remote(), "err", err)
				l.teardown(err)
				return
			}
			_ = tc.SetDeadline(time.Time{})
		}
		_ = l.nc.SetReadDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
	}
	l.readFrames(wire.NewFrameReaderSize(l.nc, n.cfg.MaxFrameSize, stdReadBuffer))
}

func (l *link) readFrames(fr *wire.FrameReader) {
	n := l.n
	for {
		typ, body, err := fr.Next()
		if err != nil {
			var fe *wire.FrameError
			switch {
			case errors.As(err, &fe):
				n.ctr.framingErrors.Add(1)
				n.logLimited("closing connection: framing error", "link", l.String(), "err", err)
			case !l.dialled && !l.handshook && errors.Is(err, os.ErrDeadlineExceeded):
				n.ctr.handshakesRefused.Add(1)
				n.logLimited("closing connection: no handshake in time", "remote", l.remote())
				err = errHandshakeTimeout
			}
			l.teardown(err)
			return
		}
		if !n.gate.wait(l.done) {
			return
		}
		wasHandshook := l.handshook
		for {
			res := n.handleFrame(l, typ, body)
			if res == resOK {
				break
			}
			if res == resClose {
				l.teardown(errClosed)
				return
			}
			select {
			case <-l.resume:
			case <-l.done:
				return
			case <-n.stop:
				return
			}
		}
		if !wasHandshook && l.handshook && !l.dialled {
			_ = l.nc.SetReadDeadline(time.Time{})
		}
		n.ctr.framesIn.Inc()
		n.ctr.bytesIn.Add(int64(len(body) + wire.FrameHeaderLen))
	}
}

func (l *link) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
