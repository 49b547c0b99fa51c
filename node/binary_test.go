package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/zhbin"
)

// binaryCodec returns a zhbin codec over reg with the workload's binary
// types.
func binaryCodec(t testing.TB, reg *castyjson.Registry) *zhbin.Codec {
	t.Helper()
	c := zhbin.New(reg)
	if err := workload.RegisterBinary(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// startBinaryNode starts a one-node cluster of the counter workload whose
// node speaks zhbin (node.Config.Binary with the workload's types), on
// transport ("": the default), with cfg adjusted by configure (nil:
// nothing more).
func startBinaryNode(t *testing.T, transport string, configure func(cfg *node.Config)) *node.Node {
	t.Helper()
	return startBounded(t, transport, func(cfg *node.Config) {
		cfg.Binary = binaryCodec(t, cfg.Registry)
		if configure != nil {
			configure(cfg)
		}
	})
}

func TestBinaryNegotiation(t *testing.T) { forEachTransport(t, testBinaryNegotiation) }

// testBinaryNegotiation: a client that offers zhbin with the node's table
// gets a connection in zhbin both ways (an ask answered in binary, counted
// as BinaryConnections); every other client stays JSON, and a zhbin payload
// on a JSON connection is not read (DecodeFailures).
func testBinaryNegotiation(t *testing.T, transport string) {
	n := startBinaryNode(t, transport, nil)
	addr := n.Addr()
	offer := func(codecs []string, types []wire.BinaryType) *wire.Extension {
		return &wire.Extension{System: "live", Version: 1, Codecs: codecs, ShardHash: "md5", Role: wire.RoleClient, Binary: types}
	}
	ours := binaryCodec(t, newRegistry(t))
	mismatched := zhbin.New(newRegistry(t))
	mismatched.MustRegister(1, workload.Increment{})

	for i, tc := range []struct {
		name string
		ext  *wire.Extension
		bin  bool
	}{
		{"casty client", nil, false},
		{"zerohop client offering json", offer([]string{"json"}, nil), false},
		{"zhbin offered, no table", offer([]string{"json", zhbin.Name}, nil), false},
		{"zhbin offered, tables differ", offer([]string{"json", zhbin.Name}, mismatched.Types()), false},
		{"zhbin offered, tables agree", offer([]string{"json", zhbin.Name}, ours.Types()), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.Stats()
			rc := dialClient(t, addr, wire.NodeAddress{Host: "127.89.0.1", Port: 1000 + i}, tc.ext)
			x := rc.reply.Zerohop
			if x == nil {
				t.Fatal("reply without the zerohop extension")
			}
			if got := x.Codec == zhbin.Name; got != tc.bin {
				t.Fatalf("node chose codec %q, want zhbin %v", x.Codec, tc.bin)
			}
			if ok, why := zhbin.Negotiated(x, ours.Types(), false); ok != tc.bin {
				t.Fatalf("client side decides %v (%s), want %v", ok, why, tc.bin)
			}
			// Everything works in the connection's codec; replies
			// come back in it.
			var cd wire.Codec = rc.reg
			if tc.bin {
				cd = ours
			}
			region := wire.PathRegionPrefix + workload.DefaultEntityType
			target := wire.NodeURI("live", addr, region)
			sender := "casty://live-client@" + rc.id.String() + "/"
			entity := fmt.Sprintf("e-bin-%d", i)
			write := func(cd wire.Codec, msg any) {
				t.Helper()
				f, err := cd.AppendEnvelopeFrame(nil, target, sender, entity, msg, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := rc.c.Write(f); err != nil {
					t.Fatal(err)
				}
			}
			count := func(cd wire.Codec, want int64, bin bool) {
				t.Helper()
				replyPath := fmt.Sprintf("/_ask/%d", want)
				write(cd, workload.GetCount{ReplyTo: rc.ref(replyPath)})
				payload := recvPayload(t, rc, replyPath)
				if got := len(payload) > 0 && payload[0] == 0x01; got != bin {
					t.Errorf("reply payload % x: binary %v, want %v", payload, got, bin)
				}
				v, err := cd.Decode(payload)
				if err != nil {
					t.Fatal(err)
				}
				if r, ok := v.(workload.CountReply); !ok || r.Value != want {
					t.Errorf("reply: got %#v, want CountReply with value %d", v, want)
				}
			}
			for range 3 {
				write(cd, workload.Increment{Amount: 2})
			}
			count(cd, 6, tc.bin)
			after := n.Stats()
			if got := after.BinaryConnections - before.BinaryConnections; got != map[bool]int64{true: 1}[tc.bin] {
				t.Errorf("BinaryConnections moved by %d, want %v", got, tc.bin)
			}
			if tc.bin {
				return
			}
			// A zhbin payload on a JSON connection is not read.
			write(ours, workload.Increment{Amount: 2})
			poll.Until(t, "the zhbin frame counted as a decode failure", func() bool {
				return n.Stats().DecodeFailures > after.DecodeFailures
			})
			// Counted only: the JSON connection still works.
			write(cd, workload.Increment{Amount: 6})
			count(cd, 12, false)
		})
	}
}

// recvPayload reads frames until a message to path and returns its payload.
func recvPayload(t *testing.T, rc *rawClient, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		typ, body, err := rc.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for a message to %s: %v", path, err)
		}
		if typ != wire.FrameMessage {
			continue
		}
		h, payload, err := wire.ParseMessage(body)
		if err != nil {
			t.Fatal(err)
		}
		if a, err := wire.ParseAddress(h.Target); err == nil && a.Path == path {
			return append([]byte(nil), payload...)
		}
	}
}
