package runner

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/envoytest"
)

// BenchmarkMemoryDistinctTokens reports the memory the service holds after distinctTokens
// distinct valid tokens, each checked a few times, went through the running service over gRPC:
// the verified-token cache full (cache.max_entries) and every token beyond it evicted. It reports
// rss-MB (the process's resident set, the gRPC client's share included) and heap-MB (live heap
// after a GC) as metrics; it asserts nothing (docs/performance.md has the figures). Run it with
// -benchtime=1x: signing the tokens takes most of its time.
func BenchmarkMemoryDistinctTokens(b *testing.B) {
	const distinctTokens, checksPerToken = 40000, 3
	key := newKeyPair(b, "k1")
	jwks := newJWKSServer(b, key)
	cfg := testConfig(jwks)
	r, err := New(cfg, zap.NewNop())
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
	eventually(b, "keys loaded", r.Ready)
	client := authv3.NewAuthorizationClient(dial(b, r.GRPCAddr(), nil))

	// Tokens are signed as they are sent and dropped after, so the benchmark itself holds none.
	tokens := make(chan string, 64)
	for w := range runtime.GOMAXPROCS(0) {
		go func() {
			for i := w; i < distinctTokens; i += runtime.GOMAXPROCS(0) {
				claims := accessClaims(cfg.Issuers[0].Issuer, clientID)
				claims["sub"] = fmt.Sprintf("5f1d7a2c-0e4b-4c39-9a8e-%012d", i)
				claims["jti"] = fmt.Sprintf("9c2e4b1a-7d3f-4e8b-a1c5-%012d", i)
				claims["username"] = "user" + strconv.Itoa(i)
				claims["cognito:groups"] = []string{"users", "readers"}
				claims["scope"] = "openid profile email aws.cognito.signin.user.admin"
				tokens <- key.sign(b, claims)
			}
		}()
	}
	for b.Loop() {
		for range distinctTokens {
			req := envoytest.CheckRequest(<-tokens, false)
			for range checksPerToken {
				resp, err := client.Check(context.Background(), req)
				if err != nil || authStatus(resp) != "authenticated" {
					b.Fatalf("not authenticated: %v", err)
				}
			}
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
	b.ReportMetric(residentMB(b), "rss-MB")
}

// residentMB is the process's resident set size (VmRSS of /proc/self/status) in MiB.
func residentMB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}
