package main

import (
	"context"
	"errors"
	"slices"

	"github.com/zerohop/zerohop/workload"
)

// multiTarget is -clients N: N engine clients, each with its own
// connections to every node, behind one target. An entity always goes
// through the same client (chosen by a hash of its id), so each entity's
// tells stay in order. The node-side calls (stats, tallies, topology) go
// through the first client, which also owns the embedded cluster and is
// closed last. Safe for concurrent use, as its clients are.
type multiTarget struct {
	ts []*engineTarget // immutable
}

func newMultiTarget(ts []*engineTarget) *multiTarget { return &multiTarget{ts: ts} }

// pick returns the client of entity id: FNV-1a of the id, without
// allocating.
func (m *multiTarget) pick(id string) *engineTarget {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return m.ts[h%uint32(len(m.ts))]
}

func (m *multiTarget) Tell(ctx context.Context, id string) error { return m.pick(id).Tell(ctx, id) }
func (m *multiTarget) Backpressure(err error) bool               { return m.ts[0].Backpressure(err) }
func (m *multiTarget) GetCount(ctx context.Context, id string) (int64, error) {
	return m.pick(id).GetCount(ctx, id)
}

func (m *multiTarget) Buffered() int64 {
	var n int64
	for _, t := range m.ts {
		n += t.Buffered()
	}
	return n
}

// Flush flushes every client; the first error is returned after all were
// tried.
func (m *multiTarget) Flush(ctx context.Context) error {
	var errs []error
	for _, t := range m.ts {
		errs = append(errs, t.Flush(ctx))
	}
	return errors.Join(errs...)
}

func (m *multiTarget) ResetStats(ctx context.Context) (int, error) { return m.ts[0].ResetStats(ctx) }
func (m *multiTarget) NodeStats(ctx context.Context) ([]nodeTally, error) {
	return m.ts[0].NodeStats(ctx)
}
func (m *multiTarget) StatsNodes() []string { return m.ts[0].StatsNodes() }
func (m *multiTarget) ShardTally(ctx context.Context, node string) (workload.ShardTally, error) {
	return m.ts[0].ShardTally(ctx, node)
}
func (m *multiTarget) ShardOwners(dst []string) []string { return m.ts[0].ShardOwners(dst) }

// ClientDrops sums what every client dropped.
func (m *multiTarget) ClientDrops() clientDrops {
	out := m.ts[0].ClientDrops()
	for _, t := range m.ts[1:] {
		d := t.ClientDrops()
		out.Queued += d.Queued
		for s, v := range d.ByShard {
			out.ByShard[s] += v
		}
		out.LostLinks = append(out.LostLinks, d.LostLinks...)
	}
	slices.Sort(out.LostLinks)
	out.LostLinks = slices.Compact(out.LostLinks)
	return out
}

// ClientStats sums the clients' counters (epoch: the highest), and adds
// "clients".
func (m *multiTarget) ClientStats() map[string]int64 {
	out := map[string]int64{"clients": int64(len(m.ts))}
	for _, t := range m.ts {
		for k, v := range t.ClientStats() {
			if k == "epoch" {
				out[k] = max(out[k], v)
			} else {
				out[k] += v
			}
		}
	}
	return out
}

func (m *multiTarget) Transport() string { return m.ts[0].Transport() }

// Close shuts the other clients down, then the first (and with it the
// embedded cluster).
func (m *multiTarget) Close(ctx context.Context) error {
	var errs []error
	for _, t := range m.ts[1:] {
		errs = append(errs, t.Close(ctx))
	}
	return errors.Join(append(errs, m.ts[0].Close(ctx))...)
}
