package node

// inlineRun is the state of the entities a gnet link's event loop runs
// inline (see "Entities and backpressure" in doc.go, and runInline): an
// envelope whose shard mailbox is idle is run on the loop that read it,
// and the replies it sends to the same link are written once at the end of
// OnTraffic (gnetConn.endInline) instead of waking the loop with a flush
// task per reply. Only gnet links have one (link.inline); std links hand
// every envelope to the workers.
//
// Owned by the link's event loop, except inLoop, which enqueue reads on
// any goroutine: it is guarded by the link's mu.
type inlineRun struct {
	active bool        // this OnTraffic ran an entity inline (inLoop is set); owned by the event loop
	inLoop bool        // sends to the link only append to pending: OnTraffic writes them at its end; guarded by link.mu
	ctx    *Context    // the Context of entities run inline, made at the first run
	one    [1]envelope // the batch of one inline run
	ran    int64       // messages run in this span, added to Stats.MessagesProcessed by end; owned by the event loop
}

// run runs e on mailbox m, which the caller claimed (m.scheduled) and
// found served at now (n.mono ns), as a batch of one; from now until
// endInline, sends to l are written by the event loop at the end of
// OnTraffic. Event loop only.
func (r *inlineRun) run(n *Node, l *link, m *mailbox, e envelope, now int64) {
	if !r.active {
		l.mu.Lock()
		r.inLoop = true
		l.mu.Unlock()
		r.active = true
	}
	if r.ctx == nil {
		r.ctx = &Context{n: n}
	}
	batch := r.one[:1]
	batch[0] = e
	r.ctx.now = now
	if _, ran := n.runOne(m, r.ctx, batch, 0); ran {
		r.ran++
	}
	batch[0] = envelope{}
}

// end ends the span started by run: sends to l kick the writer again. The
// caller then writes what is pending. Event loop only.
func (r *inlineRun) end(l *link) {
	if r.ran > 0 {
		l.n.ctr.processed.Add(r.ran) // once per span, before its replies are written
		r.ran = 0
	}
	r.active = false
	l.mu.Lock()
	r.inLoop = false
	l.mu.Unlock()
}
