package node

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"

	"github.com/hashicorp/memberlist"
	"github.com/zerohop/zerohop/wire"
)

// maxShards bounds EntityType.Shards and the shard ids a table accepts.
const maxShards = 1 << 16

// Epochs: the allocation epoch is a leader term in the high bits and a
// sequence number within the term in the low termShift bits. A node that
// takes over as leader starts term T+1, T being the highest term it has
// merged, so every epoch it writes is above anything its predecessor could
// have written, including tables that never reached it (a leader killed right
// after allocating). Within a term only its leader writes, one epoch per
// change, so (epoch -> table) is unique unless two leaders run the same term
// at once, which takes a partition; the tie-break below then picks one table
// on every node.
const (
	termShift = 20
	seqMask   = 1<<termShift - 1
)

func termOf(epoch int64) int64 { return epoch >> termShift }

// allocTable is an immutable allocation table: shard type -> shard -> owner.
// Writer is the node that wrote this epoch and writerInc that node's
// incarnation (nodeMeta.Inc; 0 when unknown). A table is never modified once
// published; changes build a copy.
type allocTable struct {
	epoch     int64
	writer    wire.NodeAddress
	writerInc uint64
	shards    map[string]map[int]wire.NodeAddress
}

// termGrant is a hand-over: the writer of the table at epoch, which no
// longer leads, promises to write nothing more in that epoch's term and lets
// the incarnation inc of node to continue the term at epoch+1. A writer
// grants each epoch it wrote at most once, so at most one node may write the
// epoch that follows it (see "Allocation" in doc.go).
type termGrant struct {
	epoch int64
	to    wire.NodeAddress
	inc   uint64
}

var emptyTable = &allocTable{shards: map[string]map[int]wire.NodeAddress{}}

// newerThan reports whether t must replace o: a higher epoch wins; at equal
// epochs (two leaders in one term, which takes a partition) the table written
// by the lower address wins, the same rule as leader election, so every
// node picks the same one.
func (t *allocTable) newerThan(o *allocTable) bool {
	if t.epoch != o.epoch {
		return t.epoch > o.epoch
	}
	if t.writer == o.writer {
		return false
	}
	if o.writer.IsZero() {
		return true
	}
	if t.writer.IsZero() {
		return false
	}
	return t.writer.Less(o.writer)
}

// clone returns a deep copy with the given epoch and writer (the writer's
// incarnation is stamped when the table is installed as our own write).
func (t *allocTable) clone(epoch int64, writer wire.NodeAddress) *allocTable {
	c := &allocTable{epoch: epoch, writer: writer, shards: make(map[string]map[int]wire.NodeAddress, len(t.shards))}
	for typ, m := range t.shards {
		c.shards[typ] = maps.Clone(m)
	}
	return c
}

func (t *allocTable) owner(typ string, shard int) (wire.NodeAddress, bool) {
	a, ok := t.shards[typ][shard]
	return a, ok
}

// tableJSON is the replication form of a table (memberlist broadcasts,
// direct pushes and push/pull state): nodes are listed once and shards refer
// to them by index, which keeps a 32-shard table near 300 bytes.
//
// The push/pull state (Delegate.LocalState) is the same form with a hand-over
// of the table's term (Grant), when its writer made one.
type tableJSON struct {
	Epoch     int64               `json:"e"`
	Writer    string              `json:"w,omitempty"`
	WriterInc uint64              `json:"wi,omitempty"`
	Nodes     []string            `json:"n"`
	Types     map[string][][2]int `json:"t"`
	Grant     *grantJSON          `json:"g,omitempty"`
}

type grantJSON struct {
	To  string `json:"to"`
	Inc uint64 `json:"i"`
}

func (t *allocTable) marshal() []byte { return t.marshalState(nil) }

// marshalState encodes t with g, a hand-over of t's term (g.epoch must be
// t.epoch), when g is not nil.
func (t *allocTable) marshalState(g *termGrant) []byte {
	tj := tableJSON{Epoch: t.epoch, WriterInc: t.writerInc, Types: make(map[string][][2]int, len(t.shards))}
	if !t.writer.IsZero() {
		tj.Writer = t.writer.String()
	}
	if g != nil {
		tj.Grant = &grantJSON{To: g.to.String(), Inc: g.inc}
	}
	idx := map[wire.NodeAddress]int{}
	for _, typ := range slices.Sorted(maps.Keys(t.shards)) {
		m := t.shards[typ]
		pairs := make([][2]int, 0, len(m))
		for _, s := range slices.Sorted(maps.Keys(m)) {
			a := m[s]
			i, ok := idx[a]
			if !ok {
				i = len(tj.Nodes)
				idx[a] = i
				tj.Nodes = append(tj.Nodes, a.String())
			}
			pairs = append(pairs, [2]int{s, i})
		}
		tj.Types[typ] = pairs
	}
	b, _ := json.Marshal(tj) // plain strings and ints: cannot fail
	return b
}

var errBadTable = errors.New("node: bad allocation table")

// unmarshalTable decodes a table; a hand-over in it is ignored.
func unmarshalTable(b []byte) (*allocTable, error) {
	t, _, err := unmarshalState(b)
	return t, err
}

// unmarshalState decodes a table and the hand-over of its term, if any (a
// hand-over needs a writer: it is the writer's).
func unmarshalState(b []byte) (*allocTable, *termGrant, error) {
	var tj tableJSON
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, nil, errors.Join(errBadTable, err)
	}
	if tj.Epoch < 0 {
		return nil, nil, errBadTable
	}
	t := &allocTable{epoch: tj.Epoch, writerInc: tj.WriterInc, shards: make(map[string]map[int]wire.NodeAddress, len(tj.Types))}
	if tj.Writer != "" {
		w, err := wire.ParseNodeAddress(tj.Writer)
		if err != nil {
			return nil, nil, errors.Join(errBadTable, err)
		}
		t.writer = w
	}
	var g *termGrant
	if tj.Grant != nil {
		to, err := wire.ParseNodeAddress(tj.Grant.To)
		if err != nil || t.writer.IsZero() {
			return nil, nil, errBadTable
		}
		g = &termGrant{epoch: t.epoch, to: to, inc: tj.Grant.Inc}
	}
	nodes := make([]wire.NodeAddress, len(tj.Nodes))
	for i, s := range tj.Nodes {
		a, err := wire.ParseNodeAddress(s)
		if err != nil {
			return nil, nil, errors.Join(errBadTable, err)
		}
		nodes[i] = a
	}
	for typ, pairs := range tj.Types {
		m := make(map[int]wire.NodeAddress, len(pairs))
		for _, p := range pairs {
			if p[0] < 0 || p[0] >= maxShards || p[1] < 0 || p[1] >= len(nodes) {
				return nil, nil, errBadTable
			}
			m[p[0]] = nodes[p[1]]
		}
		t.shards[typ] = m
	}
	return t, g, nil
}

// metaLimit is memberlist's bound on node metadata.
const metaLimit = memberlist.MetaMaxSize

// nodeMeta is the metadata a node gossips about itself (memberlist
// Delegate.NodeMeta): identity, system, hosted shard types and services.
type nodeMeta struct {
	System   string      `json:"s"`
	Addr     string      `json:"a"`
	ID       string      `json:"i"`
	Types    []metaType  `json:"t,omitempty"`
	Services [][2]string `json:"r,omitempty"` // key, path
	Leaving  bool        `json:"l,omitempty"`
	// Joining: the node has not merged the cluster's table since it
	// started (reported as joining; not a leader or allocation candidate).
	Joining bool `json:"j,omitempty"`
	// Inc is the node's incarnation: random, drawn at Start, so that a node
	// restarted on the same address is told apart from its predecessor
	// (hand-overs of a term are made to one incarnation).
	Inc uint64 `json:"n,omitempty"`
}

type metaType struct {
	Name   string `json:"n"`
	Shards int    `json:"s"`
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

// meta returns the metadata of a node with this config at addr, incarnation inc.
func (c Config) meta(addr wire.NodeAddress, inc uint64) []byte {
	m := nodeMeta{System: c.System, Addr: addr.String(), ID: c.NodeID, Inc: inc}
	if m.ID == "" {
		m.ID = "node-" + addr.String()
	}
	for _, e := range c.Entities {
		m.Types = append(m.Types, metaType{Name: e.Name, Shards: e.Shards})
	}
	for _, s := range c.Services {
		m.Services = append(m.Services, [2]string{s.Key, s.Path})
	}
	return m.marshal()
}
