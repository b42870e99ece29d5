package authz_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/authz"
	"github.com/cognito-authz/cognito-authz/extauthz/internal/verifier"
)

// threeClaims maps a custom attribute, a pre-token-generation array and an object claim.
var threeClaims = []authz.ClaimHeader{
	{Claim: "custom:tenant_id", Header: "tenant-id"},
	{Claim: "roles", Header: "roles"},
	{Claim: "plan", Header: "plan"},
}

// claimFixture is a Server whose verifier and headers share claims, as the runner builds them.
func claimFixture(t *testing.T, claims []authz.ClaimHeader, maxBytes int) (*issuerEnv, *authz.Server, *envoy) {
	t.Helper()
	headers := authz.HeaderConfig{Claims: claims, MaxClaimBytes: maxBytes}
	env := newIssuerEnv(t, func(c *verifier.Config) {
		c.HeaderClaims, c.MaxClaimBytes = headers.ClaimNames(), maxBytes
	})
	srv, err := authz.New(authz.Options{Verifier: env.verifier, Policy: testPolicy, TokenSources: testSources, Headers: headers, DynamicMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	return env, srv, serve(t, srv)
}

func TestClaimHeaders(t *testing.T) {
	env, _, rpc := claimFixture(t, threeClaims, 0)
	full := sign(t, with(with(with(env.idClaims("tina", nil), "custom:tenant_id", "acme"),
		"roles", []string{"billing admin", "reader"}), "plan", map[string]any{"tier": "gold", "seats": 5}))
	partial := sign(t, with(env.accessClaims("paul", nil, "openid"), "custom:tenant_id", 42))
	owned := append(owned("", false), "x-user-tenant-id", "x-user-roles", "x-user-plan")

	spoofed := map[string]string{"x-user-tenant-id": "victim", "X-User-Roles": "admin", "X-USER-PLAN": "{}"}
	withToken := func(token string) map[string]string {
		h := cloneHeaders(spoofed)
		h["authorization"] = "Bearer " + token
		return h
	}
	tests := []struct {
		name     string
		path     string
		headers  map[string]string
		want     map[string]string // the claim headers the app receives
		metadata map[string]string
	}{
		{
			name: "every claim, each kind encoded", path: "/api/me", headers: withToken(full),
			want: map[string]string{"x-user-tenant-id": "acme", "x-user-roles": "billing%20admin,reader",
				"x-user-plan": `{"seats":5,"tier":"gold"}`},
			metadata: map[string]string{"tenant-id": "acme", "roles": "billing%20admin,reader", "plan": `{"seats":5,"tier":"gold"}`},
		},
		{
			name: "a number as its JSON text; claims the token lacks are removed", path: "/api/me", headers: withToken(partial),
			want: map[string]string{"x-user-tenant-id": "42"}, metadata: map[string]string{"tenant-id": "42"},
		},
		{name: "anonymous: a client's copies never reach the app", path: "/", headers: cloneHeaders(spoofed), want: map[string]string{}},
		{name: "skipped route: removed too", path: "/healthz", headers: withToken(full), want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rpc.check(t, request("GET", tt.path, tt.headers, nil))
			a := read(t, resp)
			if !a.ok {
				t.Fatalf("denied %d %s", a.status, a.body)
			}
			assertEveryOwnedHeaderHandled(t, a, owned)
			app := a.upstream(tt.headers)
			for _, name := range []string{"x-user-tenant-id", "x-user-roles", "x-user-plan"} {
				got, present := app[name]
				want, wanted := tt.want[name]
				if present != wanted || got != want {
					t.Errorf("app receives %s=%q (present %v), want %q (present %v)", name, got, present, want, wanted)
				}
			}
			claims := resp.GetDynamicMetadata().GetFields()[authz.MetaClaims].GetStructValue().GetFields()
			if tt.metadata != nil {
				got := map[string]string{}
				for k, v := range claims {
					got[k] = v.GetStringValue()
				}
				if !mapsEqual(got, tt.metadata) {
					t.Errorf("metadata claims %v, want %v", got, tt.metadata)
				}
			} else if claims != nil {
				t.Errorf("metadata claims %v on a %s answer", claims, a.set["x-auth-status"])
			}
		})
	}
}

// TestClaimHeadersBuiltOncePerToken: a repeated token gets the very answer built the first time,
// claim headers included.
func TestClaimHeadersBuiltOncePerToken(t *testing.T) {
	env, srv, _ := claimFixture(t, threeClaims, 0)
	token := sign(t, with(env.idClaims("tina", nil), "custom:tenant_id", "acme"))
	first, _ := srv.CheckAnswer(context.Background(), request("GET", "/api/me", bearer(token), nil))
	again, _ := srv.CheckAnswer(context.Background(), request("GET", "/api/me", bearer(token), nil))
	if first != again {
		t.Fatal("a repeated token got a newly built answer")
	}
	if got := read(t, again.Response()).set["x-user-tenant-id"]; got != "acme" {
		t.Fatalf("x-user-tenant-id %q", got)
	}
}

// TestClaimOverCap: a claim longer than max_claim_bytes fails the token with its own reason: 401
// on a required route, anonymous on an optional one, and the client's copy is removed.
func TestClaimOverCap(t *testing.T) {
	env, _, rpc := claimFixture(t, threeClaims, 8)
	long := sign(t, with(env.idClaims("tina", nil), "custom:tenant_id", strings.Repeat("t", 9)))
	a := read(t, rpc.check(t, request("GET", "/api/me", bearer(long), nil)))
	if a.ok || a.status != 401 || !strings.Contains(a.body, `"reason":"claim_too_large"`) ||
		!strings.Contains(a.set["www-authenticate"], `error_description="claim_too_large"`) {
		t.Fatalf("required route: %+v", a)
	}
	h := bearer(long)
	h["x-user-tenant-id"] = "victim"
	anon := read(t, rpc.check(t, request("GET", "/", h, nil)))
	if !anon.ok || anon.set["x-auth-reason"] != "claim_too_large" || !slices.Contains(anon.removed, "x-user-tenant-id") {
		t.Fatalf("optional route: %+v", anon)
	}
}

func TestClaimHeadersValidate(t *testing.T) {
	tests := []struct {
		name   string
		config authz.HeaderConfig
		want   string // "" for valid
	}{
		{name: "valid", config: authz.HeaderConfig{Claims: threeClaims}},
		{name: "under a custom prefix", config: authz.HeaderConfig{Prefix: "x-id-", Claims: threeClaims}},
		{name: "upper case", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Claim: "a", Header: "Tenant"}}},
			want: `identity_headers.claims[0].header: "Tenant" must be one or more of a-z, 0-9 and -`},
		{name: "underscore", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Claim: "a", Header: "tenant_id"}}},
			want: `identity_headers.claims[0].header: "tenant_id" must be`},
		{name: "dot", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Claim: "a", Header: "tenant.id"}}},
			want: `identity_headers.claims[0].header: "tenant.id" must be`},
		{name: "empty header", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Claim: "a"}}},
			want: `identity_headers.claims[0].header: "" must be`},
		{name: "empty claim", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Header: "a"}}},
			want: `identity_headers.claims[0].claim: required`},
		{name: "duplicate", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Claim: "a", Header: "t"}, {Claim: "b", Header: "x"}, {Claim: "c", Header: "t"}}},
			want: `identity_headers.claims[2].header: "t" is already identity_headers.claims[0].header`},
		{name: "built-in", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Claim: "custom:sub", Header: "sub"}}},
			want: `identity_headers.claims[0].header: "sub" is the built-in identity header x-user-sub`},
		{name: "built-in client-id", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Claim: "azp", Header: "client-id"}}},
			want: `is the built-in identity header x-user-client-id`},
		{name: "the claims header", config: authz.HeaderConfig{ClaimsHeader: "x-user-all", Claims: []authz.ClaimHeader{{Claim: "a", Header: "all"}}},
			want: `identity_headers.claims[0].header: header "x-user-all" would be set twice`},
		{name: "a token source", config: authz.HeaderConfig{Claims: []authz.ClaimHeader{{Claim: "a", Header: "token"}}},
			want: `identity_headers.claims[0].header: header "x-user-token" is also a token source`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.config.Validate([]string{"x-user-token"})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
}

// BenchmarkCheckCachedTokenClaims is BenchmarkCheckCachedToken's CheckAnswer with no chosen claim
// and with three mapped (a string, an array and an object), in one run: a cached token's claim
// headers are built once, so the two should be within noise of each other.
func BenchmarkCheckCachedTokenClaims(b *testing.B) {
	for _, bc := range []struct {
		name   string
		claims []authz.ClaimHeader
	}{{"none", nil}, {"three", threeClaims}} {
		b.Run(bc.name, func(b *testing.B) {
			headers := authz.HeaderConfig{Claims: bc.claims}
			env := newIssuerEnv(b, func(c *verifier.Config) { c.HeaderClaims = headers.ClaimNames() })
			srv, err := authz.New(authz.Options{Verifier: env.verifier, Policy: testPolicy, TokenSources: testSources, Headers: headers})
			if err != nil {
				b.Fatal(err)
			}
			token := sign(b, with(with(with(env.accessClaims("alice", []string{"users", "admin"}, "openid reports/read reports/export"),
				"custom:tenant_id", "acme"), "roles", []string{"billing admin", "reader"}), "plan", map[string]any{"tier": "gold"}))
			req := request("GET", "/api/admin/users?page=2", map[string]string{
				"authorization": "Bearer " + token, "accept": "application/json", "x-request-id": "5f1c",
				"x-forwarded-for": "10.0.0.1", "cookie": "theme=dark; lang=en",
			}, nil)
			first, _ := srv.CheckAnswer(context.Background(), req)
			if first.Response().GetOkResponse() == nil {
				b.Fatal("the token does not authenticate")
			}
			b.ReportAllocs()
			for b.Loop() {
				if a, _ := srv.CheckAnswer(context.Background(), req); a != first {
					b.Fatal("a cached token's answer was built again")
				}
			}
		})
	}
}
