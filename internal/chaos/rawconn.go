package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/zhbin"
)

// ErrRawClosed is returned by RawConn calls after the connection ended.
var ErrRawClosed = errors.New("chaos: connection closed")

// ErrNoReply is returned by RawConn.Ask when no reply came in time.
var ErrNoReply = errors.New("chaos: no reply in time")

// newRegistry returns a registry with Casty's, zerohop's and the counter
// workload's message types.
func newRegistry(module string) (*castyjson.Registry, error) {
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, module); err != nil {
		return nil, err
	}
	return reg, nil
}

// RawOptions configures DialRaw. Zero values mean: role client, the
// workload's default system, a handshake timeout of 2 s.
type RawOptions struct {
	Netns    string // dial from inside this namespace ("" = current)
	System   string
	Role     string // wire.RoleClient or wire.RoleNode
	Registry *castyjson.Registry
	Timeout  time.Duration // dial + handshake
	// NoReader leaves the connection without a reading goroutine: the
	// caller only writes (hostile frames) and detects the close itself.
	NoReader bool
	// Binary, when set, offers the zhbin codec with this type table too
	// (the node's choice is in RawConn.PeerExt). Only with NoReader: the
	// reader decodes JSON alone.
	Binary []wire.BinaryType
}

// RawConn is a minimal Casty v1 connection to one node: a handshake with
// the zerohop extension, message frames out, and replies dispatched by
// the path of their target. Its identity in the handshake is the socket's
// local address, so every RawConn is a distinct peer for the node (a node
// keeps only the newest connection of an identity).
//
// A RawConn is safe for concurrent use. Close stops the reader and waits
// for it; it is idempotent.
type RawConn struct {
	conn   net.Conn
	reg    *castyjson.Registry
	system string
	self   wire.NodeAddress
	Peer   wire.NodeAddress // the node's identity from its handshake reply
	// PeerExt is its handshake reply's zerohop extension (nil: none).
	PeerExt *wire.Extension
	sender  string

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	pending map[string]chan any  // reply path -> waiter; guarded by mu
	subs    map[string]func(any) // persistent handlers; guarded by mu

	nextID    atomic.Uint64
	late      atomic.Int64 // replies nobody waited for
	badFrames atomic.Int64 // frames that did not decode

	done    chan struct{} // closed when the reader exits
	err     error         // why the reader exited; written before done is closed
	closed  atomic.Bool
	noRead  bool
	closeMu sync.Mutex
}

// DialRaw connects to addr (host:port), sends a handshake with the zerohop
// extension and reads the node's.
func DialRaw(ctx context.Context, addr string, o RawOptions) (*RawConn, error) {
	if len(o.Binary) > 0 && !o.NoReader {
		return nil, errors.New("chaos: a raw connection offering zhbin must have no reader")
	}
	if o.System == "" {
		o.System = workload.DefaultSystem
	}
	if o.Role == "" {
		o.Role = wire.RoleClient
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Registry == nil {
		var err error
		if o.Registry, err = newRegistry(""); err != nil {
			return nil, err
		}
	}
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	conn, err := dialInNetns(dctx, o.Netns, addr)
	if err != nil {
		return nil, err
	}
	la := conn.LocalAddr().(*net.TCPAddr)
	rc := &RawConn{
		conn: conn, reg: o.Registry, system: o.System,
		self:    wire.NodeAddress{Host: la.IP.String(), Port: la.Port},
		pending: make(map[string]chan any), subs: make(map[string]func(any)),
		done: make(chan struct{}), noRead: o.NoReader,
	}
	sys := o.System
	if o.Role != wire.RoleNode {
		sys += wire.ClientSystemSufix
	}
	rc.sender = wire.Address{System: sys, Host: rc.self.Host, Port: rc.self.Port}.String()
	hs := wire.Handshake{Host: rc.self.Host, Port: rc.self.Port, Zerohop: &wire.Extension{
		System: o.System, Version: 1, Codecs: []string{"json"}, ShardHash: "md5", Role: o.Role,
	}}
	if len(o.Binary) > 0 {
		hs.Zerohop.Codecs = append(hs.Zerohop.Codecs, zhbin.Name)
		hs.Zerohop.Binary = o.Binary
	}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	if _, err := conn.Write(wire.AppendHandshakeFrame(nil, hs)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("chaos: handshake to %s: %w", addr, err)
	}
	fr := wire.NewFrameReader(conn, 0)
	typ, body, err := fr.Next()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("chaos: handshake reply from %s: %w", addr, err)
	}
	if typ != wire.FrameHandshake {
		conn.Close()
		return nil, fmt.Errorf("chaos: %s answered frame type %d before its handshake", addr, typ)
	}
	peer, err := wire.ParseHandshake(body)
	if err != nil {
		conn.Close()
		return nil, err
	}
	rc.Peer = peer.Node()
	rc.PeerExt = peer.Zerohop
	_ = conn.SetDeadline(time.Time{})
	if o.NoReader {
		close(rc.done)
		return rc, nil
	}
	go rc.readLoop(fr)
	return rc, nil
}

// Self returns the identity this connection announced.
func (rc *RawConn) Self() wire.NodeAddress { return rc.self }

// Ref returns a reference to path on this connection's identity.
func (rc *RawConn) Ref(path string) wire.Ref {
	sys := rc.system + wire.ClientSystemSufix
	return wire.Ref{Address: wire.Address{System: sys, Host: rc.self.Host, Port: rc.self.Port, Path: path}}
}

func (rc *RawConn) readLoop(fr *wire.FrameReader) {
	var err error
	defer func() {
		rc.err = err
		close(rc.done)
	}()
	for {
		var typ byte
		var body []byte
		typ, body, err = fr.Next()
		if err != nil {
			return
		}
		if typ != wire.FrameMessage {
			continue
		}
		h, payload, perr := wire.ParseMessage(body)
		if perr != nil {
			rc.badFrames.Add(1)
			continue
		}
		to, perr := wire.ParseAddress(h.Target)
		if perr != nil {
			rc.badFrames.Add(1)
			continue
		}
		msg, perr := rc.reg.Decode(payload)
		if perr != nil {
			rc.badFrames.Add(1)
			continue
		}
		rc.mu.Lock()
		ch := rc.pending[to.Path]
		if ch != nil {
			delete(rc.pending, to.Path)
		}
		sub := rc.subs[to.Path]
		rc.mu.Unlock()
		switch {
		case ch != nil:
			ch <- msg // buffered, one reply per waiter
		case sub != nil:
			sub(msg)
		default:
			rc.late.Add(1)
		}
	}
}

// Subscribe calls fn (on the reader goroutine; it must not block) for
// every message sent to path.
func (rc *RawConn) Subscribe(path string, fn func(any)) {
	rc.mu.Lock()
	rc.subs[path] = fn
	rc.mu.Unlock()
}

// Send writes one message frame to the actor at path on the node.
func (rc *RawConn) Send(path string, msg any) error {
	to := wire.Address{System: rc.system, Host: rc.Peer.Host, Port: rc.Peer.Port, Path: path}
	frame, err := rc.reg.AppendMessageFrameTo(nil, to, rc.sender, msg, 0)
	if err != nil {
		return err
	}
	return rc.Write(frame)
}

// SendEnvelope writes a ShardEnvelope{entityID, msg} to the region of typ
// on the node.
func (rc *RawConn) SendEnvelope(typ, entityID string, msg any) error {
	return rc.Send(wire.PathRegionPrefix+typ, wire.ShardEnvelope{EntityID: entityID, Message: msg})
}

// Write writes raw bytes (whole frames, or the pieces of a hostile one).
func (rc *RawConn) Write(b []byte) error {
	if rc.closed.Load() {
		return ErrRawClosed
	}
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	_ = rc.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := rc.conn.Write(b)
	return err
}

// Request sends build(replyTo) to path and returns a channel that gets the
// reply, and a cancel that removes the waiter (call it when done waiting:
// a reply after it is counted as late).
func (rc *RawConn) Request(path string, build func(replyTo wire.Ref) any) (<-chan any, func(), error) {
	reply := "/_chaos/r" + strconv.FormatUint(rc.nextID.Add(1), 10)
	ch := make(chan any, 1)
	rc.mu.Lock()
	rc.pending[reply] = ch
	rc.mu.Unlock()
	cancel := func() {
		rc.mu.Lock()
		delete(rc.pending, reply)
		rc.mu.Unlock()
	}
	if err := rc.Send(path, build(rc.Ref(reply))); err != nil {
		cancel()
		return nil, nil, err
	}
	return ch, cancel, nil
}

// Ask is Request and a wait for the reply until ctx ends (ErrNoReply) or
// the connection ends (ErrRawClosed wrapping the cause).
func (rc *RawConn) Ask(ctx context.Context, path string, build func(replyTo wire.Ref) any) (any, error) {
	ch, cancel, err := rc.Request(path, build)
	if err != nil {
		return nil, err
	}
	defer cancel()
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return nil, ErrNoReply
	case <-rc.done:
		return nil, fmt.Errorf("%w: %v", ErrRawClosed, rc.err)
	}
}

// Done is closed when the connection's reader stopped (the node closed it,
// or Close was called). Without a reader (NoReader) it is closed at once.
func (rc *RawConn) Done() <-chan struct{} { return rc.done }

// Err returns why the reader stopped (nil before Done is closed).
func (rc *RawConn) Err() error {
	select {
	case <-rc.done:
		return rc.err
	default:
		return nil
	}
}

// Late returns the replies that arrived with nobody waiting.
func (rc *RawConn) Late() int64 { return rc.late.Load() }

// Conn returns the underlying connection (hostile scenarios read from it
// directly when NoReader is set).
func (rc *RawConn) Conn() net.Conn { return rc.conn }

// Close closes the connection and waits for the reader.
func (rc *RawConn) Close() error {
	rc.closeMu.Lock()
	defer rc.closeMu.Unlock()
	if rc.closed.Swap(true) {
		return nil
	}
	err := rc.conn.Close()
	<-rc.done
	return err
}
