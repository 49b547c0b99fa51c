package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

func TestConfigValidateReportsEverything(t *testing.T) {
	cfg := Config{
		ContactPoints:    []string{"nohost", "127.0.0.1:0"},
		SystemName:       "a/b",
		ClientHost:       "[::1]",
		ClientPort:       70000,
		AdvertisedPort:   5,
		AddressMap:       map[string]string{"x": "127.0.0.1:1"},
		Transport:        "quic",
		AskTimeout:       -1,
		ShardBuffer:      -3,
		ReconnectMin:     time.Minute,
		ReconnectMax:     time.Second,
		SuspectAfter:     -time.Second,
		SocketSendBuffer: -1,
		QueueWaitFrames:  1 << 25,
	}
	cfg.EnsureDefaults()
	err := cfg.Validate()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"ContactPoints[0]", "ContactPoints[1]", "SystemName", "ClientHost", "ClientPort",
		"AdvertisedPort", "AddressMap key", "Transport", "AskTimeout", "ShardBuffer", "ReconnectMin", "SuspectAfter",
		"SocketSendBuffer", "QueueWaitFrames"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q not reported in: %v", want, err)
		}
	}
	if len(ce.Problems) != 14 {
		t.Errorf("%d problems, want 14: %v", len(ce.Problems), ce.Problems)
	}
	// The zero config is invalid only for its required fields.
	var zero Config
	zero.EnsureDefaults()
	err = zero.Validate()
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("zero config: %v", err)
	}
	good := Config{ContactPoints: []string{"127.0.0.1:25520"}, SystemName: "live"}
	good.EnsureDefaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if good.SuspectAfter != DefaultSuspectAfter || good.ReconnectMax != DefaultReconnectMax || good.QueueWaitFrames != DefaultQueueWaitFrames {
		t.Fatalf("defaults: SuspectAfter %v, ReconnectMax %v, QueueWaitFrames %d", good.SuspectAfter, good.ReconnectMax, good.QueueWaitFrames)
	}
}

// rawNode accepts one connection at a time and runs script on it.
func rawNode(t *testing.T, script func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				script(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// Handshake failures give clear typed errors, never a hang.
func TestHandshakeFailures(t *testing.T) {
	readHS := func(c net.Conn) bool {
		_, _, err := readFrame(c)
		return err == nil
	}
	cases := []struct {
		name   string
		script func(c net.Conn)
		want   string
	}{
		{"silent", func(c net.Conn) { readHS(c); time.Sleep(time.Second) }, "no handshake reply"},
		{"message first", func(c net.Conn) {
			if readHS(c) {
				_, _ = c.Write([]byte{0, 0, 0, 3, 1, 0, 0})
			}
		}, "not a Casty node"},
		{"bad json", func(c net.Conn) {
			if readHS(c) {
				_, _ = c.Write([]byte{0, 0, 0, 3, 0, '{', '{'})
			}
		}, "bad handshake"},
		{"other system", func(c net.Conn) {
			if readHS(c) {
				_, _ = c.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: "127.0.0.1", Port: 1, Zerohop: &wire.Extension{System: "other", Role: wire.RoleNode}}))
			}
		}, `system "other"`},
		{"huge length", func(c net.Conn) {
			if readHS(c) {
				_, _ = c.Write([]byte{0x7f, 0, 0, 0, 0})
			}
		}, `not a Casty node: it answered the handshake with "\x7f\x00\x00\x00\x00"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawNode(t, tc.script)
			// A generous bound (a hang is what it catches): under -race
			// -count=5 on a loaded 2-core box a first attempt once took
			// longer than 10 s.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Dial(ctx, Config{ContactPoints: []string{addr}, SystemName: "live", HandshakeTimeout: 200 * time.Millisecond})
			if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a handshake error containing %q", err, tc.want)
			}
		})
	}
}

// Bad input after the handshake closes that connection (typed error,
// logged) and the client recovers on a new one.
// TestBadInputClosesConnection: a frame the client cannot accept (a
// header_len past its body; a length over MaxFrameSize) closes that
// connection, and the client reconnects and keeps working; on both
// transports.
func TestBadInputClosesConnection(t *testing.T) {
	bad := map[string][]byte{
		"header overflow": {0, 0, 0, 6, 1, 0xff, 0xff, 0xff, 0xff, '{'},
		"oversized frame": {0, 0x10, 0, 0, 1}, // 1 MiB announced, MaxFrameSize 64 KiB
	}
	for name, frame := range bad {
		for _, tr := range transports {
			t.Run(name+"/"+tr, func(t *testing.T) {
				cl := newFakeCluster(t, 1)
				var once sync.Once
				cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
					if _, ok := m.Msg.(wire.SubscribeTopology); !ok {
						return false
					}
					sent := false
					once.Do(func() {
						fc.writeRaw(frame)
						sent = true
					})
					return sent
				})
				cfg := Config{ContactPoints: cl.contacts(), SystemName: testSystem, Types: cl.reg,
					ReconnectMin: 20 * time.Millisecond, MaxFrameSize: 64 << 10, Transport: tr}
				c, err := Dial(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := c.WaitTopology(ctx); err != nil {
					t.Fatal(err)
				}
				if st := c.Stats(); st.Reconnects == 0 {
					t.Fatalf("no reconnect after bad input: %+v", st)
				}
				ref, _ := c.EntityRef("counter", 32)
				if _, err := getCount(ctx, c, ref, "after-bad-input"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestTellTooLarge: a message whose frame would exceed MaxFrameSize is
// refused with wire.ErrFrameTooLarge and counted (DropEncode); the
// connection is unharmed.
func TestTellTooLarge(t *testing.T) {
	cl := newFakeCluster(t, 1)
	for s := 0; s < 32; s++ {
		cl.setAlloc("counter", s, 0)
	}
	c := dialFake(t, cl, func(cfg *Config) { cfg.MaxFrameSize = 64 << 10 })
	ref, _ := c.EntityRef("counter", 32)
	huge := strings.Repeat("x", 100<<10) // the entity id alone passes the bound
	err := ref.Tell(huge, workload.Increment{Amount: 1})
	if !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("Tell of a 100 KiB entity id: %v, want wire.ErrFrameTooLarge", err)
	}
	if d := c.Stats().Drops[DropEncode]; d != 1 {
		t.Fatalf("drops[%s] = %d, want 1", DropEncode, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := getCount(ctx, c, ref, "small"); err != nil {
		t.Fatalf("after the refusal: %v", err)
	}
}

// fuzzClient is a client with no connection and no goroutine (closing, so
// that snapshots cannot start any), for feeding frames to onFrame.
func fuzzClient(t testing.TB) (*Client, *nodeConn) {
	cfg := Config{ContactPoints: []string{"127.0.0.1:1"}, SystemName: testSystem, Types: testRegistry(t)}
	cfg.EnsureDefaults()
	c := &Client{cfg: cfg, reg: cfg.Types, log: slog.New(slog.DiscardHandler), identity: cfg.identity(),
		clientSys: testSystem + "-client", conns: map[wire.NodeAddress]*nodeConn{}, types: map[string]*entityType{},
		maintStop: make(chan struct{}), shutdownDone: make(chan struct{}), askPrefix: "0123456789abcdef"}
	c.topo.init()
	c.asks.init(c)
	empty := map[string][]Instance{}
	c.listings.Store(&empty)
	c.rootCtx, c.rootCancel = context.WithCancel(context.Background())
	c.rootCancel()
	c.closing.Store(true)
	c.subRef = c.clientRef(wire.PathTopologySub)
	c.born = time.Now()
	nc := newNodeConn(c, wire.NodeAddress{Host: "127.0.0.1", Port: 1})
	nc.epoch.Store(0)
	c.mu.Lock()
	// nc is the primary subscription: its snapshots are applied.
	c.conns[nc.addr] = nc
	c.connList = append(c.connList, nc)
	c.topo.primary = nc
	et := &entityType{c: c, name: "counter", numShards: 32, regionPath: "/_region-counter", coordPath: "/_coord-counter",
		entries: map[*nodeConn]*routeEntry{}, pending: map[int]*shardQuery{}}
	et.table.Store(newRouteTable(32, ring.HashMD5))
	c.types["counter"] = et
	c.mu.Unlock()
	return c, nc
}

func frameBody(t testing.TB, reg *castyjson.Registry, target string, msg any) []byte {
	f, err := reg.AppendMessageFrame(nil, target, "casty://live@127.0.0.1:1/", msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f[wire.FrameHeaderLen:]
}

// FuzzOnFrame: arbitrary frame bodies never panic the dispatch.
func FuzzOnFrame(f *testing.F) {
	reg := testRegistry(f)
	base := "casty://live-client@127.0.0.1:0"
	na := wire.NodeAddress{Host: "127.0.0.1", Port: 2}
	f.Add(frameBody(f, reg, base+"/_topology_sub", wire.TopologySnapshot{Leader: &na, AllocationEpoch: 3,
		Members:          []wire.Member{{Address: na, Status: wire.StatusUp}},
		ShardAllocations: map[string]map[int]wire.ShardAllocation{"counter": {1: {Primary: na}}},
		Registry:         []wire.ServiceEntry{{Key: "k", Node: na, Path: "/p"}}}))
	f.Add(frameBody(f, reg, base+"/_proxy-counter", wire.ShardLocation{ShardID: 4, Node: na}))
	f.Add(frameBody(f, reg, base+"/_ask/0123456789abcdef0000000000000001", workload.CountReply{EntityID: "x", Value: 1}))
	f.Add(frameBody(f, reg, base+"/_ask/zz", 1))
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Fuzz(func(t *testing.T, body []byte) {
		c, nc := fuzzClient(t)
		goroutines := runtime.NumGoroutine()
		err := c.onFrame(nc, wire.FrameMessage, body)
		if err == nil && len(body) >= 4 && int(binary.BigEndian.Uint32(body)) > len(body)-4 {
			t.Fatalf("accepted an overflowing header_len")
		}
		st1 := c.Stats()
		checkOnFrameProperties(t, Stats{Epoch: -1}, st1, 1)
		// The same frame again (a duplicate, or a snapshot re-sent): the
		// epoch never goes back, and the counters still add up.
		_ = c.onFrame(nc, wire.FrameMessage, body)
		st2 := c.Stats()
		if st2.Epoch < st1.Epoch {
			t.Fatalf("epoch went back from %d to %d on the same frame", st1.Epoch, st2.Epoch)
		}
		checkOnFrameProperties(t, st1, st2, 1)
		if g := runtime.NumGoroutine(); g > goroutines {
			t.Fatalf("%d goroutines after two frames, %d before: the handler of a closing client started one", g, goroutines)
		}
	})
}

// checkOnFrameProperties checks the counters (FuzzOnFrame) from before to
// after, across the given number of inbound frames: each frame is one message, counted under at most
// one inbound outcome; what was applied was received; nothing was told, so
// nothing is buffered, queued or dropped; the epoch never goes back.
func checkOnFrameProperties(t *testing.T, before, after Stats, frames uint64) {
	t.Helper()
	outcomes := (after.UnknownTargets - before.UnknownTargets) + (after.DecodeErrors - before.DecodeErrors) +
		(after.LateReplies - before.LateReplies) + (after.SnapshotsReceived - before.SnapshotsReceived) +
		(after.LocationsApplied - before.LocationsApplied) + (after.LocationsFenced - before.LocationsFenced) +
		(after.UnavailableAnswers - before.UnavailableAnswers)
	if outcomes > frames {
		t.Fatalf("%d inbound outcomes counted for %d frames: %+v", outcomes, frames, after)
	}
	if after.SnapshotsApplied > after.SnapshotsReceived || after.SnapshotsFenced > after.SnapshotsReceived ||
		after.SnapshotsUnchanged > after.SnapshotsApplied {
		t.Fatalf("snapshots received %d, applied %d, fenced %d, unchanged %d: applied, fenced or unchanged beyond received",
			after.SnapshotsReceived, after.SnapshotsApplied, after.SnapshotsFenced, after.SnapshotsUnchanged)
	}
	if after.Buffered != 0 || after.Queued != 0 || after.TellsQueued != 0 {
		t.Fatalf("nothing told, yet buffered %d, queued %d, tells %d", after.Buffered, after.Queued, after.TellsQueued)
	}
	for r, v := range after.Drops {
		if v != 0 {
			t.Fatalf("nothing told, yet %d dropped as %s", v, r)
		}
	}
	if after.Epoch < before.Epoch {
		t.Fatalf("epoch went back from %d to %d", before.Epoch, after.Epoch)
	}
}
