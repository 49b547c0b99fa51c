package engine

import "testing"

func TestQueueReserveForControl(t *testing.T) {
	q := newOutQueue(128)
	if q.reserve != 2 {
		t.Fatalf("reserve = %d, want 2", q.reserve)
	}
	data := 0
	for {
		tk, buf, full, closed := q.claim(q.reserve)
		if closed {
			t.Fatal("closed")
		}
		if full {
			break
		}
		q.publish(tk, append(buf, 'd'))
		if data++; data > 128 {
			t.Fatalf("claimed %d data slots in a queue of 128", data)
		}
	}
	if data != 126 {
		t.Fatalf("data claims = %d, want 126", data)
	}
	for i := 0; i < 2; i++ {
		tk, buf, full, _ := q.claim(0)
		if full {
			t.Fatalf("control claim %d refused with %d reserved slots", i, q.reserve)
		}
		q.publish(tk, append(buf, 'c'))
	}
	if _, _, full, _ := q.claim(0); !full {
		t.Fatal("control claim accepted past capacity")
	}
	out, n := q.drain(nil, 1<<20)
	if n != 128 || string(out[126:]) != "cc" {
		t.Fatalf("drained %d frames ending %q, want 128 ending \"cc\"", n, out[126:])
	}
}

func TestQueueFullStaleTicket(t *testing.T) {
	q := newOutQueue(8)
	cases := []struct {
		t, head, reserve uint64
		want             bool
	}{
		{t: 0, head: 0, want: false},
		{t: 7, head: 0, want: false},
		{t: 8, head: 0, want: true},
		{t: 7, head: 0, reserve: 1, want: true},
		// A stale ticket: the consumer already moved past it. The unsigned
		// difference wraps; it must not read as full.
		{t: 10, head: 11, want: false},
		{t: 10, head: 1 << 40, want: false},
		{t: 1<<64 - 1, head: 1<<64 - 1, want: false}, // tickets wrap too
	}
	for _, c := range cases {
		if got := q.isFull(c.t, c.head, c.reserve); got != c.want {
			t.Errorf("isFull(t=%d, head=%d, reserve=%d) = %v, want %v", c.t, c.head, c.reserve, got, c.want)
		}
	}
}
