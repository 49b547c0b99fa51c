package node_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// rawClient is a minimal protocol client for tests: one connection, frames
// written and read synchronously.
type rawClient struct {
	t      testing.TB
	c      net.Conn
	fr     *wire.FrameReader
	reg    *castyjson.Registry
	id     wire.NodeAddress
	system string
	node   wire.NodeAddress
	reply  wire.Handshake
}

func newRegistry(t testing.TB) *castyjson.Registry {
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, ""); err != nil {
		t.Fatal(err)
	}
	return reg
}

// dialClient connects to addr with identity id and exchanges handshakes.
func dialClient(t testing.TB, addr wire.NodeAddress, id wire.NodeAddress, ext *wire.Extension) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{t: t, c: c, fr: wire.NewFrameReader(c, 0), reg: newRegistry(t), id: id, system: "live", node: addr}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: id.Host, Port: id.Port, Zerohop: ext})); err != nil {
		t.Fatal(err)
	}
	typ, body, err := rc.next(5 * time.Second)
	if err != nil {
		t.Fatalf("handshake reply: %v", err)
	}
	if typ != wire.FrameHandshake {
		t.Fatalf("first frame type %d, want handshake", typ)
	}
	rc.reply, err = wire.ParseHandshake(body)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func (rc *rawClient) next(d time.Duration) (byte, []byte, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	return rc.fr.Next()
}

func (rc *rawClient) ref(path string) wire.Ref {
	return wire.Ref{Address: wire.Address{System: rc.system + "-client", Host: rc.id.Host, Port: rc.id.Port, Path: path}}
}

// send writes msg to path on the client's node.
func (rc *rawClient) send(path string, msg any) {
	rc.t.Helper()
	rc.sendTo(rc.node, path, msg)
}

func (rc *rawClient) sendTo(n wire.NodeAddress, path string, msg any) {
	rc.t.Helper()
	f, err := rc.reg.AppendMessageFrame(nil, wire.NodeURI(rc.system, n, path), "casty://live-client@"+rc.id.String()+"/", msg, 0)
	if err != nil {
		rc.t.Fatal(err)
	}
	if _, err := rc.c.Write(f); err != nil {
		rc.t.Fatal(err)
	}
}

// recv reads messages until one whose target path is path, within d.
func (rc *rawClient) recv(path string, d time.Duration) (any, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("no message to %s within %v", path, d)
		}
		typ, body, err := rc.next(left)
		if err != nil {
			return nil, err
		}
		if typ != wire.FrameMessage {
			continue
		}
		h, payload, err := wire.ParseMessage(body)
		if err != nil {
			return nil, err
		}
		a, err := wire.ParseAddress(h.Target)
		if err != nil {
			return nil, err
		}
		if a.Path != path {
			continue
		}
		return rc.reg.Decode(payload)
	}
}

// ask sends msg (built with the reply ref) and waits for the reply.
func (rc *rawClient) ask(path string, build func(wire.Ref) any) any {
	rc.t.Helper()
	p := fmt.Sprintf("/_ask/%d", time.Now().UnixNano())
	rc.send(path, build(rc.ref(p)))
	v, err := rc.recv(p, 10*time.Second)
	if err != nil {
		rc.t.Fatalf("ask %s: %v", path, err)
	}
	return v
}

func (rc *rawClient) snapshot() wire.TopologySnapshot {
	rc.t.Helper()
	rc.send(wire.PathTopology, wire.SubscribeTopology{ReplyTo: rc.ref(wire.PathTopologySub)})
	v, err := rc.recv(wire.PathTopologySub, 10*time.Second)
	if err != nil {
		rc.t.Fatal(err)
	}
	ts, ok := v.(wire.TopologySnapshot)
	if !ok {
		rc.t.Fatalf("got %T, want TopologySnapshot", v)
	}
	return ts
}
