package runner

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/envoytest"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// The benchmark names are tracked across changes (docs/performance.md): keep them.

// BenchmarkCheckOverGRPCParallel is a whole check through the running service over loopback
// gRPC with a token the service has verified before: transport, codec, Check and the gRPC
// client's own share. Eight callers per core keep several checks in flight on one connection, as
// Envoy does under load.
func BenchmarkCheckOverGRPCParallel(b *testing.B) {
	key := testkit.MustNewKey(b, "k1")
	jwks := newJWKSServer(b, key)
	cfg := testConfig(jwks.URL)
	r := startForBenchmark(b, cfg)
	client := authv3.NewAuthorizationClient(dial(b, r.GRPCAddr(), nil))
	req := envoytest.CheckRequest(key.Sign(b, accessClaims(cfg.Issuers[0].Issuer, clientID)), false)
	check := func() bool {
		resp, err := client.Check(context.Background(), req)
		return err == nil && authStatus(resp) == "authenticated"
	}
	runParallelChecks(b, check)
}

// BenchmarkCheckOverHTTPParallel is BenchmarkCheckOverGRPCParallel through the HTTP forward-auth
// endpoint, with the request Envoy's HTTP ext_authz sends (deploy/forwardauth): keep-alive
// HTTP/1.1 connections, one check in flight on each.
func BenchmarkCheckOverHTTPParallel(b *testing.B) {
	key := testkit.MustNewKey(b, "k1")
	jwks := newJWKSServer(b, key)
	cfg := testConfig(jwks.URL)
	cfg.HTTPListen = "127.0.0.1:0"
	r := startForBenchmark(b, cfg)
	token := key.Sign(b, accessClaims(cfg.Issuers[0].Issuer, clientID))
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	url := "http://" + r.HTTPAddr().String() + "/"
	check := func() bool {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		req.Header = http.Header{
			"Authorization":                  {"Bearer " + token},
			"X-Forwarded-Uri":                {"/api/ping"},
			"X-Forwarded-Method":             {"GET"},
			"X-Envoy-Expected-Rq-Timeout-Ms": {"250"},
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && resp.Header.Get("X-Auth-Status") == "authenticated"
	}
	runParallelChecks(b, check)
}

// startForBenchmark starts the service on cfg and waits for its keys.
func startForBenchmark(b *testing.B, cfg *config.Config) *Service {
	r, err := New(cfg, zap.NewNop()) // a log line per check would be measured too
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	testkit.Eventually(b, "keys loaded", r.Ready)
	return r
}

// runParallelChecks runs check with eight callers per core, after one that must pass.
func runParallelChecks(b *testing.B, check func() bool) {
	if !check() {
		b.Fatal("the token does not authenticate")
	}
	b.ReportAllocs()
	b.SetParallelism(8)
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
