// Package httptext holds the small pieces of HTTP text syntax that more than one extauthz package
// reads: RFC 9110 tokens (header names, cookie names, methods) and percent escapes (paths,
// cookies). It decodes leniently, as the callers need: what is not a valid escape is left as it is.
package httptext

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsToken reports whether s is an RFC 9110 token: one or more of the characters header names,
// cookie names and methods are made of. The empty string is not a token.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// PercentDecode decodes every valid %XX escape and leaves invalid ones ("%zz", a "%" near the
// end) as they are, so that a malformed escape is matched as sent rather than refused.
func PercentDecode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// JoinList joins names (groups, scopes, the strings of an array claim) with sep so that the list
// splits back into exactly these names (docs/reference.md#headers): within a name, ',', '%' and
// whitespace are percent-encoded (a group "guest,admin" is "guest%2Cadmin", never two groups).
// Names with none of them, all of Cognito's usual ones, are joined as they are.
func JoinList(names []string, sep string) string {
	if !slices.ContainsFunc(names, needsEncoding) {
		return strings.Join(names, sep)
	}
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteString(sep)
		}
		for _, r := range name {
			if !encodedInList(r) {
				b.WriteRune(r)
				continue
			}
			var buf [utf8.UTFMax]byte
			for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
				b.WriteByte('%')
				b.WriteByte(upperHex[c>>4])
				b.WriteByte(upperHex[c&15])
			}
		}
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

func needsEncoding(name string) bool { return strings.ContainsFunc(name, encodedInList) }

// encodedInList reports whether JoinList percent-encodes r: the separators, and '%' itself.
func encodedInList(r rune) bool { return r == ',' || r == '%' || unicode.IsSpace(r) }
