package main

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

const testClientID = "client-1"

// pool is a Cognito user pool on loopback for one test: testkit's key endpoint, and access tokens
// with Cognito's claims signed by the pool's key.
type pool struct {
	jwks *testkit.JWKSServer
	key  *testkit.Key
}

// poolOptions configure a pool: Key is its signing key (nil: a fresh one).
type poolOptions struct {
	Key *testkit.Key
}

// newTestIssuer starts a pool that serves its key until the test ends.
func newTestIssuer(t *testing.T, opts poolOptions) *pool {
	t.Helper()
	if opts.Key == nil {
		opts.Key = testkit.MustNewKey(t, "pool-key")
	}
	return &pool{jwks: testkit.NewKeysServer(t, opts.Key), key: opts.Key}
}

func (p *pool) IssuerURL() string        { return p.jwks.URL + "/local_pool" }
func (p *pool) JWKSURL() string          { return p.IssuerURL() + "/.well-known/jwks.json" }
func (p *pool) SigningKey() *testkit.Key { return p.key }
func (p *pool) FailJWKS(status int)      { p.jwks.Fail(status) }

// sub is the sub claim of username's tokens.
func sub(username string) string { return "sub-" + username }

// tokenSpec says which access token MustMint makes; zero fields take the pool's defaults.
type tokenSpec struct {
	Username string
	Groups   []string
	Scopes   []string       // default Cognito's aws.cognito.signin.user.admin
	Set      map[string]any // claims set last
	IssuedAt time.Time      // auth_time and iat; default now
	TTL      time.Duration  // default an hour
	ClientID string         // default testClientID
	Key      *testkit.Key   // signs instead of the pool's key
}

// MustMint signs an access token for spec, its claims Cognito's.
func (p *pool) MustMint(t *testing.T, spec tokenSpec) string {
	t.Helper()
	if spec.IssuedAt.IsZero() {
		spec.IssuedAt = time.Now()
	}
	if spec.TTL == 0 {
		spec.TTL = time.Hour
	}
	if spec.ClientID == "" {
		spec.ClientID = testClientID
	}
	if spec.Key == nil {
		spec.Key = p.key
	}
	scope := "aws.cognito.signin.user.admin"
	if spec.Scopes != nil {
		scope = strings.Join(spec.Scopes, " ")
	}
	claims := map[string]any{
		"sub": sub(spec.Username), "iss": p.IssuerURL(), "version": 2, "client_id": spec.ClientID,
		"origin_jti": randomID(t), "event_id": randomID(t), "token_use": "access", "scope": scope,
		"auth_time": spec.IssuedAt.Unix(), "iat": spec.IssuedAt.Unix(), "exp": spec.IssuedAt.Add(spec.TTL).Unix(),
		"jti": randomID(t), "username": spec.Username,
	}
	if len(spec.Groups) > 0 {
		claims["cognito:groups"] = spec.Groups
	}
	for k, v := range spec.Set {
		claims[k] = v
	}
	return spec.Key.Sign(t, claims)
}

func randomID(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// issuerFlags are the flags that describe p to any subcommand.
func issuerFlags(p *pool) []string {
	return []string{"--issuer", p.IssuerURL(), "--jwks-url", p.JWKSURL(), "--client-id", testClientID}
}

// aliceAccess is a valid access token's spec: alice, in group admin, with two scopes. The jti is
// fixed so that a test can find it in a decision log line.
func aliceAccess() tokenSpec {
	return tokenSpec{
		Username: "alice", Groups: []string{"admin"}, Scopes: []string{"openid", "profile"},
		Set: map[string]any{"jti": "jti-1"},
	}
}
