package node

// zhbin's compact heads on a link (wire/heads.go): definitions and the
// headed frames that use them.

import (
	"bytes"
	"strconv"

	"github.com/zerohop/zerohop/wire"
)

// defineHead takes a head definition (wire.ParseHeadDefinition) on a link
// that announced heads: the id now stands for the header, for the headed
// frames after it. A definition this node cannot use closes the link: the
// client broke the negotiated protocol, and its next frames would be read
// under a wrong header.
func (n *Node) defineHead(l *link, body []byte) result {
	id, head, err := wire.ParseHeadDefinition(body)
	if err == nil && id >= l.in.maxHeads {
		err = &wire.HeadError{Reason: "id " + strconv.Itoa(id) + " not below the " + strconv.Itoa(l.in.maxHeads) + " announced"}
	}
	var d headDef
	if err == nil {
		d, err = n.headDefOf(head)
	}
	if err != nil {
		n.ctr.framingErrors.Add(1)
		n.logLimited("closing connection: bad head definition", "from", l.String(), "err", err)
		return resClose
	}
	if l.in.heads == nil {
		l.in.heads = make([]headDef, l.in.maxHeads)
	}
	l.in.heads[id] = d
	return resOK
}

// headDefOf returns what a head (header_len and header, validated)
// stands for: its region and sender's forwarding info when it targets a
// region this node hosts, else a copy of the head.
func (n *Node) headDefOf(head []byte) (headDef, error) {
	path, _, err := wire.ParseTargetPath(head)
	if err != nil {
		return headDef{}, err
	}
	if hd, ok := n.paths[string(path)]; ok && hd.kind == pkRegion {
		h, _, err := wire.ParseMessage(head)
		if err != nil {
			return headDef{}, err
		}
		return headDef{set: true, region: hd.region, fwd: fwdOf(h.Sender)}, nil
	}
	return headDef{set: true, head: bytes.Clone(head)}, nil
}

// handleHeaded handles a headed frame: the message frame its definition's
// header and its payload make. An id without a definition closes the link.
func (n *Node) handleHeaded(l *link, body []byte) result {
	id, payload, err := wire.ParseHeaded(body)
	if err == nil && (id >= len(l.in.heads) || !l.in.heads[id].set) {
		err = &wire.HeadError{Reason: "id " + strconv.Itoa(id) + " has no definition"}
	}
	if err != nil {
		n.ctr.framingErrors.Add(1)
		n.logLimited("closing connection: bad headed frame", "from", l.String(), "err", err)
		return resClose
	}
	d := &l.in.heads[id]
	if d.region != nil {
		return n.handleRegion(l, d.region, d.fwd, payload)
	}
	// Any other target: the whole message frame body, rebuilt in the
	// link's scratch (kept: headed frames to such targets repeat).
	l.in.scratch = append(append(l.in.scratch[:0], d.head...), payload...)
	r := n.handleMessage(l, l.in.scratch)
	if cap(l.in.scratch) > maxKeptScratch {
		l.in.scratch = nil
	}
	return r
}

// headDef is what a head id stands for on a link: a hosted region (region,
// fwd), or any other target (head: header_len and header, copied).
type headDef struct {
	set    bool
	region *region
	fwd    fwdInfo
	head   []byte
}

// maxKeptScratch bounds the scratch a link keeps between headed frames.
const maxKeptScratch = 64 << 10
