package e2e_test

import (
	"net/http"
	"testing"
	"time"

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

// cognitoTokens are the tokens of one sign-in.
type cognitoTokens struct {
	AccessToken, IdToken, RefreshToken string
}

// signIn signs u in with USER_PASSWORD_AUTH, as an app using the Cognito API directly does,
// answering the SMS code from the outbox when asked for one.
func signIn(t *testing.T, cl *cognitolocal.Emulator, u cognitolocal.User) cognitoTokens {
	t.Helper()
	ctx := t.Context()
	var out struct {
		ChallengeName        string
		AuthenticationResult cognitoTokens
	}
	from := cl.Outbox.Len()
	if err := cl.Call(ctx, "InitiateAuth", map[string]any{
		"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": cl.Pool.ClientID,
		"AuthParameters": map[string]string{"USERNAME": u.Username, "PASSWORD": u.Password},
	}, &out); err != nil {
		t.Fatal(err)
	}
	if out.ChallengeName == "SMS_MFA" {
		code, err := cl.Outbox.Await(ctx, from, u.Username, cognitolocal.PurposeSMSMFA, 10*time.Second)
		if err != nil {
			t.Fatalf("no SMS code for %s in the outbox: %v", u.Username, err)
		}
		if err := cl.Call(ctx, "RespondToAuthChallenge", map[string]any{
			"ClientId": cl.Pool.ClientID, "ChallengeName": "SMS_MFA", "Session": "required-by-cognito-local",
			"ChallengeResponses": map[string]string{"USERNAME": u.Username, "SMS_MFA_CODE": code},
		}, &out); err != nil {
			t.Fatal(err)
		}
	}
	tok := out.AuthenticationResult
	if tok.AccessToken == "" || tok.IdToken == "" {
		t.Fatalf("cognito-local signed %s in without access and ID tokens", u.Username)
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
