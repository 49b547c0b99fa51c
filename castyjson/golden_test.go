package castyjson

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// goldenMessage is one message frame captured from a live Casty v1 cluster
// (testdata/golden/casty_v1_messages.jsonl, copied from
// shared/casty-v1/capture_json.jsonl: every message frame, raw bytes).
type goldenMessage struct {
	Conn     string `json:"conn"`
	Dir      string `json:"dir"`
	Seq      int    `json:"seq"`
	TypeHint string `json:"type_hint"`
	RawHex   string `json:"raw_hex"`
	raw      []byte
}

func loadGoldenMessages(tb testing.TB) []goldenMessage {
	tb.Helper()
	f, err := os.Open("testdata/golden/casty_v1_messages.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []goldenMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m goldenMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatal(err)
		}
		if m.raw, err = hex.DecodeString(m.RawHex); err != nil {
			tb.Fatal(err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatal("no golden messages")
	}
	return out
}

// goldenPayload splits a captured frame into header and payload.
func goldenPayload(tb testing.TB, m goldenMessage) (wire.Header, []byte) {
	tb.Helper()
	typ, body, n, err := wire.ParseFrame(m.raw, 0)
	if err != nil || n != len(m.raw) || typ != wire.FrameMessage {
		tb.Fatalf("%s#%d: ParseFrame = type %d, n %d/%d, %v", m.Conn, m.Seq, typ, n, len(m.raw), err)
	}
	h, payload, err := wire.ParseMessage(body)
	if err != nil {
		tb.Fatalf("%s#%d: ParseMessage: %v", m.Conn, m.Seq, err)
	}
	return h, payload
}

var goldenTypes = map[string]reflect.Type{
	wire.TypeSubscribeTopology: reflect.TypeFor[wire.SubscribeTopology](),
	wire.TypeTopologySnapshot:  reflect.TypeFor[wire.TopologySnapshot](),
	wire.TypeGetShardLocation:  reflect.TypeFor[wire.GetShardLocation](),
	wire.TypeShardLocation:     reflect.TypeFor[wire.ShardLocation](),
	wire.TypeShardEnvelope:     reflect.TypeFor[wire.ShardEnvelope](),
	pyCountReply:               reflect.TypeFor[CountReply](),
	pyNodeStats:                reflect.TypeFor[NodeStats](),
	pyGetStats:                 reflect.TypeFor[GetStats](),
}

// TestGoldenMessages decodes every captured message frame into its typed
// value, checks decode(encode(x)) == x, and compares what we encode with
// the captured bytes: whole frames (header and payload) must be identical,
// except that a TopologySnapshot's __dict__ entries are written in key
// order by us and in insertion order by Python, so for those the parsed
// structures are compared with dict entries sorted.
func TestGoldenMessages(t *testing.T) {
	r := testRegistry(t)
	seen := map[string]int{}
	identical := map[string]int{}
	envelopeMessages := map[reflect.Type]int{}
	for _, m := range loadGoldenMessages(t) {
		h, payload := goldenPayload(t, m)
		if h.TypeHint != m.TypeHint {
			t.Errorf("%s#%d: type_hint %q, want %q", m.Conn, m.Seq, h.TypeHint, m.TypeHint)
		}
		want, ok := goldenTypes[m.TypeHint]
		if !ok {
			t.Errorf("%s#%d: no Go type for %s", m.Conn, m.Seq, m.TypeHint)
			continue
		}
		v, err := r.Decode(payload)
		if err != nil {
			t.Errorf("%s#%d %s: Decode: %v", m.Conn, m.Seq, m.TypeHint, err)
			continue
		}
		if reflect.TypeOf(v) != want {
			t.Errorf("%s#%d: decoded %T, want %v", m.Conn, m.Seq, v, want)
			continue
		}
		seen[m.TypeHint]++
		checkGoldenValue(t, m, v)
		if env, ok := v.(wire.ShardEnvelope); ok {
			envelopeMessages[reflect.TypeOf(env.Message)]++
		}

		// DecodeInto agrees with Decode.
		p := reflect.New(want)
		if err := r.DecodeInto(payload, p.Interface()); err != nil || !valuesEqual(p.Elem().Interface(), v) {
			t.Errorf("%s#%d: DecodeInto = %#v, %v; want %#v", m.Conn, m.Seq, p.Elem().Interface(), err, v)
		}

		// decode(encode(x)) == x
		enc, err := r.AppendValue(nil, v)
		if err != nil {
			t.Errorf("%s#%d: AppendValue: %v", m.Conn, m.Seq, err)
			continue
		}
		v2, err := r.Decode(enc)
		if err != nil || !valuesEqual(v, v2) {
			t.Errorf("%s#%d: round trip: %v\n got %#v\nwant %#v", m.Conn, m.Seq, err, v2, v)
		}

		// Our frame for the same header and value.
		frame, err := r.AppendMessageFrame(nil, h.Target, h.Sender, v, 0)
		if err != nil {
			t.Errorf("%s#%d: AppendMessageFrame: %v", m.Conn, m.Seq, err)
			continue
		}
		if bytes.Equal(frame, m.raw) {
			identical[m.TypeHint]++
			continue
		}
		if m.TypeHint != wire.TypeTopologySnapshot {
			t.Errorf("%s#%d %s: our frame differs from Casty's\n got %q\nwant %q", m.Conn, m.Seq, m.TypeHint, frame, m.raw)
			continue
		}
		_, ourPayload := goldenPayload(t, goldenMessage{Conn: "ours", raw: frame})
		if len(frame) != len(m.raw) {
			t.Errorf("%s#%d: our snapshot frame is %d bytes, Casty's %d", m.Conn, m.Seq, len(frame), len(m.raw))
		}
		if a, b := canonicalJSON(t, ourPayload), canonicalJSON(t, payload); !reflect.DeepEqual(a, b) {
			t.Errorf("%s#%d: snapshot structure differs\n got %s\nwant %s", m.Conn, m.Seq, ourPayload, payload)
		}
	}
	for hint := range goldenTypes {
		if seen[hint] == 0 {
			t.Errorf("no golden frame of %s decoded", hint)
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Increment](), reflect.TypeFor[GetCount]()} {
		if envelopeMessages[typ] == 0 {
			t.Errorf("no ShardEnvelope carrying %v", typ)
		}
	}
	// Client->node messages are byte-identical, all of them.
	for _, hint := range []string{wire.TypeSubscribeTopology, wire.TypeShardEnvelope, wire.TypeGetShardLocation, pyGetStats, wire.TypeShardLocation, pyCountReply, pyNodeStats} {
		if identical[hint] != seen[hint] {
			t.Errorf("%s: %d of %d frames byte-identical, want all", hint, identical[hint], seen[hint])
		}
	}
	t.Logf("frames decoded per type: %v", seen)
	t.Logf("frames byte-identical when re-encoded: %v", identical)
}

// checkGoldenValue spot-checks decoded contents against what the capture
// is known to hold.
func checkGoldenValue(t *testing.T, m goldenMessage, v any) {
	t.Helper()
	switch x := v.(type) {
	case wire.SubscribeTopology:
		if x.ReplyTo.Path != wire.PathTopologySub || x.ReplyTo.System != "live-client" {
			t.Errorf("%s#%d: reply_to %+v", m.Conn, m.Seq, x.ReplyTo)
		}
	case wire.TopologySnapshot:
		if len(x.Members) != 3 || x.Leader == nil || len(x.Registry) != 3 {
			t.Errorf("%s#%d: snapshot %+v", m.Conn, m.Seq, x)
		}
		for _, mem := range x.Members {
			if mem.Status < wire.StatusJoining || mem.Status > wire.StatusRemoved || mem.Address.Port == 0 || mem.ID == "" {
				t.Errorf("%s#%d: member %+v", m.Conn, m.Seq, mem)
			}
		}
		for typ, shards := range x.ShardAllocations {
			for id, a := range shards {
				if typ != "counter" || id < 0 || id >= 32 || a.Primary.Port == 0 {
					t.Errorf("%s#%d: allocation %s/%d %+v", m.Conn, m.Seq, typ, id, a)
				}
			}
		}
	case wire.GetShardLocation:
		if x.ShardID < 0 || x.ShardID >= 32 || x.ReplyTo.Path != wire.PathProxyPrefix+"counter" {
			t.Errorf("%s#%d: %+v", m.Conn, m.Seq, x)
		}
	case wire.ShardLocation:
		if x.Node.Port == 0 || len(x.Replicas) != 0 {
			t.Errorf("%s#%d: %+v", m.Conn, m.Seq, x)
		}
	case wire.ShardEnvelope:
		if x.EntityID == "" || x.Message == nil {
			t.Errorf("%s#%d: %+v", m.Conn, m.Seq, x)
		}
	case NodeStats:
		if x.Node == "" {
			t.Errorf("%s#%d: %+v", m.Conn, m.Seq, x)
		}
	}
}

// canonicalJSON parses JSON (as encoding/json does) and sorts the pair
// list of every {"__dict__": [...]} by the JSON of its keys, so that two
// encodings that differ only in dict order compare equal.
func canonicalJSON(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("canonicalJSON: %v", err)
	}
	return canonicalize(v)
}

func canonicalize(v any) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = canonicalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = canonicalize(x[k])
		}
		if pairs, ok := x["__dict__"].([]any); ok {
			slices.SortFunc(pairs, func(a, b any) int {
				ka, _ := json.Marshal(a.([]any)[0])
				kb, _ := json.Marshal(b.([]any)[0])
				return bytes.Compare(ka, kb)
			})
		}
	}
	return v
}

// TestGoldenUnsubscribeTopology: ClusterClient never sends
// UnsubscribeTopology, so there is no capture; its form is PROTOCOL.md
// 6.1's {"_type": ..., "subscriber": <ref>}, built here like the captured
// SubscribeTopology frame with the same header layout.
func TestGoldenUnsubscribeTopology(t *testing.T) {
	r := testRegistry(t)
	var sub goldenMessage
	for _, m := range loadGoldenMessages(t) {
		if m.TypeHint == wire.TypeSubscribeTopology {
			sub = m
			break
		}
	}
	h, payload := goldenPayload(t, sub)
	v, err := r.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	ref := v.(wire.SubscribeTopology).ReplyTo
	frame, err := r.AppendMessageFrame(nil, h.Target, h.Sender, wire.UnsubscribeTopology{Subscriber: ref}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.ReplaceAll(sub.raw, []byte("SubscribeTopology\", \"reply_to\""), []byte("UnsubscribeTopology\", \"subscriber\""))
	want = bytes.ReplaceAll(want, []byte("SubscribeTopology\"}"), []byte("UnsubscribeTopology\"}"))
	// Fix the two length fields for the longer names.
	_, body, _, _ := wire.ParseFrame(frame, 0)
	if len(frame) != len(want) {
		t.Fatalf("length %d, want %d", len(frame), len(want))
	}
	copy(want[:4], frame[:4])
	copy(want[5:9], body[:4])
	if !bytes.Equal(frame, want) {
		t.Errorf("UnsubscribeTopology frame\n got %q\nwant %q", frame, want)
	}
}
