package mutant

// List returns every mutation of the gate, node's first, in the order of
// the Invariants bullets they break. Adding an invariant to a package's
// doc.go means adding its mutation here (TestEveryInvariantHasAMutation).
func List() []Mutation {
	return append(append(append(append(append(nodeMutations(), engineMutations()...), connMutations()...), castyjsonMutations()...), zhbinMutations()...), zhbinLinkMutations()...)
}

// Invariant bullets of node/doc.go, as they start.
const (
	nOwner     = "No entity runs on a node that is not its shard's owner"
	nTwo       = "At no instant do two nodes serve one shard"
	nQuorum    = "No allocation without a quorum"
	nTypes     = "An entity type has one shard count and one shard hash in the cluster"
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
	eMisconfig = "A misconfigured entity type never routes"
	eHash      = "A type is routed with the shard hash the cluster announced"
	eSubscribe = "The client keeps a topology subscription on every member"
	eWaits     = "Nothing waits forever"
	eObserve   = "Observability never blocks the client"
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
			Name: "netconn/handshake-unbounded", Invariant: cHandshake,
			What: "Handshake: a reply up to 1024 x MaxHandshakeFrame is read",
			File: "internal/netconn/dial.go",
			Orig: "length == 0 || length > MaxHandshakeFrame || hdr[4]",
			Repl: "length == 0 || length > MaxHandshakeFrame*1024 || hdr[4]",
			Run:  "^TestHandshakeReplyTooLarge$", Fast: true,
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
