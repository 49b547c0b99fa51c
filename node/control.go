package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The control RPC: what a member asks of the leader (renew its lease,
// allocate a shard, begin or finish a leave). It runs over the consensus
// port's 'C' channel (authenticated like raft, see clusterport.go), one
// request and one response at a time per connection, each a 4-byte
// big-endian length and a JSON object (at most maxControlFrame bytes).
// Requests are idempotent or compare-and-set on the leader's side, so a
// retry after a lost response is harmless.

const maxControlFrame = 1 << 20

// Control operations.
const (
	ctlRenew    = "renew"    // renew the caller's lease (and register its types)
	ctlAllocate = "allocate" // allocate Type/Shard if it has no owner
	ctlLeave    = "leave"    // the caller begins a graceful leave
	ctlRelease  = "release"  // move every shard of the caller to other nodes
	ctlRemove   = "remove"   // drop the caller from the consensus configuration
)

type ctlRequest struct {
	Op    string     `json:"op"`
	Node  string     `json:"node"`
	Inc   uint64     `json:"inc,omitempty"`
	Raft  string     `json:"raft,omitempty"` // the caller's consensus address
	Types []metaType `json:"types,omitempty"`
	Type  string     `json:"type,omitempty"`
	Shard int        `json:"shard,omitempty"`
}

// Response codes.
const (
	codeOK        = ""
	codeNotLeader = "not_leader"
	codeNoOwner   = "no_owner"
	codeRefused   = "refused"
	codeError     = "error"
)

type ctlResponse struct {
	Code   string `json:"code,omitempty"`
	Err    string `json:"err,omitempty"`
	Index  uint64 `json:"index,omitempty"` // consensus index the caller must apply before relying on the answer
	Owner  string `json:"owner,omitempty"` // allocate: the shard's owner
	Leader string `json:"leader,omitempty"`
}

// ctlError is a control request that got an answer other than OK.
type ctlError struct {
	Code string
	Msg  string
}

func (e *ctlError) Error() string {
	if e.Msg != "" {
		return "node: control: " + e.Code + ": " + e.Msg
	}
	return "node: control: " + e.Code
}

var errNoLeader = errors.New("node: no leader")

func writeCtl(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	_, err = w.Write(append(buf, b...))
	return err
}

func readCtl(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size == 0 || size > maxControlFrame {
		return fmt.Errorf("node: control frame of %d bytes", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// controlIdle is how long a control connection may sit idle on the
// server before it is closed (callers redial).
const controlIdle = time.Minute

// serveControl serves one authenticated control connection until it
// closes, idles out or the node stops.
func (n *Node) serveControl(c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(n.ctx, func() { _ = c.Close() })
	defer stop()
	for {
		_ = c.SetReadDeadline(time.Now().Add(controlIdle))
		var req ctlRequest
		if err := readCtl(c, &req); err != nil {
			return
		}
		if !n.gate.wait(n.stop) {
			return
		}
		resp := n.handleControl(req)
		_ = c.SetWriteDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
		if err := writeCtl(c, resp); err != nil {
			return
		}
	}
}

// controlClient keeps one connection per leader address; calls on one
// connection are serialized.
type controlClient struct {
	n     *Node
	mu    sync.Mutex
	conns map[string]*ctlConn // guarded by mu
}

type ctlConn struct {
	mu sync.Mutex // one call at a time
	c  net.Conn   // guarded by mu; nil after a failure
}

// call sends req to the leader and returns its answer. When this node
// leads, the request is handled in place. A connection that fails is
// dropped (the next call redials).
func (cc *controlClient) call(req ctlRequest, timeout time.Duration) (ctlResponse, error) {
	n := cc.n
	addr, self, ok := n.cons.Load().leaderAddr()
	if !ok {
		return ctlResponse{}, errNoLeader
	}
	if self {
		resp := n.handleControl(req)
		return resp, resp.err()
	}
	cc.mu.Lock()
	if cc.conns == nil {
		cc.conns = map[string]*ctlConn{}
	}
	conn := cc.conns[addr]
	if conn == nil {
		conn = &ctlConn{}
		cc.conns[addr] = conn
	}
	cc.mu.Unlock()
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if conn.c == nil {
		c, err := n.cons.Load().port.dial(addr, chanControl, timeout)
		if err != nil {
			return ctlResponse{}, err
		}
		conn.c = c
	}
	_ = conn.c.SetDeadline(time.Now().Add(timeout))
	var resp ctlResponse
	err := writeCtl(conn.c, req)
	if err == nil {
		err = readCtl(conn.c, &resp)
	}
	if err != nil {
		_ = conn.c.Close()
		conn.c = nil
		return ctlResponse{}, err
	}
	_ = conn.c.SetDeadline(time.Time{})
	return resp, resp.err()
}

func (r ctlResponse) err() error {
	if r.Code == codeOK {
		return nil
	}
	return &ctlError{Code: r.Code, Msg: r.Err}
}

// close closes every connection (the node is stopping).
func (cc *controlClient) close() {
	cc.mu.Lock()
	conns := cc.conns
	cc.conns = nil
	cc.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		if c.c != nil {
			_ = c.c.Close()
			c.c = nil
		}
		c.mu.Unlock()
	}
}
