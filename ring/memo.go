package ring

import (
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// MD5Memo remembers Shard's answers (Casty's MD5 shard function) for the
// entity ids used recently, for one shard count, so that a client sending
// to the same entities again and again computes MD5 (about 130 ns an id)
// once per id instead of once per message. Safe for concurrent use; Shard
// allocates nothing.
//
// It is a direct-mapped table of 64-bit words, each read and written with
// one atomic operation (no torn entry, no lock): an id's XXH64 picks the
// slot (its low bits) and is kept as the entry's tag (its 48 high bits)
// beside the shard. A lookup answers from the slot when the tags match and
// otherwise computes Shard and overwrites the slot. Two ids whose XXH64
// agree on the slot's bits and the 48 tag bits would share an answer: with
// every lookup a miss at 2 M a second, once in about 4 years, and the cost
// is the one a client routing with a stale table pays, the node recomputes
// the shard and forwards the message (a hop), never a misdelivery.
//
// A miss costs about 13 ns more than Shard (BenchmarkMD5Memo: 146 against
// 132 ns), and a slot shared by two hot ids misses for both; with far more
// ids than slots (loadgen -entities 100000: every lookup a miss) the end to
// end rate did not move measurably (PERFORMANCE.md, "MD5 memo").
type MD5Memo struct {
	shards int
	mask   uint64
	slots  []atomic.Uint64
}

const (
	memoTagMask = ^uint64(0xFFFF) // the XXH64 bits kept as the tag: disjoint from the slot index (at most 16 bits)
	memoValid   = uint64(1) << 15 // set in every written entry: the zero word is empty
	memoShard   = memoValid - 1   // the shard's bits

	// MaxMemoShards is the largest shard count an MD5Memo serves.
	MaxMemoShards = int(memoShard) + 1
	// MaxMemoSlots is the largest table an MD5Memo has.
	MaxMemoSlots = 1 << 16
)

// NewMD5Memo returns a memo of Shard(id, numShards) with slots entries
// (rounded up to a power of two, at most MaxMemoSlots; 8 bytes each), or
// nil when numShards is not in [1, MaxMemoShards] (callers then use
// Shard).
func NewMD5Memo(numShards, slots int) *MD5Memo {
	if numShards < 1 || numShards > MaxMemoShards {
		return nil
	}
	n := 1
	for n < slots && n < MaxMemoSlots {
		n <<= 1
	}
	return &MD5Memo{shards: numShards, mask: uint64(n - 1), slots: make([]atomic.Uint64, n)}
}

// Shard returns Shard(entityID, numShards) for the memo's numShards.
func (m *MD5Memo) Shard(entityID string) int {
	h := xxhash.Sum64String(entityID)
	s := &m.slots[h&m.mask]
	tag := h & memoTagMask
	if v := s.Load(); v&memoTagMask == tag && v&memoValid != 0 {
		return int(v & memoShard)
	}
	shard := Shard(entityID, m.shards)
	s.Store(tag | memoValid | uint64(shard))
	return shard
}
