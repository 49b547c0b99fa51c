package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NamespacePrefix starts the name of every network namespace the suite
// creates: zhc-<driver pid>-<role>. Cleanup at start deletes the prefixed
// namespaces whose driver pid is no longer alive.
const NamespacePrefix = "zhc-"

// Subnet addresses of the namespaced cluster (10.213.0.0/24): the client
// namespace (loadgen, the watcher) and node i at NodeHostBase+i.
const (
	subnetPrefix = "10.213.0."
	subnetBits   = 24
	clientHost   = 2
	nodeHostBase = 10
)

// NetPlan is the namespaces, addresses and ip(8) commands of one
// namespaced run. It is a plain value computed by NewNetPlan; Setup,
// Teardown, Partition and Heal return argument lists for ip(8) and never
// run anything themselves.
type NetPlan struct {
	Hub     string   // namespace holding the bridge
	Client  string   // namespace of loadgen and the watcher
	Nodes   []string // namespace of node i
	Bridge  string   // bridge device in Hub
	NodeIPs []string // address of node i
	// ClientIP is the client namespace's address.
	ClientIP string
}

// NewNetPlan returns the plan of run id (the driver's pid) with nodes
// node namespaces. Node indexes beyond 200 would leave the /24: refused.
func NewNetPlan(id, nodes int) (NetPlan, error) {
	if nodes < 1 || nodeHostBase+nodes > 250 {
		return NetPlan{}, fmt.Errorf("chaos: %d nodes do not fit in %s0/%d", nodes, subnetPrefix, subnetBits)
	}
	p := NetPlan{
		Hub:      fmt.Sprintf("%s%d-hub", NamespacePrefix, id),
		Client:   fmt.Sprintf("%s%d-cl", NamespacePrefix, id),
		Bridge:   "br0",
		ClientIP: subnetPrefix + strconv.Itoa(clientHost),
	}
	for i := range nodes {
		p.Nodes = append(p.Nodes, fmt.Sprintf("%s%d-n%d", NamespacePrefix, id, i))
		p.NodeIPs = append(p.NodeIPs, subnetPrefix+strconv.Itoa(nodeHostBase+i))
	}
	return p, nil
}

// Namespaces returns every namespace of the plan, hub last (the order in
// which Teardown deletes them).
func (p NetPlan) Namespaces() []string {
	out := append([]string{}, p.Nodes...)
	return append(out, p.Client, p.Hub)
}

// Setup returns the ip(8) commands that build the network: the hub with
// its bridge, then per member namespace a veth pair created directly
// across the two namespaces (eth0 inside, <short name> on the bridge), so
// that no interface or address ever exists in the root namespace. In each
// member namespace the policy rule that looks up the local table moves
// from priority 0 to localRulePref: a packet addressed to the namespace
// is matched by the local table's rule, so CutClient's rules, which drop
// arriving packets, must come before it.
func (p NetPlan) Setup() [][]string {
	cmds := [][]string{
		{"netns", "add", p.Hub},
		{"-n", p.Hub, "link", "set", "lo", "up"},
		{"-n", p.Hub, "link", "add", p.Bridge, "type", "bridge"},
		{"-n", p.Hub, "link", "set", p.Bridge, "up"},
	}
	member := func(ns, ip, port string) {
		cmds = append(cmds,
			[]string{"netns", "add", ns},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", p.Hub},
			[]string{"-n", ns, "addr", "add", ip + "/" + strconv.Itoa(subnetBits), "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
			[]string{"-n", p.Hub, "link", "set", port, "master", p.Bridge},
			[]string{"-n", p.Hub, "link", "set", port, "up"},
			// The local table at localRulePref, not 0, so that a
			// CutClient rule (cutRulePref) is matched before it.
			[]string{"-n", ns, "rule", "add", "pref", localRulePref, "lookup", "local"},
			[]string{"-n", ns, "rule", "del", "pref", "0", "lookup", "local"},
		)
	}
	member(p.Client, p.ClientIP, "cl")
	for i, ns := range p.Nodes {
		member(ns, p.NodeIPs[i], "n"+strconv.Itoa(i))
	}
	return cmds
}

// Teardown returns the commands that delete every namespace of the plan
// (their veth ends and the bridge go with them).
func (p NetPlan) Teardown() [][]string {
	var cmds [][]string
	for _, ns := range p.Namespaces() {
		cmds = append(cmds, []string{"netns", "del", ns})
	}
	return cmds
}

// Partition returns the commands that cut node a off from every other node
// (not from the client): a blackhole route in a's namespace to each other
// node, and one in each other node's namespace to a.
func (p NetPlan) Partition(a int) [][]string { return p.blackholes("add", a) }

// Heal returns the commands that undo Partition(a).
func (p NetPlan) Heal(a int) [][]string { return p.blackholes("del", a) }

func (p NetPlan) blackholes(op string, a int) [][]string {
	var cmds [][]string
	for b := range p.Nodes {
		if b == a {
			continue
		}
		cmds = append(cmds,
			[]string{"-n", p.Nodes[a], "route", op, "blackhole", p.NodeIPs[b] + "/32"},
			[]string{"-n", p.Nodes[b], "route", op, "blackhole", p.NodeIPs[a] + "/32"},
		)
	}
	return cmds
}

// CutClient returns the commands that cut the client off from node a,
// and only from it: a keeps its links to the other nodes (the cluster
// sees nothing wrong), the client its links to the others. One policy
// rule in each of the two namespaces blackholes the packets that arrive
// on eth0 from the other side, so every packet is sent and silently
// dropped on arrival: neither sender gets an error, an ICMP message or a
// reset (a blackhole route on the sending side would fail the sender's own
// transmissions and connects at once, which a real partition does not).
// Every socket of the client namespace is cut off from a, the watcher's
// too.
func (p NetPlan) CutClient(a int) [][]string { return p.clientRules("add", a) }

// HealClient returns the commands that undo CutClient(a).
func (p NetPlan) HealClient(a int) [][]string { return p.clientRules("del", a) }

// Policy rule priorities in a member namespace: CutClient's rules, then
// the local table (moved there from 0 by Setup), then main and default.
const (
	cutRulePref   = "100"
	localRulePref = "200"
)

func (p NetPlan) clientRules(op string, a int) [][]string {
	return [][]string{
		{"-n", p.Client, "rule", op, "pref", cutRulePref, "from", p.NodeIPs[a], "iif", "eth0", "blackhole"},
		{"-n", p.Nodes[a], "rule", op, "pref", cutRulePref, "from", p.ClientIP, "iif", "eth0", "blackhole"},
	}
}

// StaleNamespaces returns the namespaces in list (the output of `ip netns
// list`) that carry the suite's prefix and whose driver pid is not alive
// (alive(pid) false) and is not self.
func StaleNamespaces(list string, self int, alive func(pid int) bool) []string {
	var out []string
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], NamespacePrefix) {
			continue
		}
		rest := strings.TrimPrefix(f[0], NamespacePrefix)
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == self || alive(pid) {
			continue
		}
		out = append(out, f[0])
	}
	return out
}

// pidAlive reports whether a process with that pid exists.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ipRunner runs ip(8) commands.
type ipRunner struct {
	bin string
}

func newIPRunner() (ipRunner, error) {
	bin, err := exec.LookPath("ip")
	if err != nil {
		return ipRunner{}, fmt.Errorf("chaos: ip(8) not found (apt-get install iproute2): %w", err)
	}
	return ipRunner{bin: bin}, nil
}

func (r ipRunner) run(ctx context.Context, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("chaos: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// runAll runs cmds in order and stops at the first error.
func (r ipRunner) runAll(ctx context.Context, cmds [][]string) error {
	for _, c := range cmds {
		if _, err := r.run(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// runEach runs every command and returns every error (teardown goes on
// past a failure).
func (r ipRunner) runEach(ctx context.Context, cmds [][]string) error {
	var errs []error
	for _, c := range cmds {
		if _, err := r.run(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CheckNetns reports why namespaced scenarios cannot run here (not root,
// no ip(8), no namespace support), nil when they can. It creates and
// deletes one probe namespace.
func CheckNetns(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("chaos: network namespaces need root")
	}
	r, err := newIPRunner()
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s%d-probe", NamespacePrefix, os.Getpid())
	if _, err := r.run(ctx, []string{"netns", "add", name}); err != nil {
		return err
	}
	_, err = r.run(ctx, []string{"netns", "del", name})
	return err
}

// CleanupStale deletes the suite's namespaces left by drivers that are no
// longer alive, after killing (by pid) the processes still inside them.
// It returns the namespaces it deleted.
func CleanupStale(ctx context.Context) ([]string, error) {
	r, err := newIPRunner()
	if err != nil {
		return nil, err
	}
	list, err := r.run(ctx, []string{"netns", "list"})
	if err != nil {
		return nil, err
	}
	stale := StaleNamespaces(list, os.Getpid(), pidAlive)
	var errs []error
	for _, ns := range stale {
		if pids, err := r.run(ctx, []string{"netns", "pids", ns}); err == nil {
			for _, f := range strings.Fields(pids) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if _, err := r.run(ctx, []string{"netns", "del", ns}); err != nil {
			errs = append(errs, err)
		}
	}
	return stale, errors.Join(errs...)
}

// dialInNetns dials addr from inside the named network namespace: the
// socket is created on an OS thread that entered the namespace (a socket
// keeps its namespace for life), then the thread goes back to its own
// namespace and is released. Should the way back fail, the thread stays
// locked and the runtime discards it when the goroutine ends, rather than
// reuse a thread that lives in another namespace. ns "" dials from the
// current namespace.
func dialInNetns(ctx context.Context, ns, addr string) (net.Conn, error) {
	var d net.Dialer
	if ns == "" {
		return d.DialContext(ctx, "tcp", addr)
	}
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("chaos: own namespace: %w", err)}
			return
		}
		defer home.Close()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("chaos: namespace %s: %w", ns, err)}
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("chaos: setns %s: %w", ns, err)}
			return
		}
		c, err := d.DialContext(ctx, "tcp", addr)
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
