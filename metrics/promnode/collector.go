package promnode

import (
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerohop/zerohop/node"
)

// Source is what the collector reads at scrape time: *node.Node.
type Source interface {
	Stats() node.Stats
}

// gauges are the node.Stats fields that are current values or high-water
// marks, not counters: exported without the _total suffix.
var gauges = map[string]bool{
	"ConnectionsOpen":  true,
	"MailboxHighWater": true,
	"EntitiesLive":     true,
	"Subscribers":      true,
	"AllocationEpoch":  true,
	"MaxTickGap":       true,
	"MaxHealthScore":   true,
	"InboundBuffered":  true,
}

// field is one node.Stats field and its metric.
type field struct {
	index []int
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	conv  func(reflect.Value) float64 // nil for a map by reason
}

// Collector is a prometheus.Collector of one node's counters (the package
// documentation lists the metrics). It reads the node's Stats at every
// scrape and keeps nothing between scrapes. Safe for concurrent use;
// create it with New.
type Collector struct {
	src    Source
	fields []field
}

// New returns a collector of src's counters (a *node.Node). Every metric
// carries constLabels (nil for none).
func New(src Source, constLabels prometheus.Labels) *Collector {
	c := &Collector{src: src}
	t := reflect.TypeFor[node.Stats]()
	for i := range t.NumField() {
		sf := t.Field(i)
		f, ok := metricFor(sf, constLabels)
		if ok {
			c.fields = append(c.fields, f)
		}
	}
	return c
}

var (
	int64Type    = reflect.TypeFor[int64]()
	durationType = reflect.TypeFor[time.Duration]()
	byReasonType = reflect.TypeFor[map[string]int64]()
)

// metricFor returns the metric of a node.Stats field: int64 counters
// (name_total), int64 gauges, durations (name_seconds, gauges) and counts
// by reason (name_total with a reason label). Other field types are not
// exported (TestEveryStatsFieldExported fails on one).
func metricFor(sf reflect.StructField, constLabels prometheus.Labels) (field, bool) {
	name := "zerohop_node_" + snake(sf.Name)
	help := "node.Stats." + sf.Name + " (see its documentation)."
	f := field{index: sf.Index, kind: prometheus.CounterValue}
	var labels []string
	switch sf.Type {
	case int64Type:
		f.conv = func(v reflect.Value) float64 { return float64(v.Int()) }
		if gauges[sf.Name] {
			f.kind = prometheus.GaugeValue
		} else {
			name += "_total"
		}
	case durationType:
		f.kind = prometheus.GaugeValue
		name += "_seconds"
		f.conv = func(v reflect.Value) float64 { return time.Duration(v.Int()).Seconds() }
	case byReasonType:
		name += "_total"
		labels = []string{"reason"}
	default:
		return field{}, false
	}
	f.desc = prometheus.NewDesc(name, help, labels, constLabels)
	return f, true
}

// snake turns a Go field name into a metric name: MaxTickGap ->
// max_tick_gap.
func snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
				b.WriteByte('_')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Describe sends the descriptors of every metric (prometheus.Collector).
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.fields {
		ch <- f.desc
	}
}

// Collect reads the node's counters and sends them (prometheus.Collector).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	v := reflect.ValueOf(&st).Elem()
	for _, f := range c.fields {
		fv := v.FieldByIndex(f.index)
		if f.conv != nil {
			ch <- prometheus.MustNewConstMetric(f.desc, f.kind, f.conv(fv))
			continue
		}
		iter := fv.MapRange()
		for iter.Next() {
			ch <- prometheus.MustNewConstMetric(f.desc, f.kind, float64(iter.Value().Int()), iter.Key().String())
		}
	}
}
