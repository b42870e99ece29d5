package e2e_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// Pre-token-generation-style access token claims (a V2 trigger's claimsToAddOrOverride), mapped
// beside the tenant: an array of strings and an object.
const (
	entitlementsHeader = envoyconf.IdentityPrefix + "entitlements"
	planHeader         = envoyconf.IdentityPrefix + "plan"
)

func mapClaims(c *extauthz.Config) {
	c.IdentityHeaders.Claims = append(append([]extauthz.ClaimHeader{}, envoyconf.ClaimHeaders...),
		extauthz.ClaimHeader{Claim: "entitlements", Header: "entitlements"},
		extauthz.ClaimHeader{Claim: "plan", Header: "plan"})
}

// claimHeaders are the chosen claims' headers, in the spellings a client may forge them.
var forgedClaimHeaders = http.Header{
	"X-User-Tenant-Id": {"forged-tenant", "forged-tenant-2"}, "x-user-tenant-id": {"forged-tenant-3"},
	"X-USER-TENANT-ID": {"forged-tenant-4"}, "X-User-Entitlements": {"forged"}, "x-user-plan": {`{"forged":true}`},
}

// wantClaimHeaders checks the chosen claims' headers the app received: exactly want's, no other.
func wantClaimHeaders(t *testing.T, a *e2e.Answer, want map[string]string) {
	t.Helper()
	for _, name := range []string{envoyconf.TenantHeader, entitlementsHeader, planHeader} {
		got := a.Received(name)
		w, expected := want[name]
		switch {
		case expected && (len(got) != 1 || got[0] != w):
			t.Errorf("the app saw %s %q, want exactly %q", name, got, w)
		case !expected && len(got) > 0:
			t.Errorf("the app saw %s %q, want none", name, got)
		}
	}
}

// TestClaimHeadersThroughEnvoy: the local issuer's access token with an array and an object claim
// reaches the app through the real Envoy encoded as docs/reference.md#claim-headers says, and a
// client's own copies of the claim headers never do, on a required, an optional and an off route.
func TestClaimHeadersThroughEnvoy(t *testing.T) {
	s := startStack(t, mapClaims)
	admin := user(t, s.Issuer, "alice", "admin")
	rich := s.Issuer.MustMint(t, issuer.TokenSpec{Username: admin.Username, Set: map[string]any{
		envoyconf.TenantClaim: "acme",
		"entitlements":        []string{"reports:read", "billing admin", "a,b"},
		"plan":                map[string]any{"tier": "gold", "seats": 25},
	}})
	bare := s.Issuer.MustMint(t, issuer.TokenSpec{Username: admin.Username})
	full := map[string]string{envoyconf.TenantHeader: "acme", entitlementsHeader: "reports:read,billing%20admin,a%2Cb",
		planHeader: `{"seats":25,"tier":"gold"}`}
	tests := []struct {
		name   string
		path   string
		header http.Header
		want   map[string]string
	}{
		{"required route, every claim", backend.AdminPath, e2e.Bearer(rich), full},
		{"required route, forged copies replaced", backend.AdminPath, withHeaders(forgedClaimHeaders, e2e.Bearer(rich)), full},
		{"required route, a token without the claims: forged copies removed", backend.AdminPath,
			withHeaders(forgedClaimHeaders, e2e.Bearer(bare)), map[string]string{}},
		{"optional route, every claim", backend.HomePath, withHeaders(forgedClaimHeaders, e2e.Bearer(rich)), full},
		{"optional route, anonymous: forged copies removed", backend.HomePath, forgedClaimHeaders, map[string]string{}},
		{"optional route, invalid token: forged copies removed", backend.HomePath,
			withHeaders(forgedClaimHeaders, e2e.Bearer("not.a.token")), map[string]string{}},
		{"off route: forged copies removed", backend.HealthzPath, withHeaders(forgedClaimHeaders, e2e.Bearer(rich)), map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, s, tt.path, tt.header)
			wantApp(t, a)
			wantClaimHeaders(t, a, tt.want)
		})
	}
}

// TestCognitoLocalCustomAttributeThroughEnvoy: a custom attribute set on a cognito-local user
// reaches the app from the user's ID token as its claim header; the access token, which has no
// custom attributes, sets none.
func TestCognitoLocalCustomAttributeThroughEnvoy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through a real Envoy: not with -short")
	}
	s := e2e.StartTest(t, e2e.Options{IdP: e2e.IdPCognitoLocal, AuthzTimeout: testAuthzTimeout, Configure: mapClaims})
	cl := s.CognitoLocal
	bob := cl.Pool.User
	tokens := signIn(t, cl, bob)
	if got := claim(t, tokens.IdToken, envoyconf.TenantClaim); got != bob.TenantID {
		t.Fatalf("cognito-local's ID token carries %s %q, want %q", envoyconf.TenantClaim, got, bob.TenantID)
	}
	a := get(t, s, backend.HomePath, withHeaders(forgedClaimHeaders, e2e.Bearer(tokens.IdToken)))
	wantApp(t, a)
	wantIdentity(t, a, map[string]string{"x-auth-status": "authenticated", "x-user-sub": bob.Sub,
		"x-user-name": bob.Username, "x-user-email": bob.Email, "x-user-client-id": cl.Pool.ClientID,
		"x-user-token-use": "id", envoyconf.TenantHeader: bob.TenantID})
	wantClaimHeaders(t, a, map[string]string{envoyconf.TenantHeader: bob.TenantID})

	a = get(t, s, backend.HomePath, withHeaders(forgedClaimHeaders, e2e.Bearer(tokens.AccessToken)))
	wantApp(t, a)
	wantClaimHeaders(t, a, map[string]string{})
}
