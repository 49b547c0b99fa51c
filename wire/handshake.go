package wire

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zerohop/zerohop/internal/pyjson"
	"github.com/zerohop/zerohop/ring"
)

// Handshake is the body of a handshake frame (PROTOCOL.md section 2.2): the
// sender's node identity and, from zerohop peers only, the "zerohop"
// extension object (Casty ignores unknown keys and never sends it). A
// Handshake is a plain value, safe to copy; Zerohop is shared by copies.
type Handshake struct {
	Host    string
	Port    int
	Zerohop *Extension // nil when absent
}

// Extension is the "zerohop" object of a handshake, the negotiation
// between zerohop peers (package zhbin decides the payload codec from it):
//
//	"zerohop": {"system": "live", "version": 1, "codecs": ["json"],
//	            "codec": "json", "shard_hash": "md5", "role": "client"}
//
// System is the sender's actor system name; Version the extension version;
// Codecs the payload codecs the sender offers (a connecting side) and Codec
// the one chosen (an accepting side): "json" (Casty's) or "zhbin"; ShardHash the entity->shard hash
// the sender itself defaults to (always "md5" today: the hash that routes
// a type is the one announced with it, below); Role "client" or "node".
// Fields a peer does not send are left zero; unknown keys are ignored.
//
// Optional keys, written only when set (so a handshake without them is
// byte for byte what older zerohop versions sent, and older peers skip
// them as unknown keys): "binary", an object mapping each message type the
// sender carries in the zhbin binary codec to "id:schema" (BinaryType),
// written by a peer that offers zhbin; "entities", an object mapping each entity type
// the node hosts to its shard count ({"counter": 32}), and "refused", the
// reason a node refused the connection (it sends its handshake with it and
// closes); and "entity_hashes", an object mapping the entity types of
// "entities" whose shard hash is not MD5 to its name ({"counter":
// "xxh64"}, see package ring): written only when some type's hash is not
// MD5, so an all-MD5 announcement is byte for byte the older one; an
// absent entry means MD5, an unknown name is a HandshakeError, an entry
// for a type "entities" lacks is ignored; and "heads", written by a node
// that chose "zhbin" (only then): how many frame heads it keeps for the
// connection, so that the client may send headed frames with ids below it
// (heads.go; 0..MaxHeads, anything else is a HandshakeError); and
// "window", written by a node that chose "zhbin" and bounds its clients'
// frames in flight: the client keeps at most that many frames written and
// not yet acknowledged by a FrameCredit (heads.go; 0..MaxWindow).
type Extension struct {
	System    string
	Version   int
	Codecs    []string
	Codec     string
	ShardHash string
	Role      string
	Entities  []EntityShards // in the order sent; nil when absent
	Refused   string         // "" when absent
	Binary    []BinaryType   // in the order sent; nil when absent
	Heads     int            // 0 when absent
	Window    int            // 0 when absent
}

// BinaryType is one entry of Extension.Binary: a message type the sender
// carries in the zhbin binary codec, under a small id, with a digest of
// its field layout. It is written as "name": "id:schema" inside the
// "binary" object. Two peers use the binary codec on a connection only
// when their tables are equal (zhbin.Agree).
type BinaryType struct {
	Name   string
	ID     int
	Schema string
}

// EntityShards is one entry of Extension.Entities: an entity type, its
// shard count and the name of its shard hash (ring.Hash.Name): "" or
// "md5" for MD5, Casty's (ParseHandshake gives ""), "xxh64" for XXH64.
type EntityShards struct {
	Type   string
	Shards int
	Hash   string
}

// Extension roles.
const (
	RoleClient = "client"
	RoleNode   = "node"
)

// HandshakeError reports a handshake body that is not a JSON object with a
// valid host and port (or has a malformed "zerohop" object). The connection
// must be closed.
type HandshakeError struct {
	Reason string
	Offset int // byte offset in the body, -1 when not applicable
}

func (e *HandshakeError) Error() string {
	s := "wire: bad handshake: " + e.Reason
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	return s
}

// AppendHandshake appends the handshake JSON of h to dst, byte for byte as
// Python's json.dumps writes {"host": ..., "port": ...}, followed by the
// "zerohop" object when h.Zerohop is set. Nil Codecs are written as [].
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, `{"host": `...)
	dst = pyjson.AppendString(dst, h.Host)
	dst = append(dst, `, "port": `...)
	dst = strconv.AppendInt(dst, int64(h.Port), 10)
	if x := h.Zerohop; x != nil {
		dst = append(dst, `, "zerohop": {"system": `...)
		dst = pyjson.AppendString(dst, x.System)
		dst = append(dst, `, "version": `...)
		dst = strconv.AppendInt(dst, int64(x.Version), 10)
		dst = append(dst, `, "codecs": [`...)
		for i, c := range x.Codecs {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = pyjson.AppendString(dst, c)
		}
		dst = append(dst, `], "codec": `...)
		dst = pyjson.AppendString(dst, x.Codec)
		dst = append(dst, `, "shard_hash": `...)
		dst = pyjson.AppendString(dst, x.ShardHash)
		dst = append(dst, `, "role": `...)
		dst = pyjson.AppendString(dst, x.Role)
		if len(x.Entities) > 0 {
			dst = append(dst, `, "entities": {`...)
			for i, e := range x.Entities {
				if i > 0 {
					dst = append(dst, ", "...)
				}
				dst = pyjson.AppendString(dst, e.Type)
				dst = append(dst, ": "...)
				dst = strconv.AppendInt(dst, int64(e.Shards), 10)
			}
			dst = append(dst, '}')
			dst = appendEntityHashes(dst, x.Entities)
		}
		if x.Refused != "" {
			dst = append(dst, `, "refused": `...)
			dst = pyjson.AppendString(dst, x.Refused)
		}
		if len(x.Binary) > 0 {
			dst = append(dst, `, "binary": {`...)
			for i, t := range x.Binary {
				if i > 0 {
					dst = append(dst, ", "...)
				}
				dst = pyjson.AppendString(dst, t.Name)
				dst = append(dst, ": "...)
				dst = pyjson.AppendString(dst, strconv.Itoa(t.ID)+":"+t.Schema)
			}
			dst = append(dst, '}')
		}
		if x.Heads > 0 {
			dst = append(dst, `, "heads": `...)
			dst = strconv.AppendInt(dst, int64(x.Heads), 10)
		}
		if x.Window > 0 {
			dst = append(dst, `, "window": `...)
			dst = strconv.AppendInt(dst, int64(x.Window), 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// AppendHandshakeFrame appends a whole handshake frame (length, type 0x00,
// AppendHandshake body) to dst.
func AppendHandshakeFrame(dst []byte, h Handshake) []byte {
	dst, start := BeginFrame(dst, FrameHandshake)
	dst = AppendHandshake(dst, h)
	// A handshake is far below any frame limit; the length always fits.
	n := uint32(len(dst) - start - 4)
	dst[start], dst[start+1], dst[start+2], dst[start+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return dst
}

// appendEntityHashes appends the "entity_hashes" key of es when one of
// them has a hash other than MD5 (its entries only: absent means MD5).
func appendEntityHashes(dst []byte, es []EntityShards) []byte {
	n := 0
	for _, e := range es {
		if !isMD5(e.Hash) {
			if n == 0 {
				dst = append(dst, `, "entity_hashes": {`...)
			} else {
				dst = append(dst, ", "...)
			}
			dst = pyjson.AppendString(dst, e.Type)
			dst = append(dst, ": "...)
			dst = pyjson.AppendString(dst, e.Hash)
			n++
		}
	}
	if n > 0 {
		dst = append(dst, '}')
	}
	return dst
}

// isMD5 reports whether hash names MD5 in an EntityShards ("" or "md5").
func isMD5(hash string) bool { return hash == "" || hash == "md5" }

// Node returns the node identity the handshake claims.
func (h Handshake) Node() NodeAddress { return NodeAddress{Host: h.Host, Port: h.Port} }

// Limits on handshake fields (a handshake is a few dozen bytes in practice).
const (
	maxHandshakeHost   = 255
	maxHandshakeString = 256
	maxHandshakeCodecs = 32
	// maxHandshakeEntities bounds Extension.Entities.
	maxHandshakeEntities = 1024
)

func hsErr(reason string, off int) *HandshakeError {
	return &HandshakeError{Reason: reason, Offset: off}
}

// ParseHandshake parses a handshake body: any JSON object (Python json.loads
// syntax, UTF-8) with "host", a non-empty string of at most 255 bytes with
// no control characters, whitespace or '/', '@', '[', ']' (it becomes part of
// actor URIs), and "port", a JSON integer in 0..65535. (Casty passes port
// through int(), which would also take 1.0 or "1"; no sender writes those.)
// Other keys are ignored except "zerohop", which must then be an object
// whose known keys have the types of Extension. Duplicate keys: the last
// wins, as in Python. Errors are *HandshakeError.
func ParseHandshake(body []byte) (Handshake, error) {
	var h Handshake
	if !utf8.Valid(body) {
		return h, hsErr("not valid UTF-8", -1)
	}
	it, serr := pyjson.ObjectStart(body, 0)
	if serr != nil {
		return h, hsErr(serr.Reason, serr.Offset)
	}
	hostSet, portSet := false, false
	for {
		ks, ke, kesc, vs, done, end, serr := it.Next()
		if serr != nil {
			return h, hsErr(serr.Reason, serr.Offset)
		}
		if done {
			if j := pyjson.SkipSpace(body, end); j != len(body) {
				return h, hsErr("extra data after JSON object", j)
			}
			break
		}
		var vend int
		var err error
		switch {
		case pyjson.KeyIs(body, ks, ke, kesc, "host"):
			h.Host, vend, err = hsString(body, vs, "host", maxHandshakeHost)
			if err == nil {
				err = checkHost(h.Host, vs)
			}
			hostSet = true
		case pyjson.KeyIs(body, ks, ke, kesc, "port"):
			h.Port, vend, err = hsInt(body, vs, "port")
			if err == nil && (h.Port < 0 || h.Port > 65535) {
				err = hsErr("port "+strconv.Itoa(h.Port)+" out of range 0..65535", vs)
			}
			portSet = true
		case pyjson.KeyIs(body, ks, ke, kesc, "zerohop"):
			h.Zerohop, vend, err = parseExtension(body, vs)
		default:
			var serr *pyjson.SyntaxError
			if vend, serr = pyjson.SkipValue(body, vs, 1); serr != nil {
				err = hsErr(serr.Reason, serr.Offset)
			}
		}
		if err != nil {
			return Handshake{}, err
		}
		it.ValueEnd(vend)
	}
	if !hostSet {
		return Handshake{}, hsErr("missing host", -1)
	}
	if !portSet {
		return Handshake{}, hsErr("missing port", -1)
	}
	return h, nil
}

// checkHost rejects hosts that could not be used in a node identity or URI.
func checkHost(host string, off int) error {
	if r := hostProblem(host); r != "" {
		return hsErr(r, off)
	}
	return nil
}

// hostProblem says what makes host unusable as a node's host (in a
// handshake, a URI or a "host:port"), "" when nothing does.
func hostProblem(host string) string {
	if host == "" {
		return "empty host"
	}
	if !utf8.ValidString(host) {
		return "host is not valid UTF-8"
	}
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case c <= ' ' || c == 0x7f:
			return "host contains a control or space character"
		case c == '/' || c == '@' || c == '[' || c == ']':
			return "host contains " + strconv.QuoteRune(rune(c))
		}
	}
	return ""
}

// hsString decodes the JSON string value at b[vs].
func hsString(b []byte, vs int, name string, maxLen int) (string, int, error) {
	if vs >= len(b) || b[vs] != '"' {
		return "", 0, hsErr(name+" is not a string", vs)
	}
	end, esc, serr := pyjson.ScanString(b, vs)
	if serr != nil {
		return "", 0, hsErr(serr.Reason, serr.Offset)
	}
	raw := b[vs+1 : end-1]
	var s string
	if esc {
		s = string(pyjson.Unescape(nil, raw))
	} else {
		s = string(raw)
	}
	if len(s) > maxLen {
		return "", 0, hsErr(name+" longer than "+strconv.Itoa(maxLen)+" bytes", vs)
	}
	return s, end, nil
}

// hsInt decodes the JSON integer value at b[vs] (no fraction or exponent).
func hsInt(b []byte, vs int, name string) (int, int, error) {
	if vs >= len(b) || (b[vs] != '-' && (b[vs] < '0' || b[vs] > '9')) {
		return 0, 0, hsErr(name+" is not an integer", vs)
	}
	end, isInt, serr := pyjson.ScanNumber(b, vs)
	if serr != nil {
		return 0, 0, hsErr(serr.Reason, serr.Offset)
	}
	if !isInt {
		return 0, 0, hsErr(name+" is not an integer", vs)
	}
	n, err := strconv.ParseInt(string(b[vs:end]), 10, 32)
	if err != nil {
		return 0, 0, hsErr(name+" out of range", vs)
	}
	return int(n), end, nil
}

// parseExtension decodes the "zerohop" object at b[vs].
func parseExtension(b []byte, vs int) (*Extension, int, error) {
	it, serr := pyjson.ObjectStart(b, vs)
	if serr != nil {
		return nil, 0, hsErr("zerohop: "+serr.Reason, serr.Offset)
	}
	x := &Extension{}
	var hashes []EntityShards // "entity_hashes", applied to Entities at the end (keys come in any order)
	for {
		ks, ke, kesc, vs, done, end, serr := it.Next()
		if serr != nil {
			return nil, 0, hsErr("zerohop: "+serr.Reason, serr.Offset)
		}
		if done {
			for _, h := range hashes { // in order: the last duplicate wins
				for i := range x.Entities {
					if x.Entities[i].Type == h.Type {
						x.Entities[i].Hash = h.Hash
					}
				}
			}
			return x, end, nil
		}
		var vend int
		var err error
		switch {
		case pyjson.KeyIs(b, ks, ke, kesc, "system"):
			x.System, vend, err = hsString(b, vs, "zerohop.system", maxHandshakeString)
		case pyjson.KeyIs(b, ks, ke, kesc, "version"):
			x.Version, vend, err = hsInt(b, vs, "zerohop.version")
		case pyjson.KeyIs(b, ks, ke, kesc, "codecs"):
			x.Codecs, vend, err = hsStrings(b, vs)
		case pyjson.KeyIs(b, ks, ke, kesc, "codec"):
			x.Codec, vend, err = hsString(b, vs, "zerohop.codec", maxHandshakeString)
		case pyjson.KeyIs(b, ks, ke, kesc, "shard_hash"):
			x.ShardHash, vend, err = hsString(b, vs, "zerohop.shard_hash", maxHandshakeString)
		case pyjson.KeyIs(b, ks, ke, kesc, "role"):
			x.Role, vend, err = hsString(b, vs, "zerohop.role", maxHandshakeString)
		case pyjson.KeyIs(b, ks, ke, kesc, "entities"):
			x.Entities, vend, err = hsEntities(b, vs)
		case pyjson.KeyIs(b, ks, ke, kesc, "entity_hashes"):
			hashes, vend, err = hsEntityHashes(b, vs)
		case pyjson.KeyIs(b, ks, ke, kesc, "binary"):
			x.Binary, vend, err = hsBinary(b, vs)
		case pyjson.KeyIs(b, ks, ke, kesc, "heads"):
			x.Heads, vend, err = hsInt(b, vs, "zerohop.heads")
			if err == nil && (x.Heads < 0 || x.Heads > MaxHeads) {
				err = hsErr("zerohop.heads is not in 0.."+strconv.Itoa(MaxHeads), vs)
			}
		case pyjson.KeyIs(b, ks, ke, kesc, "window"):
			x.Window, vend, err = hsInt(b, vs, "zerohop.window")
			if err == nil && (x.Window < 0 || x.Window > MaxWindow) {
				err = hsErr("zerohop.window is not in 0.."+strconv.Itoa(MaxWindow), vs)
			}
		case pyjson.KeyIs(b, ks, ke, kesc, "refused"):
			x.Refused, vend, err = hsString(b, vs, "zerohop.refused", maxHandshakeString)
		default:
			var serr *pyjson.SyntaxError
			if vend, serr = pyjson.SkipValue(b, vs, 2); serr != nil {
				err = hsErr("zerohop: "+serr.Reason, serr.Offset)
			}
		}
		if err != nil {
			return nil, 0, err
		}
		it.ValueEnd(vend)
	}
}

// hsStrings decodes a JSON array of strings at b[vs]; [] gives nil.
func hsStrings(b []byte, vs int) ([]string, int, error) {
	if vs >= len(b) || b[vs] != '[' {
		return nil, 0, hsErr("zerohop.codecs is not an array", vs)
	}
	var out []string
	j := pyjson.SkipSpace(b, vs+1)
	if j < len(b) && b[j] == ']' {
		return nil, j + 1, nil
	}
	for {
		if len(out) == maxHandshakeCodecs {
			return nil, 0, hsErr("zerohop.codecs has more than "+strconv.Itoa(maxHandshakeCodecs)+" entries", j)
		}
		s, end, err := hsString(b, j, "zerohop.codecs entry", maxHandshakeString)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, s)
		j = pyjson.SkipSpace(b, end)
		if j >= len(b) {
			return nil, 0, hsErr("unexpected end of JSON", j)
		}
		if b[j] == ']' {
			return out, j + 1, nil
		}
		if b[j] != ',' {
			return nil, 0, hsErr("expected ',' or ']'", j)
		}
		j = pyjson.SkipSpace(b, j+1)
	}
}

// hsMembers decodes the object at b[vs] that the extension's key field
// holds (at most maxHandshakeEntities members, keys of at most
// maxHandshakeString bytes), calling member with each key and the offset
// of its value; member returns the end of the value. It returns the end of
// the object.
func hsMembers(b []byte, vs int, field string, member func(key string, vs int) (int, error)) (int, error) {
	it, serr := pyjson.ObjectStart(b, vs)
	if serr != nil {
		return 0, hsErr(field+": "+serr.Reason, serr.Offset)
	}
	for n := 0; ; n++ {
		ks, ke, kesc, vs, done, end, serr := it.Next()
		if serr != nil {
			return 0, hsErr(field+": "+serr.Reason, serr.Offset)
		}
		if done {
			return end, nil
		}
		if n == maxHandshakeEntities {
			return 0, hsErr(field+" has more than "+strconv.Itoa(maxHandshakeEntities)+" entries", ks)
		}
		raw := b[ks:ke]
		var key string
		if kesc {
			key = string(pyjson.Unescape(nil, raw))
		} else {
			key = string(raw)
		}
		if len(key) > maxHandshakeString {
			return 0, hsErr(field+" key longer than "+strconv.Itoa(maxHandshakeString)+" bytes", ks)
		}
		vend, err := member(key, vs)
		if err != nil {
			return 0, err
		}
		it.ValueEnd(vend)
	}
}

// hsEntities decodes the "entities" object at b[vs]: entity type ->
// shard count (an integer >= 1).
func hsEntities(b []byte, vs int) ([]EntityShards, int, error) {
	var out []EntityShards
	end, err := hsMembers(b, vs, "zerohop.entities", func(typ string, vs int) (int, error) {
		n, vend, err := hsInt(b, vs, "zerohop.entities value")
		if err != nil {
			return 0, err
		}
		if n < 1 {
			return 0, hsErr("zerohop.entities value "+strconv.Itoa(n)+" is not a shard count", vs)
		}
		out = append(out, EntityShards{Type: typ, Shards: n})
		return vend, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, end, nil
}

// hsEntityHashes decodes the "entity_hashes" object at b[vs]: entity type
// -> shard hash name (ring.ParseHash; "md5" is returned as ""), in order.
func hsEntityHashes(b []byte, vs int) ([]EntityShards, int, error) {
	var out []EntityShards
	end, err := hsMembers(b, vs, "zerohop.entity_hashes", func(typ string, vs int) (int, error) {
		name, vend, err := hsString(b, vs, "zerohop.entity_hashes value", maxHandshakeString)
		if err != nil {
			return 0, err
		}
		h, perr := ring.ParseHash(name)
		if perr != nil {
			return 0, hsErr("zerohop.entity_hashes value "+strconv.Quote(name)+" is not a shard hash (md5, xxh64)", vs)
		}
		if h == ring.HashMD5 {
			name = ""
		}
		out = append(out, EntityShards{Type: typ, Hash: name})
		return vend, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, end, nil
}

// maxBinaryID bounds a BinaryType's id (zhbin.MaxTypeID).
const maxBinaryID = 4095

// hsBinary decodes the "binary" object at b[vs]: message type ->
// "id:schema" (id an integer 1..4095, schema a non-empty string).
func hsBinary(b []byte, vs int) ([]BinaryType, int, error) {
	var out []BinaryType
	end, err := hsMembers(b, vs, "zerohop.binary", func(name string, vs int) (int, error) {
		v, vend, err := hsString(b, vs, "zerohop.binary value", maxHandshakeString)
		if err != nil {
			return 0, err
		}
		ids, schema, ok := strings.Cut(v, ":")
		id, perr := strconv.Atoi(ids)
		if !ok || perr != nil || id < 1 || id > maxBinaryID || schema == "" || strings.TrimLeft(ids, "0123456789") != "" {
			return 0, hsErr("zerohop.binary value "+strconv.Quote(v)+" is not \"id:schema\" with an id in 1.."+strconv.Itoa(maxBinaryID), vs)
		}
		out = append(out, BinaryType{Name: name, ID: id, Schema: schema})
		return vend, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, end, nil
}
