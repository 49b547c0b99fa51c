package ring

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// stackIDLen is the longest entity id that Shard hashes with crypto/md5 from a
// copy on the stack. Converting the string with []byte(id) would allocate for
// ids longer than 32 bytes (the compiler's temporary buffer), and md5.New
// allocates too; copying into a fixed array that does not escape keeps the
// assembly-accelerated md5.Sum at zero allocations. Longer ids go through
// md5Prefix, a streaming pure-Go MD5 over the string (md5.go), which is slower
// than crypto/md5's assembly. Measured on the 2-core dev box (go1.26, amd64),
// BenchmarkShard vs BenchmarkShardPureGo: 7-byte id 123 vs 146 ns/op, 60
// bytes 204 vs 270, 256 bytes 456 vs 699; both 0 allocs.
const stackIDLen = 256

// Shard returns the shard of entityID among numShards shards, exactly as Casty
// v1's entity_shard: int.from_bytes(md5(id)[:4], "big") % numShards.
//
// It allocates nothing. numShards must be positive; Shard panics otherwise.
func Shard(entityID string, numShards int) int {
	if numShards <= 0 {
		panic("ring: numShards must be positive")
	}
	return int(uint64(md5First4(entityID)) % uint64(numShards))
}

// md5First4 returns the first four bytes of MD5(s), big-endian.
func md5First4(s string) uint32 {
	if len(s) > stackIDLen {
		return md5Prefix(s)
	}
	var buf [stackIDLen]byte
	n := copy(buf[:], s)
	sum := md5.Sum(buf[:n])
	return binary.BigEndian.Uint32(sum[:4])
}

// ShardXX returns the shard of entityID among numShards shards using XXH64
// (seed 0) of the UTF-8 bytes of entityID, modulo numShards over the full 64
// bits. It is not compatible with Casty; see the package documentation.
//
// It allocates nothing. numShards must be positive; ShardXX panics otherwise.
func ShardXX(entityID string, numShards int) int {
	if numShards <= 0 {
		panic("ring: numShards must be positive")
	}
	return int(xxhash.Sum64String(entityID) % uint64(numShards))
}

// Hash names an entity->shard function. The zero value is HashMD5, Casty's
// function and the default. Hash is a comparable value, safe to copy.
type Hash uint8

// The shard functions.
const (
	// HashMD5 is Casty v1's entity_shard (Shard). Name "md5".
	HashMD5 Hash = iota
	// HashXXH64 is ShardXX, for clusters of zerohop nodes only. Name "xxh64".
	HashXXH64
)

// ErrUnknownHash is returned (wrapped) by ParseHash for a name it does not know.
var ErrUnknownHash = errors.New("ring: unknown shard hash")

// Name returns the hash's name as used in the handshake extension key
// "shard_hash": "md5" or "xxh64". An invalid Hash returns "invalid".
func (h Hash) Name() string {
	switch h {
	case HashMD5:
		return "md5"
	case HashXXH64:
		return "xxh64"
	}
	return "invalid"
}

// String returns Name.
func (h Hash) String() string { return h.Name() }

// Valid reports whether h is one of the defined hashes.
func (h Hash) Valid() bool { return h <= HashXXH64 }

// ParseHash returns the Hash whose Name is name. An empty name is an error:
// a peer that does not announce a hash uses HashMD5, and deciding that is the
// caller's business.
func ParseHash(name string) (Hash, error) {
	switch name {
	case "md5":
		return HashMD5, nil
	case "xxh64":
		return HashXXH64, nil
	}
	return 0, fmt.Errorf("%w %q (want \"md5\" or \"xxh64\")", ErrUnknownHash, name)
}

// Shard returns the shard of entityID among numShards shards under hash h.
// It allocates nothing. numShards must be positive and h valid; Shard panics
// otherwise.
func (h Hash) Shard(entityID string, numShards int) int {
	switch h {
	case HashMD5:
		return Shard(entityID, numShards)
	case HashXXH64:
		return ShardXX(entityID, numShards)
	}
	panic("ring: invalid Hash")
}
