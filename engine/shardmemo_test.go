package engine

import (
	"fmt"
	"testing"

	"github.com/zerohop/zerohop/ring"
)

// TestShardOfWithTheMemo: a type routed with MD5 takes its shards from the
// type's memo, which answers Casty's shard for every id (a small memo, so
// that ids overwrite each other's slots, asked three times over); a type
// routed with XXH64 never takes them from the MD5 memo.
func TestShardOfWithTheMemo(t *testing.T) {
	et := &entityType{numShards: 32, md5Memo: ring.NewMD5Memo(32, 16)}
	md5, xxh := newRouteTable(32, ring.HashMD5), newRouteTable(32, ring.HashXXH64)
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%d", i*7919)
	}
	for round := range 3 {
		for _, id := range ids {
			if got, want := et.shardOf(md5, id), ring.Shard(id, 32); got != want {
				t.Fatalf("round %d, MD5: shard of %q %d, want %d", round, id, got, want)
			}
			if got, want := et.shardOf(xxh, id), ring.ShardXX(id, 32); got != want {
				t.Fatalf("round %d, XXH64: shard of %q %d, want %d", round, id, got, want)
			}
		}
	}
}
