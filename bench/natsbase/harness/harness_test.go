package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestMain fails the package when a goroutine started by Run or Serve is
// still alive after the tests (polled, generous deadline).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := waitNoHarnessGoroutines(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "goroutines of the harness still running:\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

func waitNoHarnessGoroutines(deadline time.Duration) string {
	end := time.Now().Add(deadline)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "natsbase/harness.(*run)") || strings.Contains(g, "natsbase/harness.Run") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(end) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startServer runs an embedded nats-server on a free loopback port until
// the test ends.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server not ready after 30s")
	}
	return s
}

func connect(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func serve(t *testing.T, s *server.Server, cfg ServiceConfig) *Service {
	t.Helper()
	svc, err := Serve(connect(t, s), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

func TestRunCountsEveryTell(t *testing.T) {
	s := startServer(t)
	svc := serve(t, s, ServiceConfig{})
	const n = 20_000
	for round := range 2 { // the second run starts from the first one's count
		rep, err := Run(context.Background(), connect(t, s), Config{Tells: n, Workers: 2, Entities: 100, Settle: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if rep.TellsSent != n || rep.TellsDelivered != n || rep.Lost != 0 || rep.TellsFailed != 0 || !rep.OK {
			t.Fatalf("round %d: sent %d delivered %d lost %d failed %d ok %v, want %d %d 0 0 true (%+v)",
				round, rep.TellsSent, rep.TellsDelivered, rep.Lost, rep.TellsFailed, rep.OK, n, n, rep)
		}
	}
	if got := svc.Stats().Tells; got != 2*n {
		t.Fatalf("service counted %d tells, want %d", got, 2*n)
	}
}

// lossyService stands in for Serve with a subscriber that loses some
// tells: it counts every tell on TellPrefix+">" except those skip selects,
// and answers StatsSubject with that count.
func lossyService(t *testing.T, s *server.Server, skip func(k int64) bool) {
	t.Helper()
	nc := connect(t, s)
	var seen, counted atomic.Int64
	if _, err := nc.Subscribe(TellPrefix+">", func(*nats.Msg) {
		if !skip(seen.Add(1)) {
			counted.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(StatsSubject, func(m *nats.Msg) {
		b, _ := json.Marshal(Stats{Tells: counted.Load()})
		_ = m.Respond(b)
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestRunReportsADroppedTellAsLost(t *testing.T) {
	for _, lose := range []int64{1, 7} {
		t.Run(fmt.Sprint(lose), func(t *testing.T) {
			s := startServer(t)
			lossyService(t, s, func(k int64) bool { return k%100 == 0 && k/100 <= lose })
			rep, err := Run(context.Background(), connect(t, s), Config{Tells: 1000, Workers: 2, AskConcurrency: 0, Settle: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if rep.TellsSent != 1000 || rep.TellsDelivered != 1000-lose || rep.Lost != lose || rep.OK {
				t.Fatalf("sent %d delivered %d lost %d ok %v, want 1000 %d %d false", rep.TellsSent, rep.TellsDelivered, rep.Lost, rep.OK, 1000-lose, lose)
			}
		})
	}
}

// lossyService with a dropped figure that grows with every stats answer:
// the subscriber dropped messages during the run (nats.go's slow-consumer
// drops), even though every tell was counted.
func TestRunIsNotOKWhenTheSubscriberDropped(t *testing.T) {
	s := startServer(t)
	nc := connect(t, s)
	var counted, answers atomic.Int64
	if _, err := nc.Subscribe(TellPrefix+">", func(*nats.Msg) { counted.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(StatsSubject, func(m *nats.Msg) {
		b, _ := json.Marshal(Stats{Tells: counted.Load(), Dropped: 5 * answers.Add(1)})
		_ = m.Respond(b)
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), connect(t, s), Config{Tells: 100, Workers: 1, Settle: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SubscriberDropped < 5 || rep.Lost != 0 || rep.OK {
		t.Fatalf("subscriber_dropped %d lost %d ok %v, want >= 5, 0, false", rep.SubscriberDropped, rep.Lost, rep.OK)
	}
}

func TestRunAsks(t *testing.T) {
	s := startServer(t)
	svc := serve(t, s, ServiceConfig{ReplyBytes: 17})
	rep, err := Run(context.Background(), connect(t, s), Config{Workers: 0, AskConcurrency: 4, Duration: 200 * time.Millisecond, AskTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Asks == 0 || rep.AskErrors != 0 || !rep.OK {
		t.Fatalf("asks %d errors %d ok %v (%s), want > 0, 0, true", rep.Asks, rep.AskErrors, rep.OK, rep.FirstAskError)
	}
	if !(rep.AskP50US > 0 && rep.AskP50US <= rep.AskP99US && rep.AskP99US <= rep.AskMaxUS) {
		t.Fatalf("p50 %v p99 %v max %v: not ordered", rep.AskP50US, rep.AskP99US, rep.AskMaxUS)
	}
	if got := svc.Stats().Asks; got < rep.Asks {
		t.Fatalf("service answered %d asks, the load counted %d", got, rep.Asks)
	}
	m, err := connect(t, s).Request(AskPrefix+"x", []byte("q"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Data) != 17 {
		t.Fatalf("reply of %d bytes, want 17", len(m.Data))
	}
}

func TestLatencyQuantiles(t *testing.T) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		lat[len(lat)-1-i] = time.Duration(i+1) * time.Microsecond // 1000 µs .. 1 µs, unsorted
	}
	var r Report
	r.setLatencies(lat, time.Second)
	if r.AskP50US != 500 || r.AskP99US != 990 || r.AskP999US != 999 || r.AskMaxUS != 1000 || r.AsksPerSec != 1000 {
		t.Fatalf("p50 %v p99 %v p99.9 %v max %v rate %v, want 500 990 999 1000 1000", r.AskP50US, r.AskP99US, r.AskP999US, r.AskMaxUS, r.AsksPerSec)
	}
}

func TestConfigRejectsNothingToSend(t *testing.T) {
	if _, err := (Config{}).withDefaults(); err == nil {
		t.Fatal("Workers 0 and AskConcurrency 0: no error")
	}
	if _, err := (Config{Workers: 1, Entities: -1}).withDefaults(); err == nil {
		t.Fatal("Entities -1: no error")
	}
}
