// Command natsnode is the server process of the NATS baseline: an embedded
// nats-server listening on -listen, and the harness's counting service
// connected to it (over loopback TCP, or with -inprocess over nats.go's
// in-process connection), in one process, as cmd/node holds zerohop's
// counter entities; with -no-service the server alone (natsload -serve then
// runs the service in the load's process). It prints "READY <url>" once
// clients may connect and stops on SIGTERM or SIGINT.
//
//	natsnode -listen 127.0.0.1:27820
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/zerohop/zerohop/bench/natsbase/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "natsnode:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:4222", "client listen address host:port")
	inProcess := flag.Bool("inprocess", false, "connect the counting service through nats.go's in-process connection instead of loopback TCP")
	replyBytes := flag.Int("reply-bytes", harness.DefaultReplyBytes, "length of every reply to a request")
	noService := flag.Bool("no-service", false, "run the server alone (the counting service then runs elsewhere, e.g. natsload -serve)")
	flag.Parse()

	host, portS, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	s, err := server.NewServer(&server.Options{Host: host, Port: port, NoSigs: true, NoLog: true, HTTPPort: 0})
	if err != nil {
		return err
	}
	s.Start()
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	if !s.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("nats-server on %s not ready after 10s", *listen)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if *noService {
		fmt.Printf("READY %s nats-server %s (no service)\n", s.ClientURL(), server.VERSION)
		<-sig
		return nil
	}
	opts := []nats.Option{nats.Name("natsnode-service")}
	if *inProcess {
		opts = append(opts, nats.InProcessServer(s))
	}
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	svc, err := harness.Serve(nc, harness.ServiceConfig{ReplyBytes: *replyBytes})
	if err != nil {
		return err
	}
	defer svc.Close()
	fmt.Printf("READY %s nats-server %s nats.go %s inprocess=%v\n", s.ClientURL(), server.VERSION, nats.Version, *inProcess)
	<-sig
	st := svc.Stats()
	fmt.Printf("stopping: tells %d asks %d dropped %d\n", st.Tells, st.Asks, st.Dropped)
	return nil
}
