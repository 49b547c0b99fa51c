package engine

import (
	"errors"
	"slices"

	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/topo"
	"github.com/zerohop/zerohop/wire"
)

// Fail fast on a misconfigured entity type: zerohop nodes announce the
// cluster's entity types and shard counts in their handshake (the
// "entities" key of the zerohop extension); a topology table (Casty's
// too) shows a shard count too small when it allocates a shard past it.

// badType is the error that fails every message of a misconfigured type.
type badType struct {
	err       error
	announced bool // from an announcement (a later one may clear it); else from a table (final)
}

// refuseBad counts a message of a misconfigured type refused
// (DropMisconfigured) and returns the error that says why.
func (et *entityType) refuseBad(b *badType) error {
	et.c.stats.drop(DropMisconfigured, 1)
	return b.err
}

// announcement is the last entity type list a zerohop node announced.
type announcement struct {
	node  wire.NodeAddress
	types []wire.EntityShards // nil before any
}

// announcedLocked returns the error EntityRef(typ, n) gets from the last
// announcement: a *ShardsMismatchError, an *UnknownEntityTypeError, or
// nil (no announcement: a Casty cluster, or no zerohop node reached yet).
// c.mu held.
func (c *Client) announcedLocked(typ string, n int) error {
	a := &c.announce
	if a.types == nil {
		return nil
	}
	for _, e := range a.types {
		if e.Type == typ {
			if e.Shards != n {
				return &ShardsMismatchError{Type: typ, Have: e.Shards, Got: n, Node: a.node}
			}
			return nil
		}
	}
	known := make([]string, len(a.types))
	for i, e := range a.types {
		known[i] = e.Type
	}
	slices.Sort(known)
	return &UnknownEntityTypeError{Type: typ, Node: a.node, Known: known}
}

// announcedHashLocked returns the shard hash the last announcement gives
// typ: its "entity_hashes" entry, MD5 when it has none (or names a hash
// this build does not know, which the handshake's parser refuses), and
// MD5 before any announcement (Casty's: a Casty cluster announces
// nothing). c.mu held.
func (c *Client) announcedHashLocked(typ string) ring.Hash {
	for _, e := range c.announce.types {
		if e.Type == typ {
			return announcedHash(e)
		}
	}
	return ring.HashMD5
}

// announcedHash returns the hash of an announced entry ("" is MD5).
func announcedHash(e wire.EntityShards) ring.Hash {
	if e.Hash == "" {
		return ring.HashMD5
	}
	h, err := ring.ParseHash(e.Hash)
	if err != nil {
		return ring.HashMD5
	}
	return h
}

// noteAnnounced records the entity types node announced in its handshake
// and re-judges the types in use: one whose shard count the announcement
// contradicts fails (its messages return the error); one an earlier
// announcement failed and this one accepts works again. A type in use
// that the announcement lacks is left alone: a node that has just started
// may not know the other members' types yet (EntityRef of a new type does
// refuse it). A type the announcement names is routed from now on with
// the hash it announces (routeTable.hash, published with the routes).
func (c *Client) noteAnnounced(node wire.NodeAddress, types []wire.EntityShards) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.announce = announcement{node: node, types: slices.Clone(types)}
	for _, et := range c.types {
		if i := slices.IndexFunc(types, func(e wire.EntityShards) bool { return e.Type == et.name }); i >= 0 {
			et.setHash(announcedHash(types[i]))
		}
		b := et.table.Load().bad
		if b != nil && !b.announced {
			continue // a table's evidence is final
		}
		err := c.announcedLocked(et.name, et.numShards)
		var unknown *UnknownEntityTypeError
		if errors.As(err, &unknown) {
			err = nil
		}
		if err != nil {
			if b == nil {
				c.log.Error("engine: entity type misconfigured", "err", err)
			}
			et.setBad(&badType{err: err, announced: true})
		} else if b != nil {
			et.setBad(nil)
		}
	}
}

// checkAllocated returns a *ShardsMismatchError when s allocates a shard
// of et's type at or past et.numShards: the cluster has more shards.
func (et *entityType) checkAllocated(s *topo.Snapshot) error {
	t := s.Table(et.name)
	l := t.Len()
	if l <= et.numShards {
		return nil
	}
	var node wire.NodeAddress
	if idx, ok := t.Owner(l - 1); ok {
		node = s.Node(idx)
	}
	return &ShardsMismatchError{Type: et.name, Have: l, Got: et.numShards, Node: node, AtLeast: true}
}
