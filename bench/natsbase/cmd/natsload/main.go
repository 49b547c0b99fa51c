// Command natsload is the client process of the NATS baseline, loadgen's
// counterpart: it connects to a natsnode with nats.go and runs one load
// (harness.Run), flags named and defaulted as loadgen's. With -json it
// prints one JSON object under loadgen's key names; it exits 1 when the
// run is not OK (a loss, a failure or a drop). With -serve it also runs the
// counting service, on its own connection (node_cpu_cores is then this
// process's CPU too).
//
//	natsload -json -contact 127.0.0.1:27820 -duration 5s -ask-concurrency 0   # tells flat out
//	natsload -json -contact 127.0.0.1:27820 -workers 0 -ask-concurrency 1      # a lone request-reply
//	natsload -json -contact 127.0.0.1:27820 -workers 0 -ask-concurrency 256    # 256 in flight
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/zerohop/zerohop/bench/natsbase/harness"
)

func main() {
	ok, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsload:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run() (bool, error) {
	cfg := harness.NewConfig()
	contact := flag.String("contact", "127.0.0.1:4222", "natsnode address host:port (or a nats:// URL)")
	asJSON := flag.Bool("json", false, "print the report as one JSON object")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "send phase")
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "publishing goroutines (0: asks only)")
	flag.IntVar(&cfg.AskConcurrency, "ask-concurrency", cfg.AskConcurrency, "requests in flight (0: tells only)")
	flag.IntVar(&cfg.Entities, "entities", cfg.Entities, "entity ids (subjects) cycled over")
	flag.IntVar(&cfg.TellBytes, "tell-bytes", harness.DefaultTellBytes, "payload of a tell (zerohop's tell frame length)")
	flag.IntVar(&cfg.AskBytes, "ask-bytes", harness.DefaultAskBytes, "payload of a request (zerohop's GetCount frame length)")
	serve := flag.Bool("serve", false, "run the counting service in this process, on a second connection (against natsnode -no-service)")
	flag.DurationVar(&cfg.Settle, "settle", 0, "how long the service's count may stay unchanged after sending before the rest is lost (default 2s)")
	flag.Parse()

	url := *contact
	if !strings.Contains(url, "://") {
		url = "nats://" + url
	}
	nc, err := nats.Connect(url, nats.Name("natsload"))
	if err != nil {
		return false, err
	}
	defer nc.Close()
	if *serve {
		snc, err := nats.Connect(url, nats.Name("natsload-service"))
		if err != nil {
			return false, err
		}
		defer snc.Close()
		svc, err := harness.Serve(snc, harness.ServiceConfig{})
		if err != nil {
			return false, err
		}
		defer svc.Close()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := harness.Run(ctx, nc, cfg)
	if err != nil {
		return false, err
	}
	if *asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return false, err
		}
		fmt.Println(string(b))
	} else {
		fmt.Printf("tells: sent %d delivered %d failed %d lost %d dropped %d: %.0f/s delivered (send %.0f/s), drain %.3fs\n",
			rep.TellsSent, rep.TellsDelivered, rep.TellsFailed, rep.Lost, rep.SubscriberDropped, rep.TellsPerSec, rep.SendTellsPerSec, rep.DrainS)
		fmt.Printf("asks: %d (%d errors), %.0f/s, p50 %.1f us p99 %.1f us p99.9 %.1f us max %.1f us\n",
			rep.Asks, rep.AskErrors, rep.AsksPerSec, rep.AskP50US, rep.AskP99US, rep.AskP999US, rep.AskMaxUS)
		fmt.Printf("cpu: load %.2f cores, node %.2f cores; ok %v\n", rep.CPUCores, rep.NodeCPUCores, rep.OK)
	}
	return rep.OK, nil
}
