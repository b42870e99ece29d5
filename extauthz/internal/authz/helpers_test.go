package authz_test

import (
	"context"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

const (
	poolPath     = "/us-east-1_AuthzTest"
	deadPoolPath = "/us-east-1_DeadKeys" // its JWKS endpoint always fails
	clientID     = "client-app-1"
	kid          = "kid-1"
)

// now is the instant every test verifies at.
var now = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

// signingKey is the pools' key, made once per test binary by testkit.
func signingKey() *testkit.Key { return testkit.SharedKey(kid) }

// issuerEnv is a loopback Cognito stand-in: one pool whose JWKS serves the signing key, and one
// whose JWKS endpoint is down.
type issuerEnv struct {
	issuer   string // the working pool's issuer URL
	deadIss  string // the failing pool's issuer URL
	verifier *verifier.Verifier[authz.Answer]
	clock    atomic.Int64 // the verifier's now, in Unix nanoseconds; starts at now
}

// advance moves the verifier's clock.
func (e *issuerEnv) advance(d time.Duration) { e.clock.Add(int64(d)) }

// newIssuerEnv starts the stand-in; edit, when given, changes the verifier's configuration.
func newIssuerEnv(t testing.TB, edit ...func(*verifier.Config)) *issuerEnv {
	t.Helper()
	keys := testkit.NewKeysServer(t, signingKey())
	dead := testkit.NewJWKSServer(t, nil)
	dead.Fail(http.StatusServiceUnavailable)

	env := &issuerEnv{issuer: keys.URL + poolPath, deadIss: dead.URL + deadPoolPath}
	env.clock.Store(now.UnixNano())
	var err error
	cfg := verifier.Config{
		Issuers: []verifier.IssuerConfig{
			{Issuer: env.issuer, ClientIDs: []string{clientID}, TokenUse: verifier.TokenUseAny},
			{Issuer: env.deadIss, ClientIDs: []string{clientID}, TokenUse: verifier.TokenUseAny},
		},
		HTTPClient:      keys.Client(),
		CacheMaxEntries: -1, // the default size; zero would disable the cache
		Now:             func() time.Time { return time.Unix(0, env.clock.Load()) },
	}
	for _, e := range edit {
		e(&cfg)
	}
	env.verifier, err = verifier.New[authz.Answer](cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The dead pool's keys cannot load: LoadMissing reports it, and the working pool loads anyway.
	_ = env.verifier.LoadMissing(context.Background())
	return env
}

// accessClaims is a Cognito access token's claim set.
func (e *issuerEnv) accessClaims(sub string, groups []string, scope string) map[string]any {
	return withoutEmptyGroups(map[string]any{
		"sub": sub, "cognito:groups": groups, "iss": e.issuer, "version": 2, "client_id": clientID,
		"origin_jti": "origin-" + sub, "event_id": "event-" + sub, "token_use": "access", "scope": scope,
		"auth_time": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(),
		"jti": "jti-" + sub, "username": sub + "-name",
	})
}

// idClaims is a Cognito ID token's claim set.
func (e *issuerEnv) idClaims(sub string, groups []string) map[string]any {
	return withoutEmptyGroups(map[string]any{
		"sub": sub, "cognito:groups": groups, "email_verified": true, "iss": e.issuer,
		"cognito:username": sub + "-name", "origin_jti": "origin-" + sub, "aud": clientID,
		"event_id": "event-" + sub, "token_use": "id", "auth_time": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(), "jti": "jti-id-" + sub,
		"email": sub + "@example.com",
	})
}

// withoutEmptyGroups drops cognito:groups when there are none, as Cognito does.
func withoutEmptyGroups(claims map[string]any) map[string]any {
	if g, _ := claims["cognito:groups"].([]string); len(g) == 0 {
		delete(claims, "cognito:groups")
	}
	return claims
}

// sign makes a compact RS256 JWS of claims with the test key.
func sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return signingKey().Sign(t, claims)
}

// with returns a copy of claims with the given members changed (nil deletes).
var with = testkit.With

// envoy is a gRPC client over bufconn that plays Envoy against a Server.
type envoy struct {
	client authv3.AuthorizationClient
}

func serve(t testing.TB, s *authz.Server) *envoy {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, s)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &envoy{client: authv3.NewAuthorizationClient(conn)}
}

// check sends one request; a gRPC error fails the test, since a decision is never one.
func (e *envoy) check(t testing.TB, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := e.client.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check returned a gRPC error: %v", err)
	}
	return resp
}

// request builds a CheckRequest the way Envoy does: lower-cased header keys, the path with its
// query, and the route's context extensions.
func request(method, path string, headers, ext map[string]string) *authv3.CheckRequest {
	h := map[string]string{":method": method, ":path": path, ":authority": "app.example", "user-agent": "test"}
	maps.Copy(h, headers)
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: "app.example", Scheme: "http", Protocol: "HTTP/1.1", Headers: h,
		}},
		ContextExtensions: ext,
	}}
}

func bearer(token string) map[string]string {
	return map[string]string{"authorization": "Bearer " + token}
}

// answer is what Envoy makes of a CheckResponse.
type answer struct {
	ok       bool
	status   int               // HTTP status of a denial
	set      map[string]string // headers set (OK) or sent to the client (denied)
	removed  []string
	body     string
	metadata map[string]string
}

func read(t testing.TB, resp *authv3.CheckResponse) answer {
	t.Helper()
	a := answer{set: map[string]string{}, metadata: map[string]string{}}
	for k, v := range resp.GetDynamicMetadata().GetFields() {
		a.metadata[k] = v.GetStringValue()
	}
	var headers []*corev3.HeaderValueOption
	switch r := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		a.ok = true
		if resp.GetStatus().GetCode() != 0 {
			t.Fatalf("OK response with gRPC status %d", resp.GetStatus().GetCode())
		}
		headers = r.OkResponse.GetHeaders()
		a.removed = r.OkResponse.GetHeadersToRemove()
	case *authv3.CheckResponse_DeniedResponse:
		if resp.GetStatus().GetCode() == 0 {
			t.Fatal("denied response with gRPC status OK")
		}
		a.status = int(r.DeniedResponse.GetStatus().GetCode())
		headers = r.DeniedResponse.GetHeaders()
		a.body = r.DeniedResponse.GetBody()
	default:
		t.Fatalf("response has no HTTP response: %v", resp)
	}
	for _, h := range headers {
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Fatalf("header %s set with %v, want OVERWRITE_IF_EXISTS_OR_ADD", h.GetHeader().GetKey(), h.GetAppendAction())
		}
		key := h.GetHeader().GetKey()
		if _, dup := a.set[key]; dup {
			t.Fatalf("header %s set twice", key)
		}
		a.set[key] = h.GetHeader().GetValue()
	}
	for _, name := range a.removed {
		if _, both := a.set[name]; both {
			t.Fatalf("header %s is both set and removed", name)
		}
	}
	return a
}

// upstream applies an OK answer to the client's headers as Envoy does (case-insensitive names):
// what the app behind Envoy receives.
func (a answer) upstream(clientHeaders map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range clientHeaders {
		out[strings.ToLower(k)] = v
	}
	maps.Copy(out, a.set)
	for _, name := range a.removed {
		delete(out, name)
	}
	return out
}

// recorder is a Recorder that keeps every call.
type recorder struct {
	mu    sync.Mutex
	calls []recorded
}

type recorded struct {
	result authz.Result
	why    string
}

func (r *recorder) CheckDone(result authz.Result, why reason.Code, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, recorded{result, string(why)})
}

func (r *recorder) last() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return recorded{}
	}
	return r.calls[len(r.calls)-1]
}
