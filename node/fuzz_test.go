package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
)

// FuzzParseMeta: arbitrary member metadata never panics, and decoded
// metadata re-encodes to the same value.
func FuzzParseMeta(f *testing.F) {
	f.Add(Config{System: "live", Entities: []EntityType{{Name: "counter", Shards: 32}},
		Services: []Service{{Key: "node-stats", Path: "/stats"}}}.meta(wire.NodeAddress{Host: "127.0.0.1", Port: 1}, "127.0.0.1:2001", 1<<63+5).marshal())
	f.Add(nodeMeta{System: "live", Addr: "[::1]:5", ID: "n", Leaving: true, Joining: true, Inc: 42}.marshal())
	f.Add([]byte(`{"s":"live","t":[{"n":"x","s":-1}],"r":[["a"]]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeta(b)
		if err != nil {
			return
		}
		again, err := parseMeta(m.marshal())
		if err != nil {
			t.Fatalf("re-decode %s: %v", m.marshal(), err)
		}
		if !reflect.DeepEqual(normMeta(again), normMeta(m)) {
			t.Fatalf("round trip: %+v != %+v", again, m)
		}
	})
}

// normMeta maps empty slices to nil (omitempty drops them on encoding).
func normMeta(m nodeMeta) nodeMeta {
	if len(m.Types) == 0 {
		m.Types = nil
	}
	if len(m.Services) == 0 {
		m.Services = nil
	}
	return m
}

type fuzzAsk struct {
	ReplyTo wire.Ref `casty:"reply_to"`
	N       int      `casty:"n"`
}

// FuzzHandleFrames feeds arbitrary bytes, cut into frames, to the frame
// handler of a running single node as one inbound connection. Whatever the
// frames say (handshakes, topology, coordinator, region and service
// messages, garbage), the node never panics and, after each input (see
// checkFuzzProperties):
//   - no entity is created for a shard this node's route does not give it
//     (the constructor checks the route it is created under);
//   - the counters agree with what was fed: messages processed and frames
//     counted unexpected are at most the frames handed to the handler;
//   - the bounds hold: pending requests at most MaxPendingRequests,
//     subscribers at most MaxSubscribers, live entities at most
//     MaxEntities, inbound bytes charged at most InboundBudget, and the
//     goroutine count settles back within a fixed margin of the start.
func FuzzHandleFrames(f *testing.F) {
	reg := castyjson.NewRegistry()
	reg.MustRegister("fz.Ask", fuzzAsk{})
	echo := EntityFunc(func(ctx *Context, msg any) {
		if a, ok := msg.(fuzzAsk); ok {
			_ = ctx.Reply(a.ReplyTo, a)
		}
	})
	var n *Node
	var strays atomic.Int64 // entities created for a shard the route does not give this node
	newEntity := func(id string) Entity {
		// Called by the shard's runner just before it counts the entity;
		// a single node's route only ever names itself.
		if rt := n.route.Load(); rt.owners[0][ring.Shard(id, 4)] != n.self {
			strays.Add(1)
		}
		return echo
	}
	const maxEntities = 32
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	n, err = Start(ctx, Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), MailboxSize: 16,
		OutboundLimit: 64 << 10, MaxFrameSize: 64 << 10, MaxPendingRequests: 64, MaxSubscribers: 64,
		MaxEntities: maxEntities,
		Entities:    []EntityType{{Name: "c", Shards: 4, New: newEntity}},
		Services:    []Service{{Key: "k", Path: "/svc", Handler: echo}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = n.Close(context.Background()) })
	baseGoroutines := runtime.NumGoroutine()
	var fed atomic.Int64 // frames handed to handleFrame, all inputs
	start := n.Stats()
	// Entities start after the input returned (an envelope for an
	// unallocated shard waits for the allocation): each input's check sees
	// the strays of the earlier ones, and this one, run before the node
	// closes, waits until the seeds' envelope started its entity.
	var ranSeed atomic.Bool // the first seed (with its envelope) ran in this process
	f.Cleanup(func() {
		if !ranSeed.Load() {
			// With -fuzz, inputs run in worker processes, not here.
			if k := strays.Load(); k != 0 {
				f.Errorf("%d entities created for a shard this node does not own", k)
			}
			return
		}
		deadline := time.Now().Add(30 * time.Second)
		for n.Stats().EntitiesStarted == start.EntitiesStarted {
			if time.Now().After(deadline) {
				f.Error("no entity started: the seeds' envelope never ran, the ownership check saw nothing")
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		if k := strays.Load(); k != 0 {
			f.Errorf("%d entities created for a shard this node does not own", k)
		}
	})

	client := wire.NodeAddress{Host: "127.0.0.9", Port: 7}
	ref := func(path string) wire.Ref {
		return wire.Ref{Address: wire.Address{System: "live", Host: client.Host, Port: client.Port, Path: path}}
	}
	hs := wire.AppendHandshakeFrame(nil, wire.Handshake{Host: client.Host, Port: client.Port})
	msg := func(dst []byte, path string, v any) []byte {
		out, err := reg.AppendMessageFrame(dst, wire.NodeURI("live", n.Addr(), path), "casty://live@127.0.0.9:7/", v, 0)
		if err != nil {
			f.Fatal(err)
		}
		return out
	}
	seed := append([]byte(nil), hs...)
	seed = msg(seed, wire.PathTopology, wire.SubscribeTopology{ReplyTo: ref(wire.PathTopologySub)})
	seed = msg(seed, wire.PathCoordPrefix+"c", wire.GetShardLocation{ShardID: 1, ReplyTo: ref("/_proxy-c")})
	seed = msg(seed, wire.PathRegionPrefix+"c", wire.ShardEnvelope{EntityID: "e", Message: fuzzAsk{ReplyTo: ref("/_ask/1"), N: 1}})
	seed = msg(seed, "/svc", fuzzAsk{ReplyTo: ref("/_ask/2")})
	seed = msg(seed, wire.PathCoordPrefix+"c", wire.ShardLocation{ShardID: 2, Node: n.Addr()})
	seed = msg(seed, wire.PathTopology, wire.UnsubscribeTopology{Subscriber: ref(wire.PathTopologySub)})
	f.Add(seed)
	f.Add(append(append([]byte(nil), hs...), hs...))
	f.Add(msg(nil, wire.PathTopology, wire.SubscribeTopology{ReplyTo: ref("/x")}))
	f.Add(append(append([]byte(nil), hs...), 0, 0, 0, 9, wire.FrameMessage, 0, 0, 0, 2, '{', '}', 'x', 'y'))
	addHeadSeeds(f, hs, msg, ref)

	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Equal(data, seed) {
			ranSeed.Store(true)
		}
		l := n.newLink()
		l.in.maxHeads = wire.MaxHeads
		for len(data) > 0 {
			typ, body, m, err := wire.ParseFrame(data, n.cfg.MaxFrameSize)
			if err != nil || m == 0 {
				break
			}
			fed.Add(1)
			if n.handleFrame(l, typ, body) == resClose {
				break
			}
			data = data[m:]
		}
		l.teardown(errClosed)
		checkFuzzProperties(t, n, &strays, fed.Load(), start, baseGoroutines, maxEntities)
	})
}

// addHeadSeeds adds FuzzHandleFrames's seeds of heads (every fuzzed link
// takes them, whatever its handshake): a definition of a region and of a
// service, frames through both, and a frame through an id never defined.
func addHeadSeeds(f *testing.F, hs []byte, msg func([]byte, string, any) []byte, ref func(string) wire.Ref) {
	headed := func(dst []byte, id int, path string, v any) []byte {
		m := msg(nil, path, v)
		hl := int(binary.BigEndian.Uint32(m[wire.FrameHeaderLen:]))
		head := m[wire.FrameHeaderLen-1 : wire.FrameHeaderLen+4+hl] // type byte, header_len, header
		dst = wire.AppendHeadDefinition(dst, id, head)
		start := len(dst)
		dst = wire.AppendHeadRef(append(dst, 0, 0, 0, 0), id)
		dst = append(dst, m[wire.FrameHeaderLen+4+hl:]...)
		binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
		return dst
	}
	hseed := append([]byte(nil), hs...)
	hseed = headed(hseed, 1, wire.PathRegionPrefix+"c", wire.ShardEnvelope{EntityID: "h", Message: fuzzAsk{ReplyTo: ref("/_ask/3"), N: 1}})
	hseed = headed(hseed, 63, "/svc", fuzzAsk{ReplyTo: ref("/_ask/4")})
	f.Add(hseed)
	f.Add(append(append([]byte(nil), hs...), 0, 0, 0, 3, wire.FrameHeaded, 7, 1))
}

// checkFuzzProperties checks FuzzHandleFrames's properties after an input
// (see its comment); fed counts the frames handed to the handler since
// start.
func checkFuzzProperties(t *testing.T, n *Node, strays *atomic.Int64, fed int64, start Stats, baseGoroutines, maxEntities int) {
	t.Helper()
	if k := strays.Load(); k != 0 {
		t.Fatalf("%d entities created for a shard this node does not own", k)
	}
	st := n.Stats()
	if p := st.MessagesProcessed - start.MessagesProcessed; p > fed {
		t.Fatalf("%d messages processed for %d frames fed", p, fed)
	}
	if u := st.UnexpectedMessages - start.UnexpectedMessages; u > fed {
		t.Fatalf("%d unexpected messages counted for %d frames fed", u, fed)
	}
	if st.EntitiesLive > int64(maxEntities) || st.EntitiesLive < 0 {
		t.Fatalf("%d live entities, bound %d", st.EntitiesLive, maxEntities)
	}
	if st.Subscribers > int64(n.cfg.MaxSubscribers) {
		t.Fatalf("%d subscribers, bound %d", st.Subscribers, n.cfg.MaxSubscribers)
	}
	if st.InboundBuffered > int64(n.cfg.InboundBudget) {
		t.Fatalf("%d inbound bytes charged, budget %d", st.InboundBuffered, n.cfg.InboundBudget)
	}
	n.loc.mu.Lock()
	pending := len(n.loc.pending)
	n.loc.mu.Unlock()
	if pending > n.cfg.MaxPendingRequests {
		t.Fatalf("%d pending requests, bound %d", pending, n.cfg.MaxPendingRequests)
	}
	// Goroutines the input started (a dial to an address a frame named,
	// a reply being written) end; a leak per input would grow without
	// bound. Polled only when over the margin.
	const margin = 64
	if runtime.NumGoroutine() > baseGoroutines+margin {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > baseGoroutines+margin {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines, %d at the start of fuzzing", runtime.NumGoroutine(), baseGoroutines)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
