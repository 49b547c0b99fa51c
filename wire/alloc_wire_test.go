//go:build !race

package wire

import "testing"

// assertNoAllocs fails if f allocates.
func assertNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, f); n != 0 {
		t.Errorf("%s: got %v allocs per run, want 0", name, n)
	}
}

func TestWireZeroAllocs(t *testing.T) {
	frame := benchMessageFrame()
	body := frame[FrameHeaderLen:]
	buf := make([]byte, 0, 1024)
	v6 := "casty://z@[::1]:7000/_region-x"
	assertNoAllocs(t, "ParseFrame", func() {
		_, b, n, err := ParseFrame(frame, 0)
		if err != nil || n != len(frame) || len(b) == 0 {
			t.Fatal("ParseFrame failed")
		}
	})
	assertNoAllocs(t, "BeginFrame/EndFrame", func() {
		dst, start := BeginFrame(buf[:0], FrameMessage)
		dst = append(dst, "payload"...)
		if _, err := EndFrame(dst, start, 0); err != nil {
			t.Fatal(err)
		}
	})
	assertNoAllocs(t, "AppendHeader", func() {
		buf = AppendHeader(buf[:0], benchHeader)
	})
	assertNoAllocs(t, "message frame header", func() {
		dst, start := BeginFrame(buf[:0], FrameMessage)
		dst = AppendHeader(dst, benchHeader)
		buf, _ = EndFrame(dst, start, 0)
	})
	assertNoAllocs(t, "AppendHandshake", func() {
		buf = AppendHandshake(buf[:0], Handshake{Host: "127.0.0.1", Port: 25560})
	})
	assertNoAllocs(t, "ParseTargetPath", func() {
		p, _, err := ParseTargetPath(body)
		if err != nil || string(p) != "/_region-counter" {
			t.Fatal("ParseTargetPath failed")
		}
	})
	assertNoAllocs(t, "ParseAddress", func() {
		if _, err := ParseAddress(benchTarget); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseAddress(v6); err != nil {
			t.Fatal(err)
		}
	})
	a, _ := ParseAddress(v6)
	assertNoAllocs(t, "AppendURI", func() {
		buf = a.AppendURI(buf[:0])
	})
	fr := NewFrameReader(&loopReader{data: frame}, 0)
	fr.Next() // size the buffer
	assertNoAllocs(t, "FrameReader.Next", func() {
		if _, _, err := fr.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if n := testing.AllocsPerRun(200, func() { ParseMessage(body) }); n != 1 {
		t.Errorf("ParseMessage: got %v allocs, want 1 (the header string)", n)
	}
}
