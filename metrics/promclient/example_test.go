package promclient_test

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/metrics/promclient"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/workload"
)

// Register a client's collector, tell, and read what a scrape would: the
// node's state and the frames written to it. A program serves reg with
// promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) at /metrics.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cluster, err := nodetest.StartLocalCluster(ctx, 1, nodetest.Options{}) // an in-process node
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close(ctx)
	types := castyjson.NewRegistry()
	if err := workload.Register(types, ""); err != nil {
		fmt.Println(err)
		return
	}
	client, err := engine.Dial(ctx, engine.Config{ContactPoints: cluster.ContactPoints(), SystemName: workload.DefaultSystem, Types: types})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(promclient.New(client, prometheus.Labels{"client": "orders"}))

	ref, _ := client.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	for range 10 {
		_ = ref.TellContext(ctx, "user-1", workload.Increment{Amount: 1})
	}
	_ = client.Flush(ctx)

	families, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch {
			case mf.GetName() == "zerohop_client_node_state" && m.GetGauge().GetValue() == 1:
				fmt.Println("node state:", labels["state"])
			case mf.GetName() == "zerohop_client_node_frames_written_total":
				fmt.Println("frames written to the node >= 10:", m.GetCounter().GetValue() >= 10)
			}
		}
	}
	// Output:
	// frames written to the node >= 10: true
	// node state: connected
}
