package node

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// stdConn is the backend of a link over a net.Conn, with a reader and a
// writer goroutine on the Go runtime's network poller: an inbound
// connection over TransportNet or TLS (accept), or a connection this node
// dialled to another member (peers.go, where the dialling goroutine
// becomes the reader).
type stdConn struct {
	l     *link
	nc    net.Conn      // set at accept, or after the dial; guarded by l.mu
	wakeW chan struct{} // the writer: pending became non-empty
}

// std returns l's std backend, or nil for a gnet link.
func (l *link) std() *stdConn {
	s, _ := l.io.(*stdConn)
	return s
}

// setConn attaches the connection of a link made before it existed (a
// dial); false when the link was closed meanwhile (the caller closes c).
func (s *stdConn) setConn(c net.Conn) bool {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	if s.l.closed {
		return false
	}
	s.nc = c
	return true
}

func (s *stdConn) conn() net.Conn {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.nc
}

func (s *stdConn) kick() {
	select {
	case s.wakeW <- struct{}{}:
	default:
	}
}

// resume: the reader waits on the link's resume channel itself.
func (s *stdConn) resume() {}

func (s *stdConn) close() {
	if c := s.conn(); c != nil {
		_ = c.Close()
	}
}

func (s *stdConn) remote() string {
	if c := s.conn(); c != nil {
		return c.RemoteAddr().String()
	}
	return ""
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
		if !n.admit(c.RemoteAddr().String()) {
			_ = c.Close()
			continue
		}
		n.setRecvBuffer(c)
		l := n.newLink()
		s := l.std()
		s.nc = c
		if !n.registerWith(l, 2) {
			n.ctr.open.Add(-1)
			_ = c.Close()
			return
		}
		n.ctr.accepted.Add(1)
		go func() { defer n.wg.Done(); s.writeLoop() }()
		go func() { defer n.wg.Done(); s.readLoop() }()
	}
}

// setRecvBuffer applies Config.SocketRecvBuffer to an accepted connection
// (TLS: to the TCP connection under it). A failure is logged: the
// connection serves with the kernel's buffer.
func (n *Node) setRecvBuffer(c net.Conn) {
	if n.cfg.SocketRecvBuffer <= 0 {
		return
	}
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetReadBuffer(n.cfg.SocketRecvBuffer); err != nil {
			n.logLimited("set SO_RCVBUF", "err", err)
		}
	}
}

// writeLoop is the writer goroutine of a std link.
func (s *stdConn) writeLoop() {
	l := s.l
	for {
		select {
		case <-s.wakeW:
		case <-l.done:
			return
		}
		if !l.n.gate.wait(l.done) {
			return
		}
		for {
			buf := s.takePending()
			if buf == nil {
				break
			}
			_, err := s.nc.Write(buf)
			l.written(buf)
			if err != nil {
				l.teardown(err)
				return
			}
		}
	}
}

// takePending hands the writer everything pending and records it as in
// flight; nil when nothing is pending or the link is closed (then the next
// enqueue kicks the writer again).
func (s *stdConn) takePending() []byte {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || len(l.pending) == 0 {
		l.kicked = false
		return nil
	}
	buf := l.pending
	l.pending, l.spare = l.spare[:0], nil
	l.inflight = len(buf)
	return buf
}

// stdReadBuffer is what one read of a std link takes at most (unless a
// frame needs more): clients and peers send batches of many small frames.
// It is a connection's InboundAllowance: the FrameReader charges the
// inbound budget only for a larger buffer.
const stdReadBuffer = InboundAllowance

// stdReader reads the frames of a std link: a wire.FrameReader that takes
// its buffers past its normal one from the node's inbound budget (Get,
// Put) and reads the connection through Read below, which enforces
// FrameTimeout with a read deadline while a frame is unfinished. A frame
// whose buffer the budget refuses closes the connection (it is not made to
// wait for budget: the peer holding it is the likely culprit). Owned by
// the link's reader goroutine.
type stdReader struct {
	s       *stdConn
	fr      *wire.FrameReader
	timeout time.Duration // FrameTimeout once the handshake is done; 0 before
	armed   bool          // the connection's read deadline is the unfinished frame's
	set     bool          // a read deadline is set on the connection
	since   int64         // when it was armed (ns since bounds.start)
	held    int           // bytes of the buffer taken from the inbound budget
	counted inCount       // frames handled, not yet added to the counters (flushed before every read)
}

func (s *stdConn) newReader() *stdReader {
	r := &stdReader{s: s}
	r.fr = wire.NewFrameReaderSize(r, s.l.n.cfg.MaxFrameSize, stdReadBuffer)
	r.fr.SetBudget(r)
	return r
}

// Read reads the connection for the FrameReader. Once the handshake is
// done, a frame left unfinished by the last read arms a read deadline of
// FrameTimeout (once per frame: more bytes of the same frame do not move
// it; next disarms it), and a read with no unfinished frame clears it, so
// idle connections never time out. An expired deadline is the frame's
// timeout (errFrameTimeout), unless this process stalled meanwhile
// (SIGSTOP, a frozen VM, Pause): then the frame gets FrameTimeout again.
func (r *stdReader) Read(p []byte) (int, error) {
	nc := r.s.nc
	r.counted.flush(r.s.l.n.ctr) // the read may block: count what was handled
	if r.timeout > 0 {
		if r.fr.Buffered() == 0 {
			r.armed = false
			if r.set {
				_ = nc.SetReadDeadline(time.Time{})
				r.set = false
			}
		} else if !r.armed {
			r.arm(time.Now())
		}
	}
	for {
		k, err := nc.Read(p)
		if err == nil || !r.armed || !errors.Is(err, os.ErrDeadlineExceeded) {
			return k, err
		}
		now := time.Now()
		if !r.s.l.n.excused(r.since, r.s.l.n.bounds.since(now)) {
			return k, errFrameTimeout
		}
		r.arm(now)
		if k > 0 {
			return k, nil
		}
	}
}

func (r *stdReader) arm(now time.Time) {
	_ = r.s.nc.SetReadDeadline(now.Add(r.timeout))
	r.armed, r.set, r.since = true, true, r.s.l.n.bounds.since(now)
}

// next returns the next frame (as wire.FrameReader.Next); the frame after
// it gets a deadline of its own.
func (r *stdReader) next() (byte, []byte, error) {
	typ, body, err := r.fr.Next()
	r.armed = false
	return typ, body, err
}

// Get and Put are the FrameReader's budget: the node's, with what this
// reader holds of it.
func (r *stdReader) Get(k int) []byte {
	b := r.s.l.n.bounds.budget.Get(k)
	r.held += len(b)
	return b
}

func (r *stdReader) Put(b []byte) {
	r.held -= len(b)
	r.s.l.n.bounds.budget.Put(b)
}

// release gives back everything the reader holds (its connection is
// closed or given up).
func (r *stdReader) release() { r.fr.Release() }

// readLoop is the reader goroutine of an inbound std link (TransportNet or
// TLS). The connection gets HandshakeTimeout for its TLS handshake, if
// any, and then HandshakeTimeout again to send its handshake frame (read
// deadlines; readFrames clears the deadline after the handshake frame).
func (s *stdConn) readLoop() {
	n := s.l.n
	if tc, ok := s.nc.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
		if err := tc.HandshakeContext(context.Background()); err != nil {
			n.ctr.handshakesRefused.Add(1)
			n.logLimited("TLS handshake failed", "remote", s.remote(), "err", err)
			s.l.teardown(err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	_ = s.nc.SetReadDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
	r := s.newReader()
	defer r.release()
	s.readFrames(r)
}

// readFrames reads and handles frames until the connection fails or the
// link is closed (inbound links from their handshake frame on, dialled
// ones after the handshake reply).
func (s *stdConn) readFrames(r *stdReader) {
	l, n := s.l, s.l.n
	if l.handshook {
		r.timeout = n.cfg.FrameTimeout
	}
	defer r.counted.flush(n.ctr)
	for {
		typ, body, err := r.next()
		if err != nil {
			var fe *wire.FrameError
			switch {
			case errors.As(err, &fe):
				n.ctr.framingErrors.Add(1)
				n.logLimited("closing connection: framing error", "link", l.String(), "err", err)
			case errors.Is(err, errFrameTimeout):
				n.frameTimedOut(l)
			case errors.Is(err, wire.ErrFrameBudget):
				n.budgetCut(l, r.held+r.fr.Buffered())
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
			r.counted.flush(n.ctr) // paused: count what was handled before waiting
			select {
			case <-l.resume:
			case <-l.done:
				return
			case <-n.stop:
				return
			}
		}
		if !wasHandshook && l.handshook && !l.dialled {
			_ = s.nc.SetReadDeadline(time.Time{})
			r.timeout = n.cfg.FrameTimeout
		}
		r.counted.add(len(body) + wire.FrameHeaderLen)
	}
}
