package poll

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fatal records a Fatalf and stops the calling goroutine, as testing.T's
// does, without failing the outer test.
type fatal struct {
	testing.TB
	msg string
}

func (f *fatal) Helper() {}
func (f *fatal) Fatalf(format string, args ...any) {
	f.msg = format
	panic(f)
}

// run calls fn with a recorder and returns the Fatalf format, "" if none.
func run(t *testing.T, fn func(tb testing.TB)) (msg string) {
	f := &fatal{TB: t}
	defer func() {
		if r := recover(); r != nil {
			if r != f {
				panic(r)
			}
			msg = f.msg
		}
	}()
	fn(f)
	return ""
}

func TestUntil(t *testing.T) {
	var n atomic.Int64
	go func() {
		for range 5 {
			time.Sleep(time.Millisecond)
			n.Add(1)
		}
	}()
	if m := run(t, func(tb testing.TB) { Until(tb, "five", func() bool { return n.Load() == 5 }) }); m != "" {
		t.Fatalf("Until failed: %s", m)
	}
	if m := run(t, func(tb testing.TB) { UntilWithin(tb, 30*time.Millisecond, "never true", func() bool { return false }) }); !strings.Contains(m, "timed out") {
		t.Fatalf("UntilWithin on a false condition: %q, want a time-out failure", m)
	}
}

func TestNever(t *testing.T) {
	if m := run(t, func(tb testing.TB) { Never(tb, "nothing", 30*time.Millisecond, func() bool { return false }) }); m != "" {
		t.Fatalf("Never on a false condition failed: %s", m)
	}
	if m := run(t, func(tb testing.TB) { Never(tb, "at once", time.Hour, func() bool { return true }) }); !strings.Contains(m, "happened") {
		t.Fatalf("Never on a true condition: %q, want a failure", m)
	}
}

func TestNeverUntil(t *testing.T) {
	done := make(chan struct{})
	var hit atomic.Bool
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(done)
	}()
	if m := run(t, func(tb testing.TB) { NeverUntil(tb, "nothing", done, hit.Load) }); m != "" {
		t.Fatalf("NeverUntil on a false condition failed: %s", m)
	}
	// Something that happens just before the event is still seen: the
	// condition is checked once more after it.
	done2 := make(chan struct{})
	go func() {
		hit.Store(true)
		close(done2)
	}()
	if m := run(t, func(tb testing.TB) { NeverUntil(tb, "hit", done2, hit.Load) }); !strings.Contains(m, "happened") {
		t.Fatalf("NeverUntil when the condition came true before the event: %q, want a failure", m)
	}
}
