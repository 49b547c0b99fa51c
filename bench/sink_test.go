package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// sinkNode is a scripted one-node "cluster" that costs as little as a node
// can: it answers the handshake, answers SubscribeTopology with a snapshot
// that allocates every shard of "counter" to itself (and GetShardLocation
// with itself), and otherwise only reads each frame's target path and
// counts the frames sent to /_region-counter. Benchmarks against it measure
// the client alone: no entity work competes for the CPU, and the process's
// allocations are the client's (the sink reads into a reused buffer).
//
// Goroutines: one accept loop and one reader per connection, all stopped
// and waited for by close.
type sinkNode struct {
	ln     net.Listener
	addr   wire.NodeAddress
	reg    *castyjson.Registry
	frames atomic.Int64 // frames to /_region-counter

	mu    sync.Mutex
	conns map[net.Conn]struct{} // guarded by mu
	wg    sync.WaitGroup
}

func newSinkNode(tb testing.TB) *sinkNode {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, workload.DefaultModule); err != nil {
		tb.Fatal(err)
	}
	s := &sinkNode{ln: ln, addr: wire.NodeAddress{Host: "127.0.0.1", Port: tcp.Port}, reg: reg, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s
}

func (s *sinkNode) contact() string { return s.addr.String() }

func (s *sinkNode) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *sinkNode) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			_ = s.serve(c) // the client closing is the normal end
		}()
	}
}

var (
	regionNeedle = []byte(wire.PathRegionPrefix + workload.DefaultEntityType + `"`)
	errSink      = errors.New("sink: unexpected input")
)

func (s *sinkNode) serve(c net.Conn) error {
	fr := wire.NewFrameReader(c, wire.DefaultMaxFrameSize)
	typ, body, err := fr.Next()
	if err != nil {
		return err
	}
	if typ != wire.FrameHandshake {
		return errSink
	}
	if _, err := wire.ParseHandshake(body); err != nil {
		return err
	}
	if _, err := c.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: s.addr.Host, Port: s.addr.Port})); err != nil {
		return err
	}
	var out []byte
	for {
		typ, body, err := fr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if typ != wire.FrameMessage {
			continue
		}
		// Fast path: a region frame's header holds `/_region-counter"`
		// (the end of its target URI); control frames never do. Cheaper
		// than a full header parse, so the sink stays out of the way.
		if len(body) >= 4 {
			hl := int(binary.BigEndian.Uint32(body))
			if hl <= len(body)-4 && bytes.Contains(body[4:4+hl], regionNeedle) {
				s.frames.Add(1)
				continue
			}
		}
		// Control traffic: decode and answer.
		_, payload, err := wire.ParseMessage(body)
		if err != nil {
			return err
		}
		v, err := s.reg.Decode(payload)
		if err != nil {
			return err
		}
		var reply any
		var to wire.Ref
		switch m := v.(type) {
		case wire.SubscribeTopology:
			reply, to = s.snapshot(), m.ReplyTo
		case wire.GetShardLocation:
			reply, to = wire.ShardLocation{ShardID: m.ShardID, Node: s.addr, Replicas: []wire.NodeAddress{}}, m.ReplyTo
		default:
			continue // UnsubscribeTopology and anything else: ignored
		}
		sender := wire.NodeURI(workload.DefaultSystem, s.addr, "/")
		sender = strings.TrimSuffix(sender, "/") + "/"
		out, err = s.reg.AppendMessageFrame(out[:0], to.String(), sender, reply, wire.DefaultMaxFrameSize)
		if err != nil {
			return err
		}
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
}

func (s *sinkNode) snapshot() wire.TopologySnapshot {
	allocs := make(map[int]wire.ShardAllocation, stackShards)
	for i := range stackShards {
		allocs[i] = wire.ShardAllocation{Primary: s.addr, Replicas: []wire.NodeAddress{}}
	}
	leader := s.addr
	return wire.TopologySnapshot{
		Members:          []wire.Member{{Address: s.addr, Status: wire.StatusUp, Roles: []string{}, ID: "sink"}},
		Leader:           &leader,
		ShardAllocations: map[string]map[int]wire.ShardAllocation{workload.DefaultEntityType: allocs},
		AllocationEpoch:  1,
		Unreachable:      []wire.NodeAddress{},
		Registry:         []wire.ServiceEntry{},
	}
}
