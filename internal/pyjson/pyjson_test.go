package pyjson

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzStringRoundTrip: what AppendString writes is one JSON string that
// ScanString accepts whole, that SkipValue skips, that is pure ASCII
// (ensure_ascii), and that Unescape (and encoding/json) read back as the
// input with invalid UTF-8 replaced by U+FFFD.
func FuzzStringRoundTrip(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\s`, "\x00\x1f\x7f", "é€😀", "\xff\xfe", strings.Repeat("abcdefgh", 5) + "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString([]byte("x"), s)[1:]
		end, esc, serr := ScanString(b, 0)
		if serr != nil || end != len(b) {
			t.Fatalf("ScanString(%q) = %d, %v; want %d", b, end, serr, len(b))
		}
		if n, serr := SkipValue(b, 0, 0); serr != nil || n != len(b) {
			t.Fatalf("SkipValue(%q) = %d, %v", b, n, serr)
		}
		for _, c := range b {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("AppendString(%q) wrote byte %#x", s, c)
			}
		}
		// Each invalid byte becomes its own U+FFFD (utf8.DecodeRuneInString's
		// rule, which AppendString follows).
		var sb strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			sb.WriteRune(r)
			i += n
		}
		want := sb.String()
		raw := b[1 : len(b)-1]
		if got := string(Unescape(nil, raw)); got != want || esc != (PlainLen([]byte(s)) != len(s)) {
			t.Fatalf("Unescape(%q) = %q (esc %v); want %q", raw, got, esc, want)
		}
		var std string
		if err := json.Unmarshal(b, &std); err != nil || std != want {
			t.Fatalf("encoding/json reads %q as %q, %v; want %q", b, std, err, want)
		}
	})
}

// TestScanErrors: malformed input is a *SyntaxError at the offending byte.
func TestScanErrors(t *testing.T) {
	for _, c := range []struct {
		in  string
		off int
	}{
		{`"abc`, 0}, {`"a\x"`, 2}, {`"a\u12g4"`, 2}, {"\"a\x01\"", 2}, {`x`, 0},
	} {
		_, _, serr := ScanString([]byte(c.in), 0)
		if serr == nil || serr.Offset != c.off {
			t.Errorf("ScanString(%q) = %+v, want an error at %d", c.in, serr, c.off)
		}
	}
	for _, in := range []string{`[1, 2`, `{"a" 1}`, `{"a": 1,}`, `nul`, `+1`, strings.Repeat("[", 65) + strings.Repeat("]", 65)} {
		if _, serr := SkipValue([]byte(in), 0, 0); serr == nil {
			t.Errorf("SkipValue(%q) accepted it", in)
		}
	}
	for _, in := range []string{`NaN`, `-Infinity`, `Infinity`, `{"a": [1, -2.5e3, "x", null, true]}`} {
		if n, serr := SkipValue([]byte(in), 0, 0); serr != nil || n != len(in) {
			t.Errorf("SkipValue(%q) = %d, %v", in, n, serr)
		}
	}
}
