package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

func TestAnonymousRequestReachesTheAppAsAnonymous(t *testing.T) {
	s := startStack(t, nil)
	a := get(t, s, backend.HomePath, nil)
	wantApp(t, a)
	wantIdentity(t, a, map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "missing"})
	if a.App.AuthStatus != "anonymous" || a.App.User != nil {
		t.Errorf("the app served %q to user %+v, want the anonymous view", a.App.AuthStatus, a.App.User)
	}
}

func TestForgedIdentityHeadersNeverReachTheApp(t *testing.T) {
	s := startStack(t, nil)
	admin := user(t, s.Issuer, "alice", "admin")
	plain := user(t, s.Issuer, "bob")
	adminToken := s.Issuer.MustMint(t, issuer.TokenSpec{Username: admin.Username})
	plainToken := s.Issuer.MustMint(t, issuer.TokenSpec{Username: plain.Username})

	// Every header cognito-authz owns, claiming the admin's identity; some twice, some in odd case.
	forged := http.Header{
		"x-user-sub":       {"forged-sub", "forged-sub-2"},
		"X-User-Groups":    {"admin"},
		"x-auth-status":    {"authenticated"},
		"X-AUTH-REASON":    {"forged"},
		"x-user-name":      {"forged-name"},
		"x-user-email":     {"forged@example.com"},
		"x-user-scopes":    {"forged"},
		"x-user-client-id": {"forged"},
		"x-user-token-use": {"access"},
	}
	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
		want   map[string]string // identity headers the app must see, exactly; nil: must not reach it
	}{
		{"no token, optional route", backend.HomePath, nil, http.StatusOK,
			map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "missing"}},
		{"invalid token, optional route", backend.HomePath, e2e.Bearer("not.a.token"), http.StatusOK,
			map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "malformed"}},
		{"valid token of a user in no group", backend.HomePath, e2e.Bearer(plainToken), http.StatusOK,
			map[string]string{"x-auth-status": "authenticated", "x-user-sub": plain.Sub, "x-user-name": "bob",
				"x-user-scopes": issuer.DefaultScope, "x-user-client-id": e2e.ClientID, "x-user-token-use": "access"}},
		{"valid admin token, admin route", backend.AdminPath, e2e.Bearer(adminToken), http.StatusOK,
			map[string]string{"x-auth-status": "authenticated", "x-user-sub": admin.Sub, "x-user-name": "alice",
				"x-user-groups": "admin", "x-user-scopes": issuer.DefaultScope, "x-user-client-id": e2e.ClientID,
				"x-user-token-use": "access"}},
		{"no token, admin route", backend.AdminPath, nil, http.StatusUnauthorized, nil},
		{"forged group, admin route", backend.AdminPath, e2e.Bearer(plainToken), http.StatusForbidden, nil},
		{"health check, which skips the service", backend.HealthzPath, nil, http.StatusOK, map[string]string{}},
		{"health check with a valid token", backend.HealthzPath, e2e.Bearer(adminToken), http.StatusOK, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.BackendRequests()
			a := get(t, s, tt.path, withHeaders(forged, tt.header))
			if a.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.Status, tt.status, a)
			}
			if tt.want == nil {
				if a.App != nil || s.BackendRequests() != before {
					t.Fatalf("the request reached the app: %s", a)
				}
				return
			}
			wantApp(t, a)
			wantIdentity(t, a, tt.want)
			for name, values := range a.App.Headers {
				for _, v := range values {
					if strings.Contains(v, "forged") {
						t.Errorf("the app received %s: %q from the client", name, v)
					}
				}
			}
		})
	}
}

func TestValidTokensSetIdentityHeaders(t *testing.T) {
	s := startStack(t, nil)
	alice := user(t, s.Issuer, "alice", "admin", "editors")
	tests := []struct {
		name string
		spec issuer.TokenSpec
		want map[string]string
	}{
		{"access token", issuer.TokenSpec{Username: "alice", Scopes: []string{"openid", "profile"}},
			map[string]string{"x-auth-status": "authenticated", "x-user-sub": alice.Sub, "x-user-name": "alice",
				"x-user-groups": "admin,editors", "x-user-scopes": "openid profile",
				"x-user-client-id": e2e.ClientID, "x-user-token-use": "access"}},
		{"ID token", issuer.TokenSpec{Use: issuer.ID, Username: "alice"},
			map[string]string{"x-auth-status": "authenticated", "x-user-sub": alice.Sub, "x-user-name": "alice",
				"x-user-email": alice.Email, "x-user-groups": "admin,editors",
				"x-user-client-id": e2e.ClientID, "x-user-token-use": "id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, s, backend.HomePath, e2e.Bearer(s.Issuer.MustMint(t, tt.spec)))
			wantApp(t, a)
			wantIdentity(t, a, tt.want)
			if a.App.User == nil || a.App.User.Sub != alice.Sub {
				t.Errorf("the app served user %+v, want alice's own view", a.App.User)
			}
		})
	}
}

func TestIssuerConfiguredForIDTokensOnly(t *testing.T) {
	s := startStack(t, func(c *extauthz.Config) { c.Issuers[0].TokenUse = extauthz.TokenUseID })
	carol := user(t, s.Issuer, "carol", "admin")

	a := get(t, s, backend.AdminPath, e2e.Bearer(s.Issuer.MustMint(t, issuer.TokenSpec{Use: issuer.ID, Username: "carol"})))
	wantApp(t, a)
	wantIdentity(t, a, map[string]string{"x-auth-status": "authenticated", "x-user-sub": carol.Sub,
		"x-user-name": "carol", "x-user-email": carol.Email, "x-user-groups": "admin",
		"x-user-client-id": e2e.ClientID, "x-user-token-use": "id"})

	access := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "carol"})
	a = get(t, s, backend.HomePath, e2e.Bearer(access))
	wantApp(t, a)
	wantIdentity(t, a, map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "wrong_token_use"})
	a = get(t, s, backend.AdminPath, e2e.Bearer(access))
	if a.Status != http.StatusUnauthorized {
		t.Fatalf("access token on the admin route of an ID-token issuer: %s, want 401", a)
	}
	wantChallenge(t, a, `error_description="wrong_token_use"`)
}

func TestInvalidTokensAreAnonymousOnOptionalRoutesAndDeniedOnRequiredOnes(t *testing.T) {
	s := startStack(t, nil)
	user(t, s.Issuer, "alice", "admin")
	otherKey, err := issuer.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	signingKid := s.Issuer.SigningKey().ID
	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"expired", s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice",
			IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}), "expired"},
		{"signed by another key under the pool's kid", s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice",
			Key: otherKey, SetHeader: map[string]any{"kid": signingKid}}), "bad_signature"},
		{"signed by a key the pool never published", s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice",
			Key: otherKey}), "unknown_kid"},
		{"another app client", s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice",
			Set: map[string]any{"client_id": "someone-else"}}), "wrong_client"},
		{"another issuer", s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice",
			Set: map[string]any{"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"}}), "wrong_issuer"},
		{"not a JWT", "not-a-jwt", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, s, backend.HomePath, e2e.Bearer(tt.token))
			wantApp(t, a)
			wantIdentity(t, a, map[string]string{"x-auth-status": "anonymous", "x-auth-reason": tt.reason})

			before := s.BackendRequests()
			a = get(t, s, backend.AdminPath, e2e.Bearer(tt.token))
			if a.Status != http.StatusUnauthorized || a.App != nil || s.BackendRequests() != before {
				t.Fatalf("admin route: %s, want 401 from in front of the app", a)
			}
			wantChallenge(t, a, `error="invalid_token"`, `error_description="`+tt.reason+`"`)
		})
	}
}

func TestAdminRouteNeedsGroupAdmin(t *testing.T) {
	s := startStack(t, nil)
	alice := user(t, s.Issuer, "alice", "admin")
	user(t, s.Issuer, "bob", "editors")
	adminToken := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice"})
	editorToken := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "bob"})
	tests := []struct {
		name      string
		path      string
		header    http.Header
		status    int
		challenge string // a part of WWW-Authenticate; "" for none expected
		reason    string // the denial body's reason
	}{
		{"no token", backend.AdminPath, nil, http.StatusUnauthorized, `Bearer realm="cognito-authz"`, "missing"},
		{"no token, below the route", backend.AdminPath + "/reports", nil, http.StatusUnauthorized, `Bearer realm="cognito-authz"`, "missing"},
		{"no token, doubled slash", "/api//admin", nil, http.StatusUnauthorized, `Bearer realm="cognito-authz"`, "missing"},
		{"no token, dot segment", "/api/x/../admin", nil, http.StatusUnauthorized, `Bearer realm="cognito-authz"`, "missing"},
		{"not in group admin", backend.AdminPath, e2e.Bearer(editorToken), http.StatusForbidden, `error="insufficient_scope"`, "insufficient_group"},
		{"in group admin", backend.AdminPath, e2e.Bearer(adminToken), http.StatusOK, "", ""},
		{"in group admin, below the route", backend.AdminPath + "/reports", e2e.Bearer(adminToken), http.StatusOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.BackendRequests()
			a := get(t, s, tt.path, tt.header)
			if a.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.Status, tt.status, a)
			}
			if tt.status == http.StatusOK {
				wantApp(t, a)
				if !a.App.Admin || a.App.User == nil || a.App.User.Sub != alice.Sub {
					t.Errorf("the app answered %+v, want alice's admin view", a.App)
				}
				return
			}
			if a.App != nil || s.BackendRequests() != before {
				t.Fatalf("the request reached the app: %s", a)
			}
			if tt.status == http.StatusUnauthorized {
				wantChallenge(t, a, tt.challenge)
			} else if got := a.Header.Get("Www-Authenticate"); !strings.Contains(got, tt.challenge) {
				t.Errorf("WWW-Authenticate %q, want it to contain %s", got, tt.challenge)
			}
			var body struct{ Error, Reason string }
			if err := json.Unmarshal(a.Body, &body); err != nil || body.Reason != tt.reason {
				t.Errorf("body %q (%v), want JSON with reason %q", a.Body, err, tt.reason)
			}
		})
	}
}

func TestHealthzNeverCallsTheService(t *testing.T) {
	s := startStack(t, nil)
	token := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice"})

	before := checksAnswered(t, s)
	for _, h := range []http.Header{nil, e2e.Bearer(token), e2e.Bearer("not-a-jwt")} {
		a := get(t, s, backend.HealthzPath, h)
		wantApp(t, a)
		wantIdentity(t, a, nil)
	}
	if after := checksAnswered(t, s); after != before {
		t.Fatalf("/healthz cost %v checks, want none", after-before)
	}

	// The counter does count: one request elsewhere is one check.
	wantApp(t, get(t, s, backend.HomePath, nil))
	if after := checksAnswered(t, s); after != before+1 {
		t.Fatalf("one request to %s counted %v checks, want 1", backend.HomePath, after-before)
	}
}

func TestServiceStoppedMeans503NeverThrough(t *testing.T) {
	s := startStack(t, nil)
	user(t, s.Issuer, "alice", "admin")
	token := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice"})
	wantApp(t, get(t, s, backend.AdminPath, e2e.Bearer(token))) // working before

	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := s.StopAuthz(ctx); err != nil {
		t.Fatalf("stop cognito-authz: %v", err)
	}
	before := s.BackendRequests()
	for _, tt := range []struct {
		path   string
		header http.Header
	}{
		{backend.HomePath, nil},
		{backend.HomePath, e2e.Bearer(token)},
		{backend.AdminPath, e2e.Bearer(token)},
		{backend.AdminPath, nil},
	} {
		a := get(t, s, tt.path, tt.header)
		if a.Status != http.StatusServiceUnavailable || a.App != nil {
			t.Errorf("GET %s (token: %v) with cognito-authz stopped: %s, want 503 from Envoy", tt.path, tt.header != nil, a)
		}
	}
	if n := s.BackendRequests() - before; n != 0 {
		t.Errorf("%d requests reached the app while cognito-authz was stopped, want none", n)
	}
	// Routes that skip the check do not need the service.
	wantApp(t, get(t, s, backend.HealthzPath, nil))
}

func TestKeysKeepWorkingWhenTheKeyEndpointGoesDown(t *testing.T) {
	// Refresh often, so the service is seen failing to refetch before the tokens are sent.
	s := startStack(t, func(c *extauthz.Config) {
		c.JWKS.RefreshInterval = 20 * time.Millisecond
		c.JWKS.MinRefetchInterval = 20 * time.Millisecond
	})
	alice := user(t, s.Issuer, "alice", "admin")

	s.Issuer.FailJWKS(http.StatusServiceUnavailable)
	failedFetches := s.Issuer.JWKSRequests() + 3
	if err := poll.Until(t.Context(), 20*time.Second, func() bool { return s.Issuer.JWKSRequests() >= failedFetches }); err != nil {
		t.Fatalf("cognito-authz did not fail to refetch the keys three times: %v", err)
	}

	// Minted after the endpoint failed, so no cached verification can help: the kept keys must.
	token := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice"})
	a := get(t, s, backend.AdminPath, e2e.Bearer(token))
	wantApp(t, a)
	wantIdentity(t, a, map[string]string{"x-auth-status": "authenticated", "x-user-sub": alice.Sub,
		"x-user-name": "alice", "x-user-groups": "admin", "x-user-scopes": issuer.DefaultScope,
		"x-user-client-id": e2e.ClientID, "x-user-token-use": "access"})

	// A key published only now cannot be fetched: unavailable where auth is required, anonymous
	// where it is optional, never let through as someone.
	if _, err := s.Issuer.Rotate(); err != nil {
		t.Fatal(err)
	}
	rotated := s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice"})
	a = get(t, s, backend.AdminPath, e2e.Bearer(rotated))
	if a.Status != http.StatusServiceUnavailable || a.App != nil {
		t.Errorf("admin route, token under a key that cannot be fetched: %s, want 503", a)
	}
	a = get(t, s, backend.HomePath, e2e.Bearer(rotated))
	wantApp(t, a)
	wantIdentity(t, a, map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "jwks_unavailable"})
}

// stalledKeysAuthzTimeout is Envoy's timeout in TestStalledKeyEndpointGetsAnAnswerInTime: under
// the key fetch timeout (5s), so a wait for the fetch would outlast it. It is 1s, not the
// product's 0.25s (which the jwks unit test takes): the answer then has a quarter of a second to
// reach Envoy, which a test machine running every other test at once can be slower than.
const stalledKeysAuthzTimeout = "1s"

// TestStalledKeyEndpointGetsAnAnswerInTime: with the key endpoint stalling, a token under a key
// not fetched yet makes cognito-authz refetch, and it answers jwks_unavailable before Envoy's own
// timeout: anonymous on an optional route, its own 503 on a required one. Waiting for the fetch's
// own timeout (5s) instead left Envoy to answer 503 everywhere.
func TestStalledKeyEndpointGetsAnAnswerInTime(t *testing.T) {
	var stall atomic.Bool
	released := make(chan struct{})
	var keysURL string
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall.Load() {
			select {
			case <-released:
			case <-r.Context().Done():
				return
			}
		}
		resp, err := http.Get(keysURL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(keys.Close)
	s := startStackWith(t, e2e.Options{
		AuthzTimeout: stalledKeysAuthzTimeout,
		Configure: func(c *extauthz.Config) {
			keysURL = c.Issuers[0].JWKSURL
			c.Issuers[0].JWKSURL = keys.URL
			c.JWKS.MinRefetchInterval = time.Millisecond // every unknown kid may refetch
		},
	})
	user(t, s.Issuer, "alice", "admin")
	fetches := func() float64 {
		n, err := s.KeyFetches()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The stalled fetch goes on after the test's requests: let it finish before the stack stops
	// (cleanups run last first), so nothing of it outlives the test.
	t.Cleanup(func() {
		before := fetches()
		close(released)
		if err := poll.Until(context.Background(), 10*time.Second, func() bool { return fetches() > before }); err != nil {
			t.Errorf("the stalled key fetch did not finish once released: %v", err)
		}
	})

	stall.Store(true)
	if _, err := s.Issuer.Rotate(); err != nil {
		t.Fatal(err)
	}
	token := e2e.Bearer(s.Issuer.MustMint(t, issuer.TokenSpec{Username: "alice"}))
	for i := range 3 {
		a := get(t, s, backend.HomePath, token)
		wantApp(t, a)
		wantIdentity(t, a, map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "jwks_unavailable"})
		a = get(t, s, backend.AdminPath, token)
		if a.Status != http.StatusServiceUnavailable || !strings.Contains(string(a.Body), `"reason":"jwks_unavailable"`) {
			t.Errorf("request %d, admin route: %s, want cognito-authz's 503 with reason jwks_unavailable (not Envoy's)", i, a)
		}
	}
}

// TestAdminPathSpellingsThroughEnvoy: through Envoy's gRPC ext_authz (envoy/envoy-local.yaml),
// with cognito-authz's own rules for /api/admin (group admin) and /api/ops (group ops), every path
// an app server might route to /api/admin is denied before the app, for no token and for a token
// of group ops, or reaches the app only as /healthz. Envoy resolves dot segments itself; ";"
// parameters and encoded forms it passes on are cognito-authz's to judge.
func TestAdminPathSpellingsThroughEnvoy(t *testing.T) {
	s := startStack(t, func(cfg *extauthz.Config) {
		cfg.Policy.Rules = append(cfg.Policy.Rules,
			extauthz.Rule{PathPrefix: backend.AdminPath, Auth: extauthz.AuthRequired, GroupsAny: []string{"admin"}},
			extauthz.Rule{PathPrefix: backend.OpsPath, Auth: extauthz.AuthRequired, GroupsAny: []string{"ops"}})
	})
	user(t, s.Issuer, "olivia", "ops")
	opsToken := e2e.Bearer(s.Issuer.MustMint(t, issuer.TokenSpec{Username: "olivia"}))
	if a := getAsIs(t, s, backend.OpsPath+"/x", opsToken); a.App == nil || a.App.AuthStatus != "authenticated" {
		t.Fatalf("the ops user's own route: %s, want the app, authenticated", a)
	}
	for _, sp := range backend.AdminPathSpellings {
		var header http.Header
		if sp.UnderOps {
			header = opsToken
		}
		before := s.BackendRequests()
		a := getAsIs(t, s, sp.Path, header)
		switch {
		case a.App != nil && a.App.Path == backend.HealthzPath:
			t.Logf("%s: the app got %s", sp.Path, a.App.Path)
		case a.App != nil || s.BackendRequests() != before:
			t.Errorf("%s (ops token: %v) reached the app: %s", sp.Path, sp.UnderOps, a)
		default:
			t.Logf("%s (ops token: %v): %d", sp.Path, sp.UnderOps, a.Status)
		}
	}
}

// TestRouteSpellingsThroughEnvoy: with the committed routes alone (no rules: /api/admin is
// protected by its Envoy route's context extensions, /static is auth off), a path that Envoy routes
// one way and an app server another reaches the app neither unauthenticated nor at all: Envoy's
// ambiguous-path route answers 400, and behind it cognito-authz refuses such a path on a route
// decided by context extensions (ambiguous_path).
func TestRouteSpellingsThroughEnvoy(t *testing.T) {
	s := startStack(t, nil)
	for _, path := range []string{
		"/static/..;/api/admin",
		"/static/%2e%2e;/api/admin",
		"/static/..%3b/api/admin",
		"/static/..%5capi/admin",
		"/static/..%2fapi/admin",
		"/static/%252e%252e/api/admin",
		"/api/admin;x",
		"/api/admin%3bx",
	} {
		before := s.BackendRequests()
		a := getAsIs(t, s, path, nil)
		if a.App != nil || s.BackendRequests() != before {
			t.Errorf("%s reached the app: %s", path, a)
			continue
		}
		if a.Status != http.StatusBadRequest && a.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 400 from Envoy or 401 from cognito-authz", path, a.Status)
		}
	}
}
