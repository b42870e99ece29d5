package e2e_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/cognitolocal"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// cognito-local is a Cognito emulator nobody here wrote: its tokens check that the verifier
// accepts what a Cognito-shaped issuer really sends, not only what our own issuer mints. Its
// deviations from Cognito are listed in package cognitolocal.
func TestCognitoLocalTokensThroughEnvoy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through a real Envoy: not with -short")
	}
	s := e2e.StartTest(t, e2e.Options{IdP: e2e.IdPCognitoLocal, AuthzTimeout: testAuthzTimeout})
	cl := s.CognitoLocal
	p := cl.Pool
	alice, bob := p.Admin, p.User
	aliceTokens := signIn(t, cl, alice)
	bobTokens := signIn(t, cl, bob)
	if iss := claim(t, aliceTokens.AccessToken, "iss"); iss != p.Issuer {
		t.Fatalf("cognito-local's tokens carry iss %q, want %q (its TokenConfig.IssuerDomain)", iss, p.Issuer)
	}

	aliceAccess := map[string]string{"x-auth-status": "authenticated", "x-user-sub": alice.Sub,
		"x-user-name": alice.Username, "x-user-groups": "admin", "x-user-scopes": "aws.cognito.signin.user.admin",
		"x-user-client-id": p.ClientID, "x-user-token-use": "access"}
	aliceID := map[string]string{"x-auth-status": "authenticated", "x-user-sub": alice.Sub,
		"x-user-name": alice.Username, "x-user-email": alice.Email, "x-user-groups": "admin",
		"x-user-client-id": p.ClientID, "x-user-token-use": "id"}
	bobAccess := map[string]string{"x-auth-status": "authenticated", "x-user-sub": bob.Sub,
		"x-user-name": bob.Username, "x-user-scopes": "aws.cognito.signin.user.admin",
		"x-user-client-id": p.ClientID, "x-user-token-use": "access"}
	tests := []struct {
		name   string
		path   string
		token  string
		status int
		want   map[string]string // nil: must not reach the app
	}{
		{"alice's access token, admin route", backend.AdminPath, aliceTokens.AccessToken, http.StatusOK, aliceAccess},
		{"alice's ID token, admin route", backend.AdminPath, aliceTokens.IdToken, http.StatusOK, aliceID},
		{"bob's access token, feed", backend.HomePath, bobTokens.AccessToken, http.StatusOK, bobAccess},
		{"bob's access token, admin route", backend.AdminPath, bobTokens.AccessToken, http.StatusForbidden, nil},
		{"bob's ID token, admin route", backend.AdminPath, bobTokens.IdToken, http.StatusForbidden, nil},
		{"cognito-local's refresh token is no bearer token", backend.AdminPath, aliceTokens.RefreshToken, http.StatusUnauthorized, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, s, tt.path, e2e.Bearer(tt.token))
			if a.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.Status, tt.status, a)
			}
			if tt.want == nil {
				if a.App != nil {
					t.Fatalf("the request reached the app: %s", a)
				}
				return
			}
			wantApp(t, a)
			wantIdentity(t, a, tt.want)
		})
	}
}

// signIn signs u in, answering the SMS code from the outbox when asked.
func signIn(t *testing.T, cl *cognitolocal.Emulator, u cognitolocal.User) cognitolocal.Tokens {
	t.Helper()
	tok, err := cl.SignIn(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claim returns a string claim of token's payload, unverified: only to compare with what the
// test configures.
func claim(t *testing.T, token, name string) string {
	t.Helper()
	payload, err := issuer.UnverifiedClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := payload[name].(string)
	return v
}
