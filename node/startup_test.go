package node

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// TestClientsWhileStarting: a node serves links from the moment it
// listens, before its consensus and membership have started (a restarted
// node, which its clients reconnect to at once). Clients that connect
// then, subscribe to the topology and ask for locations read what the
// consensus publishes (the applied table, the leader) while Start builds
// it: under -race, a consensus published before it is whole, or without
// synchronisation, is a reported race (engine TestClusterKillRestart
// found one in CI: a forward's Node.table against startConsensus), and
// one read before its fsm is set would dereference nil.
func TestClientsWhileStarting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the node listens here next
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, ""); err != nil {
		t.Fatal(err)
	}
	target, err := wire.ParseNodeAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	type started struct {
		n   *Node
		err error
	}
	done := make(chan started, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := Start(ctx, Config{Listen: addr, Raft: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
			Entities: []EntityType{{Name: workload.DefaultEntityType, Shards: 4, New: func(string) Entity { return EntityFunc(func(*Context, any) {}) }}}})
		done <- started{n, err}
	}()
	sender := "casty://live-client@127.89.2.1:1/"
	var frames []byte
	frames = wire.AppendHandshakeFrame(frames, wire.Handshake{Host: "127.89.2.1", Port: 1})
	ref := func(path string) wire.Ref {
		return wire.Ref{Address: wire.Address{System: "live-client", Host: "127.89.2.1", Port: 1, Path: path}}
	}
	for _, m := range []struct {
		path string
		msg  any
	}{
		{wire.PathTopology, wire.SubscribeTopology{ReplyTo: ref(wire.PathTopologySub)}},
		{wire.PathCoordPrefix + workload.DefaultEntityType, wire.GetShardLocation{ShardID: 1, ReplyTo: ref("/_loc")}},
	} {
		if frames, err = reg.AppendMessageFrame(frames, wire.NodeURI("live", target, m.path), sender, m.msg, 0); err != nil {
			t.Fatal(err)
		}
	}
	served := 0
	buf := make([]byte, 4096)
	for {
		select {
		case s := <-done:
			if s.err != nil {
				t.Fatal(s.err)
			}
			s.n.Kill()
			t.Logf("%d connections served while the node started", served)
			return
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			time.Sleep(time.Millisecond) // not listening yet
			continue
		}
		if _, err := c.Write(frames); err == nil {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if k, _ := c.Read(buf); k > 0 {
				served++
			}
		}
		c.Close()
	}
}
