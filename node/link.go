package node

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/internal/netconn"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/zhbin"
)

// link is one connection, whatever carries its bytes: the framing, the
// handshake, the outbound buffer and the teardown are the link's; reading
// and writing the socket are its backend's (conn):
//
//   - gnetConn (link_gnet.go): an inbound plaintext connection on a gnet
//     event loop (TransportGnet); frames are parsed in place in OnTraffic
//     and idle entities may run inline on the loop (inline).
//   - stdConn (link_std.go): a net.Conn with a reader and a writer
//     goroutine: an inbound connection over TransportNet or TLS, or a
//     connection this node dialled to another member (peers.go).
//
// Outbound bytes go through a bounded buffer: send copies a frame into
// pending and kicks the backend only on the empty->non-empty transition;
// the backend's writer (a task on the gnet loop, or the writer goroutine)
// swaps pending with a spare buffer and writes it. A connection whose
// queued bytes pass Config.OutboundLimit is cut off and counted (the peer
// does not read).
//
// Buffer ownership: pending and spare are owned under mu; the buffer being
// written is owned by the writer until it hands it back as spare.
type link struct {
	n       *Node
	id      uint64
	io      conn       // the backend; set at creation, never changed
	inline  *inlineRun // gnet links: entities run on the event loop; nil for std links
	dialled bool
	target  wire.NodeAddress // dialled: the member we dialled
	opened  time.Time

	// Set once by the reading side at the handshake, before the link is
	// registered anywhere others could find it.
	peer    atomic.Pointer[wire.NodeAddress]
	zerohop bool // the peer's handshake carried the zerohop extension; set before the link is registered
	// codec reads the peer's payloads and writes replies to it: n.reg, or
	// n.bin when the handshake negotiated zhbin (set before the link is
	// registered; never changed after).
	codec     wire.Codec
	handshook bool       // owned by the reading side
	in        ingestMemo // owned by the reading side

	mu       sync.Mutex
	pending  []byte   // guarded by mu
	out      outCount // frames and bytes ever queued on this link (Stats.FramesOut, BytesOut); guarded by mu
	spare    []byte   // guarded by mu
	inflight int      // bytes being written by the writer; guarded by mu
	kicked   bool     // a flush is scheduled; guarded by mu
	closed   bool     // guarded by mu
	refusing bool     // the link closes once its pending frames are written (a refusal); guarded by mu
	waiters  []waiter // dialled links: senders refused at PeerPendingLimit, woken when it has room; guarded by mu

	resume    chan struct{} // reader: a mailbox it waits on has room
	done      chan struct{} // closed by teardown
	closeOnce sync.Once
}

// conn is the I/O backend of a link, shaped like the engine's transport
// link (engine/transport.go). Its methods may be called from any
// goroutine.
type conn interface {
	// kick makes the backend's writer write l.pending. enqueue calls it
	// on the empty -> non-empty transition only (and not while the
	// reading side runs an entity inline: that side writes at its end).
	kick()
	// resume tells the reading side, paused on a full mailbox, that the
	// mailbox has room (after the link's resume channel was signalled).
	resume()
	// close closes the connection; teardown calls it once, after marking
	// the link closed.
	close()
	// remote returns the peer's network address for logs ("" if unknown).
	remote() string
}

// newLink returns a std link with no connection yet (accept and the dial
// attach theirs); gnet links are made by newGnetLink.
func (n *Node) newLink() *link {
	l := n.baseLink()
	l.io = &stdConn{l: l, wakeW: make(chan struct{}, 1)}
	return l
}

func (n *Node) baseLink() *link {
	return &link{
		n:      n,
		codec:  n.reg,
		id:     n.linkSeq.Add(1),
		opened: time.Now(),
		resume: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
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

func (l *link) remote() string { return l.io.remote() }

// send queues frame (copied) for writing. It reports false when the link is
// closed, was just cut off at the outbound bound (a client), or is full (a
// member: see offer).
func (l *link) send(frame []byte) bool { return l.enqueue(nil, frame, nil) }

// waiter is a sender that a full member link refused: a reading link
// paused on it (resumeRead), or a mailbox whose forwards wait (unblock).
type waiter interface{ peerRoom() }

// offer queues frame on a link this node dialled to a member. When the
// link already holds PeerPendingLimit bytes (the member does not keep up)
// it queues nothing, returns false, and wakes w (if not nil) once the link
// has drained to half or closed: the caller pauses instead of dropping
// (backpressure from the member's mailboxes to our readers).
func (l *link) offer(frame []byte, w waiter) bool { return l.enqueue(nil, frame, w) }

// enqueue appends head and then body to pending, under the outbound bound,
// and kicks the writer on the empty -> non-empty transition (not during an
// inline run, which is flushed at its end).
//
// A client link past OutboundLimit is cut off (the client does not read).
// A member link past PeerPendingLimit refuses the frame and keeps what it
// holds (a member that stops reading for good is declared dead and its
// link closed by the membership); w is woken when it has room.
func (l *link) enqueue(head, body []byte, w waiter) bool {
	size := len(head) + len(body)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	if l.dialled {
		if len(l.pending)+l.inflight+size > min(l.n.cfg.OutboundLimit, l.n.cfg.PeerPendingLimit) {
			if w != nil {
				l.waiters = append(l.waiters, w)
			}
			l.mu.Unlock()
			l.n.ctr.peerFull.Add(1)
			return false
		}
	} else if len(l.pending)+l.inflight+size > l.n.cfg.OutboundLimit {
		l.mu.Unlock()
		l.cutOff()
		return false
	}
	l.pending = append(l.pending, head...)
	l.pending = append(l.pending, body...)
	l.out.frames++
	l.out.bytes += int64(size)
	inLoop := l.inline != nil && l.inline.inLoop
	kick := !l.kicked && !inLoop
	l.kicked = l.kicked || !inLoop
	l.mu.Unlock()
	if kick {
		l.io.kick()
	}
	return true
}

// written takes back a buffer the writer took from pending, once it was
// written (or handed to gnet, which copies what the socket did not take).
func (l *link) written(buf []byte) {
	l.mu.Lock()
	l.inflight = 0
	if l.refusing && len(l.pending) == 0 {
		l.mu.Unlock()
		l.teardown(errRefused)
		return
	}
	if cap(buf) <= 1<<20 {
		l.spare = buf[:0]
	}
	var wake []waiter
	if len(l.waiters) > 0 && len(l.pending) <= min(l.n.cfg.OutboundLimit, l.n.cfg.PeerPendingLimit)/2 {
		wake, l.waiters = l.waiters, nil
	}
	l.mu.Unlock()
	for _, w := range wake {
		w.peerRoom()
	}
}

// peerRoom: a reading link paused on a full member link reads again.
func (l *link) peerRoom() { l.resumeRead() }

// queued returns the bytes not yet written (pending + in flight).
func (l *link) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0
	}
	return len(l.pending) + l.inflight
}

// cutOff closes a client link whose reader does not keep up (a member
// link refuses instead: enqueue).
func (l *link) cutOff() {
	l.n.ctr.slowCut.Add(1)
	l.n.log.Warn("client does not read its replies; cutting it off", "client", l.peerID().String(),
		"limit", l.n.cfg.OutboundLimit)
	l.teardown(errSlowConsumer)
}

var errSlowConsumer = errors.New("node: outbound buffer limit exceeded")

// teardown closes the link once: the connection, its registrations, its
// subscribers; a member link's pending frames are read back as dead
// letters (unsent.go), a client's are dropped and counted as bytes.
func (l *link) teardown(cause error) {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		pending := l.pending
		l.pending, l.spare = nil, nil
		wake := l.waiters
		l.waiters = nil
		l.mu.Unlock()
		close(l.done)
		for _, w := range wake {
			w.peerRoom() // they retry: a new link, or a dead letter
		}
		l.io.close()
		n := l.n
		n.linksMu.Lock()
		delete(n.links, l.id)
		l.mu.Lock()
		n.outGone.add(l.out) // closed: nothing is queued on it any more
		l.mu.Unlock()
		n.linksMu.Unlock()
		if l.dialled {
			// Whole frames that never left: read back as dead letters
			// (unsent.go).
			n.keepUnsent(pending)
			n.peersMu.Lock()
			if n.peers[l.target] == l {
				delete(n.peers, l.target)
			}
			n.peersMu.Unlock()
		} else {
			n.ctr.droppedClientB.Add(int64(len(pending)))
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
		// A zerohop peer learns why: our handshake with the reason,
		// then the link closes once it is written.
		l.refuse(n.refusalFrame(fmt.Sprintf("this node belongs to system %q, the connection names system %q", n.cfg.System, x.System)))
		return true
	}
	id := hs.Node()
	l.peer.Store(&id)
	l.zerohop = hs.Zerohop != nil
	l.handshook = true
	reply := n.hsReply.Load().json
	if n.bin != nil {
		if ok, why := zhbin.Negotiated(hs.Zerohop, n.binTypes, true); ok {
			l.codec, reply = n.bin, n.hsReply.Load().bin
			l.in.maxHeads = max(n.cfg.BinaryHeads, 0)
			l.in.window = n.cfg.BinaryWindow
		} else if hs.Zerohop != nil {
			n.log.Debug("connection stays JSON", "remote", l.remote(), "why", why)
		}
	}
	if !l.send(reply) {
		return false
	}
	if l.codec == n.bin && n.bin != nil {
		n.ctr.binaryLinks.Add(1) // counted once the reply choosing zhbin is queued
	}
	n.clientMu.Lock()
	n.clients[id] = l // the newest connection of an identity wins, as in Casty
	n.clientMu.Unlock()
	return true
}

// refuse queues frame (a handshake carrying a refusal) as the link's last:
// the writer closes the link once it is written (written). The reading
// side reads nothing more (handleFrame closes on any further frame).
func (l *link) refuse(frame []byte) {
	l.mu.Lock()
	l.refusing = true
	l.mu.Unlock()
	if !l.send(frame) {
		l.teardown(errRefused)
	}
}

// isRefusing reports whether refuse was called.
func (l *link) isRefusing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refusing
}

var errRefused = errors.New("node: connection refused")

// extension returns the "zerohop" handshake extension this node sends: its
// system, role "node", and the entity types it hosts with their shard
// counts and hashes, followed by the other types of types (the cluster's
// registered types, when not nil, with hashes their hashes: absent is
// MD5), sorted: a client checks its EntityRef against them and routes
// each type with its hash. A registered type is announced with the
// cluster's count and hash, even when this node's configuration differs
// (it then hosts nothing of it, fsm.go): clients must route as the
// cluster does.
func (n *Node) extension(types map[string]int, hashes map[string]string) *wire.Extension {
	x := netconn.Extension(n.cfg.System, wire.RoleNode)
	own := make(map[string]bool, len(n.cfg.Entities))
	for _, e := range n.cfg.Entities {
		shards, hash := e.Shards, hashName(e.Hash)
		if s, ok := types[e.Name]; ok {
			shards, hash = s, hashes[e.Name] // the cluster's (the first registered wins)
		}
		x.Entities = append(x.Entities, wire.EntityShards{Type: e.Name, Shards: shards, Hash: hash})
		own[e.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(types)) {
		if !own[name] && types[name] > 0 {
			x.Entities = append(x.Entities, wire.EntityShards{Type: name, Shards: types[name], Hash: hashes[name]})
		}
	}
	return x
}

// announceTypes publishes the handshake replies carrying types and hashes
// (the cluster's entity types, shard counts and hashes; onTable,
// fsm.onTypes).
func (n *Node) announceTypes(types map[string]int, hashes map[string]string) {
	n.hsReply.Store(n.replies(types, hashes))
}

// hsReplies are the handshake frames this node answers a client with:
// json chooses Casty JSON; bin (nil without cfg.Binary) chooses zhbin.
// Immutable once published.
type hsReplies struct {
	json, bin []byte
}

// replies builds the handshake replies carrying types. Without
// cfg.Binary, json is the handshake this node always sent; with it, both
// also offer zhbin and announce the binary type table, so that a client
// can see why a connection stayed JSON.
func (n *Node) replies(types map[string]int, hashes map[string]string) *hsReplies {
	x := n.extension(types, hashes)
	frame := func(x *wire.Extension) []byte {
		return wire.AppendHandshakeFrame(nil, wire.Handshake{Host: n.self.Host, Port: n.self.Port, Zerohop: x})
	}
	if n.bin == nil {
		return &hsReplies{json: frame(x)}
	}
	x.Codecs = []string{"json", zhbin.Name}
	x.Binary = n.binTypes
	xb := *x
	xb.Codec = zhbin.Name
	xb.Heads = max(n.cfg.BinaryHeads, 0)
	xb.Window = n.cfg.BinaryWindow
	return &hsReplies{json: frame(x), bin: frame(&xb)}
}

// typeCounts returns t's entity types with their shard counts.
func (t *allocTable) typeCounts() map[string]int {
	m := make(map[string]int, len(t.types))
	for name, s := range t.types {
		m[name] = len(s)
	}
	return m
}

// sameTypes reports whether a and b know the same entity types with the
// same shard counts and hashes.
func sameTypes(a, b *allocTable) bool {
	if len(a.types) != len(b.types) || !maps.Equal(a.hashes, b.hashes) {
		return false
	}
	for name, s := range a.types {
		if o, ok := b.types[name]; !ok || len(o) != len(s) {
			return false
		}
	}
	return true
}

// refusalFrame returns our handshake frame with the zerohop extension's
// "refused" reason set.
func (n *Node) refusalFrame(reason string) []byte {
	x := n.extension(nil, nil)
	x.Refused = reason
	return wire.AppendHandshakeFrame(nil, wire.Handshake{Host: n.self.Host, Port: n.self.Port, Zerohop: x})
}

// resumeRead is called by a worker when a mailbox this link waits on has
// room again.
func (l *link) resumeRead() {
	select {
	case l.resume <- struct{}{}:
	default:
	}
	l.io.resume()
}

func (l *link) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
