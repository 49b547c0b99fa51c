package engine

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// TestHeadTable: ids are dense, one per distinct head, for the
// connection's life; a full table refuses new heads.
func TestHeadTable(t *testing.T) {
	var tab headTable
	heads := make([][]byte, wire.MaxHeads)
	for i := range heads {
		heads[i] = []byte{wire.FrameMessage, 0, 0, 0, 1, byte(i)}
		if id, ok := tab.add(heads[i]); !ok || id != i {
			t.Fatalf("head %d: id %d, %v", i, id, ok)
		}
	}
	if id, ok := tab.add(bytes.Clone(heads[7])); !ok || id != 7 {
		t.Fatalf("a known head again: id %d, %v; want 7", id, ok)
	}
	if _, ok := tab.add([]byte{wire.FrameMessage, 9}); ok {
		t.Fatal("a full table took another head")
	}
	for i := range heads {
		if !bytes.Equal(tab.head(i), heads[i]) {
			t.Fatalf("head %d changed", i)
		}
	}
}

// TestHeadWriter: on a link that takes an id the writer defines it before
// its first frame, once per link; on a link that does not, it writes the
// whole message frame, byte for byte what the codec writes with the full
// head.
func TestHeadWriter(t *testing.T) {
	bin := binaryCodec(t, testRegistry(t))
	var tab headTable
	head := bin.AppendEnvelopeHead(nil, "casty://live@127.0.0.1:1/_region-counter", "casty://live-client@127.0.0.1:2/")
	id, _ := tab.add([]byte{wire.FrameMessage, 0, 0, 0, 2, '{', '}'}) // another head first: id 1 below
	if id != 0 {
		t.Fatal(id)
	}
	id, _ = tab.add(head)
	headed, err := bin.AppendHeadedEnvelopeFrame(nil, wire.AppendHeadRef(nil, id), "user-1", workload.Increment{Amount: 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := bin.AppendHeadedEnvelopeFrame(nil, head, "user-1", workload.Increment{Amount: 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(headed) >= len(whole)-100 {
		t.Fatalf("headed frame %d bytes, whole %d", len(headed), len(whole))
	}
	w := headWriter{tab: &tab}
	for _, limit := range []int{0, 1} { // no heads; heads, but not id 1
		w.reset(limit)
		if got := w.appendFrame(nil, headed); !bytes.Equal(got, whole) {
			t.Fatalf("limit %d: expanded to % x, want % x", limit, got, whole)
		}
	}
	def := wire.AppendHeadDefinition(nil, id, head)
	for link := range 2 {
		w.reset(wire.MaxHeads)
		got := w.appendFrame(nil, headed)
		got = w.appendFrame(got, headed)
		want := append(append(append([]byte(nil), def...), headed...), headed...)
		if !bytes.Equal(got, want) {
			t.Fatalf("link %d: wrote % x, want the definition once, then the frames: % x", link, got, want)
		}
	}
}

// TestClusterHeads: against nodes that keep heads, the client's envelopes
// travel as headed frames (a few dozen bytes a frame where the whole
// frame is about 190), across a reconnect (the new link gets the
// definitions again); against nodes that announce none, whole frames.
// Every tell and ask arrives either way.
func TestClusterHeads(t *testing.T) {
	for _, heads := range []int{0, -1} {
		t.Run(map[int]string{0: "heads", -1: "none"}[heads], func(t *testing.T) {
			lc := startBinaryCluster(t, 1, func(cfg *node.Config) { cfg.BinaryHeads = heads })
			c := dialBinary(t, lc, nil)
			tellAskLookup(t, c, 32, 40, "h1")
			ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
			if err != nil {
				t.Fatal(err)
			}
			perFrame := func() uint64 {
				t.Helper()
				// Its shard located first: held tells go out whole.
				if _, err := getCount(t.Context(), c, ref, "h-tells"); err != nil {
					t.Fatal(err)
				}
				w0 := c.Stats()
				for range 1000 {
					if err := ref.TellContext(t.Context(), "h-tells", workload.Increment{Amount: 1}); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.Flush(t.Context()); err != nil {
					t.Fatal(err)
				}
				w1 := c.Stats()
				return (w1.BytesWritten - w0.BytesWritten) / max(w1.FramesWritten-w0.FramesWritten, 1)
			}
			if b := perFrame(); (b < 40) != (heads == 0) {
				t.Fatalf("%d bytes a tell's frame with BinaryHeads %d", b, heads)
			}
			if st := c.Stats(); (st.HeadConnects == st.BinaryConnects) != (heads == 0) || st.BinaryConnects == 0 {
				t.Fatalf("%d head connects of %d binary connects with BinaryHeads %d", st.HeadConnects, st.BinaryConnects, heads)
			}
			// Cut the link: the next one is a new session with the node.
			nc := onlyConn(c)
			before := c.Stats().Reconnects
			// (A read deadline in the past: a failure, where Close would
			// be the client's own stop.)
			if lb := nc.curLink.Load(); lb != nil {
				_ = lb.l.(*netLink).conn.SetReadDeadline(time.Unix(1, 0))
			}
			poll.Until(t, "reconnected", func() bool { return c.Stats().Reconnects > before })
			tellAskLookup(t, c, 32, 40, "h2")
			if b := perFrame(); (b < 40) != (heads == 0) {
				t.Fatalf("after the reconnect: %d bytes a tell's frame with BinaryHeads %d", b, heads)
			}
			if st := lc.Node(0).Stats(); st.FramingErrors != 0 || st.UnexpectedMessages != 0 {
				t.Fatalf("node: %d framing errors, %d unexpected frames", st.FramingErrors, st.UnexpectedMessages)
			}
		})
	}
}

// TestClusterWindow: against a node that announces a window, the client
// keeps at most that many frames written and not credited. While the
// node is paused, a burst fills the window and its writer then waits for
// a credit: the rest of the burst, and the tells queued after it, wait in
// the client's queue, not in the socket buffers. After Resume the window
// still holds while the queue drains, and every tell arrives.
func TestClusterWindow(t *testing.T) {
	const (
		window = 64
		burst  = 3000
		more   = 500
	)
	lc := startBinaryCluster(t, 1, func(cfg *node.Config) { cfg.BinaryWindow = window })
	// No sojourn bound: tells that wait for the window are queued, not
	// refused.
	c := dialBinary(t, lc, func(cfg *Config) { cfg.QueueTarget = -1 })
	tellAskLookup(t, c, 32, 10, "w1")
	nc := onlyConn(c)
	if got := nc.window.Load(); got != window {
		t.Fatalf("window %d, want %d", got, window)
	}
	ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := getCount(t.Context(), c, ref, "w-burst"); err != nil { // located
		t.Fatal(err)
	}
	// The bound is the window itself: the link has defined the head of
	// every frame this test sends (its tells and asks to the node's
	// region), so no definition is written on top.
	inFlight := func() uint64 { return nc.written.Load() - nc.credited.Load() }
	tells := func(k int) {
		t.Helper()
		for range k {
			if err := ref.Tell("w-burst", workload.Increment{Amount: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// stopped waits until the writer has filled the window and waits for
	// a credit: a wake-up left on creditWake is taken only by a writer
	// waiting for one (it finds the window still full and waits again); a
	// writer that does not keep the window never takes it, and writes
	// past the window instead.
	stopped := func(what string) {
		t.Helper()
		poll.Until(t, what+": the window full", func() bool { return inFlight() >= window })
		select {
		case nc.creditWake <- struct{}{}:
		default: // one is there already
		}
		poll.Until(t, what+": the writer waiting for a credit", func() bool { return len(nc.creditWake) == 0 || inFlight() > window })
		if f := inFlight(); f > window {
			t.Fatalf("%s: %d frames in flight, window %d", what, f, window)
		}
	}
	resume := pauseNode(t, lc.Node(0))
	tells(burst)
	stopped("a burst to the paused node")
	if q := nc.q.len(); q < burst-window {
		t.Fatalf("%d frames still queued of a %d burst to a paused node: the window did not hold them", q, burst)
	}
	tells(more)
	stopped("more tells")
	if q := nc.q.len(); q < burst+more-window {
		t.Fatalf("%d frames queued after %d tells to a paused node, window %d", q, burst+more, window)
	}
	var r workload.CountReply
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, err = getCount(t.Context(), c, ref, "w-burst")
	}()
	resume()
	poll.NeverUntil(t, "more frames in flight than the window while the queue drains", done, func() bool { return inFlight() > window })
	if err != nil || r.Value != burst+more {
		t.Fatalf("count after resume: %+v, %v; want %d", r, err, burst+more)
	}
	tellAskLookup(t, c, 32, 10, "w2")
}

// FuzzOnCredit: a credit frame of any bytes, on a link with a window,
// never panics; one that does not parse, or acknowledges more frames than
// were written, is an error (the link closes), and what is accepted never
// leaves more credited than written.
func FuzzOnCredit(f *testing.F) {
	f.Add(wire.AppendCredit(nil, 16)[wire.FrameHeaderLen:], uint16(32))
	f.Add(wire.AppendCredit(nil, 64)[wire.FrameHeaderLen:], uint16(32))
	f.Add([]byte{0x80}, uint16(1))
	f.Fuzz(func(t *testing.T, body []byte, written uint16) {
		c, nc := fuzzClient(t)
		nc.window.Store(64)
		nc.written.Store(uint64(written))
		for range 2 {
			err := c.onFrame(nc, wire.FrameCredit, body)
			if k, perr := wire.ParseCredit(body); perr == nil && err == nil && nc.credited.Load() > uint64(written) {
				t.Fatalf("credit of %d accepted: %d credited of %d written", k, nc.credited.Load(), written)
			} else if perr != nil && err == nil {
				t.Fatalf("a credit that does not parse (%v) accepted", perr)
			}
		}
	})
}

// TestOnCredit: credits add up to at most what was written; one past it
// is an error.
func TestOnCredit(t *testing.T) {
	c, nc := fuzzClient(t)
	nc.window.Store(64)
	nc.written.Store(32)
	credit := func(n int) error {
		return c.onFrame(nc, wire.FrameCredit, wire.AppendCredit(nil, n)[wire.FrameHeaderLen:])
	}
	for range 2 {
		if err := credit(16); err != nil {
			t.Fatal(err)
		}
	}
	if err := credit(1); err == nil {
		t.Fatalf("a credit past the %d frames written taken (%d credited)", nc.written.Load(), nc.credited.Load())
	}
}

// TestSuspectBehindAWindow: a zhbin link whose node goes silent (Pause:
// it reads nothing, credits nothing, pushes nothing, as behind chaos
// client-cut-binary's blackhole) with the window full is declared suspect
// all the same, within SuspectAfter: the writer waits on credit, not the
// client. Tells then fail fast with ErrSuspect, a TellContext waiting for
// room returns ErrOwnerUnavailable instead of waiting for credit, an ask
// waiting on the link fails with a *ConnError; the window still holds (no
// more frames in flight than it allows). After Resume every tell the
// client accepted is applied, once.
func TestSuspectBehindAWindow(t *testing.T) {
	const window = 64
	lc := startBinaryCluster(t, 1, func(cfg *node.Config) { cfg.BinaryWindow = window })
	const suspectAfter = time.Second
	c := dialBinary(t, lc, func(cfg *Config) {
		cfg.RefreshInterval = 100 * time.Millisecond
		cfg.SuspectAfter = suspectAfter
		cfg.AskTimeout = time.Minute
	})
	ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	if err != nil {
		t.Fatal(err)
	}
	const id = "s-burst"
	// The first count locates the shard and starts the entity; it goes as
	// a held message (a whole frame). The second goes under the region's
	// head, so the link has defined it before the pause and the window
	// below is the bound, with no definition on top.
	for range 2 {
		if _, err := getCount(t.Context(), c, ref, id); err != nil {
			t.Fatal(err)
		}
	}
	nc := onlyConn(c)
	if got := nc.window.Load(); got != window {
		t.Fatalf("window %d, want %d", got, window)
	}
	resume := pauseNode(t, lc.Node(0))
	askErr := make(chan error, 1)
	go func() {
		_, err := getCount(context.Background(), c, ref, id)
		askErr <- err
	}()
	// Fill the window and the queue behind it; refusals by the queue's
	// bounds are backpressure, the suspicion is what ends the loop.
	var accepted int64
	start := time.Now()
	waitFor(t, "the silent node suspect", func() bool {
		for range 64 {
			err = ref.Tell(id, workload.Increment{Amount: 1})
			switch {
			case err == nil:
				accepted++
			case !errors.Is(err, ErrBufferFull):
				return true
			}
		}
		return false
	})
	t.Logf("suspect %v after the pause (SuspectAfter %v), %d tells accepted meanwhile, %d queued", time.Since(start), suspectAfter, accepted, nc.q.len())
	if !errors.Is(err, ErrOwnerUnavailable) || !errors.Is(err, ErrSuspect) {
		t.Fatalf("tell to the silent node: got %v, want ErrOwnerUnavailable wrapping ErrSuspect", err)
	}
	if f := nc.written.Load() - nc.credited.Load(); f > window {
		t.Fatalf("%d frames in flight, window %d", f, window)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := ref.TellContext(ctx, id, workload.Increment{Amount: 1}); !errors.Is(err, ErrOwnerUnavailable) {
		t.Fatalf("TellContext to the silent node: got %v, want ErrOwnerUnavailable at once", err)
	}
	select {
	case err := <-askErr:
		var ce *ConnError
		if !errors.As(err, &ce) || !errors.Is(err, ErrSuspect) {
			t.Fatalf("ask waiting on the silent node: got %v, want a *ConnError wrapping ErrSuspect", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the ask waiting on the silent node did not fail")
	}
	resume()
	waitFor(t, "the node up again", func() bool { return ref.Tell(id, workload.Increment{Amount: 1}) == nil })
	accepted++
	waitFor(t, "every accepted tell applied", func() bool {
		r, err := getCount(t.Context(), c, ref, id)
		return err == nil && r.Value >= accepted
	})
	if r, err := getCount(t.Context(), c, ref, id); err != nil || r.Value != accepted {
		t.Fatalf("count %+v, %v; want %d (every tell accepted, once)", r, err, accepted)
	}
}

// pauseNode pauses n (node.Pause: it reads, credits and answers nothing)
// and returns the func that resumes it, which the test's cleanup calls
// too when the test ends first; resuming twice is resuming once.
func pauseNode(t *testing.T, n *node.Node) (resume func()) {
	n.Pause()
	var once sync.Once
	resume = func() { once.Do(n.Resume) }
	t.Cleanup(resume)
	return resume
}
