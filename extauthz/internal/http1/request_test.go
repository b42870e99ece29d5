package http1

import (
	"reflect"
	"strings"
	"testing"
)

// headCase is one head given to parseHead: what it is accepted as, or the status it is refused with.
type headCase struct {
	name   string
	head   string
	status int // 0: accepted
	want   Request
}

func ok(name, head string, want Request) headCase {
	return headCase{name: name, head: head, want: want}
}
func bad(name string, status int, head string) headCase {
	return headCase{name: name, head: head, status: status}
}

// fields builds Fields from name, value pairs.
func fields(nv ...string) []Field {
	var out []Field
	for i := 0; i < len(nv); i += 2 {
		out = append(out, Field{nv[i], nv[i+1]})
	}
	return out
}

var headCases = []headCase{
	ok("http11 keeps alive", "GET /check HTTP/1.1\r\nHost: a.example\r\n",
		Request{Method: "GET", Target: "/check", Host: "a.example", Fields: fields("Host", "a.example")}),
	ok("http11 Connection close closes", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n",
		Request{Method: "GET", Target: "/", Host: "a", Fields: fields("Host", "a", "Connection", "close"), close: true}),
	ok("http11 Connection options in any case", "GET / HTTP/1.1\r\nHost: a\r\nconnection: Upgrade ,\tCLOSE\r\n",
		Request{Method: "GET", Target: "/", Host: "a", Fields: fields("Host", "a", "connection", "Upgrade ,\tCLOSE"), close: true}),
	ok("http10 without Host closes", "GET / HTTP/1.0\r\n",
		Request{Method: "GET", Target: "/", http10: true, close: true}),
	ok("http10 keep-alive kept", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n",
		Request{Method: "GET", Target: "/", Fields: fields("Connection", "Keep-Alive"), http10: true}),
	ok("http10 keep-alive and close closes", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n",
		Request{Method: "GET", Target: "/", Fields: fields("Connection", "keep-alive, close"), http10: true, close: true}),
	ok("http10 with Host", "HEAD /x?y=1 HTTP/1.0\r\nHost: h:8080\r\n",
		Request{Method: "HEAD", Target: "/x?y=1", Host: "h:8080", Fields: fields("Host", "h:8080"), http10: true, close: true}),
	ok("empty Host allowed", "GET / HTTP/1.1\r\nHost:\r\n",
		Request{Method: "GET", Target: "/", Fields: fields("Host", "")}),
	ok("IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n",
		Request{Method: "GET", Target: "/", Host: "[::1]:80", Fields: fields("Host", "[::1]:80")}),
	ok("repeated headers kept in order", "GET / HTTP/1.1\r\nCookie: a=1\r\nHost: a\r\ncookie: b=2\r\nCOOKIE: c=3\r\n",
		Request{Method: "GET", Target: "/", Host: "a", Fields: fields("Cookie", "a=1", "Host", "a", "cookie", "b=2", "COOKIE", "c=3")}),
	ok("OWS trimmed both sides", "GET / HTTP/1.1\r\nHost: \t a \t\r\nX-A:\t b c \r\nX-Empty: \t \r\n",
		Request{Method: "GET", Target: "/", Host: "a", Fields: fields("Host", "a", "X-A", "b c", "X-Empty", "")}),
	ok("obs-text kept", "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\xff\r\n",
		Request{Method: "GET", Target: "/", Host: "a", Fields: fields("Host", "a", "X-Name", "caf\xc3\xa9\xff")}),
	ok("Content-Length read", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n",
		Request{Method: "POST", Target: "/", Host: "a", Fields: fields("Host", "a", "Content-Length", "10"), contentLength: 10}),
	ok("Content-Length zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n",
		Request{Method: "POST", Target: "/", Host: "a", Fields: fields("Host", "a", "Content-Length", "0")}),
	ok("Content-Length at MaxBodyBytes", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n",
		Request{Method: "POST", Target: "/", Host: "a", Fields: fields("Host", "a", "Content-Length", "65536"), contentLength: MaxBodyBytes}),
	ok("Expect noted", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n",
		Request{Method: "POST", Target: "/", Host: "a", Fields: fields("Host", "a", "Expect", "100-continue", "Content-Length", "3"), expects: true, contentLength: 3}),
	ok("bad escape in query left to the app", "GET /a%2F?q=100%&r=%zz HTTP/1.1\r\nHost: a\r\n",
		Request{Method: "GET", Target: "/a%2F?q=100%&r=%zz", Host: "a", Fields: fields("Host", "a")}),
	ok("extension method", "PROPFIND /a/b%20c HTTP/1.1\r\nHost: a\r\n",
		Request{Method: "PROPFIND", Target: "/a/b%20c", Host: "a", Fields: fields("Host", "a")}),

	bad("request line without target", 400, "GET HTTP/1.1\r\nHost: a\r\n"),
	bad("request line two spaces", 400, "GET  / HTTP/1.1\r\nHost: a\r\n"),
	bad("request line trailing space", 400, "GET / HTTP/1.1 \r\nHost: a\r\n"),
	bad("request line tab separated", 400, "GET\t/\tHTTP/1.1\r\nHost: a\r\n"),
	bad("request line empty", 400, "\r\nHost: a\r\n"),
	bad("method not a token", 400, "G@T / HTTP/1.1\r\nHost: a\r\n"),
	bad("version lower case", 400, "GET / http/1.1\r\nHost: a\r\n"),
	bad("bare LF ends request line", 400, "GET / HTTP/1.1\nHost: a\r\n"),
	bad("bare LF ends header line", 400, "GET / HTTP/1.1\r\nHost: a\nX: b\r\n"),
	bad("bare LF ends request line, then a header with no space", 400, "GET / HTTP/1.1\nX:b\r\nHost: a\r\n"),
	bad("bare CR in request line", 400, "GET / HTTP/1.1\rHost: a\r\n"),
	bad("bare CR in header value", 400, "GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n"),
	bad("obs-fold space", 400, "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n"),
	bad("obs-fold tab", 400, "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n"),
	bad("empty line inside head", 400, "GET / HTTP/1.1\r\nHost: a\r\n\r\nX: b\r\n"),
	bad("space before colon", 400, "GET / HTTP/1.1\r\nHost : a\r\n"),
	bad("tab before colon", 400, "GET / HTTP/1.1\r\nHost\t: a\r\n"),
	bad("header without colon", 400, "GET / HTTP/1.1\r\nHost: a\r\nX-No-Colon\r\n"),
	bad("header empty name", 400, "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n"),
	bad("header name not a token", 400, "GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n"),
	bad("NUL in value", 400, "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n"),
	bad("DEL in value", 400, "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n"),
	bad("ESC in value", 400, "GET / HTTP/1.1\r\nHost: a\r\nX: a\x1bb\r\n"),
	bad("http11 without Host", 400, "GET / HTTP/1.1\r\nX: a\r\n"),
	bad("http11 two Hosts", 400, "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n"),
	bad("http10 two Hosts", 400, "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n"),
	bad("Host with space", 400, "GET / HTTP/1.1\r\nHost: a b\r\n"),
	bad("Host with slash", 400, "GET / HTTP/1.1\r\nHost: a/b\r\n"),
	bad("Host with at", 400, "GET / HTTP/1.1\r\nHost: u@a\r\n"),
	bad("Host non-ASCII", 400, "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n"),
	bad("target absolute form", 400, "GET http://a/ HTTP/1.1\r\nHost: a\r\n"),
	bad("target asterisk", 400, "OPTIONS * HTTP/1.1\r\nHost: a\r\n"),
	bad("target authority form", 400, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n"),
	bad("target fragment", 400, "GET /a#b HTTP/1.1\r\nHost: a\r\n"),
	ok("target raw UTF-8 kept, as net/http keeps it", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n",
		Request{Method: "GET", Target: "/caf\xc3\xa9", Host: "a", Fields: fields("Host", "a")}),
	bad("target CTL", 400, "GET /a\x01 HTTP/1.1\r\nHost: a\r\n"),
	bad("target path escape cut short", 400, "GET /a%2 HTTP/1.1\r\nHost: a\r\n"),
	bad("target path escape at end", 400, "GET /a% HTTP/1.1\r\nHost: a\r\n"),
	bad("target path escape not hex", 400, "GET /a%zz?b HTTP/1.1\r\nHost: a\r\n"),
	bad("target DEL", 400, "GET /a\x7f HTTP/1.1\r\nHost: a\r\n"),
	bad("two Content-Lengths same value", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n"),
	bad("two Content-Lengths", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\ncontent-length: 2\r\n"),
	bad("Content-Length plus", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n"),
	bad("Content-Length minus", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n"),
	bad("Content-Length minus zero", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -0\r\n"),
	bad("Content-Length plus zero", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +0\r\n"),
	bad("Content-Length inner space", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 1\r\n"),
	bad("Content-Length list", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n"),
	bad("Content-Length empty", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n"),
	bad("Content-Length hex", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n"),
	bad("Content-Length underscore", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n"),
	bad("Content-Length overflow", 400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n"),
	bad("Content-Length over MaxBodyBytes", 413, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n"),
	bad("Content-Length max int64", 413, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n"),
	bad("Transfer-Encoding chunked", 501, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"),
	bad("Transfer-Encoding upper case name", 501, "POST / HTTP/1.1\r\nHost: a\r\nTRANSFER-ENCODING: chunked\r\n"),
	bad("Transfer-Encoding with Content-Length", 501, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-encoding: identity\r\n"),
	bad("Transfer-Encoding on http10", 501, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"),
	bad("version HTTP/2.0", 505, "GET / HTTP/2.0\r\nHost: a\r\n"),
	bad("version HTTP/1.2", 505, "GET / HTTP/1.2\r\nHost: a\r\n"),
	bad("version HTTP/0.9", 505, "GET / HTTP/0.9\r\nHost: a\r\n"),
}

func TestParseHead(t *testing.T) {
	for _, tc := range headCases {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			got := parseHead(tc.head, &r)
			switch {
			case tc.status == 0 && got != nil:
				t.Fatalf("refused %d (%s), want accepted", got.status, got.why)
			case tc.status != 0 && got == nil:
				t.Fatalf("accepted %+v, want %d", r, tc.status)
			case tc.status != 0:
				if got.status != tc.status {
					t.Fatalf("refused %d (%s), want %d", got.status, got.why, tc.status)
				}
				if got.why == "" {
					t.Fatal("refused without a reason")
				}
			default:
				if len(r.Fields) == 0 {
					r.Fields = nil // no lines, however much room was made for them
				}
				if !reflect.DeepEqual(r, tc.want) {
					t.Fatalf("got  %+v\nwant %+v", r, tc.want)
				}
			}
		})
	}
}

// A head's strings share one copy: Fields reused from a longer head must not keep its strings
// alive past their length.
func TestParseHeadReusesFieldsWithoutKeepingOldStrings(t *testing.T) {
	var r Request
	long := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("f", 100)+"\r\n", 50)
	if bad := parseHead(long, &r); bad != nil {
		t.Fatal(bad.why)
	}
	backing := &r.Fields[:1][0]
	if bad := parseHead("GET / HTTP/1.1\r\nHost: b\r\n", &r); bad != nil {
		t.Fatal(bad.why)
	}
	if &r.Fields[:1][0] != backing {
		t.Fatal("Fields not reused")
	}
	for i, f := range r.Fields[len(r.Fields):cap(r.Fields)] {
		if f != (Field{}) {
			t.Fatalf("Fields[%d] past the head's end still holds %q: the last head stays in memory", len(r.Fields)+i, f.Name)
		}
	}
	// A refused head keeps the slice too.
	if bad := parseHead("GET / HTTP/1.1\r\nHost : b\r\n", &r); bad == nil {
		t.Fatal("accepted")
	}
	if cap(r.Fields) == 0 {
		t.Fatal("a refused head dropped the reused Fields")
	}
}

func TestRequestValuesAndGet(t *testing.T) {
	var r Request
	if bad := parseHead("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n", &r); bad != nil {
		t.Fatal(bad.why)
	}
	if got := r.Values("X-a"); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Fatalf("Values = %q", got)
	}
	if got := r.Values("X-B"); got != nil {
		t.Fatalf("Values of none = %q, want nil", got)
	}
	if got := r.Get("x-A"); got != "1" {
		t.Fatalf("Get = %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { r.Values("X-B"); r.Get("host") }); n != 0 {
		t.Fatalf("Values of none and Get allocate %v times", n)
	}
}

// Parsing allocates nothing once Fields has room: the head's one copy is the request's only
// allocation.
func TestParseHeadAllocatesNothing(t *testing.T) {
	for _, tc := range headCases {
		if tc.status != 0 {
			continue
		}
		r := Request{Fields: make([]Field, 0, 16)}
		if n := testing.AllocsPerRun(100, func() { parseHead(tc.head, &r) }); n != 0 {
			t.Errorf("%s: parseHead allocates %v times", tc.name, n)
		}
	}
}
