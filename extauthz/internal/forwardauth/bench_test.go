package forwardauth_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/forwardauth"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/http1"
)

// handlerRequest is a request shaped like Envoy's HTTP ext_authz call, with token as its
// Authorization header (none when empty).
func handlerRequest(token string) *http1.Request {
	r := &http1.Request{Method: http.MethodGet, Target: "/api/ping", Host: "authz", Fields: []http1.Field{
		{Name: "host", Value: "authz"},
		{Name: "x-forwarded-uri", Value: "/api/ping"}, {Name: "x-forwarded-method", Value: "GET"},
		{Name: "x-envoy-expected-rq-timeout-ms", Value: "250"}, {Name: "x-forwarded-for", Value: "127.0.0.1"},
		{Name: "x-envoy-internal", Value: "true"}, {Name: "x-request-id", Value: "3c9d8f1e-1c2b-4d5e-9f00-0a1b2c3d4e5f"},
	}}
	if token != "" {
		r.Fields = append(r.Fields, http1.Field{Name: "authorization", Value: token})
	}
	return r
}

var handlerCases = []struct {
	name, token string
	maxAllocs   float64 // the handler's and the stand-in service's together
}{
	{"authenticated", "Bearer user-token", 7},
	{"anonymous", "", 5},
}

// BenchmarkHandler is the handler alone (no connection, no server) on a request shaped like
// Envoy's HTTP ext_authz call: what the handler spends per check on top of Check.
func BenchmarkHandler(b *testing.B) {
	h := forwardauth.New(newService(b), forwardauth.Options{})
	for _, tc := range handlerCases {
		b.Run(tc.name, func(b *testing.B) {
			r, w := handlerRequest(tc.token), &http1.Response{}
			b.ReportAllocs()
			for b.Loop() {
				w.Status, w.Fields, w.Body = 0, w.Fields[:0], ""
				h.ServeHTTP1(r, w)
				if w.Status != http.StatusOK {
					b.Fatalf("status %d", w.Status)
				}
			}
		})
	}
}

// A check answered without waiting allocates no more than it did when this was written: a
// deadline that started a timer for every check (context.WithTimeout) cost two more.
func TestHandlerAllocations(t *testing.T) {
	h := forwardauth.New(newService(t), forwardauth.Options{})
	for _, tc := range handlerCases {
		t.Run(tc.name, func(t *testing.T) {
			r, w := handlerRequest(tc.token), &http1.Response{}
			n := testing.AllocsPerRun(200, func() {
				w.Status, w.Fields, w.Body = 0, w.Fields[:0], ""
				h.ServeHTTP1(r, w)
			})
			if w.Status != http.StatusOK {
				t.Fatalf("status %d", w.Status)
			}
			if n > tc.maxAllocs {
				t.Errorf("%v allocations per check, want at most %v", n, tc.maxAllocs)
			}
		})
	}
}
