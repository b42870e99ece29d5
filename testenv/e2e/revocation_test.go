package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
)

// revocationCacheTTL is the staleness the test configures: a sign-out must reach the edge within
// it plus a second.
const revocationCacheTTL = 2 * time.Second

// TestRevocationAgainstMoto: with moto as the Cognito API behind the online revocation check, a
// signed-in user's tokens reach a checked route through Envoy; after GlobalSignOut (the user's
// own call with the access token) or AdminUserGlobalSignOut (a back end's), the same access token
// and the ID token of the same sign-in get 401 revoked within cache_ttl plus a second, while a
// route with revocation: skip still accepts the access token, which is valid to any JWT library.
//
// moto 5.2.1 does not implement RevokeToken (it answers 500), so a revoked refresh token cannot
// be shown here; GetUser answers NotAuthorizedException "Invalid token" after both sign-outs.
func TestRevocationAgainstMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through a real Envoy: not with -short")
	}
	moto := startMoto(t)
	pool := moto.createPool(t, "revocation")
	const skipped = backend.OpsPath // revocation: skip (the app has no page there: it answers 404, authenticated)
	s := startStack(t, func(c *extauthz.Config) {
		c.Issuers = []extauthz.Issuer{{
			UserPoolID: pool.id,
			JWKSURL:    moto.url + "/" + pool.id + "/.well-known/jwks.json",
			ClientIDs:  []string{pool.clientID},
			TokenUse:   extauthz.TokenUseAny,
			Revocation: extauthz.Revocation{
				Mode: extauthz.RevocationOnline, Endpoint: moto.url + "/", CacheTTL: revocationCacheTTL,
			},
		}}
		c.Policy.Rules = []extauthz.Rule{
			{PathPrefix: skipped, Auth: extauthz.AuthRequired, Revocation: extauthz.RevocationSkip},
			{PathPrefix: "/api", Auth: extauthz.AuthRequired},
		}
	})

	signOuts := []struct {
		name    string
		action  string
		signIn  string // InitiateAuth or AdminInitiateAuth
		request func(m motoSignIn) map[string]any
	}{
		{"GlobalSignOut", "GlobalSignOut", "InitiateAuth", func(m motoSignIn) map[string]any {
			return map[string]any{"AccessToken": m.tokens.AccessToken}
		}},
		{"AdminUserGlobalSignOut", "AdminUserGlobalSignOut", "AdminInitiateAuth", func(m motoSignIn) map[string]any {
			return map[string]any{"UserPoolId": m.pool.id, "Username": m.user.username}
		}},
	}
	for i, so := range signOuts {
		t.Run(so.name, func(t *testing.T) {
			user := pool.signIn(t, moto, "user"+string(rune('a'+i)), "", so.signIn)
			for _, tok := range []string{user.tokens.AccessToken, user.tokens.IdToken} {
				if a := get(t, s, backend.HomePath, e2e.Bearer(tok)); a.Status != http.StatusOK || a.App == nil {
					t.Fatalf("before the sign-out, a checked route: %s", a)
				}
			}
			moto.call(t, so.action, so.request(user), nil)
			signedOut := time.Now()

			revoked := func(tok string) bool {
				a := get(t, s, backend.HomePath, e2e.Bearer(tok))
				return a.Status == http.StatusUnauthorized && a.App == nil &&
					strings.Contains(a.Header.Get("Www-Authenticate"), `error_description="revoked"`)
			}
			if err := poll.Until(t.Context(), revocationCacheTTL+time.Second, func() bool { return revoked(user.tokens.AccessToken) }); err != nil {
				t.Fatalf("the access token is not refused as revoked within cache_ttl plus a second: %v", err)
			}
			t.Logf("refused %v after the sign-out", time.Since(signedOut).Round(time.Millisecond))
			if !revoked(user.tokens.IdToken) {
				t.Errorf("the ID token of the signed-out sign-in is not refused as revoked: %s", get(t, s, backend.HomePath, e2e.Bearer(user.tokens.IdToken)))
			}
			if a := get(t, s, skipped, e2e.Bearer(user.tokens.AccessToken)); a.App == nil || a.App.AuthStatus != "authenticated" {
				t.Errorf("a route with revocation: skip refuses the locally valid token: %s", a)
			}
		})
	}
}
