package main

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/scrape"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
)

// freePort returns a loopback port that is free for TCP and UDP right now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p+1000 > 65535 {
			continue
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p+1000))
		if err != nil {
			continue
		}
		_ = u.Close()
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1000))
		if err != nil {
			continue
		}
		_ = l2.Close()
		return p
	}
	t.Fatal("no free port pair")
	return 0
}

// TestThreeProcesses builds cmd/node, starts three processes that form one
// cluster (gossip on listen port + 1000, the default), checks a client sees
// three up members, then stops them with SIGTERM.
func TestThreeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs processes")
	}
	bin := filepath.Join(t.TempDir(), "node")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A port found free can be taken by another process before the node
	// binds it (the machine is shared): a node that exits before READY is
	// started again on other ports.
	var ports []int
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}()
	used := map[int]bool{}
	for i := range 3 {
		for attempt := 1; ; attempt++ {
			p := freePort(t)
			if used[p] {
				continue
			}
			used[p] = true
			args := []string{"-listen", "127.0.0.1:" + strconv.Itoa(p), "-log-level", "warn"}
			if i > 0 {
				args = append(args, "-seeds", "127.0.0.1:"+strconv.Itoa(ports[0]+1000))
			}
			cmd, ok := startNode(t, bin, args, "READY 127.0.0.1:"+strconv.Itoa(p))
			if ok {
				procs = append(procs, cmd)
				ports = append(ports, p)
				break
			}
			if attempt == 3 {
				t.Fatalf("node %d exited before READY %d times", i, attempt)
			}
		}
	}
	// A client sees three up members and the lowest address as leader.
	reg := castyjson.NewRegistry()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ts := subscribeOnce(t, reg, ports[0])
		up := 0
		for _, m := range ts.Members {
			if m.Status == wire.StatusUp {
				up++
			}
		}
		if up == 3 && ts.Leader != nil && len(ts.Registry) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no converged snapshot: %+v", ts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- procs[i].Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node %d exit: %v", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("node %d did not exit on SIGTERM", i)
		}
		procs = procs[:i]
	}
}

// startNode starts bin with args and waits for its READY line, which must
// be want. It reports false (the process has exited) when the process ends
// before printing READY, e.g. because its port was taken.
func startNode(t *testing.T, bin string, args []string, want string) (*exec.Cmd, bool) {
	t.Helper()
	cmd, _, ok := startNodeMetrics(t, bin, args, want)
	return cmd, ok
}

// startNodeMetrics is startNode that also returns the address of the
// node's METRICS line ("" if it printed none before READY).
func startNodeMetrics(t *testing.T, bin string, args []string, want string) (*exec.Cmd, string, bool) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	var metrics string // written before ready is sent
	go func() {
		defer close(ready)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "METRICS "); ok {
				metrics = a
			}
			if strings.HasPrefix(sc.Text(), "READY ") {
				ready <- sc.Text()
			}
		}
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Logf("node %v exited before READY: %s", args, stderr.String())
			return nil, "", false
		}
		if line != want {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("got %q, want %q", line, want)
		}
		return cmd, metrics, true
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("node %v not ready: %s", args, stderr.String())
	}
	return nil, "", false
}

// TestMetricsAddr: a node started with -metrics-addr serves its counters
// at /metrics; a client connection and its subscription move them.
func TestMetricsAddr(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a process")
	}
	bin := filepath.Join(t.TempDir(), "node")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var cmd *exec.Cmd
	var addr string
	var port int
	for attempt := 1; ; attempt++ {
		port = freePort(t)
		var ok bool
		cmd, addr, ok = startNodeMetrics(t, bin, []string{"-listen", "127.0.0.1:" + strconv.Itoa(port), "-log-level", "warn", "-metrics-addr", "127.0.0.1:0"}, "READY 127.0.0.1:"+strconv.Itoa(port))
		if ok {
			break
		}
		if attempt == 3 {
			t.Fatalf("node exited before READY %d times", attempt)
		}
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if addr == "" {
		t.Fatal("no METRICS line before READY")
	}
	m0, err := scrape.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"zerohop_node_connections_accepted_total", "zerohop_node_frames_in_total", "zerohop_node_subscribers"} {
		if !m0.Has(name) {
			t.Fatalf("no %s in the first scrape", name)
		}
	}
	subscribeOnce(t, castyjson.NewRegistry(), port)
	m1, err := scrape.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	if d := m1["zerohop_node_connections_accepted_total"] - m0["zerohop_node_connections_accepted_total"]; d < 1 {
		t.Errorf("connections accepted grew by %v after a connection", d)
	}
	if d := m1["zerohop_node_frames_in_total"] - m0["zerohop_node_frames_in_total"]; d < 1 {
		t.Errorf("frames in grew by %v after a subscription", d)
	}
}

func subscribeOnce(t *testing.T, reg *castyjson.Registry, port int) wire.TopologySnapshot {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	id := wire.NodeAddress{Host: "127.1.2.3", Port: 0}
	if _, err := c.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: id.Host, Port: id.Port})); err != nil {
		t.Fatal(err)
	}
	fr := wire.NewFrameReader(c, 0)
	if typ, _, err := fr.Next(); err != nil || typ != wire.FrameHandshake {
		t.Fatalf("handshake reply: %d %v", typ, err)
	}
	ref := wire.Ref{Address: wire.Address{System: "live-client", Host: id.Host, Port: 0, Path: wire.PathTopologySub}}
	f, err := reg.AppendMessageFrame(nil, "casty://live@127.0.0.1:"+strconv.Itoa(port)+wire.PathTopology,
		"casty://live-client@127.1.2.3:0/", wire.SubscribeTopology{ReplyTo: ref}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(f); err != nil {
		t.Fatal(err)
	}
	_, body, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	_, payload, err := wire.ParseMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	var ts wire.TopologySnapshot
	if err := reg.DecodeInto(payload, &ts); err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestParseEntities(t *testing.T) {
	ok := []struct {
		in     string
		typ    string
		shards int
		hash   ring.Hash
	}{
		{"counter:32", "counter", 32, ring.HashMD5},
		{"counter:32:md5", "counter", 32, ring.HashMD5},
		{"counter:32:xxh64", "counter", 32, ring.HashXXH64},
	}
	for _, tt := range ok {
		typ, shards, hash, err := parseEntities(tt.in)
		if err != nil || typ != tt.typ || shards != tt.shards || hash != tt.hash {
			t.Errorf("parseEntities(%q) = %q, %d, %v, %v; want %q, %d, %v", tt.in, typ, shards, hash, err, tt.typ, tt.shards, tt.hash)
		}
	}
	for _, in := range []string{"", "counter", ":32", "counter:0", "counter:x", "counter:32:", "counter:32:sha1", "counter:32:xxh64:1"} {
		if _, _, _, err := parseEntities(in); err == nil {
			t.Errorf("parseEntities(%q): no error", in)
		}
	}
}
