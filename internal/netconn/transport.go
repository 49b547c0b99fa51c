package netconn

import (
	"log/slog"
	"net"
)

// Transport turns an established, handshaken client connection into a
// Link: it reads frames and hands each to the connection's Receiver, and
// writes the batches of the connection's writer. Package engine
// re-exports it as engine.Transport; see there for how one is selected.
type Transport interface {
	// Attach takes conn over (it may close it and keep a duplicate)
	// and returns its live link; rx receives what is read.
	Attach(conn net.Conn, rx Receiver) (Link, error)
	// Close stops shared resources; every link is closed before.
	Close()
}

// Link is one live connection.
//
// Buffer ownership: the body passed to Receiver.Frame aliases the
// transport's read buffer and is valid only until Frame returns; anything
// kept is copied. Write's argument may be reused by the caller once Write
// returned.
type Link interface {
	// Write writes p entirely. Called by the connection's writer only.
	Write(p []byte) error
	// Close closes the connection (idempotent); Done is closed once the
	// reading side has stopped.
	Close()
	Done() <-chan struct{}
	// Err is the first error that ended the link (valid after Done).
	Err() error
}

// Receiver is the client's side of one connection, called by its link's
// reading side, from one goroutine at a time.
type Receiver interface {
	// Received records that a read brought bytes (once per read batch),
	// before its frames.
	Received()
	// Frame handles one frame; an error ends the link.
	Frame(typ byte, body []byte) error
	// Handled counts the frames handled since the last call and their
	// bytes (each frame's whole size): once per read batch, after its
	// frames, so that counters other goroutines read cost atomics per
	// batch, not per frame.
	Handled(frames, bytes int)
}

// TransportConfig is what a client hands a transport it creates.
type TransportConfig struct {
	MaxFrameSize int          // the largest frame accepted (wire.ParseFrame's maxFrame)
	Logger       *slog.Logger // never nil
}
