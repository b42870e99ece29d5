package http1

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// envoyCheck is a check as Envoy's HTTP ext_authz sends it: the original path and method, the
// forwarding headers, a token.
var envoyCheck = "GET /api/orders?page=2 HTTP/1.1\r\n" +
	"host: app.example.com\r\n" +
	"authorization: Bearer " + strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 45) + "\r\n" +
	"x-forwarded-proto: https\r\n" +
	"x-forwarded-for: 203.0.113.7\r\n" +
	"x-request-id: 0b7a6f0e-5c2e-4d8a-9a41-6f2d1c3b9e55\r\n" +
	"x-envoy-expected-rq-timeout-ms: 1000\r\n" +
	"x-envoy-internal: true\r\n" +
	"content-length: 0\r\n" +
	"\r\n"

// allowSub answers as an allow would: 200 and one identity header.
func allowSub(_ *Request, w *Response) {
	w.Status = 200
	w.Add("X-Auth-Sub", "3c7e0d4a-1f1b-4b65-9d64-1b7f5e2e8a90")
}

// checkClient sends Envoy-shaped checks on one kept-alive loopback connection to a server
// answering allowSub, reusing its buffers so that allocations counted are the server's.
type checkClient struct {
	c               net.Conn
	request, answer []byte
}

func newCheckClient(tb testing.TB) *checkClient {
	tb.Helper()
	s := NewServer(handlerFunc(allowSub), Options{HeadTimeout: 5e9, IdleTimeout: 60e9, WriteTimeout: 10e9, Refused: refusedText})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go s.Serve(lis)
	tb.Cleanup(func() { s.Close() })
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	var want Response
	allowSub(nil, &want)
	return &checkClient{c, []byte(envoyCheck), make([]byte, len(want.appendTo(nil, false, false, false)))}
}

func (cc *checkClient) check(tb testing.TB) {
	if _, err := cc.c.Write(cc.request); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(cc.c, cc.answer); err != nil {
		tb.Fatal(err)
	}
	if !bytes.HasPrefix(cc.answer, []byte("HTTP/1.1 200 OK\r\n")) {
		tb.Fatalf("answered %q", cc.answer)
	}
}

// BenchmarkServe: one kept-alive loopback connection, one check at a time, a trivial handler;
// allocs/op are the server's per request.
func BenchmarkServe(b *testing.B) {
	cc := newCheckClient(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(cc.request)))
	for b.Loop() {
		cc.check(b)
	}
}

// A served request allocates its head's copy and nothing else.
func TestServeAllocatesOnlyTheHead(t *testing.T) {
	cc := newCheckClient(t)
	cc.check(t) // the connection's buffers made
	if n := testing.AllocsPerRun(200, func() { cc.check(t) }); n > 1 {
		t.Fatalf("a served request allocates %v times, want 1", n)
	}
}

// BenchmarkParseHeadAndAnswer: the per-request work without the network: parsing a check's
// head into reused Fields, and checking and writing an answer into a reused buffer.
func BenchmarkParseHeadAndAnswer(b *testing.B) {
	head := envoyCheck[:len(envoyCheck)-2]
	var r Request
	var w Response
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		if bad := parseHead(head, &r); bad != nil {
			b.Fatal(bad.why)
		}
		w.reset()
		allowSub(&r, &w)
		if !w.valid() {
			b.Fatal("answer not valid")
		}
		out = w.appendTo(out[:0], false, false, false)
	}
}
