package node

import (
	"encoding/json"

	"github.com/hashicorp/memberlist"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
)

// maxShards bounds EntityType.Shards and the shard ids a table accepts.
const maxShards = 1 << 16

// allocTable is an immutable allocation table, published by the consensus
// state machine (fsm.go) after every change: entity type -> shard -> slot.
// epoch is the consensus index of the command that made this table; a
// slot's since is the index at which its owner got the shard (a shard that
// moves away and back gets a new since). Never modified once published.
type allocTable struct {
	epoch  int64
	types  map[string][]slot
	hashes map[string]string // entity type -> its registered hash's name, for the types not MD5 (fsmState.Hashes)
}

// slot is one shard's allocation; the zero value is "unallocated".
type slot struct {
	owner wire.NodeAddress
	since int64
}

var emptyTable = &allocTable{types: map[string][]slot{}}

// owner returns the owner of (typ, shard), if allocated.
func (t *allocTable) owner(typ string, shard int) (wire.NodeAddress, bool) {
	s := t.slot(typ, shard)
	return s.owner, !s.owner.IsZero()
}

// slot returns the slot of (typ, shard); zero for an unknown type or shard.
func (t *allocTable) slot(typ string, shard int) slot {
	s := t.types[typ]
	if shard < 0 || shard >= len(s) {
		return slot{}
	}
	return s[shard]
}

// metaLimit is memberlist's bound on node metadata.
const metaLimit = memberlist.MetaMaxSize

// nodeMeta is the metadata a node gossips about itself (memberlist
// Delegate.NodeMeta): identity, system, consensus address, hosted shard
// types and services, and the joining and leaving flags.
type nodeMeta struct {
	System   string      `json:"s"`
	Addr     string      `json:"a"`
	ID       string      `json:"i"`
	Raft     string      `json:"c,omitempty"` // consensus (raft + control) address host:port
	Types    []metaType  `json:"t,omitempty"`
	Services [][2]string `json:"r,omitempty"` // key, path
	Leaving  bool        `json:"l,omitempty"`
	// Joining: the node has not yet caught up with the cluster's state since
	// it started (reported as joining; not an allocation candidate).
	Joining bool `json:"j,omitempty"`
	// Inc is the node's incarnation: random, drawn at Start, so that a node
	// restarted on the same address is told apart from its predecessor.
	Inc uint64 `json:"n,omitempty"`
}

// metaType is an entity type as a node declares it (gossip metadata,
// renewals, the consensus log): Hash is its shard hash's name, "" for MD5
// (omitted, so an MD5 type encodes as it did before hashes existed, and
// an older log entry or metadata decodes as MD5).
type metaType struct {
	Name   string `json:"n"`
	Shards int    `json:"s"`
	Hash   string `json:"h,omitempty"`
}

// hashName returns the name of h as metaType.Hash and the consensus state
// record it: "" for MD5.
func hashName(h ring.Hash) string {
	if h == ring.HashMD5 {
		return ""
	}
	return h.Name()
}

func (m nodeMeta) marshal() []byte {
	b, _ := json.Marshal(m)
	return b
}

func parseMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	err := json.Unmarshal(b, &m)
	return m, err
}

// meta returns the metadata of a node with this config at addr (consensus
// address raftAddr), incarnation inc.
func (c Config) meta(addr wire.NodeAddress, raftAddr string, inc uint64) nodeMeta {
	m := nodeMeta{System: c.System, Addr: addr.String(), ID: c.NodeID, Raft: raftAddr, Inc: inc}
	if m.ID == "" {
		m.ID = "node-" + addr.String()
	}
	for _, e := range c.Entities {
		m.Types = append(m.Types, metaType{Name: e.Name, Shards: e.Shards, Hash: hashName(e.Hash)})
	}
	for _, s := range c.Services {
		m.Services = append(m.Services, [2]string{s.Key, s.Path})
	}
	return m
}
