package wire

import (
	"errors"
	"reflect"
	"testing"
)

func TestAppendHandshake(t *testing.T) {
	tests := []struct {
		h    Handshake
		want string
	}{
		{Handshake{Host: "127.0.0.1", Port: 0}, `{"host": "127.0.0.1", "port": 0}`},
		{Handshake{Host: "127.0.0.1", Port: 25560}, `{"host": "127.0.0.1", "port": 25560}`},
		{Handshake{Host: "::1", Port: 7000}, `{"host": "::1", "port": 7000}`},
		{Handshake{Host: "héte", Port: 1}, `{"host": "h\u00e9te", "port": 1}`},
		{
			Handshake{Host: "10.0.0.1", Port: 9, Zerohop: &Extension{System: "live", Version: 1, Codecs: []string{"json", "zh1"}, Codec: "", ShardHash: "md5", Role: RoleClient}},
			`{"host": "10.0.0.1", "port": 9, "zerohop": {"system": "live", "version": 1, "codecs": ["json", "zh1"], "codec": "", "shard_hash": "md5", "role": "client"}}`,
		},
		{
			Handshake{Host: "h", Port: 2, Zerohop: &Extension{}},
			`{"host": "h", "port": 2, "zerohop": {"system": "", "version": 0, "codecs": [], "codec": "", "shard_hash": "", "role": ""}}`,
		},
		{
			Handshake{Host: "h", Port: 3, Zerohop: &Extension{System: "live", Role: RoleNode,
				Entities: []EntityShards{{"counter", 32, ""}, {"k\"y", 1, ""}}, Refused: "no \"x\""}},
			`{"host": "h", "port": 3, "zerohop": {"system": "live", "version": 0, "codecs": [], "codec": "", "shard_hash": "", "role": "node", "entities": {"counter": 32, "k\"y": 1}, "refused": "no \"x\""}}`,
		},
		{
			// entity_hashes: only the types whose hash is not MD5, after
			// "entities" ({"counter": 32} stays byte for byte).
			Handshake{Host: "h", Port: 5, Zerohop: &Extension{System: "live", Role: RoleNode,
				Entities: []EntityShards{{"counter", 32, "xxh64"}, {"other", 8, ""}, {"k\"y", 1, "xxh64"}}}},
			`{"host": "h", "port": 5, "zerohop": {"system": "live", "version": 0, "codecs": [], "codec": "", "shard_hash": "", "role": "node", "entities": {"counter": 32, "other": 8, "k\"y": 1}, "entity_hashes": {"counter": "xxh64", "k\"y": "xxh64"}}}`,
		},
		{
			Handshake{Host: "h", Port: 4, Zerohop: &Extension{System: "live", Version: 1, Codecs: []string{"json", "zhbin"}, Codec: "zhbin", Role: RoleNode,
				Binary: []BinaryType{{"app.Increment", 1, "9f3a"}, {"k\"y", 4095, "00"}}}},
			`{"host": "h", "port": 4, "zerohop": {"system": "live", "version": 1, "codecs": ["json", "zhbin"], "codec": "zhbin", "shard_hash": "", "role": "node", "binary": {"app.Increment": "1:9f3a", "k\"y": "4095:00"}}}`,
		},
	}
	for _, tt := range tests {
		if got := string(AppendHandshake(nil, tt.h)); got != tt.want {
			t.Errorf("AppendHandshake(%+v):\n got %s\nwant %s", tt.h, got, tt.want)
		}
		got, err := ParseHandshake([]byte(tt.want))
		if err != nil {
			t.Errorf("ParseHandshake(%s): %v", tt.want, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.h) {
			t.Errorf("ParseHandshake(%s): got %+v, want %+v", tt.want, got, tt.h)
		}
	}
}

func TestAppendHandshakeFrame(t *testing.T) {
	got := AppendHandshakeFrame([]byte{9}, Handshake{Host: "127.0.0.1"})
	want := append([]byte{9}, frameBytes(FrameHandshake, `{"host": "127.0.0.1", "port": 0}`)...)
	if string(got) != string(want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func TestParseHandshake(t *testing.T) {
	ok := []struct {
		in   string
		want Handshake
	}{
		{`{"host":"a","port":1}`, Handshake{Host: "a", Port: 1}},
		{" \t\r\n{ \"port\" : 65535 , \"host\" : \"b\" } \n", Handshake{Host: "b", Port: 65535}},
		{`{"host": "a", "port": 1, "extra": [1, {"x": null}, NaN, -Infinity, 1.5e3, true]}`, Handshake{Host: "a", Port: 1}},
		{`{"host": "x", "port": 5, "host": "y"}`, Handshake{Host: "y", Port: 5}},
		{`{"h\u006fst": "\u0061", "port": -0}`, Handshake{Host: "a", Port: 0}},
		{`{"host": "fe80::1%eth0", "port": 1}`, Handshake{Host: "fe80::1%eth0", Port: 1}},
		{`{"host": "a", "port": 1, "zerohop": {"role": "node", "future": {"k": [1]}, "codecs": ["json"]}}`,
			Handshake{Host: "a", Port: 1, Zerohop: &Extension{Role: RoleNode, Codecs: []string{"json"}}}},
		// entity_hashes: before or after entities, "md5" read as "", the last
		// duplicate wins, an entry for a type not announced is ignored.
		{`{"host": "a", "port": 1, "zerohop": {"entity_hashes": {"c": "xxh64", "d": "md5", "e": "xxh64", "gone": "xxh64"}, "entities": {"c": 1, "d": 2, "e": 3}}}`,
			Handshake{Host: "a", Port: 1, Zerohop: &Extension{Entities: []EntityShards{{"c", 1, "xxh64"}, {"d", 2, ""}, {"e", 3, "xxh64"}}}}},
		{`{"host": "a", "port": 1, "zerohop": {"entities": {"c": 1}, "entity_hashes": {"c": "xxh64", "c": "md5"}}}`,
			Handshake{Host: "a", Port: 1, Zerohop: &Extension{Entities: []EntityShards{{"c", 1, ""}}}}},
		{`{"host": "a", "port": 1, "zerohop": {"entity_hashes": {"c": "xxh64"}}}`,
			Handshake{Host: "a", Port: 1, Zerohop: &Extension{}}},
	}
	for _, tt := range ok {
		got, err := ParseHandshake([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseHandshake(%q): got error %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseHandshake(%q): got %+v, want %+v", tt.in, got, tt.want)
		}
	}
	bad := []string{
		``,
		`null`,
		`[]`,
		`"host"`,
		`{`,
		`{"host": "a", "port": 1`,
		`{"host": "a", "port": 1}x`,
		`{"host": "a", "port": 1}{}`,
		`{"host": "a"}`,
		`{"port": 1}`,
		`{"host": "", "port": 1}`,
		`{"host": 1, "port": 1}`,
		`{"host": null, "port": 1}`,
		`{"host": "a", "port": "1"}`,
		`{"host": "a", "port": 1.0}`,
		`{"host": "a", "port": 1e2}`,
		`{"host": "a", "port": -1}`,
		`{"host": "a", "port": 65536}`,
		`{"host": "a", "port": 99999999999999999999}`,
		`{"host": "a", "port": NaN}`,
		`{"host": "a", "port": true}`,
		`{"host": "a", "port": 01}`,
		`{"host": "a b", "port": 1}`,
		`{"host": "a/b", "port": 1}`,
		`{"host": "a@b", "port": 1}`,
		`{"host": "[::1]", "port": 1}`,
		`{"host": "a\nb", "port": 1}`,
		"{\"host\": \"a\tb\", \"port\": 1}",
		`{"host": "a\x", "port": 1}`,
		`{"host": "a\u12", "port": 1}`,
		"{\"host\": \"\xff\", \"port\": 1}",
		`{"host": "a", "port": 1,}`,
		`{,"host": "a", "port": 1}`,
		`{"host" "a", "port": 1}`,
		`{"host": "a", "port": 1, "zerohop": 1}`,
		`{"host": "a", "port": 1, "zerohop": {"version": "1"}}`,
		`{"host": "a", "port": 1, "zerohop": {"codecs": "json"}}`,
		`{"host": "a", "port": 1, "zerohop": {"codecs": ["json", 1]}}`,
		`{"host": "a", "port": 1, "zerohop": {"codecs": ["json",]}}`,
		`{"host": "a", "port": 1, "zerohop": {"entities": []}}`,
		`{"host": "a", "port": 1, "zerohop": {"entities": {"c": "32"}}}`,
		`{"host": "a", "port": 1, "zerohop": {"entities": {"c": 0}}}`,
		`{"host": "a", "port": 1, "zerohop": {"entities": {"c": 1.5}}}`,
		`{"host": "a", "port": 1, "zerohop": {"refused": 1}}`,
		`{"host": "a", "port": 1, "zerohop": {"entity_hashes": []}}`,
		`{"host": "a", "port": 1, "zerohop": {"entity_hashes": {"c": 1}}}`,
		`{"host": "a", "port": 1, "zerohop": {"entity_hashes": {"c": "sha1"}}}`,
		`{"host": "a", "port": 1, "zerohop": {"entity_hashes": {"c": ""}}}`,
		`{"host": "a", "port": 1, "zerohop": {"entity_hashes": {"c": "XXH64"}}}`,
		`{"host": "a", "port": 1, "zerohop": {"entities": {"c": 1}, "entity_hashes": {"c": "xxh64",}}}`,
		`{"host": "a", "port": 1, "zerohop": {"binary": []}}`,
		`{"host": "a", "port": 1, "zerohop": {"binary": {"t": 1}}}`,
		`{"host": "a", "port": 1, "zerohop": {"binary": {"t": "1"}}}`,
		`{"host": "a", "port": 1, "zerohop": {"binary": {"t": "0:x"}}}`,
		`{"host": "a", "port": 1, "zerohop": {"binary": {"t": "4096:x"}}}`,
		`{"host": "a", "port": 1, "zerohop": {"binary": {"t": "-1:x"}}}`,
		`{"host": "a", "port": 1, "zerohop": {"binary": {"t": "+1:x"}}}`,
		`{"host": "a", "port": 1, "zerohop": {"binary": {"t": "1:"}}}`,
		`{"host": "a", "port": 1, "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"host": "a", "port": 1, "x": tru}`,
	}
	for _, in := range bad {
		_, err := ParseHandshake([]byte(in))
		var he *HandshakeError
		if !errors.As(err, &he) {
			t.Errorf("ParseHandshake(%q): got %v, want *HandshakeError", in, err)
		}
	}
}

func TestHandshakeNode(t *testing.T) {
	h := Handshake{Host: "10.0.0.1", Port: 25560}
	if got, want := h.Node(), (NodeAddress{Host: "10.0.0.1", Port: 25560}); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}
