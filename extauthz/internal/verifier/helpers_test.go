package verifier

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

const (
	testPoolID   = "us-east-1_TestPool1"
	testIssuer   = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1"
	testClientID = "client-app-1"
	testKid      = "kid-1"
	idIssuer     = "http://127.0.0.1/local_pool" // a full-URL issuer configured for ID tokens
)

// testNow is the fixed instant every test verifies at.
var testNow = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

var (
	keysOnce              sync.Once
	testKey, attackerKey  *rsa.PrivateKey
	rotatedKey, smallKeyV *rsa.PrivateKey
)

// keys sets the shared test keys (testkit makes each once per test binary: RSA generation is slow).
func keys() {
	keysOnce.Do(func() {
		testKey, attackerKey = testkit.SharedKey("test").Private, testkit.SharedKey("attacker").Private
		rotatedKey, smallKeyV = testkit.SharedKey("rotated").Private, testkit.SharedWeakKey("small").Private
	})
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk renders one RSA public key as a JWK with the given extra members (nil deletes one).
func jwk(kid string, pub *rsa.PublicKey, extra map[string]any) map[string]any {
	m := testkit.RSAJWK(kid, pub)
	for k, v := range extra {
		m = testkit.With(m, k, v)
	}
	return m
}

// jwksServer serves a JWKS that tests can swap, and counts requests.
type jwksServer struct{ *testkit.JWKSServer }

func newJWKSServer(t testing.TB, keys ...map[string]any) *jwksServer {
	return &jwksServer{testkit.NewJWKSServer(t, jwksOf(keys))}
}

func (s *jwksServer) setKeys(keys ...map[string]any) { s.Serve(jwksOf(keys)) }

func jwksOf(keys []map[string]any) []byte {
	elems := make([]any, len(keys))
	for i, k := range keys {
		elems[i] = k
	}
	return testkit.JWKSBody(elems...)
}

// clock is an adjustable time source for the verifier and key cache.
type clock struct{ ns atomic.Int64 }

func newClock() *clock               { c := &clock{}; c.ns.Store(testNow.UnixNano()); return c }
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	v     *Verifier[string]
	jwks  *jwksServer
	clock *clock
	obs   *countingObserver
}

// newFixture builds a verifier for two issuers, an AWS user pool taking access tokens and a
// full-URL issuer taking ID tokens, both served by one JWKS, and hydrates it.
func newFixture(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	keys()
	f := &fixture{clock: newClock(), obs: &countingObserver{}}
	// Beside the signing key, the set holds keys the verifier must never use.
	f.jwks = newJWKSServer(t,
		jwk(testKid, &testKey.PublicKey, nil),
		jwk("enc-key", &testKey.PublicKey, map[string]any{"use": "enc"}),
		jwk("small-key", &smallKeyV.PublicKey, nil),
	)
	cfg := f.config()
	cfg.Observer = f.obs
	cfg.CacheMaxEntries = -1
	if edit != nil {
		edit(&cfg)
	}
	v, err := New[string](cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := v.LoadMissing(context.Background()); err != nil {
		t.Fatalf("LoadMissing: %v", err)
	}
	f.v = v
	return f
}

// config is the fixture's two issuers, both on its JWKS, on its clock.
func (f *fixture) config() Config {
	return Config{
		Issuers: []IssuerConfig{
			{UserPoolID: testPoolID, JWKSURL: f.jwks.URL, ClientIDs: []string{testClientID}, TokenUse: TokenUseAccess},
			{Issuer: idIssuer, JWKSURL: f.jwks.URL, ClientIDs: []string{testClientID}, TokenUse: TokenUseID},
		},
		Now:                f.clock.Now,
		MinRefetchInterval: time.Minute,
	}
}

type countingObserver struct {
	fetches, fetchErrors, hits, misses atomic.Int64
}

func (o *countingObserver) JWKSFetched(_ string, err error, _ int) {
	o.fetches.Add(1)
	if err != nil {
		o.fetchErrors.Add(1)
	}
}
func (o *countingObserver) TokenCacheHit()  { o.hits.Add(1) }
func (o *countingObserver) TokenCacheMiss() { o.misses.Add(1) }

// accessClaims is a Cognito access token's claim set, valid at testNow.
func accessClaims() map[string]any {
	return map[string]any{
		"sub":            "5f1d7a2c-0e4b-4c39-9a8e-111111111111",
		"cognito:groups": []string{"admin", "users"},
		"iss":            testIssuer,
		"version":        2,
		"client_id":      testClientID,
		"origin_jti":     "0b3f0c1e-aaaa-bbbb-cccc-222222222222",
		"event_id":       "7c6f0b2e-aaaa-bbbb-cccc-333333333333",
		"token_use":      "access",
		"scope":          "aws.cognito.signin.user.admin openid",
		"auth_time":      testNow.Add(-5 * time.Minute).Unix(),
		"exp":            testNow.Add(55 * time.Minute).Unix(),
		"iat":            testNow.Add(-5 * time.Minute).Unix(),
		"jti":            "9e2b1f6d-aaaa-bbbb-cccc-444444444444",
		"username":       "alice",
	}
}

// idClaims is a Cognito ID token's claim set for the full-URL issuer, valid at testNow.
func idClaims() map[string]any {
	return map[string]any{
		"sub":              "5f1d7a2c-0e4b-4c39-9a8e-111111111111",
		"cognito:groups":   []string{"users"},
		"email_verified":   true,
		"iss":              idIssuer,
		"cognito:username": "alice",
		"origin_jti":       "0b3f0c1e-aaaa-bbbb-cccc-222222222222",
		"aud":              testClientID,
		"event_id":         "7c6f0b2e-aaaa-bbbb-cccc-333333333333",
		"token_use":        "id",
		"auth_time":        testNow.Add(-5 * time.Minute).Unix(),
		"exp":              testNow.Add(55 * time.Minute).Unix(),
		"iat":              testNow.Add(-5 * time.Minute).Unix(),
		"jti":              "1a2b3c4d-aaaa-bbbb-cccc-555555555555",
		"email":            "alice@example.com",
	}
}

func with(claims map[string]any, key string, value any) map[string]any {
	if value == nil {
		delete(claims, key)
	} else {
		claims[key] = value
	}
	return claims
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// signRaw builds header.payload from raw JSON and signs it RS256 with key.
func signRaw(headerJSON, payloadJSON string, key *rsa.PrivateKey) string {
	return (&testkit.Key{Private: key}).SignRaw([]byte(headerJSON), []byte(payloadJSON))
}

// mint signs claims with testKey under the standard Cognito header.
func mint(claims map[string]any) string {
	keys()
	return signRaw(fmt.Sprintf(`{"kid":%q,"alg":"RS256"}`, testKid), mustJSON(claims), testKey)
}
