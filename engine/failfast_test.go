package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/netconn"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// dialFails dials addr (plaintext) and returns the error, which must come
// within one second of the dial (the handshake timeout is 5 s: a failure
// after a timeout would not be fast).
func dialFails(t *testing.T, addr, system string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, Config{ContactPoints: []string{addr}, SystemName: system, HandshakeTimeout: 5 * time.Second})
	if err == nil {
		c.Close()
		t.Fatalf("Dial(%s) succeeded", addr)
	}
	if d := time.Since(start); d >= 5*time.Second {
		t.Errorf("Dial(%s) failed after %v (the handshake timeout): %v", addr, d, err)
	}
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("Dial(%s): %v, want ErrHandshake", addr, err)
	}
	return err
}

// TestNotCastyPeer: a contact point that is not a Casty node gets an error
// that says so and quotes what it sent, not a frame-length error.
func TestNotCastyPeer(t *testing.T) {
	t.Run("http", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		err := dialFails(t, srv.Listener.Addr().String(), "live")
		var nc *NotCastyError
		if !errors.As(err, &nc) || !strings.HasPrefix(string(nc.Got), "HTTP/1.") {
			t.Fatalf("got %v, want a *NotCastyError with the HTTP reply", err)
		}
		for _, want := range []string{"not a Casty node", "an HTTP server", `with "HTTP/1.`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
	})
	t.Run("tls", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		defer srv.Close()
		err := dialFails(t, srv.Listener.Addr().String(), "live")
		if !errors.Is(err, ErrTLSRequired) {
			t.Fatalf("got %v, want ErrTLSRequired", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		addr := rawNode(t, func(c net.Conn) {
			_, _ = c.Write([]byte("garbage\x00\xff\n"))
			buf := make([]byte, 1)
			_, _ = c.Read(buf) // until the client closes
		})
		err := dialFails(t, addr, "live")
		var nc *NotCastyError
		if !errors.As(err, &nc) {
			t.Fatalf("got %v, want a *NotCastyError", err)
		}
		if want := `"garbage\x00\xff\n"`; !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not quote the bytes as %s", err, want)
		}
	})
	t.Run("short", func(t *testing.T) {
		addr := rawNode(t, func(c net.Conn) { _, _ = c.Write([]byte("no")) })
		err := dialFails(t, addr, "live")
		var nc *NotCastyError
		if !errors.As(err, &nc) || string(nc.Got) != "no" {
			t.Fatalf("got %v, want a *NotCastyError quoting \"no\"", err)
		}
	})
	t.Run("gossip port", func(t *testing.T) {
		lc := startCluster(t, 1, nodetest.Options{})
		err := dialFails(t, lc.Node(0).GossipAddr(), workload.DefaultSystem)
		var nc *NotCastyError
		var ce *ClosedError
		if !errors.As(err, &nc) && !errors.As(err, &ce) {
			t.Fatalf("got %v, want a *NotCastyError or a *ClosedError", err)
		}
		t.Log(err)
		if !strings.Contains(err.Error(), "gossip") {
			t.Errorf("%q does not mention a gossip port", err)
		}
	})
}

// TestSystemNameRefused: a zerohop node of another system answers with
// its reason before closing; the error names both system names. A node
// that just closes (Casty) gets the "check SystemName" sentence.
func TestSystemNameRefused(t *testing.T) {
	t.Run("zerohop node", func(t *testing.T) {
		lc := startCluster(t, 1, nodetest.Options{})
		err := dialFails(t, lc.ContactPoints()[0], "wrong")
		var se *SystemError
		if !errors.As(err, &se) || se.Peer != workload.DefaultSystem || se.Want != "wrong" {
			t.Fatalf("got %v, want a *SystemError naming %q and %q", err, workload.DefaultSystem, "wrong")
		}
	})
	t.Run("closes", func(t *testing.T) {
		addr := rawNode(t, func(c net.Conn) {
			// The handshake (or the first 5 bytes of the client's TLS
			// probe), then close.
			hdr := make([]byte, 5)
			if _, err := io.ReadFull(c, hdr); err != nil || hdr[0] == 0x16 {
				return
			}
			_, _ = io.ReadFull(c, make([]byte, int(binary.BigEndian.Uint32(hdr))-1))
		})
		err := dialFails(t, addr, "mine")
		var ce *ClosedError
		if !errors.As(err, &ce) {
			t.Fatalf("got %v, want a *ClosedError", err)
		}
		if want := `the node closed the connection right after the handshake: check SystemName (we sent "mine")`; !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	})
}

// TestEntityRefAgainstZerohopAnnouncement: zerohop nodes announce the
// cluster's entity types and shard counts in their handshake, so a wrong
// shard count or an unknown type fails EntityRef at once, right after
// Dial; the right one works.
func TestEntityRefAgainstZerohopAnnouncement(t *testing.T) {
	lc := startCluster(t, 1, nodetest.Options{})
	c := dialCluster(t, lc, nil)
	_, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards/2)
	var sm *ShardsMismatchError
	if !errors.As(err, &sm) || sm.Have != workload.DefaultShards || sm.Got != workload.DefaultShards/2 || sm.Node != lc.Addr(0) {
		t.Fatalf("EntityRef with half the shards: %v, want a *ShardsMismatchError (%d, %d, %s)", err, workload.DefaultShards, workload.DefaultShards/2, lc.Addr(0))
	}
	_, err = c.EntityRef("no-such-type", 8)
	var ut *UnknownEntityTypeError
	if !errors.As(err, &ut) || ut.Type != "no-such-type" || !slices.Contains(ut.Known, workload.DefaultEntityType) {
		t.Fatalf("EntityRef of an unknown type: %v, want an *UnknownEntityTypeError listing %q", err, workload.DefaultEntityType)
	}
	t.Log(sm, "|", ut)
	ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := getCount(ctx, c, ref, "e1"); err != nil {
		t.Fatal(err)
	}
}

// TestEntityRefAnnouncedLater: a ref made before any zerohop node
// announced (here: a client of Casty-like fake nodes, then the
// announcement arrives on a handshake) fails its Tells once the
// announcement contradicts it, and works again once one accepts it.
func TestEntityRefAnnouncedLater(t *testing.T) {
	cl := newFakeCluster(t, 1)
	c := dialFake(t, cl, nil)
	ref, err := c.EntityRef("counter", 32)
	if err != nil {
		t.Fatal(err)
	}
	node := wire.NodeAddress{Host: "10.1.2.3", Port: 1}
	c.noteAnnounced(node, []wire.EntityShards{{Type: "counter", Shards: 64}})
	var sm *ShardsMismatchError
	if err := ref.Tell("e", workload.Increment{Amount: 1}); !errors.As(err, &sm) || sm.Have != 64 || sm.Node != node {
		t.Fatalf("Tell after a contradicting announcement: %v, want a *ShardsMismatchError", err)
	}
	c.noteAnnounced(node, []wire.EntityShards{{Type: "counter", Shards: 32}})
	if err := ref.Tell("e", workload.Increment{Amount: 1}); err != nil {
		t.Fatalf("Tell after an agreeing announcement: %v", err)
	}
	// A node that does not know the type yet (just started) fails no ref
	// in use; a new EntityRef of a type it lacks is refused.
	c.noteAnnounced(node, []wire.EntityShards{{Type: "other", Shards: 4}})
	if err := ref.Tell("e", workload.Increment{Amount: 1}); err != nil {
		t.Fatalf("Tell after an announcement without the type: %v", err)
	}
	var ut *UnknownEntityTypeError
	if _, err := c.EntityRef("third", 4); !errors.As(err, &ut) {
		t.Fatalf("EntityRef of a type the announcement lacks: %v", err)
	}
}

// TestEntityRefAgainstCastyTable: Casty announces nothing, but a topology
// table that allocates a shard id >= n of the type shows the cluster has
// more shards: the ref fails (its Tells and Asks return the error), and a
// new EntityRef fails at once.
func TestEntityRefAgainstCastyTable(t *testing.T) {
	cl := newFakeCluster(t, 1)
	c := dialFake(t, cl, nil)
	ref, err := c.EntityRef("counter", 16)
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell("e", workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	cl.setAlloc("counter", 20, 0) // shard 20 of a 32-shard cluster
	cl.pushAll()
	var sm *ShardsMismatchError
	waitFor(t, "the ref fails", func() bool {
		return errors.As(ref.Tell("e", workload.Increment{Amount: 1}), &sm)
	})
	if sm.Have != 21 || sm.Got != 16 || !sm.AtLeast || sm.Node != cl.nodes[0].addr {
		t.Fatalf("got %+v", sm)
	}
	before := c.Stats().Drops[DropMisconfigured]
	if err := ref.Tell("e", workload.Increment{Amount: 1}); !errors.As(err, &sm) {
		t.Fatal(err)
	}
	if got := c.Stats().Drops[DropMisconfigured]; got != before+1 {
		t.Fatalf("Drops[misconfigured] %d -> %d, want one more", before, got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := getCount(ctx, c, ref, "e"); !errors.As(err, &sm) {
		t.Fatalf("Ask: %v, want a *ShardsMismatchError", err)
	}
	c2 := dialFake(t, cl, nil)
	waitFor(t, "snapshot applied", func() bool { return c2.Stats().Epoch > 0 })
	if _, err := c2.EntityRef("counter", 16); !errors.As(err, &sm) {
		t.Fatalf("EntityRef after the table: %v, want a *ShardsMismatchError", err)
	}
	if _, err := c2.EntityRef("counter", 32); err != nil {
		t.Fatalf("EntityRef with the right count: %v", err)
	}
	t.Log(sm)
}

// TestAskUnknownMessageType: a message type the node does not know (the
// client registered it under another Python module) fails the Ask within
// one round trip with an *UndeliverableError naming the reason, not after
// the ask timeout; counted in Stats().Undeliverable.
func TestAskUnknownMessageType(t *testing.T) {
	lc := startCluster(t, 1, nodetest.Options{})
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	c := dialReady(t, Config{ContactPoints: lc.ContactPoints(), SystemName: workload.DefaultSystem, Types: reg}, nil)
	ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	_, err = getCount(ctx, c, ref, "e1")
	var ue *UndeliverableError
	if !errors.As(err, &ue) || ue.Reason != wire.ReasonUnknownMessageType || ue.EntityID != "e1" {
		t.Fatalf("ask with a type the node does not know: %v, want an *UndeliverableError %q", err, wire.ReasonUnknownMessageType)
	}
	if d := time.Since(start); d >= 30*time.Second {
		t.Fatalf("failed after %v: not within one round trip", d)
	}
	if !strings.Contains(err.Error(), "check the name (Python module)") {
		t.Errorf("%q does not say what to check", err)
	}
	if got := c.Stats().Undeliverable; got != 1 {
		t.Fatalf("Stats().Undeliverable %d, want 1", got)
	}
	t.Log(err)
}

// TestMisconfigurationTable: the table of package doc's "Misconfiguration"
// section quotes each error's message exactly (column 32 of the code
// block is the message column; wrapped lines join with a space).
func TestMisconfigurationTable(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "//\tMistake ")
	end := strings.Index(text[start:], "\n//\n")
	if start < 0 || end < 0 {
		t.Fatal("no Misconfiguration table in doc.go")
	}
	var rows []string
	for _, line := range strings.Split(text[start:start+end], "\n")[1:] {
		line = strings.TrimPrefix(line, "//\t")
		msg := ""
		if len(line) > 32 {
			msg = strings.TrimSpace(line[32:])
		}
		switch {
		case line[0] != ' ':
			rows = append(rows, msg)
		case msg != "":
			rows[len(rows)-1] += " " + msg
		}
	}
	node := wire.NodeAddress{Host: "10.0.0.1", Port: 25520}
	cases := []struct {
		typ string
		err error
	}{
		{"*NotCastyError", &NotCastyError{Got: []byte("HTTP/1.0 404 Not Found\r\n"), Probed: true}},
		{"*NotCastyError", &NotCastyError{Got: []byte("garbage\x00\xff\n")}},
		{"ErrTLSRequired", ErrTLSRequired},
		{"*ClosedError", &ClosedError{System: "live", Cause: io.EOF}},
		{"*SystemError", &SystemError{Peer: "live", Want: "wrong"}},
		{"*ShardsMismatchError", &ShardsMismatchError{Type: "counter", Have: 32, Got: 16, Node: node}},
		{"*ShardsMismatchError", &ShardsMismatchError{Type: "counter", Have: 21, Got: 16, Node: node, AtLeast: true}},
		{"*UnknownEntityTypeError", &UnknownEntityTypeError{Type: "countr", Node: node, Known: []string{"counter"}}},
		{"*UndeliverableError", &UndeliverableError{Reason: wire.ReasonUnknownMessageType, Type: "counter", Shard: 3, EntityID: "e1"}},
		{"*UndeliverableError", &UndeliverableError{Reason: wire.ReasonUnknownEntityType, Type: "countr", Shard: -1, EntityID: "e1"}},
	}
	if len(rows) != len(cases) {
		t.Fatalf("%d table rows, %d cases", len(rows), len(cases))
	}
	for i, tc := range cases {
		want := tc.typ + ": " + tc.err.Error()
		if !strings.HasPrefix(rows[i], want) {
			t.Errorf("row %d:\n got %s\nwant %s", i, rows[i], want)
		}
	}
}

// TestNoHTTPProbeOfAKnownNode: a node that answered a handshake once is a
// node; when it is slow to answer a later one (past ProbeAfter), the client
// waits for it and opens no second, probing connection (whose bytes a Casty
// node would log as a bad frame).
func TestNoHTTPProbeOfAKnownNode(t *testing.T) {
	cl := newFakeCluster(t, 1)
	nd := cl.nodes[0]
	c := dialFake(t, cl, nil)
	waitFor(t, "connected", func() bool { return c.Stats().Connects == 1 })
	nd.mu.Lock()
	nd.handshake = func(fc *fakeConn, _ wire.Handshake) []byte {
		time.Sleep(2 * netconn.ProbeAfter) // slow, then a normal reply
		return wire.AppendHandshakeFrame(nil, wire.Handshake{Host: nd.addr.Host, Port: nd.addr.Port})
	}
	before := nd.accepted.Load()
	for _, fc := range nd.conns {
		_ = fc.conn.Close()
	}
	nd.mu.Unlock()
	waitFor(t, "reconnected", func() bool { return c.Stats().Reconnects >= 1 })
	if got := nd.accepted.Load() - before; got != 1 {
		t.Fatalf("the reconnect took %d connections, want 1 (no HTTP probe of a node that answered before)", got)
	}
}

// TestTableEvidenceIsFinal: a table that allocates a shard past the ref's
// count marks the type misconfigured for good, even when an announcement
// had marked it first: a later announcement that agrees with the ref does
// not clear the table's evidence (it clears only its own).
func TestTableEvidenceIsFinal(t *testing.T) {
	c, nc := fuzzClient(t)
	c.closing.Store(false)
	ref, err := c.EntityRef("other", 16)
	c.closing.Store(true)
	if err != nil {
		t.Fatal(err)
	}
	a := wire.NodeAddress{Host: "127.0.0.1", Port: 2}
	c.noteAnnounced(a, []wire.EntityShards{{Type: "other", Shards: 8}})
	if b := ref.et.table.Load().bad; b == nil || !b.announced {
		t.Fatalf("after a contradicting announcement: bad %+v, want one from the announcement", b)
	}
	c.onSnapshot(nc, &wire.TopologySnapshot{
		AllocationEpoch:  1,
		Leader:           &a,
		Members:          []wire.Member{{Address: a, Status: wire.StatusUp, ID: "a"}},
		ShardAllocations: map[string]map[int]wire.ShardAllocation{"other": {20: {Primary: a}}},
	})
	if b := ref.et.table.Load().bad; b == nil || b.announced {
		t.Fatalf("after a table allocating shard 20: bad %+v, want the table's evidence", b)
	}
	c.noteAnnounced(a, []wire.EntityShards{{Type: "other", Shards: 16}})
	if b := ref.et.table.Load().bad; b == nil || b.announced {
		t.Fatalf("after an agreeing announcement: bad %+v, want the table's evidence kept", b)
	}
}

// TestEntityRefRoutesWithTheAnnouncedHash: a type is routed with MD5
// (Casty's) until a zerohop node announces another hash for it, with the
// announced hash from then on (published in the route table a Tell
// loads), also by a ref made after the announcement; an announcement
// without the type leaves its hash alone, one naming it MD5 sets MD5.
func TestEntityRefRoutesWithTheAnnouncedHash(t *testing.T) {
	cl := newFakeCluster(t, 1)
	c := dialFake(t, cl, nil)
	ref, err := c.EntityRef("counter", 32)
	if err != nil {
		t.Fatal(err)
	}
	hashOf := func(r *EntityRef) ring.Hash { return r.et.table.Load().hash }
	if h := hashOf(ref); h != ring.HashMD5 {
		t.Fatalf("before any announcement (Casty-like nodes): hash %v, want md5", h)
	}
	node := wire.NodeAddress{Host: "10.1.2.3", Port: 1}
	c.noteAnnounced(node, []wire.EntityShards{{Type: "counter", Shards: 32, Hash: "xxh64"}, {Type: "later", Shards: 8, Hash: "xxh64"}, {Type: "plain", Shards: 4}})
	if h := hashOf(ref); h != ring.HashXXH64 {
		t.Fatalf("after an xxh64 announcement: hash %v, want xxh64", h)
	}
	for _, id := range []string{"e", "user-42", "x"} {
		if got, want := ref.et.shardOf(ref.et.table.Load(), id), ring.ShardXX(id, 32); got != want {
			t.Fatalf("shard of %q: got %d, want ShardXX's %d", id, got, want)
		}
	}
	later, err := c.EntityRef("later", 8)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.EntityRef("plain", 4)
	if err != nil {
		t.Fatal(err)
	}
	if hashOf(later) != ring.HashXXH64 || hashOf(plain) != ring.HashMD5 {
		t.Fatalf("refs made after the announcement: hashes %v, %v, want xxh64, md5", hashOf(later), hashOf(plain))
	}
	c.noteAnnounced(node, []wire.EntityShards{{Type: "other", Shards: 4}})
	if h := hashOf(ref); h != ring.HashXXH64 {
		t.Fatalf("after an announcement without the type: hash %v, want xxh64 kept", h)
	}
	c.noteAnnounced(node, []wire.EntityShards{{Type: "counter", Shards: 32}})
	if h := hashOf(ref); h != ring.HashMD5 {
		t.Fatalf("after an md5 announcement: hash %v, want md5", h)
	}
}
