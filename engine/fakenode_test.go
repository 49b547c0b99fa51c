package engine

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// A scripted fake cluster for tests that need exact control of the other
// side: loopback TCP servers speaking the framing, handshake and envelope,
// with a minimal topology actor, coordinator, region and node-stats
// service. Hooks let a test intercept any message.

const testSystem = "live"

func testRegistry(t testing.TB) *castyjson.Registry {
	t.Helper()
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, ""); err != nil {
		t.Fatal(err)
	}
	return reg
}

type fakeCluster struct {
	t     testing.TB
	reg   *castyjson.Registry
	nodes []*fakeNode

	mu       sync.Mutex
	epoch    int64
	leader   int                                 // index in nodes; -1 none
	allocs   map[string]map[int]wire.NodeAddress // guarded by mu
	registry []wire.ServiceEntry
	// allocate picks the owner of a new shard (default: shard % len(nodes)).
	allocate func(typ string, shard int) int
	// autoAllocate: the coordinator allocates on GetShardLocation.
	noPush bool         // do not push snapshots to subscribers on changes
	gone   map[int]bool // nodes left out of snapshots (departed members)
	// member, if set, edits node i's entry in snapshots (status, id).
	member func(i int, m *wire.Member)
}

type fakeNode struct {
	cl       *fakeCluster
	idx      int
	ln       net.Listener
	listen   string           // real listen address
	addr     wire.NodeAddress // logical address (handshake, snapshots)
	sink     atomic.Bool      // discard every byte after the current frame
	paused   atomic.Bool      // pushAll skips it (see pause)
	accepted atomic.Int64
	tls      *tls.Config
	wg       sync.WaitGroup
	alive    bool

	mu       sync.Mutex
	conns    []*fakeConn
	subs     map[string]*fakeConn // subscriber URI -> conn
	received []fakeMsg
	counts   map[string]int64 // entity id -> counter
	// hook intercepts a message before the default handling; it returns
	// true when it handled the message.
	hook func(fc *fakeConn, m fakeMsg) bool
	// handshake overrides the handshake reply (nil: the node's address).
	handshake func(fc *fakeConn, peer wire.Handshake) []byte
	peers     []wire.Handshake
}

type fakeMsg struct {
	Path string
	Hdr  wire.Header
	Msg  any
}

type fakeConn struct {
	n    *fakeNode
	conn net.Conn
	wmu  sync.Mutex
}

type fakeOpts struct {
	// logicalHost: nodes call themselves logicalHost:<listen port> in
	// handshakes and snapshots while listening on 127.0.0.1 (a host the
	// client can only reach through its AddressMap).
	logicalHost string
	tls         *tls.Config
}

func newFakeCluster(t testing.TB, n int) *fakeCluster {
	return newFakeClusterOpts(t, n, fakeOpts{})
}

func newFakeClusterOpts(t testing.TB, n int, o fakeOpts) *fakeCluster {
	t.Helper()
	cl := &fakeCluster{t: t, reg: testRegistry(t), allocs: map[string]map[int]wire.NodeAddress{}}
	for i := 0; i < n; i++ {
		nd := cl.newNode(i, o.tls)
		if o.logicalHost != "" {
			nd.addr.Host = o.logicalHost
		}
		cl.nodes = append(cl.nodes, nd)
	}
	cl.leader = 0
	for _, nd := range cl.nodes {
		cl.registry = append(cl.registry, wire.ServiceEntry{Key: workload.StatsKey, Node: nd.addr, Path: workload.StatsPath})
	}
	t.Cleanup(cl.close)
	return cl
}

func (cl *fakeCluster) newNode(i int, tcfg *tls.Config) *fakeNode {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cl.t.Fatal(err)
	}
	a := ln.Addr().(*net.TCPAddr)
	nd := &fakeNode{cl: cl, idx: i, ln: ln, listen: a.String(), addr: wire.NodeAddress{Host: "127.0.0.1", Port: a.Port},
		tls: tcfg, subs: map[string]*fakeConn{}, counts: map[string]int64{}, alive: true}
	nd.serve()
	return nd
}

func (nd *fakeNode) serve() {
	nd.wg.Add(1)
	go func() {
		defer nd.wg.Done()
		for {
			c, err := nd.ln.Accept()
			if err != nil {
				return
			}
			nd.accepted.Add(1)
			if nd.tls != nil {
				c = tls.Server(c, nd.tls)
			}
			fc := &fakeConn{n: nd, conn: c}
			nd.mu.Lock()
			nd.conns = append(nd.conns, fc)
			nd.mu.Unlock()
			nd.wg.Add(1)
			go func() {
				defer nd.wg.Done()
				fc.run()
			}()
		}
	}()
}

// kill stops the node abruptly (listener and every connection).
func (nd *fakeNode) kill() {
	nd.mu.Lock()
	nd.alive = false
	conns := nd.conns
	nd.conns = nil
	nd.subs = map[string]*fakeConn{}
	nd.mu.Unlock()
	_ = nd.ln.Close()
	for _, fc := range conns {
		_ = fc.conn.Close()
	}
	nd.wg.Wait()
}

// restart listens again on the same port.
func (nd *fakeNode) restart() {
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		ln, err = net.Listen("tcp", nd.listen)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		nd.cl.t.Fatal(err)
	}
	nd.mu.Lock()
	nd.ln = ln
	nd.alive = true
	nd.mu.Unlock()
	nd.serve()
}

func (cl *fakeCluster) close() {
	for _, nd := range cl.nodes {
		nd.kill()
	}
}

func (fc *fakeConn) run() {
	defer fc.conn.Close()
	nd := fc.n
	fr := wire.NewFrameReader(fc.conn, 0)
	typ, body, err := fr.Next()
	if err != nil || typ != wire.FrameHandshake {
		return
	}
	peer, err := wire.ParseHandshake(body)
	if err != nil {
		return
	}
	nd.mu.Lock()
	nd.peers = append(nd.peers, peer)
	hs := nd.handshake
	nd.mu.Unlock()
	var reply []byte
	if hs != nil {
		reply = hs(fc, peer)
	} else {
		reply = wire.AppendHandshakeFrame(nil, wire.Handshake{Host: nd.addr.Host, Port: nd.addr.Port})
	}
	if reply != nil {
		if _, err := fc.conn.Write(reply); err != nil {
			return
		}
	}
	for {
		typ, body, err := fr.Next()
		if err != nil {
			return
		}
		if typ != wire.FrameMessage {
			continue
		}
		h, payload, err := wire.ParseMessage(body)
		if err != nil {
			nd.cl.t.Errorf("fake node %s: bad envelope: %v", nd.addr, err)
			return
		}
		msg, err := nd.cl.reg.Decode(payload)
		if err != nil {
			nd.cl.t.Errorf("fake node %s: bad payload %q: %v", nd.addr, payload, err)
			return
		}
		a, err := wire.ParseAddress(h.Target)
		if err != nil {
			nd.cl.t.Errorf("fake node %s: bad target %q: %v", nd.addr, h.Target, err)
			return
		}
		m := fakeMsg{Path: a.Path, Hdr: h, Msg: msg}
		nd.mu.Lock()
		nd.received = append(nd.received, m)
		hook := nd.hook
		nd.mu.Unlock()
		if hook != nil && hook(fc, m) {
			continue
		}
		nd.handle(fc, m)
		if nd.sink.Load() && strings.HasPrefix(m.Path, wire.PathRegionPrefix) {
			_, _ = io.Copy(io.Discard, fc.conn)
			return
		}
	}
}

// send writes msg to the actor ref on this connection.
func (fc *fakeConn) send(to wire.Ref, msg any) {
	nd := fc.n
	sender := "casty://" + testSystem + "@" + nd.addr.String() + "/"
	frame, err := nd.cl.reg.AppendMessageFrame(nil, to.String(), sender, msg, 0)
	if err != nil {
		nd.cl.t.Errorf("fake node encode %T: %v", msg, err)
		return
	}
	fc.writeRaw(frame)
}

func (fc *fakeConn) writeRaw(b []byte) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_, _ = fc.conn.Write(b)
}

func (nd *fakeNode) handle(fc *fakeConn, m fakeMsg) {
	cl := nd.cl
	switch {
	case m.Path == wire.PathTopology:
		switch x := m.Msg.(type) {
		case wire.SubscribeTopology:
			nd.mu.Lock()
			nd.subs[x.ReplyTo.String()] = fc
			nd.mu.Unlock()
			fc.send(x.ReplyTo, cl.snapshot())
		case wire.UnsubscribeTopology:
			nd.mu.Lock()
			delete(nd.subs, x.Subscriber.String())
			nd.mu.Unlock()
		}
	case strings.HasPrefix(m.Path, wire.PathCoordPrefix):
		q, ok := m.Msg.(wire.GetShardLocation)
		if !ok {
			return
		}
		typ := strings.TrimPrefix(m.Path, wire.PathCoordPrefix)
		owner, changed := cl.locate(typ, q.ShardID)
		fc.send(q.ReplyTo, wire.ShardLocation{ShardID: q.ShardID, Node: owner})
		if changed && !cl.noPush {
			cl.pushAll()
		}
	case strings.HasPrefix(m.Path, wire.PathRegionPrefix):
		env, ok := m.Msg.(wire.ShardEnvelope)
		if !ok {
			return
		}
		switch x := env.Message.(type) {
		case workload.Increment:
			nd.mu.Lock()
			nd.counts[env.EntityID] += int64(x.Amount)
			nd.mu.Unlock()
		case workload.GetCount:
			nd.mu.Lock()
			v := nd.counts[env.EntityID]
			nd.mu.Unlock()
			fc.send(x.ReplyTo, workload.CountReply{EntityID: env.EntityID, Value: v})
		}
	case m.Path == workload.StatsPath:
		if x, ok := m.Msg.(workload.GetStats); ok {
			fc.send(x.ReplyTo, workload.NodeStats{Node: nd.addr.String()})
		}
	}
}

// locate returns the owner of a shard, allocating it if needed.
func (cl *fakeCluster) locate(typ string, shard int) (wire.NodeAddress, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	m := cl.allocs[typ]
	if m == nil {
		m = map[int]wire.NodeAddress{}
		cl.allocs[typ] = m
	}
	if a, ok := m[shard]; ok {
		return a, false
	}
	i := shard % len(cl.nodes)
	if cl.allocate != nil {
		i = cl.allocate(typ, shard)
	}
	m[shard] = cl.nodes[i].addr
	cl.epoch++
	return m[shard], true
}

// setAlloc sets an allocation directly and bumps the epoch.
func (cl *fakeCluster) setAlloc(typ string, shard, node int) {
	cl.mu.Lock()
	m := cl.allocs[typ]
	if m == nil {
		m = map[int]wire.NodeAddress{}
		cl.allocs[typ] = m
	}
	m[shard] = cl.nodes[node].addr
	cl.epoch++
	cl.mu.Unlock()
}

func (cl *fakeCluster) snapshot() wire.TopologySnapshot {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	ts := wire.TopologySnapshot{
		AllocationEpoch:  cl.epoch,
		ShardAllocations: map[string]map[int]wire.ShardAllocation{},
		Registry:         slices.Clone(cl.registry),
	}
	for i, nd := range cl.nodes {
		if cl.gone[i] {
			continue
		}
		m := wire.Member{Address: nd.addr, Status: wire.StatusUp, ID: "node-" + string(rune('0'+i))}
		if cl.member != nil {
			cl.member(i, &m)
		}
		ts.Members = append(ts.Members, m)
	}
	if cl.leader >= 0 {
		l := cl.nodes[cl.leader].addr
		ts.Leader = &l
	}
	for typ, m := range cl.allocs {
		sm := map[int]wire.ShardAllocation{}
		for s, a := range m {
			sm[s] = wire.ShardAllocation{Primary: a}
		}
		ts.ShardAllocations[typ] = sm
	}
	return ts
}

// pushAll sends the current snapshot to every subscriber of every node
// that is not paused.
func (cl *fakeCluster) pushAll() {
	ts := cl.snapshot()
	for _, nd := range cl.nodes {
		if !nd.paused.Load() {
			nd.push(ts)
		}
	}
}

// push sends ts to every subscriber of nd (paused or not).
func (nd *fakeNode) push(ts wire.TopologySnapshot) {
	nd.mu.Lock()
	subs := make(map[string]*fakeConn, len(nd.subs))
	for k, v := range nd.subs {
		subs[k] = v
	}
	nd.mu.Unlock()
	for uri, fc := range subs {
		a, err := wire.ParseAddress(uri)
		if err != nil {
			continue
		}
		fc.send(wire.Ref{Address: a}, ts)
	}
}

// pause freezes nd as a SIGSTOP would, its TCP connections staying open:
// it stops reading (the handler of every connection blocks on its next
// message), so it stops answering, and pushAll skips it. The returned
// resume (also run at the end of the test) lets it go on with what it
// had received.
func (nd *fakeNode) pause(t testing.TB) (resume func()) {
	release := make(chan struct{})
	var once sync.Once
	resume = func() {
		once.Do(func() {
			nd.setHook(nil)
			nd.paused.Store(false)
			close(release)
		})
	}
	nd.paused.Store(true)
	nd.setHook(func(fc *fakeConn, m fakeMsg) bool {
		<-release
		return false
	})
	t.Cleanup(resume)
	return resume
}

// messages returns a copy of what the node received (optionally only on
// paths with prefix).
func (nd *fakeNode) messages(prefix string) []fakeMsg {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	var out []fakeMsg
	for _, m := range nd.received {
		if strings.HasPrefix(m.Path, prefix) {
			out = append(out, m)
		}
	}
	return out
}

func (nd *fakeNode) setHook(h func(fc *fakeConn, m fakeMsg) bool) {
	nd.mu.Lock()
	nd.hook = h
	nd.mu.Unlock()
}

func (nd *fakeNode) count(entity string) int64 {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.counts[entity]
}

func (cl *fakeCluster) contacts() []string {
	var out []string
	for _, nd := range cl.nodes {
		out = append(out, nd.addr.String())
	}
	return out
}

func (cl *fakeCluster) setLeader(i int) {
	cl.mu.Lock()
	cl.leader = i
	cl.mu.Unlock()
}

func (cl *fakeCluster) setEpoch(e int64) {
	cl.mu.Lock()
	cl.epoch = e
	cl.mu.Unlock()
}

// waitFor is poll.Until (kept by name: most of the package's tests call
// it).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, cond)
}

// readFrame reads one raw frame (tests that script the byte level).
func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 {
		return 0, nil, errors.New("zero frame")
	}
	body := make([]byte, n-1)
	_, err := io.ReadFull(r, body)
	return hdr[4], body, err
}

type netConn = net.Conn

func defaultDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
