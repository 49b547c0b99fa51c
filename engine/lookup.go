package engine

import (
	"fmt"
	"slices"
	"sync"

	"github.com/zerohop/zerohop/topo"
	"github.com/zerohop/zerohop/wire"
)

// Listing is the set of instances of a discoverable service, from the
// client's last applied topology snapshot.
type Listing struct {
	Key       string
	Instances []Instance // sorted by node, then path
}

// Instance is one service instance: a ref bound to the client, and the
// node serving it.
type Instance struct {
	Ref  ServiceRef
	Node wire.NodeAddress
}

// ServiceRef addresses a discovered service instance (a plain actor, no
// ShardEnvelope). It is bound to the client that looked it up and is an
// Ask target. A comparable value, safe to copy and for concurrent use; the
// zero value refuses every message with ErrNoRoute.
type ServiceRef struct {
	c    *Client
	nc   *nodeConn
	addr wire.Address
	uri  string
}

// Address returns the instance's actor address
// (casty://<cluster>@<node><path>).
func (s ServiceRef) Address() wire.Address { return s.addr }

// Ref returns the instance as a wire.Ref (to embed in messages).
func (s ServiceRef) Ref() wire.Ref { return wire.Ref{Address: s.addr} }

// String returns the instance's URI.
func (s ServiceRef) String() string { return s.uri }

// Tell sends msg (a registered message, not wrapped) to the instance.
// Errors as EntityRef.Tell.
func (s ServiceRef) Tell(msg any) error {
	_, err := s.send(msg, true)
	return err
}

func (s ServiceRef) sendAsk(msg any, _ uint64) (*nodeConn, error) { return s.send(msg, false) }

// send queues msg for the instance; paced: a tell, subject to the
// queue's sojourn bound (an ask's message is not).
func (s ServiceRef) send(msg any, paced bool) (*nodeConn, error) {
	c := s.c
	if c == nil {
		return nil, fmt.Errorf("%w: zero ServiceRef", ErrNoRoute)
	}
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if !s.nc.usable() {
		c.stats.drop(DropOwnerUnavailable, 1)
		return nil, &OwnerUnavailableError{Node: s.nc.addr, Cause: s.nc.lastCause()}
	}
	if err := s.nc.sendMsg(s.uri, msg, paced); err != nil {
		return nil, err
	}
	c.stats.tells.inc(0)
	return s.nc, nil
}

// Lookup returns the instances registered under key in the last applied
// snapshot (no network; empty before the first snapshot). Like Casty, it
// does not filter unreachable nodes and the cluster never forgets a
// stopped service until its node is down: treat instances as hints.
func (c *Client) Lookup(key string) Listing {
	l := (*c.listings.Load())[key]
	return Listing{Key: key, Instances: slices.Clone(l)}
}

// applyRegistryLocked rebuilds the listings from s when its registry
// differs from prev's (s's registry is already canonical: sorted by key,
// node and path, deduplicated) and notifies watchers of the keys whose
// listing changed; with no prev (the first snapshot) every watcher. c.mu
// held.
func (c *Client) applyRegistryLocked(prev, s *topo.Snapshot) {
	if prev != nil && slices.Equal(prev.Registry(), s.Registry()) {
		return
	}
	old := *c.listings.Load()
	next := make(map[string][]Instance, len(s.ServiceKeys()))
	for _, key := range s.ServiceKeys() {
		entries := s.Services(key)
		insts := make([]Instance, len(entries))
		for i, e := range entries {
			addr := wire.Address{System: c.cfg.SystemName, Host: e.Node.Host, Port: e.Node.Port, Path: e.Path}
			insts[i] = Instance{
				Ref:  ServiceRef{c: c, nc: c.connLocked(e.Node), addr: addr, uri: addr.String()},
				Node: e.Node,
			}
		}
		next[key] = insts
	}
	c.listings.Store(&next)
	for key, ws := range c.topo.watchers {
		if prev == nil || !slices.Equal(old[key], next[key]) {
			for _, w := range ws {
				w.deliver(Listing{Key: key, Instances: slices.Clone(next[key])})
			}
		}
	}
}

// Watcher delivers every change of one key's listing (Casty reserves live
// service updates for cluster members; a zerohop client gets them too).
//
// The channel holds one listing. A consumer slower than the changes does
// not block the client: the waiting listing is replaced by the newer one
// (coalescing, counted in Stats.WatchCoalesced), so the consumer always
// ends up with the latest listing but may miss intermediate ones. The
// channel is closed by Close and when the client shuts down. Safe for
// concurrent use.
type Watcher struct {
	c   *Client
	key string
	ch  chan Listing

	mu     sync.Mutex
	closed bool // guarded by mu
}

// Watch starts watching key. The current listing is delivered at once if
// a snapshot has been applied, then every change.
func (c *Client) Watch(key string) (*Watcher, error) {
	if c.closing.Load() {
		return nil, ErrClosed
	}
	w := &Watcher{c: c, key: key, ch: make(chan Listing, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.topo.watchers[key] = append(c.topo.watchers[key], w)
	if c.snap.Load() != nil {
		w.deliver(c.Lookup(key))
	}
	return w, nil
}

// C returns the channel of listings.
func (w *Watcher) C() <-chan Listing { return w.ch }

// Key returns the watched key.
func (w *Watcher) Key() string { return w.key }

// Close stops the watcher and closes its channel. Idempotent.
func (w *Watcher) Close() {
	c := w.c
	c.mu.Lock()
	ws := c.topo.watchers[w.key]
	if i := slices.Index(ws, w); i >= 0 {
		c.topo.watchers[w.key] = slices.Delete(ws, i, i+1)
	}
	c.mu.Unlock()
	w.close()
}

func (w *Watcher) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
}

// deliver offers l without blocking, replacing a listing the consumer has
// not taken yet. Called with c.mu held (one producer at a time).
func (w *Watcher) deliver(l Listing) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	select {
	case w.ch <- l:
		return
	default:
	}
	select {
	case <-w.ch:
		w.c.stats.watchCoalesced.Add(1)
	default:
	}
	select {
	case w.ch <- l:
	default: // unreachable: the only producer just made room
	}
}

func (c *Client) closeWatchers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, ws := range c.topo.watchers {
		for _, w := range ws {
			w.close()
		}
		delete(c.topo.watchers, key)
	}
}
