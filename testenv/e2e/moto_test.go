package e2e_test

import (
	"net/http"
	"testing"

	"github.com/cognito-authz/cognito-authz/extauthz"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/motoproc"
)

// moto (PyPI moto[server], pinned in .ci/install-deps) is a second Cognito emulator nobody here
// wrote, and unlike cognito-local it signs tokens with the AWS issuer form: they pass through the
// same configuration a real pool gets (user_pool_id), only jwks_url pointing at the emulator.
const motoRegion = motoproc.Region

// These deviations of moto 5.2.1 from real Cognito were seen and need no change in the verifier,
// which accepts its tokens as they are:
//   - access tokens carry no `version` or `event_id`; ID tokens no `event_id` and no
//     `email_verified`, and no user attribute at all (not even `email`) unless the app client
//     lists it in ReadAttributes (Cognito's default is every readable attribute), so the test
//     lists email;
//   - both token kinds have a `typ: JWT` header (Cognito's have only `kid` and `alg`);
//   - every pool of every moto is signed by one RSA key shipped in the package, kid "dummy", so
//     a moto token is forgeable by anyone: fine for tests, never configure it anywhere else;
//     between pools only `iss` tells tokens apart, and the test checks it does;
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
	pool := moto.createPool(t, "e2e")
	alice := pool.signIn(t, moto, "alice", "admin", "InitiateAuth")
	bob := pool.signIn(t, moto, "bob", "", "AdminInitiateAuth")
	// moto signs every pool with the same key: only iss tells this admin's tokens from alice's.
	other := moto.createPool(t, "other")
	mallory := other.signIn(t, moto, "mallory", "admin", "InitiateAuth")

	const awsIssuer = "https://cognito-idp." + motoRegion + ".amazonaws.com/"
	if iss := claim(t, alice.tokens.AccessToken, "iss"); iss != awsIssuer+pool.id {
		t.Fatalf("moto's tokens carry iss %q, want the AWS form %q", iss, awsIssuer+pool.id)
	}
	tests := []struct {
		name     string
		tokenUse extauthz.TokenUse
	}{
		{"either token kind", extauthz.TokenUseAny},
		{"access tokens only", extauthz.TokenUseAccess},
		{"ID tokens only", extauthz.TokenUseID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startStack(t, func(c *extauthz.Config) {
				c.Issuers = []extauthz.Issuer{{
					UserPoolID: pool.id,
					JWKSURL:    moto.url + "/" + pool.id + "/.well-known/jwks.json",
					ClientIDs:  []string{pool.clientID},
					TokenUse:   tt.tokenUse,
				}}
			})
			checkMotoTokens(t, s, tt.tokenUse, alice, bob, mallory)
		})
	}
}

// checkMotoTokens sends the tokens of alice (group admin), bob (no group) and mallory (group
// admin of another pool) through s, whose issuer is alice's and bob's pool and accepts tokenUse,
// and checks what the app saw.
func checkMotoTokens(t *testing.T, s *e2e.Stack, tokenUse extauthz.TokenUse, alice, bob, mallory motoSignIn) {
	access := tokenUse != extauthz.TokenUseID
	id := tokenUse != extauthz.TokenUseAccess
	const wrongUse = "wrong_token_use"
	tests := []struct {
		name     string
		path     string
		token    string
		accepted bool   // by the issuer
		reason   string // why not, when not accepted
		status   int    // when accepted
		want     map[string]string
	}{
		{"alice's access token, feed", backend.HomePath, alice.tokens.AccessToken, access, wrongUse, http.StatusOK, alice.identity("access")},
		{"alice's access token, admin route", backend.AdminPath, alice.tokens.AccessToken, access, wrongUse, http.StatusOK, alice.identity("access")},
		{"alice's ID token, feed", backend.HomePath, alice.tokens.IdToken, id, wrongUse, http.StatusOK, alice.identity("id")},
		{"alice's ID token, admin route", backend.AdminPath, alice.tokens.IdToken, id, wrongUse, http.StatusOK, alice.identity("id")},
		{"bob's access token, feed", backend.HomePath, bob.tokens.AccessToken, access, wrongUse, http.StatusOK, bob.identity("access")},
		{"bob's ID token, feed", backend.HomePath, bob.tokens.IdToken, id, wrongUse, http.StatusOK, bob.identity("id")},
		{"bob's access token, admin route", backend.AdminPath, bob.tokens.AccessToken, access, wrongUse, http.StatusForbidden, nil},
		{"bob's ID token, admin route", backend.AdminPath, bob.tokens.IdToken, id, wrongUse, http.StatusForbidden, nil},
		{"another pool's admin, feed", backend.HomePath, mallory.tokens.AccessToken, false, "wrong_issuer", 0, nil},
		{"another pool's admin, admin route", backend.AdminPath, mallory.tokens.AccessToken, false, "wrong_issuer", 0, nil},
		{"moto's refresh token is no bearer token", backend.AdminPath, alice.tokens.RefreshToken, false, "malformed", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, s, tt.path, e2e.Bearer(tt.token))
			switch {
			case !tt.accepted && tt.path == backend.AdminPath:
				if a.Status != http.StatusUnauthorized || a.App != nil {
					t.Fatalf("want 401 from cognito-authz, got %s", a)
				}
				wantChallenge(t, a, `error_description="`+tt.reason+`"`)
			case !tt.accepted:
				wantApp(t, a)
				wantIdentity(t, a, map[string]string{"x-auth-status": "anonymous", "x-auth-reason": tt.reason})
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

// motoPool is a user pool created in moto, with one app client.
type motoPool struct {
	id, clientID string
}

// motoSignIn is a user of a motoPool, signed in.
type motoSignIn struct {
	pool   motoPool
	user   cognitoUser
	group  string
	tokens cognitoTokens
}

// identity is what the app must see for a token of kind use ("access" or "id") of this user.
func (m motoSignIn) identity(use string) map[string]string {
	h := map[string]string{"x-auth-status": "authenticated", "x-user-sub": m.user.sub,
		"x-user-name": m.user.username, "x-user-client-id": m.pool.clientID, "x-user-token-use": use}
	if m.group != "" {
		h["x-user-groups"] = m.group
	}
	if use == "access" {
		h["x-user-scopes"] = "aws.cognito.signin.user.admin"
	} else {
		h["x-user-email"] = m.user.email
	}
	return h
}

// motoEmulator is one running moto_server.
type motoEmulator struct {
	userPoolAPI
}

// startMoto runs moto_server on a free loopback port and stops it when the test ends.
func startMoto(t *testing.T) *motoEmulator {
	t.Helper()
	return &motoEmulator{userPoolAPI{url: motoproc.StartTest(t, loopback), client: loopback, signingRegion: motoRegion}}
}

// createPool creates a user pool with an app client that allows the password flows and reads
// email, and a group admin.
func (m *motoEmulator) createPool(t *testing.T, name string) motoPool {
	t.Helper()
	var pool struct{ UserPool struct{ Id string } }
	m.call(t, "CreateUserPool", map[string]any{"PoolName": name}, &pool)
	var client struct{ UserPoolClient struct{ ClientId string } }
	m.call(t, "CreateUserPoolClient", map[string]any{
		"UserPoolId": pool.UserPool.Id, "ClientName": "web",
		"ExplicitAuthFlows": []string{"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"},
		"ReadAttributes":    []string{"email"},
	}, &client)
	m.call(t, "CreateGroup", map[string]any{"UserPoolId": pool.UserPool.Id, "GroupName": "admin"}, nil)
	return motoPool{id: pool.UserPool.Id, clientID: client.UserPoolClient.ClientId}
}

// signIn creates username (in group when not empty) and signs it in with action: InitiateAuth
// (USER_PASSWORD_AUTH, as a front end does) or AdminInitiateAuth (ADMIN_USER_PASSWORD_AUTH, as a
// back end holding AWS credentials does).
func (p motoPool) signIn(t *testing.T, m *motoEmulator, username, group, action string) motoSignIn {
	t.Helper()
	u := m.createUser(t, p.id, username, group)
	if action == "InitiateAuth" {
		return motoSignIn{pool: p, user: u, group: group, tokens: m.signIn(t, p.clientID, u)}
	}
	var out struct{ AuthenticationResult cognitoTokens }
	m.call(t, action, map[string]any{
		"AuthFlow": "ADMIN_USER_PASSWORD_AUTH", "UserPoolId": p.id, "ClientId": p.clientID,
		"AuthParameters": map[string]string{"USERNAME": u.username, "PASSWORD": u.password},
	}, &out)
	if out.AuthenticationResult.AccessToken == "" || out.AuthenticationResult.IdToken == "" {
		t.Fatalf("moto signed %s in without access and ID tokens", u.username)
	}
	return motoSignIn{pool: p, user: u, group: group, tokens: out.AuthenticationResult}
}
