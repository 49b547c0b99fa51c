package counter

import (
	"testing"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/workload"
)

func TestConfigureAndTally(t *testing.T) {
	var cfg node.Config
	tally, err := Configure(&cfg, workload.Options{Module: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.System != workload.DefaultSystem || len(cfg.Entities) != 1 || len(cfg.Services) != 1 {
		t.Fatalf("config: system %q, %d entity types, %d services", cfg.System, len(cfg.Entities), len(cfg.Services))
	}
	if e := cfg.Entities[0]; e.Name != workload.DefaultEntityType || e.Shards != workload.DefaultShards {
		t.Fatalf("entity type %s:%d, want %s:%d", e.Name, e.Shards, workload.DefaultEntityType, workload.DefaultShards)
	}
	if s := cfg.Services[0]; s.Key != workload.StatsKey || s.Path != workload.StatsPath {
		t.Fatalf("service %s at %s, want %s at %s", s.Key, s.Path, workload.StatsKey, workload.StatsPath)
	}
	if name, ok := cfg.Registry.TypeName(workload.Increment{}); !ok || name != "m.Increment" {
		t.Fatalf("Increment registered as %q, %v; want m.Increment", name, ok)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := cfg.Entities[0].New("e1").(*Counter)
	c.Receive(nil, workload.Increment{Amount: 3})
	c.Receive(nil, workload.Increment{Amount: 4})
	if c.value != 7 {
		t.Fatalf("counter %d, want 7", c.value)
	}
	st := tally.Stats("n1")
	if st.Node != "n1" || st.Increments != 2 || st.AmountTotal != 7 || st.Entities != 1 || st.FirstAt == 0 || st.LastAt < st.FirstAt {
		t.Fatalf("stats %+v", st)
	}
	cfg.Services[0].Handler.Receive(nil, workload.ResetStats{})
	if st := tally.Stats("n1"); st.Increments != 0 || st.AmountTotal != 0 || st.FirstAt != 0 || st.LastAt != 0 || st.Entities != 1 {
		t.Fatalf("stats after reset %+v", st)
	}
}
