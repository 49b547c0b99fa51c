package chaos

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/zhbin"
)

func TestZhbinLinks(t *testing.T) {
	links := func(conns, re, bin, heads int64) map[string]int64 {
		return map[string]int64{"connects": conns, "reconnects": re, "binary_connects": bin, "head_connects": heads, "epoch": 3}
	}
	tests := []struct {
		name   string
		client map[string]int64
		want   Status
		detail string // a part of the detail
	}{
		{"every link zhbin with heads", links(3, 0, 3, 3), Pass, "3 connections (0 reconnects), zhbin on 3, compact heads on 3"},
		{"reconnects zhbin too", links(9, 6, 9, 9), Pass, "(6 reconnects)"},
		// A handshake the transport then refused counts in binary_connects only.
		{"an attach refused", links(3, 0, 4, 4), Pass, "zhbin on 4"},
		{"a reconnect stayed JSON", links(9, 6, 8, 8), Violation, "1 stayed JSON"},
		{"no zhbin at all", links(3, 0, 0, 0), Violation, "3 stayed JSON"},
		{"zhbin without heads", links(3, 0, 3, 1), Violation, "2 zhbin connections without heads"},
		{"no connection", links(0, 0, 0, 0), Violation, "opened no connection"},
		{"no client counters", nil, Unchecked, "no client connects, reconnects, binary_connects, head_connects"},
		{"an older loadgen", map[string]int64{"connects": 3, "reconnects": 0}, Unchecked, "no client binary_connects, head_connects"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, detail := zhbinLinks(tc.client)
			if st != tc.want || !strings.Contains(detail, tc.detail) {
				t.Errorf("got %s %q, want %s with %q", st, detail, tc.want, tc.detail)
			}
		})
	}
}

func TestZhbinOffered(t *testing.T) {
	good := &wire.Extension{Codec: zhbin.Name, Heads: wire.MaxHeads, Window: 1024}
	with := func(f func(x *wire.Extension)) *wire.Extension {
		x := *good
		f(&x)
		return &x
	}
	down := errors.New("connection refused")
	tests := []struct {
		name   string
		offers []zhbinOffer
		want   Status
		detail string
	}{
		{"every node", []zhbinOffer{{"n0", good, nil}, {"n1", good, nil}}, Pass, "2 of 2 nodes chose zhbin with heads 64 and window 1024"},
		{"one node stays JSON", []zhbinOffer{{"n0", good, nil}, {"n1", with(func(x *wire.Extension) { x.Codec = "" }), nil}}, Violation, `n1: codec ""`},
		{"no window", []zhbinOffer{{"n0", with(func(x *wire.Extension) { x.Window = 0 }), nil}}, Violation, "window 0"},
		{"other heads", []zhbinOffer{{"n0", with(func(x *wire.Extension) { x.Heads = 8 }), nil}}, Violation, "heads 8"},
		{"no extension", []zhbinOffer{{"n0", nil, nil}}, Violation, "n0: no zerohop extension"},
		{"a node not asked", []zhbinOffer{{"n0", good, nil}, {"n1", nil, down}}, Unchecked, "not asked: n1: connection refused"},
		{"wrong beats not asked", []zhbinOffer{{"n0", nil, down}, {"n1", with(func(x *wire.Extension) { x.Window = 0 }), nil}}, Violation, "window 0"},
		{"nobody", nil, Unchecked, "no live member"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, detail := zhbinOffered(tc.offers, wire.MaxHeads, 1024)
			if st != tc.want || !strings.Contains(detail, tc.detail) {
				t.Errorf("got %s %q, want %s with %q", st, detail, tc.want, tc.detail)
			}
		})
	}
}

// The binary variants follow every JSON scenario, keep their base's size
// and network, and stay out of CI's subset.
func TestBinaryVariants(t *testing.T) {
	var names []string
	for _, s := range scenarios {
		base, ok := strings.CutSuffix(s.name, binarySuffix)
		if s.binary != ok {
			t.Errorf("%s: binary %v", s.name, s.binary)
		}
		if !ok {
			continue
		}
		names = append(names, base)
		i := slices.IndexFunc(scenarios, func(b scenario) bool { return b.name == base })
		if i < 0 {
			t.Fatalf("%s: no scenario %s", s.name, base)
		}
		b := scenarios[i]
		if b.binary || b.nodes != s.nodes || b.netns != s.netns || b.fixed != s.fixed || !strings.HasPrefix(s.about, b.about) {
			t.Errorf("%s differs from %s beyond its links: %+v, %+v", s.name, base, s, b)
		}
		if slices.Contains(ciScenarios, s.name) {
			t.Errorf("%s is in ciScenarios", s.name)
		}
	}
	if !slices.Equal(names, binaryScenarios) {
		t.Errorf("binary variants of %v, want %v", names, binaryScenarios)
	}
	all, err := ParseScenarios("all")
	if err != nil || !slices.Contains(all, "pause-owner-binary") || !slices.Contains(all, "rolling-restart-binary") {
		t.Errorf("all: %v, %v", all, err)
	}
	if !NeedsNetns("partition-binary") || NeedsNetns("pause-owner-binary") {
		t.Error("NeedsNetns of the variants")
	}
	if !slices.Contains(binaryNodeArgs(), Arg{"binary-window", "1024"}) {
		t.Errorf("node args %v", binaryNodeArgs())
	}
}

func TestParseLoadReportClient(t *testing.T) {
	out := []byte(`{"lost":0,"state_lost":0,"failed_on_node":0,"in_flight_lost":0,"unexplained_lost":0,"accounting":"per-shard tallies",` +
		`"client":{"connects":6,"reconnects":3,"binary_connects":6,"head_connects":6,"epoch":4}}`)
	r := parseLoadReport(out, 0, "/dev/null")
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if st, detail := zhbinLinks(r.Client); st != Pass {
		t.Errorf("got %s %q, want pass", st, detail)
	}
}

// offerZhbin against real nodes: one with -binary and a window answers
// zhbin, its heads and the window; one without -binary stays JSON.
func TestOfferZhbin(t *testing.T) {
	types, err := workloadBinaryTypes()
	if err != nil {
		t.Fatal(err)
	}
	c := nodetest.Start(t, 2, nodetest.Options{Configure: func(i int, cfg *node.Config) {
		if i == 0 {
			bc := zhbin.New(cfg.Registry)
			if err := workload.RegisterBinary(bc); err != nil {
				t.Error(err)
			}
			cfg.Binary = bc
			cfg.BinaryWindow = 1024
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offers := []zhbinOffer{offerZhbin(ctx, "n0", c.Addr(0).String(), "", types)}
	if st, detail := zhbinOffered(offers, wire.MaxHeads, 1024); st != Pass {
		t.Errorf("binary node: got %s %q, want pass", st, detail)
	}
	offers = []zhbinOffer{offerZhbin(ctx, "n1", c.Addr(1).String(), "", types)}
	if st, detail := zhbinOffered(offers, wire.MaxHeads, 1024); st != Violation || !strings.Contains(detail, `n1: codec "json", heads 0, window 0`) {
		t.Errorf("JSON node: got %s %q, want a violation", st, detail)
	}
	if _, err := DialRaw(ctx, c.Addr(0).String(), RawOptions{Binary: types}); err == nil {
		t.Error("a raw connection offering zhbin with a reader was made")
	}
}
