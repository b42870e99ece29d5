package http1

import (
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

// BenchmarkServe: one kept-alive loopback connection, one check at a time, a trivial handler;
// allocs/op are the server's per request (the client reuses its buffers).
func BenchmarkServe(b *testing.B) {
	s := NewServer(handlerFunc(allowSub), Options{HeadTimeout: 5e9, IdleTimeout: 60e9, WriteTimeout: 10e9, Refused: refusedText})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(lis)
	defer s.Close()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	var want Response
	allowSub(nil, &want)
	answer := make([]byte, len(want.appendTo(nil, false, false, false)))
	request := []byte(envoyCheck)
	b.ReportAllocs()
	b.SetBytes(int64(len(request)))
	for b.Loop() {
		if _, err := c.Write(request); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, answer); err != nil {
			b.Fatal(err)
		}
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.1 200 OK\r\n") {
		b.Fatalf("answered %q", answer)
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
