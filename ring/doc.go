// Package ring maps entity ids to shard ids.
//
// Shard is Casty v1's entity_shard, bit-exact (PROTOCOL.md section 8.5): the
// first four bytes of the MD5 digest of the UTF-8 entity id, read big-endian,
// modulo the number of shards. ShardXX is a faster alternative built on
// XXH64 (github.com/cespare/xxhash/v2) for clusters made only of zerohop
// nodes. Hash names the two functions. Each entity type has one, chosen in
// the node's configuration (node.EntityType.Hash, cmd/node -entities
// type:shards:xxh64), fixed cluster-wide by the type's first registration
// in the consensus state, and announced by zerohop nodes with the type in
// their handshake ("entity_hashes"); the engine routes each type with the
// announced hash, MD5 when none was announced.
//
// # Client and cluster must agree
//
// In Casty, the node that receives a ShardEnvelope never recomputes the
// shard: it trusts the sender's routing, and the in-cluster proxy uses the
// same function. A client whose hash function or number of shards differs
// from a Casty cluster's therefore silently splits one entity across
// several nodes (two live instances with diverging state) and nothing on
// the wire detects it: Casty never transmits num_shards. So the hash and
// the number of shards are cluster-wide configuration that every client
// and node must share.
//
// A zerohop node does recompute it: it maps the id to a shard with its own
// type's hash (a node configured with another hash or count than the
// type's first registration hosts nothing of the type) and forwards or
// parks an envelope whose shard it does not own. Against zerohop nodes a
// client with the wrong hash costs a forward per message, never a split
// entity; the client learns the hash from the announcement so that it
// costs nothing.
//
// MD5 is the default because it is what Casty v1 uses; it is the only choice
// that stays correct next to Casty nodes or Casty clients, and a type whose
// hash a peer does not announce must be assumed to use it. HashXXH64 may be
// chosen only when every node of the cluster is zerohop (and runs a version
// that knows per-type hashes: an older replica would register the type as
// MD5); Casty clients of such a cluster cost a forward per message. It costs
// a fraction of MD5 per call (see BenchmarkShard), which matters only when
// routing dominates.
//
// # Invariants
//
//   - For numShards > 0 the result is in [0, numShards).
//   - Shard(id, n) == int(uint64(binary.BigEndian.Uint32(md5.Sum([]byte(id))[:4])) % uint64(n))
//     (Python's arbitrary-precision modulo, also for n >= 1<<32)
//     for every string, including invalid UTF-8 (the bytes are hashed as they
//     are, as Python's str.encode() would produce them for valid text).
//   - Neither function allocates, whatever the length of the id.
//   - MD5Memo.Shard(id) == Shard(id, n) for the memo's n, for every id and
//     every interleaving of concurrent callers (one atomic word per entry);
//     it allocates nothing. (Two ids whose XXH64 agree on 48 tag bits and
//     the slot bits would share an entry: see MD5Memo.)
//   - numShards <= 0 is a broken invariant of the caller's configuration and
//     panics; validate the configuration instead.
//
// # Concurrency
//
// Every function is pure and safe for concurrent use. Hash is a plain value.
package ring
