package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/zhbin"
)

// The binary variants: a scenario run again over zhbin links, the
// negotiated fast path between a zerohop client and node (issue 12).
// Every node gets -binary -binary-window BinaryWindow (its compact heads
// at their default, wire.MaxHeads) and loadgen -binary; the fault, the
// load and every check are the scenario's own, with the same thresholds.
// Two checks more prove the fast path was in use, so that a variant that
// silently ran JSON does not pass:
//
//   - zhbin-links (loadgen's -json "client": the engine's Stats): every
//     connection the client opened, reconnects included, negotiated zhbin
//     with compact heads (BinaryConnects >= Connects > 0, HeadConnects =
//     BinaryConnects). A report without those counters leaves it
//     unchecked (a failure in strict mode).
//   - zhbin-offered (a handshake offering zhbin with the workload's binary
//     types, to every live member after the load): each node chooses
//     zhbin and announces heads wire.MaxHeads and window BinaryWindow,
//     which a client that negotiated zhbin with it then uses (the
//     client's Stats do not count windows).
//
// The scenarios varied (binaryScenarios) are those where heads and the
// window meet the fault: a paused owner (a window's frames stuck behind a
// SIGSTOP), a partition (credited frames in flight on a blackholed
// link), a rolling restart (every link to a restarted node reconnects and
// defines its heads again), the client cut off from an owner (the window
// full of frames the node never acknowledges: the writer waits on credit,
// and the link must still be declared suspect and its tells fail fast).

// BinaryWindow is every node's -binary-window in a binary variant: the
// frames a zhbin client keeps in flight to it (PERFORMANCE.md measures the
// window at 1024 and 2048).
const BinaryWindow = 1024

// binarySuffix names a scenario's binary variant: pause-owner-binary.
const binarySuffix = "-binary"

// binaryScenarios are the scenarios with a binary variant, in the order
// `make chaos` runs the variants (after every JSON scenario). None is in
// ciScenarios: CI's subset is near its time budget.
var binaryScenarios = []string{"pause-owner", "rolling-restart", "partition", "client-cut"}

// withBinaryVariants returns base followed by the binary variant of each
// named scenario. An unknown name is a broken invariant of this package.
func withBinaryVariants(base []scenario, names ...string) []scenario {
	out := slices.Clone(base)
	for _, n := range names {
		i := slices.IndexFunc(base, func(s scenario) bool { return s.name == n })
		if i < 0 {
			panic("chaos: no scenario " + n + " for a binary variant")
		}
		out = append(out, binaryVariant(base[i]))
	}
	return out
}

// binaryVariant returns s over zhbin links.
func binaryVariant(s scenario) scenario {
	s.name += binarySuffix
	s.about = fmt.Sprintf("%s; over zhbin links (nodes -binary -binary-window %d, loadgen -binary)", s.about, BinaryWindow)
	s.binary = true
	return s
}

// binaryNodeArgs are the flags every node of a binary variant gets.
func binaryNodeArgs() []Arg {
	return []Arg{{"binary", "true"}, {"binary-window", strconv.Itoa(BinaryWindow)}}
}

// requireBinary reports the flags a binary variant needs and the binaries
// lack, all at once: without them it would run JSON links and prove
// nothing.
func (h *Harness) requireBinary() error {
	return errors.Join(h.nodeFlags.Require(h.cfg.NodeBin, "binary", "binary-window"),
		h.loadFlags.Require(h.cfg.LoadgenBin, "binary"))
}

// checkBinary records the two checks of a binary variant (see above): the
// client's links from loadgen's report, and the handshake every live
// member answers to a zhbin offer.
func (r *run) checkBinary(ctx context.Context, rep *LoadReport) {
	if rep.Err != "" {
		r.res.Check("zhbin-links", Violation, "no usable loadgen report: %s", rep.Err)
	} else {
		st, detail := zhbinLinks(rep.Client)
		r.res.Check("zhbin-links", st, "%s", detail)
	}
	st, detail := zhbinOffered(r.probeZhbin(ctx), wire.MaxHeads, BinaryWindow)
	r.res.Check("zhbin-offered", st, "%s", detail)
}

// zhbinLinks judges the client's connection counters (loadgen's -json
// "client"): every connection, reconnects included, negotiated zhbin with
// compact heads. BinaryConnects may exceed Connects (a handshake the
// transport then refused to attach counts in the first only).
func zhbinLinks(client map[string]int64) (Status, string) {
	var missing []string
	for _, k := range []string{"connects", "reconnects", "binary_connects", "head_connects"} {
		if _, ok := client[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Unchecked, fmt.Sprintf("loadgen's report has no client %s: the links' codec is unknown", strings.Join(missing, ", "))
	}
	conns, re, bin, heads := client["connects"], client["reconnects"], client["binary_connects"], client["head_connects"]
	detail := fmt.Sprintf("%d connections (%d reconnects), zhbin on %d, compact heads on %d", conns, re, bin, heads)
	switch {
	case conns == 0:
		return Violation, detail + ": the client opened no connection"
	case bin < conns:
		return Violation, fmt.Sprintf("%s: %d stayed JSON", detail, conns-bin)
	case heads < bin:
		return Violation, fmt.Sprintf("%s: %d zhbin connections without heads", detail, bin-heads)
	}
	return Pass, detail
}

// zhbinOffer is one node's answer to a handshake offering zhbin.
type zhbinOffer struct {
	Node string
	Ext  *wire.Extension // the reply's zerohop extension; nil when Err or none
	Err  error           // the dial or handshake failed
}

// zhbinOffered judges the nodes' answers: each chose zhbin and announced
// heads and window. A node that could not be asked leaves the check
// unchecked, unless another answered wrong.
func zhbinOffered(offers []zhbinOffer, heads, window int) (Status, string) {
	if len(offers) == 0 {
		return Unchecked, "no live member to ask"
	}
	var ok, bad, failed []string
	for _, o := range offers {
		switch x := o.Ext; {
		case o.Err != nil:
			failed = append(failed, fmt.Sprintf("%s: %v", o.Node, o.Err))
		case x == nil:
			bad = append(bad, o.Node+": no zerohop extension")
		case x.Codec != zhbin.Name || x.Heads != heads || x.Window != window:
			bad = append(bad, fmt.Sprintf("%s: codec %q, heads %d, window %d", o.Node, x.Codec, x.Heads, x.Window))
		default:
			ok = append(ok, o.Node)
		}
	}
	detail := fmt.Sprintf("%d of %d nodes chose %s with heads %d and window %d", len(ok), len(offers), zhbin.Name, heads, window)
	if len(bad) > 0 {
		detail += "; " + strings.Join(bad, "; ")
	}
	if len(failed) > 0 {
		detail += "; not asked: " + strings.Join(failed, "; ")
	}
	switch {
	case len(bad) > 0:
		return Violation, detail
	case len(failed) > 0:
		return Unchecked, detail
	}
	return Pass, detail
}

// probeZhbin asks every live member what a zhbin client gets (offerZhbin).
func (r *run) probeZhbin(ctx context.Context) []zhbinOffer {
	types, err := workloadBinaryTypes()
	var out []zhbinOffer
	for _, m := range r.c.Live() {
		name := fmt.Sprintf("n%d", m.Index)
		if err != nil {
			out = append(out, zhbinOffer{Node: name, Err: err})
			continue
		}
		out = append(out, offerZhbin(ctx, name, m.Listen, r.c.ClientNetns(), types))
	}
	return out
}

// workloadBinaryTypes returns the workload's binary type table, the one
// cmd/node -binary and loadgen -binary announce.
func workloadBinaryTypes() ([]wire.BinaryType, error) {
	reg, err := newRegistry("")
	if err != nil {
		return nil, err
	}
	bc := zhbin.New(reg)
	if err := workload.RegisterBinary(bc); err != nil {
		return nil, err
	}
	return bc.Types(), nil
}

// offerZhbin sends the node at addr a handshake offering zhbin with types
// and returns its answer. The connection closes at once (no reader:
// nothing but the handshake is read).
func offerZhbin(ctx context.Context, name, addr, netns string, types []wire.BinaryType) zhbinOffer {
	rc, err := DialRaw(ctx, addr, RawOptions{Netns: netns, Binary: types, NoReader: true})
	if err != nil {
		return zhbinOffer{Node: name, Err: err}
	}
	defer rc.Close()
	return zhbinOffer{Node: name, Ext: rc.PeerExt}
}
