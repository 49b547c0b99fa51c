// Command demo is zerohop's counterpart of Casty's live/client_demo.py: it
// connects to a cluster serving the counter workload (WORKLOAD.md), tells and
// asks a sharded counter, looks up the node-stats service and asks every
// instance. It works against a real Casty v1 cluster (JSON serializer) and
// against a cluster of cmd/node processes.
//
//	go run ./examples/demo -contact 127.0.0.1:25520
//	go run ./examples/demo -contact node1:25520 -tls-ca ca.pem [-tls-cert client.pem -tls-key client.key] [-tls-server-name node1]
//
// It depends only on the client: engine, wire, ring and the client side of
// the workload (package workload: its message types), never on the node
// (TestDemoLinksOnlyTheClient).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run is the demo with its command-line arguments, printing to stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	contact := fs.String("contact", "127.0.0.1:25520", "comma-separated contact points host:port")
	system := fs.String("system", workload.DefaultSystem, "cluster system name")
	shards := fs.Int("shards", workload.DefaultShards, "shards of the counter entity type")
	module := fs.String("msg-module", workload.DefaultModule, "Python module of the workload messages")
	entity := fs.String("entity", "", "entity id (default: a fresh one per run)")
	caFile := fs.String("tls-ca", "", "CA bundle (PEM) that signed the nodes' certificates; enables TLS")
	certFile := fs.String("tls-cert", "", "client certificate (PEM), for nodes that require one (mTLS)")
	keyFile := fs.String("tls-key", "", "client private key (PEM)")
	serverName := fs.String("tls-server-name", "", "name to verify in the nodes' certificates (default: the host dialled)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	tlsCfg, err := loadTLS(*caFile, *certFile, *keyFile, *serverName)
	if err != nil {
		return err
	}
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, *module); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	t0 := time.Now()
	c, err := engine.Dial(ctx, engine.Config{
		ContactPoints: strings.Split(*contact, ","),
		SystemName:    *system,
		Types:         reg,
		TLS:           tlsCfg,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WaitTopology(ctx); err != nil {
		return fmt.Errorf("first topology: %w", err)
	}
	fmt.Fprintf(stdout, "[%6.2fms] identity %s, first snapshot\n", ms(t0), c.Identity())

	counter, err := c.EntityRef(workload.DefaultEntityType, *shards)
	if err != nil {
		return err
	}
	id := *entity
	if id == "" {
		id = fmt.Sprintf("demo-%d", time.Now().UnixNano())
	}
	fmt.Fprintf(stdout, "entity %q -> shard %d\n", id, ring.Shard(id, *shards))

	// Tell: held during the cache miss, then flushed in order to the owner.
	for _, amount := range []int{5, 3} {
		if err := counter.Tell(id, workload.Increment{Amount: amount}); err != nil {
			return fmt.Errorf("tell: %w", err)
		}
	}

	// Ask: the reply comes back on the same connection.
	t := time.Now()
	reply, err := engine.AskAs[workload.CountReply](ctx, c, counter, func(replyTo wire.Ref) any {
		return engine.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: replyTo}}
	})
	if err != nil {
		return fmt.Errorf("ask GetCount: %w", err)
	}
	fmt.Fprintf(stdout, "ask GetCount(%s) -> %+v (%.2f ms)\n", id, reply, ms(t))
	if reply.Value != 8 {
		return fmt.Errorf("GetCount(%s) = %d, want 8", id, reply.Value)
	}

	// Lookup: local and synchronous, from the cached registry.
	listing := c.Lookup(workload.StatsKey)
	fmt.Fprintf(stdout, "lookup(%q) -> %d instances\n", workload.StatsKey, len(listing.Instances))
	insts := listing.Instances
	sort.Slice(insts, func(i, j int) bool { return insts[i].Node.Less(insts[j].Node) })
	for _, inst := range insts {
		t := time.Now()
		st, err := engine.AskAs[workload.NodeStats](ctx, c, inst.Ref, func(replyTo wire.Ref) any {
			return workload.GetStats{ReplyTo: replyTo}
		})
		if err != nil {
			return fmt.Errorf("ask GetStats %s: %w", inst.Ref, err)
		}
		fmt.Fprintf(stdout, "  %s node=%s -> increments=%d amount_total=%d entities=%d (%.2f ms)\n",
			inst.Ref, inst.Node, st.Increments, st.AmountTotal, st.Entities, ms(t))
	}
	if len(insts) == 0 {
		return fmt.Errorf("lookup(%q): no instances", workload.StatsKey)
	}

	st := c.Stats()
	fmt.Fprintf(stdout, "stats: %+v\n", st)
	return nil
}

// loadTLS builds the client's TLS configuration from the -tls-* flags, or
// nil (plaintext) without -tls-ca.
func loadTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	if caFile == "" {
		if certFile != "" || keyFile != "" || serverName != "" {
			return nil, errors.New("-tls-cert, -tls-key and -tls-server-name need -tls-ca")
		}
		return nil, nil
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-tls-ca %s holds no PEM certificate", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func ms(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
