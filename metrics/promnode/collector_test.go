package promnode

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/zerohop/zerohop/node"
)

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

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

// TestDocListsEveryMetric: doc.go lists exactly the metrics the collector
// describes.
func TestDocListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc []string
	for _, m := range regexp.MustCompile(`(?m)^//\t(zerohop_node_[a-z_]+)[{ ]`).FindAllStringSubmatch(string(b), -1) {
		doc = append(doc, m[1])
	}
	slices.Sort(doc)
	if got := described(t, New(nil, nil)); !slices.Equal(got, doc) {
		t.Fatalf("collector describes\n%v\ndoc.go lists\n%v", got, doc)
	}
}

// TestEveryStatsFieldExported: every field of node.Stats has a metric (a
// field of a type the collector cannot export fails here).
func TestEveryStatsFieldExported(t *testing.T) {
	typ := reflect.TypeFor[node.Stats]()
	if got := len(New(nil, nil).fields); got != typ.NumField() {
		for i := range typ.NumField() {
			if _, ok := metricFor(typ.Field(i), nil); !ok {
				t.Errorf("node.Stats.%s (%v) has no metric", typ.Field(i).Name, typ.Field(i).Type)
			}
		}
		t.Fatalf("%d metrics for %d fields", got, typ.NumField())
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"MaxTickGap": "max_tick_gap", "FramesIn": "frames_in", "ConnectionsOpen": "connections_open", "A": "a", "HTTPServer": "http_server"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

type fixed node.Stats

func (f fixed) Stats() node.Stats { return node.Stats(f) }

// TestCollectValues: counters, gauges, durations and counts by reason are
// exported with their values and types.
func TestCollectValues(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(fixed{FramesIn: 7, ConnectionsOpen: 3, MaxTickGap: 1500 * time.Millisecond, DeadLettersByReason: map[string]int64{"stale_owner": 2}}, prometheus.Labels{"node": "a"}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	check := func(name string, typ dto.MetricType, want float64) {
		t.Helper()
		mf := got[name]
		if mf == nil {
			t.Fatalf("no %s", name)
		}
		m := mf.GetMetric()[0]
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		if mf.GetType() != typ || v != want {
			t.Errorf("%s: %v %v, want %v %v", name, mf.GetType(), v, typ, want)
		}
	}
	check("zerohop_node_frames_in_total", dto.MetricType_COUNTER, 7)
	check("zerohop_node_connections_open", dto.MetricType_GAUGE, 3)
	check("zerohop_node_max_tick_gap_seconds", dto.MetricType_GAUGE, 1.5)
	check("zerohop_node_dead_letters_by_reason_total", dto.MetricType_COUNTER, 2)
	if l := got["zerohop_node_dead_letters_by_reason_total"].GetMetric()[0].GetLabel(); len(l) != 2 {
		t.Errorf("labels %v, want node and reason", l)
	}
}
