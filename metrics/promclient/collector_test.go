package promclient_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/internal/leakcheck"
	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/internal/promserve"
	"github.com/zerohop/zerohop/internal/scrape"
	"github.com/zerohop/zerohop/metrics/promclient"
	"github.com/zerohop/zerohop/metrics/promnode"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// described returns the names of the metrics c describes.
func described(t *testing.T, c prometheus.Collector) []string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 256)
	c.Describe(ch)
	close(ch)
	var names []string
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no fqName in %v", d)
		}
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// documented returns the metric names listed in a doc.go (the tab-indented
// lines that start with prefix).
func documented(t *testing.T, file, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^//\t(` + prefix + `[a-z_]+)[{ ]`)
	var names []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// TestDocListsEveryMetric: doc.go lists exactly the metrics the collector
// describes.
func TestDocListsEveryMetric(t *testing.T) {
	got := described(t, promclient.New(nil, nil))
	doc := documented(t, "doc.go", "zerohop_client_")
	if !slices.Equal(got, doc) {
		t.Fatalf("collector describes\n%v\ndoc.go lists\n%v", got, doc)
	}
}

// TestScrapeNodeAndClient serves a running node's and a client's metrics
// on loopback listeners and scrapes them over HTTP: after N tells the
// client's frames for the node and the node's frames in grew by at least
// N, the node's state gauge says connected, an ask shows in the latency
// histogram, and once the node is gone the state moves and a drop reason
// counts the refused tell.
func TestScrapeNodeAndClient(t *testing.T) {
	cl := nodetest.Start(t, 1, nodetest.Options{})
	nreg := prometheus.NewRegistry()
	nreg.MustRegister(promnode.New(cl.Node(0), nil))
	nsrv, err := promserve.Listen("127.0.0.1:0", nreg)
	if err != nil {
		t.Fatal(err)
	}
	defer nsrv.Close()

	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := engine.Dial(ctx, engine.Config{ContactPoints: cl.ContactPoints(), SystemName: workload.DefaultSystem, Types: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitTopology(ctx); err != nil {
		t.Fatal(err)
	}
	creg := prometheus.NewRegistry()
	creg.MustRegister(promclient.New(c, prometheus.Labels{"client": "test"}))
	csrv, err := promserve.Listen("127.0.0.1:0", creg)
	if err != nil {
		t.Fatal(err)
	}
	defer csrv.Close()

	get := func(addr string) scrape.Metrics {
		t.Helper()
		m, err := scrape.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := cl.Addr(0)
	nodeLabel := `node="` + a.Host + ":" + strconv.Itoa(a.Port) + `"`
	framesKey := `zerohop_client_node_frames_written_total{client="test",` + nodeLabel + `}`
	stateKey := func(s string) string {
		return `zerohop_client_node_state{client="test",` + nodeLabel + `,state="` + s + `"}`
	}
	dropKey := `zerohop_client_drops_total{client="test",reason="owner_unavailable"}`
	nodeDropKey := `zerohop_client_node_drops_total{client="test",` + nodeLabel + `,reason="owner_unavailable"}`

	c0, n0 := get(csrv.Addr()), get(nsrv.Addr())
	if c0[stateKey("connected")] != 1 || c0[stateKey("reconnecting")] != 0 {
		t.Fatalf("state gauges before: connected %v reconnecting %v", c0[stateKey("connected")], c0[stateKey("reconnecting")])
	}
	if !n0.Has("zerohop_node_frames_in_total") || !c0.Has(framesKey) {
		t.Fatalf("no frames counters: node %v, client %v", n0.Has("zerohop_node_frames_in_total"), c0.Has(framesKey))
	}

	ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	if err != nil {
		t.Fatal(err)
	}
	const tells = 200
	for i := 0; i < tells; i++ {
		if err := ref.Tell("e-"+strconv.Itoa(i%10), workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.AskAs[workload.CountReply](ctx, c, ref, func(replyTo wire.Ref) any {
		return engine.ShardEnvelope{EntityID: "e-0", Message: workload.GetCount{ReplyTo: replyTo}}
	}); err != nil {
		t.Fatal(err)
	}
	c1 := get(csrv.Addr())
	if d := c1[framesKey] - c0[framesKey]; d < tells+1 {
		t.Fatalf("client frames to the node grew by %v after %d tells and an ask", d, tells)
	}
	if got := c1[`zerohop_client_ask_duration_seconds_count{client="test"}`]; got < 1 {
		t.Fatalf("ask_duration_seconds_count %v after an ask", got)
	}
	if got := c1[`zerohop_client_ask_duration_seconds_bucket{client="test",le="+Inf"}`]; got < 1 {
		t.Fatalf("ask_duration_seconds +Inf bucket %v after an ask", got)
	}
	// The node counts frames as it reads them.
	poll.Until(t, "the node's frames_in_total to grow by the tells", func() bool {
		n1 := get(nsrv.Addr())
		return n1["zerohop_node_frames_in_total"]-n0["zerohop_node_frames_in_total"] >= tells
	})

	cl.Kill(0)
	poll.Until(t, "a tell to the killed node to fail with ErrOwnerUnavailable", func() bool {
		return errors.Is(ref.Tell("e-0", workload.Increment{Amount: 1}), engine.ErrOwnerUnavailable)
	})
	c2 := get(csrv.Addr())
	if c2[stateKey("connected")] != 0 || c2[stateKey("reconnecting")] != 1 {
		t.Fatalf("state gauges after the kill: connected %v reconnecting %v", c2[stateKey("connected")], c2[stateKey("reconnecting")])
	}
	if c2[dropKey] < 1 || c2[nodeDropKey] < 1 {
		t.Fatalf("owner_unavailable drops: client %v, node %v", c2[dropKey], c2[nodeDropKey])
	}
}
