package ring

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// memoIDs returns n distinct ids of varied lengths (1 to 80 bytes).
func memoIDs(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%d-%s", i, string(make([]byte, r.IntN(70))))
	}
	return ids
}

// TestMD5MemoIsShard: the memo answers Shard's shard for every id, on a
// miss and on a hit, with a table much smaller than the ids (every slot
// overwritten many times) and with several shard counts.
func TestMD5MemoIsShard(t *testing.T) {
	ids := memoIDs(20000, 1)
	for _, shards := range []int{1, 7, 32, 1000, MaxMemoShards} {
		m := NewMD5Memo(shards, 64)
		for round := range 3 {
			for _, id := range ids {
				if got, want := m.Shard(id), Shard(id, shards); got != want {
					t.Fatalf("shards %d, round %d: memo %d, Shard %d for id %q", shards, round, got, want, id)
				}
			}
		}
	}
}

// TestMD5MemoHits: an id asked again while its slot is its own is
// answered from the slot (Shard is not computed): with a table larger
// than the ids, the second round finds every id's entry.
func TestMD5MemoHits(t *testing.T) {
	ids := memoIDs(100, 2)
	m := NewMD5Memo(32, MaxMemoSlots)
	for _, id := range ids {
		m.Shard(id)
	}
	hits := 0
	for _, id := range ids {
		h := m.slots[xxhashString(id)&m.mask].Load()
		if h&memoValid != 0 && h&memoTagMask == xxhashString(id)&memoTagMask {
			hits++
		}
	}
	if hits < 95 { // a few may share a slot among 65536
		t.Fatalf("%d of 100 ids found in the memo after one round", hits)
	}
}

// TestMD5MemoConcurrent: goroutines asking overlapping ids through one
// small memo (slots overwritten concurrently) always get Shard's answer;
// run with -race, it also checks that the entries are accessed atomically.
func TestMD5MemoConcurrent(t *testing.T) {
	ids := memoIDs(2000, 3)
	want := make([]int, len(ids))
	for i, id := range ids {
		want[i] = Shard(id, 32)
	}
	m := NewMD5Memo(32, 16)
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			for k := range 5000 {
				i := (k*7 + g*13) % len(ids)
				if got := m.Shard(ids[i]); got != want[i] {
					select {
					case errs <- fmt.Sprintf("id %q: memo %d, Shard %d", ids[i], got, want[i]):
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestNewMD5MemoBounds(t *testing.T) {
	if NewMD5Memo(0, 8) != nil || NewMD5Memo(MaxMemoShards+1, 8) != nil {
		t.Error("a memo for a shard count it cannot hold")
	}
	if m := NewMD5Memo(32, 1000); len(m.slots) != 1024 {
		t.Errorf("slots %d, want 1024", len(m.slots))
	}
	if m := NewMD5Memo(32, 1<<20); len(m.slots) != MaxMemoSlots {
		t.Errorf("slots %d, want %d", len(m.slots), MaxMemoSlots)
	}
}

func TestMD5MemoAllocs(t *testing.T) {
	m := NewMD5Memo(32, 64)
	ids := memoIDs(200, 4)
	i := 0
	if n := testing.AllocsPerRun(1000, func() { m.Shard(ids[i%len(ids)]); i++ }); n != 0 {
		t.Errorf("Shard allocs = %v, want 0", n)
	}
}

func BenchmarkMD5Memo(b *testing.B) {
	ids := memoIDs(1000, 5)
	b.Run("Shard", func(b *testing.B) {
		for i := range b.N {
			Shard(ids[i%len(ids)], 32)
		}
	})
	b.Run("memo-hit", func(b *testing.B) {
		m := NewMD5Memo(32, 8192)
		for i := range b.N {
			m.Shard(ids[i%len(ids)])
		}
	})
	b.Run("memo-miss", func(b *testing.B) { // 1000 ids in 16 slots: nearly every lookup misses
		m := NewMD5Memo(32, 16)
		for i := range b.N {
			m.Shard(ids[i%len(ids)])
		}
	})
}

func xxhashString(s string) uint64 { return xxhash.Sum64String(s) }
