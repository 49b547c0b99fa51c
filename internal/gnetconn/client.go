package gnetconn

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/zerohop/zerohop/internal/netconn"
)

// Client is a client transport (netconn.Transport) that reads every
// connection of a client from one gnet v2 client event loop: inbound bytes
// are parsed in place in gnet's buffers (no reader goroutine per
// connection), with the carry peek (Reader). Writes are issued by each
// connection's writer as one gnet AsyncWrite per drained batch; the writer
// waits for the loop to have written (or buffered) the batch before it
// reuses it. Plaintext only.
//
// Allocation note: gnet's cross-goroutine AsyncWrite allocates a task
// hook and a queue node per call, i.e. per batch, not per message.
//
// Safe for concurrent use; not copyable.
type Client struct {
	cli *gnet.Client
}

type clientHandler struct {
	gnet.BuiltinEventEngine
	maxFrame int
}

// NewClient starts a client event loop (one goroutine set of gnet's, until
// Close). Its signature is that of an engine transport factory.
func NewClient(cfg netconn.TransportConfig) (netconn.Transport, error) {
	h := &clientHandler{maxFrame: cfg.MaxFrameSize}
	cli, err := gnet.NewClient(h,
		gnet.WithMulticore(false),
		gnet.WithNumEventLoop(1),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(64<<10),
		gnet.WithLogger(Logger{cfg.Logger}),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: gnet client: %w", err)
	}
	if err := cli.Start(); err != nil {
		return nil, fmt.Errorf("engine: gnet client start: %w", err)
	}
	return &Client{cli: cli}, nil
}

// Attach enrolls conn in the event loop (gnet closes conn and keeps a
// duplicate of its descriptor).
func (t *Client) Attach(conn net.Conn, rx netconn.Receiver) (netconn.Link, error) {
	l := &clientLink{rx: rx, wres: make(chan writeResult, 1)}
	l.Init()
	l.cb = l.written
	gc, err := t.cli.EnrollContext(conn, l)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("engine: gnet enroll: %w", err)
	}
	l.gc = gc
	return l, nil
}

// Close stops the event loop.
func (t *Client) Close() { _ = t.cli.Stop() }

type writeResult struct {
	err      error
	buffered int // bytes gnet still holds for the socket
}

type clientLink struct {
	netconn.State
	rx   netconn.Receiver
	gc   gnet.Conn
	cb   gnet.AsyncCallback // l.written, bound once
	wres chan writeResult
	rd   Reader // owned by the event loop
}

// backpressure: when gnet holds more than this for the socket, the
// writer waits for it to drain before sending more (gnet's outbound buffer
// is otherwise unbounded).
const backpressure = 4 << 20

func (l *clientLink) Write(p []byte) error {
	if err := l.gc.AsyncWrite(p, l.cb); err != nil {
		l.SetErr(err)
		return err
	}
	var r writeResult
	select {
	case r = <-l.wres:
	case <-l.Done():
		return l.Err()
	}
	if r.err != nil {
		l.SetErr(r.err)
		return r.err
	}
	for r.buffered > backpressure {
		select {
		case <-l.Done():
			return l.Err()
		case <-time.After(time.Millisecond):
		}
		if err := l.gc.AsyncWrite(nil, l.cb); err != nil {
			return err
		}
		select {
		case r = <-l.wres:
		case <-l.Done():
			return l.Err()
		}
	}
	return nil
}

// written runs on the event loop after gnet wrote (or buffered) a batch.
func (l *clientLink) written(c gnet.Conn, err error) error {
	r := writeResult{err: err}
	if c != nil && err == nil {
		r.buffered = c.OutboundBuffered()
	}
	select {
	case l.wres <- r:
	default:
	}
	return nil
}

func (l *clientLink) Close() {
	if l.gc != nil {
		_ = l.gc.Close()
	}
}

// OnTraffic parses every complete frame in gnet's inbound buffer in place
// (Reader).
func (h *clientHandler) OnTraffic(gc gnet.Conn) gnet.Action {
	l, _ := gc.Context().(*clientLink)
	if l == nil {
		return gnet.Close
	}
	l.rx.Received() // once per batch
	var ferr error
	frames, bytes := 0, 0
	_, _, err := l.rd.Read(gc, h.maxFrame, func(typ byte, body []byte, size int) bool {
		frames++
		bytes += size
		ferr = l.rx.Frame(typ, body)
		return ferr == nil
	})
	if frames > 0 {
		l.rx.Handled(frames, bytes) // once per batch
	}
	if err == nil {
		err = ferr
	}
	if err != nil {
		l.SetErr(err)
		return gnet.Close
	}
	return gnet.None
}

// OnClose ends the link.
func (h *clientHandler) OnClose(gc gnet.Conn, err error) gnet.Action {
	if l, _ := gc.Context().(*clientLink); l != nil {
		if err == nil {
			err = io.EOF
		}
		l.SetErr(err)
		l.Finish()
	}
	return gnet.None
}
