package runner

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

const clientID = "client-1"

// testConfig is one issuer whose keys the key server at keyServer (a jwksServer's URL) serves, on
// loopback ports chosen by the kernel, with a short retry so a recovered endpoint is noticed quickly.
func testConfig(keyServer string) *config.Config {
	cfg := config.Default()
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Issuers = []verifier.IssuerConfig{{
		Issuer: keyServer + "/pool", JWKSURL: keyServer + "/jwks.json",
		ClientIDs: []string{clientID}, TokenUse: verifier.TokenUseAccess,
	}}
	cfg.JWKS.MinRefetchInterval = 20 * time.Millisecond
	cfg.JWKS.FetchTimeout = 5 * time.Second
	return cfg
}

func startRunner(t testing.TB, cfg *config.Config) *Service {
	t.Helper()
	r, err := New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	shutdownAtEnd(t, r)
	return r
}

// shutdownAtEnd shuts r down when the test ends.
func shutdownAtEnd(t testing.TB, r *Service) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
}

func dial(t testing.TB, addr net.Addr, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient("passthrough:///"+addr.String(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func healthStatus(t *testing.T, conn *grpc.ClientConn, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("health check %q: %v", service, err)
	}
	return resp.GetStatus()
}

// watchUntil reads a health Watch stream until it reports want.
func watchUntil(t *testing.T, stream healthpb.Health_WatchClient, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("watching health for %v: %v", want, err)
		}
		if resp.GetStatus() == want {
			return
		}
	}
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func check(t *testing.T, conn *grpc.ClientConn, token string) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	headers := map[string]string{}
	if token != "" {
		headers["authorization"] = "Bearer " + token
	}
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, &authv3.CheckRequest{
		Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/api/items", Headers: headers},
		}},
	})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}

// TestKeysDownAtStartThenRecover: a key endpoint that is down at start leaves the service
// NOT_SERVING with /readyz 503; once it answers the service becomes ready; Shutdown (what SIGTERM
// does) reports NOT_SERVING again, with /readyz 503 while in-flight streams drain.
func TestKeysDownAtStartThenRecover(t *testing.T) {
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	jwks.setUp(false)
	cfg := testConfig(jwks.URL)
	cfg.Policy.Default = policy.AuthRequired
	r := startRunner(t, cfg)
	conn := dial(t, r.GRPCAddr(), nil)
	readyz := "http://" + r.AdminAddr().String() + "/readyz"

	// Several failed fetches: the first load and at least one retry.
	testkit.Eventually(t, "two failed key fetches", func() bool { return jwks.Hits.Load() >= 2 })
	for _, service := range []string{"", AuthorizationService} {
		if got := healthStatus(t, conn, service); got != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health %q with keys down = %v, want NOT_SERVING", service, got)
		}
	}
	if code, body := httpGet(t, readyz); code != http.StatusServiceUnavailable || !strings.Contains(body, "keys not loaded") {
		t.Errorf("/readyz with keys down = %d %q, want 503", code, body)
	}
	if code, _ := httpGet(t, "http://"+r.AdminAddr().String()+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with keys down = %d, want 200: the process is alive", code)
	}
	if r.Ready() {
		t.Error("Ready() with keys down")
	}
	// Checks are still answered, never with a gRPC error: a required route is denied 503.
	resp := check(t, conn, key.Sign(t, accessClaims(jwks.URL+"/pool", clientID)))
	if got := resp.GetDeniedResponse().GetStatus().GetCode(); got != typev3.StatusCode_ServiceUnavailable {
		t.Errorf("check on a required route with keys down: denied with %v, want 503 (response %v)", got, resp)
	}

	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	watch, err := healthpb.NewHealthClient(conn).Watch(watchCtx, &healthpb.HealthCheckRequest{Service: AuthorizationService})
	if err != nil {
		t.Fatal(err)
	}
	jwks.setUp(true)
	watchUntil(t, watch, healthpb.HealthCheckResponse_SERVING)
	if code, body := httpGet(t, readyz); code != http.StatusOK {
		t.Errorf("/readyz once keys loaded = %d %q, want 200", code, body)
	}
	if !r.Ready() {
		t.Error("Ready() false once keys loaded")
	}
	if got := healthStatus(t, conn, ""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf(`health "" once keys loaded = %v`, got)
	}

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- r.Shutdown(context.Background()) }()
	watchUntil(t, watch, healthpb.HealthCheckResponse_NOT_SERVING)
	// The open Watch stream keeps the graceful stop waiting, so the drain is observable.
	if code, body := httpGet(t, readyz); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz while draining = %d %q, want 503 shutting down", code, body)
	}
	if r.Ready() {
		t.Error("Ready() while shutting down")
	}
	stopWatch()
	if err := <-shutdownDone; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := http.Get(readyz); err == nil {
		t.Error("admin listener still serving after Shutdown")
	}
}

// TestShutdownFinishesInFlightChecks: a check waiting on a key fetch when shutdown begins is
// answered in full; new connections are refused meanwhile.
func TestShutdownFinishesInFlightChecks(t *testing.T) {
	oldKey, newKey := testkit.MustNewKey(t, "k1"), testkit.MustNewKey(t, "k2")
	jwks := newJWKSServer(t, oldKey)
	cfg := testConfig(jwks.URL)
	cfg.JWKS.MinRefetchInterval = time.Millisecond // the unknown kid below may refetch at once
	r := startRunner(t, cfg)
	conn := dial(t, r.GRPCAddr(), nil)
	testkit.Eventually(t, "ready", r.Ready)

	// A token signed with a key not published yet: its check waits on the refetch we hold.
	release := jwks.holdNext(oldKey, newKey)
	defer release()
	before := jwks.Hits.Load()
	token := newKey.Sign(t, accessClaims(jwks.URL+"/pool", clientID))
	result := make(chan *authv3.CheckResponse, 1)
	go func() { result <- check(t, conn, token) }()
	testkit.Eventually(t, "the check's key refetch", func() bool { return jwks.Hits.Load() > before })

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- r.Shutdown(context.Background()) }()
	testkit.Eventually(t, "the gRPC listener to close", func() bool {
		c, err := net.Dial("tcp", r.GRPCAddr().String())
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	release()
	if got := authStatus(<-result); got != "authenticated" {
		t.Errorf("in-flight check answered x-auth-status %q, want authenticated", got)
	}
	if err := <-shutdownDone; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownDrainsListenersTogether: the serving listeners drain at once within the one bound.
// A gRPC check waits on a key fetch, and the HTTP listener's drain lasts until the gRPC listener's
// has begun (a slow HTTP check): draining one after the other, gRPC's would begin only once the
// HTTP one had spent the whole bound, and cut its check off. /readyz answers 503 meanwhile.
func TestShutdownDrainsListenersTogether(t *testing.T) {
	oldKey, newKey := testkit.MustNewKey(t, "k1"), testkit.MustNewKey(t, "k2")
	jwks := newJWKSServer(t, oldKey)
	cfg := testConfig(jwks.URL)
	cfg.JWKS.MinRefetchInterval = time.Millisecond // the unknown kid below refetches at once
	cfg.HTTPListen = "127.0.0.1:0"
	r, err := New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)))
	if err != nil {
		t.Fatal(err)
	}
	grpcDraining, httpDraining := make(chan struct{}), make(chan struct{})
	drainGRPC, drainHTTP := r.grpcL.stop, r.httpL.stop
	r.grpcL.stop = func(ctx context.Context) error {
		close(grpcDraining)
		return drainGRPC(ctx)
	}
	r.httpL.stop = func(ctx context.Context) error {
		close(httpDraining)
		select {
		case <-grpcDraining:
		case <-ctx.Done():
		}
		return drainHTTP(ctx)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	shutdownAtEnd(t, r)
	conn := dial(t, r.GRPCAddr(), nil)
	testkit.Eventually(t, "ready", r.Ready)

	// A token signed with a key not published yet: its check waits on the refetch we hold.
	release := jwks.holdNext(oldKey, newKey)
	defer release()
	before := jwks.Hits.Load()
	result := make(chan string, 1)
	go func() { result <- authStatus(check(t, conn, newKey.Sign(t, accessClaims(jwks.URL+"/pool", clientID)))) }()
	testkit.Eventually(t, "the check's key refetch", func() bool { return jwks.Hits.Load() > before })

	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- r.Shutdown(ctx) }()
	<-httpDraining
	<-grpcDraining
	if code, body := httpGet(t, "http://"+r.AdminAddr().String()+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while checks drain = %d %q, want 503", code, body)
	}
	release()
	if got := <-result; got != "authenticated" {
		t.Errorf("in-flight check answered x-auth-status %q, want authenticated", got)
	}
	if err := <-shutdownDone; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownIsBounded: a stream that never ends (a health Watch) cannot hold shutdown past ctx.
func TestShutdownIsBounded(t *testing.T) {
	jwks := newJWKSServer(t, testkit.MustNewKey(t, "k1"))
	r := startRunner(t, testConfig(jwks.URL))
	conn := dial(t, r.GRPCAddr(), nil)
	watch, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil { // the stream is open on the server
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = r.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("Shutdown past its bound = %v, want an error saying checks were cut off", err)
	}
	if again := r.Shutdown(context.Background()); again == nil || again.Error() != err.Error() {
		t.Errorf("second Shutdown = %v, want the first result", again)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	r := startRunner(t, testConfig(jwks.URL))
	conn := dial(t, r.GRPCAddr(), nil)
	testkit.Eventually(t, "ready", r.Ready)
	token := key.Sign(t, accessClaims(jwks.URL+"/pool", clientID))
	for range 2 { // verified, then from the cache
		if got := authStatus(check(t, conn, token)); got != "authenticated" {
			t.Fatalf("valid token: x-auth-status %q", got)
		}
	}
	check(t, conn, "not-a-token")
	code, body := httpGet(t, "http://"+r.AdminAddr().String()+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`cognito_authz_checks_total{result="authenticated"} 2`,
		`cognito_authz_checks_total{result="anonymous"} 1`,
		`cognito_authz_token_rejections_total{reason="malformed"} 1`,
		`cognito_authz_jwks_fetches_total{issuer="` + jwks.URL + `/pool",result="ok"} 1`,
		`cognito_authz_jwks_keys{issuer="` + jwks.URL + `/pool"} 1`,
		"cognito_authz_token_cache_hits_total 1",
		"cognito_authz_token_cache_misses_total 2",
		"cognito_authz_check_duration_seconds_count 3",
		"cognito_authz_request_decode_panics_total 0",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	jwks := newJWKSServer(t, testkit.MustNewKey(t, "k1"))
	cfg := testConfig(jwks.URL)
	cfg.TLS = config.TLS{CertFile: pki.serverCert, KeyFile: pki.serverKey, ClientCAFile: pki.caCert}
	r := startRunner(t, cfg)
	testkit.Eventually(t, "ready", r.Ready)

	withCert := dial(t, r.GRPCAddr(), credentials.NewTLS(&tls.Config{
		RootCAs: pki.pool, ServerName: "localhost", Certificates: []tls.Certificate{pki.client},
	}))
	if got := healthStatus(t, withCert, AuthorizationService); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health over mTLS = %v", got)
	}

	withoutCert := dial(t, r.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: pki.pool, ServerName: "localhost"}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(withoutCert).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("health without a client certificate: %v, want Unavailable", err)
	}

	plaintext := dial(t, r.GRPCAddr(), nil)
	_, err = healthpb.NewHealthClient(plaintext).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext health on a TLS listener: %v, want Unavailable", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Issuers = []verifier.IssuerConfig{{UserPoolID: "us-east-1_X", TokenUse: verifier.TokenUseAccess}}
	_, err := New(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "issuers[0].client_ids: required") {
		t.Errorf("New with no client ids: %v", err)
	}
}

func TestStartFailsOnABusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(newJWKSServer(t, testkit.MustNewKey(t, "k1")).URL)
	cfg.AdminListen = busy.Addr().String()
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "admin_listen:") {
		t.Errorf("Start on a busy admin port: %v, want an admin_listen error", err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after a failed Start: %v", err)
	}
}

// TestRunStopsWhenContextEnds: Run is what serve does on SIGTERM.
func TestRunStopsWhenContextEnds(t *testing.T) {
	jwks := newJWKSServer(t, testkit.MustNewKey(t, "k1"))
	r, err := New(testConfig(jwks.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	testkit.Eventually(t, "ready", r.Ready)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if r.Ready() {
		t.Error("Ready() after Run returned")
	}
}

// authStatus is the x-auth-status an OK response sets, or "" when denied.
func authStatus(resp *authv3.CheckResponse) string { return okHeader(resp, "x-auth-status") }

// okHeader is the value an OK answer sets for name, or "".
func okHeader(resp *authv3.CheckResponse, name string) string {
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if h.GetHeader().GetKey() == name {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

// TestClaimThatCannotBeAHeaderIsMalformed: a genuine token whose claim holds invalid UTF-8 (or a
// control character) gets a decision through the real codec, anonymous with reason malformed on
// an optional route, never a gRPC error (which Envoy would answer 503 even there). It runs in
// both builds: `make test` runs this package with and without -tags vtprotobuf.
func TestClaimThatCannotBeAHeaderIsMalformed(t *testing.T) {
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	cfg := testConfig(jwks.URL)
	r := startRunner(t, cfg)
	conn := dial(t, r.GRPCAddr(), nil)
	testkit.Eventually(t, "ready", r.Ready)
	claims, err := json.Marshal(accessClaims(cfg.Issuers[0].Issuer, clientID))
	if err != nil {
		t.Fatal(err)
	}
	header := []byte(`{"alg":"RS256","kid":"k1"}`)
	for name, bad := range map[string]string{
		"invalid UTF-8 in username":      "\xff\xfe",
		"lone surrogate in username":     "\xed\xa0\x80",
		"truncated sequence in username": "caf\xc3",
		"control character in username":  `\u0007`,
	} {
		t.Run(name, func(t *testing.T) {
			payload := bytes.Replace(claims, []byte(`"username":"alice"`), []byte(`"username":"alice`+bad+`"`), 1)
			resp := check(t, conn, key.SignRaw(header, payload))
			if got, why := authStatus(resp), okHeader(resp, "x-auth-reason"); got != "anonymous" || why != "malformed" {
				t.Fatalf("x-auth-status %q, x-auth-reason %q, want anonymous, malformed", got, why)
			}
		})
	}
	// The same token with a sound username is let in, so the above is about the claim alone.
	if got := authStatus(check(t, conn, key.SignRaw(header, claims))); got != "authenticated" {
		t.Fatalf("the sound token: x-auth-status %q", got)
	}
}

// TestDecodePanicIsLoggedAndCounted: what the runner does with a panic the codec recovered from:
// counted in cognito_authz_request_decode_panics_total, logged with the runtime error's message
// and nothing of any other panic value (it might carry a token).
func TestDecodePanicIsLoggedAndCounted(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	r, err := New(testConfig(newJWKSServer(t, testkit.MustNewKey(t, "k1")).URL), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	var outOfRange runtime.Error
	func() {
		defer func() { outOfRange = recover().(runtime.Error) }()
		_ = []int{}[len(t.Name())]
	}()
	r.decodePanicked(outOfRange)
	r.decodePanicked("Bearer eyJhbGciOiJSUzI1NiJ9.secret.signature")

	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("%d log entries, want 2", len(entries))
	}
	if got := entries[0].ContextMap()["panic"]; got != outOfRange.Error() {
		t.Errorf("logged panic %q, want the runtime error %q", got, outOfRange.Error())
	}
	for _, e := range entries {
		if line := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(line, "eyJ") {
			t.Errorf("the log carries the panic value: %s", line)
		}
	}
	if err := testutil.GatherAndCompare(r.Metrics().Registry(), strings.NewReader(`
# HELP cognito_authz_request_decode_panics_total Check requests whose decoding panicked (a bug); each was refused, so Envoy answered 503.
# TYPE cognito_authz_request_decode_panics_total counter
cognito_authz_request_decode_panics_total 2
`), "cognito_authz_request_decode_panics_total"); err != nil {
		t.Error(err)
	}
}
