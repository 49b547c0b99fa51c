package engine

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// TestDropReasonNames: each reason has the stable name it had as a string
// constant (metrics and logs use them), a value that is none of the
// constants neither panics nor passes for one, and Stats.Drops (every
// reason present) encodes as a JSON object keyed by the names and decodes
// back.
func TestDropReasonNames(t *testing.T) {
	want := map[DropReason]string{
		DropQueueFull:        "queue_full",
		DropShardBuffer:      "shard_buffer_full",
		DropTotalBuffer:      "total_buffer_full",
		DropExpired:          "expired",
		DropOwnerUnavailable: "owner_unavailable",
		DropUnavailable:      "shard_unavailable",
		DropConnLost:         "conn_lost",
		DropClosed:           "closed",
		DropEncode:           "encode",
		DropMisconfigured:    "misconfigured",
		DropQueueSojourn:     "queue_sojourn",
	}
	if n := int(dropReasonEnd) - 1; n != len(want) {
		t.Fatalf("got %d reasons, want %d (a new reason needs its name here)", n, len(want))
	}
	for r, name := range want {
		if got := r.String(); got != name {
			t.Errorf("DropReason(%d).String() = %q, want %q", uint8(r), got, name)
		}
		var back DropReason
		if err := back.UnmarshalText([]byte(name)); err != nil || back != r {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", name, back, err, r)
		}
	}
	for _, bad := range []DropReason{0, dropReasonEnd, 255} {
		if got, wantS := bad.String(), "DropReason("; len(got) < len(wantS) || got[:len(wantS)] != wantS {
			t.Errorf("DropReason(%d).String() = %q, want DropReason(N)", uint8(bad), got)
		}
		if _, err := bad.MarshalText(); err == nil {
			t.Errorf("DropReason(%d).MarshalText: no error", uint8(bad))
		}
	}
	var r DropReason
	if err := r.UnmarshalText([]byte("no_such_reason")); err == nil {
		t.Errorf("UnmarshalText(no_such_reason): no error, got %v", r)
	}

	c := &Client{} // Stats of a client that never dialled: counters only
	c.stats.drop(DropExpired, 3)
	c.stats.drop(DropConnLost, 2)
	st := c.Stats()
	b, err := json.Marshal(st.Drops)
	if err != nil {
		t.Fatal(err)
	}
	var byName map[string]uint64
	if err := json.Unmarshal(b, &byName); err != nil {
		t.Fatal(err)
	}
	if got, wantNames := slices.Sorted(maps.Keys(byName)), slices.Sorted(maps.Values(want)); !slices.Equal(got, wantNames) {
		t.Fatalf("JSON keys %v, want %v", got, wantNames)
	}
	if byName["expired"] != 3 || byName["conn_lost"] != 2 || byName["queue_full"] != 0 {
		t.Fatalf("JSON %s: want expired 3, conn_lost 2, the others 0", b)
	}
	var back map[DropReason]uint64
	if err := json.Unmarshal(b, &back); err != nil || !maps.Equal(back, st.Drops) {
		t.Fatalf("round trip: got %v, %v; want %v", back, err, st.Drops)
	}
}
