package mutant

// engineMutations returns the mutations of engine/doc.go, grouped as its
// Invariants bullets are.
func engineMutations() []Mutation {
	var all []Mutation
	for _, part := range [][]Mutation{
		engineNoListeningSocket(),
		engineBoundsAndCountedDrops(),
		engineFencing(),
		engineReplacedOnlyWhenChanged(),
		engineFailFast(),
		engineMisconfigured(),
		engineAnnouncedHash(),
		engineSubscriptions(),
		engineNothingWaitsForever(),
		engineObservability(),
	} {
		all = append(all, part...)
	}
	return all
}

// engineNoListeningSocket: no listening socket.
func engineNoListeningSocket() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/listens", Invariant: eListen,
			What: "Dial opens a listening socket",
			File: "engine/client.go",
			Orig: "\tc.rootCtx, c.rootCancel = context.WithCancel(context.Background())\n",
			Repl: "\tc.rootCtx, c.rootCancel = context.WithCancel(context.Background()); ln, _ := net.Listen(\"tcp\", \"127.0.0.1:0\"); context.AfterFunc(c.rootCtx, func() { ln.Close() })\n",
			Run:  "^TestNoListenerAndIdentity$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/fixed-identity", Invariant: eListen,
			What: "EnsureDefaults: the identity is 127.0.0.1, not a random 127.x.y.z",
			File: "engine/config.go",
			Orig: "c.ClientHost = randomLoopbackHost()",
			Repl: "c.ClientHost = \"127.0.0.1\"",
			Run:  "^TestNoListenerAndIdentity$", Fast: true,
		}),
	}
}

// engineBoundsAndCountedDrops: bounds and counted drops.
func engineBoundsAndCountedDrops() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/queue-unbounded", Invariant: eBounds,
			What: "isFull: the outbound queue is never full",
			File: "engine/queue.go",
			Orig: "return int64(t-head) > int64(q.mask)-int64(reserve)",
			Repl: "return false",
			Run:  "^TestQueue", Fast: true,
		}),
		e(Mutation{
			Name: "engine/shard-buffer-unbounded", Invariant: eBounds,
			What: "hold: no ShardBuffer",
			File: "engine/held.go",
			Orig: "if len(q.msgs) >= c.cfg.ShardBuffer {",
			Repl: "if len(q.msgs) >= c.cfg.ShardBuffer<<20 {",
			Run:  "^TestCacheMissBounds$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/total-buffer-unbounded", Invariant: eBounds,
			What: "hold: no TotalBuffer",
			File: "engine/held.go",
			Orig: "if c.stats.buffered.Add(1) > int64(c.cfg.TotalBuffer) {",
			Repl: "if c.stats.buffered.Add(1) > int64(c.cfg.TotalBuffer)<<20 {",
			Run:  "^TestCacheMissBounds$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/drops-uncounted", Invariant: eBounds,
			What: "counters.drop counts nothing",
			File: "engine/stats.go",
			Orig: "s.drops[reason].Add(uint64(n))",
			Repl: "s.drops[reason].Add(0)",
			Run:  "^TestCacheMissBounds$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/queue-full-uncounted", Invariant: eBounds,
			What: "enqueue: a frame refused by a full queue is not counted",
			File: "engine/enqueue.go",
			Orig: "\t\tif wait {\n\t\t\treturn DropQueueFull, errMustWait\n\t\t}\n\t\tc.stats.drop(DropQueueFull, 1)",
			Repl: "\t\tif wait {\n\t\t\treturn DropQueueFull, errMustWait\n\t\t}\n\t\t_ = 0",
			Run:  "^TestDropsCounted$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/sojourn-unenforced", Invariant: eBounds,
			What: "claim: a tell is queued even though the queue is late (no sojourn bound)",
			File: "engine/queue.go",
			Orig: "if paced && q.late.Load() {",
			Repl: "if paced && q.late.Load() && false {",
			Run:  "^(TestQueueSojournBound|TestTellQueueSojourn)$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/sojourn-no-interval", Invariant: eBounds,
			What: "drain: the queue is late as soon as its head is older than the target (no CoDel interval: a burst or a descheduled writer refuses tells)",
			File: "engine/queue.go",
			Orig: "late = above && now-q.aboveSince >= q.interval",
			Repl: "late = above",
			Run:  "^TestQueueSojournInterval$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/sojourn-never-late", Invariant: eBounds,
			What: "drain: the queue is never late, however old its oldest frame",
			File: "engine/queue.go",
			Orig: "above := s.seq.Load() == h+1 && s.stamp != 0 && now-s.stamp > q.target",
			Repl: "above := s.seq.Load() == h+1 && s.stamp != 0 && now-s.stamp > q.target<<40",
			Run:  "^(TestQueueSojournBound|TestTellQueueSojourn)$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/sojourn-stale-clock", Invariant: eBounds,
			What: "drain: a frame queued while the writer was parked counts as old as the park",
			File: "engine/queue.go",
			Orig: "above := s.seq.Load() == h+1 && s.stamp != 0 && now-s.stamp > q.target",
			Repl: "above := s.seq.Load() == h+1 && now-s.stamp > q.target",
			Run:  "^TestQueueSojournParked$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/sojourn-rate-unbounded", Invariant: eBounds,
			What: "claim: tells fill every slot they may take whatever the measured write rate (late decided between writes only)",
			File: "engine/queue.go",
			Orig: "if pr := q.paceReserve.Load(); q.isFull(t, head, pr) {",
			Repl: "if pr := q.paceReserve.Load(); q.isFull(t, head, pr) && pr <= q.pacedFloor {",
			Run:  "^TestQueueSojournRate$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/sojourn-uncounted", Invariant: eBounds,
			What: "enqueue: a tell refused by the sojourn bound is not counted",
			File: "engine/enqueue.go",
			Orig: "\t\tc.stats.drop(DropQueueSojourn, 1)\n",
			Repl: "\n",
			Run:  "^TestTellQueueSojourn$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/conn-lost-uncounted", Invariant: eBounds,
			What: "run: frames queued when a connection fails are dropped uncounted",
			File: "engine/conn.go",
			Orig: "\t\tif n := nc.q.discard(); n > 0 {\n\t\t\tc.stats.drop(DropConnLost, n)",
			Repl: "\t\tif n := nc.q.discard(); n > 0 {\n\t\t\t_ = n",
			Run:  "^TestDropsCounted$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/expired-uncounted", Invariant: eBounds,
			What: "tick: expired held messages are dropped uncounted",
			File: "engine/held.go",
			Orig: "\t\t\tc.stats.drop(DropExpired, 1)\n",
			Repl: "\n",
			Run:  "^TestCacheMissBounds$", Fast: true,
		}),
	}
}

// engineFencing: fencing.
func engineFencing() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/snapshot-not-fenced", Invariant: eFence,
			What: "onSnapshot applies a snapshot below the applied epoch",
			File: "engine/topology.go",
			Orig: "if prev != nil && s.Epoch() < prev.Epoch() {",
			Repl: "if prev != nil && s.Epoch() < prev.Epoch() && false {",
			Run:  "^(TestSnapshotApply|TestEpochFencing)$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/location-not-fenced", Invariant: eFence,
			What: "onLocation applies a ShardLocation from a node behind the applied epoch",
			File: "engine/topology.go",
			Orig: "if e := nc.epoch.Load(); e < c.appliedEpoch() {",
			Repl: "if e := nc.epoch.Load(); e < -1 {",
			Run:  "^(TestSnapshotApply|TestEpochFencing)$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/epoch-kept-across-links", Invariant: eFence,
			What: "run: a new link keeps the epoch of the last link's snapshots (a restarted node's location passes the fence)",
			File: "engine/conn.go",
			Orig: "nc.epoch.Store(-1)\n\t\t\tvar l Link",
			Repl: "var l Link",
			Run:  "^TestReconnectForgetsTheNodesEpoch$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/fence-abandoned-early", Invariant: eFence,
			What: "onSnapshot abandons the fenced epoch after LivenessWindow/10, not 3x",
			File: "engine/topology.go",
			Orig: "if now.Sub(c.topo.lastApplied) < 3*c.cfg.LivenessWindow {",
			Repl: "if now.Sub(c.topo.lastApplied) < c.cfg.LivenessWindow/10 {",
			Run:  "^TestSnapshotApply$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/fence-never-abandoned", Invariant: eFence,
			What: "onSnapshot never abandons the fenced epoch",
			File: "engine/topology.go",
			Orig: "if now.Sub(c.topo.lastApplied) < 3*c.cfg.LivenessWindow {",
			Repl: "if now.Sub(c.topo.lastApplied) < 3*c.cfg.LivenessWindow || true {",
			Run:  "^TestSnapshotApply$", Fast: true,
		}),
	}
}

// engineReplacedOnlyWhenChanged: replaced only when changed.
func engineReplacedOnlyWhenChanged() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/equal-snapshot-stored", Invariant: eSnap,
			What: "Holder.Store replaces the snapshot with an equal one",
			File: "topo/holder.go",
			Orig: "\t\tif old.Equal(s) {",
			Repl: "\t\tif old.Equal(s) && false {",
			Run:  "^TestSnapshotApply$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/listings-always-rebuilt", Invariant: eSnap,
			What: "applyRegistryLocked rebuilds the listings when the registry did not change",
			File: "engine/lookup.go",
			Orig: "if prev != nil && slices.Equal(prev.Registry(), s.Registry()) {",
			Repl: "if prev != nil && slices.Equal(prev.Registry(), s.Registry()) && false {",
			Run:  "^TestSnapshotApply$", Fast: true,
		}),
	}
}

// engineFailFast: fail fast.
func engineFailFast() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/send-to-down-owner", Invariant: eFailFast,
			What: "entityType.enqueue queues a tell for an owner that is down or suspect",
			File: "engine/enqueue.go",
			Orig: "wait bool) (DropReason, error) {\n\tnc := e.nc\n\tif !nc.usable() {",
			Repl: "wait bool) (DropReason, error) {\n\tnc := e.nc\n\tif !nc.usable() && false {",
			Run:  "^TestFailFastEvictRequeryNoReroute$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/tellcontext-sticks-to-owner", Invariant: eFailFast,
			What: "waitSend keeps waiting on the owner it started with",
			File: "engine/route.go",
			Orig: "\t\tne, ok := t.Owner(shard)\n",
			Repl: "\t\tne, ok := e, true\n",
			Run:  "^TestTellContextLeavesStalledOwner$",
		}),
		e(Mutation{
			Name: "engine/never-suspect", Invariant: eFailFast,
			What: "checkSilenceLocked: a silent connection never becomes suspect",
			File: "engine/topology.go",
			Orig: "silent >= c.cfg.SuspectAfter {",
			Repl: "silent >= c.cfg.SuspectAfter<<20 {",
			Run:  "^TestSuspectPausedOwner$", Fast: true,
		}),
	}
}

// engineSubscriptions: subscriptions.
func engineSubscriptions() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/member-not-subscribed", Invariant: eSubscribe,
			What: "applySnapshotLocked: live members are not subscribed to",
			File: "engine/topology.go",
			Orig: "\t\t\tnc.member = true\n\t\t\tc.subscribeLocked(nc)",
			Repl: "\t\t\tnc.member = true",
			Run:  "^TestUnsubscribeEveryMemberOnClose$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/departed-not-unsubscribed", Invariant: eSubscribe,
			What: "pruneSubscriptionsLocked forgets a departed node without unsubscribing",
			File: "engine/topology.go",
			Orig: "\t\tc.sendUnsubscribe(nc)\n\t\tdelete(c.topo.subscribed, nc)",
			Repl: "\t\tdelete(c.topo.subscribed, nc)",
			Run:  "^TestSubscriptionPruneAndConnGC$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/shutdown-no-unsubscribe", Invariant: eSubscribe,
			What: "Shutdown does not unsubscribe",
			File: "engine/client.go",
			Orig: "\tfor _, nc := range subs {\n\t\tc.sendUnsubscribe(nc)\n\t}",
			Repl: "\tfor _, nc := range subs {\n\t\t_ = nc\n\t}",
			Run:  "^(TestUnsubscribeOnClose|TestUnsubscribeEveryMemberOnClose)$", Fast: true,
		}),
	}
}

// engineNothingWaitsForever: nothing waits forever.
func engineNothingWaitsForever() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/ask-without-deadline", Invariant: eWaits,
			What: "Ask without a ctx deadline waits forever (no AskTimeout)",
			File: "engine/ask.go",
			Orig: "\t\ttimeout = call.timer.C\n",
			Repl: "\t\t_ = call.timer.C\n",
			Run:  "^TestAskBehaviour$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/held-never-expire", Invariant: eWaits,
			What: "tick: held messages never expire (BufferTimeout)",
			File: "engine/held.go",
			Orig: "if now.Sub(m.at) < c.cfg.BufferTimeout {",
			Repl: "if now.Sub(m.at) < c.cfg.BufferTimeout<<20 {",
			Run:  "^TestCacheMissBounds$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/location-query-never-times-out", Invariant: eWaits,
			What: "tick: a location query without answer is never retried",
			File: "engine/held.go",
			Orig: "if q.inflight && now.Sub(q.sentAt) >= c.cfg.LocationTimeout {",
			Repl: "if q.inflight && now.Sub(q.sentAt) >= c.cfg.LocationTimeout<<20 {",
			Run:  "^TestCacheMissOrderAndSingleQuery$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/silent-primary-kept", Invariant: eWaits,
			What: "tick: a silent primary subscription never moves",
			File: "engine/topology.go",
			Orig: "if now.Sub(c.topo.primaryAt) > c.cfg.LivenessWindow && !c.closing.Load() {",
			Repl: "if now.Sub(c.topo.primaryAt) > c.cfg.LivenessWindow<<20 && !c.closing.Load() {",
			Run:  "^TestLivenessResubscribe$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/backoff-never-grows", Invariant: eWaits,
			What: "backoffStep: the reconnect backoff stays at ReconnectMin",
			File: "engine/conn.go",
			Orig: "return wait, min(2*b, c.ReconnectMax)",
			Repl: "return wait, b",
			Run:  "^TestReconnectBackoffCap$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/backoff-uncapped", Invariant: eWaits,
			What: "backoffStep: the reconnect backoff passes ReconnectMax",
			File: "engine/conn.go",
			Orig: "return wait, min(2*b, c.ReconnectMax)",
			Repl: "return wait, 2*b",
			Run:  "^TestReconnectBackoffCap$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/backoff-without-jitter", Invariant: eWaits,
			What: "backoffStep: every wait is the full backoff (no jitter)",
			File: "engine/conn.go",
			Orig: "wait = b/2 + rand.N(b/2+1)",
			Repl: "wait = b + 0*rand.N(b/2+1)",
			Run:  "^TestReconnectBackoffCap$", Fast: true,
		}),
	}
}

// engineObservability: observability never blocks the client.
func engineObservability() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/conn-events-block", Invariant: eObserve,
			What: "connEvent: a full event buffer blocks the sender instead of counting a drop",
			File: "engine/nodestatus.go",
			Orig: "\tdefault:\n\t\tc.stats.connEventsDropped.Add(1)\n",
			Repl: "\tdefault:\n\t\tc.events.ch <- ConnStateEvent{Node: nc.addr, Prev: prev, State: now, Cause: cause}\n",
			Run:  "^TestConnEventsSlowCallback$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/node-frames-uncounted", Invariant: eObserve,
			What: "writeLoop: frames written are not counted for their node",
			File: "engine/conn.go",
			Orig: "nc.stats.framesWritten.Add(uint64(n))",
			Repl: "nc.stats.framesWritten.Add(0)",
			Run:  "^TestNodesAndConnEvents$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/collected-writes-dropped", Invariant: eObserve,
			What: "retire: a collected connection's written counters leave the client's sums",
			File: "engine/stats.go",
			Orig: "\tc.retired.add(nc)\n",
			Repl: "\t_ = nc\n",
			Run:  "^TestSubscriptionPruneAndConnGC$",
		}),
	}
}

// engineAnnouncedHash: a type routes with the hash the cluster announced.
func engineAnnouncedHash() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/announced-hash-ignored", Invariant: eHash,
			What: "announcedHash: every announced hash is taken as MD5",
			File: "engine/failfast.go",
			Orig: "if e.Hash == \"\" {",
			Repl: "if true {",
			Run:  "^TestEntityRefRoutesWithTheAnnouncedHash$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/tell-routes-by-md5", Invariant: eHash,
			What: "entityType.shardOf: Tell and Ask route by MD5 whatever the table's hash",
			File: "engine/routetable.go",
			Orig: "return t.hash.Shard(entityID, et.numShards)",
			Repl: "return ring.Shard(entityID, et.numShards)",
			Run:  "^TestClusterRoutesWithTheAnnouncedHash$",
		}),
	}
}

// engineMisconfigured: a misconfigured entity type never routes.
func engineMisconfigured() []Mutation {
	e := inPackage("engine")
	return []Mutation{
		e(Mutation{
			Name: "engine/table-shard-count-ignored", Invariant: eMisconfig,
			What: "checkAllocated: a table allocating a shard past the ref's count is ignored",
			File: "engine/failfast.go",
			Orig: "if l <= et.numShards {",
			Repl: "if true {",
			Run:  "^TestSnapshotApply$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/announced-shard-count-ignored", Invariant: eMisconfig,
			What: "announcedLocked: an announced shard count that differs is accepted",
			File: "engine/failfast.go",
			Orig: "if e.Shards != n {",
			Repl: "if false {",
			Run:  "^(TestEntityRefAgainstZerohopAnnouncement|TestEntityRefAnnouncedLater)$",
		}),
		e(Mutation{
			Name: "engine/misconfigured-uncounted", Invariant: eMisconfig,
			What: "refuseBad: a refused message of a misconfigured type is not counted",
			File: "engine/failfast.go",
			Orig: "et.c.stats.drop(DropMisconfigured, 1)",
			Repl: "_ = DropMisconfigured",
			Run:  "^TestEntityRefAgainstCastyTable$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/tells-take-the-ask-slots", Invariant: eBounds,
			What: "newOutQueue: tells may fill every data slot, so asks behind a flood are refused as queue_full",
			File: "engine/queue.go",
			Orig: "pacedFloor: uint64(n/64) * 2,",
			Repl: "pacedFloor: uint64(n / 64),",
			Run:  "^TestQueueReserveForControl$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/hot-buffer-reused-too-soon", Invariant: eBounds,
			What: "claim: a ticket hotSlots ahead of the consumer takes the hot buffer of the ticket at head, not yet consumed",
			File: "engine/queue.go",
			Orig: "if s.hot = t-head < uint64(len(q.hot)); s.hot {",
			Repl: "if s.hot = t-head <= uint64(len(q.hot)); s.hot {",
			Run:  "^TestQueueHotBuffers$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/tellcontext-fills-every-slot", Invariant: eBounds,
			What: "claim: a paced producer that can wait queues past hotSlots, up to the slots Tell may take",
			File: "engine/queue.go",
			Orig: "if wait && q.isFull(t, head, q.waitReserve) {",
			Repl: "if false && wait && q.isFull(t, head, q.waitReserve) {",
			Run:  "^TestQueueWaitBound$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/waitspace-ignores-the-wait-bound", Invariant: eBounds,
			What: "waitSpace: a waiting producer is let go while the queue is past its bound (it spins on claim)",
			File: "engine/queue.go",
			Orig: "max(q.paceReserve.Load(), q.waitReserve)",
			Repl: "q.paceReserve.Load()",
			Run:  "^TestQueueWaitBound$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/queue-wait-frames-ignored", Invariant: eBounds,
			What: "a connection's queue keeps no waiting bound, whatever Config.QueueWaitFrames says",
			File: "engine/conn.go",
			Orig: "max(c.cfg.QueueWaitFrames, 0)),",
			Repl: "0),",
			Run:  "^TestQueueWaitFramesConfig$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/md5-memo-for-every-hash", Invariant: eHash,
			What: "shardOf: the MD5 memo answers for a type the cluster announced with XXH64",
			File: "engine/routetable.go",
			Orig: "if t.hash == ring.HashMD5 && et.md5Memo != nil {",
			Repl: "if et.md5Memo != nil {",
			Run:  "^TestShardOfWithTheMemo$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/md5-memo-ignores-the-tag", Invariant: eHash,
			What: "ring.MD5Memo: a slot answers for any id that maps to it, not only for the id whose shard it holds",
			File: "ring/memo.go",
			Orig: "if v := s.Load(); v&memoTagMask == tag && v&memoValid != 0 {",
			Repl: "if v := s.Load(); v&memoValid != 0 && tag != 1 {",
			Run:  "^TestShardOfWithTheMemo$", Fast: true,
		}),
		e(Mutation{
			Name: "engine/socket-send-buffer-ignored", Invariant: eBounds,
			What: "connect: Config.SocketSendBuffer never reaches the dial (the kernel's autotuned send buffer stays)",
			File: "engine/conn.go",
			Orig: "conn, err := netconn.Dial(ctx, c.dialer, nc.dial, c.cfg.TLS, c.cfg.SocketSendBuffer)",
			Repl: "conn, err := netconn.Dial(ctx, c.dialer, nc.dial, c.cfg.TLS, 0)",
			Run:  "^TestSocketSendBuffer$",
		}),
		e(Mutation{
			Name: "engine/tellcontext-waits-on-misconfigured", Invariant: eMisconfig,
			What: "waitSend: a type found misconfigured while TellContext waits keeps it waiting",
			File: "engine/route.go",
			Orig: "\t\tif t.bad != nil {\n\t\t\treturn et.refuseBad(t.bad) // misconfigured meanwhile\n",
			Repl: "\t\tif t.bad != nil && false {\n\t\t\treturn et.refuseBad(t.bad) // misconfigured meanwhile\n",
			Run:  "^TestTellContextLeavesStalledOwner$",
		}),
	}
}
