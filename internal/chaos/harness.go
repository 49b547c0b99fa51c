package chaos

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// Config configures a Harness. Zero values mean the documented defaults.
type Config struct {
	NodeBin    string // cmd/node binary (required)
	LoadgenBin string // cmd/loadgen binary (required)
	// LogDir receives every process's log, one directory per scenario;
	// "" uses a temporary directory that Close removes (unless a scenario
	// failed: then it is kept and its path printed).
	LogDir string
	// Nodes overrides every scenario's node count (0: the scenario's own).
	Nodes int
	// Duration is the minimum load duration; a scenario extends it to fit
	// its fault (0: 20 s).
	Duration time.Duration
	// Rate is loadgen's -rate in tells/s (0: LoadRate).
	Rate float64
	// Strict makes unchecked checks fail their scenario.
	Strict bool
	// Log receives progress lines (nil: discarded).
	Log io.Writer
}

// Harness runs scenarios. It owns every process, namespace and watcher it
// starts and removes them in Close. Run is called by one goroutine at a
// time; Close may be called concurrently with Run (from a signal handler)
// and is idempotent.
type Harness struct {
	cfg       Config
	nodeFlags FlagSet
	loadFlags FlagSet
	reg       *castyjson.Registry
	logRoot   string
	tempLogs  bool
	logDir    string         // the current scenario's directory; set by Run
	runs      map[string]int // runs of each scenario so far; owned by Run's caller

	mu       sync.Mutex
	procs    []*Proc    // guarded by mu
	plans    []NetPlan  // namespaces this harness created; guarded by mu
	watchers []*Watcher // guarded by mu
	closed   bool       // guarded by mu
	keepLogs bool       // guarded by mu: a scenario failed

	closeDone chan struct{} // closed when the first Close has finished
	closeErr  error         // written by the first Close before closeDone
}

// NewHarness checks the binaries, detects their flags and prepares the log
// directory.
func NewHarness(ctx context.Context, cfg Config) (*Harness, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.Rate <= 0 {
		cfg.Rate = LoadRate
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	h := &Harness{cfg: cfg, closeDone: make(chan struct{}), runs: map[string]int{}}
	var err error
	if h.nodeFlags, err = DetectFlags(ctx, cfg.NodeBin); err != nil {
		return nil, err
	}
	if h.loadFlags, err = DetectFlags(ctx, cfg.LoadgenBin); err != nil {
		return nil, err
	}
	if err := errors.Join(h.nodeFlags.Require(cfg.NodeBin, requiredNodeFlags...),
		h.loadFlags.Require(cfg.LoadgenBin, requiredLoadgenFlags...)); err != nil {
		return nil, err
	}
	if h.reg, err = newRegistry(""); err != nil {
		return nil, err
	}
	if cfg.LogDir == "" {
		if h.logRoot, err = os.MkdirTemp("", "zerohop-chaos-"); err != nil {
			return nil, err
		}
		h.tempLogs = true
	} else {
		h.logRoot = cfg.LogDir
		if err := os.MkdirAll(h.logRoot, 0o755); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// The flags the harness passes unconditionally; NewHarness refuses
// binaries without them (rather than run a node without its key or a
// loadgen without its series). Others (optionalNodeFlags) are passed only
// when the binary has them, and the scenario says so.
var (
	requiredNodeFlags = []string{"listen", "gossip", "raft", "seeds", "id", "data-dir", "gossip-key",
		"lease", "drain-window", "log-level"}
	requiredLoadgenFlags = []string{"contact", "json", "duration", "progress", "log-level", "drain-timeout",
		"ask-timeout", "series", "rate", "workers"}
)

// Node settings of every scenario.
const (
	// NodeLease is the nodes' -lease (the default, written out so that the
	// thresholds below it are read against it).
	NodeLease = 2 * time.Second
	// NodeDrainWindow is the nodes' -drain-window: short, so that a
	// rolling restart does not wait 3 s per node for stragglers that a
	// loopback cluster forwards in milliseconds.
	NodeDrainWindow = time.Second
)

// NodeFlags returns the flags the node binary supports.
func (h *Harness) NodeFlags() FlagSet { return h.nodeFlags }

// LoadgenFlags returns the flags loadgen supports.
func (h *Harness) LoadgenFlags() FlagSet { return h.loadFlags }

// LogRoot returns the directory holding every scenario's logs.
func (h *Harness) LogRoot() string { return h.logRoot }

// logf prints a progress line and appends it, stamped with
// CLOCK_MONOTONIC ms (the clock of the claims) and the wall clock (the
// clock of the node logs), to the scenario's events.txt.
func (h *Harness) logf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintf(h.cfg.Log, "chaos: %s\n", msg)
	if h.logDir == "" {
		return
	}
	if f, err := os.OpenFile(filepath.Join(h.logDir, "events.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "mono %d ms\t%s\t%s\n", monoNow()/1e6, time.Now().UTC().Format("15:04:05.000"), msg)
		f.Close()
	}
}

// track registers a process for cleanup; a process started after Close is
// killed at once.
func (h *Harness) track(p *Proc) {
	h.mu.Lock()
	closed := h.closed
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	if closed {
		p.Kill()
	}
}

func (h *Harness) trackWatcher(w *Watcher) {
	h.mu.Lock()
	closed := h.closed
	h.watchers = append(h.watchers, w)
	h.mu.Unlock()
	if closed {
		w.Close()
	}
}

func (h *Harness) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// cleanupScenario stops what one scenario started: watchers, processes
// (SIGKILL by pid; a stopped one is killed too), namespaces.
func (h *Harness) cleanupScenario() error {
	h.mu.Lock()
	procs, plans, watchers := h.procs, h.plans, h.watchers
	h.procs, h.plans, h.watchers = nil, nil, nil
	h.mu.Unlock()
	for _, w := range watchers {
		w.Close()
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.Kill() }()
	}
	wg.Wait()
	var errs []error
	for _, p := range plans {
		if r, err := newIPRunner(); err == nil {
			if err := r.runEach(context.Background(), p.Teardown()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops everything and removes the temporary logs (kept when a
// scenario failed). Safe to call more than once and concurrently with Run:
// every call returns only once the first one has finished (a driver that
// exits right after its deferred Close must not cut a teardown short that
// its signal handler started).
func (h *Harness) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		<-h.closeDone
		return h.closeErr
	}
	h.closed = true
	h.mu.Unlock()
	err := h.cleanupScenario()
	h.mu.Lock()
	keep := h.keepLogs
	h.mu.Unlock()
	if h.tempLogs && !keep {
		_ = os.RemoveAll(h.logRoot)
	}
	h.closeErr = err
	close(h.closeDone)
	return err
}

// Member is one node of a Cluster.
type Member struct {
	Index   int
	Listen  string // host:port (also its identity)
	Gossip  string
	Raft    string
	Netns   string
	DataDir string
	Proc    *Proc
	Starts  int
}

// Cluster is the nodes of one scenario.
type Cluster struct {
	h         *Harness
	dir       string
	Net       *NetPlan // nil on loopback
	Members   []*Member
	GossipKey string
	Extra     []Arg // flags every node gets (filtered by support)
	W         *Watcher
	Skipped   []string // node flags the binary does not support
	spare     *Member  // an address slot no member uses (rogue-node's rogue)
}

// basePort picks listen ports for a loopback cluster from the driver's pid,
// so that concurrent runs on one box rarely collide, and checks that
// listen, gossip (+1000) and raft (+2000) ports are free.
func basePort(nodes int) (int, error) {
	start := 21000 + (os.Getpid()%50)*10
	for try := 0; try < 50; try++ {
		base := 21000 + (start-21000+try*10)%500
		if portsFree(base, nodes) {
			return base, nil
		}
	}
	return 0, errors.New("chaos: no free loopback port range for the cluster")
}

func portsFree(base, nodes int) bool {
	for i := range nodes {
		for _, off := range []int{0, 1000, 2000} {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i+off))
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return false
			}
			l.Close()
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				return false
			}
			u.Close()
		}
	}
	return true
}

// newCluster lays out n nodes with a fresh random 32-byte cluster key
// (every scenario runs authenticated members): on loopback, or (netns)
// each in its own namespace, the network built at once.
func (h *Harness) newCluster(ctx context.Context, n int, netns bool) (*Cluster, error) {
	c := &Cluster{h: h, dir: h.logDir}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	c.GossipKey = base64.StdEncoding.EncodeToString(b)
	if netns {
		plan, err := NewNetPlan(os.Getpid(), n)
		if err != nil {
			return nil, err
		}
		r, err := newIPRunner()
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		h.plans = append(h.plans, plan) // torn down even if setup fails half-way
		h.mu.Unlock()
		if err := r.runAll(ctx, plan.Setup()); err != nil {
			return nil, err
		}
		c.Net = &plan
		for i := range n {
			ip := plan.NodeIPs[i]
			c.Members = append(c.Members, &Member{
				Index: i, Netns: plan.Nodes[i],
				Listen: ip + ":25520", Gossip: ip + ":26520", Raft: ip + ":27520",
			})
		}
	} else {
		base, err := basePort(n)
		if err != nil {
			return nil, err
		}
		for i := range n {
			hp := func(off int) string { return "127.0.0.1:" + strconv.Itoa(base+i+off) }
			c.Members = append(c.Members, &Member{Index: i, Listen: hp(0), Gossip: hp(1000), Raft: hp(2000)})
		}
	}
	for _, m := range c.Members {
		m.DataDir = filepath.Join(c.dir, fmt.Sprintf("n%d.data", m.Index))
	}
	c.W = NewWatcher(ctx, RawOptions{Registry: h.reg})
	h.trackWatcher(c.W)
	return c, nil
}

// ClientNetns is the namespace loadgen and raw clients run in ("" on
// loopback).
func (c *Cluster) ClientNetns() string {
	if c.Net == nil {
		return ""
	}
	return c.Net.Client
}

// Contacts returns every member's listen address.
func (c *Cluster) Contacts() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.Listen
	}
	return out
}

// nodeArgs returns the flags of member m joining through seeds.
func (c *Cluster) nodeArgs(m *Member, seeds []string, withKey bool) []Arg {
	args := []Arg{
		{"listen", m.Listen},
		{"gossip", m.Gossip},
		{"raft", m.Raft},
		{"id", fmt.Sprintf("n%d", m.Index)},
		{"data-dir", m.DataDir},
		{"lease", NodeLease.String()},
		{"drain-window", NodeDrainWindow.String()},
		{"log-level", "info"},
	}
	if len(seeds) > 0 {
		args = append(args, Arg{"seeds", strings.Join(seeds, ",")})
	}
	if withKey {
		args = append(args, Arg{"gossip-key", c.GossipKey})
	}
	return append(args, c.Extra...)
}

// startMember starts m's process (not waiting for READY).
func (c *Cluster) startMember(m *Member, seeds []string) error {
	args, skipped := c.h.nodeFlags.Args(c.nodeArgs(m, seeds, true))
	// Only optional flags can be skipped: NewHarness required the others.
	c.Skipped = mergeSkipped(c.Skipped, skipped)
	if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
		return err
	}
	p, err := StartProc(ProcSpec{
		Name: fmt.Sprintf("n%d", m.Index), Bin: c.h.cfg.NodeBin, Args: args, Netns: m.Netns,
		Log: filepath.Join(c.dir, fmt.Sprintf("n%d.log", m.Index)),
	})
	if err != nil {
		return err
	}
	c.h.track(p)
	m.Proc = p
	m.Starts++
	return nil
}

func mergeSkipped(have, add []string) []string {
	for _, s := range add {
		found := false
		for _, x := range have {
			found = found || x == s
		}
		if !found {
			have = append(have, s)
		}
	}
	return have
}

// readyWait bounds how long a node may take to print READY.
const readyWait = 30 * time.Second

// Start starts every member (node 0 first: it bootstraps; the others join
// its gossip address), waits for READY from each and starts watching them.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.startMember(c.Members[0], nil); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, readyWait)
	defer cancel()
	if _, err := c.Members[0].Proc.WaitReady(rctx); err != nil {
		return err
	}
	for _, m := range c.Members[1:] {
		if err := c.startMember(m, []string{c.Members[0].Gossip}); err != nil {
			return err
		}
	}
	for _, m := range c.Members[1:] {
		if _, err := m.Proc.WaitReady(rctx); err != nil {
			return err
		}
	}
	for _, m := range c.Members {
		c.W.Add(WatchTarget{Name: fmt.Sprintf("n%d", m.Index), Addr: m.Listen, Netns: c.ClientNetns()})
	}
	return nil
}

// Restart starts m again at the same addresses and data directory, with
// seeds pointing at the live members, and waits for READY.
func (c *Cluster) Restart(ctx context.Context, m *Member) error {
	var seeds []string
	for _, o := range c.Members {
		if o != m && o.Proc != nil && !o.Proc.Exited() {
			seeds = append(seeds, o.Gossip)
		}
	}
	if err := c.startMember(m, seeds); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, readyWait)
	defer cancel()
	_, err := m.Proc.WaitReady(rctx)
	return err
}

// Live returns the members whose process runs.
func (c *Cluster) Live() []*Member {
	var out []*Member
	for _, m := range c.Members {
		if m.Proc != nil && !m.Proc.Exited() {
			out = append(out, m)
		}
	}
	return out
}

// ByAddr returns the member whose listen address is addr (the spare slot
// too, once a scenario started a process there).
func (c *Cluster) ByAddr(addr string) *Member {
	for _, m := range c.Members {
		if m.Listen == addr {
			return m
		}
	}
	if c.spare != nil && c.spare.Proc != nil && c.spare.Listen == addr {
		return c.spare
	}
	return nil
}

// Signal sends sig to member i (its pid).
func (c *Cluster) Signal(i int, sig syscall.Signal) error { return c.Members[i].Proc.Signal(sig) }

// Partition cuts member i off from the other members (netns only).
func (c *Cluster) Partition(ctx context.Context, i int) error {
	if c.Net == nil {
		return errors.New("chaos: partition needs the namespaced network")
	}
	r, err := newIPRunner()
	if err != nil {
		return err
	}
	return r.runAll(ctx, c.Net.Partition(i))
}

// Heal undoes Partition(i).
func (c *Cluster) Heal(ctx context.Context, i int) error {
	r, err := newIPRunner()
	if err != nil {
		return err
	}
	return r.runEach(ctx, c.Net.Heal(i))
}

// CutClient cuts the client namespace off from member i, silently, in
// both directions (netns only; NetPlan.CutClient).
func (c *Cluster) CutClient(ctx context.Context, i int) error {
	if c.Net == nil {
		return errors.New("chaos: cutting the client off needs the namespaced network")
	}
	r, err := newIPRunner()
	if err != nil {
		return err
	}
	return r.runAll(ctx, c.Net.CutClient(i))
}

// HealClient undoes CutClient(i).
func (c *Cluster) HealClient(ctx context.Context, i int) error {
	r, err := newIPRunner()
	if err != nil {
		return err
	}
	return r.runEach(ctx, c.Net.HealClient(i))
}

// ClusterView is the cluster's state as the nodes' NodeStates show it
// now (only states received in the last second count).
type ClusterView struct {
	Owners  map[int]string // shard -> the node that claims it
	Leader  string         // the leader most nodes name ("" when none)
	Epoch   int64          // the highest epoch reported
	Members int            // the most members any node lists as up
	Fresh   int            // nodes whose state is fresh
}

// View returns who serves which shard and who leads, from the claims in
// the nodes' latest NodeStates.
func (c *Cluster) View(typ string) ClusterView {
	now := monoNow()
	v := ClusterView{Owners: map[int]string{}}
	leaders := map[string]int{}
	for _, nv := range c.W.Views() {
		if nv.State == nil || now-nv.StateAt >= int64(time.Second) {
			continue
		}
		v.Fresh++
		for _, cl := range nv.State.Claims {
			if cl.Type == typ {
				v.Owners[cl.Shard] = nv.State.Node.String()
			}
		}
		if nv.State.Role == "leader" {
			leaders[nv.State.Node.String()] += 100
		}
		if nv.State.Leader != nil {
			leaders[nv.State.Leader.String()]++
		}
		v.Epoch = max(v.Epoch, nv.State.Epoch)
		v.Members = max(v.Members, upMembers(nv.State.Members))
	}
	best := 0
	for l, n := range leaders {
		if n > best || (n == best && l < v.Leader) {
			v.Leader, best = l, n
		}
	}
	return v
}

func upMembers(ms []wire.Member) int {
	n := 0
	for _, m := range ms {
		if m.Status == wire.StatusUp {
			n++
		}
	}
	return n
}

// ShardsOf returns the shards the view gives to addr.
func (v ClusterView) ShardsOf(addr string) []int {
	var out []int
	for s, o := range v.Owners {
		if o == addr {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// WaitStable waits until the cluster has a leader and lists every live
// member as up, and, with allShards, until every shard of the workload
// has an owner among the live members (the nodes allocate shards on
// demand: only once a client has asked for each). It returns the view.
func (c *Cluster) WaitStable(ctx context.Context, within time.Duration, allShards bool) (ClusterView, error) {
	deadline := time.Now().Add(within)
	for {
		v := c.View(workload.DefaultEntityType)
		ok := v.Leader != "" && v.Members >= len(c.Live())
		if allShards {
			ok = ok && len(v.Owners) == workload.DefaultShards && c.ownersLive(v)
		}
		if ok {
			return v, nil
		}
		if time.Now().After(deadline) {
			return v, fmt.Errorf("chaos: no stable cluster within %v (leader %q, %d of %d members up, %d of %d shards claimed, %d fresh NodeStates)",
				within, v.Leader, v.Members, len(c.Live()), len(v.Owners), workload.DefaultShards, v.Fresh)
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) ownersLive(v ClusterView) bool {
	for _, o := range v.Owners {
		m := c.ByAddr(o)
		if m == nil || m.Proc == nil || m.Proc.Exited() {
			return false
		}
	}
	return true
}
