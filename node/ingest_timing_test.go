package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/workload/counter"
)

// BenchmarkIngest measures node ingest: raw TCP senders write JSON
// ShardEnvelope(Increment) frames (pre-encoded, batched writes) to
// /_region-counter of a one-node cluster; a message counts when a counter
// entity processed it. Reports msgs/s; allocs/op is per message (the whole
// process: readers or event loops, decoding, mailboxes, workers). Both node
// transports.
func BenchmarkIngest(b *testing.B) {
	for _, tp := range []string{node.TransportNet, node.TransportGnet} {
		for _, conns := range []int{1, 4} {
			b.Run(fmt.Sprintf("transport=%s/conns=%d", tp, conns), func(b *testing.B) { benchIngest(b, tp, conns) })
		}
	}
}

func benchIngest(b *testing.B, transport string, conns int) {
	cfg := node.Config{Logger: slog.New(slog.DiscardHandler), Transport: transport}
	tally, err := counter.Configure(&cfg, workload.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close(context.Background())
	reg := newRegistry(b)
	const entities = 1024
	frames := make([][]byte, entities)
	for i := range frames {
		f, err := reg.AppendMessageFrame(nil, wire.NodeURI("live", n.Addr(), "/_region-counter"), "casty://live-client@127.44.0.1:0/",
			wire.ShardEnvelope{EntityID: fmt.Sprintf("bench-%d", i), Message: workload.Increment{Amount: 1}}, 0)
		if err != nil {
			b.Fatal(err)
		}
		frames[i] = f
	}
	cs := make([]net.Conn, conns)
	for i := range cs {
		rc := dialClient(b, n.Addr(), wire.NodeAddress{Host: fmt.Sprintf("127.44.0.%d", i+1), Port: 0}, nil)
		cs[i] = rc.c
	}
	// Warm up: every entity created, every shard allocated.
	write := func(c net.Conn, count, offset int) {
		buf := make([]byte, 0, 64<<10)
		for i := range count {
			f := frames[(offset+i)%entities]
			if len(buf)+len(f) > cap(buf) {
				if _, err := c.Write(buf); err != nil {
					b.Error(err)
					return
				}
				buf = buf[:0]
			}
			buf = append(buf, f...)
		}
		if _, err := c.Write(buf); err != nil {
			b.Error(err)
		}
	}
	waitCount := func(want int64) {
		deadline := time.Now().Add(60 * time.Second)
		for tally.Stats("").Increments < want {
			if time.Now().After(deadline) {
				b.Fatalf("processed %d of %d", tally.Stats("").Increments, want)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	write(cs[0], entities, 0)
	waitCount(entities)
	base := int64(entities)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := b.N / conns
	for i, c := range cs {
		count := per
		if i == 0 {
			count += b.N - per*conns
		}
		wg.Add(1)
		go func() { defer wg.Done(); write(c, count, i*7) }()
	}
	wg.Wait()
	waitCount(base + int64(b.N))
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	if d := n.Stats().MailboxDropped; d != 0 {
		b.Fatalf("%d messages dropped", d)
	}
}
