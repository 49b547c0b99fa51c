package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerohop/zerohop/internal/promserve"
	"github.com/zerohop/zerohop/metrics/promclient"
	"github.com/zerohop/zerohop/metrics/promnode"
)

// serveMetrics serves -metrics-addr: the counters of every client of t
// (metrics/promclient, label client="0", "1", ...) and, for an embedded
// cluster, of every node (metrics/promnode, label node=host:port).
func serveMetrics(addr string, t target) (*promserve.Server, error) {
	var ts []*engineTarget
	switch x := t.(type) {
	case *engineTarget:
		ts = []*engineTarget{x}
	case *multiTarget:
		ts = x.ts
	}
	reg := prometheus.NewRegistry()
	for i, et := range ts {
		reg.MustRegister(promclient.New(et.c, prometheus.Labels{"client": strconv.Itoa(i)}))
		if et.cluster != nil {
			for _, n := range et.cluster.Nodes() {
				reg.MustRegister(promnode.New(n, prometheus.Labels{"node": n.Addr().String()}))
			}
		}
	}
	return promserve.Listen(addr, reg)
}
