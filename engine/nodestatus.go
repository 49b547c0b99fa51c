package engine

import (
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// NodeState is the state of the client's connection to one node, as
// Client.Nodes and Config.OnConnState report it. String gives its stable
// name (exported metrics use it). The zero value is no state: it is never
// reported.
type NodeState uint8

// Node states. Their names (String) are stable.
const (
	// NodeConnecting ("connecting"): the first connection attempt is in
	// progress; frames queue.
	NodeConnecting NodeState = iota + 1
	// NodeConnected ("connected"): the handshake succeeded and the link
	// is up.
	NodeConnected
	// NodeSuspect ("suspect"): the link is open but the node sent nothing
	// for Config.SuspectAfter; sends to it fail fast, queued frames stay.
	NodeSuspect
	// NodeReconnecting ("reconnecting"): the node was connected, the link
	// failed; the client retries with backoff and sends fail fast.
	NodeReconnecting
	// NodeDown ("down"): the node was never reached: every attempt so far
	// failed; the client retries with backoff and sends fail fast.
	NodeDown
	// NodeClosed ("closed"): the connection was stopped for good (the
	// client closed, or the node left the cluster and its connection was
	// dropped).
	NodeClosed

	nodeStateEnd // one past the last state
)

var nodeStateNames = [nodeStateEnd]string{
	NodeConnecting:   "connecting",
	NodeConnected:    "connected",
	NodeSuspect:      "suspect",
	NodeReconnecting: "reconnecting",
	NodeDown:         "down",
	NodeClosed:       "closed",
}

// NodeStates lists every node state, in order: what a metrics exporter
// iterates to publish one series per state.
func NodeStates() []NodeState {
	s := make([]NodeState, 0, nodeStateEnd-1)
	for i := NodeState(1); i < nodeStateEnd; i++ {
		s = append(s, i)
	}
	return s
}

// DropReasons lists every drop reason, in order: what a metrics exporter
// iterates to publish one series per reason.
func DropReasons() []DropReason {
	s := make([]DropReason, 0, dropReasonEnd-1)
	for i := DropReason(1); i < dropReasonEnd; i++ {
		s = append(s, i)
	}
	return s
}

// String returns the state's stable name ("connected", ...), or
// "NodeState(N)" for a value that is none of the constants.
func (s NodeState) String() string {
	if s == 0 || s >= nodeStateEnd {
		return "NodeState(" + strconv.Itoa(int(s)) + ")"
	}
	return nodeStateNames[s]
}

// nodeStateOf maps a connection's internal state to its NodeState; ever
// says whether a link was up before (down after a link is reconnecting,
// down before any is down).
func nodeStateOf(state int32, ever bool) NodeState {
	switch state {
	case connConnecting:
		return NodeConnecting
	case connUp:
		return NodeConnected
	case connSuspect:
		return NodeSuspect
	case connDown:
		if ever {
			return NodeReconnecting
		}
		return NodeDown
	default:
		return NodeClosed
	}
}

// NodeStatus is a point-in-time copy of the client's state and counters
// for one node connection (Client.Nodes). Counters are cumulative since
// the connection was created (it lives across reconnects); Queued is a
// current value. A plain value: it may be copied and kept.
type NodeStatus struct {
	Node    wire.NodeAddress // logical address, as the cluster names the node
	Dial    string           // the address dialled (Config.AddressMap applied)
	State   NodeState
	Zerohop bool  // the node's last handshake carried the zerohop extension (a Go node, not Casty)
	Cause   error // why the connection is not connected (nil when it is)

	FramesWritten uint64 // frames written to the node
	BytesWritten  uint64
	Writes        uint64 // write calls
	FramesRead    uint64 // frames received from the node
	BytesRead     uint64 // bytes of those frames, headers included (not the handshake)
	Queued        int    // frames in the outbound queue now
	QueueCapacity int    // the queue's bound (Config.QueueFrames rounded up to a power of two)

	Connects        uint64 // successful connection openings (incl. reconnects)
	Reconnects      uint64
	ConnectFailures uint64 // attempts that failed: dial, handshake, or the transport's Attach
	Suspects        uint64 // times marked suspect

	// Drops counts what was refused or dropped at this node's connection,
	// by reason (every reason present): queue_full (Tell refused at a
	// full queue; a TellContext that gave up waiting for room is counted
	// in Stats only), queue_sojourn (a tell refused by the sojourn bound,
	// Config.QueueTarget; likewise), encode, owner_unavailable (the node was down or
	// suspect), conn_lost and closed (queued frames discarded). Drops
	// that happen before a node is known (held messages) are in Stats
	// only.
	Drops map[DropReason]uint64
}

// nodeCounters are a connection's own counters (NodeStatus): written by
// its writer (per batch), its reading side (per read batch), its
// supervisor and the refusal paths, never on the path of a Tell that
// succeeds. Each is written by one goroutine at a time except drops.
//
// Grouped by writer, each group on cache lines of its own
// (cacheLinePad), so that the writer's per-batch adds, the reader's and
// the producers' refusals under overload do not invalidate each other's
// lines.
type nodeCounters struct {
	// run's: the writer, per batch, and the supervisor; the tick's suspects.
	framesWritten, bytesWritten, writes             atomic.Uint64
	connects, reconnects, connectFailures, suspects atomic.Uint64
	_                                               cacheLinePad
	// the refusal paths' (producers: per refused message)
	drops [dropReasonEnd]atomic.Uint64 // indexed by DropReason
	_     cacheLinePad
	// the reading side's, per read batch (nodeConn.handled)
	framesRead, bytesRead atomic.Uint64
}

// cacheLinePad keeps the fields before it and those after it on
// different cache lines (64 bytes on amd64 and arm64), whatever the
// struct's alignment.
type cacheLinePad struct{ _ [64]byte }

// nodeState returns nc's current NodeState.
func (nc *nodeConn) nodeState() NodeState {
	return nodeStateOf(nc.state.Load(), nc.ever.Load())
}

// countDrop counts n frames or messages dropped at nc for reason, for
// the node (the caller counts them client-wide in Client.stats).
func (nc *nodeConn) countDrop(reason DropReason, n int) {
	nc.stats.drops[reason].Add(uint64(n))
}

// Nodes returns the state and counters of every node connection the
// client has now (contact points, members it routes to or subscribes
// to), sorted by address. Safe for concurrent use; it takes Client.mu
// briefly to list the connections, never a lock of the Tell path.
func (c *Client) Nodes() []NodeStatus {
	c.mu.Lock()
	conns := slices.Clone(c.connList)
	c.mu.Unlock()
	out := make([]NodeStatus, 0, len(conns))
	for _, nc := range conns {
		s := &nc.stats
		st := NodeStatus{
			Node:            nc.addr,
			Dial:            nc.dial,
			State:           nc.nodeState(),
			Zerohop:         nc.zerohop.Load(),
			FramesWritten:   s.framesWritten.Load(),
			BytesWritten:    s.bytesWritten.Load(),
			Writes:          s.writes.Load(),
			FramesRead:      s.framesRead.Load(),
			BytesRead:       s.bytesRead.Load(),
			Queued:          nc.q.len(),
			QueueCapacity:   len(nc.q.slots),
			Connects:        s.connects.Load(),
			Reconnects:      s.reconnects.Load(),
			ConnectFailures: s.connectFailures.Load(),
			Suspects:        s.suspects.Load(),
			Drops:           make(map[DropReason]uint64, dropReasonEnd-1),
		}
		if st.State != NodeConnected {
			st.Cause = nc.lastCause()
		}
		for r := DropReason(1); r < dropReasonEnd; r++ {
			st.Drops[r] = s.drops[r].Load()
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b NodeStatus) int {
		if a.Node.Host != b.Node.Host {
			if a.Node.Host < b.Node.Host {
				return -1
			}
			return 1
		}
		return a.Node.Port - b.Node.Port
	})
	return out
}

// ConnStateEvent is a change of a node connection's state, as told to
// Config.OnConnState. A plain value: it may be copied and kept.
//
// A connection (Prev NodeConnecting, State NodeConnected), a reconnection
// (Prev NodeReconnecting or NodeDown, State NodeConnected), a
// disconnection (State NodeReconnecting or NodeDown, Cause set), a
// suspicion (State NodeSuspect, Cause wraps ErrSuspect), a recovery (Prev
// NodeSuspect, State NodeConnected) and a close (State NodeClosed).
type ConnStateEvent struct {
	Node  wire.NodeAddress
	Prev  NodeState // the state before
	State NodeState // the state now
	Cause error     // why the node is not connected (nil for NodeConnected)
	Time  time.Time // when the client saw the change
}

// connEventBuffer bounds the events waiting for Config.OnConnState: a
// callback slower than the changes loses the excess (counted in
// Stats.ConnEventsDropped), it never blocks the client.
const connEventBuffer = 256

// connEvents delivers ConnStateEvents to Config.OnConnState from one
// goroutine the client owns. Senders never block and take no lock: a
// full buffer drops the event (counted).
type connEvents struct {
	ch   chan ConnStateEvent // nil when OnConnState is nil: emit is a no-op
	stop chan struct{}       // closed by shutdown after every connection stopped
	done chan struct{}       // closed when the goroutine returned
}

// startConnEvents starts the delivery goroutine if OnConnState is set.
func (c *Client) startConnEvents() {
	f := c.cfg.OnConnState
	if f == nil {
		return
	}
	e := &c.events
	e.ch = make(chan ConnStateEvent, connEventBuffer)
	e.stop = make(chan struct{})
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		for {
			select {
			case ev := <-e.ch:
				f(ev)
			case <-e.stop:
				for { // what the last connections said before stopping
					select {
					case ev := <-e.ch:
						f(ev)
					default:
						return
					}
				}
			}
		}
	}()
}

// stopConnEvents delivers what is buffered and waits for the goroutine.
// Called once, after every connection's supervisor returned.
func (c *Client) stopConnEvents() {
	if c.events.ch == nil {
		return
	}
	close(c.events.stop)
	<-c.events.done
}

// connEvent reports a state change of nc to Config.OnConnState: a
// non-blocking send, never under a lock the Tell path takes (callers:
// the connection's supervisor, the maintenance tick under Client.mu, the
// reading side on a suspect connection's recovery).
func (c *Client) connEvent(nc *nodeConn, prev, now NodeState, cause error) {
	if c.events.ch == nil || prev == now {
		return
	}
	select {
	case c.events.ch <- ConnStateEvent{Node: nc.addr, Prev: prev, State: now, Cause: cause, Time: time.Now()}:
	default:
		c.stats.connEventsDropped.Add(1)
	}
}
