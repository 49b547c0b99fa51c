package ring

import (
	"math"
	"testing"
)

func FuzzShard(f *testing.F) {
	for _, v := range casty {
		f.Add(v.id, v.n)
	}
	f.Add(string(make([]byte, 300)), 1)
	f.Add("\xff\xfe invalid utf-8", math.MaxInt)
	f.Fuzz(func(t *testing.T, id string, n int) {
		if n <= 0 {
			n = -n
			if n <= 0 { // 0 and math.MinInt
				n = 1
			}
		}
		got := Shard(id, n)
		if got < 0 || got >= n {
			t.Fatalf("Shard(%q, %d) = %d, out of [0, %d)", id, n, got, n)
		}
		if want := refShard(id, n); got != want {
			t.Fatalf("Shard(%q, %d) = %d, reference %d", id, n, got, want)
		}
		if got := ShardXX(id, n); got < 0 || got >= n {
			t.Fatalf("ShardXX(%q, %d) = %d, out of [0, %d)", id, n, got, n)
		}
	})
}
