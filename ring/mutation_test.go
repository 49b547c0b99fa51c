package ring

import "testing"

// Tests added for gremlins' survivors (TESTING.md, "Broad mutation score").

// TestShardPanicMessage: a non-positive number of shards is a broken
// configuration, and the panic says so, rather than leaving the runtime's
// "integer divide by zero" for n == 0.
func TestShardPanicMessage(t *testing.T) {
	const want = "ring: numShards must be positive"
	for name, f := range map[string]func(string, int) int{
		"Shard": Shard, "ShardXX": ShardXX, "HashMD5.Shard": HashMD5.Shard, "HashXXH64.Shard": HashXXH64.Shard,
	} {
		for _, n := range []int{0, -1} {
			got := func() (v any) {
				defer func() { v = recover() }()
				f("x", n)
				return nil
			}()
			if got != want {
				t.Errorf("%s(%q, %d): got panic %v, want %q", name, "x", n, got, want)
			}
		}
	}
}
