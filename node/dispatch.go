package node

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

// result tells a reader what to do after a frame.
type result uint8

const (
	resOK     result = iota // consumed
	resPaused               // a mailbox is full: keep the frame, retry when woken
	resClose                // close the connection
)

type pathKind uint8

const (
	pkTopology pathKind = iota + 1
	pkRegion
	pkService
)

type pathHandler struct {
	kind   pathKind
	region *region
	box    *mailbox
}

// buildHandlers creates the regions, service mailboxes and the path table.
func (n *Node) buildHandlers() {
	n.paths = map[string]pathHandler{wire.PathTopology: {kind: pkTopology}}
	boxes := 0
	for i, e := range n.cfg.Entities {
		r := &region{idx: i, typ: e, boxes: make([]*mailbox, e.Shards)}
		for s := range r.boxes {
			r.boxes[s] = n.newMailbox(r, s, nil)
		}
		boxes += e.Shards
		n.regions = append(n.regions, r)
		n.paths[wire.PathRegionPrefix+e.Name] = pathHandler{kind: pkRegion, region: r}
	}
	for i := range n.cfg.Services {
		mb := n.newMailbox(nil, -1, &n.cfg.Services[i])
		boxes++
		n.services = append(n.services, mb)
		n.paths[n.cfg.Services[i].Path] = pathHandler{kind: pkService, box: mb}
	}
	n.runq = make(chan *mailbox, boxes)
}

// handleFrame handles one frame of link l. body is only valid during the
// call: anything kept is copied (decoded values own their memory).
func (n *Node) handleFrame(l *link, typ byte, body []byte) result {
	if !l.handshook {
		if l.isRefusing() {
			// Refused: the link closes once the refusal is written;
			// what the peer sends meanwhile is ignored.
			return resOK
		}
		if typ != wire.FrameHandshake {
			n.ctr.handshakesRefused.Add(1)
			n.logLimited("refusing connection: first frame is not a handshake", "remote", l.remote(), "type", typ)
			return resClose
		}
		if !l.onHandshake(body) {
			return resClose
		}
		return resOK
	}
	r := n.handleHandshaken(l, typ, body)
	if l.in.window > 0 && r != resPaused { // a paused frame is handled again
		if l.in.uncredited++; l.in.uncredited >= max(l.in.window/4, 1) {
			l.in.credit = wire.AppendCredit(l.in.credit[:0], l.in.uncredited)
			l.send(l.in.credit)
			l.in.uncredited = 0
		}
	}
	return r
}

// handleHandshaken handles a frame of a link after its handshake.
func (n *Node) handleHandshaken(l *link, typ byte, body []byte) result {
	switch {
	case typ == wire.FrameMessage:
		return n.handleMessage(l, body)
	case typ == wire.FrameHeaded && l.in.maxHeads > 0:
		return n.handleHeaded(l, body)
	case typ == wire.FrameDefineHead && l.in.maxHeads > 0:
		return n.defineHead(l, body)
	}
	// A second handshake or an unknown type: ignored (counted), as Casty
	// ignores them. (Headed frames are unknown types too, unless this
	// node announced heads on the connection.)
	n.ctr.unexpected.Add(1)
	return resOK
}

// handleMessage dispatches a message frame body, read from l, by its
// target path. (Messages from this node itself take deliverLocal.)
func (n *Node) handleMessage(l *link, body []byte) result {
	if r, f, payload, ok := l.in.lookupHeader(body); ok {
		return n.handleRegion(l, r, f, payload)
	}
	path, payload, err := wire.ParseTargetPath(body)
	if err != nil {
		n.decodeFailed(l, err)
		return resOK
	}
	hd, ok := n.paths[string(path)]
	if !ok {
		switch {
		case bytes.HasPrefix(path, coordPrefix):
			n.handleCoord(l, string(path[len(coordPrefix):]), payload)
		case string(path) == wire.PathNode:
			n.handleNodePath(l, payload)
		case bytes.HasPrefix(path, regionPrefix):
			n.ctr.unknownTargets.Add(1)
			n.unknownEntityType(l, string(path[len(regionPrefix):]), payload)
		default:
			n.ctr.unknownTargets.Add(1)
			n.logLimited("dropping message to an unknown path", "path", string(path), "from", l.String())
		}
		return resOK
	}
	switch hd.kind {
	case pkRegion:
		// The sender carries the hop count; read once per distinct
		// header of a link (the memo then knows it).
		h, _, err := wire.ParseMessage(body)
		if err != nil {
			n.decodeFailed(l, err)
			return resOK
		}
		f := fwdOf(h.Sender)
		l.in.rememberHeader(body[:len(body)-len(payload)], hd.region, f)
		return n.handleRegion(l, hd.region, f, payload)
	case pkService:
		if hd.box.stopped.Load() {
			n.ctr.unknownTargets.Add(1)
			return resOK
		}
		v, err := l.codec.Decode(payload)
		if err != nil {
			n.decodeFailed(l, err)
			return resOK
		}
		if !hd.box.push(envelope{msg: v}, l) {
			n.ctr.mailboxFull.Add(1)
			return resPaused
		}
		return resOK
	case pkTopology:
		v, err := l.codec.Decode(payload)
		if err != nil {
			n.decodeFailed(l, err)
			return resOK
		}
		switch m := v.(type) {
		case wire.SubscribeTopology:
			n.subs.subscribe(l, m.ReplyTo)
		case wire.UnsubscribeTopology:
			n.subs.unsubscribe(m.Subscriber)
		default:
			n.unexpected(l, string(path), v)
		}
	}
	return resOK
}

var (
	coordPrefix  = []byte(wire.PathCoordPrefix)
	regionPrefix = []byte(wire.PathRegionPrefix)
)

// unknownEntityType drops an envelope sent to the region of a type this
// node does not host: a dead letter (wire.ReasonUnknownEntityType), so a
// waiting zerohop ask learns why at once.
func (n *Node) unknownEntityType(l *link, typ string, payload []byte) {
	v, err := l.codec.Decode(payload)
	if err != nil {
		n.decodeFailed(l, err)
		return
	}
	env, ok := v.(wire.ShardEnvelope)
	if !ok {
		n.unexpected(l, wire.PathRegionPrefix+typ, v)
		return
	}
	n.logLimited("dropping an envelope for an entity type this node does not host", "type", typ, "from", l.String())
	n.deadLetter(DeadLetter{Type: typ, Shard: -1, EntityID: env.EntityID, Msg: env.Message, Reason: wire.ReasonUnknownEntityType})
}

// handleCoord serves /_coord-{type}: GetShardLocation from anyone. No
// other message is taken there (a ShardLocation from a peer steers
// nothing: the table comes from the consensus log).
func (n *Node) handleCoord(l *link, typ string, payload []byte) {
	v, err := l.codec.Decode(payload)
	if err != nil {
		n.decodeFailed(l, err)
		return
	}
	switch m := v.(type) {
	case wire.GetShardLocation:
		n.handleGetShardLocation(l, typ, m)
	default:
		n.unexpected(l, wire.PathCoordPrefix+typ, v)
	}
}

// maxHops bounds how many times an envelope is forwarded between nodes
// (a client's envelope has 0 hops): forwards follow each node's table,
// and two tables that disagree (one node behind the log) cannot bounce an
// envelope forever. Past it the envelope is a dead letter (ReasonHopLimit).
const maxHops = 2

// handleRegion delivers a ShardEnvelope read from l to its shard's mailbox
// when the table names this node owner (the worker then checks the lease
// before the entity sees it), forwards it to the owner the table names
// otherwise (hop-limited), and parks it while the shard has no owner. Who
// sent it does not matter: a non-owner never runs an entity.
//
// A forward from a node whose table is newer than this node's (its epoch
// travels in the sender path) waits until this node has applied that
// table: routed by the older table it would go back to a node that no
// longer owns the shard, and two nodes an apply apart bounced envelopes
// until the hop limit dropped them (chaos rolling-restart: 295-467 counted
// dead letters a run, TestForwardFromANewerTableWaits). So does a forward
// that reaches this node while its route is older than the table its
// replica applied (TestNoForwardByARouteBehindTheTable).
func (n *Node) handleRegion(l *link, r *region, f fwdInfo, payload []byte) result {
	hops := f.hops
	id, msg, err := l.codec.DecodeShardEnvelopeMemo(payload, &l.in.msgs)
	if err != nil {
		n.decodeFailed(l, err)
		return resOK
	}
	if len(id) > n.cfg.MaxEntityIDLen {
		n.refuseEntityID(r, id, msg) // before the memo: never kept
		return resOK
	}
	entityID, shard := l.in.entity(r, id)
	if hops > 0 {
		n.ctr.forwardedRecv.Add(1)
		// A forward has a hop spent: it waits for a route as new as the
		// table this replica applied, which onTable publishes a moment
		// later (by an older route it could go back to the shard's
		// previous owner, see behindTable).
		f.epoch = max(f.epoch, n.table().epoch)
	}
	if n.leaving.Load() {
		n.lastRegionMsg.Store(int64(n.mono())) // the drain window waits for quiet
	}
	if f.epoch > n.route.Load().epoch && n.loc.parkNewer(&pendingReq{typ: r.typ.Name, shard: shard,
		env: &parkedEnv{region: r, entityID: entityID, msg: msg, hops: hops}, minEpoch: f.epoch}) {
		n.ctr.heldForTable.Add(1)
		return resOK
	}
	for {
		owner := n.route.Load().owners[r.idx][shard]
		switch {
		case owner == n.self:
			e := envelope{entityID: entityID, msg: msg, hops: uint8(hops)}
			if l.inline != nil && n.runInline(l, r.boxes[shard], e) {
				return resOK
			}
			if !r.boxes[shard].push(e, l) {
				n.ctr.mailboxFull.Add(1)
				return resPaused
			}
		case owner.IsZero():
			if n.loc.parkEnv(&pendingReq{typ: r.typ.Name, shard: shard, via: l, zerohop: l.zerohop,
				env: &parkedEnv{region: r, entityID: entityID, msg: msg, hops: hops}}) == routed {
				continue // allocated meanwhile
			}
		default:
			if n.forwardDecoded(owner, r, shard, entityID, msg, hops, l) == fwdFull {
				return resPaused // the owner's link is full: read again when it drains
			}
		}
		return resOK
	}
}

// forwardResult says what became of a forwarded envelope.
type forwardResult uint8

const (
	fwdDone forwardResult = iota // forwarded, or dropped as a dead letter
	fwdFull                      // the owner's link is full: nothing sent, w will be woken
)

// forwardDecoded sends an envelope to its owner's region with one more hop
// (re-encoded: the receiver reads the hop count from the sender URI), or
// drops it as a dead letter when it has no hop left or no connection leads
// to the owner. When the owner's link is full and w is set, nothing is
// sent and fwdFull is returned: w is woken when the link has room, and the
// caller pauses (backpressure); with no w the envelope is a dead letter.
func (n *Node) forwardDecoded(owner wire.NodeAddress, r *region, shard int, entityID string, msg any, hops int, w waiter) forwardResult {
	if n.ownerLapsed(owner) {
		// The table still names owner, but its lease has expired as this
		// node's replica sees it: a move is coming (or this node has not
		// applied it yet). Sending it there would reach a node that must
		// not run it, or a stopped one; wait for the table instead.
		n.ctr.heldForMove.Add(1)
		n.loc.parkStale(&pendingReq{typ: r.typ.Name, shard: shard,
			env: &parkedEnv{region: r, entityID: entityID, msg: msg, hops: hops}})
		return fwdDone
	}
	return n.forwardNow(owner, r, shard, entityID, msg, hops, w)
}

// forwardNow is forwardDecoded without the lapsed-owner check (the
// locator, which made it, releases parked envelopes with it, holding its
// lock).
func (n *Node) forwardNow(owner wire.NodeAddress, r *region, shard int, entityID string, msg any, hops int, w waiter) forwardResult {
	if hops >= maxHops {
		n.ctr.hopLimited.Add(1)
		n.deadLetter(DeadLetter{Type: r.typ.Name, Shard: shard, EntityID: entityID, Msg: msg, Reason: wire.ReasonHopLimit})
		return fwdDone
	}
	sender := n.fwdSender[hops] + "." + strconv.FormatInt(n.fwdEpoch(), 10)
	frame, err := n.reg.AppendEnvelopeFrame(nil, wire.NodeURI(n.cfg.System, owner, wire.PathRegionPrefix+r.typ.Name),
		sender, entityID, msg, n.cfg.MaxFrameSize)
	if err != nil {
		n.ctr.droppedReplies.Add(1)
		n.log.Error("encode forwarded envelope", "err", err)
		return fwdDone
	}
	l := n.peerLink(owner)
	if l != nil && l.offer(frame, w) {
		n.ctr.forwarded.Add(1)
		return fwdDone
	}
	if l != nil && w != nil && !l.isClosed() {
		return fwdFull
	}
	n.ctr.droppedReplies.Add(1)
	n.logLimited("cannot forward an envelope to its owner", "owner", owner.String())
	n.deadLetter(DeadLetter{Type: r.typ.Name, Shard: shard, EntityID: entityID, Msg: msg, Reason: wire.ReasonStaleOwner})
	return fwdDone
}

// fwdEpoch is the epoch a forward carries: that of the table this
// replica has applied, which its route may not show yet (onTable releases
// parked envelopes by the new table before it publishes the route). A
// forward decided by that table and stamped with the route's older epoch
// would not be held by an owner that has not applied it either, which
// would route it back by its own older table.
func (n *Node) fwdEpoch() int64 {
	return max(n.route.Load().epoch, n.table().epoch)
}

// ownerLapsed reports whether owner's lease has certainly expired by this
// replica's record of its renewals (the leader's test, see lease.go).
func (n *Node) ownerLapsed(owner wire.NodeAddress) bool {
	c := n.cons.Load()
	if c == nil || owner == n.self {
		return false
	}
	at, ok := c.fsm.seenAt(owner)
	return ok && n.cfg.Consensus.lapsed(at, n.mono())
}

// fwdPath is the sender path of a forwarded envelope; a digit follows (the
// hop count after this forward), then "." and the epoch of the forwarder's
// route (fwdOf).
const fwdPath = "/_fwd"

// hopsOf returns the hop count a sender URI carries (0 for anything but a
// node's forward).
func hopsOf(sender string) int { return fwdOf(sender).hops }

// fwdInfo is what a forward's sender path says: the hop count after that
// forward, and the epoch of the forwarder's table (0 when absent).
type fwdInfo struct {
	hops  int
	epoch int64
}

// fwdOf reads a sender URI ending in fwdPath, a hop digit and optionally
// "." and the forwarder's epoch; anything else is a client's (0 hops).
func fwdOf(sender string) fwdInfo {
	i := strings.LastIndex(sender, fwdPath)
	if i < 0 || i+len(fwdPath) >= len(sender) {
		return fwdInfo{}
	}
	rest := sender[i+len(fwdPath):]
	d := rest[0]
	if d < '1' || d > '9' {
		return fwdInfo{}
	}
	f := fwdInfo{hops: int(d - '0')}
	switch {
	case len(rest) == 1:
	case rest[1] == '.':
		e, err := strconv.ParseInt(rest[2:], 10, 64)
		if err != nil || e < 0 {
			return fwdInfo{}
		}
		f.epoch = e
	default:
		return fwdInfo{}
	}
	return f
}

func (n *Node) decodeFailed(l *link, err error) {
	n.ctr.decodeFailures.Add(1)
	n.logLimited("dropping a message that does not decode", "from", linkName(l), "err", err)
}

func (n *Node) unexpected(l *link, path string, v any) {
	n.ctr.unexpected.Add(1)
	n.logLimited("dropping a message of an unexpected type", "path", path, "from", linkName(l), "type", typeName(n, v))
}

func linkName(l *link) string {
	if l == nil {
		return "local"
	}
	return l.String()
}

func typeName(n *Node, v any) string {
	if s, ok := n.reg.TypeName(v); ok {
		return s
	}
	if u, ok := v.(castyjson.Unknown); ok {
		return u.Type
	}
	return "?"
}

// ErrUndeliverable is returned by Tell when the ref's node has no live
// connection (a node never dials a client) or the local mailbox is full.
// The message is dropped and counted.
var ErrUndeliverable = errors.New("node: message undeliverable; dropped")

// destLink and sendOn send a frame to the node or client at an address:
// a member over the connection this node dials to it; anything else over
// the inbound connection registered under that identity. Without one the
// frame is dropped and counted: clients are never dialled.

// destLink returns the link a frame to addr goes over: the member link
// this node dialled (member true), or the inbound connection registered
// under that identity; nil when there is none (or addr is this node).
// The frame is encoded with the link's codec (l.codec).
func (n *Node) destLink(addr wire.NodeAddress) (l *link, member bool) {
	if addr == n.self {
		return nil, false
	}
	if ms := n.memberOthers(); ms != nil {
		if _, ok := (*ms)[addr]; ok {
			return n.peerLink(addr), true
		}
	}
	n.clientMu.RLock()
	l = n.clients[addr]
	n.clientMu.RUnlock()
	return l, false
}

// sendOn sends frame over l (destLink's answer for addr); without l, or
// when l does not take it, the frame is dropped and counted.
func (n *Node) sendOn(l *link, member bool, addr wire.NodeAddress, frame []byte) bool {
	if l != nil && l.send(frame) {
		return true
	}
	n.ctr.droppedReplies.Add(1)
	if !member {
		n.logLimited("no connection to the destination; dropping", "to", addr.String())
	}
	return false
}

// codecOf returns the codec of frames sent over l: its negotiated one, or
// n.reg without a link.
func (n *Node) codecOf(l *link) wire.Codec {
	if l != nil {
		return l.codec
	}
	return n.reg
}

// tell sends msg to ref from an entity, a service or the node itself.
func (n *Node) tell(to wire.Ref, msg any, buf *[]byte) error {
	if to.IsZero() {
		return errors.New("node: tell to a zero ref")
	}
	if to.IsLocal() || to.Node() == n.self {
		return n.deliverLocal(to.Path, msg)
	}
	l, member := n.destLink(to.Node())
	frame, err := n.codecOf(l).AppendMessageFrameTo((*buf)[:0], to.Address, n.senderURI, msg, n.cfg.MaxFrameSize)
	if err != nil {
		return err
	}
	if cap(frame) <= 64<<10 {
		*buf = frame[:0]
	}
	if !n.sendOn(l, member, to.Node(), frame) {
		return ErrUndeliverable
	}
	return nil
}

// deliverLocal delivers a message to one of this node's services or
// regions without encoding it.
func (n *Node) deliverLocal(path string, msg any) error {
	h, ok := n.paths[path]
	if !ok {
		n.ctr.unknownTargets.Add(1)
		return ErrUndeliverable
	}
	switch h.kind {
	case pkService:
		if h.box.stopped.Load() {
			n.ctr.unknownTargets.Add(1)
			return ErrUndeliverable
		}
		if !h.box.push(envelope{msg: msg}, nil) {
			n.ctr.mailboxDropped.Add(1)
			return ErrUndeliverable
		}
		return nil
	case pkRegion:
		env, ok := msg.(wire.ShardEnvelope)
		if !ok {
			n.ctr.unexpected.Add(1)
			return ErrUndeliverable
		}
		r := h.region
		shard := r.typ.ShardOf(env.EntityID)
		for {
			owner := n.route.Load().owners[r.idx][shard]
			switch {
			case owner == n.self:
				if !r.boxes[shard].push(envelope{entityID: env.EntityID, msg: env.Message}, nil) {
					n.ctr.mailboxDropped.Add(1)
					return ErrUndeliverable
				}
			case owner.IsZero():
				// Unallocated: wait for the owner like an envelope from a
				// client (delivering here could start a second instance).
				switch n.loc.parkEnv(&pendingReq{typ: r.typ.Name, shard: shard,
					env: &parkedEnv{region: r, entityID: env.EntityID, msg: env.Message}}) {
				case routed:
					continue
				case refused:
					return ErrUndeliverable
				}
			default:
				n.forwardDecoded(owner, r, shard, env.EntityID, env.Message, 0, nil)
			}
			return nil
		}
	}
	n.ctr.unexpected.Add(1)
	return ErrUndeliverable
}

// route is the immutable hot-path view of the allocation table for this
// node's own entity types, by region index and shard: the owner (zero =
// unallocated), the consensus index at which the owner got the shard
// (since), and, for shards this node owns, when it applied that allocation
// (servingSince, n.mono() ns: the earliest it may have served the shard,
// reported in NodeState claims).
type route struct {
	epoch        int64
	owners       [][]wire.NodeAddress
	since        [][]int64
	servingSince [][]int64
}

// buildRoute builds the route of t; prev (the route it replaces) keeps the
// servingSince of allocations that did not change.
func (n *Node) buildRoute(t *allocTable, prev *route, now int64) *route {
	r := &route{epoch: t.epoch, owners: make([][]wire.NodeAddress, len(n.regions)),
		since: make([][]int64, len(n.regions)), servingSince: make([][]int64, len(n.regions))}
	for i, rg := range n.regions {
		o := make([]wire.NodeAddress, rg.typ.Shards)
		sn := make([]int64, rg.typ.Shards)
		ss := make([]int64, rg.typ.Shards)
		slots := t.types[rg.typ.Name]
		for s := range o {
			if s >= len(slots) {
				break
			}
			o[s], sn[s] = slots[s].owner, slots[s].since
			if o[s] != n.self {
				continue
			}
			if prev != nil && prev.owners[i][s] == n.self && prev.since[i][s] == sn[s] {
				ss[s] = prev.servingSince[i][s]
			} else {
				ss[s] = now
			}
		}
		r.owners[i], r.since[i], r.servingSince[i] = o, sn, ss
	}
	return r
}

// logLimited logs at warn level, at most about 10 lines per second per node
// (excess lines are counted in the next line that gets through).
func (n *Node) logLimited(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := n.logLast.Load()
	if now-last < int64(100*time.Millisecond) || !n.logLast.CompareAndSwap(last, now) {
		n.logSuppressed.Add(1)
		return
	}
	if s := n.logSuppressed.Swap(0); s > 0 {
		args = append(args, "suppressed", s)
	}
	n.log.Warn(msg, args...)
}

type logLimiter struct {
	logLast       atomic.Int64
	logSuppressed atomic.Int64
}
