package ring

import (
	"strconv"
	"strings"
	"testing"
)

var benchSink int

// BenchmarkShard sweeps the id length across the stack-buffer path (<= 256
// bytes, crypto/md5) and the streaming pure-Go path (longer ids).
func BenchmarkShard(b *testing.B) {
	for _, l := range []int{7, 32, 60, 256, 1024} {
		id := strings.Repeat("e", l)
		b.Run("md5/len="+strconv.Itoa(l), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(l))
			for b.Loop() {
				benchSink += Shard(id, 100)
			}
		})
		b.Run("xxh64/len="+strconv.Itoa(l), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(l))
			for b.Loop() {
				benchSink += ShardXX(id, 100)
			}
		})
	}
}

// BenchmarkShardPureGo measures the streaming MD5 alone on short ids, the
// comparison that justified stackIDLen.
func BenchmarkShardPureGo(b *testing.B) {
	for _, l := range []int{7, 60, 256} {
		id := strings.Repeat("e", l)
		b.Run("len="+strconv.Itoa(l), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(l))
			for b.Loop() {
				benchSink += int(md5Prefix(id) % 100)
			}
		})
	}
}
