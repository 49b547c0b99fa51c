package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Ceiling defaults; each applies when the matching CeilingConfig field is zero.
const (
	DefaultCeilingFrameSize  = 64
	DefaultCeilingBatchBytes = 64 << 10
	DefaultCeilingReadBuffer = 256 << 10
	DefaultCeilingDuration   = 5 * time.Second

	// ceilingHeaderLen is Casty's frame header: u32 big-endian length
	// (counting the type byte and the body) followed by the type byte.
	ceilingHeaderLen = 5
	// ceilingFrameType is Casty's message frame type.
	ceilingFrameType = 0x01
)

// CeilingConfig parameterises one ceiling run. The zero value of every field
// means its documented default. It is a plain value; Ceiling copies it.
type CeilingConfig struct {
	// FrameSize is the size of one frame on the wire, header included
	// (default 64, minimum 5: a header with an empty body).
	FrameSize int
	// BatchBytes is the size of one write call; it is rounded down to a whole
	// number of frames, at least one (default 64 KiB).
	BatchBytes int
	// ReadBuffer is the reader's buffer size (default 256 KiB); it must hold
	// at least one frame.
	ReadBuffer int
	// Duration is how long the writer writes (default 5 s).
	Duration time.Duration
}

// Validate reports every bad field at once.
func (c CeilingConfig) Validate() error {
	var errs []string
	if c.FrameSize != 0 && c.FrameSize < ceilingHeaderLen {
		errs = append(errs, fmt.Sprintf("FrameSize %d below the %d-byte header", c.FrameSize, ceilingHeaderLen))
	}
	if c.BatchBytes < 0 {
		errs = append(errs, fmt.Sprintf("BatchBytes %d is negative", c.BatchBytes))
	}
	if c.ReadBuffer < 0 {
		errs = append(errs, fmt.Sprintf("ReadBuffer %d is negative", c.ReadBuffer))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Sprintf("Duration %v is negative", c.Duration))
	}
	fs := c.FrameSize
	if fs == 0 {
		fs = DefaultCeilingFrameSize
	}
	if c.ReadBuffer > 0 && c.ReadBuffer < fs {
		errs = append(errs, fmt.Sprintf("ReadBuffer %d smaller than FrameSize %d", c.ReadBuffer, fs))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("bench: invalid CeilingConfig: %s", strings.Join(errs, "; "))
}

func (c *CeilingConfig) ensureDefaults() {
	if c.FrameSize == 0 {
		c.FrameSize = DefaultCeilingFrameSize
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultCeilingBatchBytes
	}
	if c.ReadBuffer == 0 {
		c.ReadBuffer = DefaultCeilingReadBuffer
	}
	if c.Duration == 0 {
		c.Duration = DefaultCeilingDuration
	}
}

// CeilingResult is what one ceiling run measured. JSON keys are stable; the
// load generator and PERFORMANCE.md use them.
type CeilingResult struct {
	FrameSize    int     `json:"frame_size"`
	BatchFrames  int     `json:"batch_frames"`
	Frames       int64   `json:"frames"`
	Bytes        int64   `json:"bytes"`
	Writes       int64   `json:"writes"`
	Reads        int64   `json:"reads"`
	Seconds      float64 `json:"duration_s"`
	FramesPerSec float64 `json:"frames_per_sec"`
	MBPerSec     float64 `json:"mb_per_sec"` // 10^6 bytes per second
}

// ErrCeilingShort reports that the reader counted fewer frames than the
// writer wrote: the connection lost or corrupted data, so the run is void.
var ErrCeilingShort = errors.New("bench: ceiling reader counted fewer frames than written")

// Ceiling measures the raw loopback frame rate: one TCP connection on
// 127.0.0.1, one writer goroutine encoding cfg.FrameSize-byte frames in
// Casty's framing into a batch buffer and writing it with one call per
// batch, for cfg.Duration, and one reader goroutine parsing every frame
// header and counting frames until EOF. The rate is frames counted divided by
// the time from the first write to the reader's EOF, so bytes still in the
// socket buffers when the writer stops are counted with the time they took.
//
// Ceiling blocks until the run ends or ctx is done (then it returns ctx's
// error); both goroutines have exited when it returns.
func Ceiling(ctx context.Context, cfg CeilingConfig) (CeilingResult, error) {
	if err := cfg.Validate(); err != nil {
		return CeilingResult{}, err
	}
	cfg.ensureDefaults()

	wc, rc, err := loopbackPair(ctx)
	if err != nil {
		return CeilingResult{}, fmt.Errorf("bench: ceiling: %w", err)
	}
	defer wc.Close()
	defer rc.Close()

	// Closing both ends unblocks both goroutines when ctx ends early.
	stop := context.AfterFunc(ctx, func() {
		wc.Close()
		rc.Close()
	})
	defer stop()

	batchFrames := cfg.BatchBytes / cfg.FrameSize
	if batchFrames < 1 {
		batchFrames = 1
	}
	res := CeilingResult{FrameSize: cfg.FrameSize, BatchFrames: batchFrames}

	var (
		wg sync.WaitGroup
		w  ceilingWriteResult
		r  ceilingReadResult
	)
	start := time.Now()
	wg.Add(2)
	go func() { // writer
		defer wg.Done()
		w = ceilingWrite(wc, cfg, batchFrames, start.Add(cfg.Duration))
	}()
	go func() { // reader
		defer wg.Done()
		r = ceilingRead(rc, cfg)
	}()
	wg.Wait()

	if err := ctx.Err(); err != nil {
		return CeilingResult{}, err
	}
	if w.err != nil {
		return CeilingResult{}, fmt.Errorf("bench: ceiling writer: %w", w.err)
	}
	if r.err != nil {
		return CeilingResult{}, r.err
	}
	readFrames, readBytes := r.frames, r.bytes
	if readFrames != w.frames {
		return CeilingResult{}, fmt.Errorf("%w: wrote %d, counted %d", ErrCeilingShort, w.frames, readFrames)
	}
	elapsed := r.end.Sub(start).Seconds()
	res.Frames = readFrames
	res.Bytes = readBytes
	res.Writes = w.writes
	res.Reads = r.reads
	res.Seconds = elapsed
	if elapsed > 0 {
		res.FramesPerSec = float64(readFrames) / elapsed
		res.MBPerSec = float64(readBytes) / elapsed / 1e6
	}
	return res, nil
}

// ceilingWriteResult is what the writer of a Ceiling run did.
type ceilingWriteResult struct {
	frames, writes int64
	err            error
}

// ceilingWrite writes batches of batchFrames frames, encoded afresh each
// time as a real writer would, until deadline, then closes its half of wc.
func ceilingWrite(wc net.Conn, cfg CeilingConfig, batchFrames int, deadline time.Time) (res ceilingWriteResult) {
	body := make([]byte, cfg.FrameSize-ceilingHeaderLen)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	buf := make([]byte, 0, batchFrames*cfg.FrameSize)
	for {
		buf = buf[:0]
		for range batchFrames {
			buf = binary.BigEndian.AppendUint32(buf, uint32(cfg.FrameSize-4))
			buf = append(buf, ceilingFrameType)
			buf = append(buf, body...)
		}
		if _, err := wc.Write(buf); err != nil {
			res.err = err
			return res
		}
		res.frames += int64(batchFrames)
		res.writes++
		if res.writes&15 == 0 && !time.Now().Before(deadline) {
			break
		}
	}
	if tc, ok := wc.(*net.TCPConn); ok {
		res.err = tc.CloseWrite()
	} else {
		res.err = wc.Close()
	}
	return res
}

// ceilingReadResult is what the reader of a Ceiling run counted.
type ceilingReadResult struct {
	frames, bytes, reads int64
	end                  time.Time // when EOF was read
	err                  error
}

// ceilingRead parses and counts every frame on rc until EOF.
func ceilingRead(rc net.Conn, cfg CeilingConfig) (res ceilingReadResult) {
	buf := make([]byte, cfg.ReadBuffer)
	have := 0
	for {
		n, err := rc.Read(buf[have:])
		if n > 0 {
			res.reads++
			res.bytes += int64(n)
			have += n
			p := buf[:have]
			for len(p) >= ceilingHeaderLen {
				l := int(binary.BigEndian.Uint32(p))
				if l+4 > len(p) {
					break
				}
				if l+4 != cfg.FrameSize || p[4] != ceilingFrameType {
					res.err = fmt.Errorf("bench: ceiling reader: bad frame (length %d, type %#x)", l, p[4])
					return res
				}
				res.frames++
				p = p[l+4:]
			}
			have = copy(buf, p)
		}
		if err == io.EOF {
			res.end = time.Now()
			return res
		}
		if err != nil {
			res.err = err
			return res
		}
	}
}

// Echo servers for RoundTrip (EchoProcess: RoundTripOver).
const (
	// EchoGoroutine answers from a goroutine reading and writing the
	// connection: Go's network poller, as the net transports use.
	EchoGoroutine = "goroutine"
	// EchoProcess answers from ServeEcho in another process: the floor
	// under a request between two processes (cmd/ceiling runs the echo
	// as a child of its own; RoundTripOver measures it).
	EchoProcess = "process"
	// EchoGnet answers from a gnet v2 event loop (OnTraffic writes back what
	// it read): a thread blocked in its own epoll_wait, outside the Go
	// scheduler, as the gnet transports use.
	EchoGnet = "gnet"
)

// RoundTripResult is what one RoundTrip run measured.
type RoundTripResult struct {
	Echo   string        `json:"echo"`
	Count  int           `json:"count"`
	P50    time.Duration `json:"p50_ns"`
	P90    time.Duration `json:"p90_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
	PerSec float64       `json:"round_trips_per_sec"`
}

// RoundTrip measures the raw loopback round trip that an ask can never beat:
// count times, one goroutine writes one 64-byte frame in Casty's framing on
// a TCP connection on 127.0.0.1 and waits for the echo server (EchoGoroutine
// or EchoGnet) to write it back (no zerohop code). It returns the latency
// percentiles. Everything it started has stopped when it returns.
func RoundTrip(ctx context.Context, count int, echo string) (RoundTripResult, error) {
	if count < 1 {
		return RoundTripResult{}, fmt.Errorf("bench: RoundTrip count %d < 1", count)
	}
	if echo != EchoGoroutine && echo != EchoGnet {
		return RoundTripResult{}, fmt.Errorf("bench: RoundTrip echo %q: want %q or %q", echo, EchoGoroutine, EchoGnet)
	}
	cc, ec, err := loopbackPair(ctx)
	if err != nil {
		return RoundTripResult{}, fmt.Errorf("bench: round trip: %w", err)
	}
	defer cc.Close()
	defer ec.Close()
	stop := context.AfterFunc(ctx, func() {
		cc.Close()
		ec.Close()
	})
	defer stop()

	var wg sync.WaitGroup
	if echo == EchoGnet {
		cli, err := gnet.NewClient(&gnetEcho{}, gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogger(gnetQuiet{}))
		if err != nil {
			return RoundTripResult{}, fmt.Errorf("bench: gnet echo: %w", err)
		}
		if err := cli.Start(); err != nil {
			return RoundTripResult{}, fmt.Errorf("bench: gnet echo: %w", err)
		}
		defer func() { _ = cli.Stop() }()
		if _, err := cli.Enroll(ec); err != nil { // gnet serves a dup of ec's socket
			return RoundTripResult{}, fmt.Errorf("bench: gnet echo: %w", err)
		}
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			echoFrames(ec)
		}()
	}
	r, rerr := roundTrips(cc, count, echo)
	cc.Close()
	ec.Close()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return RoundTripResult{}, err
	}
	return r, rerr
}

// RoundTripOver is RoundTrip over c, a connection to an echo that the
// caller runs (ServeEcho: EchoProcess runs it in another process); echo
// names it in the result. It does not close c.
func RoundTripOver(ctx context.Context, c net.Conn, count int, echo string) (RoundTripResult, error) {
	return RoundTripHandoff(ctx, c, count, echo, HandoffNone)
}

// Hand-offs for RoundTripHandoff: which side of the requesting client
// runs on a goroutine of its own, as a client with a writer or a reader
// goroutine per connection does (zerohop's, nats.go's).
const (
	HandoffNone   = ""       // the requesting goroutine writes and reads
	HandoffWriter = "writer" // it hands each frame to a writer goroutine over a channel
	HandoffReader = "reader" // a reader goroutine hands it each echo over a channel
	HandoffBoth   = "both"
)

// RoundTripHandoff is RoundTripOver with the client's hand-offs: with
// HandoffWriter the frame is written by a writer goroutine the requester
// wakes through a channel, with HandoffReader the echo is read by a reader
// goroutine that wakes the requester through a channel, with HandoffBoth
// both. Each hand-off makes a goroutine runnable while the requester's P
// may be the only busy one, so the Go runtime may wake another thread for
// it (PERFORMANCE.md, "The lone ask and the placement of two processes",
// measures what that costs between two processes). Its goroutines have
// stopped when it returns; it does not close c.
func RoundTripHandoff(ctx context.Context, c net.Conn, count int, echo, handoff string) (RoundTripResult, error) {
	if count < 1 {
		return RoundTripResult{}, fmt.Errorf("bench: RoundTrip count %d < 1", count)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	var r RoundTripResult
	var err error
	switch handoff {
	case HandoffNone:
		r, err = roundTrips(c, count, echo)
	case HandoffWriter, HandoffReader, HandoffBoth:
		r, err = handoffRoundTrips(c, count, echo, handoff)
	default:
		return RoundTripResult{}, fmt.Errorf("bench: hand-off %q: want none, %q, %q or %q", handoff, HandoffWriter, HandoffReader, HandoffBoth)
	}
	if cerr := ctx.Err(); cerr != nil {
		return RoundTripResult{}, cerr
	}
	return r, err
}

// roundTrips writes one frame and reads its echo back, count times in a
// row, and returns the latency percentiles.
func roundTrips(c net.Conn, count int, echo string) (RoundTripResult, error) {
	frame := echoFrame()
	in := make([]byte, len(frame))
	return timeRoundTrips(count, echo, func() error {
		if _, err := c.Write(frame); err != nil {
			return err
		}
		_, err := io.ReadFull(c, in)
		return err
	})
}

// handoffRoundTrips is roundTrips with a writer goroutine, a reader
// goroutine or both between the requester and c (RoundTripHandoff).
func handoffRoundTrips(c net.Conn, count int, echo, handoff string) (RoundTripResult, error) {
	frame := echoFrame()
	in := make([]byte, len(frame))
	viaWriter := handoff == HandoffWriter || handoff == HandoffBoth
	viaReader := handoff == HandoffReader || handoff == HandoffBoth
	var wg sync.WaitGroup
	writes := make(chan struct{})
	written := make(chan error, 1)
	echoed := make(chan error, 1)
	if viaWriter {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range writes {
				if _, err := c.Write(frame); err != nil {
					written <- err // the only send: never blocks
					return
				}
			}
		}()
	}
	if viaReader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(echoed)
			for {
				_, err := io.ReadFull(c, in)
				echoed <- err
				if err != nil {
					return
				}
			}
		}()
	}
	r, err := timeRoundTrips(count, echo+"+"+handoff+" hand-off", func() error {
		if viaWriter {
			select {
			case writes <- struct{}{}:
			case err := <-written:
				return err
			}
		} else if _, err := c.Write(frame); err != nil {
			return err
		}
		if viaReader {
			return <-echoed
		}
		_, err := io.ReadFull(c, in)
		return err
	})
	close(writes)
	if viaReader {
		_ = c.SetReadDeadline(time.Now()) // the reader's last read returns
		for range echoed {
		}
		_ = c.SetReadDeadline(time.Time{})
	}
	wg.Wait()
	return r, err
}

// echoFrame is one DefaultCeilingFrameSize frame in Casty's framing.
func echoFrame() []byte {
	frame := make([]byte, DefaultCeilingFrameSize)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	frame[4] = ceilingFrameType
	return frame
}

// timeRoundTrips times count calls of one (a round trip) and returns the
// latency percentiles.
func timeRoundTrips(count int, echo string, one func() error) (RoundTripResult, error) {
	lat := make([]time.Duration, count)
	start := time.Now()
	for i := range lat {
		t0 := time.Now()
		if err := one(); err != nil {
			return RoundTripResult{}, fmt.Errorf("bench: round trip: %w", err)
		}
		lat[i] = time.Since(t0)
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return RoundTripResult{
		Echo: echo, Count: count, P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: lat[len(lat)-1],
		PerSec: float64(count) / elapsed.Seconds(),
	}, nil
}

// ServeEcho accepts connections on ln and writes back every
// DefaultCeilingFrameSize bytes each one sends, from a goroutine per
// connection (as RoundTrip's EchoGoroutine), until ln is closed; it then
// closes the connections, waits for their goroutines and returns.
func ServeEcho(ln net.Listener) {
	var wg sync.WaitGroup
	var conns []net.Conn // this goroutine's only
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			echoFrames(c)
		}()
	}
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}

// echoFrames reads c one DefaultCeilingFrameSize frame at a time and writes each
// back, until a read or a write fails (c closed).
func echoFrames(c net.Conn) {
	buf := make([]byte, DefaultCeilingFrameSize)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// gnetEcho writes back whatever arrives.
type gnetEcho struct{ gnet.BuiltinEventEngine }

func (*gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	if _, err := c.Write(b); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// gnetQuiet drops gnet's log lines (a closed echo connection is expected).
type gnetQuiet struct{}

func (gnetQuiet) Debugf(string, ...any) {}
func (gnetQuiet) Infof(string, ...any)  {}
func (gnetQuiet) Warnf(string, ...any)  {}
func (gnetQuiet) Errorf(string, ...any) {}
func (gnetQuiet) Fatalf(string, ...any) {}

// loopbackPair returns the two ends of one TCP connection on 127.0.0.1: the
// dialled end first, the accepted end second. The listener is closed before
// it returns; on error nothing is left open.
func loopbackPair(ctx context.Context) (dialled, accepted net.Conn, err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	type acceptResult struct {
		c   net.Conn
		err error
	}
	acc := make(chan acceptResult, 1)
	go func() {
		c, err := ln.Accept()
		acc <- acceptResult{c, err}
	}()
	var d net.Dialer
	dc, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		if a := <-acc; a.c != nil {
			a.c.Close()
		}
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	a := <-acc
	if a.err != nil {
		dc.Close()
		return nil, nil, fmt.Errorf("accept: %w", a.err)
	}
	return dc, a.c, nil
}
