package wire

import (
	"cmp"
	"strconv"
	"strings"
)

// Address is a Casty actor address (PROTOCOL.md section 4):
//
//	remote: casty://{System}@{Host}:{Port}/{Path without its leading "/"}
//	local:  casty://{System}/{Path without its leading "/"}
//
// Host == "" means the local form. Path starts with "/". A Host containing
// ':' (an IPv6 literal, which zerohop nodes may use and Casty cannot parse)
// is written in brackets: casty://sys@[::1]:7000/path. Address is a
// comparable value type, safe to copy; the zero value is "no address".
type Address struct {
	System string
	Host   string
	Port   int
	Path   string
}

// AddressError reports a string that is not an actor or node address.
type AddressError struct {
	URI    string
	Reason string
}

func (e *AddressError) Error() string {
	return "wire: bad address " + strconv.Quote(e.URI) + ": " + e.Reason
}

const uriScheme = "casty://"

// uriParts are the offsets of an actor URI's parts, found by parseURI.
type uriParts struct {
	sysEnd    int // system is uri[len(uriScheme):sysEnd]
	hostStart int // host is uri[hostStart:hostEnd] (brackets excluded); empty for the local form
	hostEnd   int
	port      int
	pathStart int // path, with its leading "/", is uri[pathStart:pathEnd]
	pathEnd   int
}

type uriError struct{ reason string }

var (
	errURIScheme   = &uriError{"missing casty:// scheme"}
	errURISystem   = &uriError{"missing system name"}
	errURIForm     = &uriError{"neither casty://system@host:port/path nor casty://system/path"}
	errURIPath     = &uriError{"empty or multi-line path"}
	errURIPort     = &uriError{"port out of range 0..65535"}
	errURIBrackets = &uriError{"bad [ipv6] host"}
)

// parseURI applies PROTOCOL.md section 4 to uri without allocating:
//
//	^casty://([^@/]+)@([^:]+):(\d+)/(.+)$   then   ^casty://([^@/]+)/(.+)$
//
// with Python's regex semantics ('.' excludes '\n'; '$' also matches before
// a final '\n', which is then not part of the path). When the remote form
// fails and the host starts with '[', the zerohop extension
// casty://sys@[v6]:port/path is tried (the bracketed host must contain ':').
// Deviations from Casty, both for inputs no Casty node produces: \d is ASCII
// only (Python's also matches other Unicode digits) and the port must be in
// 0..65535 (Python's int() takes any size).
func parseURI[T string | []byte](uri T) (p uriParts, err *uriError) {
	if len(uri) < len(uriScheme) || string(uri[:len(uriScheme)]) != uriScheme {
		return p, errURIScheme
	}
	i := len(uriScheme)
	j := i
	for j < len(uri) && uri[j] != '@' && uri[j] != '/' {
		j++
	}
	if j == i {
		return p, errURISystem
	}
	if j == len(uri) {
		return p, errURIForm
	}
	p.sysEnd = j
	if uri[j] == '/' { // local form
		p.pathStart = j
		return p, uriPath(uri, &p)
	}
	// Remote form: host is [^:]+ up to the first ':'.
	h := j + 1
	k := h
	for k < len(uri) && uri[k] != ':' {
		k++
	}
	if k > h && k < len(uri) {
		p.hostStart, p.hostEnd = h, k
		if e := uriPortPath(uri, k+1, &p); e != errURIForm || h >= len(uri) || uri[h] != '[' {
			return p, e
		}
	}
	// zerohop extension: casty://sys@[v6]:port/path.
	if h >= len(uri) || uri[h] != '[' {
		return p, errURIForm
	}
	k = h + 1
	colon := false
	for k < len(uri) && uri[k] != ']' {
		switch uri[k] {
		case ':':
			colon = true
		case '[', '/', '@', '\n':
			return p, errURIBrackets
		}
		k++
	}
	if k == len(uri) || !colon || k+1 >= len(uri) || uri[k+1] != ':' {
		return p, errURIBrackets
	}
	p.hostStart, p.hostEnd = h+1, k
	return p, uriPortPath(uri, k+2, &p)
}

// uriPortPath parses (\d+)/(.+)$ at uri[i:].
func uriPortPath[T string | []byte](uri T, i int, p *uriParts) *uriError {
	j := i
	port := 0
	for j < len(uri) && uri[j] >= '0' && uri[j] <= '9' {
		if port <= 65535 {
			port = port*10 + int(uri[j]-'0')
		}
		j++
	}
	if j == i || j == len(uri) || uri[j] != '/' {
		return errURIForm
	}
	if port > 65535 {
		return errURIPort
	}
	p.port = port
	p.pathStart = j
	return uriPath(uri, p)
}

// uriPath checks (.+)$ after the '/' at p.pathStart and sets p.pathEnd.
func uriPath[T string | []byte](uri T, p *uriParts) *uriError {
	end := len(uri)
	if end > p.pathStart+1 && uri[end-1] == '\n' {
		end-- // Python's '$' matches before a final newline
	}
	if end <= p.pathStart+1 {
		return errURIPath
	}
	for k := p.pathStart + 1; k < end; k++ {
		if uri[k] == '\n' {
			return errURIPath
		}
	}
	p.pathEnd = end
	return nil
}

// ParseAddress parses an actor URI with the rules of PROTOCOL.md section 4
// (see the Address type). The fields are substrings of uri: it does not
// allocate unless it fails. Errors are *AddressError. A system URI with an
// empty path (a header's sender, casty://sys@host:port/) does not parse, as
// in Casty.
func ParseAddress(uri string) (Address, error) {
	p, err := parseURI(uri)
	if err != nil {
		return Address{}, &AddressError{URI: uri, Reason: err.reason}
	}
	return Address{
		System: uri[len(uriScheme):p.sysEnd],
		Host:   uri[p.hostStart:p.hostEnd],
		Port:   p.port,
		Path:   uri[p.pathStart:p.pathEnd],
	}, nil
}

// AppendURI appends the URI of a to dst: casty://system@host:port/path or,
// when Host is empty, casty://system/path, where path is Path without one
// leading "/" (nested paths keep theirs). A Host containing ':' is written
// in brackets.
func (a Address) AppendURI(dst []byte) []byte {
	dst = append(dst, uriScheme...)
	dst = append(dst, a.System...)
	if a.Host != "" {
		dst = append(dst, '@')
		dst = appendHostPort(dst, a.Host, a.Port)
	}
	dst = append(dst, '/')
	return append(dst, strings.TrimPrefix(a.Path, "/")...)
}

// String returns the URI of a (see AppendURI).
func (a Address) String() string {
	var buf [96]byte
	return string(a.AppendURI(buf[:0]))
}

// Node returns the node part of a; it is zero for a local address.
func (a Address) Node() NodeAddress { return NodeAddress{Host: a.Host, Port: a.Port} }

// IsLocal reports whether a is in the local form (no host:port).
func (a Address) IsLocal() bool { return a.Host == "" }

func appendHostPort(dst []byte, host string, port int) []byte {
	if strings.IndexByte(host, ':') >= 0 {
		dst = append(dst, '[')
		dst = append(dst, host...)
		dst = append(dst, ']')
	} else {
		dst = append(dst, host...)
	}
	dst = append(dst, ':')
	return strconv.AppendInt(dst, int64(port), 10)
}

// String returns "host:port", or "[host]:port" when host contains ':'.
func (n NodeAddress) String() string {
	var buf [64]byte
	return string(appendHostPort(buf[:0], n.Host, n.Port))
}

// Less orders node addresses as Python orders (host, port) tuples: host
// compared as a string (byte-wise, which for valid UTF-8 is code point
// order, as in Python), then port. Casty's connection races are resolved
// with this order (PROTOCOL.md section 2.3).
func (n NodeAddress) Less(o NodeAddress) bool { return n.Compare(o) < 0 }

// Compare is Less as a three-way comparison (-1, 0, +1), for
// slices.SortFunc(s, wire.NodeAddress.Compare).
func (n NodeAddress) Compare(o NodeAddress) int {
	return cmp.Or(cmp.Compare(n.Host, o.Host), cmp.Compare(n.Port, o.Port))
}

// IsZero reports whether n is the zero NodeAddress.
func (n NodeAddress) IsZero() bool { return n.Host == "" && n.Port == 0 }

// ParseNodeAddress parses "host:port" or "[v6host]:port" (port 0..65535,
// ASCII digits; host non-empty, without spaces, control characters, '/',
// '@' or brackets, as a handshake requires; an unbracketed host cannot
// contain ':', a bracketed one must). Errors are *AddressError.
func ParseNodeAddress(s string) (NodeAddress, error) {
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' {
			return NodeAddress{}, &AddressError{URI: s, Reason: "want [host]:port"}
		}
		host, port = s[1:end], s[end+2:]
		if strings.IndexByte(host, ':') < 0 || strings.ContainsAny(host, "[/@") {
			return NodeAddress{}, &AddressError{URI: s, Reason: errURIBrackets.reason}
		}
	} else {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return NodeAddress{}, &AddressError{URI: s, Reason: "want host:port"}
		}
		host, port = s[:i], s[i+1:]
	}
	if r := hostProblem(host); r != "" {
		return NodeAddress{}, &AddressError{URI: s, Reason: r}
	}
	if port == "" || len(port) > 5 {
		return NodeAddress{}, &AddressError{URI: s, Reason: "want host:port"}
	}
	n := 0
	for i := 0; i < len(port); i++ {
		c := port[i]
		if c < '0' || c > '9' {
			return NodeAddress{}, &AddressError{URI: s, Reason: "want host:port"}
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return NodeAddress{}, &AddressError{URI: s, Reason: errURIPort.reason}
	}
	return NodeAddress{Host: host, Port: n}, nil
}

// NodeURI returns casty://system@host:port/path, path without one leading
// "/" (the URI of an actor at path on node n).
func NodeURI(system string, n NodeAddress, path string) string {
	var buf [128]byte
	return string(Address{System: system, Host: n.Host, Port: n.Port, Path: path}.AppendURI(buf[:0]))
}

// Ref is an actor reference as carried in messages ({"__ref__": uri}): the
// parsed address, which encodes back to the same URI. A Ref is a comparable
// value; the zero value is "no ref".
type Ref struct {
	Address
}

// IsZero reports whether r is the zero Ref.
func (r Ref) IsZero() bool { return r.Address == Address{} }
