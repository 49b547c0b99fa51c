package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
)

// TestInterruptEndsTheRunCleanly: closing the interrupt channel (what the
// first SIGINT does) in the middle of an hour-long run stops the load, and
// the run still drains, verifies and reports what it sent: exit 130, 0 lost,
// interrupted. The target's own count of accepted tells is the reference.
func TestInterruptEndsTheRunCleanly(t *testing.T) {
	m := &memTarget{}
	interrupt := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		for m.accepted.Load() < 5000 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		close(interrupt)
	}()
	var stdout, stderr bytes.Buffer
	code := runInterruptible(ctx, interrupt, []string{"-json", "-duration", "1h", "-entities", "50", "-workers", "2", "-progress=false"},
		&stdout, &stderr, memOpener(m))
	if code != exitInterrupted {
		t.Fatalf("got exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if got["interrupted"] != true || num(t, got, "lost") != 0 || num(t, got, "unverified_entities") != 0 {
		t.Errorf("got interrupted %v lost %v unverified %v, want true, 0, 0", got["interrupted"], got["lost"], got["unverified_entities"])
	}
	if d, want := num(t, got, "tells_delivered"), float64(m.accepted.Load()); d != want || d < 5000 {
		t.Errorf("got tells_delivered %v, want the target's accepted count %v (>= 5000)", d, want)
	}
}

// TestInterruptWithALossExits1: a loss found in an interrupted run wins
// over the interrupt.
func TestInterruptWithALossExits1(t *testing.T) {
	m := &memTarget{loseEvery: 5}
	interrupt := make(chan struct{})
	go func() {
		for m.accepted.Load() < 1000 {
			time.Sleep(time.Millisecond)
		}
		close(interrupt)
	}()
	var stdout, stderr bytes.Buffer
	code := runInterruptible(context.Background(), interrupt, []string{"-duration", "1h", "-entities", "50", "-workers", "1", "-progress=false"},
		&stdout, &stderr, memOpener(m))
	if code != exitLoss {
		t.Fatalf("got exit %d, want %d; stderr:\n%s", code, exitLoss, stderr.String())
	}
	if !strings.Contains(stdout.String(), "INTERRUPTED after") || !strings.Contains(stdout.String(), "FAILED") {
		t.Errorf("result line does not say interrupted and failed:\n%s", stdout.String())
	}
}

// buildLoadgen builds this command into a temporary directory of t's.
func buildLoadgen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "loadgen")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go" // where this repository's machines have it (.ci/run)
	}
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer is a bytes.Buffer safe for a process's output and a test
// polling it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSIGINTProcess is the acceptance run as a user does it: the built
// command against its embedded 3-node cluster, -duration 60s, SIGINT once
// the load runs (its first progress line, about a second in, then 2 s more).
// It must exit 130 with a truthful partial report (0 lost, every entity
// verified) well before the 60 s are up.
func TestSIGINTProcess(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	if testing.Short() {
		t.Skip("builds loadgen and starts a 3-node cluster")
	}
	bin := buildLoadgen(t)
	var stdout, stderr lockedBuffer
	cmd := exec.Command(bin, "-duration", "60s", "-json", "-entities", "200", "-workers", "2", "-ask-concurrency", "4")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(stderr.String(), "tells/s") {
		select {
		case err := <-done:
			t.Fatalf("loadgen exited before the load: %v\n%s", err, stderr.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("no progress line within 2 minutes:\n%s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	time.Sleep(2 * time.Second) // load for a while; nothing is asserted about this wait
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(50 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running 50 s after SIGINT (the run was 60 s):\n%s", stderr.String())
	}
	t.Logf("exited %v after SIGINT", time.Since(sent).Round(time.Millisecond))
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("got exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitInterrupted, stdout.String(), stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if got["interrupted"] != true || num(t, got, "lost") != 0 || num(t, got, "unverified_entities") != 0 || num(t, got, "tells_delivered") == 0 {
		t.Errorf("got interrupted %v lost %v unverified %v delivered %v, want true, 0, 0, > 0",
			got["interrupted"], got["lost"], got["unverified_entities"], got["tells_delivered"])
	}
	// Independent of loadgen's own sums: the cluster's count.
	if num(t, got, "cluster_increments") != num(t, got, "tells_delivered") {
		t.Errorf("got cluster_increments %v, want tells_delivered %v", got["cluster_increments"], got["tells_delivered"])
	}
	if d := num(t, got, "duration_s"); d >= 60 {
		t.Errorf("got duration_s %v, want the interrupted part (< 60)", d)
	}
}

// verifyGate is a memTarget whose verification asks (GetCount after the
// flush that ends the load) wait for release: a run held in the middle of
// its partial report.
type verifyGate struct {
	*memTarget
	once     sync.Once
	verifies chan struct{} // closed by the first verification ask
	release  chan struct{}
}

func (g *verifyGate) GetCount(ctx context.Context, id string) (int64, error) {
	if g.flushed.Load() {
		g.once.Do(func() { close(g.verifies) })
		select {
		case <-g.release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return g.memTarget.GetCount(ctx, id)
}

// TestSecondSignalAborts: main's handler (onSignals) turns the first
// signal into the interrupt and a second one, arriving while the run
// verifies what it sent for its partial report, into exit 130 at once,
// saying "aborted: no report", with nothing on stdout. SIGINT then SIGTERM:
// either signal counts.
func TestSecondSignalAborts(t *testing.T) {
	m := &memTarget{}
	g := &verifyGate{memTarget: m, verifies: make(chan struct{}), release: make(chan struct{})}
	open := func(ctx context.Context, o *options, stderr io.Writer) (target, clusterInfo, error) {
		_, info, err := memOpener(m)(ctx, o, stderr)
		return g, info, err
	}
	interrupt := make(chan struct{})
	sig := make(chan os.Signal, 2)
	var stdout, stderr lockedBuffer
	exited := make(chan int, 1)
	go onSignals(sig, interrupt, &stderr, func(code int) { exited <- code })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- runInterruptible(ctx, interrupt, []string{"-json", "-duration", "1h", "-entities", "50", "-workers", "2", "-progress=false"},
			&stdout, &stderr, open)
	}()
	poll.UntilWithin(t, 2*time.Minute, "1000 tells accepted", func() bool { return m.accepted.Load() >= 1000 })
	sig <- syscall.SIGINT
	select {
	case <-g.verifies:
	case <-ctx.Done():
		t.Fatalf("the run never verified after the first signal; stderr:\n%s", stderr.String())
	}
	select {
	case code := <-exited:
		t.Fatalf("exit %d at the first signal, want the run to go on verifying", code)
	default:
	}
	if !strings.Contains(stderr.String(), "loadgen: interrupted: stopping the load") {
		t.Errorf("stderr after the first signal does not say it stops the load:\n%s", stderr.String())
	}
	sig <- syscall.SIGTERM
	select {
	case code := <-exited:
		if code != exitInterrupted {
			t.Errorf("second signal: exit %d, want %d", code, exitInterrupted)
		}
	case <-ctx.Done():
		t.Fatal("the second signal did not abort")
	}
	if !strings.Contains(stderr.String(), "loadgen: aborted: no report") {
		t.Errorf("stderr does not say aborted, no report:\n%s", stderr.String())
	}
	if out := stdout.String(); out != "" {
		t.Errorf("stdout has a report although the run was aborted while verifying:\n%s", out)
	}
	close(g.release) // let the run (which the real exit would have killed) end
	<-done
}

// TestMetricsAddrBusy: -metrics-addr on a port something else listens on
// is a configuration error: exit 2 before any load, stderr naming the flag
// and the cause, no report.
func TestMetricsAddrBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m := &memTarget{}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-json", "-duration", "1h", "-entities", "50", "-workers", "2", "-progress=false", "-metrics-addr", ln.Addr().String()},
		&stdout, &stderr, memOpener(m))
	if code != exitUsage {
		t.Fatalf("got exit %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
	}
	if e := stderr.String(); !strings.Contains(e, "loadgen: -metrics-addr:") || !strings.Contains(e, "address already in use") {
		t.Errorf("stderr does not name -metrics-addr and the busy address:\n%s", e)
	}
	if stdout.Len() != 0 || m.calls.Load() != 0 {
		t.Errorf("got a report (%d bytes) or tells (%d) after a metrics address that could not be served", stdout.Len(), m.calls.Load())
	}
	if !m.closed.Load() {
		t.Error("the target was not closed")
	}
}
