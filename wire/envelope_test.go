package wire

import (
	"encoding/binary"
	"errors"
	"testing"
)

// envBody builds a message frame body from a raw header and payload.
func envBody(header, payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(header)))
	return append(append(b, header...), payload...)
}

func TestAppendHeader(t *testing.T) {
	tests := []struct {
		h    Header
		want string
	}{
		{
			Header{"casty://live@127.0.0.1:25560/_cluster/_topology", "casty://live-client@127.0.0.1:0/", TypeSubscribeTopology},
			`{"target": "casty://live@127.0.0.1:25560/_cluster/_topology", "sender": "casty://live-client@127.0.0.1:0/", "type_hint": "casty.cluster.topology.SubscribeTopology"}`,
		},
		{Header{}, `{"target": "", "sender": "", "type_hint": ""}`},
		{
			Header{"casty://s/a\"b\\c\n\r\t\b\f\x01\x7f", "é€😀", "x"},
			`{"target": "casty://s/a\"b\\c\n\r\t\b\f\u0001\u007f", "sender": "\u00e9\u20ac\ud83d\ude00", "type_hint": "x"}`,
		},
		{Header{"\xff", "", ""}, `{"target": "\ufffd", "sender": "", "type_hint": ""}`},
	}
	for _, tt := range tests {
		got := AppendHeader([]byte("pre"), tt.h)
		want := append([]byte("pre"), envBody(tt.want, "")...)
		if string(got) != string(want) {
			t.Errorf("AppendHeader(%q):\n got %q\nwant %q", tt.h, got, want)
		}
	}
}

func TestParseMessage(t *testing.T) {
	ok := []struct {
		header  string
		payload string
		want    Header
	}{
		{`{"target": "casty://s@h:1/p", "sender": "casty://c@h:0/", "type_hint": "T"}`, `{"_type": "T"}`,
			Header{"casty://s@h:1/p", "casty://c@h:0/", "T"}},
		{`{"target":"t"}`, ``, Header{Target: "t"}},
		{` {"type_hint": "x", "target": "a", "target": "b", "other": {"n": [1, 2.5, NaN]}} `, `P`, Header{Target: "b", TypeHint: "x"}},
		{`{"target": "a\u00e9\ud83d\ude00\/\"", "sender": "\n"}`, ``, Header{Target: "aé😀/\"", Sender: "\n"}},
		{`{"t\u0061rget": "x"}`, ``, Header{Target: "x"}},
		{`{"target": "\ud800x"}`, ``, Header{Target: "\ufffdx"}},
		{`{"target": "é"}`, ``, Header{Target: "é"}},
	}
	for _, tt := range ok {
		body := envBody(tt.header, tt.payload)
		h, payload, err := ParseMessage(body)
		if err != nil {
			t.Errorf("ParseMessage(%q): %v", tt.header, err)
			continue
		}
		if h != tt.want || string(payload) != tt.payload {
			t.Errorf("ParseMessage(%q): got (%+v, %q), want (%+v, %q)", tt.header, h, payload, tt.want, tt.payload)
		}
	}
	bad := [][]byte{
		nil,
		{0, 0, 0},
		{0, 0, 0, 5, '{', '}'},
		{0xff, 0xff, 0xff, 0xff},
		envBody(``, `{"target": "a"}`),
		envBody(`{}`, ``),
		envBody(`{"sender": "a"}`, ``),
		envBody(`{"target": 1}`, ``),
		envBody(`{"target": null}`, ``),
		envBody(`{"target": "a", "sender": 2}`, ``),
		envBody(`{"target": "a"} x`, ``),
		envBody(`{"target": "a"`, `}`),
		envBody(`{"target": "a\q"}`, ``),
		envBody("{\"target\": \"a\x00\"}", ``),
		envBody("{\"target\": \"\xc3\"}", ``),
		envBody(`["target", "a"]`, ``),
		envBody(`{"target": "a", "x": [}`, ``),
	}
	for _, body := range bad {
		_, _, err := ParseMessage(body)
		var ee *EnvelopeError
		if !errors.As(err, &ee) {
			t.Errorf("ParseMessage(%q): got %v, want *EnvelopeError", body, err)
		}
		if _, _, err := ParseTargetPath(body); !errors.As(err, &ee) {
			t.Errorf("ParseTargetPath(%q): got %v, want *EnvelopeError", body, err)
		}
	}
}

func TestParseTargetPath(t *testing.T) {
	tests := []struct {
		target string // JSON string content as written in the header
		want   string
		alias  bool
	}{
		{`casty://live@127.0.0.1:25560/_region-counter`, "/_region-counter", true},
		{`casty://live@127.0.0.1:25560/_cluster/_topology`, "/_cluster/_topology", true},
		{`casty://live-client/_ask/abc`, "/_ask/abc", true},
		{`casty://z@[::1]:7000/_region-x`, "/_region-x", true},
		{`casty:\/\/live@h:1\/_region-\u00e9`, "/_region-é", false},
	}
	for _, tt := range tests {
		body := envBody(`{"target": "`+tt.target+`", "sender": "casty://c@h:0/", "type_hint": "T"}`, `{"v": 1}`)
		got, payload, err := ParseTargetPath(body)
		if err != nil {
			t.Errorf("ParseTargetPath(%s): %v", tt.target, err)
			continue
		}
		if string(got) != tt.want || string(payload) != `{"v": 1}` {
			t.Errorf("ParseTargetPath(%s): got (%q, %q), want (%q, %q)", tt.target, got, payload, tt.want, `{"v": 1}`)
		}
		aliases := len(got) > 0 && &got[0] == &body[len(body)-len(got)-len(`", "sender": "casty://c@h:0/", "type_hint": "T"}{"v": 1}`)]
		if aliases != tt.alias {
			t.Errorf("ParseTargetPath(%s): aliases body = %v, want %v", tt.target, aliases, tt.alias)
		}
	}
	for _, target := range []string{`casty://c@h:0/`, `casty://x`, `http://a/b`} {
		body := envBody(`{"target": "`+target+`"}`, ``)
		var ae *AddressError
		if _, _, err := ParseTargetPath(body); !errors.As(err, &ae) {
			t.Errorf("ParseTargetPath(%s): got %v, want *AddressError", target, err)
		}
	}
}
