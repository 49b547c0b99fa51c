//go:build !race

package castyjson

import (
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// The routing hot path: encoding a ShardEnvelope of a registered message
// into a reused buffer allocates nothing.
func TestEncodeEnvelopeZeroAlloc(t *testing.T) {
	r := testRegistry(t)
	const target = "casty://live@127.0.0.1:25560/_region-counter"
	const sender = "casty://live-client@127.0.0.1:0/"
	buf := make([]byte, 0, 1024)
	var msg any = Increment{Amount: 1000} // boxed once, as a caller's Tell(msg any) has it
	var env any = wire.ShardEnvelope{EntityID: "user-42", Message: msg}
	getCount := GetCount{ReplyTo: mustRef(t, "casty://live-client@127.0.0.1:0/_ask/a18c220c594c49e1bedd87f497db1657")}
	var ask any = getCount
	var askEnv any = wire.ShardEnvelope{EntityID: "user-42", Message: ask}
	var reply any = CountReply{EntityID: "user-42", Value: 8}
	head := r.AppendEnvelopeHead(nil, target, sender)
	for _, tc := range []struct {
		name string
		fn   func() error
	}{
		{"AppendValue", func() (err error) { buf, err = r.AppendValue(buf[:0], env); return }},
		{"AppendMessageFrame", func() (err error) { buf, err = r.AppendMessageFrame(buf[:0], target, sender, env, 0); return }},
		{"AppendEnvelopeFrame", func() (err error) {
			buf, err = r.AppendEnvelopeFrame(buf[:0], target, sender, "user-42", msg, 0)
			return
		}},
		{"AppendHeadedEnvelopeFrame", func() (err error) {
			buf, err = r.AppendHeadedEnvelopeFrame(buf[:0], head, "user-42", msg, 0)
			return
		}},
		{"AppendMessageFrame(GetCount with ref)", func() (err error) {
			buf, err = r.AppendMessageFrame(buf[:0], target, sender, askEnv, 0)
			return
		}},
		{"AppendMessageFrameTo(a reply to a ref)", func() (err error) {
			buf, err = r.AppendMessageFrameTo(buf[:0], getCount.ReplyTo.Address, sender, reply, 0)
			return
		}},
	} {
		if err := tc.fn(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var err error
		allocs := testing.AllocsPerRun(200, func() {
			if e := tc.fn(); e != nil {
				err = e
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if allocs != 0 {
			t.Errorf("%s: %.1f allocs per run, want 0", tc.name, allocs)
		}
	}
}
