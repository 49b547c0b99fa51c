package chaos

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/leakcheck"
	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// fakeNode is a loopback listener that speaks just enough Casty v1 for the
// watcher: handshake, and (when answer is set) NodeState and NodeStats
// replies. A silent one handshakes and then reads without answering, as a
// paused node's kernel would accept.
type fakeNode struct {
	ln     net.Listener
	answer atomic.Bool
	reg    *castyjson.Registry
	self   wire.NodeAddress
	polls  atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startFake(t *testing.T, answer bool) *fakeNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := newRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().(*net.TCPAddr)
	f := &fakeNode{ln: ln, reg: reg, self: wire.NodeAddress{Host: "127.0.0.1", Port: a.Port}}
	f.answer.Store(answer)
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeNode) addr() string { return f.self.String() }

func (f *fakeNode) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeNode) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

func (f *fakeNode) serve(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	fr := wire.NewFrameReader(c, 0)
	for {
		typ, body, err := fr.Next()
		if err != nil {
			return
		}
		if typ == wire.FrameHandshake {
			_, _ = c.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: f.self.Host, Port: f.self.Port}))
			continue
		}
		_, payload, err := wire.ParseMessage(body)
		if err != nil {
			continue
		}
		msg, err := f.reg.Decode(payload)
		if err != nil {
			continue
		}
		var reply any
		var to wire.Ref
		switch m := msg.(type) {
		case wire.GetNodeState:
			f.polls.Add(1)
			now := monoNow()
			reply, to = wire.NodeState{Node: f.self, Incarnation: 1, Role: "leader", Leader: &f.self, MonoNow: now, LeaseUntil: now + 2*sec,
				Claims:  []wire.ShardClaim{{Type: "counter", Shard: f.self.Port % 32, Epoch: 1, Since: 1, Until: now + 2*sec}},
				Members: []wire.Member{{Address: f.self, Status: wire.StatusUp}}}, m.ReplyTo
		case workload.GetShardTally:
			applied := make([]int64, 32)
			applied[f.self.Port%32] = f.polls.Load()
			reply, to = workload.ShardTally{Node: f.self.String(), Incarnation: 7, Applied: applied, Retired: make([]int64, 32), Dead: make([]int64, 32)}, m.ReplyTo
		default:
			continue
		}
		if !f.answer.Load() {
			continue
		}
		frame, err := f.reg.AppendMessageFrameTo(nil, to.Address, "casty://live@"+f.self.String()+"/", reply, 0)
		if err == nil {
			_, _ = c.Write(frame)
		}
	}
}

// A silent node and a dead address must not hold up the polls of a live
// node: the live node keeps being polled at about WatchInterval while the
// silent one's polls each wait WatchTimeout.
func TestWatcherSilentNodesDoNotBlock(t *testing.T) {
	live := startFake(t, true)
	silent := startFake(t, false)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	reg, err := newRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	w := NewWatcher(context.Background(), RawOptions{Registry: reg})
	defer w.Close()
	w.Add(WatchTarget{Name: "live", Addr: live.addr()})
	w.Add(WatchTarget{Name: "silent", Addr: silent.addr()})
	w.Add(WatchTarget{Name: "dead", Addr: deadAddr})

	// Wait until the silent node has timed out a few polls; by then the
	// live one must have answered several times that many.
	poll.Until(t, "3 unanswered polls of the silent node", func() bool { return w.Views()[1].Unanswered >= 3 })
	v := w.Views()
	if v[0].Answered < 2*v[1].Unanswered {
		t.Errorf("live node answered %d polls while the silent one timed out %d: blocked?", v[0].Answered, v[1].Unanswered)
	}
	if v[1].Answered != 0 || v[2].Answered != 0 {
		t.Errorf("silent/dead answered %d/%d, want 0", v[1].Answered, v[2].Answered)
	}
	if v[2].Connected {
		t.Error("dead node reported connected")
	}
	if v[0].State == nil || v[0].State.Node != live.self {
		t.Errorf("live state %+v", v[0].State)
	}
	if w.Ledger().States() == 0 || len(w.Ledger().Intervals()) != 1 {
		t.Errorf("ledger: %d states, %d intervals; want >0 and 1", w.Ledger().States(), len(w.Ledger().Intervals()))
	}
	// The silent node wakes up (SIGCONT): its next polls are answered.
	silent.answer.Store(true)
	poll.Until(t, "the woken node to answer", func() bool { return w.Views()[1].Answered > 0 })
	poll.Until(t, "tally polls", func() bool { return len(w.Tallies(0)) >= 2 })
	if obs := w.Tallies(0); obs[0].Incarnation != 7 || len(obs[0].Applied) != 32 || obs[0].Sent > obs[0].Recv {
		t.Errorf("tally %+v", obs[0])
	}
	if ms := w.Members()[live.addr()]; ms.States == 0 || ms.By[live.addr()] == 0 || ms.Statuses[wire.StatusUp] == 0 {
		t.Errorf("members sighting of the live node %+v", ms)
	}
}

func TestRawConnAskTimeoutAndClose(t *testing.T) {
	silent := startFake(t, false)
	rc, err := DialRaw(context.Background(), silent.addr(), RawOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Peer != silent.self {
		t.Errorf("peer %v, want %v", rc.Peer, silent.self)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = rc.Ask(ctx, wire.PathNode, func(r wire.Ref) any { return wire.GetNodeState{ReplyTo: r} })
	cancel()
	if !errors.Is(err, ErrNoReply) {
		t.Errorf("Ask on a silent node: %v, want ErrNoReply", err)
	}
	rc.mu.Lock()
	pending := len(rc.pending)
	rc.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d pending entries left after a timeout", pending)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := rc.Send(wire.PathNode, wire.GetNodeState{}); !errors.Is(err, ErrRawClosed) {
		t.Errorf("Send after Close: %v, want ErrRawClosed", err)
	}
}
