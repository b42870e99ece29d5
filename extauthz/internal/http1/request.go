// Package http1 is the HTTP/1.1 server of the forward-auth endpoint. It reads a request's head
// strictly, reads no body it needs, and writes each answer in one system call.
//
// net/http's server does more per request than an auth answer needs: a goroutine that reads the
// connection again while the handler runs (to notice a client going away), a header map, and
// several deadline changes. Through Envoy that cost the endpoint about 1.5× the CPU of a gRPC
// check (docs/performance.md). A check answers within a second whatever the client does, so none
// of it buys anything here.
//
// It is strict because every proxy's request reaches it: whatever RFC 9112 lets a server refuse
// and no proxy sends (a bare LF, a folded line, whitespace before a colon, a control character, a
// target not in origin form or with a broken percent escape in its path, two Content-Lengths, a
// Transfer-Encoding) is refused and the connection closed, so that the proxy and this server
// cannot read one request two ways.
package http1

import (
	"slices"
	"strconv"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
)

// Limits of a request.
const (
	// MaxHeadBytes bounds a request's head, its request line and header lines: net/http's default
	// (1 MiB and 4 KiB of slack), room for Traefik passing on thousands of Cookie lines. A longer
	// head is answered 431.
	MaxHeadBytes = 1<<20 + 4096
	// MaxBodyBytes bounds a body read and thrown away so that the connection can carry the next
	// request. Proxies send checks without one; a longer body is answered 413.
	MaxBodyBytes = 64 << 10
)

// Request is one request's head. Its strings share one copy of the head, made per request, so a
// handler may keep them.
type Request struct {
	Method string
	// Target is the request-target as sent, in origin form: a path and an optional query.
	Target string
	// Host is the Host header's value; "" only for an HTTP/1.0 request that sent none.
	Host string
	// Fields are the header lines in the order sent, Host included, each value without its
	// surrounding whitespace.
	Fields []Field

	http10        bool
	close         bool  // the client asked for the connection to close after this answer
	contentLength int64 // the body's length (Content-Length), 0 for none
	expects       bool  // Expect was sent: the client may wait for a word before its body
}

// Field is one header line.
type Field struct{ Name, Value string }

// Values are the values of the lines named name (ASCII case-insensitively), in order; nil for
// none, without allocating.
func (r *Request) Values(name string) []string {
	var out []string
	for _, f := range r.Fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Get is the first value of the lines named name, or "".
func (r *Request) Get(name string) string {
	for _, f := range r.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// refusal is why a head cannot be served: the status to answer with and a reason for the body.
type refusal struct {
	status int
	why    string
}

func refuse(status int, why string) *refusal { return &refusal{status, why} }

// parseHead reads head, a request line and header lines each ending in CRLF (the empty line that
// ends a head left off), into r, whose Fields it reuses. It refuses what a strict reading of RFC
// 9112 may refuse rather than guess at it.
func parseHead(head string, r *Request) *refusal {
	// Reused, cleared to its capacity so that no string of a longer head before stays alive, and
	// grown at most once: a head of a million short lines must not cost many times its size in a
	// slice grown by appending.
	fields := r.Fields[:cap(r.Fields)]
	clear(fields)
	fields = slices.Grow(fields[:0], strings.Count(head, "\r\n"))
	*r = Request{Fields: fields} // kept for the next head even when this one is refused
	line, rest, _ := strings.Cut(head, "\r\n")
	method, rest1, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(rest1, " ")
	if !ok1 || !ok2 || !httptext.IsToken(method) {
		return refuse(400, "malformed request line")
	}
	switch version {
	case "HTTP/1.1":
	case "HTTP/1.0":
		r.http10 = true
	default:
		if len(version) == len("HTTP/1.1") && strings.HasPrefix(version, "HTTP/") && isDigit(version[5]) && version[6] == '.' && isDigit(version[7]) {
			return refuse(505, "only HTTP/1.1 and HTTP/1.0 are served")
		}
		return refuse(400, "malformed request line")
	}
	if !originForm(target) {
		return refuse(400, "request target not in origin form")
	}
	r.Method, r.Target = method, target

	hosts, lengths := 0, 0
	keepAlive := false
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			return refuse(400, "folded or empty header line")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !httptext.IsToken(name) { // a token has no whitespace, so none can precede the colon
			return refuse(400, "malformed header line")
		}
		value = strings.Trim(value, " \t")
		if !fieldValue(value) {
			return refuse(400, "control character in header "+strconv.Quote(name))
		}
		fields = append(fields, Field{name, value})
		switch {
		case strings.EqualFold(name, "host"):
			hosts++
			if !hostValue(value) {
				return refuse(400, "malformed Host")
			}
			r.Host = value
		case strings.EqualFold(name, "content-length"):
			lengths++
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || !isDigit(value[0]) { // digits only: no sign, not even on 0
				return refuse(400, "malformed Content-Length")
			}
			r.contentLength = n
		case strings.EqualFold(name, "transfer-encoding"):
			return refuse(501, "Transfer-Encoding is not read: send the check without a body")
		case strings.EqualFold(name, "connection"):
			for opts := value; opts != ""; { // not strings.Split: no allocation per request
				var opt string
				opt, opts, _ = strings.Cut(opts, ",")
				switch opt = strings.Trim(opt, " \t"); {
				case strings.EqualFold(opt, "close"):
					r.close = true
				case strings.EqualFold(opt, "keep-alive"):
					keepAlive = true
				}
			}
		case strings.EqualFold(name, "expect"):
			r.expects = true
		}
	}
	r.Fields = fields
	switch {
	case lengths > 1:
		return refuse(400, "more than one Content-Length")
	case hosts > 1 || hosts == 0 && !r.http10:
		return refuse(400, "an HTTP/1.1 request needs exactly one Host")
	case r.contentLength > MaxBodyBytes:
		return refuse(413, "a check needs no body")
	}
	if r.http10 && !keepAlive {
		r.close = true
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// originForm reports whether target is an absolute path with an optional query, with no
// fragment, control character or broken percent escape in the path: what a proxy sends. The
// absolute form (a scheme and host), the authority form and "*" would give the request a second
// host or path to be read by. Bytes past ASCII are kept, as net/http keeps them: a raw UTF-8 path
// is the policy's to read.
func originForm(target string) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	inPath := true
	for i := 0; i < len(target); i++ {
		switch c := target[i]; {
		case c <= ' ' || c == 0x7f || c == '#':
			return false
		case c == '?':
			inPath = false
		case c == '%' && inPath:
			// A path is percent-decoded to be routed: an escape that cannot be decoded would be
			// read one way by one server and another (or refused) by the next.
			if i+2 >= len(target) || !isHex(target[i+1]) || !isHex(target[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// fieldValue reports whether v holds only visible characters, spaces, tabs and bytes past
// ASCII (RFC 9110 field-value).
func fieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// hostValue reports whether v is a host and optional port of the characters RFC 3986 allows
// there (a registered name, an IP literal in brackets); empty is allowed, as RFC 9112 says. It
// only refuses what cannot be a Host; forwardauth's hostChars, stricter, decides which hosts a
// redirect may name.
func hostValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0) {
			return false
		}
	}
	return true
}
