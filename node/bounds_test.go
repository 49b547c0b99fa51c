package node_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// startBounded starts a one-node cluster of the counter workload on
// transport with cfg adjusted by configure.
func startBounded(t *testing.T, transport string, configure func(cfg *node.Config)) *node.Node {
	t.Helper()
	c := nodetest.Start(t, 1, nodetest.Options{Configure: func(_ int, cfg *node.Config) {
		cfg.Transport = transport
		configure(cfg)
	}})
	return c.Node(0)
}

// bigFrame returns a message frame to an unknown path on n whose length
// field says total bytes (type byte and body): the node drops it as an
// unknown target once it has it all.
func bigFrame(t *testing.T, n wire.NodeAddress, total int) []byte {
	t.Helper()
	f, start := wire.BeginFrame(make([]byte, 0, total+4), wire.FrameMessage)
	f = wire.AppendHeader(f, wire.Header{Target: wire.NodeURI("live", n, "/no-such-path"), Sender: "casty://x@127.0.0.1:0/", TypeHint: "x"})
	pad := total + 4 - len(f)
	if pad < 2 {
		t.Fatalf("frame of %d bytes too small for its header", total)
	}
	f = append(f, '"')
	f = append(f, strings.Repeat("p", pad-2)...)
	f = append(f, '"')
	f, err := wire.EndFrame(f, start, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// expectRefused waits until the node closes conn without answering.
func expectRefused(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := conn.Read(make([]byte, 64)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read on a refused connection: %v, want EOF", err)
	}
}

// TestMaxConnections: past MaxConnections inbound connections, a new one
// is closed at once (counted); once one closes, a new one is served.
func TestMaxConnections(t *testing.T) { forEachTransport(t, testMaxConnections) }

func testMaxConnections(t *testing.T, transport string) {
	n := startBounded(t, transport, func(cfg *node.Config) { cfg.MaxConnections = 2 })
	poll.Until(t, "no inbound connection", func() bool { return n.Stats().ConnectionsOpen == 0 })
	a := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.0.1", Port: 0}, nil)
	dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.0.2", Port: 0}, nil).snapshot()
	before := n.Stats().ConnectionsRefused
	expectRefused(t, rawDial(t, n.Addr()))
	poll.Until(t, "refusal counted", func() bool { return n.Stats().ConnectionsRefused == before+1 })
	a.snapshot() // the connections already open are served
	_ = a.c.Close()
	poll.Until(t, "closed connection uncounted", func() bool { return n.Stats().ConnectionsOpen == 1 })
	dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.0.3", Port: 0}, nil).snapshot()
	if st := n.Stats(); st.ConnectionsRefused != before+1 || st.ConnectionsOpen != 2 {
		t.Fatalf("refused %d, open %d; want %d and 2", st.ConnectionsRefused, st.ConnectionsOpen, before+1)
	}
}

// TestFrameTimeout: a frame trickled at one byte per 100 ms is cut off
// after FrameTimeout; an idle connection is never timed out.
func TestFrameTimeout(t *testing.T) { t.Parallel(); forEachTransport(t, testFrameTimeout) }

func testFrameTimeout(t *testing.T, transport string) {
	const timeout = time.Second
	n := startBounded(t, transport, func(cfg *node.Config) { cfg.FrameTimeout = timeout })
	idle := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.1.1", Port: 0}, nil)
	idle.snapshot()
	rc := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.1.2", Port: 0}, nil)
	frame := bigFrame(t, n.Addr(), 10000) // 1,000 s at one byte per 100 ms
	began := time.Now()
	stop := make(chan struct{})
	trickled := make(chan int)
	go func() {
		i := 0
		defer func() { trickled <- i }()
		for ; i < len(frame); i++ {
			if _, err := rc.c.Write(frame[i : i+1]); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	expectClosed(t, rc)
	took := time.Since(began)
	close(stop)
	sent := <-trickled
	poll.Until(t, "frame timeout counted", func() bool { return n.Stats().FrameTimeouts == 1 })
	if sent >= len(frame) || took > 30*timeout {
		t.Fatalf("trickle of %d of %d bytes went on for %v with a frame timeout of %v", sent, len(frame), took, timeout)
	}
	// For three timeouts the idle connection is not timed out, and it is
	// still served after them.
	poll.Never(t, "a second frame timeout (the idle connection)", 3*timeout,
		func() bool { return n.Stats().FrameTimeouts != 1 })
	idle.snapshot()
	if got := n.Stats().FrameTimeouts; got != 1 {
		t.Fatalf("frame timeouts %d, want 1", got)
	}
}

// TestFrameTimeoutExcusesStalls: a frame left unfinished while the node is
// paused (as by SIGSTOP) for longer than FrameTimeout is not timed out
// once the node resumes: the stall is the node's, not the peer's.
func TestFrameTimeoutExcusesStalls(t *testing.T) {
	t.Parallel()
	forEachTransport(t, testFrameTimeoutExcusesStalls)
}

func testFrameTimeoutExcusesStalls(t *testing.T, transport string) {
	const timeout = 2 * time.Second
	n := startBounded(t, transport, func(cfg *node.Config) { cfg.FrameTimeout = timeout })
	rc := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.2.1", Port: 0}, nil)
	frame := bigFrame(t, n.Addr(), 1000)
	if _, err := rc.c.Write(frame[:500]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the node read the first half
	n.Pause()
	time.Sleep(timeout + timeout/2)
	n.Resume()
	before := n.Stats().UnknownTargets
	if _, err := rc.c.Write(frame[500:]); err != nil {
		t.Fatal(err)
	}
	rc.snapshot()
	if st := n.Stats(); st.FrameTimeouts != 0 || st.UnknownTargets != before+1 {
		t.Fatalf("frame timeouts %d, unknown targets %d; want 0 and %d (the frame delivered)", st.FrameTimeouts, st.UnknownTargets, before+1)
	}
}

// TestInboundBudget: unfinished frames past the per-connection allowance
// share InboundBudget; the connection whose frame cannot get a buffer is
// closed (counted), the others go on, and the budget goes back to 0.
// Buffers come in powers of two and double as a frame grows: a's 600 KiB
// of a 900 KiB frame hold 1 MiB; b's next step, from 512 KiB to 1 MiB,
// would take 2.5 MiB in all.
func TestInboundBudget(t *testing.T) { forEachTransport(t, testInboundBudget) }

func testInboundBudget(t *testing.T, transport string) {
	n := startBounded(t, transport, func(cfg *node.Config) { cfg.InboundBudget = 2 << 20 })
	a := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.3.1", Port: 0}, nil)
	fa := bigFrame(t, n.Addr(), 900<<10)
	if _, err := a.c.Write(fa[:600<<10]); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "a's unfinished frame charged", func() bool { return n.Stats().InboundBuffered == 1<<20 })
	b := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.3.2", Port: 0}, nil)
	fb := bigFrame(t, n.Addr(), 900<<10)
	_ = b.c.SetWriteDeadline(time.Now().Add(15 * time.Second))
	_, _ = b.c.Write(fb[:600<<10]) // may fail: the node closes b
	expectClosed(t, b)
	poll.Until(t, "budget cut counted", func() bool { return n.Stats().InboundBudgetCuts == 1 })
	// Small frames need no budget: a third client is served meanwhile.
	dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.3.3", Port: 0}, nil).snapshot()
	before := n.Stats().UnknownTargets
	if _, err := a.c.Write(fa[600<<10:]); err != nil {
		t.Fatal(err)
	}
	a.snapshot()
	st := n.Stats()
	if st.UnknownTargets != before+1 || st.InboundBudgetCuts != 1 {
		t.Fatalf("unknown targets %d, budget cuts %d; want %d (a's frame delivered) and 1", st.UnknownTargets, st.InboundBudgetCuts, before+1)
	}
	poll.Until(t, "budget released", func() bool { return n.Stats().InboundBuffered == 0 })
}

// TestMaxEntityIDLen: an envelope whose entity id is longer than
// MaxEntityIDLen is a dead letter (answered with Undeliverable to a
// zerohop client), and starts no entity.
func TestMaxEntityIDLen(t *testing.T) { forEachTransport(t, testMaxEntityIDLen) }

func testMaxEntityIDLen(t *testing.T, transport string) {
	deadCh := make(chan node.DeadLetter, 16)
	n := startBounded(t, transport, func(cfg *node.Config) {
		cfg.MaxEntityIDLen = 16
		cfg.OnDeadLetter = func(d node.DeadLetter) { deadCh <- d }
	})
	rc := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.4.1", Port: 0},
		&wire.Extension{System: "live", Version: 1, Role: wire.RoleClient})
	long := strings.Repeat("i", 17)
	r := rc.ask(wire.PathRegionPrefix+"counter", func(ref wire.Ref) any {
		return wire.ShardEnvelope{EntityID: long, Message: workload.GetCount{ReplyTo: ref}}
	})
	if u, ok := r.(wire.Undeliverable); !ok || u.Reason != wire.ReasonEntityID || u.Type != "counter" {
		t.Fatalf("reply %#v, want Undeliverable %q", r, wire.ReasonEntityID)
	}
	var d node.DeadLetter
	select {
	case d = <-deadCh:
	case <-time.After(15 * time.Second):
		t.Fatal("no dead letter")
	}
	if d.Reason != wire.ReasonEntityID || d.EntityID != long[:16] || d.Type != "counter" {
		t.Fatalf("dead letter %+v", d)
	}
	ok := strings.Repeat("i", 16)
	if r := rc.ask(wire.PathRegionPrefix+"counter", func(ref wire.Ref) any {
		return wire.ShardEnvelope{EntityID: ok, Message: workload.GetCount{ReplyTo: ref}}
	}); r.(workload.CountReply).EntityID != ok {
		t.Fatalf("reply %#v", r)
	}
	st := n.Stats()
	if st.DeadLettersByReason[wire.ReasonEntityID] != 1 || st.EntitiesStarted != 1 || st.EntitiesLive != 1 {
		t.Fatalf("dead letters %v, entities started %d, live %d; want 1 %s and 1 entity",
			st.DeadLettersByReason, st.EntitiesStarted, st.EntitiesLive, wire.ReasonEntityID)
	}
}

// TestMaxEntities: a message that would start an entity past MaxEntities
// is a dead letter; the live entities keep working.
func TestMaxEntities(t *testing.T) { forEachTransport(t, testMaxEntities) }

func testMaxEntities(t *testing.T, transport string) {
	n := startBounded(t, transport, func(cfg *node.Config) { cfg.MaxEntities = 3 })
	rc := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.5.1", Port: 0},
		&wire.Extension{System: "live", Version: 1, Role: wire.RoleClient})
	count := func(id string) any {
		return rc.ask(wire.PathRegionPrefix+"counter", func(ref wire.Ref) any {
			return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
		})
	}
	for _, id := range []string{"e1", "e2", "e3"} {
		if _, ok := count(id).(workload.CountReply); !ok {
			t.Fatalf("entity %s did not start", id)
		}
	}
	if u, ok := count("e4").(wire.Undeliverable); !ok || u.Reason != wire.ReasonEntityLimit || u.EntityID != "e4" {
		t.Fatalf("e4: got %#v, want Undeliverable %q", u, wire.ReasonEntityLimit)
	}
	if _, ok := count("e2").(workload.CountReply); !ok {
		t.Fatal("a live entity stopped answering")
	}
	st := n.Stats()
	if st.EntitiesLive != 3 || st.DeadLettersByReason[wire.ReasonEntityLimit] != 1 {
		t.Fatalf("live %d, dead letters %v; want 3 and 1 %s", st.EntitiesLive, st.DeadLettersByReason, wire.ReasonEntityLimit)
	}
}
