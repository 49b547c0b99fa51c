// Command ceiling measures the raw loopback frame rate of this machine: one
// writer with batched writes and one reader counting 64-byte frames in Casty's
// framing over one TCP connection on 127.0.0.1, with no zerohop code in the
// path. It is the physical reference that zerohop's end-to-end numbers are
// divided by (see PERFORMANCE.md).
//
//	go run ./bench/cmd/ceiling -duration 5s -runs 3
//	go run ./bench/cmd/ceiling -json
//	go run ./bench/cmd/ceiling -rtt 20000      # also the raw round-trip latency
//	go run ./bench/cmd/ceiling -rtt 20000 -rtt-echo goroutine,gnet
//
// With -runs N it runs N times back to back and reports each run and the
// median by frames/s; with -json it prints one JSON object on stdout. With
// -rtt N it then measures N sequential round trips of one 64-byte frame to
// an echo goroutine: the floor under any ask's latency on this machine; with
// -rtt-echo gnet (or goroutine,gnet) to a gnet event loop as well, the
// floor for a peer served by gnet; with -rtt-echo process to an echo
// goroutine in a second process (this command run again with -echo-serve),
// the floor for a request between two processes, as zerohop's
// two-process runs make; -rtt-handoff writer,reader,both repeats it with a
// goroutine between the requester and the socket on the writing side, the
// reading side or both (the hand-offs every client with a writer or a
// reader goroutine makes); -echo-cpus pins that process (bench/placement.sh
// measures it with the two processes on one vCPU and on two).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/zerohop/zerohop/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		duration = flag.Duration("duration", 5*time.Second, "how long the writer writes, per run")
		frame    = flag.Int("frame", bench.DefaultCeilingFrameSize, "frame size on the wire in bytes, 5-byte header included")
		batch    = flag.Int("batch", bench.DefaultCeilingBatchBytes, "bytes per write call (rounded down to whole frames)")
		readBuf  = flag.Int("read-buffer", bench.DefaultCeilingReadBuffer, "reader buffer in bytes")
		runs     = flag.Int("runs", 1, "number of runs; the median by frames/s is reported")
		asJSON   = flag.Bool("json", false, "print one JSON object on stdout instead of a table")
		rtt      = flag.Int("rtt", 0, "then measure this many sequential loopback round trips of one frame (0: skip)")
		rttEcho  = flag.String("rtt-echo", bench.EchoGoroutine, "echo servers for -rtt, comma-separated: goroutine, gnet, process")
		serve    = flag.Bool("echo-serve", false, "serve -rtt-echo process's echo: listen on 127.0.0.1, print the address, echo until stdin closes")
		handoffs = flag.String("rtt-handoff", "", "with -rtt-echo process, measure also with these client hand-offs, comma-separated: writer, reader, both (a goroutine between the requester and the socket, as clients with a writer or reader goroutine have)")
		echoCPUs = flag.String("echo-cpus", "", "run -rtt-echo process's echo under taskset -c with this CPU list (e.g. 1), to measure a placement of the two processes; run this command under taskset too")
	)
	flag.Parse()
	if *serve {
		return serveEcho()
	}
	if *runs < 1 {
		fmt.Fprintf(os.Stderr, "ceiling: -runs %d must be at least 1\n", *runs)
		return 2
	}
	echoes := splitList(*rttEcho)
	hands := splitList(*handoffs)
	for _, h := range hands {
		if h != bench.HandoffWriter && h != bench.HandoffReader && h != bench.HandoffBoth {
			fmt.Fprintf(os.Stderr, "ceiling: -rtt-handoff %q: want writer, reader or both\n", h)
			return 2
		}
	}
	if (len(hands) > 0 || *echoCPUs != "") && !slices.Contains(echoes, bench.EchoProcess) {
		fmt.Fprintln(os.Stderr, "ceiling: -rtt-handoff and -echo-cpus need -rtt-echo process")
		return 2
	}
	cfg := bench.CeilingConfig{FrameSize: *frame, BatchBytes: *batch, ReadBuffer: *readBuf, Duration: *duration}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	results := make([]bench.CeilingResult, 0, *runs)
	for i := range *runs {
		r, err := bench.Ceiling(ctx, cfg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ceiling: run %d: %v\n", i+1, err)
			return 1
		}
		results = append(results, r)
		if !*asJSON {
			fmt.Printf("run %d: %12.0f frames/s  %9.1f MB/s  (%d frames in %.2fs, %d writes, %d reads)\n",
				i+1, r.FramesPerSec, r.MBPerSec, r.Frames, r.Seconds, r.Writes, r.Reads)
		}
	}
	var rts []bench.RoundTripResult
	if *rtt > 0 {
		for _, echo := range echoes {
			rs, err := roundTripsTo(ctx, echo, *rtt, *echoCPUs, hands)
			if err != nil {
				fmt.Fprintf(os.Stderr, "ceiling: round trip: %v\n", err)
				return 1
			}
			rts = append(rts, rs...)
		}
	}
	sorted := append([]bench.CeilingResult(nil), results...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].FramesPerSec < sorted[j].FramesPerSec })
	med := sorted[len(sorted)/2]

	if *asJSON {
		out := struct {
			bench.CeilingResult
			Runs       []bench.CeilingResult   `json:"runs"`
			RoundTrips []bench.RoundTripResult `json:"round_trips,omitempty"`
			GoVersion  string                  `json:"go_version"`
			GOMAXPROCS int                     `json:"gomaxprocs"`
			NumCPU     int                     `json:"num_cpu"`
		}{med, results, rts, runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU()}
		enc := json.NewEncoder(os.Stdout)
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, "ceiling:", err)
			return 1
		}
		return 0
	}
	fmt.Printf("median of %d: %.0f frames/s, %.1f MB/s (frame %d B, %d frames per write, %s, GOMAXPROCS=%d)\n",
		len(results), med.FramesPerSec, med.MBPerSec, med.FrameSize, med.BatchFrames, runtime.Version(), runtime.GOMAXPROCS(0))
	for _, rt := range rts {
		fmt.Printf("round trip of one %d-byte frame to a %s echo (%d sequential): p50 %v  p90 %v  p99 %v  max %v  (%.0f/s)\n",
			bench.DefaultCeilingFrameSize, rt.Echo, rt.Count, rt.P50, rt.P90, rt.P99, rt.Max, rt.PerSec)
	}
	return 0
}

// splitList splits a comma-separated flag value into its trimmed,
// non-empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// roundTripsTo measures count round trips to echo: bench.RoundTrip, or
// for bench.EchoProcess processRoundTrips with cpus and handoffs.
func roundTripsTo(ctx context.Context, echo string, count int, cpus string, handoffs []string) ([]bench.RoundTripResult, error) {
	if echo == bench.EchoProcess {
		return processRoundTrips(ctx, count, cpus, handoffs)
	}
	r, err := bench.RoundTrip(ctx, count, echo)
	if err != nil {
		return nil, err
	}
	return []bench.RoundTripResult{r}, nil
}

// processRoundTrips measures count round trips to an echo in a child
// process (this executable with -echo-serve), which it stops before
// returning: first with no hand-off, then with each of handoffs
// (bench.RoundTripHandoff). With cpus it runs the child under taskset -c
// cpus.
func processRoundTrips(ctx context.Context, count int, cpus string, handoffs []string) ([]bench.RoundTripResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-echo-serve")
	if cpus != "" {
		cmd = exec.Command("taskset", "-c", cpus, exe, "-echo-serve")
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		stdin.Close() // the child's cue to stop
		if err := cmd.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "ceiling: echo process:", err)
		}
	}()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("echo process: %w", err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", strings.TrimSpace(addr))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r, err := bench.RoundTripOver(ctx, c, count, bench.EchoProcess)
	if err != nil {
		return nil, err
	}
	rs := []bench.RoundTripResult{r}
	for _, h := range handoffs {
		r, err := bench.RoundTripHandoff(ctx, c, count, bench.EchoProcess, h)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// serveEcho is the child of processRoundTrips: it echoes on 127.0.0.1
// (bench.ServeEcho) until its stdin closes.
func serveEcho() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling: echo:", err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		ln.Close()
	}()
	bench.ServeEcho(ln)
	return 0
}
