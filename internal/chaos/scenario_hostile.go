package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// runRogueNode: a node started without the cluster's gossip key tries to
// join; no member may ever list it, and it may never claim a shard.
func runRogueNode(ctx context.Context, r *run) error {
	rogue := r.c.spare
	if rogue == nil {
		return errors.New("chaos: no address for the rogue node")
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
	before := map[string]map[string]int64{}
	for _, m := range r.c.Members {
		before[m.Listen] = r.stateOf(m)
	}
	r.c.W.Add(WatchTarget{Name: "rogue", Addr: rogue.Listen, Netns: r.c.ClientNetns()})
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
	rep := r.finishLoad(ctx, lr)
	fate := "still running"
	if p.Exited() {
		fate = fmt.Sprintf("exited %d: %s", p.ExitCode(), lastLine(p.Log, "node:"))
	}
	r.res.Fig("rogue", "%s without the key, printed READY: %v, %s", rogue.Listen, p.Ready(), fate)
	// Every members list any member sent the watcher, over the whole run.
	sight := r.c.W.Members()[rogue.Listen]
	listed := int64(0)
	var by []string
	for n, k := range sight.By {
		if n != rogue.Listen {
			listed += k
			by = append(by, n)
		}
	}
	slices.Sort(by)
	r.res.Fig("members' view", "the rogue appeared in %d members lists of the members' NodeStates (by %v; statuses %v)", listed, by, sight.Statuses)
	r.res.Expect("rogue-never-member", listed == 0, "%d NodeStates of members listed the rogue (by %v)", listed, by)
	var claims []string
	for _, iv := range r.c.W.Ledger().Intervals() {
		if iv.Key.Node == rogue.Listen {
			claims = append(claims, fmt.Sprintf("%s/%d", iv.Key.Type, iv.Key.Shard))
		}
	}
	r.res.Expect("rogue-never-claims", len(claims) == 0, "the rogue claimed %d shards %v", len(claims), claims)
	var refusals []string
	for _, m := range r.c.Members {
		after := r.stateOf(m)
		if after == nil || before[m.Listen] == nil {
			continue
		}
		refusals = append(refusals, fmt.Sprintf("n%d gossip_rejected +%d cluster_refused +%d", m.Index,
			after["gossip_rejected"]-before[m.Listen]["gossip_rejected"], after["cluster_refused"]-before[m.Listen]["cluster_refused"]))
	}
	r.res.Fig("members' refusals", "%s", strings.Join(refusals, "; "))
	rep.checkLoss(r.res, false)
	r.res.Expect("no-loss", rep.Err == "" && rep.Lost == 0, "lost %d", rep.Lost)
	p.Kill()
	r.checkOverlaps()
	r.checkApplied(nil)
	return nil
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
// Increments for a shard the node does not own; no entity may run there
// (its entities_started counter and claims), and the increments go where a
// client's would: to the owner.
func runRogueClient(ctx context.Context, r *run) error {
	// The nodes allocate shards on demand: ask for the entity once as an
	// ordinary client, so that its shard has an owner.
	const shard = 0
	id := entityInShard(fmt.Sprintf("zhc-rogue-%d", os.Getpid()), shard, workload.DefaultShards)
	if _, err := r.getCount(ctx, r.c.Members[0], wire.RoleClient, id); err != nil {
		return fmt.Errorf("chaos: first GetCount of %s: %w", id, err)
	}
	var owner, other *Member
	for deadline := time.Now().Add(10 * time.Second); ; {
		if owner = r.c.ByAddr(r.c.View(r.typ).Owners[shard]); owner != nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: nobody claims shard %d", shard)
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
	r.res.Fig("target", "entity %q, shard %d, owner n%d %s, sent to non-owner n%d %s",
		id, shard, owner.Index, owner.Listen, other.Index, other.Listen)
	before, _ := r.freshState(ctx, other, monoNow())
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
	// Ask the non-owner, over the same connection, what the entity holds:
	// a non-owner forwards the ask, and the owner cannot answer a client
	// it has no connection to, so "none" is expected; a CountReply from
	// the non-owner itself would be a second instance.
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	m, err := rc.Ask(actx, wire.PathRegionPrefix+r.typ, func(ref wire.Ref) any {
		return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
	})
	cancel()
	switch cr, ok := asCountReply(m); {
	case err != nil:
		r.res.Fig("non-owner's answer", "none (%v)", err)
	case ok:
		r.res.Fig("non-owner's answer", "CountReply %d", cr.Value)
	default:
		r.res.Fig("non-owner's answer", "%T %+v", m, m)
	}
	// The real owner's count, asked as an ordinary client: the increments
	// arrive there (forwarded), as a client's would.
	ownerValue := int64(-1)
	for deadline := time.Now().Add(5 * time.Second); ownerValue < RogueIncrements && time.Now().Before(deadline); {
		if cr, err := r.getCount(ctx, owner, wire.RoleClient, id); err == nil {
			ownerValue = cr.Value
		}
		if ownerValue < RogueIncrements && !sleepCtx(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	r.res.Fig("owner's answer", "CountReply %d", ownerValue)
	after, st := r.freshState(ctx, other, monoNow())
	if before == nil || after == nil {
		r.res.Check("no-entity-on-non-owner", Violation, "n%d's NodeState not available before or after", other.Index)
		return nil
	}
	started := after["entities_started"] - before["entities_started"]
	r.res.Fig(fmt.Sprintf("n%d counters", other.Index), "entities_started +%d, entities_live %d -> %d, forwarded +%d, forwarded_received +%d, dead_letters +%d",
		started, before["entities_live"], after["entities_live"], after["forwarded"]-before["forwarded"],
		after["forwarded_received"]-before["forwarded_received"], after["dead_letters"]-before["dead_letters"])
	r.res.Expect("no-entity-on-non-owner", started == 0, "n%d started %d entities", other.Index, started)
	claims := slices.ContainsFunc(st.Claims, func(c wire.ShardClaim) bool { return c.Type == r.typ && c.Shard == shard })
	r.res.Expect("non-owner-claims-nothing", !claims, "n%d claims shard %d: %v", other.Index, shard, claims)
	r.res.Expect("increments-reach-owner", ownerValue == RogueIncrements, "the owner holds %d of the %d increments (treated as a client's: forwarded)", ownerValue, RogueIncrements)
	r.checkOverlaps()
	r.checkApplied(nil)
	return nil
}

// freshState waits (at most 5 s) for a NodeState of m received after
// since and returns its counters and the state.
func (r *run) freshState(ctx context.Context, m *Member, since int64) (map[string]int64, *wire.NodeState) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		for _, v := range r.c.W.Views() {
			if v.Target.Addr == m.Listen && v.State != nil && v.StateAt > since {
				return maps.Clone(v.State.Counters), v.State
			}
		}
		if !sleepCtx(ctx, 20*time.Millisecond) {
			break
		}
	}
	return nil, nil
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

// lastLine returns the last line of the file at path that starts with
// prefix (the error cmd/node prints when it exits), "" when none does.
func lastLine(path, prefix string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	out := ""
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = l
			for _, more := range lines[i+1:] { // an error that spans lines
				if m := strings.TrimSpace(more); m != "" && !strings.HasPrefix(more, "===") && !strings.HasPrefix(more, "time=") {
					out += " " + m
				} else if strings.HasPrefix(more, "===") || strings.HasPrefix(more, "time=") {
					break
				}
			}
		}
	}
	return out
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
	r.res.Fig("partial frames", "%d of %d connections opened, each sent a %s frame but its last KiB (the harness stops feeding past %s of RSS); %d were sent whole, %d cut off by the node; peak RSS %s",
		opened, HostileConns, fmtBytes(HostileFrameBytes), fmtBytes(HostileAbortRSS), sent, refused, fmtBytes(peak))
	r.res.Expect("rss-bounded", peak <= HostileRSSMax, "peak RSS %s (max %s)", fmtBytes(peak), fmtBytes(HostileRSSMax))
	// After the close: when RSS is back within the slack, and what it is
	// HostileRSSSettle later (the node gives spare inbound buffers back
	// after 2 s without use).
	back := time.Duration(-1)
	start := time.Now()
	for time.Since(start) < HostileRSSReturnWithin {
		if v := rss.last.Load(); back < 0 && v <= base+HostileRSSReturnSlack {
			back = time.Since(start)
		}
		if back >= 0 && time.Since(start) >= HostileRSSSettle {
			break
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	r.res.Fig("RSS after close", "%s %v after the close (baseline %s); within %s of the baseline %s after the close",
		fmtBytes(rss.last.Load()), time.Since(start).Round(100*time.Millisecond), fmtBytes(base), fmtBytes(HostileRSSReturnSlack), fmtDur(back))
	r.res.Expect("rss-returns", back >= 0, "RSS %s vs baseline %s + %s slack within %v", fmtBytes(rss.last.Load()), fmtBytes(base), fmtBytes(HostileRSSReturnSlack), HostileRSSReturnWithin)

	// 2. Connection flood.
	limit := node.DefaultMaxConnections
	if r.h.nodeFlags.Has("max-connections") {
		limit = FloodLimit
	}
	cbefore, _ := r.freshState(ctx, target, monoNow())
	var cduring map[string]int64
	accepted, flooded := connFlood(ctx, target.Listen, ns, r.h.reg, limit+FloodExtra, func() { cduring, _ = r.freshState(ctx, target, monoNow()) })
	r.res.Fig("connection flood", "%d connections against a limit of %d: %d still open after the handshake, %d refused; node connections_open %d before, %d during",
		flooded, limit, accepted, flooded-accepted, cbefore["connections_open"], cduring["connections_open"])
	r.res.Expect("flood-refused", accepted < flooded && accepted <= limit, "%d of %d connections refused (limit %d)", flooded-accepted, flooded, limit)

	// 3. Huge entity ids.
	took, refused, tried := hugeIDs(ctx, r, target)
	r.res.Fig("huge ids", "%d GetCount to ids of %d bytes: %d answered by an entity, %d refused with Undeliverable{%s}", tried, HugeIDBytes, took, refused, wire.ReasonEntityID)
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
	r.res.Expect("no-loss", rep.Err == "" && rep.Lost == 0 && rep.TellsFailed == 0, "other clients lost %d, %d tells failed%s", rep.Lost, rep.TellsFailed, keyed(rep.TellErrors))
	rep.checkLoss(r.res, false)
	r.checkOverlaps()
	r.checkApplied(nil)
	return nil
}

// partialFrames opens HostileConns connections to the target and writes on
// each a frame header for HostileFrameBytes and all of the body but 1 KiB,
// then holds them 3 s and closes them. It stops feeding once the node's
// RSS passes HostileAbortRSS. It returns how many frames went out whole
// and how many connections the node cut off.
func partialFrames(ctx context.Context, target *Member, ns string, reg *castyjson.Registry) (opened, sent, cut int) {
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

// trickle handshakes, then writes a frame of TrickleFrameBytes one byte
// per 100 ms (it would take TrickleFrameBytes/10 seconds, far beyond any
// frame timeout) and reports how long the node kept the connection, and
// whether it closed it within TrickleCloseWithin.
func trickle(ctx context.Context, addr, ns string, reg *castyjson.Registry) (time.Duration, bool) {
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
	frame := make([]byte, wire.FrameHeaderLen+TrickleFrameBytes)
	binary.BigEndian.PutUint32(frame[:4], TrickleFrameBytes)
	frame[4] = wire.FrameMessage
	for i := 0; time.Since(start) < TrickleCloseWithin && i < len(frame); i++ {
		select {
		case <-closed:
			return time.Since(start), true
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(100 * time.Millisecond):
		}
		if rc.Write(frame[i:i+1]) != nil {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}

// connFlood opens total connections, each with a handshake, counts the
// ones still open a moment later, calls held while they are, and closes
// them all before returning.
func connFlood(ctx context.Context, addr, ns string, reg *castyjson.Registry, total int, held func()) (accepted, _ int) {
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
	}
	held()
	for _, rc := range conns {
		rc.Close()
	}
	return open, total
}

// hugeIDs asks GetCount of HugeIDs entity ids of HugeIDBytes each at
// their shard's owner and counts the ids an entity answered for (a
// CountReply: the id was taken), and the typed refusals (Undeliverable).
// Only GetCount: an Increment would be a dead letter in the workload's
// tally that loadgen, which did not send it, cannot account for.
func hugeIDs(ctx context.Context, r *run, fallback *Member) (took, refused, tried int) {
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
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		msg, err := rc.Ask(actx, wire.PathRegionPrefix+r.typ, func(ref wire.Ref) any {
			return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
		})
		cancel()
		if _, ok := asCountReply(msg); err == nil && ok {
			took++
		}
		if u, ok := msg.(wire.Undeliverable); err == nil && ok && u.Reason == wire.ReasonEntityID {
			refused++
		}
	}
	return took, refused, tried
}
