package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/zerohop/zerohop/wire"
)

// gnetTransport reads every connection of the client from one gnet v2
// client event loop: inbound bytes are parsed in place in gnet's buffers
// (no reader goroutine per connection). Writes are issued by each
// connection's writer as one gnet AsyncWrite per drained batch; the writer
// waits for the loop to have written (or buffered) the batch before it
// reuses it. Plaintext only.
//
// Allocation note: gnet's cross-goroutine AsyncWrite allocates a task
// hook and a queue node per call, i.e. per batch, not per message.
type gnetTransport struct {
	c   *Client
	cli *gnet.Client
}

type gnetHandler struct {
	gnet.BuiltinEventEngine
	c *Client
}

func newGnetTransport(c *Client) (*gnetTransport, error) {
	h := &gnetHandler{c: c}
	cli, err := gnet.NewClient(h,
		gnet.WithMulticore(false),
		gnet.WithNumEventLoop(1),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(64<<10),
		gnet.WithLogger(gnetLogger{c.log}),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: gnet client: %w", err)
	}
	if err := cli.Start(); err != nil {
		return nil, fmt.Errorf("engine: gnet client start: %w", err)
	}
	return &gnetTransport{c: c, cli: cli}, nil
}

func (t *gnetTransport) attach(nc *nodeConn, conn net.Conn) (link, error) {
	l := &gnetLink{nc: nc, wres: make(chan gnetWriteResult, 1)}
	l.init()
	l.cb = l.written
	gc, err := t.cli.EnrollContext(conn, l) // closes conn; gnet owns a dup
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("engine: gnet enroll: %w", err)
	}
	l.gc = gc
	return l, nil
}

func (t *gnetTransport) close() {
	_ = t.cli.Stop()
}

type gnetWriteResult struct {
	err      error
	buffered int // bytes gnet still holds for the socket
}

type gnetLink struct {
	linkState
	nc   *nodeConn
	gc   gnet.Conn
	cb   gnet.AsyncCallback // l.written, bound once
	wres chan gnetWriteResult
}

// gnetBackpressure: when gnet holds more than this for the socket, the
// writer waits for it to drain before sending more (gnet's outbound buffer
// is otherwise unbounded).
const gnetBackpressure = 4 << 20

func (l *gnetLink) write(p []byte) error {
	if err := l.gc.AsyncWrite(p, l.cb); err != nil {
		l.setErr(err)
		return err
	}
	var r gnetWriteResult
	select {
	case r = <-l.wres:
	case <-l.done():
		return l.err()
	}
	if r.err != nil {
		l.setErr(r.err)
		return r.err
	}
	for r.buffered > gnetBackpressure {
		select {
		case <-l.done():
			return l.err()
		case <-time.After(time.Millisecond):
		}
		if err := l.gc.AsyncWrite(nil, l.cb); err != nil {
			return err
		}
		select {
		case r = <-l.wres:
		case <-l.done():
			return l.err()
		}
	}
	return nil
}

// written runs on the event loop after gnet wrote (or buffered) a batch.
func (l *gnetLink) written(c gnet.Conn, err error) error {
	r := gnetWriteResult{err: err}
	if c != nil && err == nil {
		r.buffered = c.OutboundBuffered()
	}
	select {
	case l.wres <- r:
	default:
	}
	return nil
}

func (l *gnetLink) close() {
	if l.gc != nil {
		_ = l.gc.Close()
	}
}

// OnTraffic parses every complete frame in gnet's inbound buffer in place.
func (h *gnetHandler) OnTraffic(gc gnet.Conn) gnet.Action {
	l, _ := gc.Context().(*gnetLink)
	if l == nil {
		return gnet.Close
	}
	c := h.c
	l.nc.received() // once per batch
	buf, _ := gc.Peek(-1)
	off := 0
	for {
		typ, body, n, err := wire.ParseFrame(buf[off:], c.cfg.MaxFrameSize)
		if err != nil {
			l.setErr(err)
			return gnet.Close
		}
		if n == 0 {
			break
		}
		off += n
		if err := c.onFrame(l.nc, typ, body); err != nil {
			l.setErr(err)
			return gnet.Close
		}
	}
	if off > 0 {
		_, _ = gc.Discard(off)
	}
	return gnet.None
}

// OnClose ends the link.
func (h *gnetHandler) OnClose(gc gnet.Conn, err error) gnet.Action {
	if l, _ := gc.Context().(*gnetLink); l != nil {
		if err == nil {
			err = io.EOF
		}
		l.setErr(err)
		l.finish()
	}
	return gnet.None
}

// gnetLogger routes gnet's logging to the client's logger (gnet's info
// chatter at debug level).
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) { g.log(slog.LevelDebug, format, args) }
func (g gnetLogger) Infof(format string, args ...any)  { g.log(slog.LevelDebug, format, args) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.log(slog.LevelWarn, format, args) }
func (g gnetLogger) Errorf(format string, args ...any) { g.log(slog.LevelError, format, args) }
func (g gnetLogger) Fatalf(format string, args ...any) { g.log(slog.LevelError, format, args) }

func (g gnetLogger) log(level slog.Level, format string, args []any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, "gnet: "+fmt.Sprintf(format, args...))
	}
}
