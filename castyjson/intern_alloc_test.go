//go:build !race

package castyjson

import (
	"strings"
	"testing"
)

// TestShortStringsInterned: a payload that repeats a short string (a
// snapshot's hosts and ids) allocates it once per decoder, not once per
// occurrence; strings up to internMaxLen bytes are interned. Found by
// gremlins (the intern test's bounds could be inverted unnoticed).
func TestShortStringsInterned(t *testing.T) {
	r := NewRegistry()
	const n = 50
	for _, size := range []int{1, internMaxLen} {
		s := strings.Repeat("h", size)
		p := []byte(`["` + strings.Repeat(s+`", "`, n-1) + s + `"]`)
		var out []string
		if err := r.DecodeInto(p, &out); err != nil || len(out) != n || out[0] != s {
			t.Fatalf("DecodeInto: %d strings, %v", len(out), err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			out = nil
			if err := r.DecodeInto(p, &out); err != nil {
				t.Fatal(err)
			}
		})
		// The slice (and its growth) and at most one string: far below n.
		if allocs >= n/2 {
			t.Errorf("%d-byte string repeated %d times: %.1f allocs per decode, want it interned (< %d)", size, n, allocs, n/2)
		}
	}
}
