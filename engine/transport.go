package engine

import (
	"errors"
	"io"
	"net"
	"sort"
	"sync"

	"github.com/zerohop/zerohop/internal/netconn"
	"github.com/zerohop/zerohop/wire"
)

// A transport turns an established, handshaken connection into a link: it
// reads frames and hands each to the connection's Receiver, and writes the
// batches of the connection's writer. TransportNet (a reader goroutine per
// connection; plain TCP or crypto/tls) is built in; others register a
// TransportFactory under their name (RegisterTransport) and are selected
// by Config.Transport. The gnet transport (all connections read by one gnet
// event loop; plaintext) lives in package engine/gnettransport, which a
// program imports to select TransportGnet: a client that does not links
// no gnet and starts none of its goroutines.
type (
	// Transport runs the links of one client; see netconn.Transport.
	Transport = netconn.Transport
	// Link is one live connection of a Transport.
	//
	// Buffer ownership: the body passed to Receiver.Frame aliases the
	// transport's read buffer and is valid only until Frame returns;
	// anything kept is copied. Write's argument may be reused by the
	// caller once Write returned.
	Link = netconn.Link
	// Receiver is the client's side of one connection, called by its
	// link's reading side from one goroutine at a time: Received once per
	// read that brought bytes, Frame for each frame (an error ends the
	// link), Handled once per read batch with its count of frames.
	Receiver = netconn.Receiver
	// TransportConfig is what the client hands a transport it creates
	// (Config.MaxFrameSize, Config.Logger).
	TransportConfig = netconn.TransportConfig
)

// TransportFactory creates the transport of one client (at Dial); the
// client closes it at Close.
type TransportFactory func(TransportConfig) (Transport, error)

// registry of the transports beyond TransportNet, written by
// RegisterTransport (from the init of a transport's package) and read at
// Dial and Validate. Safe for concurrent use. It is engine's one piece of
// package-level state, on purpose: importing a transport's package is
// what selects it (as with database/sql drivers), so that engine itself
// links no transport it does not use.
var registry struct {
	mu sync.Mutex
	m  map[string]TransportFactory // guarded by mu
}

// RegisterTransport makes the transport f selectable as Config.Transport
// = name. It is called by a transport's package when it is initialised
// (engine/gnettransport registers TransportGnet). It panics if name is
// TransportNet, empty, or registered already: two packages claiming one
// name is a build mistake.
func RegisterTransport(name string, f TransportFactory) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if name == "" || name == TransportNet || f == nil {
		panic("engine: RegisterTransport: invalid name or nil factory: " + name)
	}
	if _, dup := registry.m[name]; dup {
		panic("engine: RegisterTransport: " + name + " registered twice")
	}
	if registry.m == nil {
		registry.m = make(map[string]TransportFactory)
	}
	registry.m[name] = f
}

// transportFactory returns the factory registered under name.
func transportFactory(name string) (TransportFactory, bool) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	f, ok := registry.m[name]
	return f, ok
}

// transportNames lists the selectable transports (TransportNet first).
func transportNames() []string {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return append([]string{TransportNet}, names...)
}

// newTransport creates the transport Config.Transport selects.
func (c *Client) newTransport() (Transport, error) {
	if c.cfg.Transport == "" || c.cfg.Transport == TransportNet {
		return &netTransport{c: c}, nil
	}
	f, ok := transportFactory(c.cfg.Transport)
	if !ok {
		return nil, errors.New("engine: transport " + c.cfg.Transport + " is not registered")
	}
	return f(TransportConfig{MaxFrameSize: c.cfg.MaxFrameSize, Logger: c.log})
}

// Received records inbound bytes (Receiver).
func (nc *nodeConn) Received() { nc.received() }

// Frame handles one inbound frame (Receiver).
func (nc *nodeConn) Frame(typ byte, body []byte) error { return nc.c.onFrame(nc, typ, body) }

// Handled counts the frames of a read batch (Receiver).
func (nc *nodeConn) Handled(frames, bytes int) { nc.handled(frames, bytes) }

// netTransport runs every link over its net.Conn. Its Receiver is always
// the *nodeConn the client attaches.
type netTransport struct{ c *Client }

func (t *netTransport) Attach(conn net.Conn, rx Receiver) (Link, error) {
	l := &netLink{nc: rx.(*nodeConn), conn: conn}
	l.Init()
	t.c.wg.Add(1)
	go func() {
		defer t.c.wg.Done()
		l.readLoop()
	}()
	return l, nil
}

func (t *netTransport) Close() {}

type netLink struct {
	netconn.State
	nc   *nodeConn
	conn net.Conn
}

func (l *netLink) Write(p []byte) error {
	_, err := l.conn.Write(p)
	if err != nil {
		l.SetErr(err)
		_ = l.conn.Close()
	}
	return err
}

func (l *netLink) Close() { _ = l.conn.Close() }

// readBufferSize is what one read of a connection takes at most (a batch of
// replies), unless a frame needs more.
const readBufferSize = 64 << 10

// readLoop reads frames with a wire.FrameReader (one buffer of 64 KiB per
// read, grown to the largest frame seen, bounded by MaxFrameSize) and
// dispatches them in place; the frames are counted per read (rxReader).
func (l *netLink) readLoop() {
	defer l.Finish()
	c := l.nc.c
	rx := &rxReader{r: l.conn, nc: l.nc}
	fr := wire.NewFrameReaderSize(rx, c.cfg.MaxFrameSize, readBufferSize)
	for {
		typ, body, err := fr.Next()
		if err == nil {
			rx.frames++
			rx.bytes += wire.FrameHeaderLen + len(body)
			err = c.onFrame(l.nc, typ, body)
		}
		if err != nil {
			rx.flush()
			l.fail(err)
			return
		}
	}
}

// rxReader records every read that returned bytes (nodeConn.received) and
// counts the frames handled since the previous read (nodeConn.handled)
// before it reads again: the FrameReader reads once per batch of frames,
// not once per frame. Owned by readLoop.
type rxReader struct {
	r      io.Reader
	nc     *nodeConn
	frames int // handled since the last flush
	bytes  int
}

func (r *rxReader) Read(p []byte) (int, error) {
	r.flush()
	n, err := r.r.Read(p)
	if n > 0 {
		r.nc.received()
	}
	return n, err
}

// flush counts the frames handled since the last flush.
func (r *rxReader) flush() {
	if r.frames > 0 {
		r.nc.handled(r.frames, r.bytes)
		r.frames, r.bytes = 0, 0
	}
}

func (l *netLink) fail(err error) {
	if errors.Is(err, net.ErrClosed) {
		err = errStopped
	}
	l.SetErr(err)
	_ = l.conn.Close()
}
