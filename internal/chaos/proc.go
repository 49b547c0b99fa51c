package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// monoNow returns CLOCK_MONOTONIC in ns: the clock of NodeState, so the
// instants the harness records line up with the nodes' claims.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("chaos: CLOCK_MONOTONIC: " + err.Error()) // broken invariant: Linux always has it
	}
	return ts.Nano()
}

// ProcSpec describes one process to start.
type ProcSpec struct {
	Name  string   // for logs and reports: n0, loadgen, rogue
	Bin   string   // absolute path
	Args  []string // without the program name
	Netns string   // run inside this namespace (ip netns exec), "" = current
	Log   string   // file for stdout and stderr (appended)
	Env   []string // extra environment (KEY=VALUE)
	// KeepStdout keeps up to this many bytes of stdout in memory (loadgen's
	// JSON report); 0 keeps none.
	KeepStdout int
}

// Proc is one started process: its own process group, stdout and stderr
// appended to a log file, "READY host:port" on stdout detected. Signals go
// to its pid only. A Proc is safe for concurrent use; it must not be
// copied.
type Proc struct {
	Name string
	Pid  int
	Log  string

	readyCh chan string   // gets the READY address once
	done    chan struct{} // closed when the process was reaped

	mu       sync.Mutex
	exitCode int   // guarded by mu; valid after done
	exitErr  error // guarded by mu; valid after done
	stopped  bool  // SIGSTOPped and not yet continued; guarded by mu
	out      *lineSink
}

// StartProc starts the process described by spec. The process gets its own
// process group (a signal to the driver's group does not reach it) and
// SIGKILL when the driver's thread that forked it dies (Pdeathsig: a
// driver killed with SIGKILL leaves no node behind; the harness never
// ends an OS thread on purpose, see dialInNetns).
func StartProc(spec ProcSpec) (*Proc, error) {
	logf, err := os.OpenFile(spec.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	bin, args := spec.Bin, spec.Args
	if spec.Netns != "" {
		ip, err := exec.LookPath("ip")
		if err != nil {
			logf.Close()
			return nil, fmt.Errorf("chaos: ip(8): %w", err)
		}
		// ip netns exec execs the program in place: the pid is the node's.
		args = append([]string{"netns", "exec", spec.Netns, bin}, args...)
		bin = ip
	}
	p := &Proc{Name: spec.Name, Log: spec.Log, readyCh: make(chan string, 1), done: make(chan struct{})}
	p.out = &lineSink{w: logf, ready: p.readyCh, keep: spec.KeepStdout}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = p.out
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logf, "=== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("chaos: start %s: %w", spec.Name, err)
	}
	p.Pid = cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.exitCode = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.exitCode = 128 + int(ws.Signal())
		}
		p.mu.Unlock()
		fmt.Fprintf(logf, "=== %s: exited: %v (code %d)\n", time.Now().Format(time.RFC3339Nano), err, p.exitCode)
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// WaitReady waits for "READY host:port" and returns host:port. It fails
// when the process exits first or ctx ends.
func (p *Proc) WaitReady(ctx context.Context) (string, error) {
	select {
	case a := <-p.readyCh:
		p.readyCh <- a // keep it for a later call
		return a, nil
	case <-p.done:
		return "", fmt.Errorf("chaos: %s exited before READY (code %d); log %s: %s", p.Name, p.ExitCode(), p.Log, tail(p.Log, 600))
	case <-ctx.Done():
		return "", fmt.Errorf("chaos: %s not READY: %w; log %s: %s", p.Name, ctx.Err(), p.Log, tail(p.Log, 600))
	}
}

// Ready reports whether READY was seen.
func (p *Proc) Ready() bool { return len(p.readyCh) > 0 }

// Signal sends sig to the process (its pid, never a group).
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("chaos: %s already exited", p.Name)
	}
	if err := syscall.Kill(p.Pid, sig); err != nil {
		return fmt.Errorf("chaos: signal %v to %s (pid %d): %w", sig, p.Name, p.Pid, err)
	}
	p.mu.Lock()
	switch sig {
	case syscall.SIGSTOP:
		p.stopped = true
	case syscall.SIGCONT:
		p.stopped = false
	}
	p.mu.Unlock()
	return nil
}

// Kill sends SIGKILL (also to a stopped process) and waits until it was
// reaped, at most 10 s.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(p.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// WaitExit waits for the process to exit and returns its exit code
// (128+signal when killed by one).
func (p *Proc) WaitExit(ctx context.Context) (int, error) {
	select {
	case <-p.done:
		return p.ExitCode(), nil
	case <-ctx.Done():
		return -1, fmt.Errorf("chaos: %s still running: %w", p.Name, ctx.Err())
	}
}

// Exited reports whether the process was reaped.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process was reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitCode returns the exit code (valid once Exited).
func (p *Proc) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode
}

// Stdout returns the stdout kept in memory (ProcSpec.KeepStdout).
func (p *Proc) Stdout() []byte { return p.out.kept() }

// RSS returns the process's resident set size from /proc/<pid>/status.
func (p *Proc) RSS() (int64, error) { return readRSS(p.Pid) }

func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// parseVmRSS reads the VmRSS line ("VmRSS:   12345 kB") of a
// /proc/<pid>/status file, in bytes.
func parseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("chaos: no VmRSS line")
}

// lineSink is the stdout of a process: every byte goes to the log file,
// the first "READY host:port" line goes to ready, and up to keep bytes are
// kept in memory. exec's copying goroutine is its only writer; kept may be
// called concurrently.
type lineSink struct {
	w     io.Writer
	ready chan string
	keep  int

	mu      sync.Mutex
	partial []byte // an unfinished line; guarded by mu
	buf     []byte // kept stdout; guarded by mu
	seen    bool   // READY seen; guarded by mu
}

func (s *lineSink) Write(b []byte) (int, error) {
	_, _ = s.w.Write(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keep > 0 && len(s.buf) < s.keep {
		s.buf = append(s.buf, b[:min(len(b), s.keep-len(s.buf))]...)
	}
	if s.seen {
		return len(b), nil
	}
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			if len(s.partial) > 4096 {
				s.partial = s.partial[:0]
			}
			return len(b), nil
		}
		line := strings.TrimSpace(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
		if addr, ok := strings.CutPrefix(line, "READY "); ok {
			s.seen = true
			s.ready <- strings.TrimSpace(addr)
			return len(b), nil
		}
	}
}

func (s *lineSink) kept() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf)
}

// tail returns the last n bytes of a file, on one line, for error
// messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " | ")
}
