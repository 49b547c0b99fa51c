package node

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// peerRetry is how long after a failed dial sends to that member are
// dropped (counted) instead of dialling again.
const peerRetry = 500 * time.Millisecond

// peerLink returns the link this node dials to member addr, creating it
// (and starting its dial) if needed; nil when the node is stopping or a
// dial to addr failed within peerRetry.
func (n *Node) peerLink(addr wire.NodeAddress) *link {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	if l := n.peers[addr]; l != nil {
		return l
	}
	if t, ok := n.peerFail[addr]; ok {
		if time.Since(t) < peerRetry {
			return nil
		}
		delete(n.peerFail, addr)
	}
	l := n.newLink()
	l.dialled = true
	l.target = addr
	l.zerohop = true
	l.handshook = true
	if !n.registerWith(l, 1) {
		return nil
	}
	n.peers[addr] = l
	go l.dialAndRun()
	return l
}

// expirePeerFailures forgets failed dials older than peerRetry, so that
// peerFail holds at most the members that failed in the last peerRetry.
func (n *Node) expirePeerFailures(now time.Time) {
	n.peersMu.Lock()
	for a, t := range n.peerFail {
		if now.Sub(t) >= peerRetry {
			delete(n.peerFail, a)
		}
	}
	n.peersMu.Unlock()
}

// registerWith registers l and adds delta goroutines to the node's wait
// group under linksMu, so that nothing is added once shutdown began.
func (n *Node) registerWith(l *link, delta int) bool {
	n.linksMu.Lock()
	defer n.linksMu.Unlock()
	select {
	case <-n.stop:
		return false
	default:
	}
	n.links[l.id] = l
	n.wg.Add(delta)
	return true
}

// closePeer closes the dialled link to addr, if any.
func (n *Node) closePeer(addr wire.NodeAddress) {
	n.peersMu.Lock()
	l := n.peers[addr]
	delete(n.peers, addr)
	n.peersMu.Unlock()
	if l != nil {
		l.teardown(errClosed)
	}
}

// dialAndRun dials the member, exchanges handshakes, then runs the writer
// (own goroutine) and the reader (this goroutine).
func (l *link) dialAndRun() {
	n := l.n
	defer n.wg.Done()
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.DialTimeout)
	conn, err := l.dial(ctx)
	cancel()
	if err != nil {
		n.ctr.peerDialFailures.Add(1)
		n.peersMu.Lock()
		n.peerFail[l.target] = time.Now()
		n.peersMu.Unlock()
		n.logLimited("dial to member failed", "member", l.target.String(), "err", err)
		l.teardown(err)
		return
	}
	n.ctr.peerDials.Add(1)
	s := l.std()
	if !s.setConn(conn) {
		_ = conn.Close()
		return
	}
	id := l.target
	l.peer.Store(&id)
	r := s.newReader()
	defer r.release()
	if err := l.readHandshakeReply(conn, r); err != nil {
		n.logLimited("member handshake failed", "member", l.target.String(), "err", err)
		l.teardown(err)
		return
	}
	// Messages only after the reply (PROTOCOL.md 2.2); what was queued
	// during the dial goes out now.
	n.wg.Add(1)
	go func() { defer n.wg.Done(); s.writeLoop() }()
	s.kick()
	s.readFrames(r)
}

// dial opens the TCP (or TLS) connection and writes our handshake.
func (l *link) dial(ctx context.Context) (net.Conn, error) {
	n := l.n
	if !n.gate.wait(l.done) {
		return nil, errClosed
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", l.target.String())
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if n.cfg.TLS != nil {
		cfg := n.peerTLS(l.target.Host)
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, err
		}
		c = tc
	}
	_ = c.SetWriteDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
	if _, err := c.Write(n.hsFrame); err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

var errPeerSystem = errors.New("node: member answered with another system name")

func (l *link) readHandshakeReply(c net.Conn, r *stdReader) error {
	_ = c.SetReadDeadline(time.Now().Add(l.n.cfg.HandshakeTimeout))
	typ, body, err := r.next()
	if err != nil {
		return err
	}
	if typ != wire.FrameHandshake {
		return errors.New("node: member's first frame is not a handshake")
	}
	hs, err := wire.ParseHandshake(body)
	if err != nil {
		return err
	}
	if x := hs.Zerohop; x != nil && x.System != "" && x.System != l.n.cfg.System {
		return errPeerSystem
	}
	return c.SetReadDeadline(time.Time{})
}

// peerTLS returns the client TLS config used to dial members.
func (n *Node) peerTLS(host string) *tls.Config {
	var c *tls.Config
	if n.cfg.PeerTLS != nil {
		c = n.cfg.PeerTLS.Clone()
	} else {
		c = &tls.Config{
			Certificates: n.cfg.TLS.Certificates,
			RootCAs:      n.cfg.TLS.ClientCAs,
			MinVersion:   tls.VersionTLS12,
		}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}
