package runner

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/revocation"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// Cognito's GetUser answers, as Cognito gives them.
const (
	getUserLive      = `{"Username":"alice","UserAttributes":[{"Name":"sub","Value":"user-sub-1"}]}`
	getUserRevoked   = `{"__type":"NotAuthorizedException","message":"Access Token has been revoked"}`
	getUserThrottled = `{"__type":"TooManyRequestsException","message":"Too many requests"}`
)

// cognitoStandIn is Cognito's user-pool API for GetUser: it answers as told and counts calls.
type cognitoStandIn struct {
	*httptest.Server
	calls  atomic.Int64
	stop   chan struct{} // closed when the test ends: a held answer gives up
	mu     sync.Mutex
	answer http.HandlerFunc
}

func newCognitoStandIn(t testing.TB) *cognitoStandIn {
	c := &cognitoStandIn{stop: make(chan struct{})}
	c.answerWith(http.StatusOK, getUserLive)
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.calls.Add(1)
		c.mu.Lock()
		answer := c.answer
		c.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(func() {
		close(c.stop)
		c.Close()
	})
	return c
}

func (c *cognitoStandIn) answerWith(status int, body string) {
	c.setAnswer(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func (c *cognitoStandIn) setAnswer(f http.HandlerFunc) {
	c.mu.Lock()
	c.answer = f
	c.mu.Unlock()
}

// revocationEnv is a running service whose one issuer is checked online against a stand-in
// Cognito: /api/* required, /public/* optional, /skip/* required without the check.
type revocationEnv struct {
	svc     *Service
	key     *testkit.Key
	issuer  string
	cognito *cognitoStandIn
}

func newRevocationEnv(t testing.TB, edit func(*revocation.Config)) *revocationEnv {
	t.Helper()
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	cognito := newCognitoStandIn(t)
	cfg := testConfig(jwks.URL)
	cfg.Issuers[0].TokenUse = verifier.TokenUseAny
	cfg.HTTPListen = "127.0.0.1:0" // the forward-auth endpoint asks the same Check
	cfg.Issuers[0].Revocation = revocation.Config{Mode: revocation.ModeOnline, Endpoint: cognito.URL + "/", CacheTTL: time.Minute}
	if edit != nil {
		edit(&cfg.Issuers[0].Revocation)
	}
	cfg.Policy = policy.Config{Default: policy.AuthRequired, Rules: []policy.Rule{
		{PathPrefix: "/public", Auth: policy.AuthOptional},
		{PathPrefix: "/skip", Auth: policy.AuthRequired, Revocation: revocation.RuleSkip},
	}}
	svc := startRunner(t, cfg)
	testkit.Eventually(t, "keys loaded", svc.Ready)
	return &revocationEnv{svc: svc, key: key, issuer: cfg.Issuers[0].Issuer, cognito: cognito}
}

// token signs a token of one sign-in (originJTI) and kind (access or id).
func (e *revocationEnv) token(t testing.TB, use, originJTI, jti string) string {
	claims := accessClaims(e.issuer, clientID)
	claims["jti"], claims["origin_jti"] = jti, originJTI
	if use == "id" {
		delete(claims, "client_id")
		delete(claims, "username")
		delete(claims, "scope")
		claims["token_use"], claims["aud"], claims["cognito:username"] = "id", clientID, "alice"
	}
	return e.key.Sign(t, claims)
}

// outcome is what the service answers token on path: "authenticated", "anonymous <reason>", or
// "<status> <reason>" for a denial.
func (e *revocationEnv) outcome(ctx context.Context, path, token string) string {
	resp, err := e.svc.Check(ctx, checkRequestFor(path, token))
	if err != nil {
		return "error: " + err.Error()
	}
	return outcomeText(resp)
}

func checkRequestFor(path, token string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: path, Headers: map[string]string{"authorization": "Bearer " + token}},
	}}}
}

func outcomeText(resp *authv3.CheckResponse) string {
	if s := authStatus(resp); s != "" {
		if r := okHeader(resp, "x-auth-reason"); r != "" {
			return s + " " + r
		}
		return s
	}
	var body struct{ Reason string }
	_ = json.Unmarshal([]byte(resp.GetDeniedResponse().GetBody()), &body)
	return resp.GetDeniedResponse().GetStatus().GetCode().String() + " " + body.Reason
}

// TestRevokedTokenRefused: a token Cognito calls revoked is refused like any invalid token (401
// on a required route, anonymous on an optional one), and so is every token of its sign-in, the
// ID token and a token whose answer the service already keeps in its verified-token cache; a
// route that skips the check still accepts it.
func TestRevokedTokenRefused(t *testing.T) {
	e := newRevocationEnv(t, nil)
	ctx := context.Background()
	keptAccess := e.token(t, "access", "sign-in-1", "a1")
	idToken := e.token(t, "id", "sign-in-1", "i1")
	for _, tok := range []string{keptAccess, idToken} {
		if got := e.outcome(ctx, "/api/x", tok); got != "authenticated" {
			t.Fatalf("before the sign-out: %s, want authenticated", got)
		}
	}
	e.cognito.answerWith(http.StatusBadRequest, getUserRevoked)
	refreshed := e.token(t, "access", "sign-in-1", "a2") // not in any cache: Cognito is asked
	for _, c := range []struct{ name, path, token, want string }{
		{"new token of the sign-in", "/api/x", refreshed, "Unauthorized revoked"},
		{"access token kept in the caches", "/api/x", keptAccess, "Unauthorized revoked"},
		{"ID token of the sign-in", "/api/x", idToken, "Unauthorized revoked"},
		{"optional route", "/public/x", keptAccess, "anonymous revoked"},
		{"route that skips the check", "/skip/x", keptAccess, "authenticated"},
	} {
		if got := e.outcome(ctx, c.path, c.token); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// The HTTP forward-auth endpoint answers the same.
	if got := httpOutcomeOf(http.DefaultClient, e.svc.HTTPAddr().String(), refreshed); got != "401 Unauthorized" {
		t.Errorf("over the HTTP endpoint: %s, want 401 Unauthorized", got)
	}
	other := e.token(t, "access", "sign-in-2", "b1")
	if got := e.outcome(ctx, "/skip/x", other); got != "authenticated" {
		t.Errorf("another sign-in on a skipped route: %s, want authenticated", got)
	}
}

// TestRevocationUnavailable: when Cognito is unreachable, slower than the check's deadline,
// failing or throttling, the check ends before the caller's deadline with on_unavailable's
// answer: 503 revocation_unavailable (anonymous on an optional route), or the token accepted.
func TestRevocationUnavailable(t *testing.T) {
	failures := []struct {
		name   string
		break_ func(*revocationEnv)
	}{
		{"unreachable", func(e *revocationEnv) { e.cognito.Close() }},
		{"slow", func(e *revocationEnv) {
			e.cognito.setAnswer(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-e.cognito.stop:
				}
			})
		}},
		{"5xx", func(e *revocationEnv) {
			e.cognito.answerWith(http.StatusInternalServerError, `{"__type":"InternalErrorException"}`)
		}},
		{"throttling", func(e *revocationEnv) { e.cognito.answerWith(http.StatusBadRequest, getUserThrottled) }},
	}
	for _, f := range failures {
		for _, mode := range []struct {
			on                 revocation.OnUnavailable
			required, optional string
		}{
			{revocation.OnUnavailableRefuse, "ServiceUnavailable revocation_unavailable", "anonymous revocation_unavailable"},
			{revocation.OnUnavailableAccept, "authenticated", "authenticated"},
		} {
			t.Run(f.name+"/"+string(mode.on), func(t *testing.T) {
				e := newRevocationEnv(t, func(c *revocation.Config) { c.OnUnavailable = mode.on })
				f.break_(e)
				for i, c := range []struct{ path, want string }{{"/api/x", mode.required}, {"/public/x", mode.optional}} {
					ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
					deadline, _ := ctx.Deadline()
					got := e.outcome(ctx, c.path, e.token(t, "access", "sign-in", string(rune('a'+i))))
					answeredInTime := time.Now().Before(deadline)
					cancel()
					if got != c.want {
						t.Errorf("%s: %s, want %s", c.path, got, c.want)
					}
					if !answeredInTime {
						t.Errorf("%s: answered after the caller's deadline", c.path)
					}
				}
			})
		}
	}
}

// TestRevocationCallsPerToken: within the cache period one token costs one call to Cognito,
// however often it comes and however many of its first checks arrive at once.
func TestRevocationCallsPerToken(t *testing.T) {
	e := newRevocationEnv(t, nil)
	ctx := context.Background()
	tok := e.token(t, "access", "sign-in-1", "a1")
	for i := range 1000 {
		if got := e.outcome(ctx, "/api/x", tok); got != "authenticated" {
			t.Fatalf("request %d: %s", i, got)
		}
	}
	if n := e.cognito.calls.Load(); n != 1 {
		t.Errorf("1,000 requests of one token made %d calls, want 1", n)
	}

	// 200 concurrent first requests of another token: held at Cognito until all have arrived.
	release := make(chan struct{})
	e.cognito.setAnswer(func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-release:
		case <-e.cognito.stop:
		}
		_, _ = io.WriteString(w, getUserLive)
	})
	fresh := e.token(t, "access", "sign-in-2", "b1")
	var wg sync.WaitGroup
	results := make(chan string, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- e.outcome(ctx, "/api/x", fresh)
		}()
	}
	testkit.Eventually(t, "the first call reaches Cognito", func() bool { return e.cognito.calls.Load() == 2 })
	close(release)
	wg.Wait()
	close(results)
	for got := range results {
		if got != "authenticated" {
			t.Fatalf("a concurrent request: %s", got)
		}
	}
	if n := e.cognito.calls.Load() - 1; n != 1 {
		t.Errorf("200 concurrent first requests made %d calls, want 1", n)
	}
}

// TestReloadKeepsRevokedSignIns: a configuration reload keeps what the checker learnt, so a
// sign-out found before it is still refused after it without another call.
func TestReloadKeepsRevokedSignIns(t *testing.T) {
	e := newRevocationEnv(t, nil)
	ctx := context.Background()
	e.cognito.answerWith(http.StatusBadRequest, getUserRevoked)
	if got := e.outcome(ctx, "/api/x", e.token(t, "access", "sign-in-1", "a1")); got != "Unauthorized revoked" {
		t.Fatalf("before the reload: %s", got)
	}
	cfg := *e.svc.current.Load().cfg
	cfg.Policy.Rules = append([]policy.Rule{{PathPrefix: "/new", Auth: policy.AuthOptional}}, cfg.Policy.Rules...)
	if err := e.svc.reload(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	calls := e.cognito.calls.Load()
	if got := e.outcome(ctx, "/api/x", e.token(t, "access", "sign-in-1", "a2")); got != "Unauthorized revoked" {
		t.Errorf("after the reload: %s, want Unauthorized revoked", got)
	}
	if n := e.cognito.calls.Load() - calls; n != 0 {
		t.Errorf("after the reload a token of the revoked sign-in made %d calls, want 0", n)
	}
}

// BenchmarkCheckCachedTokenRevocation is Check of a token the service has seen before, with the
// revocation check off and on (its live answer cached): the cost of the check on the hot path.
// Compare the two in one run (docs/performance.md).
func BenchmarkCheckCachedTokenRevocation(b *testing.B) {
	for _, mode := range []revocation.Mode{revocation.ModeOff, revocation.ModeOnline} {
		b.Run("revocation="+string(mode), func(b *testing.B) {
			e := newRevocationEnv(b, func(c *revocation.Config) { c.Mode = mode })
			req := checkRequestFor("/api/x", e.token(b, "access", "sign-in-1", "a1"))
			ctx := context.Background()
			check := func() bool {
				a, err := e.svc.CheckAnswer(ctx, req)
				return err == nil && authStatus(a.Response()) == "authenticated"
			}
			if !check() {
				b.Fatal("the token does not authenticate")
			}
			b.ReportAllocs()
			for b.Loop() {
				if !check() {
					b.Fatal("not authenticated")
				}
			}
			if mode == revocation.ModeOnline && e.cognito.calls.Load() != 1 {
				b.Errorf("%d calls to Cognito, want 1 (a warm cache)", e.cognito.calls.Load())
			}
		})
	}
}
