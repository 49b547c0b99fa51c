package netconn

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// DialFunc opens a network connection (net.Dialer.DialContext's shape).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// MaxHandshakeFrame bounds a handshake reply (a few dozen bytes in
// practice).
const MaxHandshakeFrame = 64 << 10

// ErrHandshakeTooLarge is the cause of the *NotCastyError returned for a
// handshake reply whose header announces more than MaxHandshakeFrame
// bytes: its body is not read.
var ErrHandshakeTooLarge = errors.New("netconn: handshake reply over MaxHandshakeFrame")

// ErrTLSRequired reports a plaintext handshake answered with TLS: the
// peer expects TLS.
var ErrTLSRequired = errors.New("netconn: the peer speaks TLS")

// Dial connects to addr with dial (a plain net.Dialer when nil), sets
// TCP_NODELAY and, when sendBuffer > 0, SO_SNDBUF (both only on a
// *net.TCPConn: a custom dialer's connection is left as it is), and when tlsCfg is not nil runs the TLS client handshake
// within ctx; tlsCfg is cloned, and ServerName defaults to addr's host.
// A TLS failure is explained: refused by the peer, or no TLS answer (a
// plaintext peer). On error the connection is closed.
func Dial(ctx context.Context, dial DialFunc, addr string, tlsCfg *tls.Config, sendBuffer int) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		if sendBuffer > 0 {
			if err := tc.SetWriteBuffer(sendBuffer); err != nil {
				_ = conn.Close()
				return nil, fmt.Errorf("set SO_SNDBUF %d: %w", sendBuffer, err)
			}
		}
	}
	if tlsCfg == nil {
		return conn, nil
	}
	tcfg := tlsCfg.Clone()
	if tcfg.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr)
		tcfg.ServerName = host
	}
	tconn := tls.Client(conn, tcfg)
	if err := tconn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		switch {
		case IsTLSAlert(err):
			err = fmt.Errorf("the node rejected the TLS handshake: %w", err)
		case errors.Is(err, context.DeadlineExceeded) || IsTimeout(err) || errors.Is(err, io.EOF) || IsConnReset(err):
			err = fmt.Errorf("TLS handshake failed (a plaintext node does not answer TLS; leave Config.TLS nil for it): %w", err)
		default:
			err = fmt.Errorf("TLS handshake: %w", err)
		}
		return nil, err
	}
	return tconn, nil
}

// Handshake writes frame (our handshake frame) to conn and reads the
// peer's reply within timeout, then clears conn's deadline. It reads
// exactly the reply frame. A reply that starts like TLS is ErrTLSRequired;
// a reply that is not a Casty handshake frame is a *NotCastyError quoting
// its first bytes, a zerohop node's refusal a *RefusedError, a close
// without a reply a *ClosedError; the other failures say what went wrong
// (no reply, a refused TLS session).
func Handshake(conn net.Conn, frame []byte, timeout time.Duration) (wire.Handshake, error) {
	return HandshakeProbing(conn, frame, timeout, nil)
}

// ProbeAfter is how long HandshakeProbing waits for the first byte of a
// reply before it probes for an HTTP server.
const ProbeAfter = 500 * time.Millisecond

// HTTPProbe is what HandshakeProbing sends on its probe connection: an
// HTTP server answers it at once, a Casty node closes (the bytes announce
// a frame far over its limit).
const HTTPProbe = "GET / HTTP/1.0\r\n\r\n"

// HandshakeProbing is Handshake, and when dial is not nil and no reply
// byte came within ProbeAfter (an HTTP server waits for a request line our
// handshake never ends), it dials the peer again with dial, sends
// HTTPProbe and, if the answer starts with "HTTP/", returns a
// *NotCastyError quoting it; otherwise it keeps waiting for the reply until
// timeout.
func HandshakeProbing(conn net.Conn, frame []byte, timeout time.Duration, dial func(ctx context.Context) (net.Conn, error)) (wire.Handshake, error) {
	var h wire.Handshake
	start := time.Now()
	if err := conn.SetDeadline(start.Add(timeout)); err != nil {
		return h, err
	}
	if _, err := conn.Write(frame); err != nil {
		return h, fmt.Errorf("sending handshake: %w", err)
	}
	probe := dial != nil && timeout > ProbeAfter
	if probe {
		if err := conn.SetReadDeadline(start.Add(ProbeAfter)); err != nil {
			return h, err
		}
	}
	var hdr [wire.FrameHeaderLen]byte
	n, err := io.ReadFull(conn, hdr[:])
	if probe && IsTimeout(err) {
		if n == 0 {
			// No byte yet: an HTTP server waits for a line end.
			if perr := probeHTTP(dial, min(ProbeAfter, time.Until(start.Add(timeout)))); perr != nil {
				return h, perr
			}
		}
		if err := conn.SetReadDeadline(start.Add(timeout)); err != nil {
			return h, err
		}
		var m int
		m, err = io.ReadFull(conn, hdr[n:])
		n += m
	} else if probe && err == nil {
		_ = conn.SetReadDeadline(start.Add(timeout))
	}
	if err != nil {
		if n >= 2 && LooksLikeTLS(hdr[:n]) {
			return h, ErrTLSRequired
		}
		if IsTLSAlert(err) {
			// TLS 1.3 reports a refused client certificate on the
			// first read after the handshake.
			return h, fmt.Errorf("the node rejected the TLS session: %w", err)
		}
		if n > 0 {
			// A few bytes, then nothing: not a Casty frame header.
			return h, &NotCastyError{Got: append([]byte(nil), hdr[:n]...), Cause: err}
		}
		if IsTimeout(err) {
			return h, fmt.Errorf("no handshake reply within %v: %w", timeout, err)
		}
		if errors.Is(err, io.EOF) || IsConnReset(err) {
			return h, &ClosedError{Cause: err}
		}
		return h, fmt.Errorf("reading handshake reply: %w", err)
	}
	if LooksLikeTLS(hdr[:]) {
		return h, ErrTLSRequired
	}
	length := int(binary.BigEndian.Uint32(hdr[:4]))
	if length == 0 || length > MaxHandshakeFrame || hdr[4] != wire.FrameHandshake {
		var cause error
		if length > MaxHandshakeFrame && hdr[4] == wire.FrameHandshake {
			cause = fmt.Errorf("%w: %d bytes announced, limit %d", ErrHandshakeTooLarge, length, MaxHandshakeFrame)
		}
		return h, notCasty(conn, hdr[:], cause)
	}
	body := make([]byte, length-1)
	if n, err := io.ReadFull(conn, body); err != nil {
		return h, notCasty(nil, append(hdr[:], body[:n]...), err)
	}
	h, err = wire.ParseHandshake(body)
	if err != nil {
		return h, notCasty(nil, append(hdr[:], body...), err)
	}
	if x := h.Zerohop; x != nil && x.Refused != "" {
		return h, &RefusedError{Reason: x.Refused, Peer: x.System}
	}
	return h, conn.SetDeadline(time.Time{})
}

// NotCastyError reports a peer that did not answer our handshake with a
// Casty handshake frame: an HTTP server, a gossip port, anything else. Got
// holds the first bytes it sent (at most MaxNotCastyBytes); Cause, when
// set, is the read or parse error that ended the exchange.
type NotCastyError struct {
	Got    []byte
	Cause  error
	Probed bool // Got is the answer to HTTPProbe on a second connection (the handshake got none)
}

// MaxNotCastyBytes bounds NotCastyError.Got.
const MaxNotCastyBytes = 64

func (e *NotCastyError) Error() string {
	s := "the peer is not a Casty node"
	if what := e.looksLike(); what != "" {
		s += " (it looks like " + what + ")"
	}
	if e.Probed {
		s += ": it did not answer the handshake, and answered " + strconv.Quote(HTTPProbe) + " with " + strconv.Quote(string(e.Got))
	} else {
		s += ": it answered the handshake with " + strconv.Quote(string(e.Got))
	}
	if len(e.Got) >= MaxNotCastyBytes {
		s += "..."
	}
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

// Unwrap returns the cause.
func (e *NotCastyError) Unwrap() error { return e.Cause }

// looksLike names the kind of server whose reply starts like e.Got.
func (e *NotCastyError) looksLike() string {
	switch g := string(e.Got); {
	case strings.HasPrefix(g, "HTTP/"):
		return "an HTTP server"
	case strings.HasPrefix(g, "SSH-"):
		return "an SSH server"
	case len(g) > 0 && g[0] == memberlistErrMsg:
		return "a memberlist gossip port"
	}
	return ""
}

// memberlistErrMsg is the first byte of the error message a memberlist
// (hashicorp/memberlist, the gossip layer of zerohop nodes) TCP stream
// answers a stream it cannot decode with (its errMsg message type).
const memberlistErrMsg = 13

// notCasty reads what else the peer sent right away (when conn is not
// nil: one read, at most MaxNotCastyBytes in all, within notCastyWait)
// after first, and returns the *NotCastyError that quotes them.
func notCasty(conn net.Conn, first []byte, cause error) error {
	got := append([]byte(nil), first...)
	if len(got) > MaxNotCastyBytes {
		got = got[:MaxNotCastyBytes]
	}
	if conn != nil && len(got) < MaxNotCastyBytes {
		_ = conn.SetReadDeadline(time.Now().Add(notCastyWait))
		buf := make([]byte, MaxNotCastyBytes-len(got))
		n, _ := conn.Read(buf)
		got = append(got, buf[:n]...)
	}
	return &NotCastyError{Got: got, Cause: cause}
}

// notCastyWait bounds the extra read of notCasty (diagnosis only).
const notCastyWait = 100 * time.Millisecond

// ClosedError reports a peer that closed the connection (or reset it)
// after our handshake without a reply: a Casty node does so when it
// refuses a connection, and so did zerohop nodes before they answered a
// refusal with a reason (RefusedError).
type ClosedError struct {
	System string // the system name we sent, when the caller sets it
	Cause  error
}

func (e *ClosedError) Error() string {
	s := "the node closed the connection right after the handshake"
	if e.System != "" {
		s += ": check SystemName (we sent " + strconv.Quote(e.System) + ") and that the address is a node's Casty port (not its gossip or consensus port)"
	}
	return s + ": " + e.Cause.Error()
}

// Unwrap returns the cause.
func (e *ClosedError) Unwrap() error { return e.Cause }

// RefusedError reports a zerohop node that refused our handshake and
// said why (the "refused" field of its handshake extension). Peer is the
// node's system name.
type RefusedError struct {
	Reason string
	Peer   string
}

func (e *RefusedError) Error() string {
	return "the node refused the connection: " + e.Reason
}

// probeHTTP dials the peer again with dial, sends HTTPProbe and returns a
// *NotCastyError quoting the answer when it starts with "HTTP/"; nil
// otherwise (a Casty node closes, or nothing answers within wait).
func probeHTTP(dial func(ctx context.Context) (net.Conn, error), wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := dial(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(HTTPProbe)); err != nil {
		return nil
	}
	buf := make([]byte, MaxNotCastyBytes)
	n, _ := io.ReadAtLeast(c, buf, len("HTTP/"))
	if n < len("HTTP/") || string(buf[:5]) != "HTTP/" {
		return nil
	}
	return &NotCastyError{Got: buf[:n], Probed: true}
}

// SystemError reports a peer whose handshake names another actor system.
type SystemError struct {
	Peer, Want string // the peer's system, ours
}

func (e *SystemError) Error() string {
	return fmt.Sprintf("node belongs to system %q, configured for %q", e.Peer, e.Want)
}

// CheckSystem returns a *SystemError when h carries the zerohop extension
// with a system other than want (Casty announces none: nil).
func CheckSystem(h wire.Handshake, want string) error {
	if x := h.Zerohop; x != nil && x.System != "" && x.System != want {
		return &SystemError{Peer: x.System, Want: want}
	}
	return nil
}

// Extension returns the "zerohop" handshake extension a zerohop peer of
// the given role (wire.RoleClient or wire.RoleNode) announces for system.
// A node names the codec it chose (it is the accepting side); a client
// only offers.
func Extension(system, role string) *wire.Extension {
	x := &wire.Extension{System: system, Version: 1, Codecs: []string{"json"}, ShardHash: "md5", Role: role}
	if role == wire.RoleNode {
		x.Codec = "json"
	}
	return x
}

// IsTLSAlert reports whether err is an alert received from the TLS peer
// (crypto/tls reports them as *net.OpError with Op "remote error").
func IsTLSAlert(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		return true
	}
	var ae tls.AlertError
	return errors.As(err, &ae)
}

// LooksLikeTLS reports whether b starts like a TLS record (handshake or
// alert, version 3.x) rather than a frame length.
func LooksLikeTLS(b []byte) bool {
	return len(b) >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03
}

// IsTimeout reports whether err is a network timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsConnReset reports whether err says the peer is gone: the connection
// was reset (ECONNRESET), aborted (ECONNABORTED), or written after the
// peer closed it (EPIPE), or it is closed already (net.ErrClosed). Other
// network errors (a refused dial, a timeout, an unreachable host, a TLS
// alert) are not.
func IsConnReset(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range goneErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.Is(err, net.ErrClosed)
}
