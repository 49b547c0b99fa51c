//go:build !race

package ring

import (
	"strings"
	"testing"
)

func TestShardAllocs(t *testing.T) {
	ids := []string{"", "user-42", "ünïcødé-键", strings.Repeat("x", 33), strings.Repeat("y", stackIDLen), strings.Repeat("z", 4*stackIDLen+3)}
	for _, id := range ids {
		for name, f := range map[string]func(string, int) int{"Shard": Shard, "ShardXX": ShardXX, "HashMD5.Shard": HashMD5.Shard, "HashXXH64.Shard": HashXXH64.Shard} {
			var sink int
			if got := testing.AllocsPerRun(200, func() { sink += f(id, 100) }); got != 0 {
				t.Errorf("%s(len %d) allocs = %v, want 0", name, len(id), got)
			}
			_ = sink
		}
	}
}
