package runner

import (
	"context"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"

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
	client := authv3.NewAuthorizationClient(dial(b, r.GRPCAddr(), nil))
	req := envoytest.CheckRequest(key.Sign(b, accessClaims(cfg.Issuers[0].Issuer, clientID)), false)
	check := func() bool {
		resp, err := client.Check(context.Background(), req)
		return err == nil && authStatus(resp) == "authenticated"
	}
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
