package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/extauthz/config"
	"github.com/cognito-authz/cognito-authz/extauthz/verifier"
	"github.com/cognito-authz/cognito-authz/testenv/backend"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// cognito-local (github.com/jagregory/cognito-local) is a Cognito emulator nobody here wrote: its
// tokens check that the verifier accepts what a Cognito-shaped issuer really sends, not only what
// our own issuer mints. Pinned: 3.23.x is the last line that runs on Node 20.
const (
	cognitoLocalPackage = "cognito-local"
	cognitoLocalVersion = "3.23.3"
	// cognitoLocalInstallTimeout bounds the first run's `npm install` from the registry.
	cognitoLocalInstallTimeout = 4 * time.Minute
	cognitoLocalStartTimeout   = time.Minute
)

// These deviations of cognito-local 3.23.3 from real Cognito were seen and need no change here:
// access tokens carry no `version` or `origin_jti` and ID tokens no `origin_jti` (the verifier
// does not require them); every pool is signed by one fixed key, kid "CognitoLocal", published in
// the package; `iss` is http://localhost:9229/<pool> whatever port it listens on unless
// TokenConfig.IssuerDomain is set, which the test does so that iss names where the keys are.

func TestCognitoLocalTokensThroughEnvoy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test through a real Envoy: not with -short")
	}
	envoyproc.RequireEnvoy(t) // before a possibly long npm install
	startJS := installCognitoLocal(t)
	cl := startCognitoLocal(t, startJS)

	var pool struct{ UserPool struct{ Id string } }
	cl.call(t, "CreateUserPool", map[string]any{"PoolName": "e2e"}, &pool)
	poolID := pool.UserPool.Id
	var client struct{ UserPoolClient struct{ ClientId string } }
	cl.call(t, "CreateUserPoolClient", map[string]any{"UserPoolId": poolID, "ClientName": "web"}, &client)
	clientID := client.UserPoolClient.ClientId
	cl.call(t, "CreateGroup", map[string]any{"UserPoolId": poolID, "GroupName": "admin"}, nil)
	alice := cl.createUser(t, poolID, "alice", "admin")
	bob := cl.createUser(t, poolID, "bob", "")
	aliceTokens := cl.signIn(t, clientID, alice)
	bobTokens := cl.signIn(t, clientID, bob)

	issuerURL := cl.issuerDomain + "/" + poolID
	if iss := claim(t, aliceTokens.AccessToken, "iss"); iss != issuerURL {
		t.Fatalf("cognito-local's tokens carry iss %q, want %q (its TokenConfig.IssuerDomain)", iss, issuerURL)
	}
	s := startStack(t, func(c *config.Config) {
		c.Issuers = []config.Issuer{{
			Issuer:    issuerURL,
			JWKSURL:   cl.url + "/" + poolID + "/.well-known/jwks.json",
			ClientIDs: []string{clientID},
			TokenUse:  verifier.TokenUseAny,
		}}
	})

	aliceAccess := map[string]string{"x-auth-status": "authenticated", "x-user-sub": alice.sub,
		"x-user-name": "alice", "x-user-groups": "admin", "x-user-scopes": "aws.cognito.signin.user.admin",
		"x-user-client-id": clientID, "x-user-token-use": "access"}
	aliceID := map[string]string{"x-auth-status": "authenticated", "x-user-sub": alice.sub,
		"x-user-name": "alice", "x-user-email": alice.email, "x-user-groups": "admin",
		"x-user-client-id": clientID, "x-user-token-use": "id"}
	bobAccess := map[string]string{"x-auth-status": "authenticated", "x-user-sub": bob.sub,
		"x-user-name": "bob", "x-user-scopes": "aws.cognito.signin.user.admin",
		"x-user-client-id": clientID, "x-user-token-use": "access"}
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

// installCognitoLocal installs the pinned cognito-local once into the user's cache directory and
// returns its start script. It skips the test when npm or node is missing, or the registry cannot
// be reached, unless COGNITO_AUTHZ_REQUIRE_ENVOY=1 (CI), where it fails instead.
func installCognitoLocal(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		toolUnavailable(t, "cognito-local needs Node.js and npm (npm not found: %v)", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		toolUnavailable(t, "cognito-local needs Node.js (node not found: %v)", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "cognito-authz-e2e")
	dir := filepath.Join(parent, cognitoLocalPackage+"@"+cognitoLocalVersion)
	startJS := filepath.Join(dir, "node_modules", cognitoLocalPackage, "lib", "bin", "start.js")
	if _, err := os.Stat(startJS); err == nil {
		return startJS
	}

	// Install into a fresh directory and rename it into place, so neither an interrupted install
	// nor a concurrent test run ever sees half a package.
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(parent, "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	ctx, cancel := context.WithTimeout(t.Context(), cognitoLocalInstallTimeout)
	defer cancel()
	t.Logf("installing %s@%s into %s (first run only)", cognitoLocalPackage, cognitoLocalVersion, dir)
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", tmp,
		"--no-save", "--no-audit", "--no-fund", "--omit=dev", "--ignore-scripts",
		cognitoLocalPackage+"@"+cognitoLocalVersion)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil {
		toolUnavailable(t, "npm install %s@%s: %v\n%s", cognitoLocalPackage, cognitoLocalVersion, err, tailOf(out, 4096))
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(startJS); statErr != nil { // not a concurrent install that won
			t.Fatalf("install cognito-local: %v", err)
		}
	}
	if _, err := os.Stat(startJS); err != nil {
		t.Fatalf("cognito-local installed without its start script: %v", err)
	}
	return startJS
}

// cognitoLocal is one running emulator.
type cognitoLocal struct {
	userPoolAPI
	issuerDomain string // what its tokens' iss starts with
}

// startCognitoLocal runs node on startJS with its data in a temporary directory, on a free
// loopback port, and stops it when the test ends.
func startCognitoLocal(t *testing.T, startJS string) *cognitoLocal {
	t.Helper()
	port := freePort(t)
	cl := &cognitoLocal{
		userPoolAPI:  userPoolAPI{url: "http://127.0.0.1:" + strconv.Itoa(port), client: loopbackClient(t)},
		issuerDomain: "http://localhost:" + strconv.Itoa(port),
	}

	// cognito-local keeps its data and reads its config in ./.cognito.
	dataDir := t.TempDir()
	conf, err := json.Marshal(map[string]any{"TokenConfig": map[string]any{"IssuerDomain": cl.issuerDomain}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, ".cognito"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, ".cognito", "config.json"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", startJS)
	cmd.Dir = dataDir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "HOST=127.0.0.1", "HOME="+dataDir)
	startHelper(t, "cognito-local", cmd, cognitoLocalStartTimeout, func(ctx context.Context) bool {
		return answersOK(ctx, cl.client, cl.url+"/health")
	})
	return cl
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
