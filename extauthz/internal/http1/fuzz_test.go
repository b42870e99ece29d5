package http1

import (
	"bufio"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseHeadAgreesWithNetHTTP: whatever head parseHead accepts, Go's net/http reads too, and
// reads the same way: method, request-target, Host, the body's length, whether the connection
// closes after it, and every header's values in order. A head the
// two read differently could be checked as one request and served as another.
func FuzzParseHeadAgreesWithNetHTTP(f *testing.F) {
	for _, tc := range headCases {
		f.Add(tc.head)
	}
	f.Fuzz(func(t *testing.T, head string) {
		if !strings.HasSuffix(head, "\r\n") {
			head += "\r\n" // as the server hands it over: each line ends in CRLF, the empty one left off
		}
		var r Request
		if parseHead(head, &r) != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head + "\r\n")))
		if err != nil {
			t.Fatalf("parseHead accepted %q, net/http refuses it: %v", head, err)
		}
		if req.Method != r.Method || req.RequestURI != r.Target || req.Host != r.Host {
			t.Fatalf("%q read as %s %q Host %q; net/http reads %s %q Host %q", head, r.Method, r.Target, r.Host, req.Method, req.RequestURI, req.Host)
		}
		if req.ContentLength != r.contentLength || req.Close != r.close {
			t.Fatalf("%q read with a %d-byte body, close %v; net/http reads %d, close %v", head, r.contentLength, r.close, req.ContentLength, req.Close)
		}
		ours := http.Header{}
		for _, f := range r.Fields {
			if name := textproto.CanonicalMIMEHeaderKey(f.Name); name != "Host" {
				ours[name] = append(ours[name], f.Value)
			}
		}
		// net/http adds this one itself (HTTP/1.0 caches' Pragma read as HTTP/1.1's Cache-Control).
		if p := ours["Pragma"]; len(p) > 0 && p[0] == "no-cache" && ours["Cache-Control"] == nil {
			ours["Cache-Control"] = []string{"no-cache"}
		}
		if len(ours) == 0 && len(req.Header) == 0 {
			return
		}
		if !reflect.DeepEqual(ours, req.Header) {
			t.Fatalf("%q: headers read as %q; net/http reads %q", head, ours, req.Header)
		}
	})
}
