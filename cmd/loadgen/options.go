package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/workload"
)

// options is the parsed command line. Zero values are never used: parseFlags
// fills every field with its flag's default.
type options struct {
	// cluster
	contacts   []string // empty => embedded cluster
	system     string
	entityType string
	shards     int
	shardHash  ring.Hash // -shard-hash: the entity type's shard hash (the embedded cluster's, and the per-shard accounting's)
	msgModule  string
	nodes      int // embedded cluster size
	clients    int // -clients: engine clients, each with its own connections
	transport  string
	nodeTport  string // embedded cluster's node transport
	binary     bool   // -binary: offer zhbin (and the embedded nodes too)
	tlsCert    string
	tlsKey     string
	tlsCA      string
	addressMap map[string]string // logical host:port -> dial host:port

	// load shape
	duration         time.Duration // 0 with -tells and no -duration: no time limit
	tells            int64         // -tells: stop after this many tells (0: no limit)
	workers          int
	entities         int
	entityPrefix     string
	rate             float64       // total tells/s (a schedule's start), 0 = open throttle
	schedule         *rateSchedule // -rate; nil = open throttle
	keys             keyDist       // -keys
	slo              *slo          // -slo: knee search mode; nil otherwise
	sloStart         float64       // the search's first rate
	sloMax           float64       // and highest
	askConcurrency   int
	askRate          float64 // total asks/s, 0 = closed loop
	askTimeout       time.Duration
	queueTarget      time.Duration
	queueInterval    time.Duration
	nodeMailbox      int
	nodeBinaryHeads  int
	nodeBinaryWindow int
	sendBuffer       int // engine.Config.SocketSendBuffer
	queueFrames      int // engine.Config.QueueFrames
	queueWait        int // engine.Config.QueueWaitFrames
	nodeRecvBuffer   int // embedded: node.Config.SocketRecvBuffer
	warmup           bool
	resetStats       bool

	// accounting
	drainTimeout      time.Duration
	verifyConcurrency int
	verifyRetries     int
	tallyInterval     time.Duration // 0: no per-shard tallies

	// output
	series     string     // -series file, "" for none
	out        string     // -out directory, "" for none
	logLevel   slog.Level // engine and node logs on stderr
	jsonOut    bool
	verbose    bool // -v: the engine's counters in the table
	progress   bool
	ceiling    time.Duration
	cpuProfile string
	thresholds []threshold // -max-*/-min-*
	memProfile string
	metrics    string // -metrics-addr, "" for none
}

func (o *options) embedded() bool { return len(o.contacts) == 0 }

// parseFlags parses args (without the program name). It returns
// flag.ErrHelp for -h.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen [flags]                     a load run (embedded cluster without -contact)")
		fmt.Fprintln(stderr, "       loadgen compare DIR DIR [DIR...]   runs saved with -out, side by side")
		fmt.Fprintln(stderr, "       loadgen merge [-json] DIR...       runs of concurrent processes saved with -out, as one")
		fmt.Fprintln(stderr, "exit status: 0 ok, 1 loss, 2 usage or configuration error, 3 threshold broken, 130 interrupted")
		fs.PrintDefaults()
	}
	var contact, addrMap string
	fs.StringVar(&contact, "contact", "", "comma-separated contact points host:port of an external cluster; empty starts an embedded cluster in this process")
	fs.StringVar(&o.system, "system", workload.DefaultSystem, "cluster system name")
	fs.StringVar(&o.entityType, "entity-type", workload.DefaultEntityType, "sharded entity type of the counter workload")
	fs.IntVar(&o.shards, "shards", workload.DefaultShards, "number of shards of the entity type")
	var shardHash string
	fs.StringVar(&shardHash, "shard-hash", "md5", "shard hash of the entity type: md5 (Casty's) or xxh64 (zerohop nodes only); configures the embedded cluster's type and this run's per-shard accounting, and must be the external cluster's (cmd/node -entities type:shards:xxh64); the client routes with the hash the nodes announce")
	fs.StringVar(&o.msgModule, "msg-module", workload.DefaultModule, "Python module name of the workload message types")
	fs.IntVar(&o.clients, "clients", 1, "engine clients, each with its own connections to every node (an entity always goes through the same one)")
	o.embeddedFlags(fs)
	fs.StringVar(&o.transport, "transport", "", "client transport: gnet (event loop) or net (std net.Conn); empty: the engine's default")
	fs.BoolVar(&o.binary, "binary", false, "offer the zhbin binary codec (issue 12) to zerohop nodes, which the embedded nodes offer too (an external node needs -binary as well); a connection uses it only when its node chooses it, the report's codec line says how many did")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "client certificate (PEM) for TLS")
	fs.StringVar(&o.tlsKey, "tls-key", "", "client key (PEM) for TLS")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "CA bundle (PEM) that signed the nodes' certificates; enables TLS")
	fs.StringVar(&addrMap, "address-map", "", "logical=dial,... host:port pairs applied only when dialling (e.g. SSH tunnels)")

	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send")
	fs.Int64Var(&o.tells, "tells", 0, "send this many tells, then stop (0: no limit); without -duration the run has no time limit")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "goroutines sending tells; 0 sends only asks (for ask latency and throughput)")
	fs.IntVar(&o.entities, "entities", 1000, "distinct entity ids")
	fs.StringVar(&o.entityPrefix, "entity-prefix", "", "entity id prefix (default: a fresh random prefix per run, so counters start at 0)")
	fs.Var(rateFlag{&o.schedule}, "rate", "total tells/s (k and M suffixes), or steps START:END:step=S,every=D (e.g. 100k:2M:step=100k,every=3s); 0 sends as fast as the client accepts them")
	sloText := fs.String("slo", "", "knee search: pQ=DURATION (e.g. p99=2ms); runs levels of paced tells (asks at 1% of the rate), doubling from -slo-start, then bisecting, and reports the highest rate whose ask latency percentile met the objective with 0 lost and the rate delivered (each level lasts -duration, default 3s here)")
	sloStart := fs.String("slo-start", "10k", "-slo: the first level's tells/s")
	sloMax := fs.String("slo-max", "10M", "-slo: the highest level's tells/s")
	keys := fs.String("keys", "cycle", "which entity each tell goes to: cycle (every entity in turn), uniform (at random), zipf:S (S > 1, skewed to a few), hot:F (a fraction F to one entity)")
	fs.IntVar(&o.askConcurrency, "ask-concurrency", 1, "asks (GetCount) in flight alongside the tells; 0 disables them")
	fs.Float64Var(&o.askRate, "ask-rate", 0, "total asks/s on a fixed schedule (latency from the intended send time); 0 = closed loop, or 1% of -rate (at least 1/s) when -rate is set")
	fs.DurationVar(&o.askTimeout, "ask-timeout", 5*time.Second, "timeout of one ask")
	fs.IntVar(&o.sendBuffer, "socket-send-buffer", 0, "the client's engine.Config.SocketSendBuffer: SO_SNDBUF of each node connection in bytes (0: the kernel's, autotuned)")
	fs.IntVar(&o.queueFrames, "queue-frames", 0, fmt.Sprintf("the client's engine.Config.QueueFrames: slots of each node connection's outbound queue (0: the engine's default, %d)", engine.DefaultQueueFrames))
	fs.IntVar(&o.queueWait, "queue-wait-frames", 0, fmt.Sprintf("the client's engine.Config.QueueWaitFrames: frames queued to a node at which TellContext (the workers) waits (0: the engine's default, %d; negative: only when the queue is full)", engine.DefaultQueueWaitFrames))
	fs.DurationVar(&o.queueTarget, "queue-target", 0, "the client's engine.Config.QueueTarget: sojourn bound of each connection's queue for tells (0: the engine's default; negative: no bound)")
	fs.DurationVar(&o.queueInterval, "queue-interval", 0, "the client's engine.Config.QueueInterval: how long the queue's oldest frame must stay older than -queue-target before tells are refused (0: the engine's default, 100ms; negative: at once)")
	fs.BoolVar(&o.warmup, "warmup", true, "before the load, ask every entity for its count (resolves routes, starts entities, records baselines)")
	fs.BoolVar(&o.resetStats, "reset-stats", true, "send ResetStats to every node-stats service before the load")

	fs.DurationVar(&o.drainTimeout, "drain-timeout", 60*time.Second, "how long to wait for the client to flush after the load")
	fs.IntVar(&o.verifyConcurrency, "verify-concurrency", 64, "GetCount asks in flight during verification")
	fs.IntVar(&o.verifyRetries, "verify-retries", 5, "attempts per entity when a verification ask fails")
	fs.DurationVar(&o.tallyInterval, "tally-interval", 100*time.Millisecond, "ask every node for its per-shard tally (GetShardTally, Go nodes) this often, for the loss accounting by cause; 0 disables it")

	fs.TextVar(&o.logLevel, "log-level", slog.LevelWarn, "level of the client's and embedded nodes' logs on stderr: debug, info, warn or error")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON object on stdout instead of a table")
	fs.BoolVar(&o.verbose, "v", false, "also print the client engine's own counters in the report (-json always has them, under \"client\")")
	fs.BoolVar(&o.progress, "progress", true, "print a progress line per second on stderr")
	fs.StringVar(&o.series, "series", "", "write a per-second time series of the load phase to this file, one JSON object per line: t, tells_ok, tells_ok_by_shard, tell_errors by kind, asks_ok, ask_errors")
	fs.StringVar(&o.out, "out", "", "write the results into this directory (created if needed): report.json, series.jsonl (one line per second), asks.hlog (HdrHistogram interval log of ask latencies, ns) and report.html (charts as inline SVG); read by loadgen compare and loadgen merge")
	fs.DurationVar(&o.ceiling, "ceiling", 0, "first measure the raw loopback ceiling for this long (0: skip) and report the ratio")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the load phase to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile at the end to this file")
	fs.StringVar(&o.metrics, "metrics-addr", "", "serve Prometheus metrics at http://host:port/metrics during the run: every client's zerohop_client_* (label client) and, embedded, every node's zerohop_node_* (label node); port 0 picks one, logged on stderr")
	thresholds := thresholdFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.thresholds = thresholds()
	if o.schedule != nil {
		o.rate = o.schedule.start
	}
	var kerr, serr error
	o.keys, kerr = parseKeys(*keys)
	if *sloText != "" {
		if o.slo, serr = parseSLO(*sloText); serr == nil {
			o.sloStart, serr = parseRate(*sloStart)
		}
		if serr == nil {
			o.sloMax, serr = parseRate(*sloMax)
		}
		if !isSet(fs, "duration") {
			o.duration = 3 * time.Second
		}
	}
	if o.tells > 0 && !isSet(fs, "duration") {
		o.duration = 0
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("loadgen: unexpected arguments %q", fs.Args())
	}
	for _, c := range strings.Split(contact, ",") {
		if c = strings.TrimSpace(c); c != "" {
			o.contacts = append(o.contacts, c)
		}
	}
	var err error
	if o.addressMap, err = parseAddressMap(addrMap); err != nil {
		return nil, err
	}
	if o.shardHash, err = ring.ParseHash(shardHash); err != nil {
		return nil, fmt.Errorf("loadgen: -shard-hash: %w", err)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := errors.Join(kerr, serr, o.validateSLO()); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	// An open-loop run paces its asks too, so that their latency is taken
	// from intended send times (a closed-loop asker stops asking while the
	// cluster stalls and would under-count the stall).
	if o.rate > 0 && o.askRate == 0 && o.askConcurrency > 0 {
		o.askRate = max(o.rate/100, 1)
	}
	return o, nil
}

// validate reports every bad option at once.
func (o *options) validate() error {
	var bad []string
	if o.system == "" {
		bad = append(bad, "-system is empty")
	}
	if o.entityType == "" {
		bad = append(bad, "-entity-type is empty")
	}
	if o.shards < 1 {
		bad = append(bad, fmt.Sprintf("-shards %d < 1", o.shards))
	}
	if o.clients < 1 {
		bad = append(bad, fmt.Sprintf("-clients %d < 1", o.clients))
	}
	bad = append(bad, o.validateEmbedded()...)
	if o.queueFrames < 0 {
		bad = append(bad, fmt.Sprintf("-queue-frames %d: a number of slots, or 0 for the engine's default", o.queueFrames))
	}
	if o.sendBuffer < 0 {
		bad = append(bad, fmt.Sprintf("-socket-send-buffer %d: a size in bytes, or 0 for the kernel's", o.sendBuffer))
	}
	switch o.transport {
	case "", "gnet", "net":
	default:
		bad = append(bad, fmt.Sprintf("-transport %q is not gnet or net", o.transport))
	}
	for _, c := range o.contacts {
		if _, _, err := splitHostPort(c); err != nil {
			bad = append(bad, fmt.Sprintf("-contact %q: %v", c, err))
		}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		bad = append(bad, "-tls-cert and -tls-key go together")
	}
	if o.tlsCert != "" && o.tlsCA == "" {
		bad = append(bad, "-tls-cert needs -tls-ca")
	}
	if o.embedded() && o.tlsCA != "" {
		bad = append(bad, "-tls-* needs -contact (the embedded cluster is plaintext)")
	}
	if o.tlsCA != "" && o.transport == "gnet" {
		bad = append(bad, "-transport gnet has no TLS; use -transport net with -tls-*")
	}
	if o.duration < 0 || o.duration == 0 && o.tells == 0 {
		bad = append(bad, fmt.Sprintf("-duration %v <= 0", o.duration))
	}
	if o.tells < 0 {
		bad = append(bad, fmt.Sprintf("-tells %d < 0", o.tells))
	}
	if o.tells > 0 && o.workers == 0 {
		bad = append(bad, "-tells needs -workers > 0")
	}
	bad = append(bad, validateThresholds(o.thresholds)...)
	if o.workers < 0 {
		bad = append(bad, fmt.Sprintf("-workers %d < 0", o.workers))
	}
	if o.workers == 0 && o.askConcurrency == 0 {
		bad = append(bad, "-workers 0 and -ask-concurrency 0: nothing to send")
	}
	if o.workers == 0 && o.rate > 0 {
		bad = append(bad, "-rate needs -workers > 0")
	}
	if o.entities < 1 {
		bad = append(bad, fmt.Sprintf("-entities %d < 1", o.entities))
	}
	if o.rate < 0 {
		bad = append(bad, fmt.Sprintf("-rate %v < 0", o.rate))
	}
	if o.askConcurrency < 0 {
		bad = append(bad, fmt.Sprintf("-ask-concurrency %d < 0", o.askConcurrency))
	}
	if o.askRate < 0 {
		bad = append(bad, fmt.Sprintf("-ask-rate %v < 0", o.askRate))
	}
	if o.askRate > 0 && o.askConcurrency == 0 {
		bad = append(bad, "-ask-rate needs -ask-concurrency > 0")
	}
	if o.askTimeout <= 0 {
		bad = append(bad, fmt.Sprintf("-ask-timeout %v <= 0", o.askTimeout))
	}
	if o.drainTimeout <= 0 {
		bad = append(bad, fmt.Sprintf("-drain-timeout %v <= 0", o.drainTimeout))
	}
	if o.verifyConcurrency < 1 {
		bad = append(bad, fmt.Sprintf("-verify-concurrency %d < 1", o.verifyConcurrency))
	}
	if o.tallyInterval < 0 {
		bad = append(bad, fmt.Sprintf("-tally-interval %v < 0", o.tallyInterval))
	}
	if o.verifyRetries < 1 {
		bad = append(bad, fmt.Sprintf("-verify-retries %d < 1", o.verifyRetries))
	}
	if !o.warmup && o.entityPrefix != "" {
		bad = append(bad, "-warmup=false with -entity-prefix: counters of reused ids would count as delivered (without the warm-up there is no starting value to subtract)")
	}
	if o.ceiling < 0 {
		bad = append(bad, fmt.Sprintf("-ceiling %v < 0", o.ceiling))
	}
	if len(bad) == 0 {
		return nil
	}
	return errors.New("loadgen: " + strings.Join(bad, "; "))
}

// embeddedFlags defines the flags of the embedded cluster's nodes.
func (o *options) embeddedFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.nodes, "nodes", 3, "embedded cluster size (ignored with -contact)")
	fs.StringVar(&o.nodeTport, "node-transport", "", "embedded cluster: node transport, net (goroutines on the Go network poller) or gnet (event loops); empty: net, measured faster than gnet with the client in the same process (cmd/node defaults to gnet)")
	fs.IntVar(&o.nodeBinaryHeads, "node-binary-heads", 0, "embedded cluster with -binary: node.Config.BinaryHeads, the compact frame heads each zhbin connection may use (0: the node's default, wire.MaxHeads; negative: none, whole frames)")
	fs.IntVar(&o.nodeBinaryWindow, "node-binary-window", 0, "embedded cluster with -binary: node.Config.BinaryWindow, the frames each zhbin client keeps in flight to a node (0: no window)")
	fs.IntVar(&o.nodeMailbox, "node-mailbox", 0, "embedded cluster: node.Config.MailboxSize, the bound of each shard's mailbox (0: the node's default)")
	fs.IntVar(&o.nodeRecvBuffer, "node-socket-recv-buffer", 0, "embedded cluster: node.Config.SocketRecvBuffer, SO_RCVBUF of accepted connections in bytes (0: the kernel's, autotuned)")
}

// validateEmbedded reports the embedded cluster's flags that are out of
// range or given with -contact.
func (o *options) validateEmbedded() []string {
	var bad []string
	if o.embedded() && o.nodes < 1 {
		bad = append(bad, fmt.Sprintf("-nodes %d < 1", o.nodes))
	}
	if (o.nodeBinaryHeads != 0 || o.nodeBinaryWindow != 0) && (!o.embedded() || !o.binary) {
		bad = append(bad, "-node-binary-heads and -node-binary-window: for the embedded cluster with -binary only")
	}
	if o.nodeMailbox < 0 || (o.nodeMailbox != 0 && !o.embedded()) {
		bad = append(bad, fmt.Sprintf("-node-mailbox %d: a positive size, for the embedded cluster only", o.nodeMailbox))
	}
	if o.nodeRecvBuffer < 0 || (o.nodeRecvBuffer != 0 && !o.embedded()) {
		bad = append(bad, fmt.Sprintf("-node-socket-recv-buffer %d: a size in bytes, for the embedded cluster only (an external node: cmd/node -socket-recv-buffer)", o.nodeRecvBuffer))
	}
	switch o.nodeTport {
	case "", "gnet", "net":
		if o.nodeTport != "" && !o.embedded() {
			bad = append(bad, "-node-transport applies to the embedded cluster only (an external cluster's nodes chose theirs)")
		}
	default:
		bad = append(bad, fmt.Sprintf("-node-transport %q is not gnet or net", o.nodeTport))
	}
	return bad
}

// validateSLO reports the flags -slo cannot go with.
func (o *options) validateSLO() error {
	if o.slo == nil {
		return nil
	}
	var bad []string
	if o.rate > 0 || o.tells > 0 || o.out != "" || o.series != "" {
		bad = append(bad, "-slo sets the rate of each level itself: no -rate, -tells, -out or -series with it")
	}
	if o.workers == 0 || o.askConcurrency == 0 {
		bad = append(bad, "-slo needs tells and asks (-workers > 0, -ask-concurrency > 0)")
	}
	if o.sloStart <= 0 || o.sloMax < o.sloStart {
		bad = append(bad, fmt.Sprintf("-slo-start %v and -slo-max %v: want 0 < start <= max", o.sloStart, o.sloMax))
	}
	if len(bad) == 0 {
		return nil
	}
	return errors.New(strings.Join(bad, "; "))
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseAddressMap parses "logical=dial,logical=dial" with host:port on both
// sides.
func parseAddressMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		logical, dial, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("loadgen: -address-map entry %q is not logical=dial", pair)
		}
		for _, a := range []string{logical, dial} {
			if _, _, err := splitHostPort(a); err != nil {
				return nil, fmt.Errorf("loadgen: -address-map entry %q: %v", pair, err)
			}
		}
		if _, dup := m[logical]; dup {
			return nil, fmt.Errorf("loadgen: -address-map maps %s twice", logical)
		}
		m[logical] = dial
	}
	return m, nil
}

func splitHostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if h == "" {
		return "", 0, fmt.Errorf("empty host")
	}
	return h, port, nil
}

// tlsConfig builds the client TLS configuration, or nil without -tls-ca.
func (o *options) tlsConfig() (*tls.Config, error) {
	if o.tlsCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(o.tlsCA)
	if err != nil {
		return nil, fmt.Errorf("loadgen: -tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("loadgen: -tls-ca %s holds no PEM certificate", o.tlsCA)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("loadgen: -tls-cert/-tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
