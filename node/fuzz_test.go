package node

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
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
// handler of a running single node as one inbound connection: the node
// never panics, whatever the frames say (handshakes, topology,
// coordinator, region and service messages, garbage).
func FuzzHandleFrames(f *testing.F) {
	reg := castyjson.NewRegistry()
	reg.MustRegister("fz.Ask", fuzzAsk{})
	echo := EntityFunc(func(ctx *Context, msg any) {
		if a, ok := msg.(fuzzAsk); ok {
			_ = ctx.Reply(a.ReplyTo, a)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := Start(ctx, Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), MailboxSize: 16,
		OutboundLimit: 64 << 10, MaxFrameSize: 64 << 10, MaxPendingRequests: 64, MaxSubscribers: 64,
		Entities: []EntityType{{Name: "c", Shards: 4, New: func(string) Entity { return echo }}},
		Services: []Service{{Key: "k", Path: "/svc", Handler: echo}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = n.Close(context.Background()) })

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

	f.Fuzz(func(t *testing.T, data []byte) {
		l := n.newLink()
		defer l.teardown(errClosed)
		for len(data) > 0 {
			typ, body, m, err := wire.ParseFrame(data, n.cfg.MaxFrameSize)
			if err != nil || m == 0 {
				return
			}
			if n.handleFrame(l, typ, body) == resClose {
				return
			}
			data = data[m:]
		}
	})
}
