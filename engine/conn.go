package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/internal/netconn"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/zhbin"
)

// Connection states (nodeConn.state).
//
// Transitions: connecting -> up (handshake done) or down (attempt failed);
// up <-> suspect (the maintenance tick marks a subscribed connection
// suspect after Config.SuspectAfter without any byte received; the reading
// side makes it up again with the first bytes); up or suspect -> down (the
// link failed); down -> up (a reconnect); any -> closed.
const (
	connConnecting int32 = iota // first attempt in progress: frames queue
	connUp                      // handshake done, writer running
	connDown                    // last connection or attempt failed: fail fast
	connClosed                  // stopped for good
	connSuspect                 // link open but the node silent: fail fast, queued frames stay
)

// errStopped ends a connection the client closes on purpose.
var errStopped = errors.New("engine: connection stopped")

// nodeConn is the client's connection to one node, identified by its
// logical address, across reconnects. It lives until the client closes.
//
// Goroutines: one supervisor (run), which dials, handshakes, then acts as
// the connection's only writer until the link fails, and reconnects with
// jittered backoff. The link (transport) owns the reading side.
//
// Safe for concurrent use; not copyable.
type nodeConn struct {
	c    *Client
	addr wire.NodeAddress // logical address, as the cluster names the node
	dial string           // address dialled (AddressMap applied)
	q    *outQueue
	// binary: the node's last handshake chose zhbin (zhbin.Negotiated):
	// frames encoded from then on use c.bin. Read on every Tell
	// (Client.codecFor), written once per handshake: it sits with the
	// fields fixed at creation, away from the per-batch stores (idle,
	// lastRecv).
	binary atomic.Bool
	// maxHeads: the heads ("heads") the node's last handshake announced
	// with zhbin, 0 without; a frame is encoded with its route entry's
	// compact head when its id is below it (outFrame.appendTo). heads is
	// the connection's head table, across links (headTable).
	maxHeads atomic.Int32
	heads    headTable
	// window: the frames in flight the node's last handshake allowed
	// ("window" with zhbin; 0: no bound); credited: the frames the node
	// has acknowledged on the current link (wire.FrameCredit, added by
	// the reading side, which then signals creditWake); the writer keeps
	// what it wrote minus credited below window (writeLoop).
	window     atomic.Int32
	credited   atomic.Uint64
	written    atomic.Uint64 // frames written on the current link, counted by the writer before each write
	creditWake chan struct{}

	state      atomic.Int32
	cause      atomic.Pointer[error] // why the last connection/attempt failed
	epoch      atomic.Int64          // allocation_epoch of this node's last snapshot on the current link; -1 unknown
	ever       atomic.Bool           // a link has been up at least once
	zerohop    atomic.Bool           // the node's last handshake carried the zerohop extension (a Go node, not Casty)
	firstTry   chan struct{}         // closed after the first connection attempt
	kick       chan struct{}         // cuts a reconnect backoff short (cluster says the node is up)
	lastTry    atomic.Int64          // unix nanos of the last connection attempt
	suspectErr atomic.Pointer[error] // the cause reported while suspect (wraps ErrSuspect)
	stop       chan struct{}         // closed to stop the connection for good
	stopOnce   sync.Once
	curLink    atomic.Pointer[linkBox] // the live link, closed by shutdown to unblock a write

	absentSince time.Time // guarded by Client.mu: first snapshot not listing the node
	clusterUp   bool      // guarded by Client.mu: the last snapshot listed it up and reachable
	member      bool      // guarded by Client.mu: the last applied snapshot lists it live (Up, Joining, Leaving)
	subSince    int64     // guarded by Client.mu: Client.mono time the subscription started (its silence is watched from then)
	collected   bool      // guarded by Client.mu: in Client.leaving

	// fullErr is returned (shared, immutable) when q is full, lateErr
	// when a tell meets the sojourn bound: a refusal under overload
	// allocates nothing.
	fullErr, lateErr *BufferFullError

	// Above: what producers read per message (c, q, state, fullErr, lateErr) and
	// what changes rarely. Below, on lines of their own, what the writer
	// and the reading side write per batch (cacheLinePad).
	_ cacheLinePad

	idle  atomic.Bool  // writer parked with an empty queue (or no link); stored by run per park
	batch []byte       // owned by run
	stats nodeCounters // this node's counters (Client.Nodes); grouped by writer, padded
	// lastRecv is when the reading side last received bytes (once per
	// read batch), in Client.mono time; the link's opening counts. Beside
	// the reading side's counters (the last group of stats).
	lastRecv atomic.Int64
}

func newNodeConn(c *Client, addr wire.NodeAddress) *nodeConn {
	nc := &nodeConn{
		c:          c,
		addr:       addr,
		dial:       c.cfg.dialAddress(addr),
		q:          newOutQueue(c.cfg.QueueFrames, max(c.cfg.QueueTarget, 0), max(c.cfg.QueueInterval, 0), max(c.cfg.QueueWaitFrames, 0)),
		firstTry:   make(chan struct{}),
		creditWake: make(chan struct{}, 1),
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	nc.fullErr = &BufferFullError{Reason: DropQueueFull, Node: addr, Limit: len(nc.q.slots)}
	nc.lateErr = &BufferFullError{Reason: DropQueueSojourn, Node: addr, Limit: int(c.cfg.QueueTarget.Microseconds())}
	if c.bin != nil {
		nc.q.heads = &headWriter{tab: &nc.heads}
	}
	nc.epoch.Store(-1)
	nc.idle.Store(true)
	return nc
}

func (nc *nodeConn) start() {
	nc.c.wg.Add(1)
	go func() {
		defer nc.c.wg.Done()
		nc.run()
		nc.retire() // its writer is done: counters final
	}()
}

type linkBox struct{ l Link }

// shutdown stops the connection for good (idempotent, does not wait). The
// live link is closed too, so that a writer blocked on a peer that stopped
// reading returns.
func (nc *nodeConn) shutdown() {
	nc.stopOnce.Do(func() {
		close(nc.stop)
		if b := nc.curLink.Load(); b != nil {
			b.l.Close()
		}
	})
}

// usable reports whether frames may be queued: the connection is up or its
// first attempt is still in progress.
func (nc *nodeConn) usable() bool {
	s := nc.state.Load()
	return s == connUp || s == connConnecting
}

// linked reports whether frames queued now may still go out: the first
// attempt is in progress, or a link is open (up or suspect).
func (nc *nodeConn) linked() bool {
	s := nc.state.Load()
	return s == connUp || s == connConnecting || s == connSuspect
}

// received records inbound bytes: called by the reading side once per read
// batch (one monotonic clock read and an atomic store). The first bytes
// from a suspect node make its connection up again.
func (nc *nodeConn) received() {
	nc.lastRecv.Store(nc.c.mono())
	if nc.state.Load() == connSuspect && nc.state.CompareAndSwap(connSuspect, connUp) {
		nc.c.stats.suspectsCleared.Add(1)
		nc.c.connEvent(nc, NodeSuspect, NodeConnected, nil)
		nc.c.log.Info("engine: node heard from again", "node", nc.addr.String())
	}
}

// handled counts frames read (bytes: their whole sizes), once per read
// batch.
func (nc *nodeConn) handled(frames, bytes int) {
	nc.stats.framesRead.Add(uint64(frames))
	nc.stats.bytesRead.Add(uint64(bytes))
}

// lastCause returns why the connection is not up.
func (nc *nodeConn) lastCause() error {
	if nc.state.Load() == connSuspect {
		if p := nc.suspectErr.Load(); p != nil {
			return *p
		}
	}
	if p := nc.cause.Load(); p != nil {
		return *p
	}
	if nc.state.Load() == connClosed {
		return ErrClosed
	}
	return errors.New("engine: not connected")
}

func (nc *nodeConn) run() {
	c := nc.c
	backoff := c.cfg.ReconnectMin
	first := true
	for {
		select {
		case <-nc.stop:
			nc.finish()
			return
		default:
		}
		nc.lastTry.Store(time.Now().UnixNano())
		conn, err := nc.connect()
		if err == nil {
			// A new link is a new session with the node (it may have
			// restarted with an older view): the epoch of the last
			// link's snapshots fences nothing it says until its own
			// first snapshot (the subscription's immediate reply).
			// Before Attach, which starts the reading side.
			nc.epoch.Store(-1)
			var l Link
			l, err = c.tr.Attach(conn, nc)
			if err != nil { // the transport refused the handshaken conn: a failed attempt too
				c.stats.connectFailures.Add(1)
				nc.stats.connectFailures.Add(1)
				c.log.Warn("engine: attach failed", "node", nc.addr.String(), "err", err)
			}
			if err == nil {
				backoff = c.cfg.ReconnectMin
				prev := nc.nodeState()
				if nc.ever.Swap(true) {
					c.stats.reconnects.Add(1)
					nc.stats.reconnects.Add(1)
				}
				c.stats.connects.Add(1)
				nc.stats.connects.Add(1)
				nc.lastRecv.Store(c.mono()) // the handshake reply: before up, so the tick sees a fresh time
				nc.state.Store(connUp)
				c.connEvent(nc, prev, NodeConnected, nil)
				if first {
					first = false
					close(nc.firstTry)
				}
				c.onConnUp(nc)
				nc.curLink.Store(&linkBox{l})
				select {
				case <-nc.stop: // shutdown raced the store: it may have missed the link
					l.Close()
				default:
				}
				err = nc.writeLoop(l)
				nc.curLink.Store(nil)
				l.Close()
				<-l.Done()
				nc.idle.Store(true)
				if errors.Is(err, errStopped) || isStopped(nc.stop) {
					nc.finish()
					return
				}
				c.log.Warn("engine: connection lost", "node", nc.addr.String(), "err", err)
			}
		} else {
			c.stats.connectFailures.Add(1)
			nc.stats.connectFailures.Add(1)
			level := slog.LevelWarn
			if nc.state.Load() == connDown {
				level = slog.LevelDebug // still down: logged once at the transition
			}
			c.log.Log(context.Background(), level, "engine: connect failed", "node", nc.addr.String(), "dial", nc.dial, "err", err)
		}
		nc.cause.Store(&err)
		was := nc.state.Swap(connDown)
		wasDown := was == connDown
		if !wasDown {
			ever := nc.ever.Load()
			c.connEvent(nc, nodeStateOf(was, ever), nodeStateOf(connDown, ever), err)
		}
		if first {
			first = false
			close(nc.firstTry)
		}
		if n := nc.q.discard(); n > 0 {
			c.stats.drop(DropConnLost, n)
			nc.countDrop(DropConnLost, n)
			c.droppedFrames(DropConnLost, n)
		}
		c.onConnDown(nc, err, !wasDown)
		// Jittered exponential backoff: uniform in [backoff/2, backoff].
		var d time.Duration
		d, backoff = c.cfg.backoffStep(backoff)
		t := time.NewTimer(d)
		select {
		case <-nc.stop:
			t.Stop()
			nc.finish()
			return
		case <-t.C:
		case <-nc.kick:
			t.Stop()
			// Keep at least ReconnectMin between attempts.
			if wait := c.cfg.ReconnectMin - time.Since(time.Unix(0, nc.lastTry.Load())); wait > 0 {
				t.Reset(wait)
				select {
				case <-nc.stop:
					t.Stop()
					nc.finish()
					return
				case <-t.C:
				}
			}
		}
	}
}

func isStopped(stop chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// backoffStep returns the wait before the next connection attempt for the
// current backoff b (uniform in [b/2, b]) and the backoff after it
// (doubled, at most ReconnectMax).
func (c *Config) backoffStep(b time.Duration) (wait, next time.Duration) {
	if c.reconnectJitter != nil {
		wait = c.reconnectJitter(b)
	} else {
		wait = b/2 + rand.N(b/2+1)
	}
	return wait, min(2*b, c.ReconnectMax)
}

// nudge cuts the reconnect backoff short (attempts stay ReconnectMin
// apart): the cluster reports the node up again, routes a shard to it, or
// its membership changed.
func (nc *nodeConn) nudge() {
	if nc.state.Load() != connDown {
		return
	}
	select {
	case nc.kick <- struct{}{}:
	default:
	}
}

// finish closes the queue and drops what it still holds.
func (nc *nodeConn) finish() {
	nc.q.closed.Store(true)
	prev := nodeStateOf(nc.state.Swap(connClosed), nc.ever.Load())
	nc.c.connEvent(nc, prev, NodeClosed, ErrClosed)
	nc.idle.Store(true)
	if n := nc.q.discard(); n > 0 {
		nc.c.stats.drop(DropClosed, n)
		nc.countDrop(DropClosed, n)
		nc.c.droppedFrames(DropClosed, n)
	}
	select {
	case <-nc.firstTry:
	default:
		close(nc.firstTry)
	}
}

// yieldBelowFrames: when more asks are in flight (client-wide) than the
// frames just drained, the writer yields once (runtime.Gosched) before
// writing a batch of fewer frames, then drains again, so that the askers
// runnable at that moment (woken by replies) join the batch. Without it,
// with 256 asks in flight the writer wrote 1.4 frames per write syscall
// (each ask woke it alone); with it 9.6, and loadgen -workers 0
// -ask-concurrency 256 went from 87k to 133k asks/s (medians of 3
// alternating runs; p50 2.72 -> 1.70 ms). Not for a lone ask: yielding
// there cost 6-7 us of p50 (loadgen -ask-concurrency 1, 6 alternating
// runs: 105 vs 98 us). Not for tells alone: at a paced 100k tells/s the
// yield batched twice as many frames per write (-14% process CPU) but
// doubled the tell lag p50 (20 -> 40-47 us), and a saturated tell queue
// batches hundreds of frames anyway.
const yieldBelowFrames = 16

// writeLoop drains the queue into one write per drain until the link fails
// or the connection is stopped. It parks only when the queue is empty and
// is woken by the producer that makes it non-empty.
func (nc *nodeConn) writeLoop(l Link) error {
	c := nc.c
	limit := c.cfg.MaxBatchBytes
	clock := c.mono // read once per drain: the queue's coarse clock (outQueue)
	if c.cfg.queueClock != nil {
		clock = c.cfg.queueClock
	}
	nc.idle.Store(false) // busy until it parks: drained() must not see a batch being written as done
	if nc.q.heads != nil {
		nc.q.heads.reset(int(nc.maxHeads.Load())) // this link's, from its handshake
	}
	// The link's window (0: none): frames written and not yet credited
	// stay below it; written counts this link's frames, definitions too.
	win := uint64(max(nc.window.Load(), 0))
	var written uint64
	nc.q.frameCap = 0
	for {
		if win > 0 {
			out := written - nc.credited.Load()
			if out >= win {
				select { // not idle: frames wait for the node's credit
				case <-nc.creditWake:
				case <-l.Done():
					return l.Err()
				case <-nc.stop:
					return errStopped
				}
				continue
			}
			nc.q.frameCap = int(win - out)
		}
		var n int
		nc.batch, n = nc.q.drain(nc.batch[:0], limit, clock())
		if n > 0 && n < yieldBelowFrames && len(nc.batch) < limit && c.asks.inflight.Load() > int64(n) && (win == 0 || n < nc.q.frameCap) {
			// A small batch: let the goroutines that are runnable now
			// (askers woken by replies, producers) queue theirs first,
			// and write them together. Free when nothing else is
			// runnable; see yieldBelowFrames.
			runtime.Gosched()
			var m int
			if win > 0 {
				nc.q.frameCap -= n
			}
			nc.batch, m = nc.q.drain(nc.batch, limit, clock())
			n += m
		}
		if win > 0 {
			written += uint64(n)
			if h := nc.q.heads; h != nil {
				written, h.defs = written+uint64(h.defs), 0
			}
			nc.written.Store(written) // before the write: a credit never acknowledges more
		}
		if len(nc.batch) > 0 {
			if err := l.Write(nc.batch); err != nil {
				c.stats.drop(DropConnLost, n)
				nc.countDrop(DropConnLost, n)
				c.droppedFrames(DropConnLost, n)
				return err
			}
			// Counted once, for the node: the client's totals are
			// their sums (Stats), not a line every writer adds to.
			nc.stats.framesWritten.Add(uint64(n))
			nc.stats.bytesWritten.Add(uint64(len(nc.batch)))
			nc.stats.writes.Add(1)
			if cap(nc.batch) > 4*limit {
				nc.batch = nil
			}
			continue
		}
		if !nc.q.prepareSleep() {
			continue
		}
		nc.idle.Store(true)
		select {
		case <-nc.q.wake:
			nc.idle.Store(false)
		case <-l.Done():
			return l.Err()
		case <-nc.stop:
			return errStopped
		}
	}
}

// drained reports whether nothing is queued and the writer is parked.
func (nc *nodeConn) drained() bool {
	return nc.q.len() == 0 && nc.idle.Load()
}

// connect dials the node, wraps TLS, exchanges handshakes and validates the
// node's reply. The returned conn has no deadline set.
func (nc *nodeConn) connect() (net.Conn, error) {
	c := nc.c
	ctx, cancel := context.WithTimeout(c.rootCtx, c.cfg.ConnectTimeout)
	defer cancel()
	conn, err := netconn.Dial(ctx, c.dialer, nc.dial, c.cfg.TLS, c.cfg.SocketSendBuffer)
	if err != nil {
		return nil, &HandshakeError{Node: nc.addr, Dial: nc.dial, Cause: err}
	}
	// Abort a blocked handshake when the client closes.
	stopWatch := context.AfterFunc(c.rootCtx, func() { _ = conn.Close() })
	defer stopWatch()
	if err := nc.handshake(conn); err != nil {
		_ = conn.Close()
		if c.cfg.TLS == nil && !errors.Is(err, ErrTLSRequired) && !causeKnown(err) && nc.probeTLS() {
			err = fmt.Errorf("%w (%v)", ErrTLSRequired, err)
		}
		return nil, &HandshakeError{Node: nc.addr, Dial: nc.dial, Cause: err}
	}
	return conn, nil
}

// handshake sends the client's handshake and reads the node's reply.
func (nc *nodeConn) handshake(conn net.Conn) error {
	c := nc.c
	// The HTTP probe (a second connection carrying bytes a Casty node
	// logs as a bad frame) only while this address never answered a
	// handshake: a node that did is a node, merely slow now.
	var probe func(ctx context.Context) (net.Conn, error)
	if nc.stats.connects.Load() == 0 {
		probe = func(ctx context.Context) (net.Conn, error) {
			return netconn.Dial(ctx, c.dialer, nc.dial, c.cfg.TLS, c.cfg.SocketSendBuffer)
		}
	}
	h, err := netconn.HandshakeProbing(conn, c.handshakeFrame, c.cfg.HandshakeTimeout, probe)
	if errors.Is(err, netconn.ErrTLSRequired) {
		return ErrTLSRequired
	}
	if err != nil {
		return explainHandshake(h, err, c.cfg.SystemName)
	}
	if err := netconn.CheckSystem(h, c.cfg.SystemName); err != nil {
		return err
	}
	nc.zerohop.Store(h.Zerohop != nil)
	if c.bin != nil {
		ok, why := zhbin.Negotiated(h.Zerohop, c.binTypes, false)
		heads, window := 0, 0 // what this link takes: none unless zhbin
		if ok {
			heads = min(h.Zerohop.Heads, wire.MaxHeads)
			window = min(h.Zerohop.Window, wire.MaxWindow)
			c.stats.binaryConnects.Add(1)
		} else if h.Zerohop != nil {
			c.log.Debug("engine: connection stays JSON", "node", nc.addr.String(), "why", why)
		}
		nc.binary.Store(ok)
		nc.maxHeads.Store(int32(heads))
		nc.window.Store(int32(window))
		nc.credited.Store(0) // a new link: before its reading side starts
		nc.written.Store(0)
		if heads > 0 {
			c.stats.headConnects.Add(1)
		}
	}
	if x := h.Zerohop; x != nil && x.Role == wire.RoleNode && len(x.Entities) > 0 {
		c.noteAnnounced(h.Node(), x.Entities)
	}
	if h.Node() != nc.addr {
		c.log.Debug("engine: node identity differs from the address used", "node", nc.addr.String(), "claims", h.Node().String())
		c.alias(h.Node(), nc)
	}
	return nil
}

// probeTLS reports whether the node at nc.dial completes (or rejects with
// an alert) a TLS handshake: the diagnosis behind ErrTLSRequired when a
// plaintext handshake got no reply.
func (nc *nodeConn) probeTLS() bool {
	c := nc.c
	ctx, cancel := context.WithTimeout(c.rootCtx, c.cfg.HandshakeTimeout)
	defer cancel()
	conn, err := c.dialer(ctx, "tcp", nc.dial)
	if err != nil {
		return false
	}
	defer conn.Close()
	host, _, _ := net.SplitHostPort(nc.dial)
	tconn := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: host}) //nolint:gosec // diagnosis only, no data sent
	err = tconn.HandshakeContext(ctx)
	if err == nil {
		return true
	}
	return netconn.IsTLSAlert(err)
}
