package ring

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// casty holds the 11 vectors of PROTOCOL.md section 8.5, computed with
// Casty's own entity_shard.
var casty = []struct {
	id     string
	n      int
	md5    string
	first4 uint32
	shard  int
}{
	{"user-42", 100, "7631bc07a1cc8fcd56e70fc6b2fb4a43", 1982970887, 87},
	{"alice", 10, "6384e2b2184bcbf58eccf10ca7a6563c", 1669653170, 0},
	{"bob", 32, "9f9d51bc70ef21ca5c14f307980a29d8", 2677887420, 28},
	{"user-0", 32, "b01a0e23da718a08989311b8b2dfb069", 2954497571, 3},
	{"entity-1", 100, "ae17dbfa53c3a56d51ea44dfd78a5389", 2920799226, 26},
	{"", 7, "d41d8cd98f00b204e9800998ecf8427e", 3558706393, 4},
	{"counter-9999", 256, "d3a6b0c74d6022ff1599dfd6035ad9b9", 3550916807, 199},
	{"ünïcødé-键", 1000, "ed29d8074db2cb84e48147f2a01741fd", 3978942471, 471},
	{"a", 2, "0cc175b9c0f1b6a831c399e269772661", 214005177, 1},
	{"order:2024-0001", 50, "d89d7e39cbd7cb6c0a399621fa6a19fc", 3634200121, 21},
	{"bench-7", 32, "b4c65ae843926d7d0ed5f1331b725f34", 3032898280, 8},
}

// xxVectors pins ShardXX: XXH64 (seed 0) of the id and the resulting shard,
// computed once with github.com/cespare/xxhash/v2 v2.3.0. The XXH64 values of
// "" and "a" are the reference values of the xxHash specification.
var xxVectors = []struct {
	id    string
	n     int
	xxh64 uint64
	shard int
}{
	{"user-42", 100, 0x397e9d3a76af7c81, 69},
	{"alice", 10, 0x73a3ea485f2e6049, 9},
	{"bob", 32, 0x92878a3b42bad03b, 27},
	{"user-0", 32, 0x7c1b2034a0684560, 0},
	{"entity-1", 100, 0xdd2a9de42d0db4c5, 93},
	{"", 7, 0xef46db3751d8e999, 6},
	{"counter-9999", 256, 0xb3a75f04fe2220f6, 246},
	{"ünïcødé-键", 1000, 0xddb7430658debf48, 640},
	{"a", 2, 0xd24ec4f1a98c6e5b, 1},
	{"order:2024-0001", 50, 0x023ac16abbaa8d02, 24},
	{"bench-7", 32, 0x87e57b1696a804c9, 9},
}

func TestShardCastyVectors(t *testing.T) {
	for _, v := range casty {
		t.Run(v.id, func(t *testing.T) {
			sum := md5.Sum([]byte(v.id))
			if got := hex.EncodeToString(sum[:]); got != v.md5 {
				t.Fatalf("md5(%q) = %s, want %s", v.id, got, v.md5)
			}
			if got := md5First4(v.id); got != v.first4 {
				t.Errorf("md5First4(%q) = %d, want %d", v.id, got, v.first4)
			}
			if got := md5Prefix(v.id); got != v.first4 {
				t.Errorf("md5Prefix(%q) = %d, want %d", v.id, got, v.first4)
			}
			if got := Shard(v.id, v.n); got != v.shard {
				t.Errorf("Shard(%q, %d) = %d, want %d", v.id, v.n, got, v.shard)
			}
			if got := HashMD5.Shard(v.id, v.n); got != v.shard {
				t.Errorf("HashMD5.Shard(%q, %d) = %d, want %d", v.id, v.n, got, v.shard)
			}
		})
	}
}

func TestShardXXVectors(t *testing.T) {
	for _, v := range xxVectors {
		t.Run(v.id, func(t *testing.T) {
			if got := xxhash.Sum64String(v.id); got != v.xxh64 {
				t.Fatalf("xxh64(%q) = %#016x, want %#016x", v.id, got, v.xxh64)
			}
			if got := ShardXX(v.id, v.n); got != v.shard {
				t.Errorf("ShardXX(%q, %d) = %d, want %d", v.id, v.n, got, v.shard)
			}
			if got := HashXXH64.Shard(v.id, v.n); got != v.shard {
				t.Errorf("HashXXH64.Shard(%q, %d) = %d, want %d", v.id, v.n, got, v.shard)
			}
		})
	}
}

// refShard is the reference: PROTOCOL.md 8.5's Go expression, with the modulo
// over 64 bits as Python's arbitrary-precision int % n.
func refShard(id string, n int) int {
	sum := md5.Sum([]byte(id))
	return int(uint64(binary.BigEndian.Uint32(sum[:4])) % uint64(n))
}

func TestShardLengths(t *testing.T) {
	// Every length around the stack-buffer limit and the MD5 block and
	// padding boundaries (55/56/63/64 bytes and multiples).
	var b strings.Builder
	for i := range 3 * stackIDLen {
		b.WriteByte(byte('a' + i*7%26))
	}
	src := b.String()
	for l := 0; l <= len(src); l++ {
		id := src[:l]
		if got, want := Shard(id, 1000003), refShard(id, 1000003); got != want {
			t.Fatalf("len %d: Shard = %d, want %d", l, got, want)
		}
		sum := md5.Sum([]byte(id))
		if got, want := md5Prefix(id), binary.BigEndian.Uint32(sum[:4]); got != want {
			t.Fatalf("len %d: md5Prefix = %#x, want %#x", l, got, want)
		}
	}
}

func TestShardLargeNumShards(t *testing.T) {
	// The modulo is taken over 64 bits, as Python's int % n: with more shards
	// than 2^32 (64-bit platforms) the shard is the 32-bit prefix itself.
	for _, v := range casty {
		want := int(uint64(v.first4) % uint64(math.MaxInt))
		if got := Shard(v.id, math.MaxInt); got != want {
			t.Errorf("Shard(%q, MaxInt) = %d, want %d", v.id, got, want)
		}
	}
}

func TestShardPanicsOnNonPositive(t *testing.T) {
	for _, n := range []int{0, -1} {
		for name, f := range map[string]func(string, int) int{
			"Shard": Shard, "ShardXX": ShardXX, "HashMD5.Shard": HashMD5.Shard, "HashXXH64.Shard": HashXXH64.Shard,
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s(%q, %d) did not panic", name, "x", n)
					}
				}()
				f("x", n)
			}()
		}
	}
}

func TestHashNames(t *testing.T) {
	for _, tc := range []struct {
		h    Hash
		name string
	}{{HashMD5, "md5"}, {HashXXH64, "xxh64"}} {
		if got := tc.h.Name(); got != tc.name {
			t.Errorf("Hash(%d).Name() = %q, want %q", tc.h, got, tc.name)
		}
		if got := tc.h.String(); got != tc.name {
			t.Errorf("Hash(%d).String() = %q, want %q", tc.h, got, tc.name)
		}
		if !tc.h.Valid() {
			t.Errorf("Hash(%d).Valid() = false, want true", tc.h)
		}
		got, err := ParseHash(tc.name)
		if err != nil || got != tc.h {
			t.Errorf("ParseHash(%q) = %v, %v; want %v, nil", tc.name, got, err, tc.h)
		}
	}
	var zero Hash
	if zero != HashMD5 {
		t.Errorf("zero Hash = %v, want md5", zero)
	}
	bad := Hash(7)
	if bad.Valid() || bad.Name() != "invalid" {
		t.Errorf("Hash(7): Valid %v Name %q, want false \"invalid\"", bad.Valid(), bad.Name())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Hash(7).Shard did not panic")
			}
		}()
		bad.Shard("x", 10)
	}()
	for _, name := range []string{"", "MD5", "xxhash", "sha1"} {
		if _, err := ParseHash(name); !errors.Is(err, ErrUnknownHash) {
			t.Errorf("ParseHash(%q) error = %v, want ErrUnknownHash", name, err)
		}
	}
}
