package node

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/zerohop/zerohop/internal/netconn"
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
	if err := l.handshake(conn); err != nil {
		n.logLimited("member handshake failed", "member", l.target.String(), "err", err)
		l.teardown(err)
		return
	}
	r := s.newReader()
	defer r.release()
	// Messages only after the reply (PROTOCOL.md 2.2); what was queued
	// during the dial goes out now.
	n.wg.Add(1)
	go func() { defer n.wg.Done(); s.writeLoop() }()
	s.kick()
	s.readFrames(r)
}

// dial opens the TCP (or TLS) connection to the member.
func (l *link) dial(ctx context.Context) (net.Conn, error) {
	n := l.n
	if !n.gate.wait(l.done) {
		return nil, errClosed
	}
	var tcfg *tls.Config
	if n.cfg.TLS != nil {
		tcfg = n.peerTLS(l.target.Host)
	}
	return netconn.Dial(ctx, nil, l.target.String(), tcfg, 0)
}

// handshake writes our handshake and reads the member's reply (exactly
// its frame: the link's reader starts at the next one), which must name
// our system if it names one (*netconn.SystemError otherwise).
func (l *link) handshake(c net.Conn) error {
	hs, err := netconn.Handshake(c, l.n.hsFrame, l.n.cfg.HandshakeTimeout)
	if err != nil {
		return err
	}
	return netconn.CheckSystem(hs, l.n.cfg.System)
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
