package node

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// clusterPort is the node's consensus port: raft's transport and the
// control RPC (control.go) share one listener, and only members may use it.
//
// Every connection opens with a hello that names its channel ('R' raft,
// 'C' control) and, when the cluster has a gossip key, proves on both sides
// that each end holds it (HMAC-SHA256 challenge-response over fresh nonces,
// with a key derived from the gossip key: a recorded hello replays to
// nothing, and a process without the key learns nothing it could reuse):
//
//	dialer   -> "ZHC1" | channel (1) | nonceD (16)
//	acceptor -> nonceA (16) | HMAC(k, "acc" | channel | nonceD | nonceA)
//	dialer   -> HMAC(k, "dial" | channel | nonceA | nonceD)
//	acceptor -> 0x01 (accepted)
//
// Without a key the MACs are zeros and not checked (a cluster without a
// gossip key authenticates nobody; Start logs it). With several keys (a
// rotation in progress) the primary proves and every installed key is
// accepted. When the node runs TLS the listener and the dialer speak
// mutual TLS first, with the node's certificate on both sides, and the
// hello runs inside it.
//
// Goroutines: the accept loop, and one per accepted connection while its
// hello runs; a control connection's goroutine then serves it; a raft
// connection is handed to raft's transport through Accept. All are in
// Node.wg and end when the listener closes (stop).
type clusterPort struct {
	n      *Node
	ln     net.Listener
	addr   string        // advertised host:port
	raftCh chan net.Conn // accepted raft connections, taken by raftStream.Accept
	stop   chan struct{} // closed by close
	once   sync.Once
	sem    chan struct{} // bounds the hellos in progress

	connMu sync.Mutex
	conns  map[net.Conn]struct{} // raft connections handed out (accepted and dialled); guarded by connMu
}

const (
	helloMagic     = "ZHC1"
	chanRaft       = 'R'
	chanControl    = 'C'
	helloNonceLen  = 16
	helloMACLen    = sha256.Size
	maxHellos      = 64 // concurrent unauthenticated connections
	helloAcceptTag = "acc"
	helloDialTag   = "dial"
)

var (
	errHelloRefused = errors.New("node: consensus port: peer failed to authenticate (wrong or missing gossip key)")
	errHelloBad     = errors.New("node: consensus port: not a zerohop hello")
)

func newClusterPort(n *Node, bind, advertise string) (*clusterPort, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("node: consensus listen %s: %w", bind, err)
	}
	if n.cfg.TLS != nil {
		ln = tls.NewListener(ln, n.clusterServerTLS())
	}
	p := &clusterPort{n: n, ln: ln, raftCh: make(chan net.Conn), stop: make(chan struct{}), sem: make(chan struct{}, maxHellos),
		conns: map[net.Conn]struct{}{}}
	p.addr = advertise
	if p.addr == "" {
		p.addr = ln.Addr().String()
	} else if _, port, _ := net.SplitHostPort(p.addr); port == "0" {
		h, _, _ := net.SplitHostPort(p.addr)
		_, bp, _ := net.SplitHostPort(ln.Addr().String())
		p.addr = net.JoinHostPort(h, bp)
	}
	return p, nil
}

// clusterServerTLS requires a client certificate verified against the CA
// the node trusts for its peers (mTLS between members).
func (n *Node) clusterServerTLS() *tls.Config {
	c := n.cfg.TLS.Clone()
	if c.ClientCAs != nil {
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

func (p *clusterPort) start() {
	p.n.wg.Add(1)
	go p.acceptLoop()
}

// close stops the listener and closes every raft connection still open
// (raft's transport does not close the connections it accepted, and their
// readers would wait on them forever).
func (p *clusterPort) close() {
	p.once.Do(func() {
		close(p.stop)
		_ = p.ln.Close()
		p.connMu.Lock()
		conns := make([]net.Conn, 0, len(p.conns))
		for c := range p.conns {
			conns = append(conns, c)
		}
		p.connMu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
}

// track wraps c for raft: gated (Pause), and closed by close.
func (p *clusterPort) track(c net.Conn) (net.Conn, error) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	select {
	case <-p.stop:
		_ = c.Close()
		return nil, net.ErrClosed
	default:
	}
	g := &gatedConn{Conn: c, p: p}
	p.conns[g] = struct{}{}
	return g, nil
}

func (p *clusterPort) acceptLoop() {
	defer p.n.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case p.sem <- struct{}{}:
		default:
			p.n.ctr.clusterRefused.Add(1)
			_ = c.Close()
			continue
		}
		p.n.wg.Add(1)
		go func() {
			defer p.n.wg.Done()
			p.serve(c)
		}()
	}
}

// serve runs the acceptor's side of the hello and hands the connection to
// its channel.
func (p *clusterPort) serve(c net.Conn) {
	n := p.n
	ch, err := p.acceptHello(c)
	<-p.sem
	if err != nil {
		n.ctr.clusterRefused.Add(1)
		n.logLimited("consensus port: refusing a connection", "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Close()
		return
	}
	switch ch {
	case chanRaft:
		select {
		case p.raftCh <- c:
		case <-p.stop:
			_ = c.Close()
		}
	case chanControl:
		n.serveControl(c)
	}
}

func (p *clusterPort) acceptHello(c net.Conn) (byte, error) {
	return acceptHelloWith(c, p.n.clusterKeys(), p.n.cfg.HandshakeTimeout)
}

// acceptHelloWith runs the acceptor's side of the hello with keys (primary
// first; none: no authentication) and returns the channel.
func acceptHelloWith(c net.Conn, keys [][]byte, timeout time.Duration) (byte, error) {
	_ = c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{}) //nolint:errcheck // best effort
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			return 0, fmt.Errorf("TLS: %w", err)
		}
	}
	var hello [len(helloMagic) + 1 + helloNonceLen]byte
	if _, err := io.ReadFull(c, hello[:]); err != nil {
		return 0, err
	}
	if string(hello[:len(helloMagic)]) != helloMagic {
		return 0, errHelloBad
	}
	ch := hello[len(helloMagic)]
	if ch != chanRaft && ch != chanControl {
		return 0, errHelloBad
	}
	nonceD := hello[len(helloMagic)+1:]
	var reply [helloNonceLen + helloMACLen]byte
	nonceA := reply[:helloNonceLen]
	_, _ = rand.Read(nonceA)
	if len(keys) > 0 {
		copy(reply[helloNonceLen:], helloMAC(keys[0], helloAcceptTag, ch, nonceD, nonceA))
	}
	if _, err := c.Write(reply[:]); err != nil {
		return 0, err
	}
	var mac [helloMACLen]byte
	if _, err := io.ReadFull(c, mac[:]); err != nil {
		return 0, err
	}
	if len(keys) > 0 && !macMatches(keys, mac[:], helloDialTag, ch, nonceA, nonceD) {
		return 0, errHelloRefused
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return 0, err
	}
	return ch, nil
}

// dial opens an authenticated connection to the consensus port at addr.
func (p *clusterPort) dial(addr string, ch byte, timeout time.Duration) (net.Conn, error) {
	n := p.n
	if !n.gate.wait(p.stop) {
		return nil, errClosed
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if n.cfg.TLS != nil {
		host, _, _ := net.SplitHostPort(addr)
		c = tls.Client(c, n.peerTLS(host))
	}
	if err := dialHello(c, ch, n.clusterKeys(), timeout); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("node: consensus port %s: %w", addr, err)
	}
	return p.track(c)
}

func dialHello(c net.Conn, ch byte, keys [][]byte, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{}) //nolint:errcheck // best effort
	var hello [len(helloMagic) + 1 + helloNonceLen]byte
	copy(hello[:], helloMagic)
	hello[len(helloMagic)] = ch
	nonceD := hello[len(helloMagic)+1:]
	_, _ = rand.Read(nonceD)
	if _, err := c.Write(hello[:]); err != nil {
		return err
	}
	var reply [helloNonceLen + helloMACLen]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		return err
	}
	nonceA := reply[:helloNonceLen]
	if len(keys) > 0 && !macMatches(keys, reply[helloNonceLen:], helloAcceptTag, ch, nonceD, nonceA) {
		return errHelloRefused
	}
	var mac [helloMACLen]byte
	if len(keys) > 0 {
		copy(mac[:], helloMAC(keys[0], helloDialTag, ch, nonceA, nonceD))
	}
	if _, err := c.Write(mac[:]); err != nil {
		return err
	}
	var ok [1]byte
	if _, err := io.ReadFull(c, ok[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isConnReset(err) {
			return errHelloRefused // the acceptor closed on our MAC
		}
		return err
	}
	if ok[0] != 1 {
		return errHelloRefused
	}
	return nil
}

func isConnReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

func helloMAC(key []byte, tag string, ch byte, a, b []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tag))
	m.Write([]byte{ch})
	m.Write(a)
	m.Write(b)
	return m.Sum(nil)
}

func macMatches(keys [][]byte, mac []byte, tag string, ch byte, a, b []byte) bool {
	ok := 0
	for _, k := range keys {
		ok |= subtle.ConstantTimeCompare(mac, helloMAC(k, tag, ch, a, b))
	}
	return ok == 1
}

// clusterKeys returns the consensus port's keys, derived from the gossip
// keyring (primary first); none without a gossip key.
func (n *Node) clusterKeys() [][]byte {
	ms := n.members.Load()
	if ms == nil {
		return nil
	}
	raw := ms.keys()
	out := make([][]byte, len(raw))
	for i, k := range raw {
		m := hmac.New(sha256.New, k)
		m.Write([]byte("zerohop consensus port v1"))
		out[i] = m.Sum(nil)
	}
	return out
}

// raftStream is the raft.StreamLayer over the consensus port.
type raftStream struct{ p *clusterPort }

var _ raft.StreamLayer = raftStream{}

func (s raftStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.p.raftCh:
		return s.p.track(c)
	case <-s.p.stop:
		return nil, net.ErrClosed
	}
}

// Close is a no-op: the node closes the port itself (raft's transport
// closes its stream layer on shutdown, before the node is done with it).
func (s raftStream) Close() error { return nil }

func (s raftStream) Addr() net.Addr { return advertisedAddr(s.p.addr) }

func (s raftStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.p.dial(string(address), chanRaft, timeout)
}

type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// gatedConn is a consensus-port connection: a paused node (Node.Pause,
// for tests) stops reading and writing it, as a stopped process would, and
// the port closes it when it stops.
type gatedConn struct {
	net.Conn
	p *clusterPort
}

func (c *gatedConn) Read(b []byte) (int, error) {
	g := c.p.n.gate
	if !g.wait(c.p.stop) {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(b)
	if n > 0 && !g.wait(c.p.stop) {
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *gatedConn) Write(b []byte) (int, error) {
	if !c.p.n.gate.wait(c.p.stop) {
		return 0, net.ErrClosed
	}
	return c.Conn.Write(b)
}

func (c *gatedConn) Close() error {
	c.p.connMu.Lock()
	delete(c.p.conns, c)
	c.p.connMu.Unlock()
	return c.Conn.Close()
}
