package authz_test

import (
	"context"
	"strconv"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
)

// benchServer returns a Server over the real verifier and a request whose token that verifier
// has already verified and cached, as a client's repeated token is.
func benchServer(b *testing.B) (*authz.Server, func() bool) { return benchServerWith(b, testPolicy) }

// benchServerWith is benchServer under another policy.
func benchServerWith(b *testing.B, pol policy.Config) (*authz.Server, func() bool) {
	env := newIssuerEnv(b)
	srv, err := authz.New(authz.Options{Verifier: env.verifier, Policy: pol, TokenSources: testSources})
	if err != nil {
		b.Fatal(err)
	}
	token := sign(b, env.accessClaims("alice", []string{"users", "admin"}, "openid reports/read reports/export"))
	req := request("GET", "/api/admin/users?page=2", map[string]string{
		"authorization": "Bearer " + token, "accept": "application/json", "x-request-id": "5f1c",
		"x-forwarded-for": "10.0.0.1", "cookie": "theme=dark; lang=en",
	}, nil)
	check := func() bool {
		resp, err := srv.Check(context.Background(), req)
		return err == nil && resp.GetOkResponse() != nil
	}
	if !check() {
		b.Fatal("the token does not authenticate")
	}
	return srv, check
}

// BenchmarkCheckCachedToken is one in-process Check with a token already verified.
func BenchmarkCheckCachedToken(b *testing.B) {
	_, check := benchServer(b)
	b.ReportAllocs()
	for b.Loop() {
		if !check() {
			b.Fatal("not authenticated")
		}
	}
}

func BenchmarkCheckCachedTokenParallel(b *testing.B) {
	_, check := benchServer(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !check() {
				b.Error("not authenticated")
				return
			}
		}
	})
}

// BenchmarkCheckAnonymous is a Check with no token on an optional route.
func BenchmarkCheckAnonymous(b *testing.B) {
	env := newIssuerEnv(b)
	srv, err := authz.New(authz.Options{Verifier: env.verifier, Policy: testPolicy, TokenSources: testSources})
	if err != nil {
		b.Fatal(err)
	}
	req := request("GET", "/api/activities/home", map[string]string{"accept": "application/json", "cookie": "theme=dark; lang=en"}, nil)
	b.ReportAllocs()
	for b.Loop() {
		if resp, err := srv.Check(context.Background(), req); err != nil || resp.GetOkResponse() == nil {
			b.Fatal("not OK")
		}
	}
}

// BenchmarkRepeatedHeaders joins n repeated Cookie lines, as the header_map of a client that sends
// them: the cost per op should grow as n does (compare ns/op across the sizes), not as n².
func BenchmarkRepeatedHeaders(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		lines := make([]*corev3.HeaderValue, n)
		for i := range lines {
			lines[i] = &corev3.HeaderValue{Key: "cookie", Value: "a"}
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(authz.JoinHeaders(lines)["cookie"]) != 3*n-2 {
					b.Fatal("wrong join")
				}
			}
		})
	}
}
