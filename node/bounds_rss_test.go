//go:build !race

package node_test

// The RSS test runs without the race detector only: its shadow memory
// multiplies the heap's footprint, which is what the test measures.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// procStatus returns a field of /proc/self/status in bytes (VmRSS, VmHWM).
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(field+":")) {
			continue
		}
		f := bytes.Fields(line[len(field)+1:])
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return kb << 10
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}

// partialHeader is the start of a frame declaring length bytes.
func partialHeader(length int) []byte {
	var h [wire.FrameHeaderLen]byte
	binary.BigEndian.PutUint32(h[:], uint32(length))
	h[4] = wire.FrameMessage
	return h[:]
}

// TestInboundMemoryBound is issue 9's acceptance for inbound memory: 40
// connections each holding an unfinished 15 MiB frame (under the 16 MiB
// frame cap) keep the process under 256 MiB of RSS while another client
// loses nothing, and once they have closed the RSS is back near where it
// was. Before the bounds the node took 3.69 GB and kept it.
func TestInboundMemoryBound(t *testing.T) { forEachTransport(t, testInboundMemoryBound) }

func testInboundMemoryBound(t *testing.T, transport string) {
	const (
		conns   = 40
		partial = 15 << 20
		bound   = 256 << 20 // the whole test process
		margin  = 16 << 20  // over the baseline once they closed
	)
	n := startBounded(t, transport, func(cfg *node.Config) {
		cfg.FrameTimeout = 5 * time.Minute // they hold their frames until closed
	})
	good := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.89.6.1", Port: 0}, nil)
	good.snapshot()
	runtime.GC()
	debug.FreeOSMemory()
	base := procStatus(t, "VmRSS")
	// Reset the peak (VmHWM) to now, so that it is this attack's.
	hwm := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil

	hdr := partialHeader(partial + 1024)
	chunk := make([]byte, 64<<10) // the body, written again and again: the test holds little
	var wg sync.WaitGroup
	attackers := make([]*rawClient, conns)
	for i := range attackers {
		attackers[i] = dialClient(t, n.Addr(), wire.NodeAddress{Host: fmt.Sprintf("127.89.7.%d", i+1), Port: 0}, nil)
	}
	var peak int64
	sampled := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, procStatus(t, "VmRSS"))
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	for _, a := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.c.SetWriteDeadline(time.Now().Add(2 * time.Minute))
			if _, err := a.c.Write(hdr); err != nil {
				return
			}
			for range partial / len(chunk) {
				if _, err := a.c.Write(chunk); err != nil {
					return // the node cut the connection
				}
			}
		}()
	}
	// The other client's increments, during the attack.
	const tells = 2000
	for i := range tells {
		good.send(wire.PathRegionPrefix+"counter", wire.ShardEnvelope{EntityID: fmt.Sprintf("good-%d", i%10),
			Message: workload.Increment{Amount: 1}})
	}
	wg.Wait()
	st := n.Stats()
	total := 0
	for i := range 10 {
		id := fmt.Sprintf("good-%d", i)
		r := good.ask(wire.PathRegionPrefix+"counter", func(ref wire.Ref) any {
			return wire.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: ref}}
		})
		total += int(r.(workload.CountReply).Value)
	}
	close(stop)
	<-sampled
	if hwm {
		peak = max(peak, procStatus(t, "VmHWM"))
	}
	t.Logf("%s: RSS %d MiB before, peak %d MiB; held %d MiB in unfinished frames, %d connections cut",
		transport, base>>20, peak>>20, st.InboundBuffered>>20, st.InboundBudgetCuts)
	if total != tells {
		t.Errorf("the other client's counters sum to %d, want %d", total, tells)
	}
	if peak > bound {
		t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, bound>>20)
	}
	if st.InboundBudgetCuts == 0 || st.InboundBuffered > node.DefaultInboundBudget {
		t.Errorf("budget cuts %d, held %d bytes; want cuts and at most %d", st.InboundBudgetCuts, st.InboundBuffered, node.DefaultInboundBudget)
	}

	for _, a := range attackers {
		_ = a.c.Close()
	}
	poll.Until(t, "attackers' connections closed", func() bool { return n.Stats().ConnectionsOpen == 1 })
	deadline := time.Now().Add(time.Minute)
	for {
		rss := procStatus(t, "VmRSS")
		if rss <= base+margin && n.Stats().InboundBuffered == 0 {
			t.Logf("%s: RSS back to %d MiB after %v", transport, rss>>20, time.Since(deadline.Add(-time.Minute)).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RSS %d MiB a minute after the connections closed, want at most %d MiB (baseline %d MiB + %d MiB); %d bytes still charged",
				rss>>20, (base+margin)>>20, base>>20, margin>>20, n.Stats().InboundBuffered)
		}
		time.Sleep(100 * time.Millisecond)
	}
	good.snapshot()
}
