package node

// The reading side's memo of a link (ingestMemo).

import (
	"bytes"
	"hash/maphash"

	"github.com/zerohop/zerohop/wire"
)

// ingestMemo is what the reading side of a link remembers between the
// message frames it reads, to skip work a client repeats for every
// message. Owned by the reading side (gnet event loop or reader
// goroutine); never shared.
//
//   - The header: a client sends the same header bytes (target, sender,
//     type_hint) with every tell to a region. A frame whose header_len and
//     header bytes equal those of the last region message is routed to the
//     same region without ParseTargetPath (about 170 ns per message): equal
//     bytes passed the same validation the first time, and the path table
//     is immutable. BenchmarkIngest (conns=1, process CPU per message,
//     median of 3, alternated in one session): 1,730 -> 1,260 ns
//     (an earlier session: 1,580 -> 1,200 ns).
//   - Entity ids: the ids a link carries repeat. A set-associative table
//     (idMemoSets x idMemoWays, LRU within a set, keyed by region and id
//     bytes; 4,096 ids: 1,024 ids cycling through it miss about 2 % of the
//     time, where 1,024 x 2 ways missed about 26 %) maps them to the
//     string already made for them and their shard, so a known id costs
//     no allocation and no hash (ring.Shard's MD5 about 130 ns; the
//     type's hash, EntityType.ShardOf). It is allocated
//     at the first region message (128 KiB per link); a shard is a pure
//     function of the id and the region's type (count and hash), so entries never go
//     stale, and a miss costs what every message cost before. With
//     Registry.DecodeShardEnvelope (the id read in place), BenchmarkIngest
//     (conns=1, process CPU per message, median of 3, alternated in one
//     session): 2,420 -> 1,730 ns, and 1 allocation per message instead
//     of 2 (the message's own). Ids over maxMemoID bytes are not kept (a
//     miss every time), so the table holds at most idMemoSets x
//     idMemoWays x maxMemoID bytes of ids (256 KiB) beside its 128 KiB.
//   - The message: wire.MessageMemo (DecodeShardEnvelopeMemo) returns the
//     last decoded message again when its bytes repeat and its value is
//     immutable, as a client's Increment{1} to many entities.
//     BenchmarkIngest (conns=1, process CPU per message, median of 3,
//     alternated): 1,050 -> 600 ns, 1 -> 0 allocations per message;
//     loadgen (3 runs alternated): 1,251 -> 1,050 ns of process CPU per
//     delivered tell, 804k -> 989k tells/s.
type ingestMemo struct {
	hdr    []byte  // header_len + header JSON of the last region message (copied)
	region *region // its region
	fwd    fwdInfo // what its sender says (fwdOf)
	ids    *[idMemoSets][idMemoWays]idMemo
	msgs   wire.MessageMemo // the last immutable message (see DecodeShardEnvelopeMemo)

	// maxHeads is the number of heads announced to the client (0: none,
	// headed frames are unknown types); heads, allocated at the first
	// definition, holds them by id (defineHead); scratch rebuilds headed
	// frames to targets other than a hosted region (handleHeaded).
	maxHeads int
	heads    []headDef
	scratch  []byte

	// window: the frames in flight announced to the client (0: none);
	// uncredited counts the frames handled since the last credit, sent
	// (in credit's buffer) every quarter of the window.
	window     int
	uncredited int
	credit     []byte
}

type idMemo struct {
	region *region
	id     string
	shard  int
}

const (
	idMemoSets = 1024
	idMemoWays = 4
	maxMemoHdr = 1024 // longer headers are not remembered
	maxMemoID  = 64   // longer entity ids are not remembered
)

var idMemoSeed = maphash.MakeSeed()

// lookupHeader reports whether body starts with the remembered header; then
// it returns the header's region, hop count and the payload.
func (m *ingestMemo) lookupHeader(body []byte) (*region, fwdInfo, []byte, bool) {
	h := m.hdr
	if len(h) == 0 || len(body) < len(h) || !bytes.Equal(body[:len(h)], h) {
		return nil, fwdInfo{}, nil, false
	}
	return m.region, m.fwd, body[len(h):], true
}

// rememberHeader copies hdr (body bytes up to the payload) as the header of
// region r with hops.
func (m *ingestMemo) rememberHeader(hdr []byte, r *region, f fwdInfo) {
	if len(hdr) > maxMemoHdr {
		m.hdr, m.region = m.hdr[:0], nil
		return
	}
	m.hdr, m.region, m.fwd = append(m.hdr[:0], hdr...), r, f
}

// entity returns the string and the shard of entity id in region r, from
// the table when it holds them.
func (m *ingestMemo) entity(r *region, id []byte) (string, int) {
	if len(id) > maxMemoID {
		s := string(id)
		return s, r.typ.ShardOf(s)
	}
	if m.ids == nil {
		m.ids = new([idMemoSets][idMemoWays]idMemo)
	}
	set := &m.ids[maphash.Bytes(idMemoSeed, id)%idMemoSets]
	for i := range set {
		if e := set[i]; e.region == r && e.id == string(id) {
			copy(set[1:i+1], set[:i]) // most recently used first
			set[0] = e
			return e.id, e.shard
		}
	}
	s := string(id)
	e := idMemo{region: r, id: s, shard: r.typ.ShardOf(s)}
	copy(set[1:], set[:len(set)-1])
	set[0] = e
	return e.id, e.shard
}
