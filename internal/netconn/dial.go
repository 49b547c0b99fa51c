package netconn

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// DialFunc opens a network connection (net.Dialer.DialContext's shape).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// MaxHandshakeFrame bounds a handshake reply (a few dozen bytes in
// practice).
const MaxHandshakeFrame = 64 << 10

// ErrTLSRequired reports a plaintext handshake answered with TLS: the
// peer expects TLS.
var ErrTLSRequired = errors.New("netconn: the peer speaks TLS")

// Dial connects to addr with dial (a plain net.Dialer when nil), sets
// TCP_NODELAY, and when tlsCfg is not nil runs the TLS client handshake
// within ctx; tlsCfg is cloned, and ServerName defaults to addr's host.
// A TLS failure is explained: refused by the peer, or no TLS answer (a
// plaintext peer). On error the connection is closed.
func Dial(ctx context.Context, dial DialFunc, addr string, tlsCfg *tls.Config) (net.Conn, error) {
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
// the other failures say what went wrong (no reply, closed before it, a
// refused TLS session, a frame that is not a handshake).
func Handshake(conn net.Conn, frame []byte, timeout time.Duration) (wire.Handshake, error) {
	var h wire.Handshake
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return h, err
	}
	if _, err := conn.Write(frame); err != nil {
		return h, fmt.Errorf("sending handshake: %w", err)
	}
	var hdr [wire.FrameHeaderLen]byte
	if n, err := io.ReadFull(conn, hdr[:]); err != nil {
		if n >= 2 && LooksLikeTLS(hdr[:n]) {
			return h, ErrTLSRequired
		}
		if IsTLSAlert(err) {
			// TLS 1.3 reports a refused client certificate on the
			// first read after the handshake.
			return h, fmt.Errorf("the node rejected the TLS session: %w", err)
		}
		if IsTimeout(err) {
			return h, fmt.Errorf("no handshake reply within %v: %w", timeout, err)
		}
		if n == 0 && (errors.Is(err, io.EOF) || IsConnReset(err)) {
			return h, fmt.Errorf("node closed the connection before its handshake reply: %w", err)
		}
		return h, fmt.Errorf("reading handshake reply: %w", err)
	}
	if LooksLikeTLS(hdr[:]) {
		return h, ErrTLSRequired
	}
	length := int(binary.BigEndian.Uint32(hdr[:4]))
	if length == 0 || length > MaxHandshakeFrame {
		return h, fmt.Errorf("handshake reply frame length %d out of range", length)
	}
	if hdr[4] != wire.FrameHandshake {
		return h, fmt.Errorf("expected a handshake frame (type 0x00), got type 0x%02x", hdr[4])
	}
	body := make([]byte, length-1)
	if _, err := io.ReadFull(conn, body); err != nil {
		return h, fmt.Errorf("reading handshake reply: %w", err)
	}
	h, err := wire.ParseHandshake(body)
	if err != nil {
		return h, err
	}
	return h, conn.SetDeadline(time.Time{})
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
