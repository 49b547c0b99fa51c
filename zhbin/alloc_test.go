//go:build !race

package zhbin

import (
	"testing"

	"github.com/zerohop/zerohop/wire"
)

func TestAppendEnvelopeZeroAlloc(t *testing.T) {
	c := newCodec(t)
	buf := make([]byte, 0, 4096)
	var msg any = incr{Amount: 1}
	allocs := testing.AllocsPerRun(1000, func() {
		var err error
		buf, err = c.AppendEnvelopeFrame(buf[:0], "casty://live@127.0.0.1:25520/_region-counter", "casty://live@127.0.0.1:0/", "entity-1", msg, 0)
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendEnvelopeFrame: got %v allocs/op, want 0", allocs)
	}
	head := c.AppendEnvelopeHead(nil, "casty://live@127.0.0.1:25520/_region-counter", "casty://live@127.0.0.1:0/")
	allocs = testing.AllocsPerRun(1000, func() {
		buf, _ = c.AppendHeadedEnvelopeFrame(buf[:0], head, "entity-1", msg, 0)
	})
	if allocs != 0 {
		t.Errorf("AppendHeadedEnvelopeFrame: got %v allocs/op, want 0", allocs)
	}
	var all any = sampleAll()
	allocs = testing.AllocsPerRun(1000, func() {
		buf, _ = c.AppendEnvelopePayload(buf[:0], "entity-1", all)
	})
	if allocs != 0 {
		t.Errorf("AppendEnvelopePayload(all): got %v allocs/op, want 0", allocs)
	}
}

func TestDecodeEnvelopeMemoZeroAlloc(t *testing.T) {
	c := newCodec(t)
	payload, _ := c.AppendValue(nil, wire.ShardEnvelope{EntityID: "e-1", Message: incr{Amount: 1}})
	var memo wire.MessageMemo
	if _, _, err := c.DecodeShardEnvelopeMemo(payload, &memo); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, err := c.DecodeShardEnvelopeMemo(payload, &memo); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("DecodeShardEnvelopeMemo of a repeated message: got %v allocs/op, want 0", allocs)
	}
}
