// Command node runs one zerohop cluster node with the counter workload of
// shared/WORKLOAD.md built in (system "live", entity type counter:32, the
// node-stats service at /stats, message module app_messages).
//
//	node -listen 127.0.0.1:25520                                   # first node
//	node -listen 127.0.0.1:25521 -seeds 127.0.0.1:26520           # joins it
//
// Members agree through a consensus log (raft) on their own port (listen
// port + 2000 by default, -raft); -gossip-key (or ZEROHOP_GOSSIP_KEY)
// authenticates members on the gossip and consensus ports, -data-dir keeps
// the log on disk so that a restarted node rejoins as itself.
//
// It prints "READY <advertised host:port>" on stdout once it is a member
// that has caught up with the cluster, and on SIGTERM or SIGINT leaves
// gracefully (drains, hands its shards over through the consensus,
// forwards stragglers for -drain-window) and exits 0; a second signal
// kills it. Plaintext
// connections are served by gnet event loops (-transport gnet, the
// default: faster for a node in its own process) or by goroutines on the
// Go network poller (-transport net); TLS (-tls-*) always by the latter.
//
// -entities type:shards[:hash] sets the entity type, its shard count and
// its shard hash: md5 (the default, Casty's) or xxh64, for a cluster of
// zerohop nodes only; every node of the cluster must give the same (the
// first to register the type fixes them; a node that differs hosts
// nothing of it), and zerohop clients learn the hash from the handshake.
//
// With -metrics-addr host:port it serves its counters in the Prometheus
// text format at http://host:port/metrics (the zerohop_node_* metrics of
// package metrics/promnode), and prints "METRICS <host:port>" before READY.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerohop/zerohop/internal/promserve"
	"github.com/zerohop/zerohop/metrics/promnode"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/workload/counter"
	"github.com/zerohop/zerohop/zhbin"
)

func main() {
	err := run()
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h: the usage was printed
	case err != nil:
		fmt.Fprintln(os.Stderr, "node:", strings.TrimPrefix(err.Error(), "node: "))
		os.Exit(1)
	}
}

// run parses the flags into a node.Config, starts the node and waits for
// a signal.
// Long: one line per flag and per Config field, read top to bottom;
// the parts longer than a few lines (key decoding, TLS, metrics) are
// functions of their own.
func run() error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	system := fs.String("system", workload.DefaultSystem, "actor system (cluster) name")
	listen := fs.String("listen", "127.0.0.1:25520", "client and peer listen address host:port")
	advertise := fs.String("advertise", "", "advertised identity host:port (default: the listen address)")
	gossip := fs.String("gossip", "", "memberlist address host:port (default: listen host, listen port + 1000)")
	seeds := fs.String("seeds", "", "comma-separated gossip addresses of members to join (none: start a new cluster)")
	entities := fs.String("entities", "counter:32", "entity type, shard count and optional shard hash, type:shards[:hash] (hash md5, the default and Casty's, or xxh64 for a cluster of zerohop nodes only)")
	module := fs.String("msg-module", workload.DefaultModule, "Python module name of the workload message types")
	nodeID := fs.String("id", "", "member id shown in snapshots (default node-<advertise>)")
	certFile := fs.String("tls-cert", "", "TLS certificate (PEM); enables TLS")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	caFile := fs.String("tls-ca", "", "CA bundle (PEM): requires and verifies client certificates (mTLS) and verifies peers")
	raftAddr := fs.String("raft", "", "consensus port host:port: raft and the control RPC between members (default: listen host, listen port + 2000)")
	raftAdvertise := fs.String("raft-advertise", "", "consensus address members dial, when it differs from -raft")
	dataDir := fs.String("data-dir", "", "keep the consensus log and snapshots here (a restarted node rejoins as itself); empty: in memory (a restarted node then needs -seeds)")
	gossipKey := fs.String("gossip-key", "", "cluster key, base64 of 16, 24 or 32 bytes (or env ZEROHOP_GOSSIP_KEY): authenticates and encrypts gossip and the consensus port; required with TLS")
	gossipKeys := fs.String("gossip-keys", "", "further accepted keys, comma-separated base64 (a key rotation in progress)")
	lease := fs.Duration("lease", 0, "ownership lease (default 2s): a dead node's shards move about lease + a tenth after its last renewal")
	drainWindow := fs.Duration("drain-window", 0, "after handing its shards over on SIGTERM, keep forwarding what still arrives for at most this long (default 3s)")
	leaveTimeout := fs.Duration("leave-timeout", 0, "bound of the graceful leave on SIGTERM (default 10s)")
	maxConns := fs.Int("max-connections", 0, "inbound connections open at once; one more is closed at once (default 4096)")
	frameTimeout := fs.Duration("frame-timeout", 0, "a frame whose first bytes arrived must be complete within this (default 10s)")
	inboundBudget := fs.Int("inbound-budget", 0, "bytes of unfinished inbound frames past 64 KiB per connection, node-wide (default 64 MiB)")
	maxEntityID := fs.Int("max-entity-id", 0, "longest entity id accepted, in bytes (default 256)")
	maxEntities := fs.Int("max-entities", 0, "live entities per node (default 1000000)")
	mailbox := fs.Int("mailbox", 0, "bound of each shard's and service's mailbox, in messages (default 1024); a client's flood waits in it ahead of that client's next ask")
	recvBuffer := fs.Int("socket-recv-buffer", 0, "SO_RCVBUF of accepted connections in bytes (default 0: the kernel's, autotuned); small (64 KiB) keeps a client's flood in the client's time-bounded queue instead (PERFORMANCE.md, \"Asks behind a flood\")")
	transport := fs.String("transport", "", "plaintext connections served by \"gnet\" (event loops; the default, faster for a node in its own process) or \"net\" (goroutines on the Go network poller); TLS is always served by net")
	binaryCodec := fs.Bool("binary", false, "offer the zhbin binary codec (issue 12) to zerohop clients that offer it with the same binary types (the counter workload's); other clients stay Casty JSON")
	binaryWindow := fs.Int("binary-window", 0, "with -binary: the frames a zhbin client may keep in flight to this node, acknowledged as the node handles them (node.Config.BinaryWindow); bounds what an ask waits behind in the socket buffers; 0: no window")
	binaryHeads := fs.Int("binary-heads", 0, "with -binary: frame heads kept per zhbin connection, so that its client sends a region's header once and then a small id (node.Config.BinaryHeads); 0: wire.MaxHeads, negative: none")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics (the zerohop_node_* of package metrics/promnode) at http://host:port/metrics; port 0 picks one, printed as METRICS host:port")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the node from READY until the signal that stops it to this file")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	typ, shards, hash, err := parseEntities(*entities)
	if err != nil {
		return err
	}
	cfg := node.Config{
		System:           *system,
		NodeID:           *nodeID,
		Listen:           *listen,
		Advertise:        *advertise,
		Gossip:           *gossip,
		Raft:             *raftAddr,
		RaftAdvertise:    *raftAdvertise,
		DataDir:          *dataDir,
		Transport:        *transport,
		Logger:           logger,
		DrainWindow:      *drainWindow,
		MaxConnections:   *maxConns,
		FrameTimeout:     *frameTimeout,
		InboundBudget:    *inboundBudget,
		MaxEntityIDLen:   *maxEntityID,
		MaxEntities:      *maxEntities,
		MailboxSize:      *mailbox,
		SocketRecvBuffer: *recvBuffer,
		LeaveTimeout:     *leaveTimeout,
		Consensus:        node.ConsensusConfig{LeaseDuration: *lease},
	}
	key := *gossipKey
	if key == "" {
		key = os.Getenv("ZEROHOP_GOSSIP_KEY")
	}
	if key != "" {
		k, err := decodeKey(key)
		if err != nil {
			return fmt.Errorf("-gossip-key: %w", err)
		}
		cfg.GossipKey = k
	}
	for _, s := range strings.Split(*gossipKeys, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k, err := decodeKey(s)
		if err != nil {
			return fmt.Errorf("-gossip-keys: %w", err)
		}
		cfg.GossipKeys = append(cfg.GossipKeys, k)
	}
	if *seeds != "" {
		for _, s := range strings.Split(*seeds, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cfg.Seeds = append(cfg.Seeds, s)
			}
		}
	}
	if *certFile != "" || *keyFile != "" || *caFile != "" {
		tc, err := loadTLS(*certFile, *keyFile, *caFile)
		if err != nil {
			return err
		}
		cfg.TLS = tc
	}
	_, err = counter.Configure(&cfg, workload.Options{System: *system, Module: *module, EntityType: typ, Shards: shards, ShardHash: hash})
	if err == nil && *binaryCodec {
		bc := zhbin.New(cfg.Registry)
		err = workload.RegisterBinary(bc)
		cfg.Binary = bc
		cfg.BinaryHeads = *binaryHeads
		cfg.BinaryWindow = *binaryWindow
	}
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if *metricsAddr != "" {
		srv, err := serveMetrics(*metricsAddr, n)
		if err != nil {
			_ = n.Close(context.Background())
			return err
		}
		defer srv.Close()
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			_ = n.Close(context.Background())
			return err
		}
		defer stopProfile()
	}
	fmt.Printf("READY %s\n", n.Addr())
	<-ctx.Done()
	stop() // a second signal kills the process
	logger.Info("signal received; leaving the cluster")
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Leave(cctx); err != nil {
		logger.Warn("graceful leave incomplete", "err", err)
	}
	return n.Close(cctx)
}

// serveMetrics serves n's counters at http://addr/metrics (package
// metrics/promnode) and prints the address served as METRICS host:port.
func serveMetrics(addr string, n *node.Node) (*promserve.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(promnode.New(n, nil))
	srv, err := promserve.Listen(addr, reg)
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	fmt.Printf("METRICS %s\n", srv.Addr())
	return srv, nil
}

// startCPUProfile starts a CPU profile written to path; the function it
// returns stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// decodeKey decodes a base64 (standard or URL, padded or not) key.
func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// parseEntities parses -entities: type:shards[:hash].
func parseEntities(s string) (string, int, ring.Hash, error) {
	name, rest, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return "", 0, 0, fmt.Errorf("-entities %q: want type:shards[:hash]", s)
	}
	count, hashName, withHash := strings.Cut(rest, ":")
	n, err := strconv.Atoi(count)
	if err != nil || n <= 0 {
		return "", 0, 0, fmt.Errorf("-entities %q: bad shard count", s)
	}
	hash := ring.HashMD5
	if withHash {
		if hash, err = ring.ParseHash(hashName); err != nil {
			return "", 0, 0, fmt.Errorf("-entities %q: %w", s, err)
		}
	}
	return name, n, hash, nil
}

func loadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key pair: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-ca %s: no certificates", caFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
