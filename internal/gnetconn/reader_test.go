package gnetconn

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/zerohop/zerohop/wire"
)

// fakeConn is the inbound side of a gnet.Conn: bytes appended by the test,
// read by Peek, Discard and InboundBuffered. Peek(-1) returns a copy, as
// gnet's does when its ring buffer holds bytes; peeks records every Peek's
// argument.
type fakeConn struct {
	gnet.Conn // nil: the other methods are not used
	in        []byte
	peeks     []int
}

func (c *fakeConn) Peek(n int) ([]byte, error) {
	c.peeks = append(c.peeks, n)
	if n < 0 {
		return bytes.Clone(c.in), nil
	}
	if n > len(c.in) {
		return nil, io.ErrShortBuffer
	}
	return c.in[:n], nil
}

func (c *fakeConn) Discard(n int) (int, error) {
	c.in = c.in[n:]
	return n, nil
}

func (c *fakeConn) InboundBuffered() int { return len(c.in) }

func frames(rng *rand.Rand, n int) ([][]byte, []byte) {
	var bodies [][]byte
	var stream []byte
	for i := range n {
		body := make([]byte, 1+rng.IntN(300))
		body[0] = byte(i)
		for j := 1; j < len(body); j++ {
			body[j] = byte(rng.IntN(256))
		}
		bodies = append(bodies, body)
		var start int
		stream, start = wire.BeginFrame(stream, wire.FrameMessage)
		stream = append(stream, body...)
		var err error
		if stream, err = wire.EndFrame(stream, start, 0); err != nil {
			panic(err)
		}
	}
	return bodies, stream
}

// TestReaderEveryFrameOnce: a stream cut into reads of random sizes is
// delivered whole, each frame once and in order, with one Read per read;
// the buffer is empty at the end.
func TestReaderEveryFrameOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	want, stream := frames(rng, 2000)
	c := &fakeConn{}
	var r Reader
	var got [][]byte
	fn := func(typ byte, body []byte, size int) bool {
		if typ != wire.FrameMessage || size != wire.FrameHeaderLen+len(body) {
			t.Fatalf("frame %d: type %d size %d body %d", len(got), typ, size, len(body))
		}
		got = append(got, bytes.Clone(body))
		return true
	}
	for off := 0; off < len(stream); {
		k := min(len(stream)-off, 1+rng.IntN(700))
		c.in = append(c.in, stream[off:off+k]...)
		off += k
		if _, _, err := r.Read(c, 0, fn); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
	if len(c.in) != 0 || r.Carry {
		t.Fatalf("left %d bytes, Carry %v; want none", len(c.in), r.Carry)
	}
}

// TestReaderStops: a frame the callback refuses stays first in the
// buffer, the ones before are discarded, and the next Read starts with it.
func TestReaderStops(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	want, stream := frames(rng, 10)
	c := &fakeConn{in: bytes.Clone(stream)}
	var r Reader
	n := 0
	stopped, progress, err := r.Read(c, 0, func(_ byte, body []byte, _ int) bool {
		if n == 4 {
			return false
		}
		n++
		return true
	})
	if err != nil || !stopped || !progress {
		t.Fatalf("got stopped %v progress %v err %v, want stopped after 4 frames", stopped, progress, err)
	}
	if _, body, _, _ := wire.ParseFrame(c.in, 0); !bytes.Equal(body, want[4]) {
		t.Fatalf("the refused frame is not first in the buffer")
	}
	n = 0
	if stopped, _, _ := r.Read(c, 0, func(_ byte, body []byte, _ int) bool {
		if !bytes.Equal(body, want[4+n]) {
			t.Fatalf("frame %d differs", 4+n)
		}
		n++
		return true
	}); stopped || n != 6 {
		t.Fatalf("second Read: stopped %v, %d frames; want 6", stopped, n)
	}
}

// TestReaderCarryPeeksOneFrame: after a read that cut a frame, the next
// Read peeks that frame alone (Peek of its size), then the rest in place
// (Peek(-1) of what is left); while the cut frame is still incomplete it
// peeks its header only.
func TestReaderCarryPeeksOneFrame(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	want, stream := frames(rng, 3)
	size0 := wire.FrameHeaderLen + len(want[0])
	c := &fakeConn{in: bytes.Clone(stream[:size0-2])}
	var r Reader
	count := 0
	fn := func(byte, []byte, int) bool { count++; return true }
	if _, _, err := r.Read(c, 0, fn); err != nil || !r.Carry || count != 0 {
		t.Fatalf("cut first frame: err %v Carry %v frames %d; want Carry and no frame", err, r.Carry, count)
	}
	c.peeks = nil
	c.in = append(c.in, stream[size0-2:size0-1]...) // still one byte short
	if _, _, err := r.Read(c, 0, fn); err != nil || count != 0 {
		t.Fatal(err, count)
	}
	if len(c.peeks) != 1 || c.peeks[0] != 4 {
		t.Fatalf("incomplete carried frame: peeks %v, want [4] (its header only)", c.peeks)
	}
	c.peeks = nil
	c.in = append(c.in, stream[size0-1:]...)
	if _, _, err := r.Read(c, 0, fn); err != nil || count != 3 {
		t.Fatalf("err %v, %d frames; want 3", err, count)
	}
	if len(c.peeks) < 3 || c.peeks[0] != 4 || c.peeks[1] != size0 || c.peeks[2] != -1 {
		t.Fatalf("peeks %v, want [4 %d -1 ...]: the carried frame alone, then the rest", c.peeks, size0)
	}
}

// TestReaderFramingError: a length field over maxFrame is a
// *wire.FrameError; the frames before it were handed over and discarded.
func TestReaderFramingError(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	_, stream := frames(rng, 2)
	stream = append(stream, 0x7f, 0xff, 0xff, 0xff, 1)
	c := &fakeConn{in: stream}
	var r Reader
	count := 0
	_, progress, err := r.Read(c, 1<<10, func(byte, []byte, int) bool { count++; return true })
	var fe *wire.FrameError
	if !errors.As(err, &fe) || count != 2 || !progress || len(c.in) != 5 {
		t.Fatalf("got err %v, %d frames, progress %v, %d bytes left; want a FrameError after 2 frames, 5 bytes left", err, count, progress, len(c.in))
	}
}
