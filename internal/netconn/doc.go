// Package netconn is the connection code the client (engine) and the node
// share, and which links nothing but the standard library and wire: the
// outbound dial (TCP, TCP_NODELAY, the TLS client handshake), the Casty
// handshake exchange of a connecting side, the "zerohop" handshake
// extension both sides announce, the teardown record of a link (State),
// and the interfaces a client transport implements (Transport, Link,
// Receiver; package engine re-exports them).
//
// The gnet pieces (event-loop frame reader with the carry peek, logger,
// client transport) live in internal/gnetconn, so that a package that
// imports netconn links no gnet.
//
// # Invariants
//
//   - Handshake reads exactly the reply frame (io.ReadFull of its header
//     and body, at most MaxHandshakeFrame): no byte after it is consumed,
//     so the caller's frame reader starts at the next frame. A reply that
//     announces more is refused unread (ErrHandshakeTooLarge).
//   - A State records the first error only and closes Done exactly once.
//
// Handshake names the cause of a failed exchange: a peer that does not
// answer with a Casty handshake frame (*NotCastyError, quoting its first
// bytes), a zerohop node's refusal (*RefusedError), a close without a
// reply (*ClosedError). HandshakeProbing also spots an HTTP server, which
// waits for a line end our handshake never sends, by a second connection
// after ProbeAfter without a reply byte.
//
// Dial returns a connection with TCP_NODELAY set (when TCP) and, with a
// TLS config, a completed TLS handshake; on error nothing is left open.
//
// # Concurrency
//
// The functions are safe for concurrent use; a State is safe
// for concurrent use and must not be copied after first use.
package netconn
