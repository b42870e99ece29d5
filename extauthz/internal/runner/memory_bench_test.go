package runner

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/envoytest"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// serveEnv, when set to a key server's URL, makes the test binary the service of
// BenchmarkMemoryDistinctTokens instead of running tests (TestMain).
const serveEnv = "COGNITO_AUTHZ_MEMORY_BENCH_JWKS"

func TestMain(m *testing.M) {
	if url := os.Getenv(serveEnv); url != "" {
		if err := serveForMemoryBenchmark(url); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// serveForMemoryBenchmark runs the service with testConfig's settings for the key server at url,
// prints its gRPC and admin addresses, and serves until its standard input closes.
func serveForMemoryBenchmark(url string) error {
	r, err := New(testConfig(url), zap.NewNop())
	if err != nil {
		return err
	}
	if err := r.Start(context.Background()); err != nil {
		return err
	}
	fmt.Println(r.GRPCAddr(), r.AdminAddr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return r.Shutdown(context.Background())
}

// BenchmarkMemoryDistinctTokens reports the memory the service holds once distinctTokens distinct
// valid tokens, each checked a few times, went through it over gRPC: the verified-token cache
// full (cache.max_entries, default) and every token beyond it evicted. The service runs in a
// process of its own (this test binary, TestMain), so the figures are the service's alone:
// service-rss-MB (process_resident_memory_bytes) and service-heap-MB (go_memstats_heap_alloc_bytes)
// from its /metrics. It asserts nothing (docs/performance.md has the figures). Run it with
// -benchtime=1x: signing the tokens takes most of its time.
func BenchmarkMemoryDistinctTokens(b *testing.B) {
	const distinctTokens, checksPerToken = 40000, 3
	key := testkit.MustNewKey(b, "k1")
	jwks := newJWKSServer(b, key)
	issuer := jwks.URL + "/pool"

	service := exec.Command(os.Args[0], "-test.run=^$")
	service.Env = append(os.Environ(), serveEnv+"="+jwks.URL)
	service.Stderr = os.Stderr
	stdin, err := service.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := service.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := service.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = service.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the service did not start: %v", err)
	}
	grpcAddr, adminAddr, _ := strings.Cut(strings.TrimSpace(line), " ")
	addr, err := net.ResolveTCPAddr("tcp", grpcAddr)
	if err != nil {
		b.Fatal(err)
	}
	client := authv3.NewAuthorizationClient(dial(b, addr, nil))
	check := func(token string) bool {
		resp, err := client.Check(context.Background(), envoytest.CheckRequest(token, false))
		return err == nil && authStatus(resp) == "authenticated"
	}
	warmup := key.Sign(b, accessClaims(issuer, clientID))
	testkit.Eventually(b, "the service answers", func() bool { return check(warmup) })

	// Tokens are signed as they are sent and dropped after; each pass of the loop sends a new set.
	produce := func() <-chan string {
		tokens := make(chan string, 64)
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Go(func() {
				for i := w; i < distinctTokens; i += workers {
					claims := accessClaims(issuer, clientID)
					claims["sub"] = fmt.Sprintf("5f1d7a2c-0e4b-4c39-9a8e-%012d", i)
					claims["jti"] = fmt.Sprintf("9c2e4b1a-7d3f-4e8b-a1c5-%012d", i)
					claims["username"] = "user" + strconv.Itoa(i)
					claims["cognito:groups"] = []string{"users", "readers"}
					claims["scope"] = "openid profile email aws.cognito.signin.user.admin"
					tokens <- key.Sign(b, claims)
				}
			})
		}
		go func() { wg.Wait(); close(tokens) }()
		return tokens
	}
	for b.Loop() {
		for token := range produce() {
			for range checksPerToken {
				if !check(token) {
					b.Fatal("not authenticated")
				}
			}
		}
	}
	b.StopTimer()
	metrics := scrape(b, "http://"+adminAddr+"/metrics")
	b.ReportMetric(metrics["process_resident_memory_bytes"]/(1<<20), "service-rss-MB")
	b.ReportMetric(metrics["go_memstats_heap_alloc_bytes"]/(1<<20), "service-heap-MB")
}

// scrape reads the unlabelled samples of a Prometheus text exposition.
func scrape(b *testing.B, url string) map[string]float64 {
	_, body := httpGet(b, url)
	samples := map[string]float64{}
	for line := range strings.Lines(body) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			samples[name] = v
		}
	}
	return samples
}
