package chaos

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/zerohop/zerohop/wire"
)

// ClaimKey identifies one claim: one node incarnation serving one shard
// under one allocation epoch from one instant (Since). Since is part of the
// key so that a node that stops serving a shard and serves it again under
// the same epoch (its lease lapsed, then was renewed) makes two intervals.
type ClaimKey struct {
	Node        string // the node's host:port
	Incarnation int64
	Type        string
	Shard       int
	Epoch       int64
	Since       int64 // CLOCK_MONOTONIC ns
}

// Interval is a claim's span on the machine's CLOCK_MONOTONIC timeline.
// Until is the largest lease_until seen while the node listed the claim,
// or, once Exact, the until of the node's Released entry.
type Interval struct {
	Key   ClaimKey
	Until int64
	Exact bool // Until comes from a Released entry
}

// Overlap is two different node incarnations serving one shard at once:
// From..To is the common part of their intervals.
type Overlap struct {
	Type     string
	Shard    int
	A, B     Interval
	From, To int64
}

func (o Overlap) String() string {
	return fmt.Sprintf("%s/%d: %s#%x epoch %d [%d,%d] and %s#%x epoch %d [%d,%d] overlap for %.3f ms",
		o.Type, o.Shard, o.A.Key.Node, uint64(o.A.Key.Incarnation), o.A.Key.Epoch, o.A.Key.Since, o.A.Until,
		o.B.Key.Node, uint64(o.B.Key.Incarnation), o.B.Key.Epoch, o.B.Key.Since, o.B.Until, float64(o.To-o.From)/1e6)
}

// Ledger collects claims from NodeState answers. It is safe for concurrent
// use (the watcher's per-node goroutines record into one ledger); its zero
// value is not usable (NewLedger). It must not be copied.
type Ledger struct {
	mu     sync.Mutex
	claims map[ClaimKey]*Interval // guarded by mu
	states int                    // NodeStates recorded; guarded by mu
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{claims: make(map[ClaimKey]*Interval)} }

// Record adds what one NodeState says. A listed claim extends its interval
// to max(its until, lease_until, mono_now) (a claim is served at mono_now
// at least); a Released entry fixes the interval's end exactly, even when
// that end is later than the lease the node had announced (a node that
// served past its lease must show up as an overlap, not be hidden by it);
// of two Released entries of one claim, the first end counts (see below).
func (l *Ledger) Record(st *wire.NodeState) {
	node := st.Node.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states++
	for _, c := range st.Claims {
		k := ClaimKey{Node: node, Incarnation: st.Incarnation, Type: c.Type, Shard: c.Shard, Epoch: c.Epoch, Since: c.Since}
		iv := l.claims[k]
		if iv == nil {
			iv = &Interval{Key: k, Until: c.Since}
			l.claims[k] = iv
		}
		if iv.Exact {
			continue
		}
		iv.Until = max(iv.Until, c.Until, st.LeaseUntil, st.MonoNow)
	}
	for _, r := range st.Released {
		k := ClaimKey{Node: node, Incarnation: st.Incarnation, Type: r.Type, Shard: r.Shard, Epoch: r.Epoch, Since: r.Since}
		iv := l.claims[k]
		if iv == nil {
			iv = &Interval{Key: k}
			l.claims[k] = iv
		}
		if iv.Exact {
			// Released twice: a leaving node releases a shard when it
			// freezes its mailbox (it serves nothing after that) and again
			// when it applies the table that hands the shard over
			// (node.onTable does not skip frozen mailboxes). The claim ended
			// at the first.
			iv.Until = min(iv.Until, r.Until)
			continue
		}
		iv.Until, iv.Exact = r.Until, true
	}
}

// States returns how many NodeStates were recorded.
func (l *Ledger) States() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.states
}

// Intervals returns a copy of every interval that holds an instant (Until
// after Since), ordered by type, shard, since and node. An empty one is a
// claim the node never served: its Released entry ends it before it began
// (a node replaying its log at start applies old tables, owning shards
// with no lease yet, and releases them as the replay moves on).
func (l *Ledger) Intervals() []Interval {
	out := l.All()
	return slices.DeleteFunc(out, func(iv Interval) bool { return iv.Until <= iv.Key.Since })
}

// All returns a copy of every interval, empty ones included, in the order
// of Intervals.
func (l *Ledger) All() []Interval {
	l.mu.Lock()
	out := make([]Interval, 0, len(l.claims))
	for _, iv := range l.claims {
		out = append(out, *iv)
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Interval) int {
		return cmp.Or(cmp.Compare(a.Key.Type, b.Key.Type), cmp.Compare(a.Key.Shard, b.Key.Shard),
			cmp.Compare(a.Key.Since, b.Key.Since), cmp.Compare(a.Key.Node, b.Key.Node),
			cmp.Compare(a.Key.Incarnation, b.Key.Incarnation))
	})
	return out
}

// Overlaps returns every pair of intervals of one (type, shard) held by
// different node incarnations that share an instant. Intervals are closed
// on the left and open on the right: one that ends exactly where the next
// begins does not overlap it.
func Overlaps(ivs []Interval) []Overlap {
	type ts struct {
		typ   string
		shard int
	}
	groups := make(map[ts][]Interval)
	for _, iv := range ivs {
		if iv.Until <= iv.Key.Since {
			continue // never served (see Intervals)
		}
		g := ts{iv.Key.Type, iv.Key.Shard}
		groups[g] = append(groups[g], iv)
	}
	var out []Overlap
	for g, list := range groups {
		slices.SortFunc(list, func(a, b Interval) int { return cmp.Compare(a.Key.Since, b.Key.Since) })
		for i := range list {
			a := list[i]
			for _, b := range list[i+1:] {
				if b.Key.Since >= a.Until {
					break // sorted by since: no later b overlaps a either
				}
				if a.Key.Node == b.Key.Node && a.Key.Incarnation == b.Key.Incarnation {
					continue
				}
				out = append(out, Overlap{Type: g.typ, Shard: g.shard, A: a, B: b, From: b.Key.Since, To: min(a.Until, b.Until)})
			}
		}
	}
	slices.SortFunc(out, func(a, b Overlap) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Shard, b.Shard), cmp.Compare(a.From, b.From))
	})
	return out
}

// FailoverTime says when every shard in shards (of type typ) was claimed
// by a node other than gone after at (a kill, CLOCK_MONOTONIC ns): the
// latest over those shards of the earliest claim by another node that is
// still valid after at, minus at. A claim that began before at counts from
// at. ok is false when some shard was never claimed again; missing lists
// them.
func FailoverTime(ivs []Interval, typ string, shards []int, gone string, at int64) (ns int64, missing []int, ok bool) {
	first := make(map[int]int64, len(shards))
	for _, iv := range ivs {
		if iv.Key.Type != typ || iv.Key.Node == gone || iv.Until <= at {
			continue
		}
		since := max(iv.Key.Since, at)
		if f, seen := first[iv.Key.Shard]; !seen || since < f {
			first[iv.Key.Shard] = since
		}
	}
	for _, s := range shards {
		f, seen := first[s]
		if !seen {
			missing = append(missing, s)
			continue
		}
		ns = max(ns, f-at)
	}
	return ns, missing, len(missing) == 0
}

// Span is a closed-open stretch [From, To) of the CLOCK_MONOTONIC
// timeline.
type Span struct{ From, To int64 }

// Unclaimed is an amount a node applied to a shard's entities at a time
// when, by its own claims, it did not serve the shard: somewhere in
// Within (the span between two of its tally polls, minus the time it was
// stopped) it applied Amount, and none of its claims of the shard overlaps
// Within.
type Unclaimed struct {
	Node   string
	Shard  int
	Amount int64
	Within []Span
}

func (u Unclaimed) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s applied %d to shard %d in", u.Node, u.Amount, u.Shard)
	for _, s := range u.Within {
		fmt.Fprintf(&b, " [%d,%d]", s.From, s.To)
	}
	return b.String() + " with no claim of it"
}

// AppliedWithoutClaim checks a node's tally polls against its claims: an
// increase of what the node applied to shard s (applied + retired) between
// two polls a and b happened in (a.Sent, b.Recv]; minus the spans in
// frozen (the process was stopped: it applied nothing then), that window
// must overlap one of the node's claims of (typ, s), of any incarnation
// (two incarnations of one address never run at once). A new incarnation's
// first poll counts from zero. The first poll of all is the baseline.
// Polls of a node that stopped answering (paused, dead) leave a window
// that spans the silence: minus frozen, what remains is checked as any
// other.
func AppliedWithoutClaim(node, typ string, obs []TallyObs, ivs []Interval, frozen []Span) []Unclaimed {
	var mine []Interval
	for _, iv := range ivs {
		if iv.Key.Node == node && iv.Key.Type == typ {
			mine = append(mine, iv)
		}
	}
	var out []Unclaimed
	for k := 1; k < len(obs); k++ {
		a, b := obs[k-1], obs[k]
		base := a.Applied
		if a.Incarnation != b.Incarnation {
			base = nil
		}
		within := subtract(Span{a.Sent, b.Recv}, frozen)
		for s, v := range b.Applied {
			var was int64
			if s < len(base) {
				was = base[s]
			}
			if v <= was {
				continue
			}
			if !claimedDuring(mine, s, within) {
				out = append(out, Unclaimed{Node: node, Shard: s, Amount: v - was, Within: within})
			}
		}
	}
	return out
}

// subtract returns the parts of w not covered by any span of cut.
func subtract(w Span, cut []Span) []Span {
	parts := []Span{w}
	for _, c := range cut {
		var next []Span
		for _, p := range parts {
			if c.To <= p.From || c.From >= p.To {
				next = append(next, p)
				continue
			}
			if p.From < c.From {
				next = append(next, Span{p.From, c.From})
			}
			if c.To < p.To {
				next = append(next, Span{c.To, p.To})
			}
		}
		parts = next
	}
	return parts
}

// claimedDuring reports whether some interval of shard s overlaps some
// span of within.
func claimedDuring(ivs []Interval, s int, within []Span) bool {
	for _, iv := range ivs {
		if iv.Key.Shard != s {
			continue
		}
		for _, w := range within {
			if iv.Key.Since < w.To && iv.Until > w.From {
				return true
			}
		}
	}
	return false
}
