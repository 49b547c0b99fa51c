package wire

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
)

// Frame types (PROTOCOL.md section 2.1). Any other type byte is not a framing
// error: ParseFrame and FrameReader return it and the caller decides (Casty
// silently ignores unknown frame types after the handshake).
const (
	FrameHandshake byte = 0x00
	FrameMessage   byte = 0x01
)

const (
	// DefaultMaxFrameSize caps the length field of a frame (type byte plus
	// body), as Casty v1 does since d703fc9. A maxFrame argument <= 0 means
	// this default.
	DefaultMaxFrameSize = 16 << 20
	// FrameHeaderLen is the size of the u32 length field plus the type byte.
	FrameHeaderLen = 5
)

// ErrFrameTooLarge is matched (errors.Is) by a *FrameError whose length
// exceeds its maximum.
var ErrFrameTooLarge = errors.New("wire: frame too large")

// Reasons carried by FrameError.
const (
	ReasonFrameTooLarge   = "frame too large"
	ReasonFrameZeroLength = "zero-length frame"
)

// FrameError reports a frame that cannot be accepted: its length field is 0
// (there is no room for the type byte) or larger than the maximum. The
// connection that produced it must be closed: framing is lost.
type FrameError struct {
	Reason string // ReasonFrameTooLarge or ReasonFrameZeroLength
	Length int    // the length field (type byte + body), or the encoded length
	Max    int    // the maximum in force
}

func (e *FrameError) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "wire: "...)
	b = append(b, e.Reason...)
	b = append(b, ": length "...)
	b = strconv.AppendInt(b, int64(e.Length), 10)
	if e.Reason == ReasonFrameTooLarge {
		b = append(b, " > max "...)
		b = strconv.AppendInt(b, int64(e.Max), 10)
	}
	return string(b)
}

// Is reports whether target is ErrFrameTooLarge and e is such an error.
func (e *FrameError) Is(target error) bool {
	return target == ErrFrameTooLarge && e.Reason == ReasonFrameTooLarge
}

// frameLimit normalizes a maxFrame argument: <= 0 means the default, and the
// limit never exceeds what the u32 length field can express.
func frameLimit(maxFrame int) uint64 {
	if maxFrame <= 0 {
		return DefaultMaxFrameSize
	}
	if uint64(maxFrame) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint64(maxFrame)
}

// ParseFrame parses one frame at the start of data, which may hold a partial
// frame (an event loop passes whatever bytes arrived) or several frames.
//
//   - n > 0: a whole frame of n bytes was consumed; typ is its type byte and
//     body (aliasing data) the bytes after the type byte.
//   - n == 0 && err == nil: data holds no whole frame yet; call again with
//     more bytes.
//   - err != nil: a *FrameError; the stream is unusable.
//
// The length field is checked as soon as its 4 bytes are present, so an
// oversized frame is refused before its body is buffered. typ is not
// checked: an unknown frame type is the caller's decision, not a framing
// error. maxFrame <= 0 means DefaultMaxFrameSize. ParseFrame does not
// allocate unless it returns an error.
func ParseFrame(data []byte, maxFrame int) (typ byte, body []byte, n int, err error) {
	if len(data) < 4 {
		return 0, nil, 0, nil
	}
	length := uint64(binary.BigEndian.Uint32(data))
	if length == 0 {
		return 0, nil, 0, &FrameError{Reason: ReasonFrameZeroLength}
	}
	if limit := frameLimit(maxFrame); length > limit {
		return 0, nil, 0, &FrameError{Reason: ReasonFrameTooLarge, Length: int(length), Max: int(limit)}
	}
	total := 4 + length
	if uint64(len(data)) < total {
		return 0, nil, 0, nil
	}
	return data[4], data[FrameHeaderLen:total:total], int(total), nil
}

// BeginFrame appends a frame header placeholder (4 length bytes and typ) to
// dst and returns the extended slice and the offset of the frame, to be
// passed to EndFrame once the body has been appended.
func BeginFrame(dst []byte, typ byte) (out []byte, start int) {
	start = len(dst)
	return append(dst, 0, 0, 0, 0, typ), start
}

// EndFrame patches the length field of the frame that BeginFrame started at
// start. If the frame (type byte + body) exceeds maxFrame (<= 0 means
// DefaultMaxFrameSize) it returns dst truncated to start and a *FrameError
// matching ErrFrameTooLarge. Precondition (unchecked): start was returned
// by BeginFrame on a prefix of dst.
func EndFrame(dst []byte, start int, maxFrame int) ([]byte, error) {
	length := uint64(len(dst) - start - 4)
	if limit := frameLimit(maxFrame); length > limit {
		return dst[:start], &FrameError{Reason: ReasonFrameTooLarge, Length: int(length), Max: int(limit)}
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(length))
	return dst, nil
}

// frameReaderInitialSize is the default initial buffer of a FrameReader:
// large enough for handshakes, routed messages and typical replies in one
// read. A stream of many small frames reads fewer times with a larger one
// (NewFrameReaderSize).
const frameReaderInitialSize = 4 << 10

// maxEmptyReads bounds the successive (0, nil) reads FrameReader tolerates
// before failing with io.ErrNoProgress (as bufio does).
const maxEmptyReads = 100

// ErrFrameBudget is returned (sticky) by FrameReader.Next when its
// FrameBudget refused the buffer the frame being read needs. The
// connection must be closed: the rest of the frame cannot be read.
var ErrFrameBudget = errors.New("wire: frame buffer budget exhausted")

// A FrameBudget provides a FrameReader with the buffers it needs beyond its
// normal one (frames larger than it), and may refuse them. Implementations
// shared by several readers must be safe for concurrent use.
type FrameBudget interface {
	// Get returns a buffer of at least n bytes (its contents are
	// garbage), or nil when the budget refuses it.
	Get(n int) []byte
	// Put takes back a buffer returned by Get, which the reader no longer
	// uses.
	Put(b []byte)
}

// FrameReader reads frames from a byte stream (the std net transport) with
// one reused buffer: each Read fills as much of the buffer as the reader
// offers, and frames are parsed out of it without copying.
//
// Memory: the normal buffer (NewFrameReaderSize's bufSize) is allocated at
// the first read and kept. A frame larger than it is read into a larger
// buffer that grows as its bytes arrive (doubling, up to the frame's
// length: a declared length alone allocates nothing), taken from the
// FrameBudget if one is set (else allocated), and dropped (given back to
// the budget) at the next call of Next once the bytes left over fit the
// normal buffer. So the memory a reader holds between large frames is its
// normal buffer, and during one at most twice the bytes received of it
// (bounded by the maximum frame size + 4), or what the budget hands out.
//
// A FrameReader is not safe for concurrent use and must not be copied after
// first use; its zero value is not usable (use NewFrameReader).
type FrameReader struct {
	r      io.Reader
	max    int
	buf    []byte      // small, or a larger buffer holding a large frame
	small  []byte      // the normal buffer (size bytes), allocated at the first read
	size   int         // normal buffer size: the most one read takes unless a frame needs more
	start  int         // first unconsumed byte of buf
	end    int         // end of valid data in buf
	budget FrameBudget // nil: larger buffers are allocated
	large  bool        // buf is a larger buffer (from budget, if set)
	rerr   error       // read error not yet reported (it came with data)
	err    error       // sticky error returned by Next
}

// NewFrameReader returns a FrameReader over r refusing frames larger than
// maxFrame (<= 0 means DefaultMaxFrameSize).
func NewFrameReader(r io.Reader, maxFrame int) *FrameReader {
	return NewFrameReaderSize(r, maxFrame, frameReaderInitialSize)
}

// NewFrameReaderSize is NewFrameReader with a normal buffer of bufSize
// bytes (at least 4 KiB), so that one read can take that many bytes of
// small frames.
func NewFrameReaderSize(r io.Reader, maxFrame, bufSize int) *FrameReader {
	return &FrameReader{r: r, max: int(frameLimit(maxFrame)), size: max(bufSize, frameReaderInitialSize)}
}

// SetBudget makes the reader take its buffers beyond the normal one from
// b; when b refuses one, Next fails with ErrFrameBudget. Call it before
// the first Next.
func (fr *FrameReader) SetBudget(b FrameBudget) { fr.budget = b }

// Buffered returns the number of bytes read from the stream and not yet
// returned in a frame: 0 between frames, else the part of the next frame
// that has arrived (or more frames, which Next returns without reading).
func (fr *FrameReader) Buffered() int { return fr.end - fr.start }

// Release drops the reader's buffers, giving a larger one back to the
// budget. Call it once the reader is no longer used (its connection
// closed); the reader must not be used afterwards.
func (fr *FrameReader) Release() {
	fr.drop()
	fr.buf, fr.small, fr.start, fr.end = nil, nil, 0, 0
}

// drop gives the larger buffer back to the budget (the caller replaces
// fr.buf).
func (fr *FrameReader) drop() {
	if fr.large && fr.budget != nil {
		fr.budget.Put(fr.buf)
	}
	fr.large = false
}

// Next returns the next frame. body aliases the reader's buffer and is valid
// only until the next call to Next. At a clean end of stream (between
// frames) it returns io.EOF; a stream ending inside a frame gives
// io.ErrUnexpectedEOF; a framing problem gives a *FrameError; a budget
// that refuses the memory of a large frame gives ErrFrameBudget. Errors are
// sticky: once Next has failed it keeps returning the same error.
func (fr *FrameReader) Next() (typ byte, body []byte, err error) {
	if fr.err != nil {
		return 0, nil, fr.err
	}
	if fr.large {
		fr.shrink()
	}
	empty := 0
	for {
		typ, body, n, err := ParseFrame(fr.buf[fr.start:fr.end], fr.max)
		if err != nil {
			fr.err = err
			return 0, nil, err
		}
		if n > 0 {
			fr.start += n
			return typ, body, nil
		}
		if err := fr.fill(); err != nil {
			if err == io.EOF && fr.end > fr.start {
				err = io.ErrUnexpectedEOF
			}
			if err == errNoProgressRead {
				empty++
				if empty < maxEmptyReads {
					continue
				}
				err = io.ErrNoProgress
			}
			fr.err = err
			return 0, nil, err
		}
		empty = 0
	}
}

var errNoProgressRead = errors.New("wire: empty read")

// shrink goes back to the normal buffer after a large frame, unless the
// bytes left over do not fit it or begin another frame that does not.
func (fr *FrameReader) shrink() {
	pending := fr.end - fr.start
	if pending > fr.size {
		return
	}
	if pending >= 4 && 4+int(binary.BigEndian.Uint32(fr.buf[fr.start:])) > fr.size {
		return // the next frame is large too: keep the buffer (still charged)
	}
	copy(fr.small, fr.buf[fr.start:fr.end])
	fr.drop()
	fr.buf, fr.start, fr.end = fr.small, 0, pending
}

// fill makes room for the frame being read and reads more bytes: the
// bytes of an unfinished frame move to the front of the buffer, and a
// full buffer grows (the frame needs more than it holds).
func (fr *FrameReader) fill() error {
	if fr.rerr != nil {
		return fr.rerr
	}
	if fr.small == nil {
		fr.small = make([]byte, fr.size)
		fr.buf = fr.small
	}
	if pending := fr.end - fr.start; fr.start > 0 {
		copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start, fr.end = 0, pending
	}
	if fr.end == len(fr.buf) {
		if err := fr.grow(); err != nil {
			return err
		}
	}
	n, err := fr.r.Read(fr.buf[fr.end:])
	if n < 0 || n > len(fr.buf)-fr.end {
		return errors.New("wire: reader returned an invalid count")
	}
	fr.end += n
	if n > 0 {
		fr.rerr = err
		return nil
	}
	if err != nil {
		return err
	}
	return errNoProgressRead
}

// grow replaces the full buffer, which holds the start of a frame that does
// not fit in it (at offset 0, its length field validated by ParseFrame),
// by one twice as large, or as large as the frame if that is less.
func (fr *FrameReader) grow() error {
	want := 4 + int(binary.BigEndian.Uint32(fr.buf))
	size := min(2*len(fr.buf), want)
	var nb []byte
	if fr.budget == nil {
		nb = make([]byte, size)
	} else if nb = fr.budget.Get(size); len(nb) < size {
		return ErrFrameBudget
	}
	copy(nb, fr.buf[:fr.end])
	fr.drop()
	fr.buf, fr.large = nb, true
	return nil
}
