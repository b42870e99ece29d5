package e2e_test

import (
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz/config"
	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
)

// moto (PyPI moto[server], pinned in .ci/install-deps) is a second Cognito emulator nobody here
// wrote, and unlike cognito-local it signs tokens with the AWS issuer form: they pass through the
// same configuration a real pool gets (user_pool_id), only jwks_url pointing at the emulator.
const (
	motoServer       = "moto_server"
	motoRegion       = "us-east-1"
	motoStartTimeout = 30 * time.Second
)

// These deviations of moto 5.2.1 from real Cognito were seen and need no change in the verifier,
// which accepts its tokens as they are:
//   - access tokens carry no `version` or `event_id`; ID tokens no `event_id` and no
//     `email_verified`, and no user attribute at all (not even `email`) unless the app client
//     lists it in ReadAttributes (Cognito's default is every readable attribute), so the test
//     lists email;
//   - both token kinds have a `typ: JWT` header (Cognito's have only `kid` and `alg`);
//   - every pool of every moto is signed by one RSA key shipped in the package, kid "dummy", so
//     a moto token is forgeable by anyone: fine for tests, never configure it anywhere else;
//   - pool ids are <region>_ and 32 hex digits (Cognito's are 9 alphanumerics), which the pool
//     id syntax accepts;
//   - moto serves the keys at /<pool>/.well-known/jwks.json of its own address, while `iss`
//     names cognito-idp.<region>.amazonaws.com: hence jwks_url.
func TestMotoTokensThroughEnvoy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through a real Envoy: not with -short")
	}
	envoyproc.RequireEnvoy(t)
	moto := startMoto(t)

	var pool struct{ UserPool struct{ Id string } }
	moto.call(t, "CreateUserPool", map[string]any{"PoolName": "e2e"}, &pool)
	poolID := pool.UserPool.Id
	var client struct{ UserPoolClient struct{ ClientId string } }
	moto.call(t, "CreateUserPoolClient", map[string]any{
		"UserPoolId": poolID, "ClientName": "web",
		"ExplicitAuthFlows": []string{"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"},
		"ReadAttributes":    []string{"email"},
	}, &client)
	clientID := client.UserPoolClient.ClientId
	moto.call(t, "CreateGroup", map[string]any{"UserPoolId": poolID, "GroupName": "admin"}, nil)
	alice := moto.createUser(t, poolID, "alice", "admin")
	bob := moto.createUser(t, poolID, "bob", "")
	aliceTokens := moto.signIn(t, clientID, alice)
	bobTokens := moto.adminSignIn(t, poolID, clientID, bob)

	const awsIssuer = "https://cognito-idp." + motoRegion + ".amazonaws.com/"
	if iss := claim(t, aliceTokens.AccessToken, "iss"); iss != awsIssuer+poolID {
		t.Fatalf("moto's tokens carry iss %q, want the AWS form %q", iss, awsIssuer+poolID)
	}
	tests := []struct {
		name     string
		tokenUse verifier.TokenUse
	}{
		{"either token kind", verifier.TokenUseAny},
		{"access tokens only", verifier.TokenUseAccess},
		{"ID tokens only", verifier.TokenUseID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startStack(t, func(c *config.Config) {
				c.Issuers = []config.Issuer{{
					UserPoolID: poolID,
					JWKSURL:    moto.url + "/" + poolID + "/.well-known/jwks.json",
					ClientIDs:  []string{clientID},
					TokenUse:   tt.tokenUse,
				}}
			})
			checkMotoTokens(t, s, tt.tokenUse, clientID, alice, bob, aliceTokens, bobTokens)
		})
	}
}

// checkMotoTokens sends alice's (group admin) and bob's tokens through s, whose issuer accepts
// tokenUse, and checks what the app saw.
func checkMotoTokens(t *testing.T, s *e2e.Stack, tokenUse verifier.TokenUse, clientID string, alice, bob cognitoUser, aliceTokens, bobTokens cognitoTokens) {
	access := tokenUse != verifier.TokenUseID
	id := tokenUse != verifier.TokenUseAccess
	identity := func(u cognitoUser, use string) map[string]string {
		h := map[string]string{"x-auth-status": "authenticated", "x-user-sub": u.sub, "x-user-name": u.username,
			"x-user-client-id": clientID, "x-user-token-use": use}
		if u.username == alice.username {
			h["x-user-groups"] = "admin"
		}
		if use == "access" {
			h["x-user-scopes"] = "aws.cognito.signin.user.admin"
		} else {
			h["x-user-email"] = u.email
		}
		return h
	}
	tests := []struct {
		name     string
		path     string
		token    string
		accepted bool // by the issuer's token_use
		status   int  // when accepted
		want     map[string]string
	}{
		{"alice's access token, feed", backend.HomePath, aliceTokens.AccessToken, access, http.StatusOK, identity(alice, "access")},
		{"alice's access token, admin route", backend.AdminPath, aliceTokens.AccessToken, access, http.StatusOK, identity(alice, "access")},
		{"alice's ID token, feed", backend.HomePath, aliceTokens.IdToken, id, http.StatusOK, identity(alice, "id")},
		{"alice's ID token, admin route", backend.AdminPath, aliceTokens.IdToken, id, http.StatusOK, identity(alice, "id")},
		{"bob's access token, feed", backend.HomePath, bobTokens.AccessToken, access, http.StatusOK, identity(bob, "access")},
		{"bob's ID token, feed", backend.HomePath, bobTokens.IdToken, id, http.StatusOK, identity(bob, "id")},
		{"bob's access token, admin route", backend.AdminPath, bobTokens.AccessToken, access, http.StatusForbidden, nil},
		{"bob's ID token, admin route", backend.AdminPath, bobTokens.IdToken, id, http.StatusForbidden, nil},
		{"moto's refresh token is no bearer token", backend.AdminPath, aliceTokens.RefreshToken, false, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, s, tt.path, e2e.Bearer(tt.token))
			switch {
			case !tt.accepted && tt.path == backend.AdminPath:
				if a.Status != http.StatusUnauthorized || a.App != nil {
					t.Fatalf("want 401 from cognito-authz, got %s", a)
				}
			case !tt.accepted:
				wantApp(t, a)
				wantIdentity(t, a, map[string]string{"x-auth-status": "anonymous", "x-auth-reason": "wrong_token_use"})
			case tt.want == nil:
				if a.Status != tt.status || a.App != nil {
					t.Fatalf("want %d from cognito-authz, got %s", tt.status, a)
				}
			default:
				wantApp(t, a)
				wantIdentity(t, a, tt.want)
			}
		})
	}
}

// motoEmulator is one running moto_server.
type motoEmulator struct {
	userPoolAPI
}

// startMoto runs moto_server on a free loopback port and stops it when the test ends. A missing
// moto skips the test, or fails it in CI (see toolUnavailable).
func startMoto(t *testing.T) *motoEmulator {
	t.Helper()
	bin, err := exec.LookPath(motoServer)
	if err != nil {
		toolUnavailable(t, "%s not found (pip install moto[server], pinned in .ci/install-deps): %v", motoServer, err)
	}
	port := freePort(t)
	m := &motoEmulator{userPoolAPI{url: "http://127.0.0.1:" + strconv.Itoa(port), client: loopbackClient(t), signingRegion: motoRegion}}
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	startHelper(t, "moto", cmd, motoStartTimeout, func(ctx context.Context) bool {
		return answersOK(ctx, m.client, m.url+"/moto-api/config")
	})
	return m
}

// adminSignIn signs u in with AdminInitiateAuth, as a back end holding AWS credentials does.
func (m *motoEmulator) adminSignIn(t *testing.T, poolID, clientID string, u cognitoUser) cognitoTokens {
	t.Helper()
	var out struct{ AuthenticationResult cognitoTokens }
	m.call(t, "AdminInitiateAuth", map[string]any{
		"AuthFlow": "ADMIN_USER_PASSWORD_AUTH", "UserPoolId": poolID, "ClientId": clientID,
		"AuthParameters": map[string]string{"USERNAME": u.username, "PASSWORD": u.password},
	}, &out)
	if out.AuthenticationResult.AccessToken == "" || out.AuthenticationResult.IdToken == "" {
		t.Fatalf("moto signed %s in without access and ID tokens", u.username)
	}
	return out.AuthenticationResult
}
