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
		l := n.newLink()
		s := l.std()
		s.nc = c
		if !n.registerWith(l, 2) {
			_ = c.Close()
			return
		}
		n.ctr.accepted.Add(1)
		n.ctr.open.Add(1)
		go func() { defer n.wg.Done(); s.writeLoop() }()
		go func() { defer n.wg.Done(); s.readLoop() }()
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
const stdReadBuffer = 64 << 10

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
	s.readFrames(wire.NewFrameReaderSize(s.nc, n.cfg.MaxFrameSize, stdReadBuffer))
}

// readFrames reads and handles frames until the connection fails or the
// link is closed (inbound links from their handshake frame on, dialled
// ones after the handshake reply).
func (s *stdConn) readFrames(fr *wire.FrameReader) {
	l, n := s.l, s.l.n
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
			_ = s.nc.SetReadDeadline(time.Time{})
		}
		n.ctr.framesIn.Inc()
		n.ctr.bytesIn.Add(int64(len(body) + wire.FrameHeaderLen))
	}
}
