package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestCeilingCountsEveryFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  CeilingConfig
	}{
		{"defaults", CeilingConfig{Duration: 100 * time.Millisecond}},
		// An odd frame size and a batch that is not a multiple of the read
		// buffer make frames straddle reads.
		{"straddling", CeilingConfig{FrameSize: 77, BatchBytes: 1000, ReadBuffer: 500, Duration: 100 * time.Millisecond}},
		{"empty body", CeilingConfig{FrameSize: 5, BatchBytes: 1, Duration: 50 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Ceiling(context.Background(), tc.cfg)
			if err != nil {
				t.Fatalf("Ceiling: %v", err)
			}
			fs := tc.cfg.FrameSize
			if fs == 0 {
				fs = DefaultCeilingFrameSize
			}
			if r.Frames <= 0 {
				t.Fatalf("got %d frames, want > 0", r.Frames)
			}
			if r.Bytes != r.Frames*int64(fs) {
				t.Errorf("got %d bytes for %d frames of %d, want %d", r.Bytes, r.Frames, fs, r.Frames*int64(fs))
			}
			if r.FramesPerSec <= 0 || r.MBPerSec <= 0 || r.Seconds <= 0 {
				t.Errorf("got rates %+v, want positive", r)
			}
		})
	}
}

func TestCeilingCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	_, err := Ceiling(ctx, CeilingConfig{Duration: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestCeilingConfigValidateReportsAll(t *testing.T) {
	err := CeilingConfig{FrameSize: 3, BatchBytes: -1, ReadBuffer: -2, Duration: -time.Second}.Validate()
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	for _, want := range []string{"FrameSize", "BatchBytes", "ReadBuffer", "Duration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := (CeilingConfig{}).Validate(); err != nil {
		t.Errorf("zero config: got %v, want nil", err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, echo := range []string{EchoGoroutine, EchoGnet} {
		r, err := RoundTrip(context.Background(), 200, echo)
		if err != nil {
			t.Fatalf("RoundTrip %s: %v", echo, err)
		}
		if r.Echo != echo || r.Count != 200 || r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max || r.PerSec <= 0 {
			t.Errorf("%s: got %+v, want ordered positive percentiles over 200 round trips", echo, r)
		}
	}
	if _, err := RoundTrip(context.Background(), 0, EchoGoroutine); err == nil {
		t.Error("count 0: got nil error, want one")
	}
	if _, err := RoundTrip(context.Background(), 10, "carrier-pigeon"); err == nil {
		t.Error("unknown echo: got nil error, want one")
	}
}

// TestRoundTripOver: RoundTripOver measures round trips to a ServeEcho
// (EchoProcess's echo, here in this process), which echoes every frame of
// every connection and, once its listener closes, closes them and returns.
func TestRoundTripOver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		ServeEcho(ln)
		close(served)
	}()
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		r, err := RoundTripOver(context.Background(), c, 200, EchoProcess)
		if err != nil {
			t.Fatalf("RoundTripOver: %v", err)
		}
		if r.Echo != EchoProcess || r.Count != 200 || r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max || r.PerSec <= 0 {
			t.Errorf("got %+v, want ordered positive percentiles over 200 round trips", r)
		}
	}
	for _, h := range []string{HandoffWriter, HandoffReader, HandoffBoth} {
		r, err := RoundTripHandoff(context.Background(), conns[0], 200, EchoProcess, h)
		if err != nil {
			t.Fatalf("RoundTripHandoff %s: %v", h, err)
		}
		if want := EchoProcess + "+" + h + " hand-off"; r.Echo != want || r.Count != 200 || r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
			t.Errorf("hand-off %s: got %+v, want %s with ordered positive percentiles over 200 round trips", h, r, want)
		}
	}
	if r, err := RoundTripOver(context.Background(), conns[0], 50, EchoProcess); err != nil || r.Count != 50 {
		t.Fatalf("after the hand-offs the connection is the caller's again: %+v, %v", r, err)
	}
	if _, err := RoundTripHandoff(context.Background(), conns[0], 10, EchoProcess, "sideways"); err == nil {
		t.Error("unknown hand-off: got nil error, want one")
	}
	if _, err := RoundTripOver(context.Background(), conns[0], 0, EchoProcess); err == nil {
		t.Error("count 0: got nil error, want one")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RoundTripOver(ctx, conns[1], 1000, EchoProcess); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
	ln.Close()
	select {
	case <-served:
	case <-time.After(30 * time.Second):
		t.Fatal("ServeEcho did not return after its listener closed")
	}
	// The one whose deadline the cancelled run did not set: ServeEcho
	// closed it (EOF), rather than leaving it open (a timeout here).
	_ = conns[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conns[0].Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read after ServeEcho returned: got %v, want EOF (closed by it)", err)
	}
	for _, c := range conns {
		c.Close()
	}
}
