package mutant

// nodeMutations returns the mutations of node/doc.go, grouped as its
// Invariants bullets are.
func nodeMutations() []Mutation {
	var all []Mutation
	for _, part := range [][]Mutation{
		nodeOwnerOnly(),
		nodeNoTwoOwners(),
		nodeQuorumAndCompareAndSet(),
		nodeTypeAgreement(),
		nodeEpochs(),
		nodeQueuedOfMovedShard(),
		nodeGracefulLeave(),
		nodeAuthentication(),
		nodePartitions(),
		nodeBoundsAndCountedDrops(),
		nodeBoundsAgainstPeers(),
		nodeTopologySubscriptions(),
	} {
		all = append(all, part...)
	}
	return all
}

// nodeOwnerOnly: an entity runs only on its owner, under a lease.
func nodeOwnerOnly() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
			Orig: "\t\tnow < n.lease.until.Load()\n}",
			Repl: "\t\ttrue\n}",
			Run:  "^TestServingCheckedBeforeEveryMessage$", Fast: true,
		}),
	}
}

// nodeNoTwoOwners: no two owners: the lease judgement.
func nodeNoTwoOwners() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
			Orig: "at := max(s.at, time.Duration(n.cons.Load().expiryFloor.Load()))",
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
	}
}

// nodeTypeAgreement: one shard count and one hash per type.
func nodeTypeAgreement() []Mutation {
	n := inPackage("node")
	return []Mutation{
		n(Mutation{
			Name: "node/first-hash-not-kept", Invariant: nTypes,
			What: "applyLocked: the first registration's hash is not recorded (every type counts as MD5)",
			File: "node/fsm.go",
			Orig: "st.Hashes[t.Name] = h",
			Repl: "_ = h",
			Run:  "^TestFSMHashDisagreementHostsNothing$", Fast: true,
		}),
		n(Mutation{
			Name: "node/hash-disagreement-hosts", Invariant: nTypes,
			What: "applyLocked: a node whose hash for a type differs from the registered one hosts it",
			File: "node/fsm.go",
			Orig: "if st.Types[t.Name] == t.Shards && st.Hashes[t.Name] == h {",
			Repl: "if st.Types[t.Name] == t.Shards {",
			Run:  "^(TestFSMHashDisagreementHostsNothing|TestHashDisagreementHostsNothing)$",
		}),
		n(Mutation{
			Name: "node/count-disagreement-hosts", Invariant: nTypes,
			What: "applyLocked: a node whose shard count for a type differs from the registered one hosts it",
			File: "node/fsm.go",
			Orig: "if st.Types[t.Name] == t.Shards && st.Hashes[t.Name] == h {",
			Repl: "if st.Hashes[t.Name] == h {",
			Run:  "^TestFSMRefusesIneligibleOwners$", Fast: true,
		}),
	}
}

// nodeQuorumAndCompareAndSet: quorum and compare-and-set.
func nodeQuorumAndCompareAndSet() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
	}
}

// nodeEpochs: epochs.
func nodeEpochs() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
	}
}

// nodeQueuedOfMovedShard: queued envelopes of a moved shard.
func nodeQueuedOfMovedShard() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
			Name: "node/forward-by-route-behind-table", Invariant: nQueued,
			What: "behindTable: a mailbox forwards by a route older than the table its replica applied",
			File: "node/worker.go",
			Orig: "if (mode == modeMoved || mode == modeUnallocated) && n.table().epoch > rt.epoch {",
			Repl: "if false && (mode == modeMoved || mode == modeUnallocated) && n.table().epoch > rt.epoch {",
			Run:  "^TestNoForwardByARouteBehindTheTable$", Fast: true,
		}),
		n(Mutation{
			Name: "node/forward-stamped-with-route-epoch", Invariant: nQueued,
			What: "fwdEpoch: a forward carries the route's epoch, older than the applied table's inside onTable",
			File: "node/dispatch.go",
			Orig: "return max(n.route.Load().epoch, n.table().epoch)",
			Repl: "return n.route.Load().epoch",
			Run:  "^TestNoForwardByARouteBehindTheTable$", Fast: true,
		}),
		n(Mutation{
			Name: "node/forward-received-by-route-behind-table", Invariant: nQueued,
			What: "handleRegion: a forward received while the route is behind the applied table is routed by that route",
			File: "node/dispatch.go",
			Orig: "f.epoch = max(f.epoch, n.table().epoch)",
			Repl: "_ = n.table().epoch",
			Run:  "^TestNoForwardByARouteBehindTheTable$", Fast: true,
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
	}
}

// nodeGracefulLeave: graceful leave.
func nodeGracefulLeave() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
	}
}

// nodeAuthentication: authentication.
func nodeAuthentication() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
	}
}

// nodePartitions: partitions.
func nodePartitions() []Mutation {
	n := inPackage("node")
	return []Mutation{
		n(Mutation{
			Name: "node/no-rejoin", Invariant: nPartition,
			What: "rejoinLoop never joins the dead members and seeds again",
			File: "node/membership.go",
			Orig: "addrs := ms.rejoinTargets(time.Now())",
			Repl: "addrs := ms.rejoinTargets(time.Now())[:0]",
			Run:  "^(TestPartitionHeals|TestDataDirRestart)$",
		}),
	}
}

// nodeBoundsAndCountedDrops: bounded queues.
func nodeBoundsAndCountedDrops() []Mutation {
	n := inPackage("node")
	return []Mutation{
		n(Mutation{
			Name: "node/unsent-forwards-as-bytes", Invariant: nBounds,
			What: "teardown: forwards a member link never sent are counted as bytes, not as dead letters of their shard",
			File: "node/link.go",
			Orig: "n.keepUnsent(pending)",
			Repl: "n.ctr.droppedPeerB.Add(int64(len(pending)))",
			Run:  "^TestUnsentForwardsAreDeadLetters$", Fast: true,
		}),
		n(Mutation{
			Name: "node/unsent-forwards-never-rerouted", Invariant: nBounds,
			What: "housekeeping: a forward a failed member link never sent is a dead letter (not routed again)",
			File: "node/unsent.go",
			Orig: "n.routeAgain(r, shard, entityID, msg, hops)",
			Repl: "_ = hops; n.deadLetter(DeadLetter{Type: r.typ.Name, Shard: shard, EntityID: entityID, Msg: msg, Reason: wire.ReasonStaleOwner})",
			Run:  "^TestUnsentForwardsAreRoutedAgain$", Fast: true,
		}),
		n(Mutation{
			Name: "node/unsent-hop-spent-before-owner", Invariant: nBounds,
			What: "housekeeping: an unsent forward with no hop left is a dead letter although this node owns its shard now",
			File: "node/unsent.go",
			Orig: "hops := fwdOf(h.Sender).hops // this node's forward: the hops after it",
			Repl: "hops := fwdOf(h.Sender).hops; if hops >= maxHops { n.deadLetter(DeadLetter{Type: r.typ.Name, Shard: shard, EntityID: entityID, Msg: msg, Reason: wire.ReasonStaleOwner}); return true }",
			Run:  "^TestUnsentForwardsAreRoutedAgain$",
		}),
		n(Mutation{
			Name: "node/socket-recv-buffer-ignored-by-net", Invariant: nBounds,
			What: "accept (TransportNet, TLS): Config.SocketRecvBuffer is not set on accepted connections",
			File: "node/link_std.go",
			Orig: "\t\tn.setRecvBuffer(c)\n",
			Repl: "\t\t_ = n.setRecvBuffer\n",
			Run:  "^TestSocketRecvBuffer$",
		}),
		n(Mutation{
			Name: "node/socket-recv-buffer-ignored-by-gnet", Invariant: nBounds,
			What: "gnet listener: Config.SocketRecvBuffer is not set, so accepted sockets keep the kernel's buffer",
			File: "node/node.go",
			Orig: "gnet.WithSocketRecvBuffer(n.cfg.SocketRecvBuffer),",
			Repl: "gnet.WithSocketRecvBuffer(0),",
			Run:  "^TestSocketRecvBuffer$",
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
	}
}

// nodeBoundsAgainstPeers: the limits any peer meets, and counted drops.
func nodeBoundsAgainstPeers() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
	}
}

// nodeTopologySubscriptions: topology subscriptions.
func nodeTopologySubscriptions() []Mutation {
	n := inPackage("node")
	return []Mutation{
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
