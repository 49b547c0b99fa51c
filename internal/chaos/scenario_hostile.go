package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// runRogueNode: a node started without the cluster's gossip key tries to
// join; it must not become a member, get shards or run entities.
func runRogueNode(ctx context.Context, r *run) error {
	rogue := r.c.spare
	if rogue == nil {
		return errors.New("chaos: no address for the rogue node")
	}
	if r.c.GossipKey == "" || !r.h.nodeFlags.Has("gossip-key") {
		r.res.Note("cmd/node has no -gossip-key: the cluster runs without a key, so the rogue has nothing to be refused by")
	}
	// The rogue: same binary, same system, every flag but the key. It
	// starts before the load, so that it would get shards if it joined
	// (the nodes allocate shards when clients first ask for them).
	args, _ := r.h.nodeFlags.Args(r.c.nodeArgs(rogue, []string{r.c.Members[0].Gossip}, false))
	p, err := StartProc(ProcSpec{
		Name: "rogue", Bin: r.h.cfg.NodeBin, Args: args, Netns: rogue.Netns,
		Log: filepath.Join(r.c.dir, "rogue.log"),
		// A node that reads its key from the environment must not find the
		// cluster's there.
		Env: []string{"ZEROHOP_GOSSIP_KEY="},
	})
	if err != nil {
		return err
	}
	r.h.track(p)
	rogue.Proc = p
	ri := r.c.W.Add(WatchTarget{Name: "rogue", Addr: rogue.Listen, Netns: r.c.ClientNetns()})
	r.h.logf("%s: rogue node %s started", r.res.Scenario, rogue.Listen)
	sleepCtx(ctx, RogueObserve)
	lr, err := r.startLoad(r.loadDuration(PreFault + PostFault))
	if err != nil {
		return err
	}
	defer lr.Kill()
	if err := r.waitFlowing(ctx, lr); err != nil {
		return err
	}
	views := r.c.W.Views()
	r.res.Fig("rogue", "%s, printed READY: %v, running: %v", rogue.Listen, p.Ready(), !p.Exited())
	// Members' view of the rogue: membership and shards, from NodeState
	// when the members answer it, from their topology snapshots otherwise.
	memberOf, snapMember, snapOwned, states := 0, 0, 0, 0
	for i := range r.c.Members {
		v := views[i]
		if v.State != nil {
			states++
			for _, mem := range v.State.Members {
				if mem.Address.String() == rogue.Listen && mem.Status == wire.StatusUp {
					memberOf++
				}
			}
		}
		if v.Snap != nil {
			for _, mem := range v.Snap.Members {
				if mem.Address.String() == rogue.Listen && mem.Status == wire.StatusUp {
					snapMember++
				}
			}
			n := 0
			for _, a := range v.Snap.ShardAllocations[r.typ] {
				if a.Primary.String() == rogue.Listen {
					n++
				}
			}
			snapOwned = max(snapOwned, n)
		}
	}
	cv := r.c.View(r.typ)
	owned := max(len(cv.ShardsOf(rogue.Listen)), snapOwned)
	src := "topology snapshots"
	member := snapMember
	if states > 0 {
		src, member = "NodeState", memberOf
	}
	r.res.Fig("members' view", "%d of %d members list the rogue as up (%s); %d shards on the rogue (%s)", member, len(r.c.Members), src, owned, cv.Source)
	r.res.Expect("rogue-not-member", member == 0, "%d members list the rogue as up (%s)", member, src)
	r.res.Expect("rogue-no-shards", owned == 0, "%d shards allocated to the rogue (%s)", owned, cv.Source)
	rv := views[ri]
	switch {
	case rv.State != nil:
		r.res.Expect("rogue-no-entities", len(rv.State.Claims) == 0 && (rv.Stats == nil || rv.Stats.Entities == 0),
			"rogue claims %d shards, started %d entities", len(rv.State.Claims), statsEntities(rv.Stats))
	case rv.Stats != nil:
		r.res.Expect("rogue-no-entities", rv.Stats.Entities == 0, "rogue's node-stats: %d entities started, %d increments", rv.Stats.Entities, rv.Stats.Increments)
	default:
		r.res.Check("rogue-no-entities", Pass, "the rogue answered neither GetNodeState nor GetStats")
	}
	rep := r.finishLoad(ctx, lr)
	rep.checkLoss(r.res, false)
	if lost, ok := rep.Int("lost"); ok {
		r.res.Expect("no-loss", lost == 0, "lost %d", lost)
	}
	p.Kill()
	r.checkOverlaps()
	return nil
}

func statsEntities(s *workload.NodeStats) int64 {
	if s == nil {
		return 0
	}
	return s.Entities
}

// entityInShard returns an entity id (with prefix) that hashes to shard.
func entityInShard(prefix string, shard, shards int) string {
	for k := 0; ; k++ {
		id := fmt.Sprintf("%s-%d", prefix, k)
		if ring.Shard(id, shards) == shard {
			return id
		}
	}
}

// runRogueClient: a connection whose handshake says role "node" sends
// Increments for a shard the node does not own; no entity may run there.
func runRogueClient(ctx context.Context, r *run) error {
	// The nodes allocate shards on demand: ask for the entity once as an
	// ordinary client, so that its shard has an owner.
	const shard = 0
	id := entityInShard(fmt.Sprintf("zhc-rogue-%d", os.Getpid()), shard, workload.DefaultShards)
	if _, err := r.getCount(ctx, r.c.Members[0], wire.RoleClient, id); err != nil {
		return fmt.Errorf("chaos: first GetCount of %s: %w", id, err)
	}
	var v ClusterView
	var owner, other *Member
	for deadline := time.Now().Add(10 * time.Second); ; {
		v = r.c.View(r.typ)
		if owner = r.c.ByAddr(v.Owners[shard]); owner != nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: shard %d has no known owner (%s)", shard, v.Source)
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	for _, m := range r.c.Members {
		if m != owner {
			other = m
			break
		}
	}
	r.res.Fig("target", "entity %q, shard %d, owner n%d %s, sent to non-owner n%d %s (from %s)",
		id, shard, owner.Index, owner.Listen, other.Index, other.Listen, v.Source)
	before := r.statsOf(ctx, other)
	rc, err := DialRaw(ctx, other.Listen, RawOptions{Netns: r.c.ClientNetns(), Role: wire.RoleNode, Registry: r.h.reg})
	if err != nil {
		return err
	}
	defer rc.Close()
	for range RogueIncrements {
		if err := rc.SendEnvelope(r.typ, id, workload.Increment{Amount: 1}); err != nil {
			return err
		}
	}
	// Ask the non-owner, over the same connection, what the entity holds.
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	m, err := rc.Ask(actx, wire.PathRegionPrefix+r.typ, func(ref wire.Ref) any {
		return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
	})
	cancel()
	nonOwnerValue := int64(-1)
	switch {
	case err != nil:
		r.res.Fig("non-owner's answer", "none (%v)", err)
	default:
		if cr, ok := asCountReply(m); ok {
			nonOwnerValue = cr.Value
			r.res.Fig("non-owner's answer", "CountReply %d", cr.Value)
		} else {
			r.res.Fig("non-owner's answer", "%T %+v", m, m)
		}
	}
	// The real owner's count, asked as an ordinary client.
	if cr, err := r.getCount(ctx, owner, wire.RoleClient, id); err == nil {
		r.res.Fig("owner's answer", "CountReply %d (forwarded increments reach the owner, or were dropped)", cr.Value)
	} else {
		r.res.Fig("owner's answer", "none (%v)", err)
	}
	sleepCtx(ctx, 500*time.Millisecond)
	after := r.statsOf(ctx, other)
	started := int64(-1)
	if before != nil && after != nil {
		started = after.Entities - before.Entities
		r.res.Fig("non-owner's node-stats", "entities %d -> %d, increments %d -> %d", before.Entities, after.Entities, before.Increments, after.Increments)
	}
	r.res.Expect("no-entity-on-non-owner", nonOwnerValue <= 0 && started <= 0,
		"non-owner answered %s, started %s entities", valueOrNone(nonOwnerValue), valueOrNone(started))
	views := r.c.W.Views()
	if st := views[other.Index].State; st != nil {
		claims := false
		for _, c := range st.Claims {
			claims = claims || (c.Type == r.typ && c.Shard == shard)
		}
		r.res.Expect("non-owner-claims-nothing", !claims, "n%d claims shard %d: %v", other.Index, shard, claims)
		var parts []string
		for k, v := range st.Counters {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		r.res.Fig(fmt.Sprintf("n%d counters", other.Index), "%s", strings.Join(parts, ", "))
	} else {
		r.res.Check("non-owner-claims-nothing", Unchecked, "n%d does not answer GetNodeState", other.Index)
	}
	return nil
}

// getCount asks entity id's count through a fresh connection to m.
func (r *run) getCount(ctx context.Context, m *Member, role, id string) (*workload.CountReply, error) {
	rc, err := DialRaw(ctx, m.Listen, RawOptions{Netns: r.c.ClientNetns(), Role: role, Registry: r.h.reg})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	msg, err := rc.Ask(actx, wire.PathRegionPrefix+r.typ, func(ref wire.Ref) any {
		return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
	})
	if err != nil {
		return nil, err
	}
	cr, ok := asCountReply(msg)
	if !ok {
		return nil, fmt.Errorf("chaos: answer %T %+v", msg, msg)
	}
	return cr, nil
}

func valueOrNone(v int64) string {
	if v < 0 {
		return "nothing"
	}
	return fmt.Sprint(v)
}

// statsOf asks m's node-stats service directly.
func (r *run) statsOf(ctx context.Context, m *Member) *workload.NodeStats {
	rc, err := DialRaw(ctx, m.Listen, RawOptions{Netns: r.c.ClientNetns(), Registry: r.h.reg})
	if err != nil {
		return nil
	}
	defer rc.Close()
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	msg, err := rc.Ask(actx, workload.StatsPath, func(ref wire.Ref) any { return workload.GetStats{ReplyTo: ref} })
	if err != nil {
		return nil
	}
	s, _ := asNodeStats(msg)
	return s
}

// rssSampler records a process's peak RSS every 100 ms until stopped.
type rssSampler struct {
	pid  int
	peak atomic.Int64
	last atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, err := readRSS(pid); err == nil {
				s.last.Store(rss)
				if rss > s.peak.Load() {
					s.peak.Store(rss)
				}
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) Close() { close(s.stop); s.wg.Wait() }

// runHostileFrames: partial giant frames, a trickled frame, a connection
// flood and huge entity ids against one node, under load.
func runHostileFrames(ctx context.Context, r *run) error {
	lr, err := r.startLoad(r.loadDuration(PreFault + 60*time.Second))
	if err != nil {
		return err
	}
	defer lr.Kill()
	if err := r.waitFlowing(ctx, lr); err != nil {
		return err
	}
	target := r.c.Members[1%len(r.c.Members)]
	ns := r.c.ClientNetns()
	base, err := target.Proc.RSS()
	if err != nil {
		return err
	}
	r.res.Fig("target", "n%d %s pid %d, baseline RSS %s", target.Index, target.Listen, target.Proc.Pid, fmtBytes(base))
	rss := startRSS(target.Proc.Pid)
	defer rss.Close()

	// The trickle runs alongside the rest.
	trickleDone := make(chan string, 1)
	var trickleClosed atomic.Bool
	go func() {
		d, closed := trickle(ctx, target.Listen, ns, r.h.reg)
		trickleClosed.Store(closed)
		if closed {
			trickleDone <- fmt.Sprintf("closed by the node after %.1fs", d.Seconds())
		} else {
			trickleDone <- fmt.Sprintf("still open after %.1fs", d.Seconds())
		}
	}()

	// 1. Partial giant frames.
	opened, sent, refused := partialFrames(ctx, target, ns, r.h.reg)
	peak := rss.peak.Load()
	r.res.Fig("partial frames", "%d of %d connections x %s opened (stopped at RSS %s), %d partial frames sent, %d cut off by the node; peak RSS %s",
		opened, HostileConns, fmtBytes(HostileFrameBytes), fmtBytes(HostileAbortRSS), sent, refused, fmtBytes(peak))
	r.res.Expect("rss-bounded", peak <= HostileRSSMax, "peak RSS %s (max %s)", fmtBytes(peak), fmtBytes(HostileRSSMax))
	back := time.Duration(-1)
	start := time.Now()
	for time.Since(start) < HostileRSSReturnWithin {
		if v := rss.last.Load(); v <= base+HostileRSSReturnSlack {
			back = time.Since(start)
			break
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	r.res.Fig("RSS after close", "%s (baseline %s), back within slack after %s", fmtBytes(rss.last.Load()), fmtBytes(base), fmtDur(back))
	r.res.Expect("rss-returns", back >= 0, "RSS %s vs baseline %s + %s slack within %v", fmtBytes(rss.last.Load()), fmtBytes(base), fmtBytes(HostileRSSReturnSlack), HostileRSSReturnWithin)

	// 2. Connection flood.
	accepted, flooded := connFlood(ctx, target.Listen, ns, r.h.reg, r.h.nodeFlags.Has("max-connections"))
	r.res.Fig("connection flood", "%d connections: %d handshakes answered, %d refused", flooded, accepted, flooded-accepted)
	r.res.Expect("flood-refused", accepted < flooded, "%d of %d connections refused", flooded-accepted, flooded)

	// 3. Huge entity ids.
	took, tried := hugeIDs(ctx, r, target)
	r.res.Fig("huge ids", "%d ids of %d bytes: %d accepted (an entity answered)", tried, HugeIDBytes, took)
	r.res.Expect("huge-ids-refused", took == 0, "%d of %d entity ids of %d bytes accepted", took, tried, HugeIDBytes)

	// 4. The trickle's outcome.
	var tr string
	select {
	case tr = <-trickleDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.res.Fig("trickle", "%s", tr)
	r.res.Expect("trickle-closed", trickleClosed.Load(), "%s (max %v)", tr, TrickleCloseWithin)

	rep := r.finishLoad(ctx, lr)
	if lost, ok := rep.Int("lost"); ok {
		r.res.Expect("no-loss", lost == 0, "other clients lost %d", lost)
	} else {
		r.res.Check("no-loss", Violation, "no loadgen report")
	}
	rep.checkLoss(r.res, false)
	return nil
}

// partialFrames opens HostileConns connections to the target and writes on
// each a frame header for HostileFrameBytes and all of the body but 1 KiB,
// then holds them 3 s and closes them. It stops feeding once the node's
// RSS passes HostileAbortRSS. It returns how many frames went out whole
// and how many connections the node cut off.
func partialFrames(ctx context.Context, target *Member, ns string, reg *wire.Registry) (opened, sent, cut int) {
	body := make([]byte, HostileFrameBytes-1024)
	for i := range body {
		body[i] = 'x'
	}
	var hdr [wire.FrameHeaderLen]byte
	binary.BigEndian.PutUint32(hdr[:4], HostileFrameBytes)
	hdr[4] = wire.FrameMessage
	var mu sync.Mutex
	var conns []*RawConn
	var wg sync.WaitGroup
	var nsent, ncut atomic.Int64
	sem := make(chan struct{}, 4)
	for range HostileConns {
		if rss, _ := readRSS(target.Proc.Pid); rss > HostileAbortRSS {
			break
		}
		opened++
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rc, err := DialRaw(ctx, target.Listen, RawOptions{Netns: ns, Registry: reg})
			if err != nil {
				ncut.Add(1)
				return
			}
			mu.Lock()
			conns = append(conns, rc)
			mu.Unlock()
			if rc.Write(hdr[:]) != nil || rc.Write(body) != nil {
				ncut.Add(1)
				return
			}
			nsent.Add(1)
		}()
	}
	wg.Wait()
	sleepCtx(ctx, 3*time.Second)
	for _, rc := range conns {
		rc.Close()
	}
	return opened, int(nsent.Load()), int(ncut.Load())
}

// trickle handshakes, then writes a 64-byte frame one byte per 100 ms and
// reports whether the node closed the connection within
// TrickleCloseWithin.
func trickle(ctx context.Context, addr, ns string, reg *wire.Registry) (time.Duration, bool) {
	start := time.Now()
	rc, err := DialRaw(ctx, addr, RawOptions{Netns: ns, Registry: reg, NoReader: true})
	if err != nil {
		return 0, true
	}
	defer rc.Close()
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, rc.Conn())
		close(closed)
	}()
	frame := make([]byte, 4+64)
	frame[3] = 64
	frame[4] = wire.FrameMessage
	for i := 0; time.Since(start) < TrickleCloseWithin; i++ {
		select {
		case <-closed:
			return time.Since(start), true
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(100 * time.Millisecond):
		}
		if rc.Write(frame[i%len(frame):i%len(frame)+1]) != nil {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}

// connFlood opens FloodLimit+FloodExtra connections (FloodExtra when the
// node has no limit flag), each with a handshake, and counts the ones the
// node answered. It closes them all before returning.
func connFlood(ctx context.Context, addr, ns string, reg *wire.Registry, limited bool) (accepted, total int) {
	total = FloodExtra
	if limited {
		total += FloodLimit
	}
	var conns []*RawConn
	var mu sync.Mutex
	var wg sync.WaitGroup
	var ok atomic.Int64
	sem := make(chan struct{}, 32)
	for range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rc, err := DialRaw(ctx, addr, RawOptions{Netns: ns, Registry: reg, Timeout: 2 * time.Second})
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, rc)
			mu.Unlock()
			ok.Add(1)
		}()
	}
	wg.Wait()
	// A node may accept the handshake and close the connection right
	// after: count only those still open a moment later.
	sleepCtx(ctx, 500*time.Millisecond)
	open := 0
	for _, rc := range conns {
		select {
		case <-rc.Done():
		default:
			open++
		}
		rc.Close()
	}
	return open, total
}

// hugeIDs sends an Increment and a GetCount for HugeIDs entity ids of
// HugeIDBytes each to their shard's owner and counts the ids an entity
// answered for.
func hugeIDs(ctx context.Context, r *run, fallback *Member) (took, tried int) {
	v := r.c.View(r.typ)
	conns := map[string]*RawConn{}
	defer func() {
		for _, rc := range conns {
			rc.Close()
		}
	}()
	for k := range HugeIDs {
		id := fmt.Sprintf("zhc-huge-%d-%d-", os.Getpid(), k)
		id += strings.Repeat("x", HugeIDBytes-len(id))
		m := r.c.ByAddr(v.Owners[ring.Shard(id, workload.DefaultShards)])
		if m == nil {
			m = fallback
		}
		rc := conns[m.Listen]
		if rc != nil {
			select {
			case <-rc.Done():
				rc.Close()
				rc = nil
			default:
			}
		}
		if rc == nil {
			var err error
			if rc, err = DialRaw(ctx, m.Listen, RawOptions{Netns: r.c.ClientNetns(), Registry: r.h.reg}); err != nil {
				continue
			}
			conns[m.Listen] = rc
		}
		tried++
		if rc.SendEnvelope(r.typ, id, workload.Increment{Amount: 1}) != nil {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		msg, err := rc.Ask(actx, wire.PathRegionPrefix+r.typ, func(ref wire.Ref) any {
			return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
		})
		cancel()
		if cr, ok := asCountReply(msg); err == nil && ok && cr.Value > 0 {
			took++
		}
	}
	return took, tried
}
