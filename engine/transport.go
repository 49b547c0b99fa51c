package engine

import (
	"errors"
	"io"
	"net"
	"sync"

	"github.com/zerohop/zerohop/wire"
)

// transport turns an established, handshaken connection into a link: it
// reads frames and hands each to Client.onFrame, and writes the batches of
// the connection's writer. Two implementations: netTransport (a reader
// goroutine per connection; plain TCP or crypto/tls) and gnetTransport (all
// connections read by one gnet event loop; plaintext).
type transport interface {
	attach(nc *nodeConn, conn net.Conn) (link, error)
	// close stops shared resources; every link is closed before.
	close()
}

// link is one live connection.
//
// Buffer ownership: the body passed to onFrame aliases the transport's read
// buffer and is valid only until onFrame returns; anything kept is copied.
// write's argument may be reused by the caller once write returned.
type link interface {
	// write writes p entirely. Called by the connection's writer only.
	write(p []byte) error
	// close closes the connection (idempotent); done is closed once the
	// reading side has stopped.
	close()
	done() <-chan struct{}
	// err is the first error that ended the link (valid after done).
	err() error
}

// linkState is the teardown shared by both links: the first failure is
// recorded, and done is closed exactly once.
type linkState struct {
	once    sync.Once
	doneCh  chan struct{}
	mu      sync.Mutex
	failure error
}

func (s *linkState) init() { s.doneCh = make(chan struct{}) }

func (s *linkState) setErr(err error) {
	s.mu.Lock()
	if s.failure == nil {
		s.failure = err
	}
	s.mu.Unlock()
}

func (s *linkState) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == nil {
		return io.EOF
	}
	return s.failure
}

func (s *linkState) done() <-chan struct{} { return s.doneCh }

func (s *linkState) finish() { s.once.Do(func() { close(s.doneCh) }) }

// netTransport runs every link over its net.Conn.
type netTransport struct{ c *Client }

func (t *netTransport) attach(nc *nodeConn, conn net.Conn) (link, error) {
	l := &netLink{nc: nc, conn: conn}
	l.init()
	t.c.wg.Add(1)
	go func() {
		defer t.c.wg.Done()
		l.readLoop()
	}()
	return l, nil
}

func (t *netTransport) close() {}

type netLink struct {
	linkState
	nc   *nodeConn
	conn net.Conn
}

func (l *netLink) write(p []byte) error {
	_, err := l.conn.Write(p)
	if err != nil {
		l.setErr(err)
		_ = l.conn.Close()
	}
	return err
}

func (l *netLink) close() { _ = l.conn.Close() }

// readBufferSize is what one read of a connection takes at most (a batch of
// replies), unless a frame needs more.
const readBufferSize = 64 << 10

// readLoop reads frames with a wire.FrameReader (one buffer of 64 KiB per
// read, grown to the largest frame seen, bounded by MaxFrameSize) and
// dispatches them in place.
func (l *netLink) readLoop() {
	defer l.finish()
	c := l.nc.c
	fr := wire.NewFrameReaderSize(rxReader{l.conn, l.nc}, c.cfg.MaxFrameSize, readBufferSize)
	for {
		typ, body, err := fr.Next()
		if err == nil {
			err = c.onFrame(l.nc, typ, body)
		}
		if err != nil {
			l.fail(err)
			return
		}
	}
}

// rxReader records every read that returned bytes (nodeConn.received):
// the FrameReader reads once per batch of frames, not once per frame.
type rxReader struct {
	r  io.Reader
	nc *nodeConn
}

func (r rxReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.nc.received()
	}
	return n, err
}

func (l *netLink) fail(err error) {
	if errors.Is(err, net.ErrClosed) {
		err = errStopped
	}
	l.setErr(err)
	_ = l.conn.Close()
}
