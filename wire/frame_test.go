package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// frameBytes builds a frame by hand: u32 BE length, type, body.
func frameBytes(typ byte, body string) []byte {
	n := len(body) + 1
	return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), typ}, body...)
}

func TestParseFrame(t *testing.T) {
	two := append(frameBytes(FrameHandshake, "ab"), frameBytes(FrameMessage, "xyz")...)
	tests := []struct {
		name     string
		data     []byte
		max      int
		wantTyp  byte
		wantBody string
		wantN    int
		wantErr  string // reason, "" for none
	}{
		{name: "empty", data: nil},
		{name: "3 bytes", data: []byte{0, 0, 0}},
		{name: "length only", data: []byte{0, 0, 0, 3}},
		{name: "partial body", data: frameBytes(FrameMessage, "hello")[:7]},
		{name: "whole", data: frameBytes(FrameMessage, "hello"), wantTyp: FrameMessage, wantBody: "hello", wantN: 10},
		{name: "empty body", data: frameBytes(FrameHandshake, ""), wantTyp: FrameHandshake, wantBody: "", wantN: 5},
		{name: "two frames", data: two, wantTyp: FrameHandshake, wantBody: "ab", wantN: 7},
		{name: "unknown type is not an error", data: frameBytes(0x7f, "q"), wantTyp: 0x7f, wantBody: "q", wantN: 6},
		{name: "zero length", data: []byte{0, 0, 0, 0, 1}, wantErr: ReasonFrameZeroLength},
		{name: "zero length, 4 bytes", data: []byte{0, 0, 0, 0}, wantErr: ReasonFrameZeroLength},
		{name: "too large default", data: []byte{0x01, 0x00, 0x00, 0x01}, wantErr: ReasonFrameTooLarge},
		{name: "exactly default", data: []byte{0x01, 0x00, 0x00, 0x00}, max: 0},
		{name: "too large custom before body", data: []byte{0, 0, 0, 11}, max: 10, wantErr: ReasonFrameTooLarge},
		{name: "max u32", data: []byte{0xff, 0xff, 0xff, 0xff}, max: 1 << 40, wantErr: ""},
		{name: "max exact", data: frameBytes(FrameMessage, "123456789"), max: 10, wantTyp: 1, wantBody: "123456789", wantN: 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, body, n, err := ParseFrame(tt.data, tt.max)
			if tt.wantErr != "" {
				var fe *FrameError
				if !errors.As(err, &fe) || fe.Reason != tt.wantErr {
					t.Fatalf("got err %v, want FrameError %q", err, tt.wantErr)
				}
				if n != 0 || body != nil {
					t.Fatalf("got n=%d body=%q with error, want 0, nil", n, body)
				}
				if got := errors.Is(err, ErrFrameTooLarge); got != (tt.wantErr == ReasonFrameTooLarge) {
					t.Fatalf("errors.Is(err, ErrFrameTooLarge) = %v for %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got err %v, want nil", err)
			}
			if n != tt.wantN || typ != tt.wantTyp || string(body) != tt.wantBody {
				t.Fatalf("got (typ %d, body %q, n %d), want (%d, %q, %d)", typ, body, n, tt.wantTyp, tt.wantBody, tt.wantN)
			}
		})
	}
}

func TestParseFrameBodyAliasesAndIsCapped(t *testing.T) {
	data := append(frameBytes(FrameMessage, "abc"), frameBytes(FrameMessage, "def")...)
	_, body, _, _ := ParseFrame(data, 0)
	if &body[0] != &data[5] {
		t.Fatal("body does not alias data")
	}
	if cap(body) != 3 {
		t.Fatalf("got cap(body) %d, want 3 (appending must not clobber the next frame)", cap(body))
	}
}

func TestFrameErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		err  *FrameError
		want string
	}{
		{&FrameError{Reason: ReasonFrameTooLarge, Length: 20, Max: 10}, "wire: frame too large: length 20 > max 10"},
		{&FrameError{Reason: ReasonFrameZeroLength}, "wire: zero-length frame: length 0"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestBeginEndFrame(t *testing.T) {
	dst := []byte("prefix")
	dst, start := BeginFrame(dst, FrameMessage)
	if start != 6 {
		t.Fatalf("got start %d, want 6", start)
	}
	dst = append(dst, "body"...)
	dst, err := EndFrame(dst, start, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("prefix"), frameBytes(FrameMessage, "body")...)
	if !bytes.Equal(dst, want) {
		t.Fatalf("got %x, want %x", dst, want)
	}
	typ, body, n, err := ParseFrame(dst[start:], 0)
	if err != nil || typ != FrameMessage || string(body) != "body" || n != len(dst)-start {
		t.Fatalf("round trip: got (%d, %q, %d, %v)", typ, body, n, err)
	}
}

func TestEndFrameTooLarge(t *testing.T) {
	dst, start := BeginFrame([]byte("keep"), FrameMessage)
	dst = append(dst, "0123456789"...) // length 11
	out, err := EndFrame(dst, start, 10)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got err %v, want ErrFrameTooLarge", err)
	}
	var fe *FrameError
	if !errors.As(err, &fe) || fe.Length != 11 || fe.Max != 10 {
		t.Fatalf("got %#v, want Length 11 Max 10", err)
	}
	if string(out) != "keep" {
		t.Fatalf("got %q, want dst truncated to %q", out, "keep")
	}
	if _, err := EndFrame(append(dst[:start+5], "012345678"...), start, 10); err != nil {
		t.Fatalf("length == max: got %v, want nil", err)
	}
}

func TestFrameReader(t *testing.T) {
	var stream []byte
	bodies := []string{"", "a", string(bytes.Repeat([]byte("x"), 10000)), "hs", string(bytes.Repeat([]byte("y"), 5000))}
	for i, b := range bodies {
		stream = append(stream, frameBytes(byte(i%2), b)...)
	}
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(stream) },
		"onebyte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		"dataerr":  func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) },
		"emptyish": func() io.Reader { return &sometimesEmpty{r: iotest.OneByteReader(bytes.NewReader(stream))} },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			fr := NewFrameReader(mk(), 0)
			for i, want := range bodies {
				typ, body, err := fr.Next()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if typ != byte(i%2) || string(body) != want {
					t.Fatalf("frame %d: got (typ %d, %d bytes), want (%d, %d bytes)", i, typ, len(body), i%2, len(want))
				}
			}
			for range 2 { // sticky
				if _, _, err := fr.Next(); err != io.EOF {
					t.Fatalf("got %v, want io.EOF", err)
				}
			}
		})
	}
}

// sometimesEmpty returns (0, nil) every other Read.
type sometimesEmpty struct {
	r io.Reader
	n int
}

func (s *sometimesEmpty) Read(p []byte) (int, error) {
	s.n++
	if s.n%2 == 0 {
		return 0, nil
	}
	return s.r.Read(p)
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestFrameReaderErrors(t *testing.T) {
	t.Run("truncated", func(t *testing.T) {
		data := frameBytes(FrameMessage, "hello")
		fr := NewFrameReader(bytes.NewReader(data[:7]), 0)
		if _, _, err := fr.Next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("truncated length", func(t *testing.T) {
		fr := NewFrameReader(bytes.NewReader([]byte{0, 0}), 0)
		if _, _, err := fr.Next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("too large, sticky", func(t *testing.T) {
		data := append(frameBytes(FrameMessage, "ok"), frameBytes(FrameMessage, "0123456789")...)
		fr := NewFrameReader(bytes.NewReader(data), 5)
		if _, body, err := fr.Next(); err != nil || string(body) != "ok" {
			t.Fatalf("got (%q, %v), want (ok, nil)", body, err)
		}
		for range 2 {
			if _, _, err := fr.Next(); !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("got %v, want ErrFrameTooLarge", err)
			}
		}
	})
	t.Run("zero length", func(t *testing.T) {
		fr := NewFrameReader(bytes.NewReader([]byte{0, 0, 0, 0, 0}), 0)
		var fe *FrameError
		if _, _, err := fr.Next(); !errors.As(err, &fe) || fe.Reason != ReasonFrameZeroLength {
			t.Fatalf("got %v, want zero-length FrameError", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		fr := NewFrameReader(iotest.ErrReader(boom), 0)
		if _, _, err := fr.Next(); err != boom {
			t.Fatalf("got %v, want boom", err)
		}
	})
	t.Run("read error after data", func(t *testing.T) {
		boom := errors.New("boom")
		r := io.MultiReader(bytes.NewReader(frameBytes(1, "x")), iotest.ErrReader(boom))
		fr := NewFrameReader(r, 0)
		if _, body, err := fr.Next(); err != nil || string(body) != "x" {
			t.Fatalf("got (%q, %v)", body, err)
		}
		if _, _, err := fr.Next(); err != boom {
			t.Fatalf("got %v, want boom", err)
		}
	})
	t.Run("no progress", func(t *testing.T) {
		fr := NewFrameReader(emptyReader{}, 0)
		if _, _, err := fr.Next(); err != io.ErrNoProgress {
			t.Fatalf("got %v, want io.ErrNoProgress", err)
		}
	})
}

// TestFrameReaderBufferBound checks that the buffer never grows beyond the
// frame limit (plus the length field) even with a huge declared length.
func TestFrameReaderBufferBound(t *testing.T) {
	const limit = 100 << 10
	body := bytes.Repeat([]byte("z"), limit-1)
	fr := NewFrameReader(bytes.NewReader(frameBytes(FrameMessage, string(body))), limit)
	if _, got, err := fr.Next(); err != nil || len(got) != len(body) {
		t.Fatalf("got (%d bytes, %v)", len(got), err)
	}
	if len(fr.buf) > limit+4 {
		t.Fatalf("got buffer %d, want <= %d", len(fr.buf), limit+4)
	}
}

// countingReader counts the Read calls that reach r.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// TestFrameReaderSize: the buffer size is how much one read takes of a
// stream of small frames, the default being 4 KiB.
func TestFrameReaderSize(t *testing.T) {
	var stream []byte
	for range 400 { // 400 frames of 100 bytes: 40,000 bytes
		stream = append(stream, frameBytes(FrameMessage, string(bytes.Repeat([]byte("m"), 95)))...)
	}
	for _, tt := range []struct {
		size      int
		wantReads int // reads until EOF: ceil(len/size) with data, then the EOF read
	}{
		{0, 11},       // the 4 KiB default
		{64 << 10, 2}, // one read takes everything
	} {
		cr := &countingReader{r: bytes.NewReader(stream)}
		fr := NewFrameReaderSize(cr, 0, tt.size)
		frames := 0
		for {
			_, _, err := fr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			frames++
		}
		if frames != 400 || cr.reads != tt.wantReads {
			t.Errorf("size %d: %d frames in %d reads, want 400 in %d", tt.size, frames, cr.reads, tt.wantReads)
		}
	}
}

// testBudget is a FrameBudget with a limit that records what it holds.
type testBudget struct {
	limit, used, peak int
	out               map[*byte]bool // buffers handed out
}

func (b *testBudget) Get(n int) []byte {
	if n <= 0 {
		panic("Get of a non-positive size")
	}
	if b.used+n > b.limit {
		return nil
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	buf := make([]byte, n)
	if b.out == nil {
		b.out = map[*byte]bool{}
	}
	b.out[&buf[0]] = true
	return buf
}

func (b *testBudget) Put(buf []byte) {
	if !b.out[&buf[0]] {
		panic("Put of a buffer Get did not return")
	}
	delete(b.out, &buf[0])
	b.used -= len(buf)
}

// TestFrameReaderGrowsAsBytesArrive: a declared length allocates nothing;
// the buffer grows with the bytes of the frame, is charged to the budget,
// and goes back to the normal buffer (charge released) after the frame.
func TestFrameReaderGrowsAsBytesArrive(t *testing.T) {
	const size = 4 << 10
	t.Run("declared length alone", func(t *testing.T) {
		var hdr [FrameHeaderLen + 10]byte
		copy(hdr[:], frameBytes(FrameMessage, string(make([]byte, 1<<20)))[:FrameHeaderLen+10])
		b := &testBudget{limit: 1 << 30}
		fr := NewFrameReaderSize(bytes.NewReader(hdr[:]), 2<<20, size)
		fr.SetBudget(b)
		if _, _, err := fr.Next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
		}
		if len(fr.buf) != size || b.peak != 0 {
			t.Fatalf("buffer %d bytes, budget peak %d; want %d and 0", len(fr.buf), b.peak, size)
		}
	})
	t.Run("large frame then small ones", func(t *testing.T) {
		big := string(bytes.Repeat([]byte("b"), 300<<10))
		stream := append(frameBytes(FrameMessage, big), frameBytes(FrameMessage, "small")...)
		stream = append(stream, frameBytes(FrameMessage, "again")...)
		b := &testBudget{limit: 1 << 30}
		cr := &chunkReader{data: stream, chunk: 1000}
		fr := NewFrameReaderSize(cr, 0, size)
		fr.SetBudget(b)
		if _, body, err := fr.Next(); err != nil || string(body) != big {
			t.Fatalf("got (%d bytes, %v)", len(body), err)
		}
		if want := 300<<10 + FrameHeaderLen; len(fr.buf) != want || b.used != want {
			t.Fatalf("buffer %d bytes, charged %d; want %d (the frame)", len(fr.buf), b.used, want)
		}
		// Doubling from the normal buffer: never more than twice what was
		// held before, so the peak charge is the last buffer plus nothing.
		if b.peak > 2*(300<<10) {
			t.Fatalf("budget peak %d", b.peak)
		}
		for _, want := range []string{"small", "again"} {
			if _, body, err := fr.Next(); err != nil || string(body) != want {
				t.Fatalf("got (%q, %v), want %q", body, err, want)
			}
			if len(fr.buf) != size || b.used != 0 {
				t.Fatalf("after the large frame: buffer %d bytes, charged %d; want %d and 0", len(fr.buf), b.used, size)
			}
		}
		if _, _, err := fr.Next(); err != io.EOF {
			t.Fatalf("got %v, want io.EOF", err)
		}
	})
	t.Run("two large frames keep the buffer", func(t *testing.T) {
		one := frameBytes(FrameMessage, string(bytes.Repeat([]byte("1"), 20<<10)))
		stream := append(append([]byte(nil), one...), one...)
		b := &testBudget{limit: 1 << 30}
		fr := NewFrameReaderSize(bytes.NewReader(stream), 0, size)
		fr.SetBudget(b)
		for range 2 {
			if _, body, err := fr.Next(); err != nil || len(body) != 20<<10 {
				t.Fatalf("got (%d bytes, %v)", len(body), err)
			}
		}
		fr.Release()
		if b.used != 0 {
			t.Fatalf("after Release: %d bytes charged, want 0", b.used)
		}
	})
	t.Run("budget refuses", func(t *testing.T) {
		stream := frameBytes(FrameMessage, string(bytes.Repeat([]byte("r"), 100<<10)))
		b := &testBudget{limit: 32 << 10}
		fr := NewFrameReaderSize(bytes.NewReader(stream), 0, size)
		fr.SetBudget(b)
		for range 2 { // sticky
			if _, _, err := fr.Next(); !errors.Is(err, ErrFrameBudget) {
				t.Fatalf("got %v, want ErrFrameBudget", err)
			}
		}
		if b.used > b.limit {
			t.Fatalf("charged %d over the limit %d", b.used, b.limit)
		}
		fr.Release()
		if b.used != 0 {
			t.Fatalf("after Release: %d bytes charged, want 0", b.used)
		}
	})
}
