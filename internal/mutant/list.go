package mutant

// List returns every mutation of the gate, node's first, in the order of
// the Invariants bullets they break. Adding an invariant to a package's
// doc.go means adding its mutation here (TestEveryInvariantHasAMutation).
func List() []Mutation {
	return append(append(nodeMutations(), engineMutations()...), connMutations()...)
}

// Invariant bullets of node/doc.go, as they start.
const (
	nOwner     = "No entity runs on a node that is not its shard's owner"
	nTwo       = "At no instant do two nodes serve one shard"
	nQuorum    = "No allocation without a quorum"
	nEpochs    = "Epochs never go backwards and name one table each"
	nQueued    = "A queued envelope of a shard that moved is forwarded"
	nLeave     = "A graceful leave loses no tell that reached the node"
	nKeys      = "Only key holders are members"
	nPartition = "A healed partition re-merges"
	nBounds    = "Every queue is bounded and every drop counted"
	nTopology  = "Closing a connection removes its topology subscriber"
)

// Invariant bullets of engine/doc.go, as they start.
const (
	eListen    = "No listening socket, ever"
	eBounds    = "Every queue and buffer is bounded"
	eFence     = "Epoch fencing"
	eSnap      = "Client.snap holds the last applied snapshot"
	eFailFast  = "A shard whose owner is suspect or down fails fast"
	eSubscribe = "The client keeps a topology subscription on every member"
	eWaits     = "Nothing waits forever"
)

// Invariant bullets of internal/netconn/doc.go and internal/gnetconn/doc.go,
// as they start.
const (
	cHandshake = "Handshake reads exactly the reply frame"
	cState     = "A State records the first error only"
	gEvery     = "A Reader hands every complete frame"
	gCarry     = "A Reader whose last pass left bytes (Carry)"
)

// inPackage returns a function that sets a mutation's doc and package.
func inPackage(doc string) func(Mutation) Mutation {
	return func(m Mutation) Mutation {
		m.Doc, m.Package = doc, "./"+doc
		return m
	}
}

func nodeMutations() []Mutation {
	n := inPackage("node")
	return []Mutation{
		// --- an entity runs only on its owner, under a lease -------------
		n(Mutation{
			Name: "node/moved-shard-still-served", Invariant: nOwner,
			What: "modeOf: a shard the table gave another node is served here",
			File: "node/worker.go",
			Orig: "\tcase owner != n.self:\n\t\treturn modeMoved, owner, since",
			Repl: "\tcase owner != n.self && false:\n\t\treturn modeMoved, owner, since",
			Run:  "^TestPausedOwnerRunsNothingStale$",
		}),
		n(Mutation{
			Name: "node/no-wait-without-lease", Invariant: nOwner,
			What: "modeOf: a shard is served without an unexpired lease",
			File: "node/worker.go",
			Orig: "case m.frozen || now >= n.lease.until.Load():",
			Repl: "case m.frozen:",
			Run:  "^TestServingCheckedBeforeEveryMessage$", Fast: true,
		}),
		n(Mutation{
			Name: "node/per-message-allocation-unchecked", Invariant: nOwner,
			What: "serving: the per-message check ignores which allocation the entities belong to",
			File: "node/worker.go",
			Orig: "return rt.owners[i][s] == n.self && rt.since[i][s] == m.epoch && !m.frozen &&",
			Repl: "return rt.owners[i][s] == n.self && !m.frozen &&",
			Run:  "^TestServingCheckedBeforeEveryMessage$", Fast: true,
		}),
		n(Mutation{
			Name: "node/per-message-lease-unchecked", Invariant: nOwner,
			What: "serving: the per-message check ignores the lease",
			File: "node/worker.go",
			Orig: "\t\tint64(n.mono()) < n.lease.until.Load()\n}",
			Repl: "\t\ttrue\n}",
			Run:  "^TestServingCheckedBeforeEveryMessage$", Fast: true,
		}),

		// --- no two owners: the lease judgement -------------------------
		n(Mutation{
			Name: "node/expiry-without-grace", Invariant: nTwo,
			What: "lapsed: a lease counts as expired without the grace",
			File: "node/leader.go",
			Orig: "return now-at > cc.LeaseDuration+cc.leaseGrace()",
			Repl: "return now-at > cc.LeaseDuration",
			Run:  "^TestLeaseExpiryJudgement$", Fast: true,
		}),
		n(Mutation{
			Name: "node/expiry-at-half-lease", Invariant: nTwo,
			What: "lapsed: a lease counts as expired after half of it",
			File: "node/leader.go",
			Orig: "return now-at > cc.LeaseDuration+cc.leaseGrace()",
			Repl: "return now-at > cc.LeaseDuration/2",
			Run:  "^TestKilledOwnersShardsMoveOnlyAfterTheirLease$",
		}),
		n(Mutation{
			Name: "node/no-grace", Invariant: nTwo,
			What: "leaseGrace is zero",
			File: "node/leader.go",
			Orig: "return max(cc.LeaseDuration/10, 50*time.Millisecond)",
			Repl: "return 0",
			Run:  "^TestLeaseExpiryJudgement$", Fast: true,
		}),
		n(Mutation{
			Name: "node/holder-lease-too-long", Invariant: nTwo,
			What: "renewOnce: the holder's lease runs twice what the leader assumes",
			File: "node/lease.go",
			Orig: "until := int64(t0 + cc.LeaseDuration)",
			Repl: "until := int64(t0 + 2*cc.LeaseDuration)",
			Run:  "^TestKilledOwnersShardsMoveOnlyAfterTheirLease$",
		}),
		n(Mutation{
			Name: "node/renewal-time-not-recorded", Invariant: nTwo,
			What: "applyLocked: a renewal is recorded as seen at time 0",
			File: "node/fsm.go",
			Orig: "f.seen[addr] = seenRec{at: f.clock(), index: index}",
			Repl: "f.seen[addr] = seenRec{at: 0, index: index}",
			Run:  "^TestFSMRecordsRenewalTimes$", Fast: true,
		}),
		n(Mutation{
			Name: "node/restored-renewals-old", Invariant: nTwo,
			What: "Restore: restored renewals count as seen an hour ago, not now",
			File: "node/fsm.go",
			Orig: "f.seen[a] = seenRec{at: now, index: r.Renewed}",
			Repl: "f.seen[a] = seenRec{at: now - time.Hour, index: r.Renewed}",
			Run:  "^TestFSMSnapshotRestore$", Fast: true,
		}),
		n(Mutation{
			Name: "node/stall-no-floor", Invariant: nTwo,
			What: "expired: a leader that stalled judges from the renewals it could not receive meanwhile",
			File: "node/leader.go",
			Orig: "at := max(s.at, time.Duration(n.cons.expiryFloor.Load()))",
			Repl: "at := s.at",
			Run:  "^TestLeaseExpiryJudgement$", Fast: true,
		}),
		n(Mutation{
			Name: "node/stall-not-detected", Invariant: nTwo,
			What: "leaderClock: a gap between the leader's ticks is never a stall",
			File: "node/leader.go",
			Orig: "if gap := now - c.last; gap > c.stall {",
			Repl: "if gap := now - c.last; false && gap > c.stall {",
			Run:  "^TestLeaderClock$", Fast: true,
		}),
		n(Mutation{
			Name: "node/new-leader-judges-at-once", Invariant: nTwo,
			What: "newLeaderClock: a new leader judges leases nobody could renew during the election",
			File: "node/leader.go",
			Orig: "return leaderClock{last: now, judgeFrom: now + lease/2, stall: stall}",
			Repl: "return leaderClock{last: now, judgeFrom: now, stall: stall}",
			Run:  "^TestLeaderClock$", Fast: true,
		}),

		// --- quorum and compare-and-set ---------------------------------
		n(Mutation{
			Name: "node/move-not-compare-and-set", Invariant: nQuorum,
			What: "applyLocked: a move applies whatever the shard's current owner",
			File: "node/fsm.go",
			Orig: "if m.Shard < 0 || m.Shard >= len(slots) || slots[m.Shard].Owner != m.From {",
			Repl: "if m.Shard < 0 || m.Shard >= len(slots) {",
			Run:  "^TestFSMMovesAreCompareAndSet$", Fast: true,
		}),
		n(Mutation{
			Name: "node/move-to-leaving-node", Invariant: nQuorum,
			What: "applyLocked: a move may give a shard to a leaving node",
			File: "node/fsm.go",
			Orig: "if r == nil || r.Leaving || !slices.Contains(r.Types, m.Type) {",
			Repl: "if r == nil || !slices.Contains(r.Types, m.Type) {",
			Run:  "^TestFSMRefusesIneligibleOwners$", Fast: true,
		}),
		n(Mutation{
			Name: "node/locate-without-lease", Invariant: nQuorum,
			What: "handleGetShardLocation vouches for an owner without a lease (minority)",
			File: "node/locate.go",
			Orig: "\tif !n.leaseValid() {\n\t\tif zh {",
			Repl: "\tif !n.leaseValid() && false {\n\t\tif zh {",
			Run:  "^TestMinorityAllocatesNothing$",
		}),

		// --- epochs -----------------------------------------------------
		n(Mutation{
			Name: "node/epoch-not-advanced", Invariant: nEpochs,
			What: "Apply: a changed table keeps the previous epoch",
			File: "node/fsm.go",
			Orig: "\t\tf.st.Epoch = l.Index\n",
			Repl: "\t\t_ = l.Index\n",
			Run:  "^TestFSMMovesAreCompareAndSet$", Fast: true,
		}),
		n(Mutation{
			Name: "node/epoch-on-every-command", Invariant: nEpochs,
			What: "Apply: every command (renewals too) publishes a new epoch",
			File: "node/fsm.go",
			Orig: "\tif res.moved > 0 {\n\t\tf.st.Epoch = l.Index",
			Repl: "\tif res.moved >= 0 {\n\t\tf.st.Epoch = l.Index",
			Run:  "^TestFSMMovesAreCompareAndSet$", Fast: true,
		}),

		// --- queued envelopes of a moved shard --------------------------
		n(Mutation{
			Name: "node/stale-entities-kept", Invariant: nQueued,
			What: "runShard: entities of an earlier allocation of the shard serve the new one",
			File: "node/worker.go",
			Orig: "(mode == modeMoved || mode == modeUnallocated || since != m.epoch)",
			Repl: "(mode == modeMoved || mode == modeUnallocated)",
			Run:  "^TestServingCheckedBeforeEveryMessage$", Fast: true,
		}),
		n(Mutation{
			Name: "node/moved-envelopes-dropped", Invariant: nQueued,
			What: "runShard: envelopes queued on a shard that moved are dropped, not forwarded",
			File: "node/worker.go",
			Orig: "if n.redirect(m, owner, e) == fwdFull {",
			Repl: "if _, _ = e, owner; fwdDone == fwdFull {",
			Run:  "^TestPausedOwnerRunsNothingStale$",
		}),
		n(Mutation{
			Name: "node/forward-to-lapsed-owner", Invariant: nQueued,
			What: "forwardDecoded: an envelope is forwarded to an owner whose lease has lapsed",
			File: "node/dispatch.go",
			Orig: "if n.ownerLapsed(owner) {",
			Repl: "if false && n.ownerLapsed(owner) {",
			Run:  "^TestNoForwardToALapsedOwner$",
		}),
		n(Mutation{
			Name: "node/newer-forward-routed-by-older-table", Invariant: nQueued,
			What: "handleRegion: a forward from a newer table is routed by this node's older one",
			File: "node/dispatch.go",
			Orig: "if f.epoch > n.route.Load().epoch && n.loc.parkNewer(",
			Repl: "if false && f.epoch > n.route.Load().epoch && n.loc.parkNewer(",
			Run:  "^TestForwardFromANewerTableWaits$", Fast: true,
		}),
		n(Mutation{
			Name: "node/newer-forward-never-released", Invariant: nQueued,
			What: "resolveLocked: a forward held for a newer table stays held when that table comes",
			File: "node/locate.go",
			Orig: "newer := p.minEpoch > t.epoch",
			Repl: "newer := p.minEpoch > 0",
			Run:  "^TestForwardFromANewerTableWaits$", Fast: true,
		}),
		n(Mutation{
			Name: "node/hop-limit-raised", Invariant: nQueued,
			What: "maxHops 3: an envelope that used its 2 hops is forwarded again",
			File: "node/dispatch.go",
			Orig: "const maxHops = 2\n",
			Repl: "const maxHops = 3\n",
			Run:  "^TestNonOwnerNeverRunsAnEntity$",
		}),
		n(Mutation{
			Name: "node/hops-not-read", Invariant: nQueued,
			What: "fwdOf: the hop count of a forwarded envelope is ignored",
			File: "node/dispatch.go",
			Orig: "f := fwdInfo{hops: int(d - '0')}",
			Repl: "f := fwdInfo{}",
			Run:  "^TestHopsOf$", Fast: true,
		}),
		n(Mutation{
			Name: "node/forward-keeps-hop-count", Invariant: nQueued,
			What: "forwardDecoded: a forward does not add a hop",
			File: "node/dispatch.go",
			Orig: "sender := n.fwdSender[hops] + ",
			Repl: "sender := n.fwdSender[0] + ",
			Run:  "^TestForwardAddsOneHop$", Fast: true,
		}),
		n(Mutation{
			Name: "node/hop-limited-uncounted", Invariant: nQueued,
			What: "forwardDecoded: a hop-limited dead letter is not counted",
			File: "node/dispatch.go",
			Orig: "\t\tn.ctr.hopLimited.Add(1)\n",
			Repl: "\n",
			Run:  "^TestNonOwnerNeverRunsAnEntity$",
		}),

		// --- graceful leave ---------------------------------------------
		n(Mutation{
			Name: "node/leave-without-drain-window", Invariant: nLeave,
			What: "leave: no drain window after the hand-over (returns at once)",
			File: "node/leave.go",
			Orig: "return n.mono()-time.Duration(n.lastRegionMsg.Load()) >= quietPeriod && n.nothingQueued()",
			Repl: "return true",
			Run:  "^TestGracefulLeaveLosesNothing$",
		}),
		n(Mutation{
			Name: "node/hand-over-before-drain", Invariant: nLeave,
			What: "leave: the shards are handed over before the mailboxes drained",
			File: "node/leave.go",
			Orig: "if !n.waitUntil(ctx, func() bool { return n.leaveLeft.Load() <= 0 }) {",
			Repl: "if !n.waitUntil(ctx, func() bool { return true }) {",
			Run:  "^TestLeaveDrainsBeforeHandingOver$",
		}),
		n(Mutation{
			Name: "node/kick-to-running-mailbox-lost", Invariant: nLeave,
			What: "kick: a kick to a mailbox its runner holds is dropped (the leave's drain mark never reaches it)",
			File: "node/mailbox.go",
			Orig: "m.rekick = true // its runner looks again when it ends (endRun)",
			Repl: "// (kick lost)",
			Run:  "^TestLeaveDrainsBeforeHandingOver$",
		}),

		// --- authentication ---------------------------------------------
		n(Mutation{
			Name: "node/hello-mac-unchecked", Invariant: nKeys,
			What: "macMatches accepts any MAC on the consensus port",
			File: "node/clusterport.go",
			Orig: "\treturn ok == 1\n",
			Repl: "\treturn true\n",
			Run:  "^TestConsensusPortHello$", Fast: true,
		}),
		n(Mutation{
			Name: "node/gossip-unverified", Invariant: nKeys,
			What: "memberlist accepts unencrypted gossip in a keyed cluster",
			File: "node/membership.go",
			Orig: "mc.GossipVerifyIncoming = true",
			Repl: "mc.GossipVerifyIncoming = false",
			Run:  "^TestRogueNodeCannotJoin$",
		}),

		// --- partitions -------------------------------------------------
		n(Mutation{
			Name: "node/no-rejoin", Invariant: nPartition,
			What: "rejoinLoop never joins the dead members and seeds again",
			File: "node/membership.go",
			Orig: "addrs := ms.rejoinTargets(time.Now())",
			Repl: "addrs := ms.rejoinTargets(time.Now())[:0]",
			Run:  "^(TestPartitionHeals|TestDataDirRestart)$",
		}),

		// --- bounds and counted drops -----------------------------------
		n(Mutation{
			Name: "node/unsent-forwards-as-bytes", Invariant: nBounds,
			What: "teardown: forwards a member link never sent are counted as bytes, not as dead letters of their shard",
			File: "node/link.go",
			Orig: "n.keepUnsent(pending)",
			Repl: "n.ctr.droppedPeerB.Add(int64(len(pending)))",
			Run:  "^TestUnsentForwardsAreDeadLetters$", Fast: true,
		}),
		n(Mutation{
			Name: "node/mailbox-unbounded", Invariant: nBounds,
			What: "push: a full mailbox takes the message (no pause)",
			File: "node/mailbox.go",
			Orig: "\tif m.count >= m.size {",
			Repl: "\tif m.count >= m.size<<20 {",
			Run:  "^TestFullMailboxPausesTheConnection$",
		}),
		n(Mutation{
			Name: "node/parked-release-unbounded", Invariant: nBounds,
			What: "pushParked: no bound MailboxSize+MaxPendingRequests",
			File: "node/mailbox.go",
			Orig: "\tif m.count >= m.limit {",
			Repl: "\tif m.count >= m.limit<<20 {",
			Run:  "^TestPushParkedBound$", Fast: true,
		}),
		n(Mutation{
			Name: "node/pending-requests-unbounded", Invariant: nBounds,
			What: "parkLocked: no bound MaxPendingRequests on waiting requests",
			File: "node/locate.go",
			Orig: "if len(lc.pending) >= n.cfg.MaxPendingRequests {",
			Repl: "if len(lc.pending) >= n.cfg.MaxPendingRequests<<20 {",
			Run:  "^TestPendingRequestsBound$", Fast: true,
		}),
		n(Mutation{
			Name: "node/subscribers-unbounded", Invariant: nBounds,
			What: "subscribe: no bound MaxSubscribers",
			File: "node/topology.go",
			Orig: "if len(s.subs) >= n.cfg.MaxSubscribers {",
			Repl: "if len(s.subs) >= n.cfg.MaxSubscribers<<20 {",
			Run:  "^TestSubscriberBound$",
		}),
		n(Mutation{
			Name: "node/client-outbound-unbounded", Invariant: nBounds,
			What: "enqueue: a client that does not read is never cut off",
			File: "node/link.go",
			Orig: "} else if len(l.pending)+l.inflight+size > l.n.cfg.OutboundLimit {",
			Repl: "} else if len(l.pending)+l.inflight+size > l.n.cfg.OutboundLimit<<20 {",
			Run:  "^TestBadInput$",
		}),
		n(Mutation{
			Name: "node/peer-outbound-unbounded", Invariant: nBounds,
			What: "enqueue: a member link never refuses (no PeerFull backpressure)",
			File: "node/link.go",
			Orig: "if len(l.pending)+l.inflight+size > min(l.n.cfg.OutboundLimit, l.n.cfg.PeerPendingLimit) {",
			Repl: "if len(l.pending)+l.inflight+size > min(l.n.cfg.OutboundLimit, l.n.cfg.PeerPendingLimit)<<20 {",
			Run:  "^TestPeerLinkBound$", Fast: true,
		}),
		n(Mutation{
			Name: "node/connection-limit-off", Invariant: nBounds,
			What: "admit: no MaxConnections",
			File: "node/budget.go",
			Orig: "if n.ctr.open.Add(1) > int64(n.cfg.MaxConnections) {",
			Repl: "if n.ctr.open.Add(1) > int64(n.cfg.MaxConnections)<<20 {",
			Run:  "^TestMaxConnections$",
		}),
		n(Mutation{
			Name: "node/frame-timeout-off-gnet", Invariant: nBounds,
			What: "expireFrames (gnet): FrameTimeout a million times longer",
			File: "node/link_gnet.go",
			Orig: "limit := int64(n.cfg.FrameTimeout)",
			Repl: "limit := int64(n.cfg.FrameTimeout) << 20",
			Run:  "^TestFrameTimeout$/^gnet$",
		}),
		n(Mutation{
			Name: "node/frame-timeout-off-std", Invariant: nBounds,
			What: "readFrames (std): no frame deadline after the handshake",
			File: "node/link_std.go",
			Orig: "\t\t\t_ = s.nc.SetReadDeadline(time.Time{})\n\t\t\tr.timeout = n.cfg.FrameTimeout",
			Repl: "\t\t\t_ = s.nc.SetReadDeadline(time.Time{})\n\t\t\tr.timeout = 0",
			Run:  "^TestFrameTimeout$/^net$",
		}),
		n(Mutation{
			Name: "node/inbound-budget-off", Invariant: nBounds,
			What: "inboundBudget.Get: no InboundBudget",
			File: "node/budget.go",
			Orig: "if b.held.Add(int64(size)) > b.limit {",
			Repl: "if b.held.Add(int64(size)) > b.limit<<20 {",
			Run:  "^TestInboundBudget$",
		}),
		n(Mutation{
			Name: "node/entity-id-cap-off", Invariant: nBounds,
			What: "handleRegion: no MaxEntityIDLen",
			File: "node/dispatch.go",
			Orig: "if len(id) > n.cfg.MaxEntityIDLen {",
			Repl: "if len(id) > n.cfg.MaxEntityIDLen<<20 {",
			Run:  "^TestMaxEntityIDLen$",
		}),
		n(Mutation{
			Name: "node/entity-limit-off", Invariant: nBounds,
			What: "entityStarting: no MaxEntities",
			File: "node/budget.go",
			Orig: "if n.ctr.entitiesLive.Add(1) <= int64(n.cfg.MaxEntities) {",
			Repl: "if n.ctr.entitiesLive.Add(1) <= int64(n.cfg.MaxEntities)<<20 {",
			Run:  "^TestMaxEntities$",
		}),
		n(Mutation{
			Name: "node/expired-request-uncounted", Invariant: nBounds,
			What: "resolve: an expired waiting request is dropped uncounted",
			File: "node/locate.go",
			Orig: "\t\t\tn.ctr.requestsExpired.Add(1)\n",
			Repl: "\n",
			Run:  "^TestPendingRequestsBound$", Fast: true,
		}),
		n(Mutation{
			Name: "node/local-tell-drop-uncounted", Invariant: nBounds,
			What: "deliverLocal: a local tell to a full mailbox is dropped uncounted",
			File: "node/dispatch.go",
			Orig: "\t\tif !h.box.push(envelope{msg: msg}, nil) {\n\t\t\tn.ctr.mailboxDropped.Add(1)",
			Repl: "\t\tif !h.box.push(envelope{msg: msg}, nil) {\n\t\t\t_ = 0",
			Run:  "^TestLocalTellToFullMailboxCounted$", Fast: true,
		}),

		// --- topology subscriptions -------------------------------------
		n(Mutation{
			Name: "node/closed-subscriber-kept", Invariant: nTopology,
			What: "sweep: a closed connection's subscriber stays",
			File: "node/topology.go",
			Orig: "\t\tif sub.via.isClosed() {",
			Repl: "\t\tif sub.via.isClosed() && false {",
			Run:  "^TestTopologyPushOnChangeAndPeriodic$/^on_change$",
		}),
		n(Mutation{
			Name: "node/no-push-on-change", Invariant: nTopology,
			What: "push: a change waits for the periodic push",
			File: "node/topology.go",
			Orig: "if !s.dirty.Load() && now.Sub(s.lastPush) < s.n.cfg.TopologyPushInterval {",
			Repl: "if now.Sub(s.lastPush) < s.n.cfg.TopologyPushInterval {",
			Run:  "^TestTopologyPushOnChangeAndPeriodic$/^on_change$",
		}),
		n(Mutation{
			Name: "node/no-periodic-push", Invariant: nTopology,
			What: "push: only changes are pushed",
			File: "node/topology.go",
			Orig: "if !s.dirty.Load() && now.Sub(s.lastPush) < s.n.cfg.TopologyPushInterval {",
			Repl: "if !s.dirty.Load() {",
			Run:  "^TestTopologyPushOnChangeAndPeriodic$/^periodic$",
		}),
	}
}

func engineMutations() []Mutation {
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

		// --- bounds and counted drops -----------------------------------
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

		// --- fencing ----------------------------------------------------
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

		// --- replaced only when changed ---------------------------------
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

		// --- fail fast ----------------------------------------------------
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
			Orig: "\t\tne, ok := et.table.Load().Owner(shard)\n",
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

		// --- subscriptions --------------------------------------------------
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

		// --- nothing waits forever -----------------------------------------
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

func connMutations() []Mutation {
	nc := inPackage("internal/netconn")
	gc := inPackage("internal/gnetconn")
	return []Mutation{
		nc(Mutation{
			Name: "netconn/handshake-overreads", Invariant: cHandshake,
			What: "Handshake: reads 4 bytes past the reply frame",
			File: "internal/netconn/dial.go",
			Orig: "body := make([]byte, length-1)",
			Repl: "body := make([]byte, length-1+4)",
			Run:  "^TestHandshakeReadsExactlyTheReply$", Fast: true,
		}),
		nc(Mutation{
			Name: "netconn/state-last-error", Invariant: cState,
			What: "State.SetErr: every error overwrites the first",
			File: "internal/netconn/state.go",
			Orig: "\tif s.failure == nil {\n\t\ts.failure = err",
			Repl: "\tif true {\n\t\ts.failure = err",
			Run:  "^TestStateFirstErrorOnce$", Fast: true,
		}),
		gc(Mutation{
			Name: "gnetconn/rest-of-read-waits", Invariant: gEvery,
			What: "Reader.Read: after the carried frame, the rest of the read waits for the next one",
			File: "internal/gnetconn/reader.go",
			Orig: "\t\t\tr.Carry = false\n\t\t\tcontinue // the rest, in place",
			Repl: "\t\t\tr.Carry = false\n\t\t\treturn false, progress, nil",
			Run:  "^TestReaderEveryFrameOnce$", Fast: true,
		}),
		gc(Mutation{
			Name: "gnetconn/carry-peek-off", Invariant: gCarry,
			What: "Reader.Read: a carried frame is peeked with the whole buffer (Peek(-1))",
			File: "internal/gnetconn/reader.go",
			Orig: "\t\tif r.Carry {",
			Repl: "\t\tif false && r.Carry {",
			Run:  "^TestReaderCarryPeeksOneFrame$", Fast: true,
		}),
	}
}
