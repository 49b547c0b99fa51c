package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// speakZerohop makes cl's nodes announce the zerohop extension in their
// handshakes, as Go nodes do (Casty nodes do not).
func speakZerohop(cl *fakeCluster) {
	for _, nd := range cl.nodes {
		nd.mu.Lock()
		a := nd.addr
		nd.handshake = func(*fakeConn, wire.Handshake) []byte {
			return wire.AppendHandshakeFrame(nil, wire.Handshake{Host: a.Host, Port: a.Port, Zerohop: &wire.Extension{
				System: testSystem, Version: 1, Codecs: []string{"json"}, Codec: "json", ShardHash: "md5", Role: wire.RoleNode}})
		}
		nd.mu.Unlock()
	}
}

// ShardUnavailable from a zerohop node that cannot reach a quorum: the held
// messages fail, asks with ErrNoQuorum; new ones fail fast for about
// RequeryDelay; then the location is asked for again, and the shard routes
// once a node names an owner. The client is on the side without the
// leader: the snapshot names none, or the leader it names is unreachable;
// either way the query goes to the primary (a zerohop node), not nowhere.
func TestShardUnavailableNoQuorum(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, cl *fakeCluster, c *Client) // after Dial
	}{
		{"no leader", nil},
		{"leader unreachable", func(t *testing.T, cl *fakeCluster, c *Client) {
			n1 := cl.nodes[1]
			waitFor(t, "connected to the leader", func() bool { return connUpTo(c, n1.addr) })
			n1.kill()
			waitFor(t, "the leader's connection down", func() bool { return connDownTo(c, n1.addr) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newFakeCluster(t, 2)
			speakZerohop(cl)
			cl.allocate = func(string, int) int { return 0 }
			if tc.setup == nil {
				cl.setLeader(-1)
			} else {
				cl.setLeader(1)
			}
			const shard = 11
			id := entityOnShard(t, shard, 32, "nq")
			var quorum atomic.Bool
			answer := make(chan struct{}) // the first answer waits until a tell and an ask are held
			var answered sync.Once
			release := func() { answered.Do(func() { close(answer) }) }
			t.Cleanup(release)
			n0 := cl.nodes[0]
			n0.setHook(func(fc *fakeConn, m fakeMsg) bool {
				q, ok := m.Msg.(wire.GetShardLocation)
				if !ok || quorum.Load() {
					return false
				}
				<-answer
				fc.send(q.ReplyTo, wire.ShardUnavailable{ShardID: q.ShardID, Reason: wire.ReasonNoQuorum})
				return true
			})
			const requery = 4 * time.Second // fail fast for 2-6 s
			c := dialFake(t, cl, func(cfg *Config) {
				cfg.RequeryDelay = requery
				cfg.AskTimeout = time.Minute
			})
			if tc.setup != nil {
				tc.setup(t, cl, c)
			}
			ref, _ := c.EntityRef("counter", 32)
			if err := ref.Tell(id, workload.Increment{Amount: 1}); err != nil {
				t.Fatalf("tell while the location is unknown (held): %v", err)
			}
			askErr := make(chan error, 1)
			go func() {
				_, err := getCount(context.Background(), c, ref, id)
				askErr <- err
			}()
			waitFor(t, "a tell and an ask held", func() bool { return c.Stats().Buffered == 2 })
			release()
			err := <-askErr
			var su *ShardUnavailableError
			if !errors.As(err, &su) || !errors.Is(err, ErrNoQuorum) || !errors.Is(err, ErrShardUnavailable) ||
				su.Node != n0.addr || su.Type != "counter" || su.Shard != shard || su.Reason != wire.ReasonNoQuorum {
				t.Fatalf("held ask: got %v, want a no-quorum *ShardUnavailableError from %v", err, n0.addr)
			}
			queries := countMsgs[wire.GetShardLocation](n0, wire.PathCoordPrefix)
			err = ref.Tell(id, workload.Increment{Amount: 1})
			if !errors.As(err, &su) || !errors.Is(err, ErrNoQuorum) {
				t.Fatalf("tell right after the answer: got %v, want fail fast with ErrNoQuorum", err)
			}
			st := c.Stats()
			if st.UnavailableAnswers == 0 || st.Drops[DropUnavailable] != 3 || st.Buffered != 0 {
				t.Fatalf("unavailable answers %d, shard_unavailable drops %d (want 3: held tell, held ask, tell), buffered %d",
					st.UnavailableAnswers, st.Drops[DropUnavailable], st.Buffered)
			}
			if n := countMsgs[wire.GetShardLocation](n0, wire.PathCoordPrefix); n != queries {
				t.Fatalf("a failed-fast tell sent a query (%d -> %d)", queries, n)
			}
			if n := countMsgs[wire.GetShardLocation](cl.nodes[1], wire.PathCoordPrefix); n != 0 {
				t.Fatalf("%d queries to node 1, want them at the primary", n)
			}
			// The quorum is back: the retry (no new message needed) routes it.
			quorum.Store(true)
			waitFor(t, "location retried and applied", func() bool {
				_, ok := ref.et.table.Load().Owner(shard)
				return ok
			})
			if err := ref.Tell(id, workload.Increment{Amount: 5}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "delivered", func() bool { return n0.count(id) == 5 })
		})
	}
}

// A Casty primary (no zerohop extension) is not asked for locations in the
// leader's place: a Casty node that does not lead may never answer, and
// the query would then wait for its timeout after a leader appeared. The
// held message waits for the leader instead.
func TestNoLeaderCastyPrimaryNotQueried(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cl.setLeader(-1)
	c := dialFake(t, cl, func(cfg *Config) { cfg.RefreshInterval = 50 * time.Millisecond })
	ref, _ := c.EntityRef("counter", 32)
	if err := ref.Tell("casty", workload.Increment{Amount: 1}); err != nil {
		t.Fatal(err)
	}
	n0 := cl.nodes[0]
	// Six refresh ticks that could have sent a query.
	poll.Never(t, "a location query to a Casty node that does not lead", 300*time.Millisecond,
		func() bool { return countMsgs[wire.GetShardLocation](n0, wire.PathCoordPrefix) != 0 })
	cl.setLeader(0)
	cl.pushAll()
	waitFor(t, "delivered once a leader is known", func() bool { return n0.count("casty") == 1 })
}

func TestShardUnavailableErrorIs(t *testing.T) {
	for _, tc := range []struct {
		reason   string
		noQuorum bool
	}{{wire.ReasonNoQuorum, true}, {wire.ReasonNoOwner, false}} {
		err := error(&ShardUnavailableError{Type: "counter", Shard: 1, Reason: tc.reason})
		if !errors.Is(err, ErrShardUnavailable) || errors.Is(err, ErrNoQuorum) != tc.noQuorum || errors.Is(err, ErrOwnerUnavailable) {
			t.Errorf("%s: Is(ErrShardUnavailable) %v, Is(ErrNoQuorum) %v (want %v)", tc.reason,
				errors.Is(err, ErrShardUnavailable), errors.Is(err, ErrNoQuorum), tc.noQuorum)
		}
	}
}

// An ask answered with zerohop.Undeliverable fails with ErrUndeliverable
// (not a reply of the wrong type), counted.
func TestAskUndeliverable(t *testing.T) {
	cl := newFakeCluster(t, 1)
	cl.nodes[0].setHook(func(fc *fakeConn, m fakeMsg) bool {
		env, ok := m.Msg.(wire.ShardEnvelope)
		if !ok {
			return false
		}
		g, ok := env.Message.(workload.GetCount)
		if !ok {
			return false
		}
		fc.send(g.ReplyTo, wire.Undeliverable{Reason: wire.ReasonStaleOwner, Type: "counter", Shard: 4, EntityID: env.EntityID})
		return true
	})
	c := dialFake(t, cl, nil)
	ref, _ := c.EntityRef("counter", 32)
	_, err := getCount(context.Background(), c, ref, "dead-letter")
	var ue *UndeliverableError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUndeliverable) || ue.Reason != wire.ReasonStaleOwner ||
		ue.Type != "counter" || ue.Shard != 4 || ue.EntityID != "dead-letter" {
		t.Fatalf("got %v, want an *UndeliverableError", err)
	}
	var rte *ReplyTypeError
	if errors.As(err, &rte) {
		t.Fatalf("got a ReplyTypeError: %v", err)
	}
	if st := c.Stats(); st.Undeliverable != 1 || st.AsksFailed != 1 {
		t.Fatalf("undeliverable %d, asks failed %d; want 1, 1", st.Undeliverable, st.AsksFailed)
	}
}
