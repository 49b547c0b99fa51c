package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// Target is what Ask sends to: an *EntityRef (the builder returns a
// ShardEnvelope) or a ServiceRef (the builder returns the bare message).
type Target interface {
	// sendAsk routes msg; it returns the connection the message was
	// queued on (nil when it is held for an unknown shard location).
	sendAsk(msg any, askID uint64) (*nodeConn, error)
}

// Ask sends the message built by build to target and waits for the reply.
// build receives the reply address, a ref to the client's
// /_ask/<32 hex> path, to embed in the message (a field of type wire.Ref).
// The reply may be a registered struct (returned as a value of its Go
// type), a primitive (bool, int64, float64, string), nil, a wire.Ref or a
// castyjson.Unknown.
//
// The wait ends at ctx's deadline or, when ctx has none, after
// Config.AskTimeout: the error then matches ErrAskTimeout and
// context.DeadlineExceeded. A cancelled ctx returns ctx.Err(). If the
// connection the message went out on fails first, the Ask fails at once
// with a *ConnError wrapping the cause. Late and duplicate replies are
// dropped and counted (Stats.LateReplies). A node that dropped the
// message and answered zerohop.Undeliverable fails the Ask with an
// *UndeliverableError (ErrUndeliverable). Sends to a node whose connection
// is suspect fail fast (*OwnerUnavailableError), and an Ask waiting on a
// connection that becomes suspect fails at once with a *ConnError whose
// cause wraps ErrSuspect.
func (c *Client) Ask(ctx context.Context, target Target, build func(replyTo wire.Ref) any) (any, error) {
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if target == nil || build == nil {
		return nil, fmt.Errorf("%w: nil target or builder", ErrNoRoute)
	}
	t := &c.asks
	began := time.Now()
	call := t.start()
	msg := build(call.ref)
	nc, err := target.sendAsk(msg, call.id)
	if err != nil {
		t.abandon(call)
		c.stats.asksFailed.Add(1)
		return nil, err
	}
	if nc != nil && !t.bind(call, nc) {
		// The connection failed between queueing and binding.
		t.fail(call.id, &ConnError{Node: nc.addr, Cause: nc.lastCause()})
	}
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		call.timer.Reset(c.cfg.AskTimeout)
		timeout = call.timer.C
	}
	var r askResult
	select {
	case r = <-call.ch:
	case <-ctx.Done():
		r.err = ctx.Err()
		if errors.Is(r.err, context.DeadlineExceeded) {
			r.err = errAskTimeout
		}
		if !t.remove(call) {
			r = <-call.ch // completed concurrently: take the reply
		}
	case <-timeout:
		r.err = errAskTimeout
		if !t.remove(call) {
			r = <-call.ch
		}
	}
	call.timer.Stop()
	t.release(call)
	switch {
	case r.err == nil:
		c.stats.asksOK.Add(1)
		c.askLat.observe(time.Since(began))
	case errors.Is(r.err, ErrAskTimeout):
		c.stats.asksTimedOut.Add(1)
	default:
		c.stats.asksFailed.Add(1)
	}
	return r.v, r.err
}

// AskAs is Ask with the reply converted to T; a reply of another type is
// a *ReplyTypeError.
func AskAs[T any](ctx context.Context, c *Client, target Target, build func(replyTo wire.Ref) any) (T, error) {
	var zero T
	v, err := c.Ask(ctx, target, build)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, &ReplyTypeError{Want: fmt.Sprintf("%T", zero), Got: v}
	}
	return t, nil
}

// sendAsk routes an entity Ask: msg must be a ShardEnvelope.
func (r *EntityRef) sendAsk(msg any, askID uint64) (*nodeConn, error) {
	var env ShardEnvelope
	switch m := msg.(type) {
	case ShardEnvelope:
		env = m
	case *ShardEnvelope:
		if m == nil {
			return nil, fmt.Errorf("%w: nil *ShardEnvelope", ErrNoRoute)
		}
		env = *m
	default:
		return nil, fmt.Errorf("%w: an entity Ask must build an engine.ShardEnvelope, got %T", ErrNoRoute, msg)
	}
	et := r.et
	t := et.table.Load()
	if t.bad != nil {
		return nil, et.refuseBad(t.bad)
	}
	shard := et.shardOf(t, env.EntityID)
	e, ok := t.Owner(shard)
	if !ok {
		return et.hold(shard, env.EntityID, env.Message, askID)
	}
	if err := et.send(e, shard, env.EntityID, env.Message, false, false); err != nil {
		return nil, err
	}
	return e.nc, nil
}

// askTable is the pending-ask table: ids from a per-client counter, the
// reply path /_ask/<16 hex random per client><16 hex id>, entries removed
// by the reply, the deadline, a connection failure or Shutdown — whichever
// comes first; the others then find nothing and count a late reply.
// Completion sends on the call's 1-slot channel and never blocks: only the
// one that removed the entry sends.
type askTable struct {
	c    *Client
	next atomic.Uint64
	pool sync.Pool
	mu   sync.Mutex
	m    map[uint64]*askCall // guarded by mu

	// inflight counts calls between start and release (the writer's
	// batching heuristic, see yieldBelowFrames).
	inflight atomic.Int64
}

type askCall struct {
	id    uint64
	ref   wire.Ref
	nc    *nodeConn // guarded by askTable.mu
	ch    chan askResult
	timer *time.Timer
}

type askResult struct {
	v   any
	err error
}

func (t *askTable) init(c *Client) {
	t.c = c
	t.m = make(map[uint64]*askCall)
}

// start registers a new call.
func (t *askTable) start() *askCall {
	call, _ := t.pool.Get().(*askCall)
	if call == nil {
		call = &askCall{ch: make(chan askResult, 1), timer: time.NewTimer(time.Hour)}
		call.timer.Stop()
	}
	call.id = t.next.Add(1)
	t.inflight.Add(1)
	var b [len(wire.PathAskPrefix) + 32]byte
	n := copy(b[:], wire.PathAskPrefix)
	n += copy(b[n:], t.c.askPrefix)
	for i := 15; i >= 0; i-- {
		b[n+i] = hexDigits[(call.id>>(4*(15-i)))&0xf]
	}
	call.ref = t.c.clientRef(string(b[:]))
	t.mu.Lock()
	t.m[call.id] = call
	t.mu.Unlock()
	return call
}

// bind records the connection an ask went out on; false if the connection
// is already down (the caller fails the ask).
func (t *askTable) bind(call *askCall, nc *nodeConn) bool {
	t.mu.Lock()
	if _, ok := t.m[call.id]; ok {
		call.nc = nc
	}
	t.mu.Unlock()
	s := nc.state.Load()
	return s == connUp || s == connConnecting
}

// rebind records the connection a held ask's message was flushed to.
func (t *askTable) rebind(id uint64, nc *nodeConn) {
	t.mu.Lock()
	if call := t.m[id]; call != nil {
		call.nc = nc
	}
	t.mu.Unlock()
}

// remove deletes call's entry; false if someone else completed it (a
// result is then, or will shortly be, on call.ch).
func (t *askTable) remove(call *askCall) bool {
	t.mu.Lock()
	_, ok := t.m[call.id]
	if ok {
		delete(t.m, call.id)
	}
	t.mu.Unlock()
	return ok
}

// abandon removes a call that was never sent and recycles it.
func (t *askTable) abandon(call *askCall) {
	if !t.remove(call) {
		<-call.ch
	}
	t.release(call)
}

func (t *askTable) release(call *askCall) {
	call.nc = nil
	call.ref = wire.Ref{}
	t.pool.Put(call)
	t.inflight.Add(-1)
}

// take removes and returns the call with id, nil if none.
func (t *askTable) take(id uint64) *askCall {
	t.mu.Lock()
	call := t.m[id]
	if call != nil {
		delete(t.m, id)
	}
	t.mu.Unlock()
	return call
}

// complete delivers a reply that arrived at /_ask/<suffix>. Runs on a
// connection's reading side; payload is only valid during the call.
func (t *askTable) complete(suffix []byte, payload []byte) {
	c := t.c
	if len(suffix) != 32 || string(suffix[:16]) != c.askPrefix {
		c.stats.unknownTargets.Add(1)
		return
	}
	var id uint64
	for _, ch := range suffix[16:] {
		var d byte
		switch {
		case ch >= '0' && ch <= '9':
			d = ch - '0'
		case ch >= 'a' && ch <= 'f':
			d = ch - 'a' + 10
		default:
			c.stats.unknownTargets.Add(1)
			return
		}
		id = id<<4 | uint64(d)
	}
	call := t.take(id)
	if call == nil {
		c.stats.lateReplies.Add(1)
		return
	}
	v, err := c.dec().Decode(payload)
	if err != nil {
		c.stats.decodeErrors.Add(1)
		err = fmt.Errorf("engine: undecodable reply: %w", err)
	} else if u, ok := v.(wire.Undeliverable); ok {
		// The node dropped the message and said so: a typed failure, not
		// a reply.
		c.stats.undeliverable.Add(1)
		v, err = nil, &UndeliverableError{Reason: u.Reason, Type: u.Type, Shard: u.Shard, EntityID: u.EntityID}
	}
	call.ch <- askResult{v: v, err: err}
}

// fail completes the call with id, if still pending, with err.
func (t *askTable) fail(id uint64, err error) {
	if call := t.take(id); call != nil {
		call.ch <- askResult{err: err}
	}
}

// failConn fails every ask bound to nc.
func (t *askTable) failConn(nc *nodeConn, cause error) {
	var calls []*askCall
	t.mu.Lock()
	for id, call := range t.m {
		if call.nc == nc {
			delete(t.m, id)
			calls = append(calls, call)
		}
	}
	t.mu.Unlock()
	for _, call := range calls {
		call.ch <- askResult{err: &ConnError{Node: nc.addr, Cause: cause}}
	}
}

// failAll fails every pending ask.
func (t *askTable) failAll(err error) {
	t.mu.Lock()
	calls := make([]*askCall, 0, len(t.m))
	for id, call := range t.m {
		delete(t.m, id)
		calls = append(calls, call)
	}
	t.mu.Unlock()
	for _, call := range calls {
		call.ch <- askResult{err: err}
	}
}

const hexDigits = "0123456789abcdef"
