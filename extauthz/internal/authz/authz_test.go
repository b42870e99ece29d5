package authz_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/policy"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/tokensource"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

var testPolicy = policy.Config{
	Default: policy.AuthOptional,
	Rules: []policy.Rule{
		{PathPrefix: "/healthz", Auth: policy.AuthOff},
		{PathPrefix: "/api/admin", Auth: policy.AuthRequired, GroupsAny: []string{"admin", "ops"}},
		{PathPrefix: "/api/reports", Auth: policy.AuthRequired, ScopesAll: []string{"reports/read", "reports/export"}},
		{PathPrefix: "/api/me", Auth: policy.AuthRequired},
	},
}

var testSources = tokensource.Config{
	AuthorizationHeader: true,
	Headers:             []string{"x-access-token"},
	Cookies:             []string{"access_token"},
	AmplifyCookies:      true,
	AmplifyClientIDs:    []string{clientID},
}

// ownedIdentity are the headers owned with the default prefix and no claims header.
var ownedIdentity = []string{
	"x-user-sub", "x-user-name", "x-user-email", "x-user-groups", "x-user-scopes",
	"x-user-client-id", "x-user-token-use",
}

type fixture struct {
	env *issuerEnv
	rec *recorder
	srv *authz.Server
	rpc *envoy

	alice, bob, carol, expired, badSignature, deadKeys, wrongClient string
}

func newFixture(t *testing.T, configure func(*authz.Options)) *fixture {
	t.Helper()
	f := &fixture{env: newIssuerEnv(t), rec: &recorder{}}
	opts := authz.Options{
		Verifier:     f.env.verifier,
		Policy:       testPolicy,
		TokenSources: testSources,
		Recorder:     f.rec,
	}
	if configure != nil {
		configure(&opts)
	}
	var err error
	if f.srv, err = authz.New(opts); err != nil {
		t.Fatal(err)
	}
	f.rpc = serve(t, f.srv)

	e := f.env
	f.alice = sign(t, e.accessClaims("alice", []string{"users", "admin"}, "openid reports/read reports/export"))
	f.bob = sign(t, e.accessClaims("bob", []string{"users"}, "openid reports/read"))
	f.carol = sign(t, e.idClaims("carol", []string{"ops"}))
	f.expired = sign(t, with(e.accessClaims("alice", nil, "openid"), "exp", now.Add(-time.Hour).Unix()))
	good := sign(t, e.accessClaims("mallory", nil, "openid"))
	i := len(good) - 20
	flipped := byte('A')
	if good[i] == 'A' {
		flipped = 'B'
	}
	f.badSignature = good[:i] + string(flipped) + good[i+1:]
	f.deadKeys = sign(t, with(e.accessClaims("dave", nil, "openid"), "iss", e.deadIss))
	f.wrongClient = sign(t, with(e.accessClaims("eve", nil, "openid"), "client_id", "someone-else"))
	return f
}

// owned lists every header the service owns under opts' header config.
func owned(claimsHeader string, strip bool) []string {
	out := append(slices.Clone(ownedIdentity), "x-auth-status", "x-auth-reason")
	if claimsHeader != "" {
		out = append(out, claimsHeader)
	}
	if strip {
		out = append(out, "authorization")
	}
	return out
}

// assertEveryOwnedHeaderHandled: on an OK answer every owned header is set or removed.
func assertEveryOwnedHeaderHandled(t *testing.T, a answer, names []string) {
	t.Helper()
	for _, name := range names {
		_, set := a.set[name]
		if !set && !slices.Contains(a.removed, name) {
			t.Errorf("owned header %s is neither set nor removed (set %v, removed %v)", name, a.set, a.removed)
		}
	}
}

// TestSpecTable plays every row of the results table (docs/reference.md#results), and the paths
// that lead to each.
func TestSpecTable(t *testing.T) {
	for _, metadata := range []bool{true, false} {
		t.Run(fmt.Sprintf("dynamic_metadata=%v", metadata), func(t *testing.T) { testSpecTable(t, metadata) })
	}
}

// testSpecTable checks every row's answer; without dynamic_metadata, no answer carries metadata.
func testSpecTable(t *testing.T, metadata bool) {
	f := newFixture(t, func(o *authz.Options) { o.DynamicMetadata = metadata })
	const realm = `Bearer realm="cognito-authz"`
	invalid := func(why string) string {
		return realm + `, error="invalid_token", error_description="` + why + `"`
	}
	tests := []struct {
		name      string
		req       *authv3.CheckRequest
		result    authz.Result
		reason    reason.Code
		status    int               // 0: OK
		set       map[string]string // OK: exactly the headers set; denied: headers the client gets
		metadata  map[string]string
		challenge string // denied: WWW-Authenticate, "" for none
	}{
		{
			name: "authenticated: access token on an optional route", req: request("GET", "/api/activities/home", bearer(f.alice), nil),
			result: policy.Authenticated,
			set: map[string]string{
				"x-user-sub": "alice", "x-user-name": "alice-name", "x-user-groups": "users,admin",
				"x-user-scopes": "openid reports/read reports/export", "x-user-client-id": clientID,
				"x-user-token-use": "access", "x-auth-status": "authenticated",
			},
			metadata: map[string]string{"auth_status": "authenticated", "sub": "alice", "username": "alice-name",
				"groups": "users,admin", "client_id": clientID, "token_use": "access"},
		},
		{
			name: "authenticated: ID token on a required route", req: request("GET", "/api/me/items", bearer(f.carol), nil),
			result: policy.Authenticated,
			set: map[string]string{
				"x-user-sub": "carol", "x-user-name": "carol-name", "x-user-email": "carol@example.com",
				"x-user-groups": "ops", "x-user-client-id": clientID, "x-user-token-use": "id",
				"x-auth-status": "authenticated",
			},
			metadata: map[string]string{"auth_status": "authenticated", "sub": "carol", "username": "carol-name",
				"groups": "ops", "client_id": clientID, "token_use": "id"},
		},
		{
			name: "anonymous: no token on an optional route", req: request("GET", "/api/activities/home", nil, nil),
			result: policy.Anonymous, reason: reason.Missing,
			set:      map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "missing"},
			metadata: map[string]string{"auth_status": "anonymous", "reason": "missing"},
		},
		{
			name: "anonymous: expired token on an optional route", req: request("GET", "/api/activities/home", bearer(f.expired), nil),
			result: policy.Anonymous, reason: reason.Expired,
			set:      map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "expired"},
			metadata: map[string]string{"auth_status": "anonymous", "reason": "expired"},
		},
		{
			name: "anonymous: bad signature on an optional route", req: request("GET", "/", bearer(f.badSignature), nil),
			result: policy.Anonymous, reason: reason.BadSignature,
			set:      map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "bad_signature"},
			metadata: map[string]string{"auth_status": "anonymous", "reason": "bad_signature"},
		},
		{
			name: "anonymous: keys unavailable on an optional route", req: request("GET", "/", bearer(f.deadKeys), nil),
			result: policy.Anonymous, reason: reason.JWKSUnavailable,
			set:      map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "jwks_unavailable"},
			metadata: map[string]string{"auth_status": "anonymous", "reason": "jwks_unavailable"},
		},
		{
			name: "unauthenticated: no token on a required route", req: request("GET", "/api/me", nil, nil),
			result: policy.Unauthenticated, reason: reason.Missing, status: 401, challenge: realm,
			metadata: map[string]string{"auth_status": "unauthenticated", "reason": "missing"},
		},
		{
			name: "unauthenticated: expired token on a required route", req: request("GET", "/api/me", bearer(f.expired), nil),
			result: policy.Unauthenticated, reason: reason.Expired, status: 401, challenge: invalid("expired"),
			metadata: map[string]string{"auth_status": "unauthenticated", "reason": "expired"},
		},
		{
			name: "unauthenticated: wrong client on a required route", req: request("GET", "/api/me", bearer(f.wrongClient), nil),
			result: policy.Unauthenticated, reason: reason.WrongClient, status: 401, challenge: invalid("wrong_client"),
			metadata: map[string]string{"auth_status": "unauthenticated", "reason": "wrong_client"},
		},
		{
			name: "unauthenticated: malformed token on a required route", req: request("GET", "/api/me", bearer("not-a-jwt"), nil),
			result: policy.Unauthenticated, reason: reason.Malformed, status: 401, challenge: invalid("malformed"),
			metadata: map[string]string{"auth_status": "unauthenticated", "reason": "malformed"},
		},
		{
			name: "forbidden: valid token lacking a group", req: request("GET", "/api/admin/users", bearer(f.bob), nil),
			result: policy.Forbidden, reason: reason.InsufficientGroup, status: 403,
			challenge: realm + `, error="insufficient_scope", error_description="insufficient_group"`,
			metadata:  map[string]string{"auth_status": "forbidden", "reason": "insufficient_group"},
		},
		{
			name: "forbidden: valid token lacking a scope", req: request("GET", "/api/reports/q3", bearer(f.bob), nil),
			result: policy.Forbidden, reason: reason.InsufficientScope, status: 403,
			challenge: realm + `, error="insufficient_scope", error_description="insufficient_scope"`,
			metadata:  map[string]string{"auth_status": "forbidden", "reason": "insufficient_scope"},
		},
		{
			name: "unavailable: keys cannot be had on a required route", req: request("GET", "/api/me", bearer(f.deadKeys), nil),
			result: policy.Unavailable, reason: reason.JWKSUnavailable, status: 503,
			metadata: map[string]string{"auth_status": "unavailable", "reason": "jwks_unavailable"},
		},
		{
			name: "skipped: auth off ignores even a bad token", req: request("GET", "/healthz", bearer(f.badSignature), nil),
			result: policy.Skipped, set: map[string]string{},
			metadata: map[string]string{"auth_status": "skipped"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, f.rpc.check(t, tt.req))
			if got := f.rec.last(); got.result != tt.result || got.why != string(tt.reason) {
				t.Errorf("recorded %v, want %s %q", got, tt.result, tt.reason)
			}
			wantMetadata := tt.metadata
			if !metadata {
				wantMetadata = map[string]string{}
			}
			if !mapsEqual(a.metadata, wantMetadata) {
				t.Errorf("dynamic metadata %v, want %v", a.metadata, wantMetadata)
			}
			if tt.status == 0 {
				if !a.ok {
					t.Fatalf("denied %d %s, want OK", a.status, a.body)
				}
				if !mapsEqual(a.set, tt.set) {
					t.Errorf("headers set %v, want %v", a.set, tt.set)
				}
				assertEveryOwnedHeaderHandled(t, a, owned("", false))
				return
			}
			if a.ok || a.status != tt.status {
				t.Fatalf("answer ok=%v status %d, want denied %d", a.ok, a.status, tt.status)
			}
			if a.set["www-authenticate"] != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", a.set["www-authenticate"], tt.challenge)
			}
			if a.set["content-type"] != "application/json" {
				t.Errorf("content-type %q", a.set["content-type"])
			}
			var body struct{ Error, Reason string }
			if err := json.Unmarshal([]byte(a.body), &body); err != nil || body.Error != string(tt.result) || body.Reason != string(tt.reason) {
				t.Errorf("body %s (%v), want error %q reason %q", a.body, err, tt.result, tt.reason)
			}
		})
	}
}

func TestDeniedGRPCStatus(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		req  *authv3.CheckRequest
		code int32
	}{
		{request("GET", "/", nil, nil), 0},
		{request("GET", "/api/me", nil, nil), 16},                 // UNAUTHENTICATED
		{request("GET", "/api/admin", bearer(f.bob), nil), 7},     // PERMISSION_DENIED
		{request("GET", "/api/me", bearer(f.deadKeys), nil), 14},  // UNAVAILABLE
		{request("GET", "/healthz", bearer(f.deadKeys), nil), 0},  // skipped
		{request("GET", "/api/me", bearer(f.alice), nil), 0},      // authenticated
		{request("GET", "/api/admin/x", bearer(f.carol), nil), 0}, // ops is one of admin, ops
		{request("GET", "/api/reports", bearer(f.alice), nil), 0}, // every scope held
		{request("GET", "/api/reports", bearer(f.carol), nil), 7}, // ID tokens have no scopes
		{request("GET", "/api/admin/x", bearer(f.expired), nil), 16},
	}
	for _, tt := range tests {
		resp := f.rpc.check(t, tt.req)
		if got := resp.GetStatus().GetCode(); got != tt.code {
			t.Errorf("%s %s: gRPC status %d, want %d", tt.req.Attributes.Request.Http.Method, tt.req.Attributes.Request.Http.Path, got, tt.code)
		}
	}
}

// TestSpoofing: identity headers a client sends never reach the app as they were sent.
func TestSpoofing(t *testing.T) {
	f := newFixture(t, nil)
	spoofed := map[string]string{
		"x-user-sub": "root", "x-user-name": "root", "x-user-email": "root@example.com", "x-user-groups": "admin",
		"x-user-scopes": "everything", "x-user-client-id": "evil", "x-user-token-use": "id",
		"x-auth-status": "authenticated", "x-auth-reason": "none",
	}
	withToken := func(token string) map[string]string {
		h := cloneHeaders(spoofed)
		h["authorization"] = "Bearer " + token
		return h
	}
	tests := []struct {
		name    string
		headers map[string]string
		path    string
		want    map[string]string // identity headers the app receives; any other owned one must be absent
	}{
		{"anonymous, no token", cloneHeaders(spoofed), "/", map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "missing"}},
		{"anonymous, invalid token", withToken(f.expired), "/", map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "expired"}},
		{"authenticated access token (no email)", withToken(f.bob), "/", map[string]string{
			"x-user-sub": "bob", "x-user-name": "bob-name", "x-user-groups": "users", "x-user-scopes": "openid reports/read",
			"x-user-client-id": clientID, "x-user-token-use": "access", "x-auth-status": "authenticated"}},
		{"authenticated ID token (no scopes)", withToken(f.carol), "/", map[string]string{
			"x-user-sub": "carol", "x-user-name": "carol-name", "x-user-email": "carol@example.com", "x-user-groups": "ops",
			"x-user-client-id": clientID, "x-user-token-use": "id", "x-auth-status": "authenticated"}},
		{"authenticated, no groups", withToken(sign(t, f.env.accessClaims("nogroups", nil, "openid"))), "/", map[string]string{
			"x-user-sub": "nogroups", "x-user-name": "nogroups-name", "x-user-scopes": "openid",
			"x-user-client-id": clientID, "x-user-token-use": "access", "x-auth-status": "authenticated"}},
		{"skipped route", withToken(f.alice), "/healthz", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, f.rpc.check(t, request("GET", tt.path, tt.headers, nil)))
			if !a.ok {
				t.Fatalf("denied %d", a.status)
			}
			app := a.upstream(tt.headers)
			for _, name := range owned("", false) {
				got, present := app[name]
				want, wanted := tt.want[name]
				if present != wanted || got != want {
					t.Errorf("app receives %s=%q (present %v), want %q (present %v)", name, got, present, want, wanted)
				}
			}
		})
	}
}

// TestSpoofingOddCasing: Envoy removes headers case-insensitively, and lists them lower-cased.
func TestSpoofingOddCasing(t *testing.T) {
	f := newFixture(t, nil)
	a := read(t, f.rpc.check(t, request("GET", "/", map[string]string{"X-User-Sub": "root", "X-AUTH-STATUS": "authenticated"}, nil)))
	app := a.upstream(map[string]string{"X-User-Sub": "root", "X-AUTH-STATUS": "authenticated"})
	if _, present := app["x-user-sub"]; present || app["x-auth-status"] != "anonymous" {
		t.Fatalf("app receives %v", app)
	}
}

func TestRulesAndContextExtensions(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		req    *authv3.CheckRequest
		result authz.Result
		reason reason.Code
	}{
		{"rule: admin group required", request("GET", "/api/admin", bearer(f.bob), nil), policy.Forbidden, reason.InsufficientGroup},
		{"context auth optional overrides the rule", request("GET", "/api/admin", bearer(f.bob), map[string]string{"auth": "optional"}), policy.Authenticated, ""},
		{"context auth off overrides the rule", request("GET", "/api/admin", nil, map[string]string{"auth": "off"}), policy.Skipped, ""},
		{"context auth required overrides an off rule", request("GET", "/healthz", nil, map[string]string{"auth": "required"}), policy.Unauthenticated, reason.Missing},
		{"unknown context auth is required", request("GET", "/healthz", nil, map[string]string{"auth": "maybe"}), policy.Unauthenticated, reason.Missing},
		{"context groups any-of: one held", request("GET", "/", bearer(f.bob), map[string]string{"groups": "admin, users"}), policy.Authenticated, ""},
		{"context groups any-of: none held", request("GET", "/", bearer(f.bob), map[string]string{"groups": "admin,ops"}), policy.Forbidden, reason.InsufficientGroup},
		{"context groups replace the rule's groups", request("GET", "/api/admin", bearer(f.bob), map[string]string{"groups": "users"}), policy.Authenticated, ""},
		{"context groups make the route required", request("GET", "/", nil, map[string]string{"auth": "optional", "groups": "users"}), policy.Unauthenticated, reason.Missing},
		{"context groups naming none admit nobody", request("GET", "/", bearer(f.alice), map[string]string{"groups": ","}), policy.Forbidden, reason.InsufficientGroup},
		{"context scopes all-of: all held", request("GET", "/", bearer(f.alice), map[string]string{"scopes": "openid reports/export"}), policy.Authenticated, ""},
		{"context scopes all-of: one missing", request("GET", "/", bearer(f.bob), map[string]string{"scopes": "openid reports/export"}), policy.Forbidden, reason.InsufficientScope},
		{"rule scopes all-of: one missing", request("GET", "/api/reports", bearer(f.bob), nil), policy.Forbidden, reason.InsufficientScope},
		{"context token_use id rejects access tokens", request("GET", "/", bearer(f.alice), map[string]string{"auth": "required", "token_use": "id"}), policy.Unauthenticated, reason.WrongTokenUse},
		{"context token_use id accepts ID tokens", request("GET", "/", bearer(f.carol), map[string]string{"auth": "required", "token_use": "id"}), policy.Authenticated, ""},
		{"context token_use access on an optional route", request("GET", "/", bearer(f.carol), map[string]string{"token_use": "access"}), policy.Anonymous, reason.WrongTokenUse},
		{"unknown context token_use matches no token", request("GET", "/", bearer(f.alice), map[string]string{"auth": "required", "token_use": "refresh"}), policy.Unauthenticated, reason.WrongTokenUse},
		{"query string does not change the rule", request("GET", "/api/admin?from=/healthz", bearer(f.bob), nil), policy.Forbidden, reason.InsufficientGroup},
		{"dot segments do not escape the rule", request("GET", "/healthz/../api/admin", bearer(f.bob), nil), policy.Forbidden, reason.InsufficientGroup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read(t, f.rpc.check(t, tt.req))
			if got := f.rec.last(); got.result != tt.result || got.why != string(tt.reason) {
				t.Fatalf("got %s %q, want %s %q", got.result, got.why, tt.result, tt.reason)
			}
		})
	}
}

func TestTokenSources(t *testing.T) {
	f := newFixture(t, nil)
	amplify := "CognitoIdentityServiceProvider." + clientID
	tests := []struct {
		name    string
		headers map[string]string
		sub     string // authenticated as; empty: anonymous with reason
		reason  reason.Code
	}{
		{"authorization header", bearer(f.alice), "alice", ""},
		{"authorization scheme in any case", map[string]string{"authorization": "BEARER " + f.alice}, "alice", ""},
		{"custom header", map[string]string{"x-access-token": f.bob}, "bob", ""},
		{"cookie", map[string]string{"cookie": "theme=dark; access_token=" + f.carol}, "carol", ""},
		{"amplify cookies", map[string]string{"cookie": amplify + ".LastAuthUser=bob; " + amplify + ".bob.accessToken=" + f.bob}, "bob", ""},
		{"authorization wins over a cookie", map[string]string{"authorization": "Bearer " + f.alice, "cookie": "access_token=" + f.bob}, "alice", ""},
		{"odd header casing", map[string]string{"Authorization": "Bearer " + f.alice}, "alice", ""},
		{"several authorization headers", map[string]string{"authorization": "Bearer " + f.alice + ",Bearer " + f.bob}, "", reason.Malformed},
		{"bearer without a token", map[string]string{"authorization": "Bearer "}, "", reason.Malformed},
		{"another scheme is no token", map[string]string{"authorization": "Basic dXNlcjpwdw=="}, "", reason.Missing},
		{"cookie header with junk", map[string]string{"cookie": ";;=; junk; \x01=\x02; a=b=c"}, "", reason.Missing},
		{"cookie with junk around the token", map[string]string{"cookie": "junk;;access_token=" + f.bob + ";=="}, "bob", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, f.rpc.check(t, request("GET", "/", tt.headers, nil)))
			if tt.sub != "" {
				if a.set["x-user-sub"] != tt.sub || a.set["x-auth-status"] != "authenticated" {
					t.Fatalf("headers %v, want authenticated as %s", a.set, tt.sub)
				}
				return
			}
			if a.set["x-auth-status"] != "anonymous" || a.set["x-auth-reason"] != string(tt.reason) {
				t.Fatalf("headers %v, want anonymous (%s)", a.set, tt.reason)
			}
		})
	}
}

func TestStripAuthorization(t *testing.T) {
	f := newFixture(t, func(o *authz.Options) { o.Headers.StripAuthorization = true })
	for _, tt := range []struct {
		name    string
		req     *authv3.CheckRequest
		headers map[string]string
	}{
		{"authenticated", request("GET", "/", bearer(f.alice), nil), bearer(f.alice)},
		{"anonymous with an invalid token", request("GET", "/", bearer(f.expired), nil), bearer(f.expired)},
		{"anonymous without a token", request("GET", "/", nil, nil), nil},
		{"skipped", request("GET", "/healthz", bearer(f.alice), nil), bearer(f.alice)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, f.rpc.check(t, tt.req))
			if !slices.Contains(a.removed, "authorization") {
				t.Fatalf("authorization not removed: %v", a.removed)
			}
			if _, present := a.upstream(tt.headers)["authorization"]; present {
				t.Fatal("the app receives the Authorization header")
			}
			assertEveryOwnedHeaderHandled(t, a, owned("", true))
		})
	}

	plain := newFixture(t, nil)
	a := read(t, plain.rpc.check(t, request("GET", "/", bearer(plain.alice), nil)))
	if slices.Contains(a.removed, "authorization") {
		t.Fatal("authorization removed without strip_authorization")
	}
}

func TestClaimsHeader(t *testing.T) {
	f := newFixture(t, func(o *authz.Options) { o.Headers.ClaimsHeader = "x-jwt-claims" })
	a := read(t, f.rpc.check(t, request("GET", "/", bearer(f.carol), nil)))
	segment := strings.Split(f.carol, ".")[1]
	if a.set["x-jwt-claims"] != segment {
		t.Fatalf("claims header %q, want the payload segment", a.set["x-jwt-claims"])
	}
	payload, err := base64.RawURLEncoding.DecodeString(a.set["x-jwt-claims"])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims["sub"] != "carol" || claims["email"] != "carol@example.com" {
		t.Fatalf("claims header decodes to %v (%v)", claims, err)
	}
	assertEveryOwnedHeaderHandled(t, a, owned("x-jwt-claims", false))

	spoof := map[string]string{"x-jwt-claims": "eyJzdWIiOiJyb290In0"}
	anon := read(t, f.rpc.check(t, request("GET", "/", spoof, nil)))
	if _, present := anon.upstream(spoof)["x-jwt-claims"]; present {
		t.Fatal("a client-sent claims header reaches the app on the anonymous path")
	}
	assertEveryOwnedHeaderHandled(t, anon, owned("x-jwt-claims", false))
}

func TestCustomPrefix(t *testing.T) {
	f := newFixture(t, func(o *authz.Options) { o.Headers.Prefix = "x-cognito-" })
	a := read(t, f.rpc.check(t, request("GET", "/", bearer(f.alice), nil)))
	if a.set["x-cognito-sub"] != "alice" || a.set["x-user-sub"] != "" {
		t.Fatalf("headers %v", a.set)
	}
	if !slices.Contains(a.removed, "x-cognito-email") {
		t.Fatalf("removed %v", a.removed)
	}
}

// TestGroupAndScopeNamesAreEncoded: a group named "guest,admin" reaches the app as one group, not
// as guest and admin; within a name ',', '%' and whitespace are percent-encoded, in the header and
// in the metadata alike, and the service's own group check stays exact.
func TestGroupAndScopeNamesAreEncoded(t *testing.T) {
	f := newFixture(t, func(o *authz.Options) { o.DynamicMetadata = true })
	odd := sign(t, f.env.accessClaims("olga", []string{"guest,admin", "50%", "team a", "tab\there", "nbsp\u00a0x", "plain"}, "openid api/x,y a%b"))
	a := read(t, f.rpc.check(t, request("GET", "/", bearer(odd), nil)))
	const wantGroups = "guest%2Cadmin,50%25,team%20a,tab%09here,nbsp%C2%A0x,plain"
	if got := a.set["x-user-groups"]; got != wantGroups {
		t.Errorf("x-user-groups %q, want %q", got, wantGroups)
	}
	if got := a.metadata[authz.MetaGroups]; got != wantGroups {
		t.Errorf("metadata groups %q, want %q", got, wantGroups)
	}
	if got, want := a.set["x-user-scopes"], "openid api/x%2Cy a%25b"; got != want {
		t.Errorf("x-user-scopes %q, want %q", got, want)
	}
	// Plain names are joined as they are.
	plain := read(t, f.rpc.check(t, request("GET", "/", bearer(f.alice), nil)))
	if got := plain.set["x-user-groups"]; got != "users,admin" {
		t.Errorf("x-user-groups %q, want users,admin", got)
	}
	// /api/admin needs group admin or ops: "guest,admin" is neither.
	denied := read(t, f.rpc.check(t, request("GET", "/api/admin/users", bearer(odd), nil)))
	if denied.ok || denied.status != 403 {
		t.Errorf("a group named \"guest,admin\" passed the admin check: %+v", denied)
	}
}

// TestBadInput: odd requests get a defined answer, never a gRPC error or a crash.
func TestBadInput(t *testing.T) {
	f := newFixture(t, nil)
	headerMap := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: "Authorization", RawValue: []byte("Bearer " + f.alice)},
		}}},
	}}}
	injected := sign(t, with(f.env.accessClaims("mallory", nil, "openid"), "username", "mallory\r\nx-user-groups: admin"))
	tests := []struct {
		name   string
		req    *authv3.CheckRequest
		result authz.Result
		reason reason.Code
	}{
		{"empty request", &authv3.CheckRequest{}, policy.Unauthenticated, reason.Missing},
		{"no HTTP attributes", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{ContextExtensions: map[string]string{"x": "y"}}}, policy.Unauthenticated, reason.Missing},
		{"no HTTP attributes, route off", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{ContextExtensions: map[string]string{"auth": "off"}}}, policy.Skipped, ""},
		{"empty path", request("GET", "", bearer(f.alice), nil), policy.Authenticated, ""},
		{"empty path, no token", request("GET", "", nil, nil), policy.Unauthenticated, reason.Missing},
		{"headers as a raw header map", headerMap, policy.Authenticated, ""},
		{"claim with CR LF", request("GET", "/", bearer(injected), nil), policy.Anonymous, reason.Malformed},
		{"huge token", request("GET", "/api/me", bearer(strings.Repeat("a", 20000)), nil), policy.Unauthenticated, reason.TooLarge},
		{"non-UTF-8 junk", request("\xff", "/\xff\x00", map[string]string{"authorization": "Bearer \xff.\xfe.\x00"}, map[string]string{"auth": "\xff"}), policy.Unauthenticated, reason.Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Over gRPC where the message can be marshalled; invalid UTF-8 cannot be, so that one
			// is called in-process.
			var resp *authv3.CheckResponse
			if strings.Contains(tt.name, "UTF-8") {
				var err error
				if resp, err = f.srv.Check(context.Background(), tt.req); err != nil {
					t.Fatal(err)
				}
			} else {
				resp = f.rpc.check(t, tt.req)
			}
			read(t, resp)
			if got := f.rec.last(); got.result != tt.result || got.why != string(tt.reason) {
				t.Fatalf("got %s %q, want %s %q", got.result, got.why, tt.result, tt.reason)
			}
		})
	}
	resp, err := f.srv.Check(context.Background(), nil)
	if err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Fatalf("nil request: %v, %v", resp, err)
	}
}

// panickingVerifier stands for a bug anywhere below Check.
type panickingVerifier struct{}

func (panickingVerifier) VerifySlot(context.Context, string) (*verifier.Claims, *verifier.Slot[authz.Answer], error) {
	panic("verifier bug, token " + "secret-token-value")
}

func TestFailClosed(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	rec := &recorder{}
	srv, err := authz.New(authz.Options{Verifier: panickingVerifier{}, Policy: testPolicy, TokenSources: testSources, Recorder: rec, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	rpc := serve(t, srv)

	t.Run("panic", func(t *testing.T) {
		a := read(t, rpc.check(t, request("GET", "/", bearer("a.b.c"), nil)))
		if a.ok || a.status != 503 || !strings.Contains(a.body, `"internal"`) {
			t.Fatalf("answer %+v, want a 503 denial", a)
		}
		if got := rec.last(); got.result != policy.Unavailable || got.why != "" {
			t.Fatalf("recorded %v", got)
		}
		for _, entry := range logs.All() {
			for k, v := range entry.ContextMap() {
				if strings.Contains(fmt.Sprint(v), "secret-token-value") {
					t.Fatalf("log field %s repeats the panic value: %v", k, v)
				}
			}
		}
		if logs.FilterMessage("check panicked; denied").Len() != 1 {
			t.Fatalf("logs %v", logs.All())
		}
	})

	t.Run("panicking recorder", func(t *testing.T) {
		env := newIssuerEnv(t)
		srv, err := authz.New(authz.Options{Verifier: env.verifier, Policy: testPolicy, TokenSources: testSources, Recorder: panickingRecorder{}})
		if err != nil {
			t.Fatal(err)
		}
		token := sign(t, env.accessClaims("alice", nil, "openid"))
		a := read(t, serve(t, srv).check(t, request("GET", "/", bearer(token), nil)))
		if a.ok || a.status != 503 {
			t.Fatalf("answer %+v, want a 503 denial", a)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		f := newFixture(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, req := range []*authv3.CheckRequest{
			request("GET", "/", nil, nil),
			request("GET", "/", bearer(f.alice), nil),
			request("GET", "/healthz", nil, nil),
		} {
			resp, err := f.srv.Check(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			a := read(t, resp)
			if a.ok || a.status != 503 || !strings.Contains(a.body, `"cancelled"`) {
				t.Fatalf("answer %+v, want a 503 denial", a)
			}
		}
	})

	t.Run("cancelled during verification", func(t *testing.T) {
		f := newFixture(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := authz.New(authz.Options{
			Verifier: cancellingVerifier{cancel: cancel, next: f.env.verifier}, Policy: testPolicy, TokenSources: testSources,
		})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Check(ctx, request("GET", "/", bearer(f.deadKeys), nil))
		if err != nil {
			t.Fatal(err)
		}
		if a := read(t, resp); a.ok || a.status != 503 {
			t.Fatalf("answer %+v: a cancelled check must not pass as anonymous", a)
		}
	})
}

// cancellingVerifier cancels the check's context while verifying, as Envoy giving up would.
type cancellingVerifier struct {
	cancel context.CancelFunc
	next   authz.TokenVerifier
}

func (c cancellingVerifier) VerifySlot(ctx context.Context, token string) (*verifier.Claims, *verifier.Slot[authz.Answer], error) {
	c.cancel()
	return c.next.VerifySlot(ctx, token)
}

func TestDecisionLog(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	f := newFixture(t, func(o *authz.Options) { o.Logger = zap.New(core) })
	f.rpc.check(t, request("GET", "/", bearer(f.alice), nil))
	f.rpc.check(t, request("GET", "/api/me", bearer(f.expired), nil))
	entries := logs.FilterMessage("check").All()
	if len(entries) != 2 {
		t.Fatalf("%d decision lines, want 2", len(entries))
	}
	first, second := entries[0].ContextMap(), entries[1].ContextMap()
	if first["result"] != "authenticated" || first["sub"] != "alice" || first["jti"] != "jti-alice" || first["reason"] != "" {
		t.Errorf("first line %v", first)
	}
	if second["result"] != "unauthenticated" || second["reason"] != "expired" || second["sub"] != "" {
		t.Errorf("second line %v", second)
	}
	for _, e := range logs.All() {
		for _, v := range e.ContextMap() {
			for _, token := range []string{f.alice, f.expired} {
				if strings.Contains(fmt.Sprint(v), strings.Split(token, ".")[2]) {
					t.Fatal("a signature reached the log")
				}
			}
		}
	}
}

func TestNewValidates(t *testing.T) {
	env := newIssuerEnv(t)
	tests := []struct {
		name    string
		modify  func(*authz.Options)
		wantErr string
	}{
		{"no verifier", func(o *authz.Options) { o.Verifier = nil }, "authz: no verifier"},
		{"policy", func(o *authz.Options) { o.Policy.Rules = []policy.Rule{{Auth: "sometimes"}} }, `policy.rules[0].auth: unknown value "sometimes"`},
		{"token sources", func(o *authz.Options) { o.TokenSources = tokensource.Config{} }, "token_sources: no source is enabled"},
		{"upper-case prefix", func(o *authz.Options) { o.Headers.Prefix = "X-User-" }, `identity_headers.prefix: "X-User-" must be lower-case`},
		{"prefix with a space", func(o *authz.Options) { o.Headers.Prefix = "x user-" }, `identity_headers.prefix: "x user-" is not a valid header name`},
		{"upper-case claims header", func(o *authz.Options) { o.Headers.ClaimsHeader = "X-Claims" }, `identity_headers.claims_header: "X-Claims" must be lower-case`},
		{"claims header clashes with an identity header", func(o *authz.Options) { o.Headers.ClaimsHeader = "x-user-sub" }, `identity_headers.claims_header: header "x-user-sub" would be set twice`},
		{"claims header is x-auth-status", func(o *authz.Options) { o.Headers.ClaimsHeader = "x-auth-status" }, `identity_headers.claims_header: header "x-auth-status" would be set twice`},
		{"claims header is authorization", func(o *authz.Options) { o.Headers.ClaimsHeader = "authorization" }, `identity_headers.claims_header: header "authorization" is needed by the request`},
		{"claims header is a token source", func(o *authz.Options) { o.Headers.ClaimsHeader = "x-access-token" }, `identity_headers.claims_header: header "x-access-token" is also a token source`},
		{"identity header is a token source", func(o *authz.Options) {
			o.Headers.Prefix = "x-"
			o.TokenSources.Headers = []string{"x-sub"}
		}, `identity_headers.prefix: header "x-sub" is also a token source`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := authz.Options{Verifier: env.verifier, Policy: testPolicy, TokenSources: testSources}
			tt.modify(&opts)
			_, err := authz.New(opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestConcurrentChecks shares canned and static response parts between goroutines; run with -race.
func TestConcurrentChecks(t *testing.T) {
	f := newFixture(t, nil)
	reqs := []*authv3.CheckRequest{
		request("GET", "/", bearer(f.alice), nil),
		request("GET", "/", nil, nil),
		request("GET", "/api/me", nil, nil),
		request("GET", "/api/admin", bearer(f.bob), nil),
		request("GET", "/healthz", nil, nil),
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			for i := range 50 {
				if _, err := f.rpc.client.Check(context.Background(), reqs[(g+i)%len(reqs)]); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func cloneHeaders(h map[string]string) map[string]string { return maps.Clone(h) }

func mapsEqual(a, b map[string]string) bool { return maps.Equal(a, b) }

// TestRepeatedToken: a repeated token's answer is built once and reused, for that token only,
// and only while the verifier still accepts the token.
func TestRepeatedToken(t *testing.T) {
	f := newFixture(t, nil)
	check := func(token string) *authv3.CheckResponse {
		t.Helper()
		resp, err := f.srv.Check(context.Background(), request("GET", "/api/me", bearer(token), nil))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := check(f.alice)
	if sub := read(t, check(f.bob)).set["x-user-sub"]; sub != "bob" {
		t.Fatalf("bob's answer names %q", sub)
	}
	again := check(f.alice)
	if again != first {
		t.Error("alice's repeated token got a newly built answer")
	}
	if sub := read(t, again).set["x-user-sub"]; sub != "alice" {
		t.Fatalf("alice's answer names %q", sub)
	}

	f.env.advance(2 * time.Hour) // past exp
	a := read(t, check(f.alice))
	if a.ok || a.status != 401 {
		t.Fatalf("an expired token was answered %+v", a)
	}
	if got := f.rec.last(); got.why != string(reason.Expired) {
		t.Fatalf("recorded %v", got)
	}
}

type panickingRecorder struct{}

func (panickingRecorder) CheckDone(authz.Result, reason.Code, time.Duration) { panic("recorder bug") }

// headerMapRequest is a request whose headers come as Envoy's header_map (and the forward-auth
// endpoint's): lines, in order, repeats and all.
func headerMapRequest(path string, lines []*corev3.HeaderValue) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: path, HeaderMap: &corev3.HeaderMap{Headers: lines}},
	}}}
}

// cookieFlood is a valid token in the Authorization header followed by n-1 Cookie lines.
func cookieFlood(token string, n int) []*corev3.HeaderValue {
	lines := []*corev3.HeaderValue{{Key: "authorization", Value: "Bearer " + token}}
	for len(lines) < n {
		lines = append(lines, &corev3.HeaderValue{Key: "cookie", Value: "a=b"})
	}
	return lines
}

// TestHeaderLineCap: up to MaxHeaderLines lines are read; one more and none is, so even a valid
// token does not authenticate: the request carries a malformed token, which a required route
// denies and an optional route answers as anonymous. An off route never reads them.
func TestHeaderLineCap(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		path   string
		lines  int
		result authz.Result
		reason reason.Code
	}{
		{"at the cap, required route", "/api/admin", authz.MaxHeaderLines, policy.Authenticated, ""},
		{"over the cap, required route", "/api/admin", authz.MaxHeaderLines + 1, policy.Unauthenticated, reason.Malformed},
		{"far over the cap, required route", "/api/admin", 100 * authz.MaxHeaderLines, policy.Unauthenticated, reason.Malformed},
		{"over the cap, optional route", "/", authz.MaxHeaderLines + 1, policy.Anonymous, reason.Malformed},
		{"over the cap, off route", "/healthz", authz.MaxHeaderLines + 1, policy.Skipped, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, f.rpc.check(t, headerMapRequest(tt.path, cookieFlood(f.alice, tt.lines))))
			if got := f.rec.last(); got.result != tt.result || got.why != string(tt.reason) {
				t.Fatalf("got %s %q, want %s %q", got.result, got.why, tt.result, tt.reason)
			}
			if tt.result == policy.Unauthenticated && (a.status != 401 || a.body != `{"error":"unauthenticated","reason":"malformed"}`) {
				t.Fatalf("denial %d %s, want 401 with reason malformed", a.status, a.body)
			}
		})
	}
}

// TestRepeatedHeadersJoined: repeats are joined as Envoy joins them, whatever their count.
func TestRepeatedHeadersJoined(t *testing.T) {
	got := authz.JoinHeaders([]*corev3.HeaderValue{
		{Key: "Cookie", Value: "a=1"}, {Key: "x-b", Value: "1"}, {Key: "cookie", RawValue: []byte("b=2")},
		{Key: "X-B", Value: "2"}, {Key: "cookie", Value: "c=3"}, {Key: "x-c", Value: "only"},
	})
	want := map[string]string{"cookie": "a=1; b=2; c=3", "x-b": "1,2", "x-c": "only"}
	if !maps.Equal(got, want) {
		t.Fatalf("JoinHeaders = %q, want %q", got, want)
	}
}
